//! The registry of credential types and the fallbacks: an unregistered type, a type of the
//! user's, a replaced built-in, fallbacks in order, and what a fallback's answer does.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]
// The fallbacks' answers share one signature, so some are wrapped needlessly.
#![allow(clippy::unnecessary_wraps)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use credkit::adc::{AdcCredential, AdcFallback, LoadContext};
use credkit::core::{AccessToken, Error, ErrorKind, Result, StaticSource, TokenSource};
use credkit::{Adc, Credentials};
use credkit_testing::{AdcEnv, FakeTokenEndpoint};
use futures::executor::block_on;
use secrecy::ExposeSecret;

/// A credential of the tests' own type: a fixed token, the file's `email` and `project`.
#[derive(Debug)]
struct Fixed {
    token: String,
    email: Option<String>,
    project: Option<String>,
    /// Read through `Debug` by the tests.
    #[allow(dead_code)]
    origin: String,
}

#[async_trait]
impl AdcCredential for Fixed {
    fn credential_type(&self) -> &'static str {
        "fixed_token"
    }

    fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::new(StaticSource::new(AccessToken::new(self.token.clone())))
    }

    async fn email(&self) -> Result<Option<String>> {
        Ok(self.email.clone())
    }

    async fn project_id(&self) -> Result<Option<String>> {
        Ok(self.project.clone())
    }
}

fn load_fixed(json: &serde_json::Value, context: &LoadContext) -> Result<Box<dyn AdcCredential>> {
    let Some(token) = json.get("token").and_then(|t| t.as_str()) else {
        return Err(Error::new(ErrorKind::Configuration, "missing field token"));
    };
    let text = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    Ok(Box::new(Fixed {
        token: token.to_owned(),
        email: text("email"),
        project: text("project"),
        origin: context.origin().to_owned(),
    }))
}

fn adc(env: &AdcEnv) -> Adc {
    Adc::new()
        .with_env(env.lookup())
        .with_transport(FakeTokenEndpoint::new())
}

#[test]
fn an_unregistered_type_gets_the_references_error_naming_it() {
    let env = AdcEnv::new().with_credentials_file(r#"{"type": "vault_account"}"#);
    let file = env
        .var("GOOGLE_APPLICATION_CREDENTIALS")
        .unwrap()
        .to_owned();
    let err = block_on(adc(&env).discover()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    // The registered types in the reference's tuple notation: `('a',)`, `('a', 'b')`, `()`.
    let quoted: Vec<String> = adc(&env)
        .credential_types()
        .iter()
        .map(|t| format!("'{t}'"))
        .collect();
    let tuple = match quoted.as_slice() {
        [one] => format!("({one},)"),
        many => format!("({})", many.join(", ")),
    };
    assert_eq!(
        err.to_string(),
        format!(
            "The file {file} does not have a valid type. Type is vault_account, expected one of {tuple}."
        )
    );
    if cfg!(feature = "refresh-token") {
        assert!(tuple.starts_with("('authorized_user'"), "{tuple}");
    }

    let env = AdcEnv::new().with_well_known_file(r#"{"client_id": "x"}"#);
    let err = block_on(
        adc(&env)
            .with_credential_type("fixed_token", load_fixed)
            .discover(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not have a valid type. Type is None, expected one of ("),
        "{err}"
    );
    assert!(err.to_string().contains("'fixed_token'"), "{err}");
}

#[test]
fn a_type_of_the_users_is_loaded_from_either_file() {
    let json = r#"{"type": "fixed_token", "token": "ya29.fixed", "email": "me@example.com", "project": "p1"}"#;
    for env in [
        AdcEnv::new().with_credentials_file(json),
        AdcEnv::new().with_well_known_file(json),
    ] {
        let adc = adc(&env).with_credential_type("fixed_token", load_fixed);
        assert!(adc.credential_types().contains(&"fixed_token"));
        let found = block_on(adc.discover()).unwrap();
        assert_eq!(found.credential_type(), "fixed_token");
        assert_eq!(
            block_on(found.email()).unwrap().as_deref(),
            Some("me@example.com")
        );
        assert_eq!(block_on(found.project_id()).unwrap().as_deref(), Some("p1"));
        assert!(found.signer().is_none());
        let err = found.id_token_source("https://aud").unwrap_err();
        assert_eq!(
            err.to_string(),
            "credentials of type fixed_token cannot issue ID tokens"
        );
        let credentials = found.credentials_builder().build().unwrap();
        let token = block_on(credentials.access_token()).unwrap();
        assert_eq!(token.secret().expose_secret(), "ya29.fixed");
        // The loader saw where the file came from.
        let fixed = format!("{:?}", found.credential());
        assert!(fixed.contains(found.origin()), "{fixed}");
    }
}

#[test]
fn a_loaders_refusal_stops_discovery_and_names_the_file_and_type() {
    let env = AdcEnv::new().with_credentials_file(r#"{"type": "fixed_token"}"#);
    let file = env
        .var("GOOGLE_APPLICATION_CREDENTIALS")
        .unwrap()
        .to_owned();
    let err = block_on(
        adc(&env)
            .with_credential_type("fixed_token", load_fixed)
            .discover(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(!err.is_not_configured());
    assert_eq!(
        err.to_string(),
        format!("Failed to load fixed token credentials from {file}: missing field token")
    );
}

#[test]
fn a_loaders_not_configured_refusal_does_not_pass_the_turn() {
    fn shy(_: &serde_json::Value, _: &LoadContext) -> Result<Box<dyn AdcCredential>> {
        Err(Error::not_configured("nothing here"))
    }
    let env = AdcEnv::new().with_credentials_file(r#"{"type": "shy"}"#);
    let err = block_on(adc(&env).with_credential_type("shy", shy).discover()).unwrap_err();
    assert!(
        !err.is_not_configured(),
        "the file is there: an error of its own"
    );
}

#[cfg(feature = "refresh-token")]
#[test]
fn a_built_in_type_can_be_replaced() {
    let env =
        AdcEnv::new().with_credentials_file(r#"{"type": "authorized_user", "token": "ya29.mine"}"#);
    let found = block_on(
        adc(&env)
            .with_credential_type("authorized_user", load_fixed)
            .discover(),
    )
    .unwrap();
    assert_eq!(found.credential_type(), "fixed_token");
    let replaced = adc(&env).with_credential_type("authorized_user", load_fixed);
    assert_eq!(
        replaced.credential_types().len(),
        adc(&env).credential_types().len()
    );
    assert_eq!(
        replaced
            .credential_types()
            .iter()
            .filter(|t| **t == "authorized_user")
            .count(),
        1
    );
}

/// A fallback that counts its calls and answers as told.
#[derive(Debug)]
struct Counting {
    place: &'static str,
    answer: fn() -> Result<Box<dyn AdcCredential>>,
    project: Option<&'static str>,
    calls: Arc<AtomicUsize>,
}

#[async_trait]
impl AdcFallback for Counting {
    fn place(&self) -> &str {
        self.place
    }

    async fn credential(&self, _: &LoadContext) -> Result<Box<dyn AdcCredential>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        (self.answer)()
    }

    async fn project_id(&self, _: &LoadContext) -> Result<Option<String>> {
        Ok(self.project.map(str::to_owned))
    }
}

fn absent() -> Result<Box<dyn AdcCredential>> {
    Err(Error::not_configured("not on this machine"))
}

fn present() -> Result<Box<dyn AdcCredential>> {
    Ok(Box::new(Fixed {
        token: "ya29.fallback".to_owned(),
        email: None,
        project: None,
        origin: String::new(),
    }))
}

fn broken() -> Result<Box<dyn AdcCredential>> {
    Err(Error::new(
        ErrorKind::Provider,
        "the probe answered garbage",
    ))
}

fn counting(
    place: &'static str,
    answer: fn() -> Result<Box<dyn AdcCredential>>,
) -> (Counting, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    (
        Counting {
            place,
            answer,
            project: None,
            calls: Arc::clone(&calls),
        },
        calls,
    )
}

#[test]
fn fallbacks_come_after_the_files_in_order() {
    let (first, first_calls) = counting("the first place", absent);
    let (second, second_calls) = counting("the second place", present);
    let (third, third_calls) = counting("the third place", present);
    let env = AdcEnv::new();
    let adc = adc(&env)
        .with_fallback(first)
        .with_fallback(second)
        .with_fallback(third);
    let found = block_on(adc.discover()).unwrap();
    assert_eq!(found.origin(), "the second place");
    assert_eq!(found.credential_type(), "fixed_token");
    assert_eq!(
        (
            first_calls.load(Ordering::SeqCst),
            second_calls.load(Ordering::SeqCst),
            third_calls.load(Ordering::SeqCst)
        ),
        (1, 1, 0)
    );

    // A file wins: no fallback is asked.
    let (fallback, calls) = counting("a place", present);
    let env =
        AdcEnv::new().with_credentials_file(r#"{"type": "fixed_token", "token": "ya29.file"}"#);
    let found = block_on(adc_with(&env).with_fallback(fallback).discover()).unwrap();
    assert!(
        found
            .origin()
            .ends_with("file via the GOOGLE_APPLICATION_CREDENTIALS environment variable")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

fn adc_with(env: &AdcEnv) -> Adc {
    adc(env).with_credential_type("fixed_token", load_fixed)
}

#[test]
fn fallbacks_with_nothing_join_the_looked_at_list_and_a_failing_one_stops_discovery() {
    let (first, _) = counting("the first place", absent);
    let env = AdcEnv::new();
    let err = block_on(adc(&env).with_fallback(first).discover()).unwrap_err();
    assert!(err.is_not_configured());
    assert!(
        err.to_string()
            .ends_with("; the first place (not on this machine)."),
        "{err}"
    );

    let (failing, _) = counting("the failing place", broken);
    let (after, after_calls) = counting("after", present);
    let err = block_on(
        adc(&env)
            .with_fallback(failing)
            .with_fallback(after)
            .discover(),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "the probe answered garbage");
    assert_eq!(after_calls.load(Ordering::SeqCst), 0);
}

#[test]
fn a_fallbacks_project_comes_last() {
    let (mut fallback, _) = counting("the metadata server", absent);
    fallback.project = Some("from-metadata");
    let env = AdcEnv::new();
    assert_eq!(
        block_on(adc(&env).with_fallback(fallback).project_id()).unwrap(),
        "from-metadata"
    );
}

#[cfg(feature = "refresh-token")]
#[test]
fn without_a_transport_or_the_reqwest_feature_loading_says_what_to_do() {
    // With the reqwest feature the default transport is built; without it the error says so.
    let env = AdcEnv::new().with_credentials_file(
        r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}"#,
    );
    let found = block_on(Adc::new().with_env(env.lookup()).discover());
    if cfg!(feature = "reqwest") {
        let _: Credentials = found.unwrap().credentials_builder().build().unwrap();
    } else {
        let err = found.unwrap_err();
        assert!(
            err.to_string().contains(
                "give one with Adc::with_transport, or enable credkit's `reqwest` feature"
            ),
            "{err}"
        );
    }
}

/// The context the last `record_context` loader was given.
static SEEN: std::sync::Mutex<Option<LoadContext>> = std::sync::Mutex::new(None);

fn record_context(
    json: &serde_json::Value,
    context: &LoadContext,
) -> Result<Box<dyn AdcCredential>> {
    *SEEN.lock().unwrap() = Some(context.clone());
    load_fixed(json, context)
}

#[test]
fn a_loader_is_given_everything_the_adc_was_told() {
    use credkit_testing::FakeClock;
    use std::time::Duration;

    let env = AdcEnv::new()
        .with_credentials_file(r#"{"type": "recorded", "token": "ya29.r"}"#)
        .with_var("MY_SETTING", "on")
        .with_var("GOOGLE_CLOUD_QUOTA_PROJECT", "from-env");
    let file = env
        .var("GOOGLE_APPLICATION_CREDENTIALS")
        .unwrap()
        .to_owned();
    let clock = FakeClock::new();
    block_on(
        adc(&env)
            .with_credential_type("recorded", record_context)
            .with_scopes(["s1"])
            .with_default_scopes(["d1", "d2"])
            .with_probe_timeout(Duration::from_millis(250))
            .with_clock(clock.clone())
            .discover(),
    )
    .unwrap();
    let seen = SEEN.lock().unwrap().take().unwrap();
    assert_eq!(seen.scopes().unwrap(), ["s1"]);
    assert_eq!(seen.default_scopes().unwrap(), ["d1", "d2"]);
    assert_eq!(seen.probe_timeout(), Some(Duration::from_millis(250)));
    assert_eq!(seen.quota_project(), Some("from-env"));
    assert_eq!(seen.var("MY_SETTING").as_deref(), Some("on"));
    assert_eq!(seen.env().var("MY_SETTING").as_deref(), Some("on"));
    assert_eq!(seen.path().unwrap().display().to_string(), file);
    assert_eq!(
        seen.origin(),
        format!("{file} file via the GOOGLE_APPLICATION_CREDENTIALS environment variable")
    );
    assert_eq!(
        seen.clock().unwrap().now(),
        credkit::core::Clock::now(&clock)
    );
    assert!(seen.transport().is_ok());

    // The defaults: no scopes, the prober's own timeout (GCE_METADATA_TIMEOUT, else the
    // reference's 3 s), the builder's quota project first.
    block_on(
        adc(&env)
            .with_credential_type("recorded", record_context)
            .with_quota_project("from-code")
            .discover(),
    )
    .unwrap();
    let seen = SEEN.lock().unwrap().take().unwrap();
    assert!(seen.scopes().is_none() && seen.default_scopes().is_none() && seen.clock().is_none());
    assert_eq!(seen.probe_timeout(), None);
    assert_eq!(seen.quota_project(), Some("from-code"));
}

/// A fallback whose project lookup answers as told.
#[derive(Debug)]
struct ProjectAnswer(fn() -> Result<Option<String>>);

#[async_trait]
impl AdcFallback for ProjectAnswer {
    fn place(&self) -> &'static str {
        "a project place"
    }

    async fn credential(&self, _: &LoadContext) -> Result<Box<dyn AdcCredential>> {
        absent()
    }

    async fn project_id(&self, _: &LoadContext) -> Result<Option<String>> {
        (self.0)()
    }
}

#[test]
fn a_fallbacks_project_lookup_passes_the_turn_only_when_not_configured() {
    let env = AdcEnv::new();
    let not_here = || Err(Error::not_configured("no server here"));
    let failing = || Err(Error::new(ErrorKind::Provider, "the server failed"));
    let found = || Ok(Some("later".to_owned()));
    let project = block_on(
        adc(&env)
            .with_fallback(ProjectAnswer(not_here))
            .with_fallback(ProjectAnswer(found))
            .project_id(),
    )
    .unwrap();
    assert_eq!(project, "later");
    let err = block_on(
        adc(&env)
            .with_fallback(ProjectAnswer(failing))
            .with_fallback(ProjectAnswer(found))
            .project_id(),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "the server failed");
    let err = block_on(
        adc(&env)
            .with_fallback(ProjectAnswer(not_here))
            .project_id(),
    )
    .unwrap_err();
    assert!(err.is_not_configured());
    assert!(
        err.to_string()
            .ends_with("; a project place (no server here)."),
        "{err}"
    );
}

/// A credential that states only what it must.
#[derive(Debug)]
struct Minimal;

impl AdcCredential for Minimal {
    fn credential_type(&self) -> &'static str {
        "minimal"
    }

    fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::new(StaticSource::new(AccessToken::new("ya29.minimal")))
    }
}

#[test]
fn a_credential_knows_nothing_it_does_not_say() {
    let minimal = Minimal;
    assert_eq!(block_on(minimal.email()).unwrap(), None);
    assert_eq!(block_on(minimal.project_id()).unwrap(), None);
    assert!(minimal.signer().is_none());
    let err = minimal.id_token_source("aud").err().unwrap();
    assert_eq!(
        err.to_string(),
        "credentials of type minimal cannot issue ID tokens"
    );
    assert!(minimal.as_any().is_none());
}

/// A signer that signs nothing: enough to see it handed through.
#[derive(Debug)]
struct NamedSigner;

#[async_trait]
impl credkit::Signer for NamedSigner {
    async fn sign(&self, message: &[u8]) -> Result<credkit::core::Signature> {
        Ok(credkit::core::Signature::new(message.to_vec()))
    }

    fn signer_email(&self) -> &'static str {
        "signer@example.iam.gserviceaccount.com"
    }
}

/// A credential that can sign.
#[derive(Debug)]
struct Signing;

impl AdcCredential for Signing {
    fn credential_type(&self) -> &'static str {
        "signing"
    }

    fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::new(StaticSource::new(AccessToken::new("ya29.signing")))
    }

    fn signer(&self) -> Option<Arc<dyn credkit::Signer>> {
        Some(Arc::new(NamedSigner))
    }
}

fn load_signing(_: &serde_json::Value, _: &LoadContext) -> Result<Box<dyn AdcCredential>> {
    Ok(Box::new(Signing))
}

#[test]
fn a_signer_is_handed_through() {
    let env = AdcEnv::new().with_credentials_file(r#"{"type": "signing"}"#);
    let found = block_on(
        adc(&env)
            .with_credential_type("signing", load_signing)
            .discover(),
    )
    .unwrap();
    let signer = found.signer().unwrap();
    assert_eq!(
        signer.signer_email(),
        "signer@example.iam.gserviceaccount.com"
    );
}
