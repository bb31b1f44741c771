//! What the `external_account_authorized_user` tests share: the file's members, a loopback
//! STS, credentials pointed at it.
// Helpers may unwrap, as tests do; each test binary uses a subset.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use credkit_external_account::{
    ExternalAccountAuthorizedUserCredentials, ExternalAccountAuthorizedUserInfo,
};
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeClock, FakeStsServer, FakeStsServerBuilder};
use serde_json::{Value, json};

pub const AUDIENCE: &str =
    "//iam.googleapis.com/locations/global/workforcePools/pool-id/providers/provider-id";
pub const CLIENT_ID: &str = "client-id";
pub const CLIENT_SECRET: &str = "client-secret-value";
pub const REFRESH_TOKEN: &str = "refresh-token-value";

/// The file gcloud writes, its `token_url` pointing at `sts` (`/v1/oauth/token`, as gcloud
/// writes it).
pub fn file(sts: &FakeStsServer) -> Value {
    json!({
        "type": "external_account_authorized_user",
        "audience": AUDIENCE,
        "refresh_token": REFRESH_TOKEN,
        "token_url": format!("{}/v1/oauth/token", sts.url()),
        "token_info_url": format!("{}/v1/introspect", sts.url()),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "revoke_url": format!("{}/v1/oauth/revoke", sts.url()),
    })
}

/// An STS that wants the file's client.
pub fn sts() -> FakeStsServerBuilder {
    FakeStsServer::builder().with_client(CLIENT_ID, CLIENT_SECRET)
}

/// Credentials from `info` over reqwest, on `clock`.
pub fn credentials(info: &Value, clock: &FakeClock) -> ExternalAccountAuthorizedUserCredentials {
    ExternalAccountAuthorizedUserInfo::from_json(info)
        .unwrap()
        .builder()
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(clock.clone())
        .build()
        .unwrap()
}

/// `value` with `key` set (or removed, for `Value::Null`).
pub fn with(mut value: Value, key: &str, member: Value) -> Value {
    let object = value.as_object_mut().unwrap();
    if member.is_null() {
        object.remove(key);
    } else {
        object.insert(key.to_owned(), member);
    }
    value
}
