//! The cached token and its ready-made header values: what the hot path reads.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::clock::SYSTEM_TIME_MARGIN;
use crate::token::validate_token_text;
use crate::{AccessToken, Error, ErrorKind, Result, TokenState};

/// The header that names the project billed for quota.
pub(super) static X_GOOG_USER_PROJECT: HeaderName = HeaderName::from_static("x-goog-user-project");

/// The same name as a constant, for the hot path: each use is a new value over the same static
/// bytes, which nothing can mutate (hence the lint's exception).
#[allow(clippy::declare_interior_mutable_const)]
const X_GOOG_USER_PROJECT_NAME: HeaderName = HeaderName::from_static("x-goog-user-project");

/// The next snapshot's id.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The most copies of the rendered headers a snapshot keeps (see [`Rendering::copies`]).
const MAX_COPIES: usize = 16;

/// How snapshots render a token: the same for every token of one `Credentials`.
#[derive(Debug)]
pub(super) struct Rendering {
    pub(super) threshold: Duration,
    /// Already checked to be a valid header value.
    pub(super) quota_project: Option<String>,
    /// How many copies of the header values to keep, a power of two: one per core (at most
    /// [`MAX_COPIES`]), so threads on different cores count references on different cache
    /// lines instead of fighting over one.
    pub(super) copies: usize,
}

impl Rendering {
    /// `copies`: the builder's choice, else one per core; either way a power of two from 1 to
    /// [`MAX_COPIES`].
    pub(super) fn new(
        threshold: Duration,
        quota_project: Option<String>,
        copies: Option<usize>,
    ) -> Self {
        let copies = copies.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        });
        Self {
            threshold,
            quota_project,
            copies: copies.clamp(1, MAX_COPIES).next_power_of_two(),
        }
    }
}

/// One cached token with its header values rendered once, and the instants its state changes.
///
/// Immutable: a refresh publishes a new snapshot, so readers never see a torn update.
pub(super) struct Snapshot {
    /// Unique among every snapshot of the process: names the token a request carried.
    id: u64,
    token: Arc<AccessToken>,
    /// `Rendering::copies` identical copies of the header values, `primary` and `others`; a
    /// thread always uses the same one.
    primary: Rendered,
    others: Box<[Rendered]>,
    /// `copies - 1`, to pick a copy from a thread's index (`copies` is a power of two).
    mask: usize,
    /// When the token turns stale; `None` when it has no expiry (fresh until rejected).
    stale_at: Option<OffsetDateTime>,
    /// What [`Clock::system_time`](crate::Clock::system_time) alone can tell: the hot path's
    /// one comparison.
    surely_fresh: SurelyFresh,
    expiry: Option<OffsetDateTime>,
}

/// When a token is certainly fresh by [`Clock::system_time`](crate::Clock::system_time), which
/// may lag the precise clock by up to [`SYSTEM_TIME_MARGIN`].
#[derive(Clone, Copy, Debug)]
enum SurelyFresh {
    /// No expiry: fresh whatever the time, so the clock is not read.
    Always,
    /// Before this instant: `stale_at` less [`SYSTEM_TIME_MARGIN`].
    Before(SystemTime),
    /// Only the precise clock can tell: a `stale_at` that does not fit a `SystemTime`.
    Never,
}

/// One copy of the header values, and (for a snapshot of several copies) a map holding them
/// for `headers()` to clone.
struct Rendered {
    authorization: HeaderValue,
    quota_project: Option<HeaderValue>,
    /// `None` for a single copy, which is packed for memory: `headers()` then builds its map
    /// (a hash of the header names, a few nanoseconds more than a clone). Boxed: a map is 96
    /// bytes, a box 8.
    map: Option<Box<HeaderMap>>,
}

/// A rendered header's buffer: zeroized when the last clone of the value is dropped.
struct Buffer(Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for Buffer {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A [`Buffer`] aligned so that the reference count `Bytes` keeps beside it has a cache line
/// of its own: for the copies that threads on different cores use.
#[repr(align(64))]
struct AlignedBuffer(Buffer);

impl AsRef<[u8]> for AlignedBuffer {
    fn as_ref(&self) -> &[u8] {
        self.0.as_ref()
    }
}

fn header_value(bytes: Zeroizing<Vec<u8>>, sensitive: bool, aligned: bool) -> Result<HeaderValue> {
    let buffer = Buffer(bytes);
    let shared = if aligned {
        Bytes::from_owner(AlignedBuffer(buffer))
    } else {
        Bytes::from_owner(buffer)
    };
    let mut value = HeaderValue::from_maybe_shared(shared).map_err(|_| {
        Error::new(
            ErrorKind::InvalidResponse,
            "a credential cannot be sent in an HTTP header",
        )
    })?;
    value.set_sensitive(sensitive);
    Ok(value)
}

impl Rendered {
    /// `aligned`: one of several copies (see [`AlignedBuffer`]), which also keeps a ready map.
    fn new(secret: &str, quota_project: Option<&str>, aligned: bool) -> Result<Self> {
        let mut rendered = Zeroizing::new(Vec::with_capacity(7 + secret.len()));
        rendered.extend_from_slice(b"Bearer ");
        rendered.extend_from_slice(secret.as_bytes());
        let authorization = header_value(rendered, true, aligned)?;
        let quota_project = quota_project
            .map(|project| {
                header_value(Zeroizing::new(project.as_bytes().to_vec()), false, aligned)
            })
            .transpose()?;
        let map = aligned.then(|| {
            let mut map = HeaderMap::with_capacity(2);
            map.insert(AUTHORIZATION, authorization.clone());
            if let Some(project) = &quota_project {
                map.insert(&X_GOOG_USER_PROJECT, project.clone());
            }
            Box::new(map)
        });
        Ok(Self {
            authorization,
            quota_project,
            map,
        })
    }
}

impl Snapshot {
    /// Renders `token` (which must carry no rotated refresh token) as `Bearer <token>`.
    pub(super) fn new(token: AccessToken, rendering: &Rendering) -> Result<Self> {
        let secret = token.secret().expose_secret();
        validate_token_text(secret, "access token")?;
        // The builder's project wins; otherwise the one the token's source named (a chain's
        // member, say), so the project travels with the token.
        let quota_project = rendering
            .quota_project
            .as_deref()
            .or_else(|| token.quota_project());
        let copies = rendering.copies.max(1).next_power_of_two();
        let aligned = copies > 1;
        let primary = Rendered::new(secret, quota_project, aligned)?;
        let others = (1..copies)
            .map(|_| Rendered::new(secret, quota_project, aligned))
            .collect::<Result<Box<[_]>>>()?;
        let stale_at = token.stale_at(rendering.threshold);
        Ok(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            stale_at,
            surely_fresh: match stale_at {
                None => SurelyFresh::Always,
                Some(stale_at) => time::Duration::try_from(SYSTEM_TIME_MARGIN)
                    .ok()
                    .and_then(|margin| stale_at.checked_sub(margin))
                    .and_then(to_system_time)
                    .map_or(SurelyFresh::Never, SurelyFresh::Before),
            },
            expiry: token.expiry(),
            token: Arc::new(token),
            primary,
            others,
            mask: copies - 1,
        })
    }

    /// This thread's copy of the header values.
    #[inline]
    fn rendered(&self) -> &Rendered {
        let index = thread_index() & self.mask;
        match index
            .checked_sub(1)
            .and_then(|other| self.others.get(other))
        {
            Some(rendered) => rendered,
            None => &self.primary,
        }
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

    /// Whether the token is certainly fresh at the instant `system_time` returns (read only for
    /// a token with an expiry): no expiry, or more than [`SYSTEM_TIME_MARGIN`] before it turns
    /// stale, so a clock that lags the precise one by less than that cannot be wrong. `false`
    /// says nothing: ask [`state`](Self::state) with the precise time.
    #[inline]
    pub(super) fn is_surely_fresh(&self, system_time: impl FnOnce() -> SystemTime) -> bool {
        match self.surely_fresh {
            SurelyFresh::Always => true,
            SurelyFresh::Before(before) => system_time() < before,
            SurelyFresh::Never => false,
        }
    }

    /// Whether the reference library would call the token expired: it has an expiry and `now`
    /// is past the refresh threshold before it.
    pub(super) fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.stale_at.is_some_and(|stale_at| now >= stale_at)
    }

    /// Writes `authorization` and, with a quota project, `x-goog-user-project`, replacing
    /// earlier values. Clones reference-counted values: no allocation when `headers` has room.
    #[inline]
    pub(super) fn write(&self, headers: &mut HeaderMap) {
        let rendered = self.rendered();
        headers.insert(AUTHORIZATION, rendered.authorization.clone());
        if let Some(quota_project) = &rendered.quota_project {
            // By value from a constant: a new entry takes it as it is, where a `&HeaderName`
            // would be cloned in (a call through `Bytes`' vtable).
            headers.insert(X_GOOG_USER_PROJECT_NAME, quota_project.clone());
        }
    }

    /// A new map with the headers: a clone of a ready map, with no hashing, or (a single
    /// copy) a new one.
    #[inline]
    pub(super) fn headers(&self) -> HeaderMap {
        if let Some(map) = &self.rendered().map {
            return HeaderMap::clone(map);
        }
        let mut map = HeaderMap::with_capacity(2);
        self.write(&mut map);
        map
    }

    /// Names this snapshot's token among every snapshot of the process.
    #[inline]
    pub(super) fn id(&self) -> u64 {
        self.id
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

    /// Whether `rejected` is this snapshot's `authorization` value: a clone of one of its copies
    /// (the same buffer), or else the same bytes compared in constant time.
    pub(super) fn is_authorization(&self, rejected: &HeaderValue) -> bool {
        let theirs = rejected.as_bytes();
        let cloned = std::iter::once(&self.primary)
            .chain(self.others.iter())
            // Address and length, in one comparison of the wide pointers.
            .any(|rendered| std::ptr::eq(rendered.authorization.as_bytes(), theirs));
        cloned || constant_time_eq(self.primary.authorization.as_bytes(), theirs)
    }
}

/// A small number that stays the same for the life of the calling thread, different for
/// threads started one after another: picks the thread's copy of the header values.
#[inline]
fn thread_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    INDEX.with(|index| {
        let mut value = index.get();
        if value == usize::MAX {
            value = NEXT.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
            index.set(value);
        }
        value
    })
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

    fn rendering(quota_project: Option<&str>) -> Rendering {
        Rendering {
            threshold: REFRESH_THRESHOLD,
            quota_project: quota_project.map(str::to_owned),
            copies: 4,
        }
    }

    const EXPIRY: OffsetDateTime = datetime!(2026-01-01 12:00 UTC);

    #[test]
    fn token_identity_is_not_fooled_by_differences_that_cancel() {
        // "ab" against "ba": the byte differences cancel under XOR, not under OR.
        let snapshot = Snapshot::new(AccessToken::new("ab"), &rendering(None)).unwrap();
        assert!(snapshot.is_token(&AccessToken::new("ab")));
        assert!(!snapshot.is_token(&AccessToken::new("ba")));
        assert!(!snapshot.is_authorization(&HeaderValue::from_static("Bearer ba")));
        assert!(!snapshot.is_token(&AccessToken::new("abc")));
    }

    #[test]
    fn renders_a_sensitive_bearer_value() {
        let snapshot = Snapshot::new(AccessToken::new("ya29.abc"), &rendering(None)).unwrap();
        let mut headers = HeaderMap::new();
        snapshot.write(&mut headers);
        let value = &headers[AUTHORIZATION];
        assert_eq!(value, "Bearer ya29.abc");
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("ya29.abc"));
        assert!(headers.get(&X_GOOG_USER_PROJECT).is_none());
    }

    #[test]
    fn every_copy_and_the_ready_map_carry_the_same_headers() {
        let snapshot = Snapshot::new(AccessToken::new("ya29.abc"), &rendering(Some("qp"))).unwrap();
        let copies: Vec<_> = std::iter::once(&snapshot.primary)
            .chain(snapshot.others.iter())
            .collect();
        assert_eq!(copies.len(), 4);
        for rendered in copies {
            assert_eq!(rendered.authorization, "Bearer ya29.abc");
            assert!(rendered.authorization.is_sensitive());
            assert_eq!(rendered.quota_project.as_ref().unwrap(), "qp");
            assert!(snapshot.is_authorization(&rendered.authorization));
        }
        let map = snapshot.headers();
        assert_eq!(map.len(), 2);
        assert_eq!(map[AUTHORIZATION], "Bearer ya29.abc");
        assert_eq!(map[&X_GOOG_USER_PROJECT], "qp");
        // Threads get copies, each thread always the same one.
        let index = thread_index();
        assert_eq!(thread_index(), index);
        let other = std::thread::spawn(thread_index).join().unwrap();
        assert_ne!(other, index);
    }

    #[test]
    fn a_single_copy_is_packed_and_serves_the_same_headers() {
        for (quota_project, len) in [(Some("qp"), 2), (None, 1)] {
            let packed =
                Rendering::new(REFRESH_THRESHOLD, quota_project.map(str::to_owned), Some(1));
            assert_eq!(packed.copies, 1);
            let snapshot = Snapshot::new(AccessToken::new("ya29.abc"), &packed).unwrap();
            assert!(snapshot.others.is_empty());
            assert!(snapshot.primary.map.is_none(), "no ready map to keep");
            let map = snapshot.headers();
            assert_eq!(map.len(), len);
            assert_eq!(map[AUTHORIZATION], "Bearer ya29.abc");
            assert!(map[AUTHORIZATION].is_sensitive());
            assert_eq!(
                map.get(&X_GOOG_USER_PROJECT).map(|v| v.to_str().unwrap()),
                quota_project
            );
            // The map's value is the snapshot's own buffer, not a new rendering.
            assert!(snapshot.is_authorization(&map[AUTHORIZATION]));
            assert!(std::ptr::eq(
                map[AUTHORIZATION].as_bytes(),
                snapshot.primary.authorization.as_bytes()
            ));
        }
    }

    #[test]
    fn copies_are_a_power_of_two_from_one_to_the_most() {
        let copies = |asked| Rendering::new(REFRESH_THRESHOLD, None, Some(asked)).copies;
        assert_eq!(copies(0), 1);
        assert_eq!(copies(1), 1);
        assert_eq!(copies(3), 4);
        assert_eq!(copies(16), MAX_COPIES);
        assert_eq!(copies(1000), MAX_COPIES);
        let default = Rendering::new(REFRESH_THRESHOLD, None, None).copies;
        assert!(default.is_power_of_two() && default <= MAX_COPIES);
        // Several copies keep a ready map in each.
        let snapshot = Snapshot::new(
            AccessToken::new("ya29.abc"),
            &Rendering::new(REFRESH_THRESHOLD, None, Some(2)),
        )
        .unwrap();
        assert_eq!(snapshot.others.len(), 1);
        assert!(snapshot.primary.map.is_some() && snapshot.others[0].map.is_some());
    }

    #[test]
    fn rejects_a_token_that_would_inject_headers() {
        let err = Snapshot::new(AccessToken::new("t0k\r\nx: 1"), &rendering(None))
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
            let snapshot = Snapshot::new(token.clone(), &rendering(None)).unwrap();
            for secs in [-400, -226, -225, -224, -76, -75, -74, -1, 0, 1] {
                let now = EXPIRY + time::Duration::seconds(secs);
                let expected = token.state(now, REFRESH_THRESHOLD);
                assert_eq!(snapshot.state(now), expected, "at {secs}s");
                assert_eq!(snapshot.is_fresh(now), expected == TokenState::Fresh);
                // The cheap check is only ever sure of a fresh token.
                let sure = snapshot.is_surely_fresh(|| SystemTime::from(now));
                assert!(!sure || expected == TokenState::Fresh, "at {secs}s");
            }
        }
    }

    #[test]
    fn the_system_time_check_is_sure_until_the_margin_before_stale() {
        let token = AccessToken::new("t").with_expiry(EXPIRY);
        let snapshot = Snapshot::new(token.clone(), &rendering(None)).unwrap();
        let stale_at = token.stale_at(REFRESH_THRESHOLD).unwrap();
        let margin = time::Duration::try_from(SYSTEM_TIME_MARGIN).unwrap();
        let sure = |at: OffsetDateTime| snapshot.is_surely_fresh(|| SystemTime::from(at));
        assert!(sure(stale_at - margin - time::Duration::nanoseconds(1)));
        assert!(!sure(stale_at - margin));
        // Within the margin the precise check decides, and the token is still fresh there.
        assert!(snapshot.is_fresh(stale_at - margin));
        assert!(!sure(stale_at));
        // Without an expiry the clock is not read at all.
        let forever = Snapshot::new(AccessToken::new("t"), &rendering(None)).unwrap();
        assert!(forever.is_surely_fresh(|| panic!("the clock was read")));
    }

    #[test]
    fn identity_and_value_comparisons() {
        let snapshot = Snapshot::new(AccessToken::new("secret-a"), &rendering(None)).unwrap();
        assert!(snapshot.is_token(snapshot.token()));
        assert!(snapshot.is_token(&AccessToken::new("secret-a")));
        assert!(!snapshot.is_token(&AccessToken::new("secret-b")));
        let mut headers = HeaderMap::new();
        snapshot.write(&mut headers);
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
