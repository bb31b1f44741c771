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
fn id_token_credentials_keep_the_contract_but_for_the_token_reply() {
    // The contract's token reply has no id_token, so only the failure, cancellation and secret
    // checks apply; the ID token path is covered in tests/grant.rs. The contract is run on the
    // access-token path above; here the same endpoint script must produce "No ID token".
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
