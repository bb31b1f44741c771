//! Behaviour that mutation testing found unpinned: each test here fails for a mutant that the
//! rest of the suite let through (see `.cargo/mutants.toml` and CONTRIBUTING.md).

#![allow(clippy::unwrap_used)]

use credkit_refresh_token::{PasswordPrompt, UserCredentials, prompt_fn};
use credkit_testing::MockTransport;
use futures::executor::block_on;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

#[test]
fn the_builder_settings_are_read_back() {
    let credentials = UserCredentials::builder()
        .with_refresh_token("1//refresh-secret")
        .with_client_id("id")
        .with_client_secret("client-secret")
        .with_default_scopes(["email", "profile"])
        .with_enable_reauth_refresh(true)
        .with_trust_boundary(json!({"locations": ["us"]}))
        .with_transport(MockTransport::new())
        .build()
        .unwrap();
    assert_eq!(credentials.default_scopes().unwrap(), ["email", "profile"]);
    assert!(credentials.enable_reauth_refresh());
    assert_eq!(
        credentials.trust_boundary(),
        Some(&json!({"locations": ["us"]}))
    );
    assert!(credentials.transport().is_some());

    let plain = UserCredentials::builder()
        .with_token("ya29.t")
        .build()
        .unwrap();
    assert!(plain.default_scopes().is_none());
    assert!(!plain.enable_reauth_refresh());
    assert!(plain.trust_boundary().is_none());
    assert!(plain.transport().is_none());
}

#[test]
fn debug_shows_the_settings_and_which_secrets_are_present() {
    let credentials = UserCredentials::builder()
        .with_refresh_token("1//refresh-value")
        .with_client_id("the-client")
        .with_client_secret("client-value")
        .build()
        .unwrap();
    let debug = format!("{credentials:?}");
    assert!(
        debug.starts_with("UserCredentials { token: None"),
        "{debug}"
    );
    assert!(
        debug.contains("refresh_token: Some(\"[REDACTED]\")"),
        "{debug}"
    );
    assert!(debug.contains("the-client"), "{debug}");
    assert!(
        debug.contains("client_secret: Some(\"[REDACTED]\")"),
        "{debug}"
    );
    assert!(!debug.contains("-value"), "{debug}");
}

#[test]
fn a_borrowed_password_prompt_answers_as_the_prompt_does() {
    let prompt =
        prompt_fn(
            |asked: String| async move { Ok(SecretString::from(format!("answer to {asked}"))) },
        );
    let borrowed: &dyn PasswordPrompt = &prompt;
    let password = block_on((&borrowed).password("Password:")).unwrap();
    assert_eq!(password.expose_secret(), "answer to Password:");
}

#[test]
fn a_boxed_password_prompt_answers_as_the_prompt_does() {
    let prompt: Box<dyn PasswordPrompt> = Box::new(prompt_fn(|_asked: String| async move {
        Ok(SecretString::from("boxed answer"))
    }));
    let password = block_on(prompt.password("Password:")).unwrap();
    assert_eq!(password.expose_secret(), "boxed answer");
}

/// A challenge handler that is not locally eligible and answers with the challenge's type.
#[derive(Debug)]
struct Ineligible;

#[async_trait::async_trait]
impl credkit_refresh_token::ReauthChallenge for Ineligible {
    fn is_locally_eligible(&self) -> bool {
        false
    }

    async fn respond(
        &self,
        challenge: &credkit_refresh_token::Challenge,
    ) -> credkit_core::Result<Option<credkit_refresh_token::ProposalResponse>> {
        Ok(Some(credkit_refresh_token::ProposalResponse::new(
            json!({"answered": challenge.challenge_type()}),
        )))
    }
}

#[test]
fn challenge_wrappers_forward_eligibility_and_answers() {
    use credkit_refresh_token::{Challenge, ReauthChallenge};
    use std::sync::Arc;
    let challenge = Challenge::from_json(json!({"challengeType": "SAML", "challengeId": 1}));
    let check = |handler: &dyn ReauthChallenge, label: &str| {
        assert!(!handler.is_locally_eligible(), "{label}");
        let answer = block_on(handler.respond(&challenge)).unwrap();
        assert_eq!(
            format!("{answer:?}"),
            "Some(ProposalResponse([REDACTED]))",
            "{label}"
        );
    };
    check(&&Ineligible, "&T");
    check(&Box::new(Ineligible), "Box<T>");
    check(&Arc::new(Ineligible), "Arc<T>");
    let handler = credkit_refresh_token::challenge_fn(|_challenge| async { Ok(None) });
    assert_eq!(format!("{handler:?}"), "ChallengeFn { .. }");
    // Eligible by default, through every wrapper too.
    let borrowed: &dyn ReauthChallenge = &&handler;
    assert!(borrowed.is_locally_eligible());
    assert!(Box::new(handler.clone()).is_locally_eligible());
    assert!(Arc::new(handler).is_locally_eligible());
    let prompt = prompt_fn(|_asked: String| async move { Ok(SecretString::from("p")) });
    assert_eq!(format!("{prompt:?}"), "PromptFn { .. }");
}

#[test]
fn a_credentials_file_up_to_one_mebibyte_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authorized_user.json");
    let json = r#"{"type": "authorized_user", "client_id": "id", "client_secret": "s", "refresh_token": "r"}"#;
    let padded = format!("{json}{}", " ".repeat(1024 * 1024 - json.len()));
    std::fs::write(&path, &padded).unwrap();
    let credentials = UserCredentials::from_authorized_user_file(&path, None).unwrap();
    assert_eq!(credentials.client_id(), Some("id"));
    std::fs::write(&path, format!("{padded} ")).unwrap();
    let error = UserCredentials::from_authorized_user_file(&path, None).unwrap_err();
    assert!(error.to_string().contains("larger than 1 MiB"), "{error}");
}

#[test]
fn a_challenge_handler_plugged_again_replaces_the_earlier_one() {
    let handler = || credkit_refresh_token::challenge_fn(|_challenge| async { Ok(None) });
    let credentials = UserCredentials::builder()
        .with_token("ya29.t")
        .with_reauth_challenge("SAML", handler())
        .with_reauth_challenge("OTHER", handler())
        .with_reauth_challenge("SAML", handler())
        .build()
        .unwrap();
    let debug = format!("{credentials:?}");
    assert!(debug.contains("handlers: [\"OTHER\", \"SAML\"]"), "{debug}");
}

#[test]
fn to_json_writes_every_field_escaped_as_the_reference_does() {
    let credentials = UserCredentials::builder()
        .with_token("ya29.t")
        .with_refresh_token("1//r")
        .with_client_id("id")
        .with_client_secret("s\u{1}\u{e9}\u{1F600}")
        .with_scopes(["email", "\u{7f}"])
        .build()
        .unwrap();
    assert_eq!(
        credentials
            .to_json(&["universe_domain", "account"])
            .as_str(),
        r#"{"token": "ya29.t", "refresh_token": "1//r", "client_id": "id", "client_secret": "s\u0001\u00e9\ud83d\ude00", "scopes": ["email", "\u007f"]}"#
    );
}
