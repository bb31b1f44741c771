//! The `TokenSource` contract suite on both metadata server sources, over the in-memory
//! endpoint the suite scripts.
// The factory closures unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use credkit_metadata::MetadataCredentials;
use credkit_testing::contract::token_source::Contract;

#[test]
fn metadata_credentials_keep_the_contract() {
    Contract::new(|far| {
        MetadataCredentials::builder()
            .with_env(|_| None)
            // The in-memory endpoint answers any URL; the host is never connected to.
            .with_host("127.0.0.1:9")
            .with_transport(far.endpoint().clone())
            .with_clock(far.clock().clone())
            // The far side answers after 30 s on its clock: longer than the default timeout.
            .with_request_timeout(Duration::from_secs(120))
            .build()
            .unwrap()
    })
    .check();
}
