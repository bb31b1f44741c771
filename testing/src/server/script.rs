//! The state shared by the socket server and the in-memory endpoint: the script of replies, the
//! counter of generated tokens, and the record of requests.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;

use super::bearer::BearerCheck;
use super::jwt_bearer::{Judgement, JwtBearerCheck};
use super::record::RecordedRequest;
use super::reply::{Body, FAKE_EXPIRES_IN, Reply};
use super::rotation::Rotation;

/// The script and the record, behind one lock: a request is recorded and its reply chosen
/// atomically, so concurrent requests see the script in order.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Woken whenever a request is recorded.
    recorded: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct State {
    script: VecDeque<Reply>,
    generated: u64,
    requests: Vec<RecordedRequest>,
    rotation: Rotation,
    jwt_bearer: Option<JwtBearerCheck>,
    /// `None`, a token endpoint's script: the last reply repeats, an empty script answers
    /// default tokens. `Some`, an API's: each reply is used once, then this one answers.
    after_script: Option<Reply>,
    bearer: BearerCheck,
}

/// A reply resolved for one request: generated bodies made, the redirect's `Location` set.
#[derive(Debug)]
pub(crate) struct Planned {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) delay: Duration,
    pub(crate) body: PlannedBody,
}

/// What to send after the headers, or how to misbehave.
#[derive(Debug)]
pub(crate) enum PlannedBody {
    Full(Bytes),
    Stall,
    Drip(Duration),
    Reset,
    Oversize { len: u64, declared: bool },
}

impl Shared {
    /// The state of a fake API: each scripted reply once, then `after_script`.
    pub(crate) fn api(after_script: Reply) -> Self {
        let shared = Self::default();
        shared.lock().after_script = Some(after_script);
        shared
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread cannot leave the script half-updated: every change is one
        // push or pop.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn push(&self, reply: Reply) {
        self.lock().script.push_back(reply);
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    pub(crate) fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    pub(crate) fn last_request(&self) -> Option<RecordedRequest> {
        self.lock().requests.last().cloned()
    }

    pub(crate) fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    pub(crate) fn start_strict_rotation(&self, initial: String) {
        self.lock().rotation.start(initial);
    }

    pub(crate) fn accept_jwt_bearer(&self, check: JwtBearerCheck) {
        self.lock().jwt_bearer = Some(check);
    }

    pub(crate) fn set_after_script(&self, reply: Reply) {
        self.lock().after_script = Some(reply);
    }

    pub(crate) fn accept_bearer(&self, token: &str) {
        self.lock().bearer.accept(token);
    }

    pub(crate) fn reject_bearer(&self, token: &str) {
        self.lock().bearer.reject(token);
    }

    pub(crate) fn valid_refresh_token(&self) -> Option<String> {
        self.lock().rotation.valid().map(str::to_owned)
    }

    /// Waits until at least `count` requests were recorded.
    pub(crate) async fn wait_for_requests(&self, count: usize) {
        loop {
            let notified = self.recorded.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.request_count() >= count {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn pending_replies(&self) -> usize {
        self.lock().script.len()
    }

    /// Records `request` and picks its reply: a refusal by a check (the bearer token, strict
    /// rotation, the JWT-bearer grant), else the next scripted one (see `State::next_reply`).
    /// `base` is the endpoint's `scheme://host:port`, for redirects.
    pub(crate) fn record_and_plan(&self, request: RecordedRequest, base: &str) -> Planned {
        let mut state = self.lock();
        let mut refused = state
            .bearer
            .refuse(&request)
            .or_else(|| state.rotation.refuse(&request));
        let mut id_token = None;
        match state.jwt_bearer.as_ref().map(|check| check.judge(&request)) {
            Some(Judgement::Refused(refusal)) => refused = Some(refusal),
            Some(Judgement::Accepted { id_token: wanted }) => id_token = wanted,
            Some(Judgement::NotJwtBearer) | None => {}
        }
        let reply = match refused {
            Some(refusal) => refusal,
            None => state.next_reply(),
        };
        let scope = request.form_value("scope").map(str::to_owned);
        state.requests.push(request);
        if let Body::Generated { .. } = reply.body {
            state.generated += 1;
        }
        let generated = state.generated;
        let mut planned = plan(
            reply,
            generated,
            scope.as_deref(),
            id_token.as_deref(),
            base,
        );
        // Under the lock: the check and the rotation are one step, so of two requests with the
        // same refresh token only the first gets a token.
        state.rotation.rotate(&mut planned);
        drop(state);
        self.recorded.notify_waiters();
        planned
    }
}

impl State {
    /// The next reply of the script, as a token endpoint or an API uses it up.
    fn next_reply(&mut self) -> Reply {
        if let Some(after) = &self.after_script {
            let after = after.clone();
            return self.script.pop_front().unwrap_or(after);
        }
        if self.script.len() > 1 {
            self.script.pop_front()
        } else {
            self.script.front().cloned()
        }
        .unwrap_or_else(Reply::default_token)
    }
}

fn plan(
    reply: Reply,
    generated: u64,
    scope: Option<&str>,
    id_token: Option<&str>,
    base: &str,
) -> Planned {
    if reply.invalid_header {
        return invalid_reply();
    }
    let mut headers = HeaderMap::new();
    for (name, value) in reply.headers {
        headers.insert(name, value);
    }
    let body = match reply.body {
        Body::Full(bytes) => PlannedBody::Full(bytes),
        Body::Generated { .. } if id_token.is_some() => {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            PlannedBody::Full(Bytes::from(json!({ "id_token": id_token }).to_string()))
        }
        Body::Generated { rotate } => {
            let mut token = json!({
                "access_token": format!("fake-access-token-{generated}"),
                "expires_in": FAKE_EXPIRES_IN,
                "token_type": "Bearer",
            });
            if let Some(object) = token.as_object_mut() {
                if let Some(scope) = scope {
                    object.insert("scope".to_owned(), scope.into());
                }
                if rotate {
                    let refresh = format!("fake-refresh-token-{generated}");
                    object.insert("refresh_token".to_owned(), refresh.into());
                }
            }
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            PlannedBody::Full(Bytes::from(token.to_string()))
        }
        Body::Redirect(path) => match Reply::location(base, &path) {
            Some((name, value)) => {
                headers.insert(name, value);
                PlannedBody::Full(Bytes::new())
            }
            None => return invalid_reply(),
        },
        Body::Stall => PlannedBody::Stall,
        Body::Drip(interval) => PlannedBody::Drip(interval),
        Body::Reset => PlannedBody::Reset,
        Body::Oversize { len, declared } => PlannedBody::Oversize { len, declared },
    };
    Planned {
        status: reply.status,
        headers,
        delay: reply.delay,
        body,
    }
}

fn invalid_reply() -> Planned {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Planned {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        headers,
        delay: Duration::ZERO,
        body: PlannedBody::Full(Bytes::from_static(
            b"credkit-testing: the scripted reply has an invalid status, header or redirect path",
        )),
    }
}

#[cfg(test)]
mod tests {
    use http::{Method, Uri};

    use super::*;

    fn request(body: &'static str) -> RecordedRequest {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        RecordedRequest::new(
            Method::POST,
            Uri::from_static("/token"),
            headers,
            Bytes::from_static(body.as_bytes()),
        )
    }

    fn json_body(planned: &Planned) -> serde_json::Value {
        match &planned.body {
            PlannedBody::Full(bytes) => serde_json::from_slice(bytes).unwrap(),
            other => panic!("not a full body: {other:?}"),
        }
    }

    #[test]
    fn script_plays_in_order_and_the_last_reply_repeats() {
        let shared = Shared::default();
        shared.push(Reply::oauth_error(503, "busy", None));
        shared.push(Reply::token("second"));
        let statuses: Vec<u16> = (0..4)
            .map(|_| {
                shared
                    .record_and_plan(request(""), "http://h")
                    .status
                    .as_u16()
            })
            .collect();
        assert_eq!(statuses, [503, 200, 200, 200]);
        assert_eq!(shared.request_count(), 4);
        assert_eq!(shared.pending_replies(), 1);
    }

    #[test]
    fn default_tokens_count_up_and_echo_the_scope() {
        let shared = Shared::default();
        let first = json_body(&shared.record_and_plan(request("scope=a+b"), "http://h"));
        let second = json_body(&shared.record_and_plan(request(""), "http://h"));
        assert_eq!(first["access_token"], "fake-access-token-1");
        assert_eq!(first["scope"], "a b");
        assert_eq!(first["expires_in"], 3600);
        assert_eq!(first["token_type"], "Bearer");
        assert_eq!(second["access_token"], "fake-access-token-2");
        assert!(second.get("scope").is_none());
        assert!(second.get("refresh_token").is_none());
    }

    #[test]
    fn rotating_tokens_carry_a_new_refresh_token() {
        let shared = Shared::default();
        shared.push(Reply::rotating_token());
        let body = json_body(&shared.record_and_plan(request(""), "http://h"));
        assert_eq!(body["refresh_token"], "fake-refresh-token-1");
    }

    #[test]
    fn redirects_point_at_the_same_endpoint() {
        let shared = Shared::default();
        shared.push(Reply::redirect("moved"));
        let planned = shared.record_and_plan(request(""), "http://127.0.0.1:9");
        assert_eq!(planned.status, StatusCode::FOUND);
        assert_eq!(planned.headers["location"], "http://127.0.0.1:9/moved");
    }

    #[test]
    fn invalid_headers_become_a_500() {
        let shared = Shared::default();
        shared.push(Reply::token("t").with_header("bad header", "x"));
        let planned = shared.record_and_plan(request(""), "http://h");
        assert_eq!(planned.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
