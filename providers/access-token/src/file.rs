//! `TokenFileSource` and its builder: a token read from a file on every fetch.

use std::fmt;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{AccessToken, BuildError, Clock, Result, SystemClock, TokenSource};
use secrecy::zeroize::Zeroizing;
use time::OffsetDateTime;

use crate::error;
use crate::parse;

/// The largest token file read, 64 KiB: an access token is a few hundred bytes to a few
/// kilobytes, a JSON token response a few more.
pub const MAX_FILE_SIZE: u64 = 64 * 1024;

/// How long a token whose expiry is unknown (a bare token) is used before the file is read
/// again: 60 seconds. See [`TokenFileSource`] ("When the file is read").
pub const DEFAULT_REREAD_INTERVAL: Duration = Duration::from_secs(60);

/// How much of a file is read: one byte more than the largest accepted, which tells a file
/// too large.
const READ_LIMIT: u64 = MAX_FILE_SIZE + 1;

/// A [`TokenSource`] that reads an access token from a file, gcloud's `--access-token-file`:
/// for a tool handed a token by a CI step, a sidecar or `credkit token --output-file F
/// --keep-fresh`.
///
/// ```
/// use credkit_access_token::TokenFileSource;
/// use credkit_core::Credentials;
///
/// # futures::executor::block_on(async {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("token");
/// std::fs::write(&path, "ya29.handed-in\n")?;
///
/// let credentials = Credentials::new(TokenFileSource::new(&path));
/// let headers = credentials.headers().await?;
/// assert_eq!(headers["authorization"], "Bearer ya29.handed-in");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # What the file holds
///
/// - **A bare token**, as gcloud reads it: one line, white space around it ignored (a trailing
///   newline, a UTF-8 byte order mark). Its expiry is unknown.
/// - **A JSON document** (the text starts with `{`) with `access_token` (or IAM's
///   `accessToken`) and optionally when it expires: `expiry` (or `expireTime`, `expire_time`,
///   `token_expiry`), RFC 3339; or `expires_in`, seconds from the file's modification time, so
///   a token endpoint's response saved as it came works. Given both, the earlier wins. Other
///   members are ignored.
///
/// The token must be visible ASCII, at most [`MAX_FILE_SIZE`] of file. Anything else is
/// refused with a [`Refusal`](crate::Refusal) saying what is wrong, never with the content.
///
/// # When the file is read
///
/// On every fetch, and only then: no watcher thread, no timer. The caching layer
/// ([`Credentials`](credkit_core::Credentials)) fetches when its token is due, so when the
/// file is read depends on what the token says about its expiry:
///
/// - A **known expiry** is the token's: the file is read again when the token turns stale
///   (225 s before it expires, or a quarter of a shorter lifetime). A token already expired is
///   refused ([`Refusal::Expired`](crate::Refusal::Expired)), never served: whoever writes
///   the file must write a new one.
/// - An **unknown expiry** (a bare token) becomes a re-read deadline: the token is given an
///   expiry [`DEFAULT_REREAD_INTERVAL`] (60 s) after it was read
///   ([`with_reread_interval`](TokenFileSourceBuilder::with_reread_interval)), so a rewritten
///   file is noticed within that interval: without one, the cache would never fetch again on
///   its own. The expiry reported for such a token (by `Credentials::expiry`, by `credkit
///   info`) is this deadline, not the token's.
/// - A **rejected token** (a 401 through
///   [`Credentials::invalidate_if`](credkit_core::Credentials::invalidate_if), as the tower
///   layer and the reqwest middleware do) is dropped, and the next fetch reads the file again
///   at once.
///
/// Each fetch reads the whole file rather than comparing its modification time, length and
/// inode first: fetches are rare (one per token lifetime or re-read interval), the read is
/// one small bounded `read`, and a comparison could miss an in-place rewrite of the same
/// length within the file system's time granularity.
///
/// # A blocking read
///
/// The file is read synchronously inside the async fetch: one `open`, one `stat` and a read of
/// at most [`MAX_FILE_SIZE`] from a local file, microseconds, once per fetch and never on the
/// request path (the caching layer serves its cached token). Handing it to a blocking pool
/// would cost more than the read and tie the crate to a runtime. A file on a hung network
/// file system would block the executor thread; put such a token on a local disk.
///
/// # Errors
///
/// Every error's [`source`](std::error::Error::source) is a [`Refusal`](crate::Refusal):
///
/// - no file: a [`Configuration`](credkit_core::ErrorKind::Configuration) error saying to
///   write one (not "not configured": the path was given);
/// - not readable (a directory, no permission), too large: a `Configuration` error;
/// - an empty file, or a JSON document cut short: an
///   [`InvalidResponse`](credkit_core::ErrorKind::InvalidResponse) error, transient (a writer
///   caught between truncating and writing);
/// - any other unusable content: a permanent `InvalidResponse` error;
/// - an expired token: a permanent `Configuration` error naming the expiry and saying to
///   supply a new token.
#[derive(Clone)]
pub struct TokenFileSource {
    config: Arc<Config>,
}

/// Everything a [`TokenFileSource`] is built from.
#[derive(Clone)]
pub(crate) struct Config {
    path: PathBuf,
    reread_interval: Duration,
    quota_project: Option<String>,
    clock: Arc<dyn Clock>,
}

impl TokenFileSource {
    /// The token file at `path`, with the defaults: a re-read every
    /// [`DEFAULT_REREAD_INTERVAL`] for a token of unknown expiry, the system clock, no quota
    /// project. Nothing is read until the first fetch.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            config: Arc::new(Self::builder(path).config),
        }
    }

    /// A builder for the token file at `path`.
    pub fn builder(path: impl Into<PathBuf>) -> TokenFileSourceBuilder {
        TokenFileSourceBuilder {
            config: Config {
                path: path.into(),
                reread_interval: DEFAULT_REREAD_INTERVAL,
                quota_project: None,
                clock: Arc::new(SystemClock),
            },
        }
    }

    /// The file's path.
    ///
    /// ```
    /// let source = credkit_access_token::TokenFileSource::new("/run/secrets/token");
    /// assert_eq!(source.path(), std::path::Path::new("/run/secrets/token"));
    /// ```
    pub fn path(&self) -> &Path {
        &self.config.path
    }

    /// How long a token of unknown expiry is used before the file is read again.
    pub fn reread_interval(&self) -> Duration {
        self.config.reread_interval
    }

    /// The quota project given to every token (sent as `x-goog-user-project`), if any.
    pub fn quota_project(&self) -> Option<&str> {
        self.config.quota_project.as_deref()
    }

    /// Reads and parses the file as of `now`.
    fn read_token(&self, now: OffsetDateTime) -> Result<AccessToken> {
        let path = &self.config.path;
        let (bytes, written) = read_bounded(path)?;
        let parsed = parse::parse(&bytes, written).map_err(|r| error::file_refused(path, r))?;
        let expiry = parsed.expiry;
        let token = parsed
            .at(now, Some(self.config.reread_interval))
            .map_err(|refusal| match expiry {
                Some(expiry) => error::file_expired(path, expiry),
                None => error::file_refused(path, refusal),
            })?;
        Ok(match &self.config.quota_project {
            Some(project) => token.with_quota_project(project.clone()),
            None => token,
        })
    }
}

/// The file's bytes (at most [`MAX_FILE_SIZE`]) and modification time.
fn read_bounded(path: &Path) -> Result<(Zeroizing<Vec<u8>>, Option<OffsetDateTime>)> {
    let io_error = |source: io::Error| error::file_io(path, &source);
    // Checked before opening: opening a FIFO for reading would wait for a writer.
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    if !metadata.is_file() {
        return Err(error::not_a_file(path));
    }
    let file = File::open(path).map_err(io_error)?;
    let written = metadata.modified().ok().map(OffsetDateTime::from);
    // Room for the whole bound up front, so the buffer never moves and leaves a copy behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(
        usize::try_from(READ_LIMIT).unwrap_or(usize::MAX),
    ));
    file.take(READ_LIMIT)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    // Never more than READ_LIMIT is read, whatever the file's size (which may change between
    // a stat and the read, or be reported as 0 by a special file system).
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(error::too_large(path));
    }
    Ok((bytes, written))
}

#[async_trait]
impl TokenSource for TokenFileSource {
    async fn fetch_token(&self) -> Result<AccessToken> {
        self.read_token(self.config.clock.now())
    }

    fn name(&self) -> &'static str {
        "access token file"
    }
}

impl fmt::Debug for TokenFileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt_as("TokenFileSource", f)
    }
}

impl Config {
    fn fmt_as(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("path", &self.path)
            .field("reread_interval", &self.reread_interval)
            .field("quota_project", &self.quota_project)
            .field("clock", &self.clock)
            .finish()
    }
}

/// Builds a [`TokenFileSource`].
///
/// ```
/// use std::time::Duration;
/// use credkit_access_token::TokenFileSource;
///
/// let source = TokenFileSource::builder("/run/secrets/token")
///     .with_reread_interval(Duration::from_secs(10))
///     .with_quota_project("my-project")
///     .build()?;
/// assert_eq!(source.reread_interval(), Duration::from_secs(10));
/// assert_eq!(source.quota_project(), Some("my-project"));
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[must_use]
pub struct TokenFileSourceBuilder {
    config: Config,
}

impl TokenFileSourceBuilder {
    /// How long a token whose expiry the file does not say (a bare token) is used before the
    /// file is read again. Default [`DEFAULT_REREAD_INTERVAL`], 60 s. Shorter notices a
    /// rewritten file sooner, at the cost of a read per interval while the token is in use.
    pub fn with_reread_interval(mut self, interval: Duration) -> Self {
        self.config.reread_interval = interval;
        self
    }

    /// The quota project, for the caching layer to send as `x-goog-user-project`. Default
    /// none; an empty string also means none.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        let project = project.into();
        self.config.quota_project = (!project.is_empty()).then_some(project);
        self
    }

    /// The clock that decides whether a token has expired and dates re-reads. Default
    /// [`SystemClock`].
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.config.clock = Arc::new(clock);
        self
    }

    /// Builds the source. Nothing is read until the first fetch.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] ([`is_invalid_value`](BuildError::is_invalid_value)) for an empty
    /// path or a zero re-read interval.
    pub fn build(self) -> Result<TokenFileSource, BuildError> {
        if self.config.path.as_os_str().is_empty() {
            return Err(BuildError::invalid_value(
                "the access token file path is empty",
            ));
        }
        if self.config.reread_interval.is_zero() {
            return Err(BuildError::invalid_value(
                "the access token file's re-read interval is zero",
            ));
        }
        Ok(TokenFileSource {
            config: Arc::new(self.config),
        })
    }
}

impl fmt::Debug for TokenFileSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt_as("TokenFileSourceBuilder", f)
    }
}
