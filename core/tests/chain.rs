//! `ChainSource`: order, first success wins, and the aggregated error.

use std::sync::Arc;

use credkit_core::{AccessToken, ChainSource, Error, ErrorKind, TokenSource, TransportFailure};
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

#[test]
fn tries_in_order_and_first_success_wins() {
    let mut seq = Sequence::new();
    let first = failing(&mut seq, Error::new(ErrorKind::Provider, "no gcloud here"));
    let mut second = MockTokenSource::new();
    second
        .expect_fetch_token()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(AccessToken::new("from-second")));
    let mut third = MockTokenSource::new();
    third.expect_fetch_token().never();

    let chain = ChainSource::new().with(first).with(second).with(third);
    let token = block_on(chain.fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "from-second");
}

#[test]
fn all_failures_are_listed_in_order() {
    let mut seq = Sequence::new();
    let chain = ChainSource::from_sources(vec![
        Arc::new(failing(
            &mut seq,
            Error::new(ErrorKind::Provider, "gcloud is not installed"),
        )),
        Arc::new(failing(
            &mut seq,
            Error::new(ErrorKind::Configuration, "the file is malformed"),
        )),
        Arc::new(failing(
            &mut seq,
            Error::transport(TransportFailure::Connect, "connection refused"),
        )),
    ]);
    let err = block_on(chain.fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Chain);
    let message = err.to_string();
    let positions: Vec<usize> = [
        "[1] ",
        "gcloud is not installed",
        "[2] ",
        "the file is malformed",
        "[3] ",
        "connection refused",
    ]
    .iter()
    .map(|needle| {
        message
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing from {message:?}"))
    })
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{message}");
    let kinds: Vec<ErrorKind> = err.causes().iter().map(Error::kind).collect();
    assert_eq!(
        kinds,
        [
            ErrorKind::Provider,
            ErrorKind::Configuration,
            ErrorKind::Transport
        ]
    );
    // One of them may pass on a retry, so the chain's error is transient.
    assert!(err.is_transient());
}

#[test]
fn permanent_failures_make_a_permanent_chain_error() {
    let mut seq = Sequence::new();
    let chain = ChainSource::new()
        .with(failing(&mut seq, Error::new(ErrorKind::Provider, "a")))
        .with(failing(&mut seq, Error::new(ErrorKind::Provider, "b")));
    assert!(!block_on(chain.fetch_token()).unwrap_err().is_transient());
}

#[test]
fn an_empty_chain_is_a_configuration_error() {
    let err = block_on(ChainSource::new().fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
}
