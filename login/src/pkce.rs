//! Proof Key for Code Exchange (RFC 7636) with the S256 method, and the random values a login
//! is bound to.

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use credkit_core::{Error, ErrorKind, Result};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// A PKCE code verifier (RFC 7636 section 4.1): 64 characters of base64url, from 48 bytes of
/// the operating system's random source (384 bits, above the 256 the RFC recommends).
///
/// The verifier is a secret until the code exchange: only its S256 challenge goes into the
/// authorization URL, so whoever intercepts the redirect's code cannot redeem it. It never
/// appears in `Debug`, and it is zeroized on drop.
///
/// ```
/// use credkit_login::PkceVerifier;
/// use secrecy::ExposeSecret;
///
/// let verifier = PkceVerifier::generate()?;
/// assert_eq!(verifier.secret().expose_secret().len(), 64);
/// assert_eq!(verifier.challenge().len(), 43); // base64url of a SHA-256 digest
/// assert_eq!(format!("{verifier:?}"), "PkceVerifier([REDACTED])");
/// # Ok::<(), credkit_core::Error>(())
/// ```
pub struct PkceVerifier(SecretString);

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier([REDACTED])")
    }
}

/// The method this crate sends: SHA-256 (RFC 7636 section 4.2); `plain` is never used.
pub const CODE_CHALLENGE_METHOD: &str = "S256";

impl PkceVerifier {
    /// A new random verifier.
    ///
    /// # Errors
    ///
    /// An internal error when the system's random source fails (it does not on supported
    /// systems).
    pub fn generate() -> Result<Self> {
        let bytes = random_bytes::<48>()?;
        Ok(Self(SecretString::from(URL_SAFE_NO_PAD.encode(*bytes))))
    }

    /// The verifier, sent once, with the code exchange.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }

    /// The S256 challenge: `BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`, no padding.
    ///
    /// ```
    /// use credkit_login::PkceVerifier;
    ///
    /// // RFC 7636, appendix B.
    /// let verifier = PkceVerifier::from_secret("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
    /// assert_eq!(verifier.challenge(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    /// ```
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest(&SHA256, self.0.expose_secret().as_bytes()))
    }

    /// A verifier from given text, for tests and for flows that keep the verifier across
    /// processes. The text should be 43 to 128 characters of `[A-Za-z0-9-._~]`.
    pub fn from_secret(secret: SecretString) -> Self {
        Self(secret)
    }
}

/// A new `state` value (RFC 6749 section 10.12): 32 random bytes in base64url, to tie the
/// redirect to the request this process made.
pub(crate) fn new_state() -> Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(*random_bytes::<32>()?))
}

fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>> {
    let mut bytes = Zeroizing::new([0_u8; N]);
    SystemRandom::new().fill(&mut *bytes).map_err(|_| {
        Error::new(
            ErrorKind::Internal,
            "the system's random source failed; a login cannot be made without it",
        )
    })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_are_fresh_and_use_the_unreserved_alphabet() {
        let a = PkceVerifier::generate().unwrap();
        let b = PkceVerifier::generate().unwrap();
        assert_ne!(a.secret().expose_secret(), b.secret().expose_secret());
        assert!(
            a.secret()
                .expose_secret()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        );
        assert_ne!(a.challenge(), b.challenge());
    }

    #[test]
    fn debug_shows_no_verifier() {
        let verifier =
            PkceVerifier::from_secret("a-verifier-of-forty-three-characters-000000".into());
        assert_eq!(format!("{verifier:?}"), "PkceVerifier([REDACTED])");
    }

    #[test]
    fn states_are_fresh() {
        let a = new_state().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, new_state().unwrap());
    }
}
