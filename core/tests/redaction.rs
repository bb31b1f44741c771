//! No type that holds a secret shows it in `Debug`, `Display` or an error message.

use credkit_core::{
    AccessToken, ChainSource, CredentialRecord, MemoryStorage, StaticSource, Storage, TokenSource,
};
use credkit_testing::strategies::{access_token, secret};
use futures::executor::block_on;
use proptest::prelude::*;
use secrecy::{ExposeSecret, SecretString};

fn assert_hidden(rendered: &str, secrets: &[&str]) -> Result<(), TestCaseError> {
    for secret in secrets {
        prop_assert!(
            !rendered.contains(secret),
            "secret leaked into {rendered:?}"
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn access_token_debug_hides_every_secret(token in secret(), id in secret(), rotated in secret()) {
        let value = AccessToken::new(token.clone())
            .with_id_token(SecretString::from(id.clone()))
            .with_rotated_refresh_token(SecretString::from(rotated.clone()));
        let secrets = [token.as_str(), id.as_str(), rotated.as_str()];
        assert_hidden(&format!("{value:?}"), &secrets)?;
        assert_hidden(&format!("{value:#?}"), &secrets)?;
        let source = StaticSource::new(value);
        assert_hidden(&format!("{source:?}"), &secrets)?;
    }

    #[test]
    fn generated_tokens_never_show_their_secret(token in access_token()) {
        let secret = token.secret().expose_secret().to_owned();
        assert_hidden(&format!("{token:?}"), &[&secret])?;
    }

    #[test]
    fn credential_record_and_storage_hide_secrets(token in secret(), refresh in secret()) {
        let record = CredentialRecord::new()
            .with_access_token(&AccessToken::new(token.clone()))
            .with_refresh_token(SecretString::from(refresh.clone()));
        let secrets = [token.as_str(), refresh.as_str()];
        assert_hidden(&format!("{record:?}"), &secrets)?;
        let storage = MemoryStorage::new();
        block_on(storage.store("user@example.com", &record)).unwrap();
        assert_hidden(&format!("{storage:?}"), &secrets)?;
        // The serialized form is the one place the secrets are written, and it keeps them.
        let json = record.to_json().unwrap();
        let text = String::from_utf8(json.to_vec()).unwrap();
        prop_assert!(text.contains(&token) && text.contains(&refresh));
    }

    #[test]
    fn validation_errors_never_echo_the_token(token in secret(), bad in "[\r\n\t \u{0}]") {
        let candidate = format!("{token}{bad}");
        let err = AccessToken::validated(candidate).unwrap_err();
        assert_hidden(&err.to_string(), &[&token])?;
        assert_hidden(&format!("{err:?}"), &[&token])?;
        // Nor does an aggregated chain error built from sources holding secrets.
        let chain = ChainSource::new().with(StaticSource::new(AccessToken::new(token.clone())));
        assert_hidden(&format!("{chain:?}"), &[&token])?;
        let fetched = block_on(chain.fetch_token()).unwrap();
        prop_assert_eq!(fetched.secret().expose_secret(), token.as_str());
    }
}
