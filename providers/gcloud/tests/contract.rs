//! The `TokenSource` contract suite on `GcloudSource`, running a fake gcloud.
#![cfg(unix)]

use credkit_gcloud::GcloudSource;
use credkit_testing::contract::token_source::{Behaviour, CONTRACT_TOKEN, Contract};
use credkit_testing::{FakeGcloud, GcloudReply};

#[test]
fn gcloud_source_keeps_the_contract() {
    Contract::new(|far| {
        let gcloud = FakeGcloud::builder()
            .with_token(CONTRACT_TOKEN)
            .with_clock(far.clock());
        let gcloud = match far.behaviour() {
            Behaviour::TransientFailure => gcloud.with_reply(GcloudReply::fail(
                "ERROR: gcloud crashed (ConnectionError): connection reset; try again",
                1,
            )),
            Behaviour::PermanentFailure => gcloud.with_reply(GcloudReply::login_required()),
            _ => gcloud,
        }
        .build()
        .unwrap();
        let source = GcloudSource::builder()
            .with_program(gcloud.path())
            .with_clock(far.clock().clone())
            .build()
            .unwrap();
        far.keep(gcloud);
        source
    })
    .check();
}
