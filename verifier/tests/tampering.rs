//! Any single-byte change to a valid token is rejected.
// Helpers outside #[test] functions unwrap too: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use credkit_testing::FakeClock;
use credkit_verifier::IdTokenVerifier;
use futures::executor::block_on;
use proptest::prelude::*;
use support::{assert_clean, claims, issuer, offline};

fn tokens() -> &'static (IdTokenVerifier, String, String) {
    static TOKENS: std::sync::OnceLock<(IdTokenVerifier, String, String)> =
        std::sync::OnceLock::new();
    TOKENS.get_or_init(|| {
        let clock = FakeClock::new();
        let verifier = offline(&clock);
        (
            verifier,
            issuer().mint(&claims(&clock)),
            issuer().mint_es256(&claims(&clock)),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_single_byte_change_is_rejected(
        es256 in any::<bool>(),
        position in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let (verifier, rs, es) = tokens();
        let token = if es256 { es } else { rs };
        prop_assert!(block_on(verifier.verify(token)).is_ok());
        let mut bytes = token.clone().into_bytes();
        let at = position.index(bytes.len());
        prop_assume!(bytes[at] != replacement);
        bytes[at] = replacement;
        // A byte that breaks UTF-8 cannot even be passed as a &str: rejected by the type.
        let Ok(changed) = String::from_utf8(bytes) else { return Ok(()) };
        let result = block_on(verifier.verify(&changed));
        prop_assert!(result.is_err(), "accepted a token changed at {at}");
        assert_clean(&result.unwrap_err(), &changed);
    }

    #[test]
    fn any_base64url_character_swap_is_rejected(
        es256 in any::<bool>(),
        position in any::<prop::sample::Index>(),
        replacement in prop::sample::select(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()
        ),
    ) {
        // The changes most likely to slip through: a valid character for a valid one.
        let (verifier, rs, es) = tokens();
        let token = if es256 { es } else { rs };
        let mut bytes = token.clone().into_bytes();
        let at = position.index(bytes.len());
        prop_assume!(bytes[at] != replacement && bytes[at] != b'.');
        bytes[at] = replacement;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(block_on(verifier.verify(&changed)).is_err(), "accepted a token changed at {at}");
    }
}
