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

#[test]
fn authorized_user_info_keeps_a_trust_boundary_and_defaults_a_missing_expiry_to_expired() {
    let info = json!({
        "type": "authorized_user", "client_id": "id", "client_secret": "s",
        "refresh_token": "r", "token": "ya29.t", "trust_boundary": {"locations": ["us"]},
    });
    let credentials = UserCredentials::from_authorized_user_info(&info, None).unwrap();
    assert_eq!(
        credentials.trust_boundary(),
        Some(&json!({"locations": ["us"]}))
    );
    // No expiry: the token counts as expired a whole threshold ago, as the reference has it.
    let expiry = credentials.expiry().unwrap();
    let now = time::OffsetDateTime::now_utc();
    assert!(expiry < now - time::Duration::seconds(200), "{expiry}");
    assert!(expiry > now - time::Duration::seconds(300), "{expiry}");

    let mut info = info;
    info["trust_boundary"] = json!(null);
    info["expiry"] = json!("");
    let credentials = UserCredentials::from_authorized_user_info(&info, None).unwrap();
    assert!(credentials.trust_boundary().is_none());
    assert!(credentials.expiry().unwrap() < time::OffsetDateTime::now_utc());
}

#[test]
fn builder_settings_without_a_read_back_of_their_own_still_reach_the_credentials() {
    let credentials = UserCredentials::builder()
        .with_token("ya29.t")
        .with_id_token("eyJ.id.token")
        .with_refresh_handler(credkit_refresh_handler::handler_fn(
            |_transport, _scopes| async {
                Err::<(String, time::OffsetDateTime), _>(credkit_core::Error::new(
                    credkit_core::ErrorKind::Provider,
                    "unused",
                ))
            },
        ))
        .without_refresh_handler()
        .build()
        .unwrap();
    assert_eq!(
        credentials.id_token().unwrap().expose_secret(),
        "eyJ.id.token"
    );
    assert!(credentials.refresh_handler().is_none());
    let builder = UserCredentials::builder().with_client_id("the-client");
    let debug = format!("{builder:?}");
    assert!(
        debug.starts_with("UserCredentialsBuilder {") && debug.contains("the-client"),
        "{debug}"
    );
}

#[test]
fn as_a_token_source_it_names_itself_serves_its_token_and_adopts_a_rotation() {
    use credkit_core::{AccessToken, CredentialRecord, TokenSource};
    let credentials = UserCredentials::builder()
        .with_token("ya29.stored")
        .with_refresh_token("1//old")
        .with_client_id("id")
        .with_client_secret("s")
        .with_quota_project("billing")
        .build()
        .unwrap();
    assert_eq!(
        TokenSource::name(&credentials),
        "authorized user (refresh token)"
    );
    let stored = credentials.initial_token().unwrap();
    assert_eq!(stored.secret().expose_secret(), "ya29.stored");
    assert_eq!(stored.quota_project(), Some("billing"));
    let record = CredentialRecord::new()
        .with_access_token(&AccessToken::new("ya29.new"))
        .with_refresh_token(SecretString::from("1//rotated"));
    credentials.adopt_record(&record);
    assert_eq!(
        credentials.refresh_token().unwrap().expose_secret(),
        "1//rotated"
    );
}

#[test]
fn a_grant_error_that_is_no_reauth_challenge_stays_what_it_is() {
    use credkit_core::{ErrorKind, TokenSource};
    let endpoint = credkit_testing::FakeTokenEndpoint::new();
    endpoint.push_reply(credkit_testing::Reply::oauth_error(
        400,
        "invalid_grant",
        Some("Token has been expired or revoked."),
    ));
    let credentials = UserCredentials::builder()
        .with_refresh_token("1//r")
        .with_client_id("id")
        .with_client_secret("s")
        .with_token_uri(endpoint.token_url())
        .with_transport(endpoint.clone())
        .build()
        .unwrap();
    let error = block_on(credentials.fetch_token()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TokenEndpoint);
    assert_eq!(error.oauth_error(), Some("invalid_grant"));

    // Even where reauthentication may run, such an error does not start it.
    endpoint.push_reply(credkit_testing::Reply::oauth_error(
        400,
        "invalid_grant",
        Some("Token has been expired or revoked."),
    ));
    let credentials = credentials
        .to_builder()
        .with_enable_reauth_refresh(true)
        .build()
        .unwrap();
    let error = block_on(credkit_core::interactive::interactive(
        credentials.fetch_token(),
    ))
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TokenEndpoint, "{error}");
    assert_eq!(endpoint.request_count(), 2, "no request but the two grants");
}

#[test]
fn has_scopes_checks_each_scope() {
    let credentials = UserCredentials::builder()
        .with_token("ya29.t")
        .with_scopes(["email", "profile"])
        .build()
        .unwrap();
    assert!(credentials.has_scopes(&["email", "profile"]));
    assert!(!credentials.has_scopes(&["email", "drive"]));
}

#[test]
fn a_grant_short_of_the_requested_scopes_warns_as_the_reference_does() {
    use credkit_core::TokenSource;
    let endpoint = credkit_testing::FakeTokenEndpoint::new();
    let granted = |scope: &str| {
        credkit_testing::Reply::json(
            200,
            json!({"access_token": "ya29.t", "expires_in": 3600, "scope": scope}),
        )
    };
    endpoint.push_replies([granted("email"), granted("email profile")]);
    let credentials = UserCredentials::builder()
        .with_refresh_token("1//r")
        .with_client_id("id")
        .with_client_secret("s")
        .with_scopes(["email", "profile"])
        .with_token_uri(endpoint.token_url())
        .with_transport(endpoint.clone())
        .build()
        .unwrap();
    let warnings = || {
        let (token, lines) = credkit_testing::capture_logs(|| block_on(credentials.fetch_token()));
        token.unwrap();
        lines
            .into_iter()
            .filter(|line| line.level == tracing::Level::WARN)
            .map(|line| line.text)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        warnings(),
        [
            "Not all requested scopes were granted by the authorization server, missing scopes profile."
        ]
    );
    assert!(warnings().is_empty(), "everything requested was granted");
}

#[test]
fn a_rapt_token_stored_as_a_plain_field_by_an_older_version_is_still_read() {
    let mut fields = serde_json::Map::new();
    fields.insert("rapt_token".into(), json!("legacy_rapt"));
    let legacy = credkit_core::CredentialRecord::new().with_provider_fields(fields.clone());
    let creds = UserCredentials::builder()
        .with_refresh_token("1//refresh")
        .build()
        .unwrap();
    let restored = creds.with_record(&legacy);
    assert_eq!(
        restored.rapt_token().unwrap().expose_secret(),
        "legacy_rapt"
    );
    // The secret slot wins over the old field; a record with neither keeps the rapt token held.
    let both = credkit_core::CredentialRecord::new()
        .with_provider_fields(fields)
        .with_provider_secret("rapt_token", SecretString::from("new_rapt"));
    assert_eq!(
        creds
            .with_record(&both)
            .rapt_token()
            .unwrap()
            .expose_secret(),
        "new_rapt"
    );
    let held = restored.with_record(&credkit_core::CredentialRecord::new());
    assert_eq!(held.rapt_token().unwrap().expose_secret(), "legacy_rapt");
    // And the record written now carries it as a secret, not a field.
    let written = restored.to_record();
    assert!(written.provider_secret("rapt_token").is_some());
    assert!(!written.provider_fields().contains_key("rapt_token"));
}
