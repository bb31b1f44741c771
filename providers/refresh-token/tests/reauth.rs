//! Reauthentication end to end: `Credentials` over `UserCredentials`, the loopback token server
//! and the fake reauth API; and the rule that a refresh nobody waits for never starts it.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use credkit_core::Credentials;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use credkit_core::http::HeaderMap;
use credkit_core::interactive::interactive;
use credkit_core::{
    AccessToken, Clock, ErrorKind, MemoryStorage, RefreshEvent, Storage, TokenSource,
};
use credkit_refresh_token::{REAUTH_SCOPE, UserCredentials, UserCredentialsBuilder, prompt_fn};
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{
    FakeChallenge, FakeClock, FakeReauthServer, FakeTokenEndpoint, FakeTokenServer, ReauthReply,
    Reply,
};
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

const NEEDED: &str = "Reauthentication is needed. Please run `gcloud auth application-default login` to reauthenticate.";

fn invalid_rapt() -> Reply {
    Reply::json(
        400,
        json!({"error": "invalid_grant", "error_description": "reauth related error", "error_subtype": "invalid_rapt"}),
    )
}

fn user(token_url: &str) -> UserCredentialsBuilder {
    UserCredentials::builder()
        .with_refresh_token("1//refresh")
        .with_client_id("123")
        .with_client_secret("s3cret")
        .with_token_uri(token_url)
        .with_scopes(["email", "profile"])
        .with_rapt_token("old_rapt")
}

fn password_prompt(
    asked: &Arc<Mutex<usize>>,
) -> impl credkit_refresh_token::PasswordPrompt + use<> {
    let asked = Arc::clone(asked);
    prompt_fn(move |_prompt| {
        *asked.lock().unwrap() += 1;
        async { Ok(SecretString::from("hunter2")) }
    })
}

/// A token server that refuses the first grant with `invalid_rapt`, then answers the
/// reauth-scoped grant, the retried grant and one more; and a reauth API that asks for the
/// password once and grants `new_rapt_token`.
async fn password_reauth() -> (FakeTokenServer, FakeReauthServer) {
    let tokens = FakeTokenServer::start().await.unwrap();
    let reauth = FakeReauthServer::start().await.unwrap();
    tokens.push_replies([
        invalid_rapt(),
        Reply::token("ya29.reauth-scoped"),
        Reply::token("ya29.after-reauth"),
        Reply::token("ya29.later"),
    ]);
    reauth.push_replies([
        ReauthReply::challenge_required("123", [FakeChallenge::password(1)]),
        ReauthReply::authenticated("new_rapt_token"),
    ]);
    (tokens, reauth)
}

/// Credentials on those servers that may reauthenticate, counting the prompts in `asked`.
fn reauthing(
    tokens: &FakeTokenServer,
    reauth: &FakeReauthServer,
    asked: &Arc<Mutex<usize>>,
) -> UserCredentials {
    user(&tokens.token_url())
        .with_transport(ReqwestTransport::builder().build().unwrap())
        .with_enable_reauth_refresh(true)
        .with_reauth_uri(reauth.url())
        .with_password_prompt(password_prompt(asked))
        .build()
        .unwrap()
}

/// A forced refresh sends `new_rapt_token`, and nobody was asked again.
async fn refresh_sends_the_new_rapt_without_asking(
    credentials: &Credentials,
    tokens: &FakeTokenServer,
    reauth: &FakeReauthServer,
    asked: &Arc<Mutex<usize>>,
) {
    credentials.refresh().await.unwrap();
    assert_eq!(
        tokens.last_request().unwrap().form_value("rapt"),
        Some("new_rapt_token")
    );
    assert_eq!(reauth.request_count(), 2);
    assert_eq!(*asked.lock().unwrap(), 1);
}

#[tokio::test]
async fn invalid_rapt_reauth_with_a_password_through_credentials() {
    let (tokens, reauth) = password_reauth().await;
    let asked = Arc::new(Mutex::new(0));
    let creds = reauthing(&tokens, &reauth, &asked);
    let credentials = Credentials::builder(creds.clone()).build().unwrap();

    let headers = interactive(credentials.headers()).await.unwrap();
    assert_eq!(headers["authorization"], "Bearer ya29.after-reauth");
    assert_eq!(*asked.lock().unwrap(), 1);

    // The token endpoint: the refused grant, the reauth-scoped grant, the retried grant.
    let seen = tokens.requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].form_value("rapt"), Some("old_rapt"));
    assert_eq!(seen[1].form_value("scope"), Some(REAUTH_SCOPE));
    assert_eq!(seen[1].form_value("rapt"), None);
    assert_eq!(
        seen[2].form_keys(),
        [
            "grant_type",
            "client_id",
            "client_secret",
            "refresh_token",
            "scope",
            "rapt"
        ]
    );
    assert_eq!(seen[2].form_value("scope"), Some("email profile"));
    assert_eq!(seen[2].form_value("rapt"), Some("new_rapt_token"));

    // The reauth API: start with the scopes, then the password, with the reauth token.
    assert_eq!(
        reauth.paths(),
        ["/v2/sessions:start", "/v2/sessions/123:continue"]
    );
    for request in reauth.requests() {
        assert_eq!(
            request.header("authorization"),
            Some("Bearer ya29.reauth-scoped")
        );
    }
    let bodies = reauth.json_bodies();
    assert_eq!(
        bodies[0],
        json!({"supportedChallengeTypes": ["SECURITY_KEY", "PASSWORD", "SAML"], "oauthScopesForDomainPolicyLookup": ["email", "profile"]})
    );
    assert_eq!(
        bodies[1]["proposalResponse"],
        json!({"credential": "hunter2"})
    );

    // The new rapt token is kept: in the credentials, their JSON and their record.
    assert_eq!(
        creds.rapt_token().unwrap().expose_secret(),
        "new_rapt_token"
    );
    let written: serde_json::Value = serde_json::from_str(&creds.to_json(&[])).unwrap();
    assert_eq!(written["rapt_token"], "new_rapt_token");
    let record = creds.to_record();
    assert_eq!(
        record
            .provider_secret("rapt_token")
            .map(ExposeSecret::expose_secret),
        Some("new_rapt_token")
    );
    assert!(!record.provider_fields().contains_key("rapt_token"));
    assert!(!format!("{record:?} {creds:?}").contains("new_rapt_token"));
    let restored = user(&tokens.token_url())
        .build()
        .unwrap()
        .with_record(&record);
    assert_eq!(
        restored.rapt_token().unwrap().expose_secret(),
        "new_rapt_token"
    );

    // A later refresh sends it, without asking again.
    refresh_sends_the_new_rapt_without_asking(&credentials, &tokens, &reauth, &asked).await;
}

#[tokio::test]
async fn a_rapt_token_reaches_shared_storage_and_the_next_process_sends_it() {
    let (tokens, reauth) = password_reauth().await;
    let storage = MemoryStorage::new();
    let asked = Arc::new(Mutex::new(0));
    let first = Credentials::builder(reauthing(&tokens, &reauth, &asked))
        .with_storage(storage.clone(), "me")
        .build()
        .unwrap();
    interactive(first.headers()).await.unwrap();
    let record = storage.load("me").await.unwrap().unwrap();
    assert_eq!(
        record
            .provider_secret("rapt_token")
            .map(ExposeSecret::expose_secret),
        Some("new_rapt_token")
    );

    // Another process, configured with the old rapt token and no way to ask: it adopts the
    // stored one and its grant sends it.
    let second = user(&tokens.token_url())
        .with_transport(ReqwestTransport::builder().build().unwrap())
        .build()
        .unwrap();
    let credentials = Credentials::builder(second.clone())
        .with_storage(storage.clone(), "me")
        .build()
        .unwrap();
    let headers = credentials.headers().await.unwrap();
    assert_eq!(headers["authorization"], "Bearer ya29.after-reauth");
    assert_eq!(
        second.rapt_token().unwrap().expose_secret(),
        "new_rapt_token"
    );
    refresh_sends_the_new_rapt_without_asking(&credentials, &tokens, &reauth, &asked).await;
}

#[tokio::test]
async fn authenticated_at_start_needs_no_prompt_and_rapt_required_triggers_too() {
    let tokens = FakeTokenServer::start().await.unwrap();
    let reauth = FakeReauthServer::start().await.unwrap();
    tokens.push_replies([
        Reply::json(
            400,
            json!({"error": "invalid_grant", "error_subtype": "rapt_required"}),
        ),
        Reply::token("ya29.reauth-scoped"),
        Reply::token("ya29.after-reauth"),
    ]);
    reauth.push_reply(ReauthReply::authenticated("new_rapt_token"));
    let creds = user(&tokens.token_url())
        .with_transport(ReqwestTransport::builder().build().unwrap())
        .with_enable_reauth_refresh(true)
        .with_reauth_uri(reauth.url())
        .build()
        .unwrap();
    let token = interactive(creds.fetch_token()).await.unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.after-reauth");
    assert_eq!(reauth.paths(), ["/v2/sessions:start"]);
    assert_eq!(
        creds.rapt_token().unwrap().expose_secret(),
        "new_rapt_token"
    );
}

#[tokio::test]
async fn a_challenge_without_a_prompt_is_not_interactive() {
    let tokens = FakeTokenServer::start().await.unwrap();
    let reauth = FakeReauthServer::start().await.unwrap();
    tokens.push_replies([invalid_rapt(), Reply::token("ya29.reauth-scoped")]);
    reauth.push_reply(ReauthReply::challenge_required(
        "123",
        [FakeChallenge::password(1)],
    ));
    let creds = user(&tokens.token_url())
        .with_transport(ReqwestTransport::builder().build().unwrap())
        .with_enable_reauth_refresh(true)
        .with_reauth_uri(reauth.url())
        .build()
        .unwrap();
    let credentials = Credentials::builder(creds.clone()).build().unwrap();
    let err = interactive(credentials.headers()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Reauthentication failed. Reauthentication challenge could not be answered because you are not in an interactive session."
    );
    assert_eq!(err.kind(), ErrorKind::ReauthRequired);
    assert!(!err.is_transient());
    // Permanent: the retry layer did not run the flow again.
    assert_eq!(reauth.request_count(), 1);
    assert_eq!(tokens.request_count(), 2);
    assert_eq!(creds.rapt_token().unwrap().expose_secret(), "old_rapt");
}

#[tokio::test]
async fn disabled_or_not_awaited_reports_reauth_needed_without_calling_the_api() {
    let tokens = FakeTokenServer::start().await.unwrap();
    let reauth = FakeReauthServer::start().await.unwrap();
    tokens.push_reply(invalid_rapt());
    let asked = Arc::new(Mutex::new(0));
    let build = |enabled: bool| {
        user(&tokens.token_url())
            .with_transport(ReqwestTransport::builder().build().unwrap())
            .with_enable_reauth_refresh(enabled)
            .with_reauth_uri(reauth.url())
            .with_password_prompt(password_prompt(&asked))
            .build()
            .unwrap()
    };
    // Off: the reference's text, even inside an interactive scope.
    let err = interactive(build(false).fetch_token()).await.unwrap_err();
    assert_eq!(err.to_string(), NEEDED);
    // On, but nobody waits inside `interactive`: the same error.
    let err = Credentials::builder(build(true))
        .build()
        .unwrap()
        .headers()
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), NEEDED);
    assert_eq!(err.kind(), ErrorKind::ReauthRequired);
    assert_eq!(reauth.request_count(), 0);
    assert_eq!(*asked.lock().unwrap(), 0);
    assert_eq!(tokens.request_count(), 2);
}

#[test]
fn background_refresh_ahead_and_apply_never_start_reauth() {
    let clock = FakeClock::new();
    // One in-memory endpoint stands for both the token endpoint and the reauth API: any request
    // past the refused grant would show in its record.
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(invalid_rapt());
    let asked = Arc::new(Mutex::new(0));
    let creds = user("http://127.0.0.1:9/token")
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .with_enable_reauth_refresh(true)
        .with_reauth_uri("http://127.0.0.1:9")
        .with_password_prompt(password_prompt(&asked))
        .build()
        .unwrap();
    let queue: Arc<Mutex<Vec<BoxFuture<'static, ()>>>> = Arc::default();
    let spawned = Arc::clone(&queue);
    let failures = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::clone(&failures);
    let stale =
        AccessToken::new("ya29.stale").with_lifetime(clock.now(), Duration::from_secs(3600));
    let credentials = Credentials::builder(creds.clone())
        .with_initial_token(stale)
        .with_spawner(move |future| spawned.lock().unwrap().push(future))
        .on_refresh(move |event: &RefreshEvent| {
            if let RefreshEvent::Failed { error, .. } = event {
                failed.lock().unwrap().push(error.to_string());
            }
        })
        .build()
        .unwrap();
    let run_spawned = || {
        let futures: Vec<_> = queue.lock().unwrap().drain(..).collect();
        let n = futures.len();
        futures.into_iter().for_each(futures::executor::block_on);
        n
    };

    // Stale: an interactive caller is served at once, and the refresh ahead goes to the spawner.
    clock.advance(Duration::from_secs(3600 - 100));
    let mut headers = HeaderMap::new();
    futures::executor::block_on(interactive(credentials.before_request(&mut headers))).unwrap();
    assert_eq!(headers["authorization"], "Bearer ya29.stale");
    assert_eq!(run_spawned(), 1);
    assert_eq!(endpoint.request_count(), 1);
    assert_eq!(failures.lock().unwrap().as_slice(), [NEEDED]);

    // Expired: `apply` cannot wait, so its refresh runs on the spawner, and reports the same.
    clock.advance(Duration::from_secs(3600));
    assert!(credentials.apply(&mut HeaderMap::new()).is_err());
    assert_eq!(run_spawned(), 1);
    assert_eq!(endpoint.request_count(), 2);
    assert!(
        endpoint
            .requests()
            .iter()
            .all(|r| r.path() == "/token" && r.form_value("scope") == Some("email profile"))
    );
    assert_eq!(*asked.lock().unwrap(), 0);
    assert_eq!(failures.lock().unwrap().len(), 2);
}

#[test]
fn the_reauth_url_follows_the_endpoint_policy() {
    for bad in ["http://reauth.example.com", "ftp://127.0.0.1", "nonsense"] {
        let err = UserCredentials::builder()
            .with_reauth_uri(bad)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("reauth URL"), "{err}");
    }
    let creds = UserCredentials::builder().build().unwrap();
    assert_eq!(creds.reauth_uri(), "https://reauth.googleapis.com");
}
