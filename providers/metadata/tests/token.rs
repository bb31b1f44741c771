//! Access tokens from a loopback metadata server: the request, the token, errors, and the
//! caching layer over the source (retries, a server that refuses while it starts, a failure
//! that is never cached as permanent).
// Helpers outside the #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]
// The measured time of the real-time acceptance test is shown in the test output.
#![allow(clippy::print_stdout)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use credkit_core::{Clock, Credentials, ErrorKind, TokenSource};
use credkit_metadata::{MetadataCredentials, metadata_retry_policy};
use credkit_testing::{FakeClock, FakeMetadataServer};
use secrecy::ExposeSecret;
use support::{RefusingUntil, credentials_on, transport, until};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::test]
async fn a_token_without_scopes() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    let clock = FakeClock::new();
    let source = credentials_on(&fake, clock.clone());
    let token = source.fetch_token().await?;
    assert_eq!(token.secret().expose_secret(), fake.access_token(&[]));
    assert_eq!(
        token.expiry(),
        Some(clock.now() + Duration::from_secs(3599))
    );
    assert_eq!(token.token_type(), "Bearer");
    assert_eq!(token.quota_project(), None);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method(), "GET");
    assert_eq!(
        requests[0].path(),
        "/computeMetadata/v1/instance/service-accounts/default/token"
    );
    assert_eq!(requests[0].query(), None);
    assert_eq!(requests[0].header("metadata-flavor"), Some("Google"));
    Ok(())
}

#[tokio::test]
async fn a_token_with_scopes_account_and_quota_project() -> TestResult {
    let scopes = [
        "https://www.googleapis.com/auth/cloud-platform",
        "https://www.googleapis.com/auth/userinfo.email",
    ];
    let fake = FakeMetadataServer::builder()
        .with_access_token(&scopes, "token-for-the-scopes")
        .start()
        .await?;
    let source = MetadataCredentials::builder()
        .with_env(fake.env())
        .with_transport(transport())
        .with_clock(FakeClock::new())
        .with_scopes(scopes)
        .with_service_account(fake.email())
        .with_quota_project("billing-project")
        .build()?;
    assert_eq!(source.scopes(), scopes);
    assert_eq!(source.service_account(), fake.email());
    assert_eq!(source.quota_project(), Some("billing-project"));
    let token = source.fetch_token().await?;
    assert_eq!(token.secret().expose_secret(), "token-for-the-scopes");
    assert_eq!(token.quota_project(), Some("billing-project"));
    let request = &fake.requests()[0];
    assert_eq!(
        request.path(),
        format!(
            "/computeMetadata/v1/instance/service-accounts/{}/token",
            fake.email()
        )
    );
    // Encoded as the reference's urlencode: `:`, `/` and `,` escaped.
    assert_eq!(
        request.query(),
        Some(
            "scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform%2Chttps%3A%2F%2Fwww.googleapis.com%2Fauth%2Fuserinfo.email"
        )
    );
    Ok(())
}

#[tokio::test]
async fn the_lifetime_counts_from_before_the_request() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    let clock = FakeClock::new();
    let source = credentials_on(&fake, clock.clone());
    let start = clock.now();
    let fetch = tokio::spawn(async move { source.fetch_token().await });
    until(|| fake.request_count() == 1).await;
    clock.advance(Duration::from_secs(5)); // the answer arrives "later"
    let token = fetch.await??;
    assert_eq!(token.expiry(), Some(start + Duration::from_secs(3599)));
    Ok(())
}

#[tokio::test]
async fn error_statuses_are_typed_and_classified() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    let clock = FakeClock::new();
    let source = credentials_on(&fake, clock.clone());
    fake.fail_next(1, 503);
    let err = source.fetch_token().await.unwrap_err();
    assert!(err.is_transient());
    assert_eq!(err.http_status(), Some(503));
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert!(
        err.to_string().starts_with(
            "Failed to retrieve instance/service-accounts/default/token from the Google Compute Engine metadata service. Status: 503"
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .ends_with("Response: fake metadata server failure"),
        "{err}"
    );

    // An account the instance does not have: permanent.
    let other = MetadataCredentials::builder()
        .with_env(fake.env())
        .with_transport(transport())
        .with_clock(clock)
        .with_service_account("nobody@example.iam.gserviceaccount.com")
        .build()?;
    let err = other.fetch_token().await.unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(err.http_status(), Some(404));
    assert!(err.to_string().contains("does not exist"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_request_that_hangs_times_out_on_the_clock() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    fake.set_hang(true);
    let clock = FakeClock::new();
    let source = MetadataCredentials::builder()
        .with_env(fake.env())
        .with_transport(transport())
        .with_clock(clock.clone())
        .with_request_timeout(Duration::from_secs(4))
        .build()?;
    let fetch = tokio::spawn(async move { source.fetch_token().await });
    until(|| fake.request_count() == 1 && clock.pending_timeouts() == 1).await;
    clock.advance(Duration::from_secs(4));
    let err = fetch.await?.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_transient());
    Ok(())
}

#[tokio::test]
async fn the_source_names_its_clock_and_its_retry_policy() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    let clock = FakeClock::new();
    let source = credentials_on(&fake, clock.clone());
    let named = source.clock().unwrap();
    clock.advance(Duration::from_secs(7));
    assert_eq!(named.now(), clock.now());
    let policy = source.retry_policy().unwrap();
    assert_eq!(policy, metadata_retry_policy());
    assert_eq!(policy.max_attempts(), 7);
    assert_eq!(policy.max_wait(), Duration::from_millis(500));
    let total: Duration = (1..policy.max_attempts())
        .map(|n| policy.nominal_wait(n))
        .sum();
    assert_eq!(total, Duration::from_millis(2600));
    assert_eq!(source.name(), "metadata server");
    Ok(())
}

#[tokio::test]
async fn debug_never_shows_a_token() -> TestResult {
    let fake = FakeMetadataServer::builder()
        .with_access_token(&[], "ya29.metadata-secret-token")
        .start()
        .await?;
    let source = credentials_on(&fake, FakeClock::new());
    let token = source.fetch_token().await?;
    for shown in [format!("{token:?}"), format!("{source:?}")] {
        assert!(!shown.contains("metadata-secret-token"), "{shown}");
    }
    Ok(())
}

#[tokio::test]
async fn a_server_that_refuses_for_two_seconds_gives_its_first_token_in_under_three() -> TestResult
{
    // On the FakeClock: the transport refuses until 2 s have passed on it.
    let fake = FakeMetadataServer::start().await?;
    let clock = FakeClock::new().with_auto_advance(true);
    let refusing = RefusingUntil::new(&clock, Duration::from_secs(2), transport());
    let source = MetadataCredentials::builder()
        .with_env(fake.env())
        .with_transport(refusing.clone())
        .with_clock(clock.clone())
        .build()?;
    let credentials = Credentials::new(source);
    let start = clock.now();
    let token = credentials.access_token().await?;
    let spent = Duration::try_from(clock.now() - start)?;
    assert_eq!(token.secret().expose_secret(), fake.access_token(&[]));
    assert!(
        spent >= Duration::from_secs(2) && spent < Duration::from_secs(3),
        "{spent:?}"
    );
    assert!(refusing.refused() >= 5, "{}", refusing.refused());
    assert_eq!(fake.request_count(), 1);
    Ok(())
}

#[tokio::test]
async fn a_real_server_that_listens_after_two_seconds_gives_its_first_token_in_under_three()
-> TestResult {
    // Real time, the acceptance measure: the fake binds its port 2 s after starting.
    let fake = FakeMetadataServer::builder()
        .refusing_for(Duration::from_secs(2))
        .start()
        .await?;
    let start = std::time::Instant::now();
    let credentials = Credentials::new(credentials_on(&fake, credkit_core::SystemClock));
    let headers = credentials.headers().await?;
    let spent = start.elapsed();
    assert!(spent < Duration::from_secs(3), "{spent:?}");
    assert!(spent >= Duration::from_millis(1900), "{spent:?}");
    assert_eq!(
        headers.get("authorization").unwrap(),
        &format!("Bearer {}", fake.access_token(&[]))
    );
    println!("first token after {spent:?}");
    Ok(())
}

#[tokio::test]
async fn a_failed_refresh_stays_transient_and_a_later_success_is_served() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    let clock = FakeClock::new().with_auto_advance(true);
    let credentials = Credentials::new(credentials_on(&fake, clock.clone()));
    // Every attempt of the first refresh fails: 7 × 503.
    fake.fail_next(7, 503);
    let err = credentials.access_token().await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(fake.request_count(), 7);
    // Connection refused too: still transient, never a permanent failure.
    fake.refuse_connections().await;
    clock.advance(Duration::from_secs(60));
    let err = credentials.access_token().await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    // The server is back: once the minimum retry interval has passed, the next caller gets a token.
    fake.accept_connections().await?;
    clock.advance(Duration::from_secs(60));
    let token = credentials.access_token().await?;
    assert_eq!(token.secret().expose_secret(), fake.access_token(&[]));
    Ok(())
}

#[tokio::test]
async fn the_quota_project_reaches_the_headers() -> TestResult {
    let fake = FakeMetadataServer::start().await?;
    let source = MetadataCredentials::builder()
        .with_env(fake.env())
        .with_transport(transport())
        .with_clock(FakeClock::new())
        .with_quota_project("billing")
        .build()?;
    let headers = Credentials::new(source).headers().await?;
    assert_eq!(headers.get("x-goog-user-project").unwrap(), "billing");
    Ok(())
}

#[tokio::test]
async fn values_email_project_and_universe() -> TestResult {
    let fake = FakeMetadataServer::builder()
        .with_instance_scopes(["scope-a", "scope-b"])
        .start()
        .await?;
    let server = support::server_on(&fake, FakeClock::new());
    assert_eq!(server.email("default").await?, fake.email());
    let info = server.service_account("default").await?;
    assert_eq!(info.scopes(), ["scope-a", "scope-b"]);
    assert_eq!(info.aliases(), ["default"]);
    assert_eq!(server.project_id().await?, fake.project_id());
    assert_eq!(server.universe_domain().await?, "googleapis.com");
    assert_eq!(
        server
            .get("/instance/service-accounts/default/email")
            .await?,
        fake.email()
    );
    let requests = fake.requests();
    assert_eq!(
        requests[0].path(),
        "/computeMetadata/v1/instance/service-accounts/default/"
    );
    assert_eq!(requests[0].query(), Some("recursive=true"));
    assert_eq!(requests[2].path(), "/computeMetadata/v1/project/project-id");
    assert_eq!(
        requests[3].path(),
        "/computeMetadata/v1/universe/universe-domain"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.header("metadata-flavor") == Some("Google"))
    );

    let err = server.get("instance/nothing-here").await.unwrap_err();
    assert_eq!(err.http_status(), Some(404));
    assert!(!err.is_transient());
    let err = server.get("a b").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    let err = server.email("nobody").await.unwrap_err();
    assert_eq!(err.http_status(), Some(404));
    Ok(())
}

#[tokio::test]
async fn a_missing_universe_domain_is_googleapis_com() -> TestResult {
    let fake = FakeMetadataServer::builder()
        .with_universe_domain(None)
        .start()
        .await?;
    let server = support::server_on(&fake, FakeClock::new());
    assert_eq!(server.universe_domain().await?, "googleapis.com");
    let fake = FakeMetadataServer::builder()
        .with_universe_domain(Some("my-universe.example"))
        .start()
        .await?;
    let server = support::server_on(&fake, FakeClock::new());
    assert_eq!(server.universe_domain().await?, "my-universe.example");
    let fake = FakeMetadataServer::builder()
        .with_universe_domain(Some(""))
        .start()
        .await?;
    let server = support::server_on(&fake, FakeClock::new());
    assert_eq!(server.universe_domain().await?, "googleapis.com");
    fake.fail_next(1, 500);
    assert_eq!(
        server.universe_domain().await.unwrap_err().http_status(),
        Some(500)
    );
    Ok(())
}

#[test]
fn building_checks_hosts_accounts_scopes_and_the_transport() {
    let build = |host: &'static str| {
        MetadataCredentials::builder()
            .with_env(move |name| (name == "GCE_METADATA_HOST").then(|| host.to_owned()))
            .with_transport(transport())
            .build()
    };
    assert!(build("127.0.0.1:8080").is_ok());
    assert!(build("metadata.internal.example").is_ok());
    for bad in ["http://x", "x/y", "u@x", "x:port"] {
        assert!(
            build(bad).is_err_and(|e| e.is_invalid_value()),
            "{bad}: {:?}",
            build(bad).map(|s| s.server().host().to_owned())
        );
    }
    let err = MetadataCredentials::builder().build().unwrap_err();
    assert!(err.is_missing_field());
    for account in ["a/b", "a b", "..", "a?b", "a,b"] {
        let err = MetadataCredentials::builder()
            .with_transport(transport())
            .with_service_account(account)
            .build()
            .unwrap_err();
        assert!(err.is_invalid_value(), "{account}");
    }
    let err = MetadataCredentials::builder()
        .with_transport(transport())
        .with_scopes(["a,b"])
        .build()
        .unwrap_err();
    assert!(err.is_invalid_value());
    let source = MetadataCredentials::builder()
        .with_transport(transport())
        .with_env(|_| None)
        .with_service_account("")
        .with_quota_project("")
        .build()
        .unwrap();
    assert_eq!(source.service_account(), "default");
    assert_eq!(source.quota_project(), None);
    assert_eq!(source.server().host(), "metadata.google.internal");
    assert_eq!(source.server().probe_host(), "169.254.169.254");
}

#[test]
fn a_shared_server_is_used_as_given() {
    let server = credkit_metadata::MetadataServer::builder()
        .with_host("127.0.0.1:1")
        .with_transport(transport())
        .build()
        .unwrap();
    let source = MetadataCredentials::builder()
        .with_server(server.clone())
        .with_host("ignored.example")
        .build()
        .unwrap();
    assert_eq!(source.server().host(), "127.0.0.1:1");
    let _: Arc<dyn TokenSource> = Arc::new(source);
}
