//! Serving the fake STS over HTTP/1.1: the checks, the script, strict rotation.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::reply::Kind;
use super::request::{StsRequest, decode_options, is_form};
use super::{
    Expected, FAKE_STS_REFRESH_TOKEN, FAKE_STS_TOKEN, Inner, RefreshPolicy, State, StsReply,
};

pub(crate) const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub(crate) const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The subject token types STS knows.
const SUBJECT_TOKEN_TYPES: [&str; 5] = [
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:saml2",
    "urn:ietf:params:aws:token-type:aws4_request",
    ACCESS_TOKEN_TYPE,
];

/// The largest request body read; a larger one gets a `413`.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

type Reply = Response<Full<Bytes>>;

/// Serves `state` on `listener` until the task is aborted.
pub(crate) async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    crate::http_serve::accept_loop(listener, state, answer).await;
}

/// What to do for one request.
enum Plan {
    Answer { delay: Duration, response: Reply },
    Hang,
}

async fn answer(request: Request<Incoming>, state: Arc<State>) -> Result<Reply, Infallible> {
    let (parts, body) = request.into_parts();
    let Ok(collected) = Limited::new(body, MAX_REQUEST_BODY).collect().await else {
        return Ok(oauth_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "The request body is too large.",
        ));
    };
    let recorded = StsRequest::new(
        parts.method,
        parts.uri,
        parts.headers,
        collected.to_bytes(),
        state.clock.now(),
    );
    let plan = {
        let mut inner = state.lock();
        inner.record.push(recorded.clone());
        if inner.hang {
            Plan::Hang
        } else {
            plan(&recorded, &state, &mut inner)
        }
    };
    match plan {
        Plan::Hang => std::future::pending().await,
        Plan::Answer { delay, response } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok(response)
        }
    }
}

/// Which grant a request that passed the checks asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Grant {
    Exchange,
    Refresh,
}

fn plan(request: &StsRequest, state: &State, inner: &mut Inner) -> Plan {
    let grant = match check(request, &state.expected, &inner.refresh) {
        Ok(grant) => grant,
        Err(refusal) => {
            return Plan::Answer {
                delay: Duration::ZERO,
                response: refusal.response(),
            };
        }
    };
    let reply = inner.script.pop_front().unwrap_or_else(|| {
        inner.generated += 1;
        StsReply::token(format!("{FAKE_STS_TOKEN}-{}", inner.generated))
    });
    if reply.invalid_header {
        return Plan::Answer {
            delay: reply.delay,
            response: text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "credkit-testing: the scripted StsReply has an invalid status or header",
            ),
        };
    }
    let mut response = match reply.kind {
        Kind::Hang => return Plan::Hang,
        Kind::Raw {
            status,
            content_type,
            body,
        } => {
            let Ok(status) = StatusCode::from_u16(status) else {
                return Plan::Answer {
                    delay: reply.delay,
                    response: text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "credkit-testing: the scripted StsReply has an invalid status",
                    ),
                };
            };
            let mut response = Response::new(Full::new(body));
            *response.status_mut() = status;
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(CONTENT_TYPE, value);
            }
            response
        }
        Kind::Token {
            access_token,
            expires_in,
            refresh_token,
        } => {
            let mut body = json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": expires_in.unwrap_or(state.expires_in),
            });
            if grant == Grant::Exchange {
                body["issued_token_type"] = json!(ACCESS_TOKEN_TYPE);
            }
            let rotated = match (&mut inner.refresh, grant) {
                (RefreshPolicy::Strict(valid), Grant::Refresh) => {
                    let next = refresh_token.unwrap_or_else(|| {
                        inner.rotations += 1;
                        format!("{FAKE_STS_REFRESH_TOKEN}-{}", inner.rotations)
                    });
                    valid.clone_from(&next);
                    Some(next)
                }
                _ => refresh_token,
            };
            if let Some(rotated) = rotated {
                body["refresh_token"] = json!(rotated);
            }
            json_response(StatusCode::OK, &body)
        }
    };
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value);
    }
    Plan::Answer {
        delay: reply.delay,
        response,
    }
}

/// Why the checks refused a request.
enum Refusal {
    NotFound,
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
}

impl Refusal {
    fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self::OAuth {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    fn invalid_client(description: &str) -> Self {
        Self::OAuth {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.to_owned(),
        }
    }

    fn missing(name: &str) -> Self {
        Self::bad_request(
            "invalid_request",
            format!("Missing required parameter: {name}."),
        )
    }

    fn response(self) -> Reply {
        match self {
            Self::NotFound => text(StatusCode::NOT_FOUND, "Not Found"),
            Self::OAuth {
                status,
                error,
                description,
            } => {
                let mut response = oauth_error(status, error, &description);
                if status == StatusCode::UNAUTHORIZED {
                    response.headers_mut().insert(
                        http::header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"sts\""),
                    );
                }
                response
            }
        }
    }
}

/// The checks of STS, in order; the grant when they pass, the refusal when one fails.
fn check(
    request: &StsRequest,
    expected: &Expected,
    refresh: &RefreshPolicy,
) -> Result<Grant, Refusal> {
    if !request.path().ends_with("/token") {
        return Err(Refusal::NotFound);
    }
    if request.method() != Method::POST.as_str() {
        return Err(Refusal::OAuth {
            status: StatusCode::METHOD_NOT_ALLOWED,
            error: "invalid_request",
            description: "The token endpoint takes POST.".to_owned(),
        });
    }
    if !is_form(request.headers()) {
        return Err(Refusal::bad_request(
            "invalid_request",
            "The request body must be application/x-www-form-urlencoded.",
        ));
    }
    let client = request.basic_auth();
    if let Some((id, secret)) = &expected.client {
        match &client {
            None => {
                return Err(Refusal::invalid_client(
                    "Client authentication is required.",
                ));
            }
            Some((got_id, got_secret)) if got_id != id || got_secret != secret => {
                return Err(Refusal::invalid_client("The OAuth client was not found."));
            }
            Some(_) => {}
        }
    }
    match request.grant_type() {
        None | Some("") => Err(Refusal::missing("grant_type")),
        Some(TOKEN_EXCHANGE) => check_exchange(request, expected).map(|()| Grant::Exchange),
        Some("refresh_token") => {
            if client.is_none() {
                return Err(Refusal::invalid_client(
                    "Client authentication is required for the refresh_token grant.",
                ));
            }
            check_refresh(request, refresh).map(|()| Grant::Refresh)
        }
        Some(other) => Err(Refusal::bad_request(
            "unsupported_grant_type",
            format!("Unsupported grant_type: \"{other}\"."),
        )),
    }
}

/// A non-empty form member.
fn member<'a>(request: &'a StsRequest, name: &str) -> Option<&'a str> {
    request.form_value(name).filter(|v| !v.is_empty())
}

/// The refresh grant: a refresh token, the one accepted now when there is one.
fn check_refresh(request: &StsRequest, refresh: &RefreshPolicy) -> Result<(), Refusal> {
    let Some(token) = member(request, "refresh_token") else {
        return Err(Refusal::missing("refresh_token"));
    };
    match refresh {
        RefreshPolicy::Fixed(valid) | RefreshPolicy::Strict(valid) if valid != token => Err(
            Refusal::bad_request("invalid_grant", "Token has been expired or revoked."),
        ),
        _ => Ok(()),
    }
}

/// The token exchange's members.
fn check_exchange(request: &StsRequest, expected: &Expected) -> Result<(), Refusal> {
    let required = |name: &str| member(request, name).ok_or_else(|| Refusal::missing(name));
    let requested = required("requested_token_type")?;
    let subject_token = required("subject_token")?;
    let token_type = required("subject_token_type")?;
    let audience = required("audience")?;
    if requested != ACCESS_TOKEN_TYPE {
        return Err(Refusal::bad_request(
            "invalid_request",
            format!(
                "Invalid value for \"requested_token_type\": \"{requested}\". STS issues only \
                 {ACCESS_TOKEN_TYPE}."
            ),
        ));
    }
    if !SUBJECT_TOKEN_TYPES.contains(&token_type) {
        return Err(Refusal::bad_request(
            "invalid_request",
            format!("Invalid value for \"subject_token_type\": \"{token_type}\"."),
        ));
    }
    if let Some(wanted) = &expected.subject_token_type
        && wanted != token_type
    {
        return Err(Refusal::bad_request(
            "invalid_request",
            format!(
                "Invalid value for \"subject_token_type\": \"{token_type}\"; this provider \
                 takes \"{wanted}\"."
            ),
        ));
    }
    if let Some(wanted) = &expected.audience
        && wanted != audience
    {
        return Err(Refusal::bad_request(
            "invalid_request",
            format!(
                "Invalid value for \"audience\": \"{audience}\" is not the provider \"{wanted}\"."
            ),
        ));
    }
    if let Some(options) = request.form_value("options")
        && !decode_options(options).is_some_and(|value| value.is_object())
    {
        return Err(Refusal::bad_request(
            "invalid_request",
            "Invalid value for \"options\": it must be a percent-encoded JSON object.",
        ));
    }
    if let Some(wanted) = &expected.subject_token
        && wanted != subject_token
    {
        // Never the token itself: an error that echoes it is a leak waiting to be logged.
        return Err(Refusal::bad_request(
            "invalid_grant",
            "The subject token is invalid.",
        ));
    }
    Ok(())
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Reply {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn json_response(status: StatusCode, value: &Value) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn text(status: StatusCode, body: &'static str) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}
