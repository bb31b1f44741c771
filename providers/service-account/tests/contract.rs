//! The `TokenSource` contract suite on `ServiceAccountCredentials` and `IdTokenCredentials`.
#![allow(clippy::unwrap_used)]

mod support;

use credkit_service_account::{IdTokenCredentials, ServiceAccountCredentials};
use credkit_testing::contract::token_source::Contract;

#[test]
fn service_account_credentials_keep_the_contract() {
    let pem = support::test_key().private_key_pem().to_owned();
    Contract::new(|far| {
        ServiceAccountCredentials::builder(support::key(far.token_url()))
            .with_scopes([support::CLOUD_PLATFORM])
            .with_transport(far.endpoint().clone())
            .with_clock(far.clock().clone())
            .build()
            .unwrap()
    })
    .with_secret(pem)
    .check();
}

#[test]
fn id_token_credentials_refuse_a_plain_token_reply() {
    // The suite's far side answers access tokens, never an `id_token`, so it cannot run on
    // `IdTokenCredentials`: such a reply must be refused. The ID token path, its failures and
    // cancellation are covered in tests/grant.rs.
    let endpoint = credkit_testing::FakeTokenEndpoint::new();
    let creds =
        IdTokenCredentials::builder(support::key(&endpoint.token_url()), "https://aud.example")
            .with_transport(endpoint.clone())
            .build()
            .unwrap();
    let err =
        futures::executor::block_on(credkit_core::TokenSource::fetch_token(&creds)).unwrap_err();
    assert_eq!(err.to_string(), "No ID token in response.");
}
