//! The fake STS over a real socket, with hyper's client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use super::*;
use crate::FakeClock;

const FORM: &str = "application/x-www-form-urlencoded";
const AUDIENCE: &str = "//iam.googleapis.com/locations/global/workforcePools/pool/providers/p";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

/// A request's pieces; `None` content type sends none.
struct Post<'a> {
    method: &'a str,
    path: &'a str,
    content_type: Option<&'a str>,
    auth: Option<(&'a str, &'a str)>,
    form: Vec<(&'a str, &'a str)>,
}

impl<'a> Post<'a> {
    fn exchange() -> Self {
        Self {
            method: "POST",
            path: "/v1/token",
            content_type: Some(FORM),
            auth: None,
            form: vec![
                ("grant_type", serve::TOKEN_EXCHANGE),
                ("audience", AUDIENCE),
                ("scope", "a b"),
                ("requested_token_type", serve::ACCESS_TOKEN_TYPE),
                ("subject_token", "subject-secret"),
                ("subject_token_type", JWT),
            ],
        }
    }

    fn refresh(token: &'a str) -> Self {
        Self {
            method: "POST",
            path: "/v1/oauth/token",
            content_type: Some(FORM),
            auth: Some(("id", "secret")),
            form: vec![("grant_type", "refresh_token"), ("refresh_token", token)],
        }
    }

    fn set(mut self, name: &'a str, value: &'a str) -> Self {
        self.form.retain(|(k, _)| *k != name);
        self.form.push((name, value));
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.form.retain(|(k, _)| *k != name);
        self
    }

    fn auth(mut self, id: &'a str, secret: &'a str) -> Self {
        self.auth = Some((id, secret));
        self
    }

    async fn send(self, sts: &FakeStsServer) -> (u16, Value) {
        let stream = TcpStream::connect(sts.addr()).await.unwrap();
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.form)
            .finish();
        let mut request = http::Request::builder()
            .method(self.method)
            .uri(self.path)
            .header("host", sts.addr().to_string());
        if let Some(content_type) = self.content_type {
            request = request.header("content-type", content_type);
        }
        if let Some((id, secret)) = self.auth {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            request = request.header("authorization", format!("Basic {encoded}"));
        }
        let response = sender
            .send_request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body))),
        )
    }
}

fn error(body: &Value) -> (&str, &str) {
    (
        body["error"].as_str().unwrap(),
        body["error_description"].as_str().unwrap_or_default(),
    )
}

#[tokio::test]
async fn an_exchange_gets_a_generated_token_in_stss_shape() {
    let sts = FakeStsServer::start().await.unwrap();
    let (status, body) = Post::exchange().send(&sts).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "access_token": "fake-sts-access-token-1",
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": 3600,
        })
    );
    let (_, second) = Post::exchange().send(&sts).await;
    assert_eq!(second["access_token"], "fake-sts-access-token-2");
    assert!(sts.token_url().ends_with("/v1/token"));
}

#[tokio::test]
async fn every_request_is_recorded_with_its_form_and_time() {
    let clock = FakeClock::new();
    let sts = FakeStsServer::builder()
        .with_clock(clock.clone())
        .start()
        .await
        .unwrap();
    let options = "%7B%22userProject%22%3A%20%22123%22%7D";
    Post::exchange()
        .set("options", options)
        .auth("client", "")
        .send(&sts)
        .await;
    Post::exchange().set("grant_type", "nope").send(&sts).await;
    let requests = sts.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(first.method(), "POST");
    assert_eq!(first.path(), "/v1/token");
    assert_eq!(first.header("content-type"), Some(FORM));
    assert_eq!(first.grant_type(), Some(serve::TOKEN_EXCHANGE));
    assert_eq!(first.form_value("subject_token"), Some("subject-secret"));
    assert_eq!(first.scopes(), ["a", "b"]);
    assert_eq!(first.options(), Some(json!({"userProject": "123"})));
    assert_eq!(
        first.basic_auth(),
        Some(("client".to_owned(), String::new()))
    );
    assert_eq!(first.received_at(), crate::FAKE_CLOCK_START);
    assert_eq!(
        first.form_keys(),
        [
            "grant_type",
            "audience",
            "scope",
            "requested_token_type",
            "subject_token",
            "subject_token_type",
            "options"
        ]
    );
    let shown = format!("{first:?}");
    assert!(!shown.contains("subject-secret"), "{shown}");
    assert!(!shown.contains("Basic"), "{shown}");
    assert_eq!(sts.last_request().unwrap().grant_type(), Some("nope"));
    sts.clear_requests();
    assert_eq!(sts.request_count(), 0);
}

#[tokio::test]
async fn the_exchange_form_is_checked_as_sts_does() {
    let sts = FakeStsServer::builder()
        .with_audience(AUDIENCE)
        .with_subject_token("subject-secret")
        .with_subject_token_type(JWT)
        .start()
        .await
        .unwrap();
    let cases: Vec<(Post<'_>, u16, &str, &str)> = vec![
        (
            Post::exchange().without("grant_type"),
            400,
            "invalid_request",
            "grant_type",
        ),
        (
            Post::exchange().set("grant_type", "client_credentials"),
            400,
            "unsupported_grant_type",
            "client_credentials",
        ),
        (
            Post::exchange().without("requested_token_type"),
            400,
            "invalid_request",
            "requested_token_type",
        ),
        (
            Post::exchange().set("requested_token_type", "urn:x"),
            400,
            "invalid_request",
            "requested_token_type",
        ),
        (
            Post::exchange().without("subject_token"),
            400,
            "invalid_request",
            "subject_token",
        ),
        (
            Post::exchange().set("subject_token_type", "urn:x"),
            400,
            "invalid_request",
            "subject_token_type",
        ),
        (
            Post::exchange().set(
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
            400,
            "invalid_request",
            "subject_token_type",
        ),
        (
            Post::exchange().without("audience"),
            400,
            "invalid_request",
            "audience",
        ),
        (
            Post::exchange().set("audience", "//iam.googleapis.com/other"),
            400,
            "invalid_request",
            "audience",
        ),
        (
            Post::exchange().set("options", "{not json"),
            400,
            "invalid_request",
            "options",
        ),
        (
            Post::exchange().set("subject_token", "another-secret"),
            400,
            "invalid_grant",
            "subject token",
        ),
    ];
    for (post, status, code, naming) in cases {
        let (got, body) = post.send(&sts).await;
        assert_eq!(got, status, "{body}");
        let (error, description) = error(&body);
        assert_eq!(error, code, "{body}");
        assert!(description.contains(naming), "{body}");
        assert!(!body.to_string().contains("secret"), "{body}");
    }
    // Scope and options are optional.
    let (status, body) = Post::exchange().without("scope").send(&sts).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_request_itself_is_checked() {
    let sts = FakeStsServer::start().await.unwrap();
    let mut wrong_path = Post::exchange();
    wrong_path.path = "/v1/tokens";
    assert_eq!(wrong_path.send(&sts).await.0, 404);
    let mut oauth_path = Post::exchange();
    oauth_path.path = "/v1/oauth/token";
    assert_eq!(oauth_path.send(&sts).await.0, 200);
    let mut get = Post::exchange();
    get.method = "GET";
    assert_eq!(get.send(&sts).await.0, 405);
    let mut json_body = Post::exchange();
    json_body.content_type = Some("application/json");
    let (status, body) = json_body.send(&sts).await;
    assert_eq!((status, error(&body).0), (400, "invalid_request"));
    assert_eq!(sts.request_count(), 4);
}

#[tokio::test]
async fn the_client_is_checked_when_named() {
    let sts = FakeStsServer::builder()
        .with_client("id", "secret")
        .start()
        .await
        .unwrap();
    let (status, body) = Post::exchange().send(&sts).await;
    assert_eq!((status, error(&body).0), (401, "invalid_client"), "{body}");
    let (status, body) = Post::exchange().auth("id", "wrong").send(&sts).await;
    assert_eq!((status, error(&body).0), (401, "invalid_client"), "{body}");
    let (status, body) = Post::exchange().auth("other", "secret").send(&sts).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = Post::exchange().auth("id", "secret").send(&sts).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn scripted_replies_come_in_order_once_each_then_generated_tokens() {
    let sts = FakeStsServer::start().await.unwrap();
    sts.push_replies([
        StsReply::oauth_error(503, "temporarily_unavailable", None).with_header("retry-after", "7"),
        StsReply::token_expiring_in("scripted", 60),
        StsReply::raw(200, "text/html", "<html>garbage</html>"),
        StsReply::json(500, &json!({"error": "internal_failure"})),
    ]);
    assert_eq!(sts.pending_replies(), 4);
    // A refused request uses no reply.
    let (status, _) = Post::exchange().without("audience").send(&sts).await;
    assert_eq!(status, 400);
    assert_eq!(sts.pending_replies(), 4);
    let (status, body) = Post::exchange().send(&sts).await;
    assert_eq!((status, error(&body).0), (503, "temporarily_unavailable"));
    let (status, body) = Post::exchange().send(&sts).await;
    assert_eq!(status, 200);
    assert_eq!(body["access_token"], "scripted");
    assert_eq!(body["expires_in"], 60);
    assert_eq!(body["issued_token_type"], serve::ACCESS_TOKEN_TYPE);
    let (status, body) = Post::exchange().send(&sts).await;
    assert_eq!((status, body), (200, json!("<html>garbage</html>")));
    let (status, _) = Post::exchange().send(&sts).await;
    assert_eq!(status, 500);
    let (_, body) = Post::exchange().send(&sts).await;
    assert_eq!(body["access_token"], "fake-sts-access-token-1");
    assert_eq!(sts.pending_replies(), 0);
}

#[tokio::test]
async fn an_invalid_scripted_header_is_a_500() {
    let sts = FakeStsServer::start().await.unwrap();
    let reply = StsReply::token("t").with_header("bad header", "x");
    assert_eq!(reply.status(), 500);
    sts.push_reply(reply);
    assert_eq!(Post::exchange().send(&sts).await.0, 500);
    sts.push_reply(StsReply::raw(1000, "text/plain", "x"));
    assert_eq!(Post::exchange().send(&sts).await.0, 500);
}

#[tokio::test]
async fn a_hang_never_answers_but_is_recorded() {
    let sts = FakeStsServer::start().await.unwrap();
    sts.push_reply(StsReply::hang());
    let hung = tokio::time::timeout(Duration::from_millis(200), Post::exchange().send(&sts)).await;
    assert!(hung.is_err());
    assert_eq!(sts.request_count(), 1);
    sts.set_hang(true);
    let hung = tokio::time::timeout(Duration::from_millis(200), Post::exchange().send(&sts)).await;
    assert!(hung.is_err());
    sts.set_hang(false);
    assert_eq!(Post::exchange().send(&sts).await.0, 200);
    assert_eq!(sts.request_count(), 3);
}

#[tokio::test]
async fn the_refresh_grant_wants_a_client_and_a_refresh_token() {
    let sts = FakeStsServer::start().await.unwrap();
    let mut anonymous = Post::refresh("rt");
    anonymous.auth = None;
    let (status, body) = anonymous.send(&sts).await;
    assert_eq!((status, error(&body).0), (401, "invalid_client"), "{body}");
    let (status, body) = Post::refresh("").send(&sts).await;
    assert_eq!((status, error(&body).0), (400, "invalid_request"), "{body}");
    let (status, body) = Post::refresh("rt").send(&sts).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"access_token": "fake-sts-access-token-1", "token_type": "Bearer", "expires_in": 3600})
    );
    assert_eq!(sts.valid_refresh_token(), None);
}

#[tokio::test]
async fn a_fixed_refresh_token_is_the_only_one_and_never_rotates() {
    let sts = FakeStsServer::builder()
        .with_refresh_token("rt-1")
        .with_expires_in(120)
        .start()
        .await
        .unwrap();
    let (status, body) = Post::refresh("rt-0").send(&sts).await;
    assert_eq!((status, error(&body).0), (400, "invalid_grant"), "{body}");
    assert!(!body.to_string().contains("rt-0"));
    for _ in 0..2 {
        let (status, body) = Post::refresh("rt-1").send(&sts).await;
        assert_eq!(status, 200);
        assert!(body.get("refresh_token").is_none());
        assert_eq!(body["expires_in"], 120);
    }
    assert_eq!(sts.valid_refresh_token().as_deref(), Some("rt-1"));
}

#[tokio::test]
async fn strict_rotation_issues_a_new_refresh_token_and_refuses_the_old() {
    let sts = FakeStsServer::builder()
        .with_strict_rotation("rt-0")
        .start()
        .await
        .unwrap();
    let (status, body) = Post::refresh("rt-0").send(&sts).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refresh_token"], "fake-sts-refresh-token-1");
    let (status, body) = Post::refresh("rt-0").send(&sts).await;
    assert_eq!((status, error(&body).0), (400, "invalid_grant"));
    // A failure rotates nothing; a scripted rotation names the next one.
    sts.push_replies([
        StsReply::oauth_error(503, "temporarily_unavailable", None),
        StsReply::rotation("at", "scripted-rt"),
    ]);
    let (status, _) = Post::refresh("fake-sts-refresh-token-1").send(&sts).await;
    assert_eq!(status, 503);
    assert_eq!(
        sts.valid_refresh_token().as_deref(),
        Some("fake-sts-refresh-token-1")
    );
    let (_, body) = Post::refresh("fake-sts-refresh-token-1").send(&sts).await;
    assert_eq!(body["refresh_token"], "scripted-rt");
    let (_, body) = Post::refresh("scripted-rt").send(&sts).await;
    assert_eq!(body["refresh_token"], "fake-sts-refresh-token-2");
    // The exchange is not the refresh grant: it rotates nothing.
    let (_, body) = Post::exchange().send(&sts).await;
    assert!(body.get("refresh_token").is_none());
    assert_eq!(
        sts.valid_refresh_token().as_deref(),
        Some("fake-sts-refresh-token-2")
    );
}

#[tokio::test]
async fn of_two_refreshes_with_one_token_only_the_first_wins() {
    let sts = FakeStsServer::builder()
        .with_strict_rotation("rt-0")
        .start()
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        Post::refresh("rt-0").send(&sts),
        Post::refresh("rt-0").send(&sts)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400]);
}

#[test]
fn debug_shows_no_secret() {
    let reply = StsReply::rotation("at-secret", "rt-secret");
    let shown = format!("{reply:?}");
    assert!(!shown.contains("secret"), "{shown}");
    let builder = FakeStsServer::builder()
        .with_subject_token("st-secret")
        .with_client("id", "cs-secret")
        .with_strict_rotation("rt-secret");
    let shown = format!("{builder:?}");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(shown.contains("\"id\""), "{shown}");
}

#[test]
fn options_are_percent_decoded_once_more() {
    assert_eq!(
        request::decode_options("%7B%22a%22%3A%20%221+2%22%7D"),
        Some(json!({"a": "1+2"}))
    );
    assert_eq!(request::decode_options("{\"a\": 1}"), Some(json!({"a": 1})));
    assert_eq!(request::decode_options("%7B"), None);
}
