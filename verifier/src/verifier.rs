//! `IdTokenVerifier`: parse, find the key, check the signature, check the claims.

use std::fmt;
use std::sync::Arc;

use credkit_core::Clock;
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;

use crate::builder::{
    GOOGLE_ISSUERS, GOOGLE_JWKS_URL, IAP_ISSUER, IAP_JWKS_URL, IdTokenVerifierBuilder,
};
use crate::cache::RemoteKeys;
use crate::claims::Policy;
use crate::error::sanitize;
use crate::keys::{Key, KeySet, Selection};
use crate::token::{self, Parsed};
use crate::{Algorithm, IdTokenClaims, VerifyError};

/// Verifies ID tokens: the signature (RS256, ES256) with keys fetched and cached, or given
/// offline; then `iss`, `aud`, `exp` and `iat` (with a bounded clock skew), and optionally
/// `hd` and `email_verified`.
///
/// Cheap to clone (clones share the key cache), `Send + Sync`. Build it once and keep it.
///
/// # Examples
///
/// Offline, with keys at hand (here a test issuer's):
///
/// ```
/// use credkit_core::Clock;
/// use credkit_testing::{FakeClock, TestIdTokenIssuer};
/// use credkit_verifier::{IdTokenVerifier, VerifyError};
///
/// # futures::executor::block_on(async {
/// let issuer = TestIdTokenIssuer::generate()?;
/// let clock = FakeClock::new();
/// let verifier = IdTokenVerifier::builder()
///     .with_audience("https://my-service.example")
///     .with_jwk_set(issuer.jwk_set_json())
///     .with_clock(clock.clone())
///     .build()?;
///
/// let token = issuer.mint(&TestIdTokenIssuer::google_claims("https://my-service.example", clock.now()));
/// let claims = verifier.verify(&token).await?;
/// assert_eq!(claims.aud, "https://my-service.example");
///
/// let other = issuer.mint(&TestIdTokenIssuer::google_claims("https://other.example", clock.now()));
/// assert!(matches!(verifier.verify(&other).await, Err(VerifyError::WrongAudience { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// Online, Google's keys fetched through a transport (any [`credkit_core::Transport`]):
///
/// ```no_run
/// # async fn run(transport: std::sync::Arc<dyn credkit_core::Transport>, token: &str)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use credkit_verifier::IdTokenVerifier;
///
/// let verifier = IdTokenVerifier::google()
///     .with_audience("https://my-service-abc123-uc.a.run.app")
///     .with_transport(transport)
///     .build()?;
/// let claims = verifier.verify(token).await?;
/// println!("caller: {}", claims.email.as_deref().unwrap_or(&claims.sub));
/// # Ok(())
/// # }
/// # let _ = run;
/// ```
#[derive(Clone)]
pub struct IdTokenVerifier {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) policy: Policy,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) keys: KeySource,
    pub(crate) clock: Arc<dyn Clock>,
}

pub(crate) enum KeySource {
    Offline(Arc<KeySet>),
    Remote(Box<RemoteKeys>),
}

impl IdTokenVerifier {
    /// A builder for Google's ID tokens: issuers [`GOOGLE_ISSUERS`], keys from
    /// [`GOOGLE_JWKS_URL`], RS256 and ES256 accepted.
    pub fn builder() -> IdTokenVerifierBuilder {
        IdTokenVerifierBuilder::new(
            &GOOGLE_ISSUERS,
            GOOGLE_JWKS_URL,
            &[Algorithm::RS256, Algorithm::ES256],
        )
    }

    /// A builder for the ID tokens of Google's OAuth 2.0 server, service accounts and the
    /// metadata server: issuers [`GOOGLE_ISSUERS`], keys from [`GOOGLE_JWKS_URL`], RS256 only
    /// (what Google signs them with).
    pub fn google() -> IdTokenVerifierBuilder {
        IdTokenVerifierBuilder::new(&GOOGLE_ISSUERS, GOOGLE_JWKS_URL, &[Algorithm::RS256])
    }

    /// A builder for IAP's signed headers (`x-goog-iap-jwt-assertion`): issuer
    /// [`IAP_ISSUER`], keys from [`IAP_JWKS_URL`], ES256 only. Their audience is
    /// `/projects/PROJECT_NUMBER/apps/PROJECT_ID` (App Engine) or
    /// `/projects/PROJECT_NUMBER/global/backendServices/SERVICE_ID`.
    pub fn iap() -> IdTokenVerifierBuilder {
        IdTokenVerifierBuilder::new(&[IAP_ISSUER], IAP_JWKS_URL, &[Algorithm::ES256])
    }

    /// Verifies `token` and returns its claims.
    ///
    /// In order: the length (at most [`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN) bytes), the three
    /// segments and the header, the algorithm, the key (fetching keys when the cache is cold or
    /// stale, or once per minimum interval when the `kid` is unknown), the signature, then the
    /// claims: `exp`/`iat`/`nbf` against the clock with the skew, `iss`, `aud`, `sub`, `hd`,
    /// `email_verified`.
    ///
    /// Cancel-safe: dropping the future while it fetches keys abandons that fetch; other
    /// callers waiting for it start their own.
    ///
    /// # Errors
    ///
    /// The [`VerifyError`] saying why the token was rejected, or
    /// [`VerifyError::KeyFetch`] when no keys could be had.
    pub async fn verify(&self, token: &str) -> Result<IdTokenClaims, VerifyError> {
        let inner = &*self.inner;
        let parsed = token::parse(token, &inner.algorithms)?;
        match &inner.keys {
            KeySource::Offline(keys) => check_signature(keys, &parsed)?,
            KeySource::Remote(remote) => {
                let now = inner.clock.now();
                let snapshot = remote.current(now).await?;
                match check_signature(&snapshot.keys, &parsed) {
                    Err(VerifyError::UnknownKey { kid }) => {
                        let Some(refreshed) = remote.refresh_for_unknown_key(&snapshot, now).await
                        else {
                            return Err(VerifyError::UnknownKey { kid });
                        };
                        check_signature(&refreshed.keys, &parsed)?;
                    }
                    other => other?,
                }
            }
        }
        inner.policy.check(&parsed.payload, inner.clock.now())
    }
}

/// Checks the signature of `parsed` with the key its `kid` names (every key of its algorithm
/// when it names none).
fn check_signature(keys: &KeySet, parsed: &Parsed<'_>) -> Result<(), VerifyError> {
    let kid = parsed.kid.as_deref();
    match keys.select(kid, parsed.algorithm) {
        Selection::Keys(candidates) => {
            if candidates
                .into_iter()
                .any(|key| signature_verifies(key, parsed))
            {
                Ok(())
            } else {
                Err(VerifyError::BadSignature)
            }
        }
        Selection::Mismatch => Err(VerifyError::KeyMismatch {
            kid: sanitize(kid.unwrap_or("")),
            alg: parsed.algorithm.name(),
        }),
        Selection::Unknown => Err(VerifyError::UnknownKey {
            kid: sanitize(kid.unwrap_or("")),
        }),
    }
}

fn signature_verifies(key: &Key, parsed: &Parsed<'_>) -> bool {
    // The aws-lc-rs provider by name, not the process default: a build that also enables
    // jsonwebtoken's rust_crypto has no default, and asking for it would panic.
    (DEFAULT_PROVIDER.verifier_factory)(&parsed.algorithm.jsonwebtoken(), key.decoding()).is_ok_and(
        |verifier| {
            verifier
                .verify(parsed.message.as_bytes(), &parsed.signature)
                .is_ok()
        },
    )
}

impl fmt::Debug for IdTokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut out = f.debug_struct("IdTokenVerifier");
        out.field("issuers", &inner.policy.issuers)
            .field("audiences", &inner.policy.audiences)
            .field("algorithms", &inner.algorithms)
            .field("clock_skew", &inner.policy.clock_skew);
        match &inner.keys {
            KeySource::Offline(keys) => out.field("keys", keys),
            KeySource::Remote(remote) => out.field("keys_url", remote.url()),
        };
        out.finish_non_exhaustive()
    }
}
