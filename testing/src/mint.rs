//! `IdTokenMinter`: how a fake signs the ID tokens it hands out.

use std::fmt;
use std::sync::Arc;

/// Turns an ID token's claims into the token a fake hands out: what
/// [`JwtBearerCheck::with_id_token_minter`](crate::JwtBearerCheck::with_id_token_minter),
/// [`FakeMetadataServerBuilder::with_id_token_minter`](crate::FakeMetadataServerBuilder::with_id_token_minter),
/// [`FakeIamServerBuilder::with_id_token_minter`](crate::FakeIamServerBuilder::with_id_token_minter)
/// and [`FakeAuthorizationServerBuilder::with_id_token_minter`](crate::FakeAuthorizationServerBuilder::with_id_token_minter)
/// keep, so that a test's own issuer (with keys a verifier can fetch) signs them.
///
/// ```
/// use credkit_testing::IdTokenMinter;
///
/// let minter = IdTokenMinter::new(|claims| format!("e30.{}.c2ln", claims["aud"].as_str().unwrap_or("")));
/// assert_eq!(minter.mint(&serde_json::json!({"aud": "a"})), "e30.a.c2ln");
/// ```
#[derive(Clone)]
pub struct IdTokenMinter(Arc<dyn Fn(&serde_json::Value) -> String + Send + Sync>);

impl IdTokenMinter {
    /// A minter calling `mint` with the claims.
    pub fn new(mint: impl Fn(&serde_json::Value) -> String + Send + Sync + 'static) -> Self {
        Self(Arc::new(mint))
    }

    /// The token for `claims`.
    pub fn mint(&self, claims: &serde_json::Value) -> String {
        (self.0)(claims)
    }
}

impl fmt::Debug for IdTokenMinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdTokenMinter")
    }
}
