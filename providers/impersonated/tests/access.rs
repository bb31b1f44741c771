//! Access tokens through `generateAccessToken` against the fake IAM server: the wire, chains,
//! quota projects, 401 replay, errors, hangs and domain-wide delegation.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::Duration;

use credkit_core::{Clock, Credentials, ErrorKind, TokenSource};
use credkit_impersonated::{ImpersonatedCredentials, ImpersonatedCredentialsBuilder};
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FAKE_IAM_DWD_TOKEN, FakeClock, FakeIamServer};
use secrecy::ExposeSecret;
use serde_json::json;
use support::{HOUR, SOURCE_TOKEN, TARGET, builder, iam, source};

#[tokio::test]
async fn sends_what_the_reference_sends_and_reads_the_expiry() {
    let clock = FakeClock::new();
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let target = builder(source, &iam, &clock)
        .with_delegates([
            "projects/-/serviceAccounts/a@p",
            "projects/-/serviceAccounts/b@p",
        ])
        .with_scopes(["s1", "s2"])
        .with_lifetime(Duration::from_secs(500))
        .build()
        .unwrap();
    assert_eq!(
        target.delegates(),
        [
            "projects/-/serviceAccounts/a@p",
            "projects/-/serviceAccounts/b@p"
        ]
    );
    assert_eq!(target.lifetime(), Duration::from_secs(500));
    let token = target.fetch_token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), iam.access_token_for(TARGET));
    assert_eq!(
        token.expiry().unwrap(),
        clock.now() + Duration::from_secs(500)
    );
    let requests = iam.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method(), "POST");
    assert_eq!(
        request.path(),
        format!("/v1/projects/-/serviceAccounts/{TARGET}:generateAccessToken")
    );
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {SOURCE_TOKEN}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-goog-user-project"), None);
    assert_eq!(
        request.json().unwrap(),
        json!({
            "delegates": ["projects/-/serviceAccounts/a@p", "projects/-/serviceAccounts/b@p"],
            "scope": ["s1", "s2"],
            "lifetime": "500s",
        })
    );
}

#[tokio::test]
async fn defaults_are_cloud_platform_an_hour_and_no_delegates() {
    let clock = FakeClock::new();
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let target = builder(source, &iam, &clock)
        .with_lifetime(Duration::ZERO)
        .with_scopes(Vec::<String>::new())
        .with_delegates(Vec::<String>::new())
        .build()
        .unwrap();
    assert_eq!(target.lifetime(), HOUR);
    assert!(target.delegates().is_empty());
    let token = target.fetch_token().await.unwrap();
    assert_eq!(token.expiry().unwrap(), clock.now() + HOUR);
    assert_eq!(
        iam.requests()[0].json().unwrap(),
        json!({
            "delegates": null,
            "scope": ["https://www.googleapis.com/auth/cloud-platform"],
            "lifetime": "3600s",
        })
    );
    assert_eq!(
        target.scopes(),
        ["https://www.googleapis.com/auth/cloud-platform"]
    );
}

#[tokio::test]
async fn the_source_quota_project_goes_to_iam_and_the_target_one_downstream() {
    let clock = FakeClock::new();
    let iam = iam(&clock).await;
    let (_, scripted) = source(&clock, &[SOURCE_TOKEN]);
    let source = Credentials::builder(scripted)
        .with_clock(std::sync::Arc::new(clock.clone()))
        .with_quota_project("source-project")
        .build()
        .unwrap();
    let target = builder(source, &iam, &clock)
        .with_quota_project("target-project")
        .build()
        .unwrap();
    assert_eq!(target.quota_project(), Some("target-project"));
    let credentials = Credentials::new(target);
    let headers = credentials.headers().await.unwrap();
    assert_eq!(headers["x-goog-user-project"], "target-project");
    assert_eq!(
        headers["authorization"],
        format!("Bearer {}", iam.access_token_for(TARGET))
    );
    assert_eq!(
        iam.requests()[0].header("x-goog-user-project"),
        Some("source-project")
    );
}

#[tokio::test]
async fn chains_impersonate_with_the_previous_link_token() {
    let clock = FakeClock::new();
    let first = "first@project.iam.gserviceaccount.com";
    let iam = FakeIamServer::builder()
        .with_clock(clock.clone())
        .with_accepted_bearer(SOURCE_TOKEN)
        .with_accepted_bearer(format!("fake-iam-access-token-{first}"))
        .start()
        .await
        .unwrap();
    let (source, scripted) = source(&clock, &[SOURCE_TOKEN]);
    let link = ImpersonatedCredentials::builder(source, first)
        .with_iam_base_url(iam.url())
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let target = ImpersonatedCredentials::builder_from_source(link, TARGET)
        .with_iam_base_url(iam.url())
        .with_transport(ReqwestTransport::new().unwrap())
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let credentials = Credentials::new(target);
    let token = credentials.access_token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), iam.access_token_for(TARGET));
    // A second use is served from the caches: no more IAM calls, no more source fetches.
    credentials.headers().await.unwrap();
    let requests = iam.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].principal(), Some(first));
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {SOURCE_TOKEN}").as_str())
    );
    assert_eq!(requests[1].principal(), Some(TARGET));
    assert_eq!(
        requests[1].header("authorization"),
        Some(format!("Bearer fake-iam-access-token-{first}").as_str())
    );
    assert_eq!(scripted.fetches(), 1);
}

#[tokio::test]
async fn a_401_refreshes_the_source_once_and_replays_once() {
    let clock = FakeClock::new();
    let iam = FakeIamServer::builder()
        .with_clock(clock.clone())
        .with_accepted_bearer("ya29.fresh-source-token")
        .start()
        .await
        .unwrap();
    let (source, scripted) = source(
        &clock,
        &["ya29.revoked-source-token", "ya29.fresh-source-token"],
    );
    let target = builder(source, &iam, &clock).build().unwrap();
    let token = target.fetch_token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), iam.access_token_for(TARGET));
    assert_eq!(scripted.fetches(), 2);
    let requests = iam.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer ya29.revoked-source-token")
    );
    assert_eq!(
        requests[1].header("authorization"),
        Some("Bearer ya29.fresh-source-token")
    );
    assert_eq!(requests[0].body(), requests[1].body());
}

#[tokio::test]
async fn a_persistent_401_is_an_error_after_one_replay() {
    let clock = FakeClock::new();
    let iam = FakeIamServer::builder()
        .with_clock(clock.clone())
        .with_accepted_bearer("nobody")
        .start()
        .await
        .unwrap();
    let (source, scripted) = source(&clock, &["ya29.one-source-token", "ya29.two-source-token"]);
    let target = builder(source, &iam, &clock).build().unwrap();
    let err = target.fetch_token().await.unwrap_err();
    assert_eq!(err.http_status(), Some(401));
    assert_eq!(err.oauth_error(), Some("UNAUTHENTICATED"));
    assert!(
        err.to_string()
            .starts_with("Unable to acquire impersonated credentials: UNAUTHENTICATED: "),
        "{err}"
    );
    assert_eq!(iam.request_count(), 2);
    assert_eq!(scripted.fetches(), 2);
}

#[tokio::test]
async fn errors_are_typed_and_never_show_the_source_token() {
    let clock = FakeClock::new();
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let target = builder(source, &iam, &clock).build().unwrap();
    iam.push_reply(
        403,
        "application/json",
        json!({"error": {
            "code": 403,
            "message": format!("Permission 'iam.serviceAccounts.getAccessToken' denied for token {SOURCE_TOKEN}"),
            "status": "PERMISSION_DENIED",
        }})
        .to_string(),
    );
    let err = target.fetch_token().await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(SOURCE_TOKEN), "{shown}");
    assert_eq!(
        err.to_string(),
        "Unable to acquire impersonated credentials: PERMISSION_DENIED: Permission \
         'iam.serviceAccounts.getAccessToken' denied for token [REDACTED]"
    );
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
    assert_eq!(err.http_status(), Some(403));
    assert!(!err.is_transient());

    iam.push_reply_with_retry_after(
        503,
        "text/html",
        format!("<html>{SOURCE_TOKEN}</html>"),
        "12",
    );
    let err = target.fetch_token().await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains(SOURCE_TOKEN));
    assert!(err.is_transient());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
    assert_eq!(err.http_status(), Some(503));

    iam.push_reply(200, "application/json", r#"{"accessToken":"x"}"#);
    let err = target.fetch_token().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to acquire impersonated credentials: No access token or invalid expiration in response."
    );
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
}

#[tokio::test]
async fn a_transient_iam_failure_is_retried_by_the_caching_layer() {
    let clock = FakeClock::new().with_auto_advance(true);
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let target = builder(source, &iam, &clock).build().unwrap();
    iam.fail_next(2, 503);
    let credentials = Credentials::new(target);
    let token = credentials.access_token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), iam.access_token_for(TARGET));
    assert_eq!(iam.request_count(), 3);
}

#[tokio::test]
async fn a_hung_iam_call_can_be_dropped_and_the_next_one_succeeds() {
    let clock = FakeClock::new();
    let iam = iam(&clock).await;
    let (source, scripted) = source(&clock, &[SOURCE_TOKEN]);
    let target = builder(source, &iam, &clock).build().unwrap();
    iam.hang_next();
    let hung = tokio::spawn({
        let target = target.clone();
        async move { target.fetch_token().await }
    });
    support::wait_for_requests(&iam, 1).await;
    assert!(!hung.is_finished(), "a hung IAM call must not complete");
    hung.abort();
    assert!(hung.await.unwrap_err().is_cancelled());
    assert_eq!(iam.request_count(), 1);
    let token = target.fetch_token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), iam.access_token_for(TARGET));
    // The cancelled call left the source's cached token in place.
    assert_eq!(scripted.fetches(), 1);
}

#[tokio::test]
async fn the_flight_deadline_ends_a_hung_iam_call_with_a_transient_timeout() {
    let clock = FakeClock::new();
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let target = builder(source, &iam, &clock).build().unwrap();
    iam.set_hang(true);
    let credentials = Credentials::builder(target)
        .without_retries()
        .with_clock(std::sync::Arc::new(clock.clone()))
        .with_flight_deadline(Duration::from_secs(10))
        .build()
        .unwrap();
    let waiting = tokio::spawn({
        let credentials = credentials.clone();
        async move { credentials.access_token().await }
    });
    support::wait_for_requests(&iam, 1).await;
    clock.advance(Duration::from_secs(11));
    let err = waiting.await.unwrap().unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn the_universe_domain_and_the_override_choose_the_url() {
    let clock = FakeClock::new();
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let plain = |universe: Option<&str>| {
        let mut b = ImpersonatedCredentials::builder(source.clone(), TARGET)
            .with_transport(ReqwestTransport::new().unwrap());
        if let Some(universe) = universe {
            b = b.with_universe_domain(universe);
        }
        b.build().unwrap()
    };
    assert_eq!(
        plain(None).access_token_url(),
        format!(
            "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{TARGET}:generateAccessToken"
        )
    );
    let other = plain(Some("example.goog"));
    assert_eq!(
        other.access_token_url(),
        format!(
            "https://iamcredentials.example.goog/v1/projects/-/serviceAccounts/{TARGET}:generateAccessToken"
        )
    );
    assert_eq!(other.universe_domain(), "example.goog");
    assert_eq!(
        other.signer().sign_url(),
        format!(
            "https://iamcredentials.example.goog/v1/projects/-/serviceAccounts/{TARGET}:signBlob"
        )
    );

    // The reference's override is the full URL of generateAccessToken alone.
    let iam = iam(&clock).await;
    let target = builder(source.clone(), &iam, &clock)
        .with_iam_base_url("https://unused.example")
        .with_iam_endpoint_override(format!(
            "{}/v1/projects/-/serviceAccounts/elsewhere@p:generateAccessToken",
            iam.url()
        ))
        .build()
        .unwrap();
    let token = target.fetch_token().await.unwrap();
    assert_eq!(
        token.secret().expose_secret(),
        iam.access_token_for("elsewhere@p")
    );
    assert_eq!(
        target.signer().sign_url(),
        format!("https://unused.example/v1/projects/-/serviceAccounts/{TARGET}:signBlob")
    );
}

#[tokio::test]
async fn domain_wide_delegation_signs_a_jwt_then_grants() {
    let clock = FakeClock::new();
    let iam = iam(&clock).await;
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let target = builder(source, &iam, &clock)
        .with_scopes(["https://www.googleapis.com/auth/admin.directory.user"])
        .with_delegates(["projects/-/serviceAccounts/d@p"])
        .with_subject("user@example.com")
        .with_token_url(format!("{}/token", iam.url()))
        .build()
        .unwrap();
    assert_eq!(target.subject(), Some("user@example.com"));
    let token = target.fetch_token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), FAKE_IAM_DWD_TOKEN);
    let requests = iam.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].rpc(), Some("signJwt"));
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("Bearer {SOURCE_TOKEN}").as_str())
    );
    let body = requests[0].json().unwrap();
    assert_eq!(body["delegates"], json!(["projects/-/serviceAccounts/d@p"]));
    let claims: serde_json::Value =
        serde_json::from_str(body["payload"].as_str().unwrap()).unwrap();
    let now = clock.now().unix_timestamp();
    assert_eq!(
        claims,
        json!({
            "iss": TARGET,
            "scope": "https://www.googleapis.com/auth/admin.directory.user",
            "sub": "user@example.com",
            "aud": format!("{}/token", iam.url()),
            "iat": now,
            "exp": now + 3600,
        })
    );
    assert_eq!(requests[1].path(), "/token");
    assert_eq!(requests[1].header("authorization"), None);
    let form = requests[1].form();
    assert_eq!(
        form[0],
        (
            "grant_type".into(),
            "urn:ietf:params:oauth:grant-type:jwt-bearer".into()
        )
    );
    assert_eq!(form[1].0, "assertion");
    assert_eq!(form[1].1.split('.').count(), 3);

    iam.push_reply(200, "application/json", "{}");
    let err = target.fetch_token().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to acquire impersonated credentials: No signed JWT in response."
    );
}

#[test]
fn builders_refuse_what_cannot_work() {
    let clock = FakeClock::new();
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let with_transport =
        |b: ImpersonatedCredentialsBuilder| b.with_transport(ReqwestTransport::new().unwrap());
    let message = |b: ImpersonatedCredentialsBuilder| b.build().unwrap_err().to_string();
    assert!(
        message(ImpersonatedCredentials::builder(source.clone(), TARGET)).contains("transport")
    );
    assert!(
        message(with_transport(ImpersonatedCredentials::builder(
            source.clone(),
            "a/b"
        )))
        .contains("target principal")
    );
    assert_eq!(
        message(with_transport(
            ImpersonatedCredentials::builder(source.clone(), TARGET)
                .with_subject("u@x")
                .with_universe_domain("example.goog")
        )),
        "Domain-wide delegation is not supported in universes other than googleapis.com"
    );
    assert!(
        message(with_transport(
            ImpersonatedCredentials::builder(source.clone(), TARGET).with_universe_domain("a/b")
        ))
        .contains("universe domain")
    );
    for (builder, what) in [
        (
            ImpersonatedCredentials::builder(source.clone(), TARGET).with_iam_base_url("nope"),
            "IAM base URL",
        ),
        (
            ImpersonatedCredentials::builder(source.clone(), TARGET)
                .with_iam_endpoint_override("x?y"),
            "IAM endpoint override",
        ),
        (
            ImpersonatedCredentials::builder(source.clone(), TARGET).with_token_url("/token"),
            "token URL",
        ),
    ] {
        assert!(message(with_transport(builder)).contains(what), "{what}");
    }
}

#[test]
fn debug_shows_settings_and_never_a_secret() {
    let clock = FakeClock::new();
    let (source, _) = source(&clock, &[SOURCE_TOKEN]);
    let builder = ImpersonatedCredentials::builder(source, TARGET)
        .with_delegates(["d@p"])
        .with_quota_project("qp")
        .with_transport(ReqwestTransport::new().unwrap());
    let shown = format!("{builder:?}");
    assert!(
        shown.contains(TARGET) && shown.contains("d@p") && shown.contains("qp"),
        "{shown}"
    );
    let target = builder.build().unwrap();
    let shown = format!("{target:?}");
    assert!(shown.contains(TARGET) && shown.contains("d@p"), "{shown}");
    assert!(!shown.contains(SOURCE_TOKEN));
    assert_eq!(target.name(), "impersonated service account");
    assert_eq!(target.target_principal(), TARGET);
    assert_eq!(target.subject(), None);
    assert!(target.clock().is_some());
    assert_eq!(target.source().source_name(), "scripted source");
}
