//! `IdTokenVerifierBuilder`: what a verifier accepts, where its keys come from.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use credkit_core::{BuildError, Clock, SystemClock, Transport};
use http::Uri;

use crate::cache::{DEFAULT_KEYS_MAX_AGE, RemoteKeys};
use crate::claims::Policy;
use crate::keys::{Key, KeySet};
use crate::verifier::{Inner, KeySource};
use crate::{Algorithm, IdTokenVerifier};

/// The issuers of Google's ID tokens (OAuth 2.0 clients, service accounts, the metadata server).
pub const GOOGLE_ISSUERS: [&str; 2] = ["accounts.google.com", "https://accounts.google.com"];

/// Google's keys for its ID tokens, as a JWK set (RS256).
pub const GOOGLE_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// The same keys as PEM X.509 certificates by key ID (what google-auth's `verify_token` reads).
pub const GOOGLE_CERTS_URL: &str = "https://www.googleapis.com/oauth2/v1/certs";

/// The issuer of IAP's signed headers (`x-goog-iap-jwt-assertion`).
pub const IAP_ISSUER: &str = "https://cloud.google.com/iap";

/// IAP's keys as a JWK set (ES256).
pub const IAP_JWKS_URL: &str = "https://www.gstatic.com/iap/verify/public_key-jwk";

/// IAP's keys as PEM public keys by key ID.
pub const IAP_PEM_URL: &str = "https://www.gstatic.com/iap/verify/public_key";

/// The clock skew allowed by default on `iat`, `nbf` and `exp` (as Google's Rust library).
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(10);

/// The largest clock skew a verifier accepts: beyond it an expired token stays valid too long.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// The least time between two key refreshes caused by tokens naming an unknown key.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// How long one key fetch may take before it fails with a timeout.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds an [`IdTokenVerifier`]; from [`IdTokenVerifier::builder`] (Google's ID tokens, RS256
/// and ES256), [`IdTokenVerifier::google`] or [`IdTokenVerifier::iap`].
///
/// An audience is required ([`with_audience`](Self::with_audience)) unless
/// [`dangerous_skip_audience`](Self::dangerous_skip_audience) says otherwise: a token minted for
/// another service would pass. Keys come from a URL through a
/// [`with_transport`](Self::with_transport), or are given offline
/// ([`with_jwk_set`](Self::with_jwk_set), [`with_pem_keys`](Self::with_pem_keys),
/// [`with_key_pem`](Self::with_key_pem)); a verifier with offline keys never fetches.
#[must_use]
pub struct IdTokenVerifierBuilder {
    audiences: Vec<String>,
    skip_audience: bool,
    issuers: Vec<String>,
    keys_url: String,
    algorithms: Vec<Algorithm>,
    clock_skew: Duration,
    hosted_domain: Option<String>,
    require_email_verified: bool,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
    min_refresh_interval: Duration,
    default_max_age: Duration,
    fetch_timeout: Duration,
    offline: Vec<Offline>,
}

/// Offline keys as given, parsed by `build`.
enum Offline {
    Document(String),
    Pem(String, String),
}

impl IdTokenVerifierBuilder {
    pub(crate) fn new(issuers: &[&str], keys_url: &str, algorithms: &[Algorithm]) -> Self {
        Self {
            audiences: Vec::new(),
            skip_audience: false,
            issuers: issuers.iter().map(|&issuer| issuer.to_owned()).collect(),
            keys_url: keys_url.to_owned(),
            algorithms: algorithms.to_vec(),
            clock_skew: DEFAULT_CLOCK_SKEW,
            hosted_domain: None,
            require_email_verified: false,
            transport: None,
            clock: Arc::new(SystemClock),
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            default_max_age: DEFAULT_KEYS_MAX_AGE,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            offline: Vec::new(),
        }
    }

    /// Accepts tokens for `audience` (a Cloud Run URL, an OAuth client ID, IAP's
    /// `/projects/NUMBER/apps/PROJECT`). Call it again to accept several.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accepts tokens for any of `audiences`.
    pub fn with_audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// Accepts tokens whatever their audience. Dangerous: a token Google issued for any other
    /// service (any Cloud Run URL, anyone's OAuth client) then passes. Only for tools that
    /// inspect tokens, never to authenticate callers.
    pub fn dangerous_skip_audience(mut self) -> Self {
        self.skip_audience = true;
        self
    }

    /// The accepted issuers, replacing the preset's.
    pub fn with_issuers<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.issuers = issuers.into_iter().map(Into::into).collect();
        self
    }

    /// Where the keys are fetched: a JWK set (an object with `keys`), or an object mapping key
    /// IDs to PEM certificates or public keys. Default: the preset's ([`GOOGLE_JWKS_URL`]).
    pub fn with_keys_url(mut self, url: impl Into<String>) -> Self {
        self.keys_url = url.into();
        self
    }

    /// The accepted algorithms, replacing the preset's. A key serves only its family's
    /// algorithm (RSA keys RS256, P-256 keys ES256).
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// The clock skew allowed on `iat`, `nbf` and `exp`; at most [`MAX_CLOCK_SKEW`] (`build`
    /// refuses more). Default [`DEFAULT_CLOCK_SKEW`].
    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Accepts only tokens of Google Workspace accounts of `domain` (their `hd` claim).
    pub fn with_hosted_domain(mut self, domain: impl Into<String>) -> Self {
        self.hosted_domain = Some(domain.into());
        self
    }

    /// Accepts only tokens whose `email_verified` claim is `true`.
    pub fn require_email_verified(mut self) -> Self {
        self.require_email_verified = true;
        self
    }

    /// The transport the keys are fetched through (required unless keys are given offline).
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The clock the time claims and the key cache read. Default: the system clock.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The least time between two key refreshes caused by tokens naming an unknown key (a
    /// flood of forged `kid`s costs one fetch per interval). Default
    /// [`DEFAULT_MIN_REFRESH_INTERVAL`].
    pub fn with_min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// How long keys are kept when their response has no `Cache-Control: max-age`. Default
    /// [`DEFAULT_KEYS_MAX_AGE`].
    pub fn with_default_keys_max_age(mut self, max_age: Duration) -> Self {
        self.default_max_age = max_age;
        self
    }

    /// How long one key fetch may take (on the verifier's clock). Default
    /// [`DEFAULT_FETCH_TIMEOUT`].
    pub fn with_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Offline keys from a keys document: a JWK set (`{"keys": [...]}`) or an object mapping
    /// key IDs to PEM certificates or public keys. The verifier never fetches.
    pub fn with_jwk_set(mut self, document: impl Into<String>) -> Self {
        self.offline.push(Offline::Document(document.into()));
        self
    }

    /// Offline keys: key IDs and their PEM certificates or public keys. The verifier never
    /// fetches.
    pub fn with_pem_keys<I, K, V>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.offline.extend(
            keys.into_iter()
                .map(|(kid, pem)| Offline::Pem(kid.into(), pem.into())),
        );
        self
    }

    /// One offline key: its key ID and its PEM certificate or public key. The verifier never
    /// fetches.
    pub fn with_key_pem(self, kid: impl Into<String>, pem: impl Into<String>) -> Self {
        self.with_pem_keys([(kid, pem)])
    }

    /// The verifier.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] saying what to fix: no audience (and no
    /// [`dangerous_skip_audience`](Self::dangerous_skip_audience)), no issuer, no algorithm, a
    /// clock skew above [`MAX_CLOCK_SKEW`], offline keys that do not parse, a keys URL that is
    /// not an `http(s)` URL, or no transport for an online verifier.
    pub fn build(self) -> Result<IdTokenVerifier, BuildError> {
        if self.audiences.is_empty() && !self.skip_audience {
            return Err(BuildError::missing_fields(
                "an ID token verifier needs an audience (with_audience); only a tool that \
                 inspects tokens may call dangerous_skip_audience instead",
            ));
        }
        if self.issuers.is_empty() {
            return Err(BuildError::invalid_value(
                "an ID token verifier needs at least one issuer (with_issuers)",
            ));
        }
        if self.algorithms.is_empty() {
            return Err(BuildError::invalid_value(
                "an ID token verifier needs at least one algorithm (with_algorithms)",
            ));
        }
        if self.clock_skew > MAX_CLOCK_SKEW {
            return Err(BuildError::invalid_value(format!(
                "the clock skew of {} s is above the {} s allowed; fix the clock instead",
                self.clock_skew.as_secs(),
                MAX_CLOCK_SKEW.as_secs()
            )));
        }
        let keys = if self.offline.is_empty() {
            let url = keys_url(&self.keys_url)?;
            let Some(transport) = self.transport else {
                return Err(BuildError::missing_fields(
                    "an ID token verifier that fetches its keys needs a transport \
                     (with_transport); or give it keys offline (with_jwk_set, with_pem_keys)",
                ));
            };
            KeySource::Remote(Box::new(RemoteKeys::new(
                url,
                transport,
                Arc::clone(&self.clock),
                self.min_refresh_interval,
                self.default_max_age,
                self.fetch_timeout,
            )))
        } else {
            KeySource::Offline(Arc::new(offline_keys(self.offline)?))
        };
        let policy = Policy {
            issuers: self.issuers,
            audiences: (!self.skip_audience).then_some(self.audiences),
            clock_skew: self.clock_skew,
            hosted_domain: self.hosted_domain,
            require_email_verified: self.require_email_verified,
        };
        Ok(IdTokenVerifier {
            inner: Arc::new(Inner {
                policy,
                algorithms: self.algorithms,
                keys,
                clock: self.clock,
            }),
        })
    }
}

fn keys_url(url: &str) -> Result<Uri, BuildError> {
    let invalid = || {
        BuildError::invalid_value(
            "the keys URL must be an absolute http or https URL (with_keys_url)",
        )
    };
    let uri: Uri = url.parse().map_err(|_| invalid())?;
    match (uri.scheme_str(), uri.host()) {
        (Some("https" | "http"), Some(host)) if !host.is_empty() => Ok(uri),
        _ => Err(invalid()),
    }
}

fn offline_keys(inputs: Vec<Offline>) -> Result<KeySet, BuildError> {
    let mut set = KeySet::default();
    for input in inputs {
        match input {
            Offline::Document(document) => {
                let parsed = KeySet::parse(document.as_bytes())
                    .map_err(|reason| BuildError::parsing(format!("the offline keys: {reason}")))?;
                set.extend(parsed);
            }
            Offline::Pem(kid, pem) => {
                let key = Key::from_pem(&pem).map_err(|reason| {
                    BuildError::parsing(format!(
                        "the offline key {:?}: {reason}",
                        crate::error::sanitize(&kid)
                    ))
                })?;
                set.insert(Some(kid), key);
            }
        }
    }
    Ok(set)
}

impl fmt::Debug for IdTokenVerifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenVerifierBuilder")
            .field("audiences", &self.audiences)
            .field("skip_audience", &self.skip_audience)
            .field("issuers", &self.issuers)
            .field("keys_url", &self.keys_url)
            .field("algorithms", &self.algorithms)
            .field("clock_skew", &self.clock_skew)
            .field("offline_keys", &self.offline.len())
            .finish_non_exhaustive()
    }
}
