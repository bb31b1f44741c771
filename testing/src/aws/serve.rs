//! Serving the fake AWS metadata service over HTTP/1.1, with hyper.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;

use super::{
    AwsMetadataEndpoint, AwsMetadataFault, AwsMetadataRequest, CREDENTIALS_PATH, State, TOKEN_PATH,
    ZONE_PATH,
};

/// Serves `state` on `listener` until the task is aborted.
pub(crate) async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    crate::http_serve::accept_loop(listener, state, answer).await;
}

async fn answer(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, _body) = request.into_parts();
    let recorded = AwsMetadataRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
    };
    state.record().push(recorded.clone());
    let endpoint = endpoint_of(&recorded.path, &state);
    if let Some(fault) = endpoint.and_then(|endpoint| state.next_fault(endpoint)) {
        return Ok(faulty(&fault, &state).await);
    }
    Ok(route(&recorded, endpoint, &state))
}

/// The endpoint a path names, if any.
fn endpoint_of(path: &str, state: &State) -> Option<AwsMetadataEndpoint> {
    if path == TOKEN_PATH {
        return Some(AwsMetadataEndpoint::SessionToken);
    }
    if path == ZONE_PATH {
        return Some(AwsMetadataEndpoint::Region);
    }
    let rest = path.strip_prefix(CREDENTIALS_PATH)?;
    match rest {
        "" | "/" => Some(AwsMetadataEndpoint::RoleName),
        _ => rest
            .strip_prefix('/')
            .filter(|_| !state.script.role.is_empty())
            .map(|_| AwsMetadataEndpoint::Credentials),
    }
}

async fn faulty(fault: &AwsMetadataFault, state: &State) -> Response<Full<Bytes>> {
    match fault {
        AwsMetadataFault::Status(status) => {
            let script = &state.script;
            text(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                &format!(
                    "fake failure; SecretAccessKey={} Token={}",
                    script.secret_access_key,
                    script.session_token.as_deref().unwrap_or("")
                ),
            )
        }
        AwsMetadataFault::Body(body) => {
            let mut response = Response::new(Full::new(body.clone()));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            response
        }
        AwsMetadataFault::Huge(len) => {
            let mut body = Vec::with_capacity(*len);
            body.extend(b"{\"AccessKeyId\":\"".iter().take(*len));
            body.resize(*len, b'a');
            text(StatusCode::OK, "").map(|_| Full::new(Bytes::from(body)))
        }
        AwsMetadataFault::Redirect(location) => {
            let mut response = text(StatusCode::TEMPORARY_REDIRECT, "");
            if let Ok(value) = HeaderValue::from_str(location) {
                response.headers_mut().insert(LOCATION, value);
            }
            response
        }
        AwsMetadataFault::Hang => std::future::pending().await,
    }
}

fn route(
    request: &AwsMetadataRequest,
    endpoint: Option<AwsMetadataEndpoint>,
    state: &State,
) -> Response<Full<Bytes>> {
    let script = &state.script;
    let Some(endpoint) = endpoint else {
        return text(StatusCode::NOT_FOUND, "Not Found");
    };
    if endpoint == AwsMetadataEndpoint::SessionToken {
        if request.method != Method::PUT {
            return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
        }
        let ttl = request
            .header("x-aws-ec2-metadata-token-ttl-seconds")
            .and_then(|ttl| ttl.parse::<u32>().ok());
        return match ttl {
            Some(1..=21_600) => text(StatusCode::OK, &script.imdsv2_token),
            _ => text(StatusCode::BAD_REQUEST, "Bad Request"),
        };
    }
    if request.method != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    match request.header("x-aws-ec2-metadata-token") {
        Some(token) if token == script.imdsv2_token => {}
        None if !state.require_imdsv2() => {}
        _ => return text(StatusCode::UNAUTHORIZED, "Unauthorized"),
    }
    match endpoint {
        AwsMetadataEndpoint::Region => text(StatusCode::OK, &script.zone),
        AwsMetadataEndpoint::RoleName => text(StatusCode::OK, &script.role),
        AwsMetadataEndpoint::Credentials => {
            let role = request
                .path
                .strip_prefix(CREDENTIALS_PATH)
                .and_then(|rest| rest.strip_prefix('/'))
                .unwrap_or("");
            if role != script.role {
                return text(StatusCode::NOT_FOUND, "Not Found");
            }
            let mut document = serde_json::json!({
                "Code": "Success",
                "LastUpdated": "2026-01-01T00:00:00Z",
                "Type": "AWS-HMAC",
                "AccessKeyId": script.access_key_id,
                "SecretAccessKey": script.secret_access_key,
                "Expiration": "2026-01-01T06:00:00Z",
            });
            if let Some(token) = &script.session_token {
                document["Token"] = serde_json::Value::String(token.clone());
            }
            let mut response = text(StatusCode::OK, &document.to_string());
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            response
        }
        AwsMetadataEndpoint::SessionToken => text(StatusCode::METHOD_NOT_ALLOWED, ""),
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}
