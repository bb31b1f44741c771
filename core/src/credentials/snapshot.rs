//! The cached token and its ready-made header value: what the hot path reads.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::{AccessToken, Error, ErrorKind, Result, TokenState, validate_token_text};

/// The header that names the project billed for quota.
pub(super) static X_GOOG_USER_PROJECT: HeaderName = HeaderName::from_static("x-goog-user-project");

/// One cached token with its header value rendered once, and the instants its state changes.
///
/// Immutable: a refresh publishes a new snapshot, so readers never see a torn update.
pub(super) struct Snapshot {
    token: Arc<AccessToken>,
    authorization: HeaderValue,
    /// When the token turns stale; `None` when it has no expiry (fresh until rejected).
    stale_at: Option<OffsetDateTime>,
    /// `stale_at` as a `SystemTime`, for the default clock's hot path; `None` when there is no
    /// `stale_at` or it does not fit.
    stale_at_system: Option<SystemTime>,
    expiry: Option<OffsetDateTime>,
}

impl Snapshot {
    /// Renders `token` (which must carry no rotated refresh token) as `Bearer <token>`.
    ///
    /// The header value owns its buffer through `Zeroizing`, so the rendered secret is wiped
    /// when the last clone of the value (ours, or one applied to a request) is dropped.
    pub(super) fn new(token: AccessToken, threshold: Duration) -> Result<Self> {
        let secret = token.secret().expose_secret();
        validate_token_text(secret, "access token")?;
        let mut rendered = Zeroizing::new(Vec::with_capacity(7 + secret.len()));
        rendered.extend_from_slice(b"Bearer ");
        rendered.extend_from_slice(secret.as_bytes());
        let mut authorization = HeaderValue::from_maybe_shared(Bytes::from_owner(rendered))
            .map_err(|_| {
                Error::new(
                    ErrorKind::InvalidResponse,
                    "the access token cannot be sent in an HTTP header",
                )
            })?;
        authorization.set_sensitive(true);
        let stale_at = token.stale_at(threshold);
        Ok(Self {
            stale_at,
            stale_at_system: stale_at.and_then(to_system_time),
            expiry: token.expiry(),
            token: Arc::new(token),
            authorization,
        })
    }

    /// The token's state at `now`; the same answer as [`TokenState::at`], from precomputed
    /// instants.
    #[inline]
    pub(super) fn state(&self, now: OffsetDateTime) -> TokenState {
        match self.stale_at {
            Some(stale_at) if now >= stale_at => {
                if self.expiry.is_some_and(|expiry| now >= expiry) {
                    TokenState::Invalid
                } else {
                    TokenState::Stale
                }
            }
            _ => TokenState::Fresh,
        }
    }

    /// Whether the token is fresh at `now`: the hot path's one comparison.
    #[inline]
    pub(super) fn is_fresh(&self, now: OffsetDateTime) -> bool {
        self.stale_at.is_none_or(|stale_at| now < stale_at)
    }

    /// Whether the token is fresh at `now` read from the system clock: `None` when that cannot
    /// be told without the calendar time (a `stale_at` beyond `SystemTime`'s range).
    #[inline]
    pub(super) fn is_fresh_at_system(&self, now: SystemTime) -> Option<bool> {
        match (self.stale_at, self.stale_at_system) {
            (None, _) => Some(true),
            (Some(_), Some(stale_at)) => Some(now < stale_at),
            (Some(_), None) => None,
        }
    }

    /// Whether the reference library would call the token expired: it has an expiry and `now`
    /// is past the refresh threshold before it.
    pub(super) fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.stale_at.is_some_and(|stale_at| now >= stale_at)
    }

    /// Writes `authorization` and, when given, `x-goog-user-project`, replacing earlier values.
    /// Clones two reference-counted values: no allocation when `headers` has room.
    #[inline]
    pub(super) fn write(&self, headers: &mut HeaderMap, quota_project: Option<&HeaderValue>) {
        headers.insert(AUTHORIZATION, self.authorization.clone());
        if let Some(quota_project) = quota_project {
            headers.insert(&X_GOOG_USER_PROJECT, quota_project.clone());
        }
    }

    pub(super) fn token(&self) -> &Arc<AccessToken> {
        &self.token
    }

    pub(super) fn expiry(&self) -> Option<OffsetDateTime> {
        self.expiry
    }

    /// Whether `rejected` is this snapshot's token: the same allocation, or else the same secret
    /// compared in constant time.
    pub(super) fn is_token(&self, rejected: &AccessToken) -> bool {
        std::ptr::eq(rejected, Arc::as_ptr(&self.token))
            || constant_time_eq(
                rejected.secret().expose_secret().as_bytes(),
                self.token.secret().expose_secret().as_bytes(),
            )
    }

    /// Whether `rejected` is this snapshot's `authorization` value: a clone of it (the same
    /// buffer), or else the same bytes compared in constant time.
    pub(super) fn is_authorization(&self, rejected: &HeaderValue) -> bool {
        let ours = self.authorization.as_bytes();
        let theirs = rejected.as_bytes();
        (ours.as_ptr() == theirs.as_ptr() && ours.len() == theirs.len())
            || constant_time_eq(ours, theirs)
    }
}

/// The same instant as a `SystemTime`, if it fits.
fn to_system_time(at: OffsetDateTime) -> Option<SystemTime> {
    let since_epoch = at - OffsetDateTime::UNIX_EPOCH;
    let magnitude = Duration::try_from(since_epoch.abs()).ok()?;
    if since_epoch.is_negative() {
        SystemTime::UNIX_EPOCH.checked_sub(magnitude)
    } else {
        SystemTime::UNIX_EPOCH.checked_add(magnitude)
    }
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::REFRESH_THRESHOLD;

    const EXPIRY: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

    #[test]
    fn renders_a_sensitive_bearer_value() {
        let snapshot = Snapshot::new(AccessToken::new("ya29.abc"), REFRESH_THRESHOLD).unwrap();
        let mut headers = HeaderMap::new();
        snapshot.write(&mut headers, None);
        let value = &headers[AUTHORIZATION];
        assert_eq!(value, "Bearer ya29.abc");
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("ya29.abc"));
        assert!(headers.get(&X_GOOG_USER_PROJECT).is_none());
    }

    #[test]
    fn rejects_a_token_that_would_inject_headers() {
        let err = Snapshot::new(AccessToken::new("t0k\r\nx: 1"), REFRESH_THRESHOLD)
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(!err.to_string().contains("t0k"));
    }

    #[test]
    fn state_agrees_with_token_state_at() {
        let issued = EXPIRY - time::Duration::minutes(5);
        for token in [
            AccessToken::new("t").with_expiry(EXPIRY),
            AccessToken::new("t")
                .with_expiry(EXPIRY)
                .with_issued_at(issued),
            AccessToken::new("t"),
        ] {
            let snapshot = Snapshot::new(token.clone(), REFRESH_THRESHOLD).unwrap();
            for secs in [-400, -226, -225, -224, -76, -75, -74, -1, 0, 1] {
                let now = EXPIRY + time::Duration::seconds(secs);
                let expected = token.state(now, REFRESH_THRESHOLD);
                assert_eq!(snapshot.state(now), expected, "at {secs}s");
                assert_eq!(snapshot.is_fresh(now), expected == TokenState::Fresh);
                assert_eq!(
                    snapshot.is_fresh_at_system(SystemTime::from(now)),
                    Some(expected == TokenState::Fresh)
                );
            }
        }
    }

    #[test]
    fn identity_and_value_comparisons() {
        let snapshot = Snapshot::new(AccessToken::new("secret-a"), REFRESH_THRESHOLD).unwrap();
        assert!(snapshot.is_token(snapshot.token()));
        assert!(snapshot.is_token(&AccessToken::new("secret-a")));
        assert!(!snapshot.is_token(&AccessToken::new("secret-b")));
        let mut headers = HeaderMap::new();
        snapshot.write(&mut headers, None);
        assert!(snapshot.is_authorization(&headers[AUTHORIZATION]));
        assert!(snapshot.is_authorization(&HeaderValue::from_static("Bearer secret-a")));
        assert!(!snapshot.is_authorization(&HeaderValue::from_static("Bearer secret-b")));
        assert!(!snapshot.is_authorization(&HeaderValue::from_static("Bearer secret-")));
    }

    #[test]
    fn system_time_conversion_is_exact() {
        for at in [
            EXPIRY,
            OffsetDateTime::UNIX_EPOCH,
            datetime!(1960-01-01 0:00:00.5 UTC),
        ] {
            assert_eq!(to_system_time(at), Some(SystemTime::from(at)));
        }
    }

    #[test]
    fn constant_time_eq_basics() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
