//! Serving the fake metadata server over HTTP/1.1, with hyper.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;

use super::{MetadataRequest, State};

const ROOT: &str = "/computeMetadata/v1/";

/// Serves `state` on `listener` until the task is aborted.
pub(crate) async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    crate::http_serve::accept_loop(listener, state, answer).await;
}

async fn answer(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, _body) = request.into_parts();
    let recorded = MetadataRequest {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
    };
    state.record().push(recorded.clone());
    let (hang, delay, failure, no_flavor) = {
        let mut faults = state.faults();
        let failure = (faults.failures > 0).then(|| {
            faults.failures -= 1;
            faults.failure_status
        });
        (faults.hang, faults.delay, failure, faults.no_flavor)
    };
    if hang {
        std::future::pending::<()>().await;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut response = match failure {
        Some(status) => text(
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            "fake metadata server failure\n",
        ),
        None => route(&recorded, &state),
    };
    if !no_flavor {
        response
            .headers_mut()
            .insert("metadata-flavor", HeaderValue::from_static("Google"));
    }
    Ok(response)
}

fn route(request: &MetadataRequest, state: &State) -> Response<Full<Bytes>> {
    let script = &state.script;
    if request.path == "/" {
        return text(StatusCode::OK, "computeMetadata/\n");
    }
    let Some(path) = request.path.strip_prefix(ROOT) else {
        return not_found();
    };
    if request.header("metadata-flavor") != Some("Google") {
        return text(
            StatusCode::FORBIDDEN,
            "Missing Metadata-Flavor:Google header.\n",
        );
    }
    if request.method != http::Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
    }
    let query = request.query_pairs();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match path {
        "project/project-id" => return text(StatusCode::OK, &script.project_id),
        "universe/universe-domain" => {
            return match &script.universe_domain {
                Some(domain) => text(StatusCode::OK, domain),
                None => not_found(),
            };
        }
        _ => {}
    }
    let Some(rest) = path.strip_prefix("instance/service-accounts/") else {
        return not_found();
    };
    let (account, leaf) = rest.split_once('/').unwrap_or((rest, ""));
    if account != "default" && account != script.email {
        return not_found();
    }
    match leaf {
        "" if param("recursive") == Some("true") => json(&serde_json::json!({
            "aliases": ["default"],
            "email": script.email,
            "scopes": script.instance_scopes,
        })),
        "" => text(StatusCode::OK, "aliases\nemail\nidentity\nscopes\ntoken\n"),
        "email" => text(StatusCode::OK, &script.email),
        "token" => {
            let key = param("scopes").unwrap_or("");
            json(&serde_json::json!({
                "access_token": script.access_token(key),
                "expires_in": script.expires_in,
                "token_type": "Bearer",
            }))
        }
        "identity" => match param("audience") {
            Some(audience) if !audience.is_empty() => {
                let now = state.clock.now().unix_timestamp();
                let lifetime =
                    i64::try_from(script.id_token_lifetime.as_secs()).unwrap_or(i64::MAX);
                let mut claims = serde_json::json!({
                    "aud": audience,
                    "azp": "1234567890",
                    "email": script.email,
                    "email_verified": true,
                    "exp": now.saturating_add(lifetime),
                    "iat": now,
                    "iss": "https://accounts.google.com",
                    "sub": "1234567890",
                });
                if param("format") == Some("full") {
                    claims["google"] = serde_json::json!({"compute_engine": {
                        "project_id": script.project_id,
                        "zone": "fake-zone-a",
                    }});
                }
                if param("licenses") == Some("TRUE") {
                    claims["google"]["compute_engine"]["license_id"] = serde_json::json!([]);
                }
                let token = match &script.minter {
                    Some(minter) => minter.mint(&claims),
                    None => super::FakeMetadataServer::fake_id_token(&claims),
                };
                let mut response = text(StatusCode::OK, &token);
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
                response
            }
            _ => text(
                StatusCode::BAD_REQUEST,
                "non-empty audience parameter required\n",
            ),
        },
        _ => not_found(),
    }
}

fn not_found() -> Response<Full<Bytes>> {
    text(StatusCode::NOT_FOUND, "Not Found\n")
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn json(value: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
