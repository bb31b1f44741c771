//! `AdcSource`: discovery on the first fetch, again while nothing is found, and the found
//! credential kept; in a chain, a login after the start is picked up without rebuilding.
#![cfg(feature = "refresh-token")]
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use credkit::Adc;
use credkit::core::{AccessToken, ChainSource, Credentials, StaticSource, TokenSource};
use credkit_testing::{AdcEnv, FakeClock, FakeTokenEndpoint, Reply};
use futures::executor::block_on;
use secrecy::ExposeSecret;

const USER_FILE: &str = r#"{"client_id": "123", "client_secret": "secret", "refresh_token": "rt", "type": "authorized_user"}"#;

#[test]
fn not_configured_then_a_file_appears_and_is_used_without_rebuilding() {
    let env = AdcEnv::new();
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_replies([Reply::token("ya29.after-login"), Reply::token("ya29.again")]);
    let source = Adc::new()
        .with_env(env.lookup())
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .source();
    assert_eq!(source.name(), "application default credentials");

    let err = block_on(source.fetch_token()).unwrap_err();
    assert!(err.is_not_configured(), "{err}");
    assert!(
        err.to_string()
            .starts_with("Your default credentials were not found.")
    );
    assert!(source.discovered().is_none());

    // `gcloud auth application-default login`, while the program runs.
    env.write_well_known_file(USER_FILE);
    let token = block_on(source.fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.after-login");
    assert_eq!(
        source.discovered().unwrap().credential_type(),
        "authorized_user"
    );
    assert_eq!(source.name(), "authorized user (refresh token)");

    // Kept once found: a file that goes away does not undo it.
    std::fs::remove_file(
        env.gcloud_config_dir()
            .join("application_default_credentials.json"),
    )
    .unwrap();
    let token = block_on(source.fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.again");
    assert_eq!(endpoint.request_count(), 2);
}

#[test]
fn a_chain_prefers_adc_once_it_is_configured_and_names_who_served() {
    let env = AdcEnv::new();
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::token("ya29.adc"));
    let chain = ChainSource::new()
        .with(
            Adc::new()
                .with_env(env.lookup())
                .with_transport(endpoint.clone())
                .with_clock(clock.clone())
                .source(),
        )
        .with(StaticSource::new(AccessToken::new("ya29.static")));
    let credentials = Credentials::builder(chain)
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let token = block_on(credentials.refresh()).unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.static");
    assert_eq!(credentials.source_name(), "static token");

    env.write_well_known_file(USER_FILE);
    // Past the caching layer's minimum retry interval, so the next refresh runs.
    clock.advance(Duration::from_secs(60));
    let token = block_on(credentials.refresh()).unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.adc");
    assert_eq!(credentials.source_name(), "authorized user (refresh token)");
}

#[test]
fn rediscovery_may_be_bounded_on_the_clock() {
    let env = AdcEnv::new();
    let clock = FakeClock::new();
    let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    endpoint.push_reply(Reply::token("ya29.t"));
    let source = Adc::new()
        .with_env(env.lookup())
        .with_transport(endpoint.clone())
        .with_clock(clock.clone())
        .source()
        .with_rediscovery_interval(Duration::from_secs(30));
    assert!(
        block_on(source.fetch_token())
            .unwrap_err()
            .is_not_configured()
    );
    env.write_well_known_file(USER_FILE);

    // Within the bound: the last answer, without looking.
    clock.advance(Duration::from_secs(29));
    assert!(
        block_on(source.fetch_token())
            .unwrap_err()
            .is_not_configured()
    );
    assert!(source.discovered().is_none());

    clock.advance(Duration::from_secs(1));
    assert!(block_on(source.fetch_token()).is_ok());
    assert_eq!(endpoint.request_count(), 1);
}

#[test]
fn a_broken_file_is_its_own_error_and_is_looked_at_again() {
    let env = AdcEnv::new().with_well_known_file("{not json");
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::token("ya29.fixed"));
    let source = Adc::new()
        .with_env(env.lookup())
        .with_transport(endpoint.clone())
        .source()
        .with_rediscovery_interval(Duration::from_secs(3600));
    let err = block_on(source.fetch_token()).unwrap_err();
    assert!(!err.is_not_configured());
    assert!(err.to_string().contains("is not a valid json file"));
    // A chain stops on it rather than switch identity.
    let chain = ChainSource::new()
        .with(
            Adc::new()
                .with_env(env.lookup())
                .with_transport(endpoint.clone())
                .source(),
        )
        .with(StaticSource::new(AccessToken::new("ya29.static")));
    assert!(block_on(chain.fetch_token()).is_err());

    // Fixed: not a "not configured" miss, so the interval does not hold it back.
    env.write_well_known_file(USER_FILE);
    assert!(block_on(source.fetch_token()).is_ok());
}

#[test]
fn the_source_gives_the_adcs_clock_and_passes_records_to_what_it_found() {
    let clock = FakeClock::new();
    let env = AdcEnv::new();
    let source = Adc::new()
        .with_env(env.lookup())
        .with_clock(clock.clone())
        .source();
    let given = source.clock().unwrap();
    assert_eq!(given.now(), credkit::core::Clock::now(&clock));
    // Before anything is found, a record has nobody to go to (and nothing breaks).
    source.adopt_record(&credkit::core::CredentialRecord::new());
    assert!(Adc::new().with_env(env.lookup()).source().clock().is_none());
}

/// A fallback that never answers: a metadata probe to a server that hangs.
#[derive(Debug)]
struct Hanging;

#[async_trait::async_trait]
impl credkit::adc::AdcFallback for Hanging {
    fn place(&self) -> &'static str {
        "a hanging place"
    }

    async fn credential(
        &self,
        _: &credkit::adc::LoadContext,
    ) -> credkit::core::Result<Box<dyn credkit::adc::AdcCredential>> {
        futures::future::pending().await
    }
}

#[test]
fn a_fetch_dropped_mid_discovery_leaves_the_source_usable() {
    use futures::FutureExt;

    let env = AdcEnv::new();
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::token("ya29.later"));
    let source = Adc::new()
        .with_env(env.lookup())
        .with_transport(endpoint.clone())
        .with_fallback(Hanging)
        .source();
    // Discovery waits on the fallback; the caller gives up (its timeout) and drops the fetch.
    assert!(source.fetch_token().now_or_never().is_none());
    assert!(source.discovered().is_none());

    env.write_well_known_file(USER_FILE);
    let token = block_on(source.fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.later");
}

#[test]
fn records_go_to_the_credential_found() {
    use credkit::core::CredentialRecord;
    use credkit::refresh_token::UserCredentials;
    use secrecy::SecretString;

    let env = AdcEnv::new().with_well_known_file(USER_FILE);
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::token("ya29.t"));
    let source = Adc::new()
        .with_env(env.lookup())
        .with_transport(endpoint.clone())
        .source();
    block_on(source.fetch_token()).unwrap();
    let record = CredentialRecord::new()
        .with_access_token(&AccessToken::new("ya29.stored"))
        .with_refresh_token(SecretString::from("1//rotated"));
    source.adopt_record(&record);
    let user = source
        .discovered()
        .unwrap()
        .credential()
        .as_any()
        .and_then(|any| any.downcast_ref::<UserCredentials>())
        .unwrap();
    assert_eq!(user.refresh_token().unwrap().expose_secret(), "1//rotated");
}
