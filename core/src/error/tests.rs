//! Unit tests of the runtime and construction errors.

use std::error::Error as _;

use super::*;
use crate::OAuthError;

#[test]
fn error_is_pointer_sized() {
    assert_eq!(size_of::<Error>(), size_of::<usize>());
}

#[test]
fn token_endpoint_message_with_and_without_description() {
    let with = Error::token_endpoint(400, OAuthError::new("help").with_description("I'm alive"));
    assert_eq!(with.to_string(), "help: I'm alive");
    let without = Error::token_endpoint(400, OAuthError::new("invalid_grant"));
    assert_eq!(without.to_string(), "invalid_grant");
    assert_eq!(without.error_description(), None);
}

#[test]
fn transient_description_code_is_transient() {
    let err = Error::token_endpoint(
        400,
        OAuthError::new("invalid_request").with_description("internal_failure"),
    );
    assert!(err.is_transient());
}

#[test]
fn unexpected_response_never_trusts_content_type() {
    let err = Error::unexpected_response(502, Some("text/html\r\nx: y"));
    assert!(!err.to_string().contains('\n'));
    assert!(!err.is_transient());
    let none = Error::unexpected_response(500, None);
    assert!(none.to_string().contains("an untyped body"));
    assert!(none.is_transient());
}

// Issue 12, bug 6: the article before the media type.
#[test]
fn media_type_takes_the_right_article() {
    let json = Error::unexpected_response(400, Some("application/json; charset=utf-8"));
    assert_eq!(
        json.to_string(),
        "the token endpoint answered HTTP 400 with an application/json body that is not an OAuth error response"
    );
    assert!(
        Error::unexpected_response(400, Some("text/html"))
            .to_string()
            .contains("with a text/html body")
    );
    let long = format!("text/{}", "x".repeat(80));
    assert!(
        Error::unexpected_response(400, Some(&long))
            .to_string()
            .contains("an untyped body")
    );
}

#[test]
fn transport_failures_classify() {
    let cases = [
        (TransportFailure::Connect, ErrorKind::Transport, true),
        (TransportFailure::Timeout, ErrorKind::Timeout, true),
        (TransportFailure::Reset, ErrorKind::Transport, true),
        (TransportFailure::BodyTooLarge, ErrorKind::Transport, false),
        (
            TransportFailure::InvalidRequest,
            ErrorKind::Configuration,
            false,
        ),
        (TransportFailure::Other, ErrorKind::Transport, false),
    ];
    for (failure, kind, transient) in cases {
        let err = Error::transport(failure, "x");
        assert_eq!(err.kind(), kind, "{failure:?}");
        assert_eq!(err.is_transient(), transient, "{failure:?}");
    }
}

#[test]
fn causes_are_kept_in_order_and_change_nothing_else() {
    let err = Error::not_configured("nothing here").with_causes(vec![
        Error::not_configured("first"),
        Error::not_configured("second"),
    ]);
    let messages: Vec<_> = err.causes().iter().map(Error::message).collect();
    assert_eq!(messages, ["first", "second"]);
    assert!(err.is_not_configured());
    assert!(!err.is_transient());
    assert_eq!(err.message(), "nothing here");
    assert!(Error::new(ErrorKind::Provider, "x").causes().is_empty());
}

#[test]
fn build_error_converts_to_configuration_error() {
    let err: Error = BuildError::parsing("bad json").into();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(err.to_string(), "bad json");
    assert!(err.source().is_some());
}

#[test]
fn only_a_timeout_starts_transient() {
    // `Error::new` knows nothing but the kind; only a timeout is transient by nature. Every
    // other transient error comes from a classifying constructor or an explicit
    // `with_transient(true)`.
    let kinds = [
        ErrorKind::Transport,
        ErrorKind::Timeout,
        ErrorKind::TokenEndpoint,
        ErrorKind::InvalidResponse,
        ErrorKind::Configuration,
        ErrorKind::ReauthRequired,
        ErrorKind::Provider,
        ErrorKind::Storage,
        ErrorKind::NotConfigured,
        ErrorKind::Internal,
    ];
    for kind in kinds {
        let err = Error::new(kind, "x");
        assert_eq!(err.is_transient(), kind == ErrorKind::Timeout, "{kind}");
        assert!(Error::new(kind, "x").with_transient(true).is_transient());
    }
    assert!(
        !Error::new(ErrorKind::Timeout, "x")
            .with_transient(false)
            .is_transient()
    );
}
