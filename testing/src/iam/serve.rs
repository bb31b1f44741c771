//! Serving the fake IAM Credentials API over HTTP/1.1, with hyper.

use std::convert::Infallible;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;

use super::{FAKE_IAM_DWD_TOKEN, Fault, IamRequest, State, status_name};

const PREFIX: &str = "/v1/projects/-/serviceAccounts/";

/// `(principal, rpc)` of an IAM method's path.
pub(crate) fn split_path(path: &str) -> Option<(&str, &str)> {
    path.strip_prefix(PREFIX)?.rsplit_once(':')
}

/// Serves `state` on `listener` until the task is aborted.
pub(crate) async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    crate::http_serve::accept_loop(listener, state, answer).await;
}

async fn answer(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let recorded = IamRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
    };
    state.record().push(recorded.clone());
    let fault = state.faults().pop_front();
    if *state.hang() || matches!(fault, Some(Fault::Hang)) {
        std::future::pending::<()>().await;
    }
    if let Some(Fault::Reply {
        status,
        content_type,
        body,
        retry_after,
    }) = fault
    {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Ok(value) = HeaderValue::from_str(&content_type) {
            response.headers_mut().insert(CONTENT_TYPE, value);
        }
        if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        return Ok(response);
    }
    Ok(route(&recorded, &state))
}

fn route(request: &IamRequest, state: &State) -> Response<Full<Bytes>> {
    if request.method != http::Method::POST {
        return google_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    if request.path == "/token" {
        return grant(request);
    }
    let Some((principal, rpc)) = split_path(&request.path) else {
        return google_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let bearer = request
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "));
    let authorized = match bearer {
        None | Some("") => false,
        Some(token) => state.accepted.is_empty() || state.accepted.contains(token),
    };
    if !authorized {
        return google_error(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential.",
        );
    }
    let Some(body) = request.json() else {
        return google_error(StatusCode::BAD_REQUEST, "Invalid JSON payload received.");
    };
    let now = state.clock.now();
    match rpc {
        "generateAccessToken" => {
            let lifetime = body["lifetime"]
                .as_str()
                .and_then(|l| l.strip_suffix('s'))
                .and_then(|l| l.parse::<i64>().ok())
                .unwrap_or(3600);
            let expiry = now + time::Duration::seconds(lifetime);
            json_reply(&json!({
                "accessToken": format!("{}-{principal}", super::FAKE_IAM_TOKEN),
                "expireTime": expiry.format(&Rfc3339).unwrap_or_default(),
            }))
        }
        "generateIdToken" => {
            let Some(audience) = body["audience"].as_str().filter(|a| !a.is_empty()) else {
                return google_error(StatusCode::BAD_REQUEST, "audience is required");
            };
            let iat = now.unix_timestamp();
            let mut claims = json!({
                "aud": audience,
                "azp": "101234567890",
                "sub": "101234567890",
                "iss": "https://accounts.google.com",
                "iat": iat,
                "exp": iat + 3600,
            });
            if body["includeEmail"].as_bool() == Some(true) {
                claims["email"] = json!(principal);
                claims["email_verified"] = json!(true);
            }
            let token = match &state.minter {
                Some(minter) => minter.mint(&claims),
                None => state.key.sign_jwt(&claims),
            };
            json_reply(&json!({ "token": token }))
        }
        "signBlob" => sign_blob(state, &body),
        "signJwt" => {
            let Some(claims) = body["payload"]
                .as_str()
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
            else {
                return google_error(StatusCode::BAD_REQUEST, "payload must be JSON claims");
            };
            json_reply(&json!({
                "keyId": state.key.key_id(),
                "signedJwt": state.key.sign_jwt(&claims),
            }))
        }
        _ => google_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// `signBlob`: an RS256 signature of the base64 payload with the server's key.
fn sign_blob(state: &State, body: &Value) -> Response<Full<Bytes>> {
    let Some(payload) = body["payload"]
        .as_str()
        .and_then(|p| STANDARD.decode(p).ok())
    else {
        return google_error(StatusCode::BAD_REQUEST, "payload must be base64");
    };
    let mut signature = vec![0; state.pair.public_modulus_len()];
    if state
        .pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            &payload,
            &mut signature,
        )
        .is_err()
    {
        return google_error(StatusCode::INTERNAL_SERVER_ERROR, "signing failed");
    }
    json_reply(&json!({
        "keyId": state.key.key_id(),
        "signedBlob": STANDARD.encode(signature),
    }))
}

/// The JWT-bearer grant of domain-wide delegation.
fn grant(request: &IamRequest) -> Response<Full<Bytes>> {
    let form = request.form();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        || field("assertion").is_none_or(str::is_empty)
    {
        let mut response = json_reply(&json!({"error": "invalid_grant"}));
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return response;
    }
    json_reply(&json!({
        "access_token": FAKE_IAM_DWD_TOKEN,
        "expires_in": 3600,
        "token_type": "Bearer",
    }))
}

fn google_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = json_reply(&json!({"error": {
        "code": status.as_u16(),
        "message": message,
        "status": status_name(status.as_u16()),
    }}));
    *response.status_mut() = status;
    response
}

fn json_reply(value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}
