//! A token file kept fresh, for programs that read a token from a file.
//!
//! gcloud reads one with `--access-token-file` (the `auth/access_token_file` property,
//! `CLOUDSDK_AUTH_ACCESS_TOKEN_FILE`), and a shell script with `$(cat FILE)`. [`TokenFile`]
//! writes the token atomically: into a temporary file in the same directory, created with
//! mode 0600 (on Unix: only its owner may read it), synced, then renamed over the file. A
//! reader sees the old token or the new one, never part of one, and never a file others may
//! read. The file holds the token alone, **without a trailing newline**: what naive readers
//! (a program that uses the file's bytes as they are) need, and what the others (gcloud,
//! `$(cat FILE)`, which strip white space) accept.
//!
//! [`KeepFresh`] (and the shortcut [`keep_fresh`]) writes the file and keeps it fresh: it
//! rewrites it when the token turns stale (the refresh threshold of
//! [`Credentials`], 225 s before its expiry or a quarter of a shorter lifetime), so a reader
//! never gets a token about to expire. A failed refresh keeps the file while its token is
//! valid and is retried with a bounded backoff; if the token expires before a refresh
//! succeeds, the file is **removed**, so that readers fail plainly ("no such file") rather
//! than send an expired token, and it comes back with the next token. It sleeps on the
//! [`Clock`], so it needs no async runtime and tests run it on a fake clock.
//!
//! ```
//! use credkit_core::{AccessToken, Credentials, StaticSource};
//! use credkit_helpers::token_file::TokenFile;
//!
//! # futures::executor::block_on(async {
//! let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.token")));
//! let dir = tempfile::tempdir()?;
//! let file = TokenFile::new(dir.path().join("token"));
//! file.write_token(&*credentials.access_token().await?)?;
//! assert_eq!(std::fs::read_to_string(file.path())?, "ya29.token");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::convert::Infallible;
use std::fmt;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use credkit_core::secrecy::ExposeSecret;
use credkit_core::time::OffsetDateTime;
use credkit_core::{AccessToken, Clock, Credentials, REFRESH_THRESHOLD};

/// The first wait after a failed refresh; it doubles with each failure in a row.
pub const FIRST_RETRY: Duration = Duration::from_secs(10);

/// The longest wait between two attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(300);

/// The shortest wait between two refreshes, so that a token that is stale on arrival (its
/// lifetime shorter than the refresh threshold) cannot make the loop spin.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// A file that holds a token, written atomically with mode 0600.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenFile {
    path: PathBuf,
}

/// What could not be done to the token file: write or remove it.
#[derive(Debug)]
pub struct FileError {
    path: PathBuf,
    removing: bool,
    source: io::Error,
}

impl FileError {
    /// The token file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, fix) = if self.removing {
            (
                "remove the expired token file",
                "remove it by hand, or give a file in a directory you may write to",
            )
        } else {
            (
                "write the token file",
                "check that its directory exists and that you may write to it",
            )
        };
        write!(
            f,
            "could not {what} {}: {}; {fix}",
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl TokenFile {
    /// The token file at `path`. Nothing is written yet.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `token`'s secret to the file, without a newline, atomically: a temporary file
    /// in the same directory (mode 0600 from its creation, on Unix), synced, then renamed
    /// over the file. On an error the file is as it was and no temporary file is left.
    ///
    /// # Errors
    ///
    /// The directory does not exist or may not be written to, or the disk is full.
    pub fn write_token(&self, token: &AccessToken) -> Result<(), FileError> {
        self.write(token.secret().expose_secret())
    }

    /// Writes `secret` to the file (as [`write_token`](Self::write_token)).
    ///
    /// # Errors
    ///
    /// As [`write_token`](Self::write_token).
    pub fn write(&self, secret: &str) -> Result<(), FileError> {
        // A bare file name's parent is the empty path: the current directory.
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let written = tempfile::Builder::new()
            .prefix(".credkit-token-")
            .tempfile_in(dir)
            .and_then(|mut temp| {
                temp.write_all(secret.as_bytes())?;
                temp.as_file().sync_all()?;
                temp.persist(&self.path).map_err(|err| err.error)?;
                Ok(())
            });
        written.map_err(|source| self.error(false, source))
    }

    /// Removes the file; a file already gone is not an error.
    ///
    /// # Errors
    ///
    /// The file exists and may not be removed.
    pub fn remove(&self) -> Result<(), FileError> {
        match std::fs::remove_file(&self.path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(self.error(true, err)),
            _ => Ok(()),
        }
    }

    fn error(&self, removing: bool, source: io::Error) -> FileError {
        FileError {
            path: self.path.clone(),
            removing,
            source,
        }
    }
}

/// Why [`KeepFresh::run`] stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeepFreshError {
    /// The first token could not be had: nothing was written.
    Token(credkit_core::Error),
    /// The file could not be written or removed.
    File(FileError),
}

impl fmt::Display for KeepFreshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(err) => err.fmt(f),
            Self::File(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for KeepFreshError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Token(err) => Some(err),
            Self::File(err) => Some(err),
        }
    }
}

impl From<FileError> for KeepFreshError {
    fn from(err: FileError) -> Self {
        Self::File(err)
    }
}

/// What [`KeepFresh::run`] did, for its caller to report. Never a token.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A token was written to the file.
    Written {
        /// When it expires; `None` for a token without an expiry.
        expiry: Option<OffsetDateTime>,
    },
    /// A refresh failed; the file keeps its token while it is valid.
    RefreshFailed {
        /// Why.
        error: &'a credkit_core::Error,
        /// Whether it is the first failure since the last token was written: report this
        /// one, the others repeat it.
        first: bool,
        /// How long until the next attempt.
        retry_in: Duration,
        /// When the token in the file expires; `None` once it is removed.
        expiry: Option<OffsetDateTime>,
    },
    /// The token in the file expired before a refresh succeeded: the file was removed. It is
    /// written again with the next token.
    Removed,
}

/// Keeps a [`TokenFile`] fresh from [`Credentials`] (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct KeepFresh {
    file: TokenFile,
    threshold: Duration,
    first_retry: Duration,
    max_retry: Duration,
}

impl KeepFresh {
    /// Keeps `file` fresh with the default refresh threshold ([`REFRESH_THRESHOLD`], as
    /// [`Credentials`]) and retries ([`FIRST_RETRY`] doubling up to [`MAX_RETRY`]).
    pub fn new(file: TokenFile) -> Self {
        Self {
            file,
            threshold: REFRESH_THRESHOLD,
            first_retry: FIRST_RETRY,
            max_retry: MAX_RETRY,
        }
    }

    /// Rewrites the file `threshold` before the token's expiry (or a quarter of a shorter
    /// lifetime). Give the threshold the credentials were built with, if not the default.
    #[must_use]
    pub fn with_refresh_threshold(mut self, threshold: Duration) -> Self {
        self.threshold = threshold;
        self
    }

    /// Waits `first` after a failed refresh, doubling with each failure in a row, at most
    /// `max`.
    #[must_use]
    pub fn with_retry(mut self, first: Duration, max: Duration) -> Self {
        self.first_retry = first;
        self.max_retry = max;
        self
    }

    /// The file kept fresh.
    pub fn file(&self) -> &TokenFile {
        &self.file
    }

    /// Writes the file with a token from `credentials` (the cached one while it is fresh),
    /// then rewrites it with a new one each time the token turns stale, by `clock`. Runs
    /// until its future is dropped, which leaves the last file written (never a partial or a
    /// temporary one: the writes do not await). `on_event` hears of each write, failed
    /// refresh and removal.
    ///
    /// # Errors
    ///
    /// [`KeepFreshError::Token`]: the first token could not be had (nothing is written).
    /// [`KeepFreshError::File`]: the file could not be written or removed. A failed refresh
    /// after the first token is not an error: it is retried.
    pub async fn run<F>(
        &self,
        credentials: &Credentials,
        clock: &dyn Clock,
        mut on_event: F,
    ) -> Result<Infallible, KeepFreshError>
    where
        F: FnMut(Event<'_>),
    {
        let token = credentials
            .access_token()
            .await
            .map_err(KeepFreshError::Token)?;
        self.file.write_token(&token)?;
        on_event(Event::Written {
            expiry: token.expiry(),
        });
        // The expiry of the token in the file; `None` once the file is removed.
        let mut on_disk = token.expiry();
        let mut wait = self.until_stale(&token, clock.now());
        let mut failures: u32 = 0;
        loop {
            match wait {
                Some(wait) => clock.sleep(wait).await,
                // A token without an expiry stays fresh until the future is dropped.
                None => std::future::pending().await,
            }
            match credentials.refresh().await {
                Ok(token) => {
                    self.file.write_token(&token)?;
                    on_event(Event::Written {
                        expiry: token.expiry(),
                    });
                    on_disk = token.expiry();
                    failures = 0;
                    wait = self.until_stale(&token, clock.now());
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let now = clock.now();
                    if on_disk.is_some_and(|expiry| expiry <= now) {
                        self.file.remove()?;
                        on_disk = None;
                        on_event(Event::Removed);
                    }
                    let backoff = self.backoff(failures);
                    // Wake at the expiry, to remove the file then if no refresh succeeded.
                    let retry_in = on_disk.map_or(backoff, |expiry| {
                        backoff.min(Duration::try_from(expiry - now).unwrap_or(backoff))
                    });
                    on_event(Event::RefreshFailed {
                        error: &error,
                        first: failures == 1,
                        retry_in,
                        expiry: on_disk,
                    });
                    wait = Some(retry_in);
                }
            }
        }
    }

    /// How long from `now` until `token` turns stale (at least [`MIN_REFRESH_INTERVAL`]);
    /// `None` for a token without an expiry.
    fn until_stale(&self, token: &AccessToken, now: OffsetDateTime) -> Option<Duration> {
        token.stale_at(self.threshold).map(|stale| {
            Duration::try_from(stale - now)
                .unwrap_or(Duration::ZERO)
                .max(MIN_REFRESH_INTERVAL)
        })
    }

    /// The wait after the `failures`-th failure in a row.
    fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        self.first_retry
            .saturating_mul(1 << doublings)
            .min(self.max_retry)
    }
}

/// Keeps the file at `path` fresh with the default settings: [`KeepFresh::run`].
///
/// # Errors
///
/// As [`KeepFresh::run`].
pub async fn keep_fresh<F>(
    credentials: &Credentials,
    clock: &dyn Clock,
    path: impl Into<PathBuf>,
    on_event: F,
) -> Result<Infallible, KeepFreshError>
where
    F: FnMut(Event<'_>),
{
    KeepFresh::new(TokenFile::new(path))
        .run(credentials, clock, on_event)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::future::Future;
    use std::pin::Pin;
    use std::rc::Rc;

    use credkit_core::{StaticSource, TokenState};
    use credkit_testing::{FAKE_CLOCK_START, FakeClock, ScriptedSource, Step};
    use futures::FutureExt;

    const HOUR: Duration = Duration::from_secs(3600);
    /// When a token of an hour turns stale: 225 s before its expiry.
    const STALE_AFTER: Duration = Duration::from_secs(3600 - 225);

    /// What the loop reported, without the borrowed error.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Written(Option<OffsetDateTime>),
        Failed {
            first: bool,
            retry_in: Duration,
            expiry: Option<OffsetDateTime>,
        },
        Removed,
    }

    struct Harness {
        clock: FakeClock,
        source: ScriptedSource,
        credentials: Credentials,
        dir: tempfile::TempDir,
        seen: Rc<RefCell<Vec<Seen>>>,
    }

    type Running<'a> = Pin<Box<dyn Future<Output = Result<Infallible, KeepFreshError>> + 'a>>;

    impl Harness {
        fn new(steps: impl IntoIterator<Item = Step>) -> Self {
            let clock = FakeClock::new();
            let source = ScriptedSource::new(&clock);
            source.push_all(steps);
            let credentials = Credentials::builder(source.clone())
                .with_clock(clock.clone())
                .without_retries()
                .build()
                .unwrap();
            Self {
                clock,
                source,
                credentials,
                dir: tempfile::tempdir().unwrap(),
                seen: Rc::default(),
            }
        }

        fn file(&self) -> TokenFile {
            TokenFile::new(self.dir.path().join("token"))
        }

        fn start(&self, keep: KeepFresh) -> Running<'_> {
            let seen = Rc::clone(&self.seen);
            Box::pin(async move {
                keep.run(&self.credentials, &self.clock, |event| {
                    seen.borrow_mut().push(match event {
                        Event::Written { expiry } => Seen::Written(expiry),
                        Event::RefreshFailed {
                            error,
                            first,
                            retry_in,
                            expiry,
                        } => {
                            assert!(!error.to_string().is_empty());
                            Seen::Failed {
                                first,
                                retry_in,
                                expiry,
                            }
                        }
                        Event::Removed => Seen::Removed,
                    });
                })
                .await
            })
        }

        fn content(&self) -> Option<String> {
            std::fs::read_to_string(self.file().path()).ok()
        }

        /// The names in the directory: the token file and nothing else (no temporary file).
        fn names(&self) -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
                .unwrap()
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        }

        fn take_seen(&self) -> Vec<Seen> {
            std::mem::take(&mut *self.seen.borrow_mut())
        }
    }

    fn at(after: Duration) -> OffsetDateTime {
        FAKE_CLOCK_START + after
    }

    /// Polls until the loop waits on the clock again (the scripted source answers at once).
    fn settle(running: &mut Running<'_>) -> Option<Result<Infallible, KeepFreshError>> {
        running.as_mut().now_or_never()
    }

    #[test]
    fn writes_at_once_then_again_when_the_token_turns_stale() {
        let h = Harness::new([Step::token("ya29.one", HOUR), Step::token("ya29.two", HOUR)]);
        let mut running = h.start(KeepFresh::new(h.file()));
        assert!(settle(&mut running).is_none());
        assert_eq!(h.content().as_deref(), Some("ya29.one"));
        assert_eq!(h.names(), ["token"]);
        assert_eq!(h.take_seen(), [Seen::Written(Some(at(HOUR)))]);
        assert_eq!(h.clock.sleeps(), [STALE_AFTER]);

        // Still fresh a second before: nothing happens.
        h.clock.advance(Duration::from_secs(3600 - 225 - 1));
        assert!(settle(&mut running).is_none());
        assert_eq!(h.source.fetches(), 1);
        assert_eq!(h.content().as_deref(), Some("ya29.one"));

        h.clock.advance(Duration::from_secs(1));
        assert!(settle(&mut running).is_none());
        assert_eq!(h.source.fetches(), 2);
        assert_eq!(h.content().as_deref(), Some("ya29.two"));
        assert_eq!(h.names(), ["token"]);
        assert_eq!(h.take_seen(), [Seen::Written(Some(at(STALE_AFTER + HOUR)))]);
        assert_eq!(h.clock.sleeps(), [STALE_AFTER, STALE_AFTER]);
        assert_eq!(h.credentials.token_state(), TokenState::Fresh);
    }

    #[test]
    fn a_fresh_cached_token_is_written_without_a_fetch() {
        let h = Harness::new([Step::token("ya29.cached", HOUR)]);
        futures::executor::block_on(h.credentials.access_token()).unwrap();
        h.clock.advance(Duration::from_secs(600));
        let mut running = h.start(KeepFresh::new(h.file()));
        assert!(settle(&mut running).is_none());
        assert_eq!(h.source.fetches(), 1);
        assert_eq!(h.content().as_deref(), Some("ya29.cached"));
        assert_eq!(h.clock.sleeps(), [Duration::from_secs(3600 - 225 - 600)]);
    }

    #[test]
    fn a_failed_refresh_keeps_the_file_and_is_retried_with_a_growing_wait() {
        let h = Harness::new([
            Step::token("ya29.one", HOUR),
            Step::transient(),
            Step::transient(),
            Step::token("ya29.two", HOUR),
            Step::transient(),
        ]);
        let mut running = h.start(KeepFresh::new(h.file()));
        assert!(settle(&mut running).is_none());
        h.take_seen();
        let expiry = Some(at(HOUR));

        h.clock.advance(STALE_AFTER);
        assert!(settle(&mut running).is_none());
        assert_eq!(h.content().as_deref(), Some("ya29.one"));
        assert_eq!(
            h.take_seen(),
            [Seen::Failed {
                first: true,
                retry_in: FIRST_RETRY,
                expiry
            }]
        );

        h.clock.advance(FIRST_RETRY);
        assert!(settle(&mut running).is_none());
        assert_eq!(h.content().as_deref(), Some("ya29.one"));
        assert_eq!(
            h.take_seen(),
            [Seen::Failed {
                first: false,
                retry_in: FIRST_RETRY * 2,
                expiry
            }]
        );

        h.clock.advance(Duration::from_secs(19));
        assert!(settle(&mut running).is_none());
        assert_eq!(h.source.fetches(), 3);
        h.clock.advance(Duration::from_secs(1));
        assert!(settle(&mut running).is_none());
        assert_eq!(h.source.fetches(), 4);
        assert_eq!(h.content().as_deref(), Some("ya29.two"));
        assert!(matches!(h.take_seen()[..], [Seen::Written(Some(_))]));

        // The next failure starts a new episode, from the first wait again.
        h.clock.advance(STALE_AFTER);
        assert!(settle(&mut running).is_none());
        assert!(matches!(
            h.take_seen()[..],
            [Seen::Failed {
                first: true,
                retry_in: FIRST_RETRY,
                ..
            }]
        ));
        assert_eq!(h.names(), ["token"]);
    }

    #[test]
    fn a_token_that_expires_without_a_replacement_is_removed_then_written_again() {
        let h = Harness::new([
            Step::token("ya29.one", HOUR),
            Step::transient(),
            Step::transient(),
            Step::transient(),
            Step::transient(),
            Step::token("ya29.two", HOUR),
        ]);
        let keep =
            KeepFresh::new(h.file()).with_retry(Duration::from_secs(100), Duration::from_secs(150));
        let mut running = h.start(keep);
        assert!(settle(&mut running).is_none());
        h.take_seen();
        let expiry = Some(at(HOUR));

        // Stale 225 s before the expiry: waits 100 s, then 125 s (the expiry, not 150 s).
        h.clock.advance(STALE_AFTER);
        assert!(settle(&mut running).is_none());
        h.clock.advance(Duration::from_secs(100));
        assert!(settle(&mut running).is_none());
        assert_eq!(
            h.take_seen(),
            [
                Seen::Failed {
                    first: true,
                    retry_in: Duration::from_secs(100),
                    expiry
                },
                Seen::Failed {
                    first: false,
                    retry_in: Duration::from_secs(125),
                    expiry
                },
            ]
        );
        h.clock.advance(Duration::from_secs(124));
        assert!(settle(&mut running).is_none());
        assert_eq!(h.content().as_deref(), Some("ya29.one"));

        // At the expiry, the third failure removes the file; the waits are capped at 150 s.
        h.clock.advance(Duration::from_secs(1));
        assert!(settle(&mut running).is_none());
        assert_eq!(h.content(), None);
        assert!(h.names().is_empty());
        assert_eq!(
            h.take_seen(),
            [
                Seen::Removed,
                Seen::Failed {
                    first: false,
                    retry_in: Duration::from_secs(150),
                    expiry: None
                },
            ]
        );
        h.clock.advance(Duration::from_secs(150));
        assert!(settle(&mut running).is_none());
        assert_eq!(
            h.take_seen(),
            [Seen::Failed {
                first: false,
                retry_in: Duration::from_secs(150),
                expiry: None
            }]
        );
        h.clock.advance(Duration::from_secs(150));
        assert!(settle(&mut running).is_none());
        assert_eq!(h.content().as_deref(), Some("ya29.two"));
        assert!(matches!(h.take_seen()[..], [Seen::Written(Some(_))]));
        assert_eq!(h.source.fetches(), 6);
    }

    #[test]
    fn the_first_token_failing_is_an_error_and_writes_nothing() {
        let h = Harness::new([Step::permanent()]);
        let mut running = h.start(KeepFresh::new(h.file()));
        let err = settle(&mut running).unwrap().unwrap_err();
        assert!(matches!(err, KeepFreshError::Token(_)), "{err:?}");
        assert!(err.to_string().contains("invalid_grant"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
        assert!(h.names().is_empty());
        assert!(h.take_seen().is_empty());
    }

    #[test]
    fn a_file_that_cannot_be_written_is_an_error() {
        let h = Harness::new([Step::token("ya29.one", HOUR)]);
        let keep = KeepFresh::new(TokenFile::new(h.dir.path().join("missing").join("token")));
        let mut running = h.start(keep);
        let err = settle(&mut running).unwrap().unwrap_err();
        assert!(matches!(err, KeepFreshError::File(_)), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains("could not write the token file"),
            "{message}"
        );
        assert!(message.contains("missing"), "{message}");
        assert!(!message.contains("ya29"), "{message}");
        assert!(std::error::Error::source(&err).is_some());
        assert!(h.names().is_empty());

        // Later too: the directory went away before the rewrite.
        let h = Harness::new([Step::token("ya29.one", HOUR)]);
        let sub = h.dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let mut running = h.start(KeepFresh::new(TokenFile::new(sub.join("token"))));
        assert!(settle(&mut running).is_none());
        std::fs::remove_dir_all(&sub).unwrap();
        h.clock.advance(STALE_AFTER);
        let err = settle(&mut running).unwrap().unwrap_err();
        assert!(matches!(err, KeepFreshError::File(_)), "{err:?}");
    }

    #[test]
    fn a_file_that_cannot_be_removed_is_an_error() {
        let h = Harness::new([
            Step::token("ya29.one", HOUR),
            Step::transient(),
            Step::transient(),
        ]);
        let keep = KeepFresh::new(h.file()).with_retry(HOUR, HOUR);
        let mut running = h.start(keep);
        assert!(settle(&mut running).is_none());
        // Something else put a directory with a file where the token file was.
        std::fs::remove_file(h.file().path()).unwrap();
        std::fs::create_dir(h.file().path()).unwrap();
        std::fs::write(h.file().path().join("x"), "").unwrap();
        h.clock.advance(STALE_AFTER);
        assert!(settle(&mut running).is_none());
        h.clock.advance(Duration::from_secs(225));
        let err = settle(&mut running).unwrap().unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("could not remove the expired token file"),
            "{message}"
        );
        assert!(matches!(err, KeepFreshError::File(ref file) if file.path() == h.file().path()));
    }

    #[test]
    fn dropping_the_future_leaves_the_last_file_and_nothing_else() {
        let h = Harness::new([Step::token("ya29.one", HOUR), Step::token("ya29.two", HOUR)]);
        let mut running = h.start(KeepFresh::new(h.file()));
        assert!(settle(&mut running).is_none());
        h.clock.advance(STALE_AFTER);
        assert!(settle(&mut running).is_none());
        drop(running);
        assert_eq!(h.content().as_deref(), Some("ya29.two"));
        assert_eq!(h.names(), ["token"]);
        assert_eq!(h.clock.pending_sleeps(), 0);
    }

    #[test]
    fn dropping_the_future_mid_refresh_leaves_the_last_file() {
        let h = Harness::new([Step::token("ya29.one", HOUR), Step::Hang]);
        let mut running = h.start(KeepFresh::new(h.file()));
        assert!(settle(&mut running).is_none());
        h.clock.advance(STALE_AFTER);
        assert!(settle(&mut running).is_none());
        assert_eq!(h.source.fetches(), 2);
        drop(running);
        assert_eq!(h.content().as_deref(), Some("ya29.one"));
        assert_eq!(h.names(), ["token"]);
    }

    #[test]
    fn a_token_without_an_expiry_is_written_once() {
        let clock = FakeClock::new();
        let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.forever")));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let mut written = Vec::new();
        let mut running = Box::pin(keep_fresh(&credentials, &clock, &path, |event| {
            written.push(matches!(event, Event::Written { expiry: None }));
        }));
        assert!(running.as_mut().now_or_never().is_none());
        assert!(running.as_mut().now_or_never().is_none());
        assert!(clock.sleeps().is_empty());
        drop(running);
        assert_eq!(written, [true]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ya29.forever");
    }

    #[test]
    fn a_short_lived_token_is_refreshed_at_its_threshold_or_after_the_shortest_wait() {
        // A token of 2 s turns stale at 1.5 s (a quarter of its lifetime before the expiry).
        let h = Harness::new([Step::token("ya29.a", Duration::from_secs(2))]);
        let mut running = h.start(KeepFresh::new(h.file()));
        assert!(settle(&mut running).is_none());
        assert_eq!(h.clock.sleeps(), [Duration::from_millis(1500)]);

        // A token of 1 s would turn stale at 0.75 s: the loop waits a second all the same.
        let h = Harness::new([Step::token("ya29.b", Duration::from_secs(1))]);
        let mut running = h.start(KeepFresh::new(h.file()));
        assert!(settle(&mut running).is_none());
        assert_eq!(h.clock.sleeps(), [MIN_REFRESH_INTERVAL]);

        // Another threshold.
        let h = Harness::new([Step::token("ya29.c", HOUR)]);
        let keep = KeepFresh::new(h.file()).with_refresh_threshold(Duration::from_secs(60));
        assert_eq!(keep.file(), &h.file());
        let mut running = h.start(keep);
        assert!(settle(&mut running).is_none());
        assert_eq!(h.clock.sleeps(), [Duration::from_secs(3540)]);
    }

    #[test]
    fn the_wait_doubles_up_to_the_longest() {
        let keep = KeepFresh::new(TokenFile::new("t"));
        let waits: Vec<u64> = [1, 2, 3, 5, 6, 7, 17, 100, u32::MAX]
            .into_iter()
            .map(|n| keep.backoff(n).as_secs())
            .collect();
        assert_eq!(waits, [10, 20, 40, 160, 300, 300, 300, 300, 300]);
        let keep = keep.with_retry(Duration::from_secs(1), Duration::from_secs(1 << 20));
        assert_eq!(keep.backoff(17).as_secs(), 1 << 16);
        assert_eq!(keep.backoff(18).as_secs(), 1 << 16);
        assert_eq!(keep.backoff(0).as_secs(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_0600_and_rewrites_keep_it_so() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let file = TokenFile::new(&path);
        assert_eq!(file.path(), path);
        file.write("ya29.new").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ya29.new");
        file.write("ya29.newer").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ya29.newer");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_path_without_a_directory_is_in_the_current_one() {
        let name = format!("credkit-token-file-test-{}", std::process::id());
        let file = TokenFile::new(&name);
        file.write("ya29.here").unwrap();
        let written = std::fs::read_to_string(&name);
        file.remove().unwrap();
        assert_eq!(written.unwrap(), "ya29.here");
        assert!(!Path::new(&name).exists());
        // Removing a file already gone is fine.
        file.remove().unwrap();
    }

    #[test]
    fn errors_say_what_to_do_and_carry_their_cause() {
        let dir = tempfile::tempdir().unwrap();
        let file = TokenFile::new(dir.path().join("no").join("token"));
        let err = file.write("ya29.secret").unwrap_err();
        assert!(
            err.to_string().contains("check that its directory exists"),
            "{err}"
        );
        assert!(!err.to_string().contains("ya29.secret"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
        let err = KeepFreshError::from(err);
        assert!(matches!(err, KeepFreshError::File(_)));
    }
}
