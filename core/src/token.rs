//! Access tokens and their freshness.

use std::fmt;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::{Clock, Error, ErrorKind, Result};

/// How long before its expiry a token counts as stale and is refreshed: 3 minutes 45 seconds.
///
/// The reference library's value. Its reason: the smallest metadata-server cache in use keeps
/// tokens until 4 minutes before expiry, so a token within this window of its end may be
/// rejected by a server whose clock runs slightly ahead, and refreshing early never hurts.
///
/// Where a token's lifetime is known, credkit uses the smaller of this and a quarter of the
/// lifetime (see [`AccessToken::stale_at`]), so a 5-minute token is not stale from birth. For a
/// one-hour token that is exactly this constant.
pub const REFRESH_THRESHOLD: Duration = Duration::from_secs(225);

/// The refresh threshold for a token of known `lifetime`: the smaller of `threshold` and a quarter
/// of the lifetime.
pub(crate) fn refresh_threshold_for(lifetime: Option<Duration>, threshold: Duration) -> Duration {
    lifetime.map_or(threshold, |lifetime| threshold.min(lifetime / 4))
}

/// The instant a token expiring at `expiry` becomes stale: `expiry` minus the threshold (scaled by
/// the lifetime, when `issued_at` is known). Saturates instead of overflowing.
pub(crate) fn stale_at(
    expiry: OffsetDateTime,
    issued_at: Option<OffsetDateTime>,
    threshold: Duration,
) -> OffsetDateTime {
    let lifetime = issued_at.map(|issued| {
        let span = expiry - issued;
        Duration::try_from(span).unwrap_or(Duration::ZERO)
    });
    let threshold = refresh_threshold_for(lifetime, threshold);
    let threshold = time::Duration::try_from(threshold).unwrap_or(time::Duration::MAX);
    expiry
        .checked_sub(threshold)
        .unwrap_or_else(|| OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT))
}

/// How usable a cached token is, as the reference library's `TokenState`.
///
/// No token is `Invalid`; a token without an expiry is `Fresh`; from its expiry on it is
/// `Invalid`; from [`AccessToken::stale_at`] (the refresh threshold before the expiry) it is
/// `Stale`; before that `Fresh`.
///
/// ```
/// use time::macros::datetime;
/// use credkit_core::{AccessToken, TokenState, REFRESH_THRESHOLD};
///
/// let token = AccessToken::new("ya29.token").with_expiry(datetime!(2026-01-01 12:00 UTC));
/// let state = |now| token.state(now, REFRESH_THRESHOLD);
/// assert_eq!(state(datetime!(2026-01-01 11:56:14 UTC)), TokenState::Fresh);
/// assert_eq!(state(datetime!(2026-01-01 11:56:15 UTC)), TokenState::Stale);
/// assert_eq!(state(datetime!(2026-01-01 12:00 UTC)), TokenState::Invalid);
/// ```
// The three states are the reference library's, complete by definition.
#[allow(clippy::exhaustive_enums)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenState {
    /// The token is good and not close to its expiry (or has none).
    Fresh,
    /// The token still works but is within the refresh threshold of its expiry: use it, and
    /// refresh ahead.
    Stale,
    /// There is no token, or it has expired: a refresh must complete before it can be used.
    Invalid,
}

impl TokenState {
    /// The state with the lifetime-scaled threshold: no token is `Invalid`; no expiry is
    /// `Fresh`; `now >= expiry` is `Invalid`; `now >= stale_at(expiry)` is `Stale`; anything else
    /// is `Fresh`.
    pub(crate) fn at(
        has_token: bool,
        expiry: Option<OffsetDateTime>,
        issued_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
        threshold: Duration,
    ) -> Self {
        if !has_token {
            return Self::Invalid;
        }
        let Some(expiry) = expiry else {
            return Self::Fresh;
        };
        if now >= expiry {
            Self::Invalid
        } else if now >= stale_at(expiry, issued_at, threshold) {
            Self::Stale
        } else {
            Self::Fresh
        }
    }

    /// The state of an optional token now, by `clock`, with the default [`REFRESH_THRESHOLD`].
    ///
    /// ```
    /// use credkit_core::{AccessToken, SystemClock, TokenState};
    ///
    /// assert_eq!(TokenState::of(None, &SystemClock), TokenState::Invalid);
    /// let forever = AccessToken::new("ya29.token");
    /// assert_eq!(TokenState::of(Some(&forever), &SystemClock), TokenState::Fresh);
    /// ```
    pub fn of(token: Option<&AccessToken>, clock: &dyn Clock) -> Self {
        token.map_or(Self::Invalid, |token| {
            token.state(clock.now(), REFRESH_THRESHOLD)
        })
    }

    /// A short lowercase name: `"fresh"`, `"stale"` or `"invalid"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Stale => "stale",
            Self::Invalid => "invalid",
        }
    }
}

impl fmt::Display for TokenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth 2.0 access token as a [`TokenSource`](crate::TokenSource) fetched it.
///
/// The token, the ID token and a rotated refresh token are [`SecretString`]s: zeroized on drop,
/// never shown by `Debug`, read only through [`ExposeSecret`] where they are used. The type has no
/// `Display`.
///
/// # Examples
///
/// ```
/// use secrecy::ExposeSecret;
/// use time::macros::datetime;
/// use credkit_core::AccessToken;
///
/// let token = AccessToken::new("ya29.secret")
///     .with_expiry(datetime!(2026-01-01 12:00 UTC))
///     .with_granted_scopes(["email", "profile"]);
/// assert_eq!(token.secret().expose_secret(), "ya29.secret");
/// assert!(!format!("{token:?}").contains("ya29.secret"));
/// ```
#[derive(Clone)]
pub struct AccessToken {
    secret: SecretString,
    expiry: Option<OffsetDateTime>,
    issued_at: Option<OffsetDateTime>,
    token_type: String,
    granted_scopes: Option<Vec<String>>,
    id_token: Option<SecretString>,
    extra: serde_json::Map<String, serde_json::Value>,
    rotated_refresh_token: Option<SecretString>,
    provider_secrets: Vec<(String, SecretString)>,
    quota_project: Option<String>,
}

impl AccessToken {
    /// A bearer token with no expiry (valid until the server rejects it).
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            secret: SecretString::from(secret.into()),
            expiry: None,
            issued_at: None,
            token_type: "Bearer".to_owned(),
            granted_scopes: None,
            id_token: None,
            extra: serde_json::Map::new(),
            rotated_refresh_token: None,
            provider_secrets: Vec::new(),
            quota_project: None,
        }
    }

    /// Like [`AccessToken::new`] (or [`from_secret`](AccessToken::from_secret)), but rejects a
    /// token that cannot be sent in an HTTP header: an empty one, or one with anything but
    /// visible ASCII (whitespace, control characters: a CR or LF would inject headers).
    ///
    /// Providers build every token they did not parse with [`oauth`](crate::oauth) through this.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::InvalidResponse`] error that never contains the token.
    ///
    /// ```
    /// use secrecy::SecretString;
    /// use credkit_core::AccessToken;
    ///
    /// assert!(AccessToken::validated("ya29.a0-_~+/=").is_ok());
    /// assert!(AccessToken::validated(SecretString::from("ya29.ok")).is_ok());
    /// assert!(AccessToken::validated("").is_err());
    /// assert!(AccessToken::validated("bad\r\nx-injected: 1").is_err());
    /// ```
    pub fn validated(secret: impl Into<SecretString>) -> Result<Self> {
        let secret = secret.into();
        validate_token_text(secret.expose_secret(), "access token")?;
        Ok(Self::from_secret(secret))
    }

    /// A bearer token from an existing secret.
    pub fn from_secret(secret: SecretString) -> Self {
        Self {
            secret,
            ..Self::new(String::new())
        }
    }

    /// Sets when the token expires.
    #[must_use]
    pub fn with_expiry(mut self, expiry: OffsetDateTime) -> Self {
        self.expiry = Some(expiry);
        self
    }

    /// Sets or clears when the token expires.
    #[must_use]
    pub fn with_optional_expiry(mut self, expiry: Option<OffsetDateTime>) -> Self {
        self.expiry = expiry;
        self
    }

    /// Sets when the token was issued. With an expiry this gives its lifetime, which scales the
    /// refresh threshold for short-lived tokens (see [`stale_at`](AccessToken::stale_at)).
    #[must_use]
    pub fn with_issued_at(mut self, issued_at: OffsetDateTime) -> Self {
        self.issued_at = Some(issued_at);
        self
    }

    /// Sets the expiry to `now + lifetime` and the issue time to `now`, saturating on overflow.
    #[must_use]
    pub fn with_lifetime(mut self, now: OffsetDateTime, lifetime: Duration) -> Self {
        let lifetime = time::Duration::try_from(lifetime).unwrap_or(time::Duration::MAX);
        let max = OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT);
        self.expiry = Some(now.checked_add(lifetime).unwrap_or(max));
        self.issued_at = Some(now);
        self
    }

    /// Sets the token type (default `Bearer`).
    #[must_use]
    pub fn with_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = token_type.into();
        self
    }

    /// Sets the scopes the server reports as granted.
    #[must_use]
    pub fn with_granted_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.granted_scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the OpenID Connect ID token that came with the access token.
    #[must_use]
    pub fn with_id_token(mut self, id_token: SecretString) -> Self {
        self.id_token = Some(id_token);
        self
    }

    /// Adds a response field the provider does not model itself (never a secret).
    #[must_use]
    pub fn with_extra(mut self, key: impl Into<String>, value: serde_json::Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }

    /// Reports a refresh token the token endpoint rotated in. Only providers set this; the caching
    /// layer stores it (with the token, in one record) before handing the token out.
    #[must_use]
    pub fn with_rotated_refresh_token(mut self, refresh_token: SecretString) -> Self {
        self.rotated_refresh_token = Some(refresh_token);
        self
    }

    /// Reports a secret of the provider's own that came with this token and belongs in the
    /// stored record under `name` (the proof of a reauthentication, say), so the next process
    /// that loads the record has it too. Only providers set this; like a rotated refresh token,
    /// the caching layer stores it with the token, in one record (see
    /// [`CredentialRecord::provider_secret`](crate::CredentialRecord::provider_secret)), and
    /// does not keep it in the cache. A second secret under the same name replaces the first.
    ///
    /// ```
    /// use credkit_core::AccessToken;
    /// use secrecy::SecretString;
    ///
    /// let mut token = AccessToken::new("ya29.t")
    ///     .with_provider_secret("rapt_token", SecretString::from("rapt-secret"));
    /// assert!(!format!("{token:?}").contains("rapt-secret"));
    /// let secrets = token.take_provider_secrets();
    /// assert_eq!(secrets[0].0, "rapt_token");
    /// assert_eq!(token.provider_secrets().count(), 0);
    /// ```
    #[must_use]
    pub fn with_provider_secret(mut self, name: impl Into<String>, secret: SecretString) -> Self {
        let name = name.into();
        self.provider_secrets.retain(|(held, _)| *held != name);
        self.provider_secrets.push((name, secret));
        self
    }

    /// Names the project the requests made with this token should be billed to: the quota
    /// project of the credential that issued it (an `authorized_user` file's `quota_project_id`,
    /// say). [`Credentials`](crate::Credentials) sends it as `x-goog-user-project` when its
    /// builder sets no quota project of its own; the builder's wins.
    ///
    /// A source sets it on every token it returns, so the project travels with the token
    /// through any combinator: a [`ChainSource`](crate::ChainSource) bills each request to the
    /// member that supplied its token. An empty project is no project.
    ///
    /// ```
    /// use credkit_core::AccessToken;
    ///
    /// let token = AccessToken::new("ya29.t").with_quota_project("billing-project");
    /// assert_eq!(token.quota_project(), Some("billing-project"));
    /// assert_eq!(AccessToken::new("ya29.t").with_quota_project("").quota_project(), None);
    /// ```
    #[must_use]
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        let project = project.into();
        self.quota_project = (!project.is_empty()).then_some(project);
        self
    }

    /// The project requests made with this token should be billed to, if its source named one
    /// (see [`with_quota_project`](AccessToken::with_quota_project)).
    pub fn quota_project(&self) -> Option<&str> {
        self.quota_project.as_deref()
    }

    /// The token itself. Expose it only where it is used.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// When the token expires; `None` means it never does (until the server rejects it).
    pub fn expiry(&self) -> Option<OffsetDateTime> {
        self.expiry
    }

    /// When the token was issued, if known.
    pub fn issued_at(&self) -> Option<OffsetDateTime> {
        self.issued_at
    }

    /// The token type, `Bearer` unless the endpoint said otherwise.
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// The scopes the server reports as granted, if it said.
    pub fn granted_scopes(&self) -> Option<&[String]> {
        self.granted_scopes.as_deref()
    }

    /// The OpenID Connect ID token, if one came with the access token.
    pub fn id_token(&self) -> Option<&SecretString> {
        self.id_token.as_ref()
    }

    /// Response fields the provider does not model itself.
    pub fn extra(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.extra
    }

    /// A refresh token the token endpoint rotated in, if any.
    pub fn rotated_refresh_token(&self) -> Option<&SecretString> {
        self.rotated_refresh_token.as_ref()
    }

    /// Removes and returns the rotated refresh token (the caching layer takes it for storage and
    /// does not keep it in the cache).
    pub fn take_rotated_refresh_token(&mut self) -> Option<SecretString> {
        self.rotated_refresh_token.take()
    }

    /// The provider's secrets for the stored record (see
    /// [`with_provider_secret`](AccessToken::with_provider_secret)), by name.
    pub fn provider_secrets(&self) -> impl Iterator<Item = (&str, &SecretString)> {
        self.provider_secrets
            .iter()
            .map(|(name, secret)| (name.as_str(), secret))
    }

    /// Removes and returns the provider's secrets (the caching layer takes them for storage and
    /// does not keep them in the cache).
    pub fn take_provider_secrets(&mut self) -> Vec<(String, SecretString)> {
        std::mem::take(&mut self.provider_secrets)
    }

    /// The token's lifetime, when both its issue time and expiry are known.
    pub fn lifetime(&self) -> Option<Duration> {
        let span = self.expiry? - self.issued_at?;
        Duration::try_from(span).ok()
    }

    /// The instant the token becomes stale with `threshold`: its expiry minus `threshold`, or
    /// minus a quarter of its lifetime when that is shorter and the lifetime is known (so a
    /// 5-minute token is not stale from birth). Saturates instead of overflowing; `None` without
    /// an expiry.
    ///
    /// ```
    /// use time::macros::datetime;
    /// use credkit_core::{AccessToken, REFRESH_THRESHOLD};
    ///
    /// let expiry = datetime!(2026-01-01 12:00 UTC);
    /// let token = AccessToken::new("ya29.t").with_expiry(expiry);
    /// assert_eq!(token.stale_at(REFRESH_THRESHOLD), Some(datetime!(2026-01-01 11:56:15 UTC)));
    /// let short = token.with_issued_at(datetime!(2026-01-01 11:55 UTC)); // a 5-minute token
    /// assert_eq!(short.stale_at(REFRESH_THRESHOLD), Some(datetime!(2026-01-01 11:58:45 UTC)));
    /// assert_eq!(AccessToken::new("ya29.t").stale_at(REFRESH_THRESHOLD), None);
    /// ```
    pub fn stale_at(&self, threshold: Duration) -> Option<OffsetDateTime> {
        self.expiry
            .map(|expiry| stale_at(expiry, self.issued_at, threshold))
    }

    /// The token's state at `now` with `threshold` (see [`TokenState`] and
    /// [`stale_at`](AccessToken::stale_at)).
    pub fn state(&self, now: OffsetDateTime, threshold: Duration) -> TokenState {
        TokenState::at(true, self.expiry, self.issued_at, now, threshold)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[REDACTED]")
            .field("expiry", &self.expiry)
            .field("issued_at", &self.issued_at)
            .field("token_type", &self.token_type)
            .field("granted_scopes", &self.granted_scopes)
            .field("id_token", &self.id_token.as_ref().map(|_| "[REDACTED]"))
            .field("extra_keys", &self.extra.keys().collect::<Vec<_>>())
            .field(
                "rotated_refresh_token",
                &self.rotated_refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field(
                "provider_secret_names",
                &self
                    .provider_secrets
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .field("quota_project", &self.quota_project)
            .finish()
    }
}

/// Checks that a token can go into an HTTP header as is: not empty, visible ASCII only (no
/// whitespace, no control characters). `what` names the token in the error, which never contains
/// the token itself. Public as [`AccessToken::validated`].
///
/// # Errors
///
/// An [`ErrorKind::InvalidResponse`] error.
pub(crate) fn validate_token_text(token: &str, what: &str) -> Result<()> {
    if token.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidResponse,
            format!("the {what} is empty"),
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::new(
            ErrorKind::InvalidResponse,
            format!(
                "the {what} contains whitespace, control or non-ASCII characters and cannot be sent in an HTTP header"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const EXPIRY: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

    #[test]
    fn boundaries_match_the_reference() {
        let state = |now| TokenState::at(true, Some(EXPIRY), None, now, REFRESH_THRESHOLD);
        let stale_point = EXPIRY - time::Duration::seconds(225);
        assert_eq!(
            state(stale_point - time::Duration::seconds(1)),
            TokenState::Fresh
        );
        assert_eq!(state(stale_point), TokenState::Stale);
        assert_eq!(
            state(EXPIRY - time::Duration::nanoseconds(1)),
            TokenState::Stale
        );
        assert_eq!(state(EXPIRY), TokenState::Invalid);
        assert_eq!(
            TokenState::at(false, Some(EXPIRY), None, stale_point, REFRESH_THRESHOLD),
            TokenState::Invalid
        );
        assert_eq!(
            TokenState::at(true, None, None, EXPIRY, REFRESH_THRESHOLD),
            TokenState::Fresh
        );
    }

    #[test]
    fn one_hour_token_uses_the_full_threshold() {
        let issued = EXPIRY - time::Duration::hours(1);
        assert_eq!(
            stale_at(EXPIRY, Some(issued), REFRESH_THRESHOLD),
            EXPIRY - time::Duration::seconds(225)
        );
    }

    #[test]
    fn short_token_is_not_stale_from_birth() {
        let issued = EXPIRY - time::Duration::minutes(5);
        let token = AccessToken::new("t")
            .with_expiry(EXPIRY)
            .with_issued_at(issued);
        assert_eq!(token.state(issued, REFRESH_THRESHOLD), TokenState::Fresh);
        assert_eq!(
            token.stale_at(REFRESH_THRESHOLD),
            Some(EXPIRY - time::Duration::seconds(75))
        );
    }

    #[test]
    fn issued_after_expiry_saturates() {
        let token = AccessToken::new("t")
            .with_expiry(EXPIRY)
            .with_issued_at(EXPIRY + time::Duration::hours(1));
        assert_eq!(token.stale_at(REFRESH_THRESHOLD), Some(EXPIRY));
        assert_eq!(token.lifetime(), None);
    }

    #[test]
    fn absurd_lifetime_saturates() {
        let token = AccessToken::new("t").with_lifetime(EXPIRY, Duration::MAX);
        assert!(token.expiry().is_some_and(|e| e > EXPIRY));
        let far_past = OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT);
        assert_eq!(stale_at(far_past, None, REFRESH_THRESHOLD), far_past);
    }

    #[test]
    fn validated_rejects_header_injection() {
        assert!(AccessToken::validated("").is_err());
        for bad in [" ", "\r", "\n", "\t", "é", "\0", "\r\nx-injected: 1"] {
            let token = format!("tok-secret{bad}end");
            let err = AccessToken::validated(token.clone()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidResponse);
            assert!(!err.to_string().contains("tok-secret"));
        }
    }

    #[test]
    fn threshold_is_a_quarter_of_a_short_lifetime() {
        let hour = Duration::from_secs(3600);
        assert_eq!(
            refresh_threshold_for(Some(hour), REFRESH_THRESHOLD),
            REFRESH_THRESHOLD
        );
        assert_eq!(
            refresh_threshold_for(Some(Duration::from_secs(300)), REFRESH_THRESHOLD),
            Duration::from_secs(75)
        );
        assert_eq!(
            refresh_threshold_for(None, REFRESH_THRESHOLD),
            REFRESH_THRESHOLD
        );
    }

    #[test]
    fn validate_token_text_names_the_token_and_never_shows_it() {
        assert!(validate_token_text("ya29.a0-_~+/=", "access token").is_ok());
        let empty = validate_token_text("", "ID token").unwrap_err();
        assert_eq!(empty.to_string(), "the ID token is empty");
        let spaced = validate_token_text("tok-secret x", "access token").unwrap_err();
        assert!(
            spaced
                .to_string()
                .starts_with("the access token contains whitespace")
        );
        assert!(!spaced.to_string().contains("tok-secret"));
    }

    #[test]
    fn take_rotated_refresh_token_empties_it() {
        let mut token =
            AccessToken::new("t").with_rotated_refresh_token(SecretString::from("rt-new"));
        assert!(token.take_rotated_refresh_token().is_some());
        assert!(token.rotated_refresh_token().is_none());
    }

    #[test]
    fn a_provider_secret_replaces_one_of_the_same_name() {
        let token = AccessToken::new("t")
            .with_provider_secret("a", SecretString::from("a-1"))
            .with_provider_secret("b", SecretString::from("b-1"))
            .with_provider_secret("a", SecretString::from("a-2"));
        let held: Vec<(&str, &str)> = token
            .provider_secrets()
            .map(|(name, secret)| (name, secret.expose_secret()))
            .collect();
        assert_eq!(held, [("b", "b-1"), ("a", "a-2")]);
        let debug = format!("{token:?}");
        assert!(
            debug.contains(r#"provider_secret_names: ["b", "a"]"#),
            "{debug}"
        );
        assert!(!debug.contains("a-2") && !debug.contains("b-1"), "{debug}");
    }
}
