//! `from_authorized_user_info(to_json(x))` gives back every field `to_json` writes.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use credkit_refresh_token::{GOOGLE_TOKEN_URI, UserCredentials};
use credkit_testing::strategies::{expiry, scope_list, secret};
use proptest::prelude::*;
use secrecy::ExposeSecret;

proptest! {
    #[test]
    fn to_json_then_from_info_round_trips(
        token in proptest::option::of(secret()),
        refresh in secret(),
        client_id in "[0-9a-z.-]{1,40}",
        client_secret in secret(),
        scopes in proptest::option::of(scope_list()),
        rapt in proptest::option::of(secret()),
        account in "[a-zé@.]{0,20}",
        expiry in proptest::option::of(expiry()),
        with_micros in 0_u32..1_000_000,
    ) {
        let mut builder = UserCredentials::builder()
            .with_refresh_token(refresh.clone())
            .with_token_uri("https://elsewhere.example/token")
            .with_client_id(client_id.clone())
            .with_client_secret(client_secret.clone())
            .with_account(account.clone());
        if let Some(token) = &token { builder = builder.with_token(token.clone()); }
        if let Some(scopes) = &scopes { builder = builder.with_scopes(scopes.clone()); }
        if let Some(rapt) = &rapt { builder = builder.with_rapt_token(rapt.clone()); }
        let expiry = expiry.map(|e| e.replace_microsecond(with_micros).unwrap());
        if let Some(expiry) = expiry { builder = builder.with_expiry(expiry); }
        let original = builder.build().unwrap();

        let json = original.to_json(&[]);
        let info: serde_json::Value = serde_json::from_str(&json).unwrap();
        let back = UserCredentials::from_authorized_user_info(&info, None).unwrap();

        prop_assert_eq!(back.token().map(|t| t.expose_secret().to_owned()), token);
        let back_refresh = back.refresh_token().unwrap();
        prop_assert_eq!(back_refresh.expose_secret(), refresh.as_str());
        prop_assert_eq!(back.client_id(), Some(client_id.as_str()));
        prop_assert_eq!(back.client_secret().unwrap().expose_secret(), client_secret.as_str());
        prop_assert_eq!(back.scopes().map(<[String]>::to_vec), scopes);
        prop_assert_eq!(back.rapt_token().map(|t| t.expose_secret().to_owned()), rapt);
        prop_assert_eq!(back.account(), account.as_str());
        prop_assert_eq!(back.universe_domain(), "googleapis.com");
        // Loading forces Google's endpoint.
        prop_assert_eq!(back.token_uri(), Some(GOOGLE_TOKEN_URI));
        // The expiry comes back to the second (the reference drops fractions on load).
        if let Some(expiry) = expiry {
            prop_assert_eq!(back.expiry(), Some(expiry.replace_microsecond(0).unwrap()));
        }
    }
}
