//! `ChainSource`: order, first success wins, only "not configured" falls through, and the
//! aggregated error when nothing is configured.

// Test doubles outside `#[test]` functions unwrap too: a broken double should fail loudly.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use credkit_core::{
    AccessToken, ChainSource, Error, ErrorKind, OAuthError, TokenSource, TransportFailure,
};
use credkit_testing::MockTokenSource;
use futures::executor::block_on;
use mockall::Sequence;
use secrecy::ExposeSecret;

fn failing(seq: &mut Sequence, err: Error) -> MockTokenSource {
    let mut source = MockTokenSource::new();
    source
        .expect_fetch_token()
        .times(1)
        .in_sequence(seq)
        .returning(move || Err(err.clone()));
    source
}

fn never_called() -> MockTokenSource {
    let mut source = MockTokenSource::new();
    source.expect_fetch_token().never();
    source
}

#[test]
fn tries_in_order_and_first_success_wins() {
    let mut seq = Sequence::new();
    let first = failing(&mut seq, Error::not_configured("no gcloud here"));
    let mut second = MockTokenSource::new();
    second
        .expect_fetch_token()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(AccessToken::new("from-second")));

    let chain = ChainSource::new()
        .with(first)
        .with(second)
        .with(never_called());
    let token = block_on(chain.fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "from-second");
}

#[test]
fn a_transient_error_stops_the_chain_and_the_next_source_is_never_called() {
    let mut seq = Sequence::new();
    let busy = Error::token_endpoint(503, OAuthError::new("backend_error"));
    let chain = ChainSource::new()
        .with(failing(&mut seq, busy))
        .with(never_called());
    let err = block_on(chain.fetch_token()).unwrap_err();
    // Returned as it is: the same kind, status and transience, no chain wrapping.
    assert_eq!(err.kind(), ErrorKind::TokenEndpoint);
    assert_eq!(err.http_status(), Some(503));
    assert!(err.is_transient());
    assert!(err.causes().is_empty());
    assert_eq!(err.to_string(), "backend_error");
}

#[test]
fn any_error_but_not_configured_stops_the_chain_after_skipped_sources() {
    for stop in [
        Error::new(ErrorKind::Configuration, "the file is malformed"),
        Error::transport(TransportFailure::Connect, "connection refused"),
        Error::token_endpoint(400, OAuthError::new("invalid_grant")),
        Error::new(ErrorKind::Provider, "gcloud exited with status 1"),
    ] {
        let mut seq = Sequence::new();
        let chain = ChainSource::new()
            .with(failing(&mut seq, Error::not_configured("no file")))
            .with(failing(&mut seq, stop.clone()))
            .with(never_called());
        let err = block_on(chain.fetch_token()).unwrap_err();
        assert_eq!(err.kind(), stop.kind());
        assert_eq!(err.message(), stop.message());
        assert_eq!(err.is_transient(), stop.is_transient());
    }
}

#[test]
fn when_nothing_is_configured_every_reason_is_listed_in_order() {
    let mut seq = Sequence::new();
    let chain = ChainSource::from_sources(vec![
        Arc::new(failing(
            &mut seq,
            Error::not_configured("gcloud is not installed"),
        )),
        Arc::new(failing(
            &mut seq,
            Error::not_configured("GOOGLE_APPLICATION_CREDENTIALS is not set"),
        )),
        Arc::new(failing(
            &mut seq,
            Error::not_configured("no well-known file"),
        )),
    ]);
    let err = block_on(chain.fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConfigured);
    assert!(err.is_not_configured());
    assert!(!err.is_transient());
    let message = err.to_string();
    let positions: Vec<usize> = [
        "[1] ",
        "gcloud is not installed",
        "[2] ",
        "GOOGLE_APPLICATION_CREDENTIALS is not set",
        "[3] ",
        "no well-known file",
    ]
    .iter()
    .map(|needle| {
        message
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from {message:?}"))
    })
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{message}");
    let reasons: Vec<&str> = err.causes().iter().map(Error::message).collect();
    assert_eq!(
        reasons,
        [
            "gcloud is not installed",
            "GOOGLE_APPLICATION_CREDENTIALS is not set",
            "no well-known file"
        ]
    );
}

#[test]
fn a_nested_chain_with_nothing_configured_falls_through() {
    let mut seq = Sequence::new();
    let inner = ChainSource::new()
        .with(failing(&mut seq, Error::not_configured("a")))
        .with(failing(&mut seq, Error::not_configured("b")));
    let mut last = MockTokenSource::new();
    last.expect_fetch_token()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(AccessToken::new("from-last")));
    let outer = ChainSource::new().with(inner).with(last);
    let token = block_on(outer.fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "from-last");
}

#[test]
fn an_empty_chain_is_a_configuration_error() {
    let err = block_on(ChainSource::new().fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
}

#[test]
fn the_combined_message_names_each_source_and_its_reason() {
    let chain = ChainSource::new()
        .with(credkit_core::EnvSource::new("CHAIN_TEST_TOKEN").with_lookup(|_| None))
        .with_result(Err::<credkit_core::StaticSource, _>(Error::not_configured(
            "no broker socket",
        )))
        .with(
            ChainSource::new().with_result(Err::<credkit_core::StaticSource, _>(
                Error::not_configured("nothing inside"),
            )),
        );
    let err = block_on(chain.fetch_token()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no source in the credential chain is configured (3): \
         [1] environment variable: the environment variable CHAIN_TEST_TOKEN is not set; \
         [2] source that failed to build: no broker socket; \
         [3] credential chain: no source in the credential chain is configured (1): \
         [1] source that failed to build: nothing inside"
    );
}

#[test]
fn shared_sources_are_listed_in_order() {
    let first: Arc<dyn TokenSource> =
        Arc::new(credkit_core::StaticSource::new(AccessToken::new("a")));
    let second: Arc<dyn TokenSource> =
        Arc::new(credkit_core::StaticSource::new(AccessToken::new("b")));
    let chain = ChainSource::new()
        .with_shared(Arc::clone(&first))
        .with_shared(Arc::clone(&second));
    let sources = chain.sources();
    assert_eq!(sources.len(), 2);
    assert!(Arc::ptr_eq(&sources[0], &first));
    assert!(Arc::ptr_eq(&sources[1], &second));
    let token = block_on(chain.fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "a");
}

/// A member that holds a stored token and records the records it is asked to adopt.
#[derive(Debug, Default)]
struct Holding {
    stored: Option<&'static str>,
    fails: bool,
    adopted: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl TokenSource for Holding {
    async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
        if self.fails {
            Err(Error::not_configured("nothing here"))
        } else {
            Ok(AccessToken::new("fetched"))
        }
    }

    fn initial_token(&self) -> Option<AccessToken> {
        self.stored.map(AccessToken::new)
    }

    fn adopt_record(&self, record: &credkit_core::CredentialRecord) {
        let token = record.access_token().unwrap();
        self.adopted
            .lock()
            .unwrap()
            .push(token.secret().expose_secret().to_owned());
    }
}

#[test]
fn only_the_first_members_stored_token_is_served() {
    let first = ChainSource::new()
        .with(Holding {
            stored: Some("stored-first"),
            ..Holding::default()
        })
        .with(Holding {
            stored: Some("stored-second"),
            ..Holding::default()
        });
    let token = first.initial_token().unwrap();
    assert_eq!(token.secret().expose_secret(), "stored-first");
    let later = ChainSource::new().with(Holding::default()).with(Holding {
        stored: Some("stored-second"),
        ..Holding::default()
    });
    assert!(later.initial_token().is_none());
    assert!(ChainSource::new().initial_token().is_none());
}

#[test]
fn a_record_goes_to_the_member_that_supplied_the_last_token() {
    let record =
        credkit_core::CredentialRecord::new().with_access_token(&AccessToken::new("rotated"));
    let first = Arc::new(Holding {
        fails: true,
        ..Holding::default()
    });
    let second = Arc::new(Holding::default());
    let chain = ChainSource::new()
        .with_shared(Arc::clone(&first) as Arc<dyn TokenSource>)
        .with_shared(Arc::clone(&second) as Arc<dyn TokenSource>);
    // Before any token nobody can tell whose state the record is.
    chain.adopt_record(&record);
    assert!(first.adopted.lock().unwrap().is_empty());
    assert!(second.adopted.lock().unwrap().is_empty());

    block_on(chain.fetch_token()).unwrap();
    chain.adopt_record(&record);
    assert!(first.adopted.lock().unwrap().is_empty());
    assert_eq!(*second.adopted.lock().unwrap(), ["rotated"]);
}

#[test]
fn the_chain_is_named_after_the_member_that_served_the_last_token() {
    use credkit_core::{Credentials, EnvSource, StaticSource};
    use std::sync::atomic::{AtomicBool, Ordering};

    // A member that is not configured until the flag is set, as a later login would make it.
    let configured = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&configured);
    let first = EnvSource::new("LATER_TOKEN")
        .with_lookup(move |_| flag.load(Ordering::SeqCst).then(|| "ya29.later".to_owned()));
    let chain = ChainSource::new()
        .with(first)
        .with(StaticSource::new(AccessToken::new("ya29.static")));
    assert_eq!(chain.name(), "credential chain", "no member has served yet");
    assert!(chain.serving().is_none());

    block_on(chain.fetch_token()).unwrap();
    assert_eq!(chain.serving().map(|(index, _)| index), Some(1));
    assert_eq!(chain.name(), "static token");

    configured.store(true, Ordering::SeqCst);
    let token = block_on(chain.fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.later");
    assert_eq!(chain.serving().map(|(index, _)| index), Some(0));
    let env_name = chain.sources()[0].name().to_owned();
    assert_eq!(chain.name(), env_name);
    assert_ne!(env_name, "static token");

    // The caching layer names the serving member too.
    let credentials = Credentials::new(chain.clone());
    block_on(credentials.refresh()).unwrap();
    assert_eq!(credentials.source_name(), env_name);
}
