//! The signature algorithms a verifier may accept.

use std::fmt;

/// A signature algorithm of ID tokens. Only these two exist here, so `none`, the HMAC
/// algorithms and the rest can never be allowed.
///
/// ```
/// use credkit_verifier::Algorithm;
///
/// assert_eq!(Algorithm::RS256.name(), "RS256");
/// assert_eq!(Algorithm::from_name("ES256"), Some(Algorithm::ES256));
/// assert_eq!(Algorithm::from_name("HS256"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256: Google's OAuth 2.0 and service-account ID tokens.
    RS256,
    /// ECDSA on P-256 with SHA-256: IAP's signed headers.
    ES256,
}

impl Algorithm {
    /// The `alg` header value.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
        }
    }

    /// The algorithm an `alg` header value names, if it is one of these (case-sensitive, as
    /// JOSE is).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::RS256),
            "ES256" => Some(Self::ES256),
            _ => None,
        }
    }

    pub(crate) const fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::RS256 => jsonwebtoken::Algorithm::RS256,
            Self::ES256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_nothing_else_is_an_algorithm() {
        for algorithm in [Algorithm::RS256, Algorithm::ES256] {
            assert_eq!(Algorithm::from_name(algorithm.name()), Some(algorithm));
            assert_eq!(algorithm.to_string(), algorithm.name());
        }
        assert_eq!(Algorithm::RS256.to_string(), "RS256");
        assert_eq!(Algorithm::ES256.to_string(), "ES256");
        for other in ["none", "HS256", "rs256", "ES384", ""] {
            assert_eq!(Algorithm::from_name(other), None, "{other}");
        }
        assert_eq!(
            Algorithm::RS256.jsonwebtoken(),
            jsonwebtoken::Algorithm::RS256
        );
        assert_eq!(
            Algorithm::ES256.jsonwebtoken(),
            jsonwebtoken::Algorithm::ES256
        );
    }
}
