//! The `TokenSource` contract suite on the refresh-token provider: `UserCredentials` alone, and
//! as the second link of a chain after an unset environment variable.

// The factory closures unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use credkit_core::{ChainSource, EnvSource};
use credkit_refresh_token::UserCredentials;
use credkit_testing::contract::token_source::{Contract, Far};

const REFRESH_TOKEN: &str = "1//contract-refresh-token";

fn user(far: &Far) -> UserCredentials {
    UserCredentials::builder()
        .with_client_id("client-id")
        .with_client_secret("client-secret")
        .with_refresh_token(REFRESH_TOKEN)
        .with_token_uri(far.token_url())
        .with_transport(far.endpoint().clone())
        .with_clock(Arc::new(far.clock().clone()))
        .build()
        .unwrap()
}

#[test]
fn user_credentials_keep_the_contract() {
    Contract::new(user).with_secret(REFRESH_TOKEN).check();
}

#[test]
fn an_env_var_then_user_credentials_keep_the_contract() {
    Contract::new(|far| {
        ChainSource::new()
            .with(EnvSource::new("CREDKIT_CONTRACT_TOKEN").with_lookup(|_| None))
            .with(user(far))
    })
    .with_secret(REFRESH_TOKEN)
    .check();
}
