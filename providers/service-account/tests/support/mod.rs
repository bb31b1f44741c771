//! Shared helpers: one RSA key per test binary (generating one takes a while), the email, and
//! credentials pointed at a fake endpoint.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::OnceLock;

use credkit_service_account::{
    ServiceAccountCredentials, ServiceAccountCredentialsBuilder, ServiceAccountKey,
};
use credkit_testing::{FakeClock, FakeTokenEndpoint, JwtBearerCheck, TestKey};
use serde_json::{Map, Value};

pub(crate) const EMAIL: &str = "robot@credkit-test.iam.gserviceaccount.com";
pub(crate) const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The run's key, generated once per test binary.
pub(crate) fn test_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate().unwrap())
}

pub(crate) fn key(token_uri: &str) -> ServiceAccountKey {
    ServiceAccountKey::from_json_str(&test_key().service_account_json(EMAIL, token_uri)).unwrap()
}

/// Credentials of the run's key sending through `endpoint`, on `clock`.
pub(crate) fn builder(
    endpoint: &FakeTokenEndpoint,
    clock: &FakeClock,
) -> ServiceAccountCredentialsBuilder {
    ServiceAccountCredentials::builder(key(&endpoint.token_url()))
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
}

/// The endpoint's check of the run's key and email.
pub(crate) fn check() -> JwtBearerCheck {
    JwtBearerCheck::new(test_key(), EMAIL)
}

/// Verifies `jwt` with the run's public key (RS256) and returns its header and claims.
pub(crate) fn verify(jwt: &str) -> (jsonwebtoken::Header, Map<String, Value>) {
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let key = jsonwebtoken::DecodingKey::from_rsa_der(test_key().public_key_der());
    let data = jsonwebtoken::decode::<Map<String, Value>>(jwt, &key, &validation).unwrap();
    (header, data.claims)
}
