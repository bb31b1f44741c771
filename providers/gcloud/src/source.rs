//! `GcloudSource`: tokens from the gcloud command-line tool.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{AccessToken, Clock, Error, TokenSource};
use credkit_process::{Limits, Output, RunError};
use time::OffsetDateTime;

use crate::GcloudSourceBuilder;
use crate::error::Wanted;
use crate::{error, output, stderr};

/// The program run by default: `gcloud` (`gcloud.cmd` on Windows), found on `PATH`.
pub const DEFAULT_PROGRAM: &str = if cfg!(windows) {
    "gcloud.cmd"
} else {
    "gcloud"
};

/// More than this on standard output is not a token or a config-helper document.
const STDOUT_LIMIT: usize = credkit_process::DEFAULT_STDOUT_LIMIT;

/// How long one gcloud command may run before it is stopped: 30 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The lifetime assumed for a token whose expiry gcloud does not report (the
/// `print-access-token` fallback): 5 minutes, counted from when the command started.
///
/// gcloud refreshes its cached token itself before handing it out near its end, and Google
/// access tokens for users last an hour, so a token just printed almost always has far longer
/// than this left; assuming less than it has only costs an earlier refresh, while assuming more
/// would hand out expired tokens. With credkit's lifetime-scaled threshold a 5-minute token is
/// refreshed after 3 minutes 45 seconds, so this path runs gcloud about 16 times an hour, where the
/// reference runs it on every request.
pub const DEFAULT_FALLBACK_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// A [`TokenSource`] that gets the access token of the account gcloud is logged in with (or of a
/// chosen account) by running the gcloud command-line tool: the reference library's
/// `UserAccessTokenCredentials`.
///
/// # Examples
///
/// ```no_run
/// use credkit_core::TokenSource;
/// use credkit_gcloud::GcloudSource;
///
/// # futures::executor::block_on(async {
/// let source = GcloudSource::builder().with_account("me@example.com").build()?;
/// let token = source.fetch_token().await?; // runs gcloud once
/// assert!(token.expiry().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # One process per refresh, with a real expiry
///
/// Each [`fetch_token`](TokenSource::fetch_token) runs
/// `gcloud config config-helper --format=json [--account=ACCOUNT]`, which reports the token and
/// its expiry in one run. Wrapped in credkit-core's caching layer, gcloud therefore runs once
/// per token lifetime, not on every request as in the reference.
///
/// Where config-helper fails for a reason other than credentials (an old gcloud without the
/// command, output that is not the expected JSON, a token it reports as already expired, an
/// unexplained failure), the fetch falls back to
/// `gcloud auth print-access-token [--account=ACCOUNT]`, whose token gets the conservative
/// [`DEFAULT_FALLBACK_LIFETIME`] (configurable). Where config-helper fails because of the
/// credentials (its standard error speaks of reauthentication, `gcloud auth login`, credentials,
/// auth tokens or the active account, and not of an unknown command), the second command would
/// fail the same way, so it is not run. A timeout is not followed by a second command either:
/// that would double the wait.
///
/// A gcloud that answered config-helper with "Invalid choice" or "unrecognized arguments" (one
/// too old to have it) is remembered for the life of the source and its clones: later fetches
/// go straight to `print-access-token`, one process each instead of two. A copy made with
/// [`to_builder`](GcloudSource::to_builder) (another program, perhaps) asks again.
///
/// # How gcloud is run
///
/// - Directly, never through a shell, so an account name cannot inject anything; with standard
///   input on the null device and `CLOUDSDK_CORE_DISABLE_PROMPTS=1`, so gcloud fails instead of
///   waiting for a person.
/// - Asynchronously, through async-process: no executor thread is blocked and no particular
///   runtime is needed.
/// - With a timeout ([`DEFAULT_TIMEOUT`]) waited through the source's [`Clock`]; past it the
///   whole process tree is killed (gcloud is a script that starts Python; on Windows
///   `gcloud.cmd` runs under `cmd.exe`) and the child reaped. On Unix the child leads its own
///   process group and the group gets `SIGKILL`; on Windows `taskkill /T /F` ends the tree.
///   Dropping the `fetch_token` future kills the tree too.
/// - Standard output and standard error are read apart: only standard output can become a token
///   (the reference merges standard error into it, so gcloud's warnings ended up in the
///   `Authorization` header). Standard output is trimmed and must be one line without whitespace
///   or control characters, or, for config-helper, a well-formed JSON document; it is limited to
///   64 KiB and zeroized after use.
///
/// # Errors
///
/// Each error message starts with the reference's "Failed to obtain access token", and its kind
/// says what happened:
///
/// - [`ErrorKind::NotConfigured`](credkit_core::ErrorKind::NotConfigured): gcloud was not found
///   (the message says to install the Google Cloud SDK or set the program path), so a
///   [`ChainSource`](credkit_core::ChainSource) tries its next source.
/// - [`ErrorKind::Configuration`](credkit_core::ErrorKind::Configuration): gcloud could not be
///   started.
/// - [`ErrorKind::Provider`](credkit_core::ErrorKind::Provider): gcloud exited unsuccessfully;
///   the message quotes the first lines of its standard error, at most 200 characters, with
///   anything token-like replaced by `[REDACTED]`. Transient when that text speaks of the
///   network (name resolution, connections, timeouts).
/// - [`ErrorKind::Timeout`](credkit_core::ErrorKind::Timeout) (transient): gcloud ran past the
///   timeout and was stopped.
/// - [`ErrorKind::InvalidResponse`](credkit_core::ErrorKind::InvalidResponse): gcloud printed
///   something that is not a usable token. The output itself is never quoted.
///
/// # Handle
///
/// A cheap handle: clones share one configuration, so there is no need to wrap it in an `Arc`.
#[derive(Clone)]
pub struct GcloudSource {
    inner: Arc<Config>,
    /// Set once this gcloud has shown it has no `config config-helper`; shared by clones.
    helper_unsupported: Arc<AtomicBool>,
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) program: PathBuf,
    pub(crate) account: Option<String>,
    pub(crate) quota_project: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) fallback_lifetime: Duration,
    pub(crate) clock: Arc<dyn Clock>,
}

/// The two gcloud commands, in the order they are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    ConfigHelper,
    PrintAccessToken,
}

impl Command {
    fn args(self) -> &'static [&'static str] {
        match self {
            Self::ConfigHelper => &["config", "config-helper", "--format=json"],
            Self::PrintAccessToken => &["auth", "print-access-token"],
        }
    }

    /// The command as messages name it.
    fn name(self) -> &'static str {
        match self {
            Self::ConfigHelper => "gcloud config config-helper",
            Self::PrintAccessToken => "gcloud auth print-access-token",
        }
    }
}

/// What the first command leads to.
enum Attempt {
    Done(credkit_core::Result<AccessToken>),
    FallBack(Error),
}

impl GcloudSource {
    /// A source with every default: [`DEFAULT_PROGRAM`] on `PATH`, gcloud's active account, no
    /// quota project, [`DEFAULT_TIMEOUT`], [`DEFAULT_FALLBACK_LIFETIME`] and the
    /// [`SystemClock`](credkit_core::SystemClock).
    pub fn new() -> Self {
        Self::from_config(GcloudSourceBuilder::default().into_config())
    }

    /// A builder for the program path, account, quota project, timeout, fallback lifetime and
    /// clock.
    pub fn builder() -> GcloudSourceBuilder {
        GcloudSourceBuilder::default()
    }

    pub(crate) fn from_config(config: Config) -> Self {
        Self {
            inner: Arc::new(config),
            helper_unsupported: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The settings, for [`GcloudSource::to_builder`].
    pub(crate) fn config(&self) -> &Config {
        &self.inner
    }

    /// The account passed to gcloud, if any (otherwise gcloud uses its active account).
    pub fn account(&self) -> Option<&str> {
        self.inner.account.as_deref()
    }

    /// The quota project for the `x-goog-user-project` header, if any.
    pub fn quota_project(&self) -> Option<&str> {
        self.inner.quota_project.as_deref()
    }

    /// The program run.
    pub fn program(&self) -> &Path {
        &self.inner.program
    }

    /// How long one gcloud command may run.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The lifetime assumed for a token whose expiry gcloud does not report.
    pub fn fallback_lifetime(&self) -> Duration {
        self.inner.fallback_lifetime
    }

    fn args(&self, command: Command) -> Vec<String> {
        let mut args: Vec<String> = command.args().iter().map(|&a| a.to_owned()).collect();
        if let Some(account) = &self.inner.account {
            args.push(format!("--account={account}"));
        }
        args
    }

    async fn run(&self, command: Command) -> Result<Output, Error> {
        self.run_args(Wanted::AccessToken, command.name(), &self.args(command))
            .await
    }

    /// Runs the program with `args` (`name` is the command as messages name it): its output,
    /// or the error that stopped it.
    pub(crate) async fn run_args(
        &self,
        wanted: Wanted,
        name: &'static str,
        args: &[String],
    ) -> Result<Output, Error> {
        let config = &self.inner;
        let command = credkit_process::Command::new(&config.program)
            .with_args(args)
            // Never wait for an answer from a person: fail instead of prompting.
            .with_env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1");
        let limits = Limits::new(config.timeout).with_stdout_limit(STDOUT_LIMIT);
        credkit_process::run(&command, &limits, &*config.clock)
            .await
            .map_err(|e| match e {
                RunError::Spawn(e) if e.kind() == io::ErrorKind::NotFound => {
                    error::not_found(wanted, &config.program, e)
                }
                RunError::Spawn(e) => error::spawn_failed(wanted, &config.program, e),
                RunError::TimedOut { .. } => error::timed_out(wanted, name, config.timeout),
                RunError::TooMuchOutput { limit } => error::invalid_output(
                    wanted,
                    name,
                    &format!(
                        "it printed more than {} KiB on standard output",
                        limit / 1024
                    ),
                ),
                RunError::Io(e) => error::io_failed(wanted, name, e),
                // A kind of failure the runner learns later: reported, not guessed at.
                other => Error::new(
                    credkit_core::ErrorKind::Provider,
                    format!("{}: `{name}`: {other}", wanted.lead()),
                ),
            })
    }

    /// `gcloud config config-helper --format=json`: the token and its expiry, or a reason to fall
    /// back, or an error not worth a second process.
    async fn config_helper(&self, started: OffsetDateTime) -> Attempt {
        let command = Command::ConfigHelper;
        let finished = match self.run(command).await {
            Ok(finished) => finished,
            // Garbage may mean a gcloud whose config-helper differs: worth the other command.
            Err(err) if err.kind() == credkit_core::ErrorKind::InvalidResponse => {
                return Attempt::FallBack(err);
            }
            Err(err) => return Attempt::Done(Err(err)),
        };
        if !finished.status.success() {
            let err = error::exited(
                Wanted::AccessToken,
                command.name(),
                finished.status,
                &finished.stderr,
            );
            let text = String::from_utf8_lossy(&finished.stderr);
            let unsupported = stderr::is_unsupported_command(&text);
            if unsupported {
                // This gcloud will never answer it: ask it only for the token from now on.
                self.helper_unsupported.store(true, Ordering::Relaxed);
            }
            let credentials = !unsupported && stderr::is_credential_problem(&text);
            return if credentials {
                Attempt::Done(Err(err))
            } else {
                Attempt::FallBack(err)
            };
        }
        let now = self.inner.clock.now();
        match output::from_config_helper(
            &finished.stdout,
            started,
            now,
            self.inner.fallback_lifetime,
        ) {
            Ok(token) => Attempt::Done(Ok(token)),
            Err(reason) => Attempt::FallBack(error::invalid_output(
                Wanted::AccessToken,
                command.name(),
                &reason,
            )),
        }
    }

    /// `gcloud auth print-access-token`: the token, with the fallback lifetime from `started`.
    async fn print_access_token(
        &self,
        started: OffsetDateTime,
    ) -> credkit_core::Result<AccessToken> {
        let command = Command::PrintAccessToken;
        let finished = self.run(command).await?;
        if !finished.status.success() {
            return Err(error::exited(
                Wanted::AccessToken,
                command.name(),
                finished.status,
                &finished.stderr,
            ));
        }
        output::from_print_access_token(&finished.stdout, started, self.inner.fallback_lifetime)
            .map_err(|reason| error::invalid_output(Wanted::AccessToken, command.name(), &reason))
    }
}

impl Default for GcloudSource {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl TokenSource for GcloudSource {
    async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
        // Lifetimes count from before the process starts: never later than gcloud's own clock.
        let started = self.inner.clock.now();
        let token = if self.helper_unsupported.load(Ordering::Relaxed) {
            self.print_access_token(started).await?
        } else {
            match self.config_helper(started).await {
                Attempt::Done(result) => result?,
                Attempt::FallBack(reason) => {
                    tracing::debug!(
                        reason = %reason,
                        "gcloud config config-helper gave no token; falling back to gcloud auth print-access-token"
                    );
                    self.print_access_token(started).await?
                }
            }
        };
        // The project travels with the token, so a chain bills to the member that supplied it.
        Ok(match &self.inner.quota_project {
            Some(project) => token.with_quota_project(project.clone()),
            None => token,
        })
    }

    fn name(&self) -> &'static str {
        "gcloud"
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::clone(&self.inner.clock))
    }

    fn quota_project(&self) -> Option<&str> {
        self.inner.quota_project.as_deref()
    }
}

impl fmt::Debug for GcloudSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt_as("GcloudSource", f)
    }
}

impl Config {
    /// The one `Debug` rendering of the source and its builder (nothing here is secret).
    pub(crate) fn fmt_as(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("program", &self.program)
            .field("account", &self.account)
            .field("quota_project", &self.quota_project)
            .field("timeout", &self.timeout)
            .field("fallback_lifetime", &self.fallback_lifetime)
            .field("clock", &self.clock)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_with_and_without_an_account() {
        let source = GcloudSource::new();
        assert_eq!(
            source.args(Command::ConfigHelper),
            ["config", "config-helper", "--format=json"]
        );
        assert_eq!(
            source.args(Command::PrintAccessToken),
            ["auth", "print-access-token"]
        );
        let source = source.with_account("a b@example.com").unwrap();
        assert_eq!(
            source.args(Command::PrintAccessToken),
            ["auth", "print-access-token", "--account=a b@example.com"]
        );
    }

    #[test]
    fn empty_account_and_quota_project_mean_none() {
        let source = GcloudSource::new()
            .with_account("")
            .unwrap()
            .with_quota_project("")
            .unwrap();
        assert_eq!(source.account(), None);
        assert_eq!(source.quota_project(), None);
    }

    #[test]
    fn copies_leave_the_original_alone() {
        let original = GcloudSource::new().with_account("a@example.com").unwrap();
        let copy = original.with_account("b@example.com").unwrap();
        assert_eq!(original.account(), Some("a@example.com"));
        assert_eq!(copy.account(), Some("b@example.com"));
    }

    #[test]
    fn defaults() {
        let source = GcloudSource::default();
        assert_eq!(source.program(), Path::new(DEFAULT_PROGRAM));
        assert_eq!(source.timeout(), DEFAULT_TIMEOUT);
        assert_eq!(source.fallback_lifetime(), DEFAULT_FALLBACK_LIFETIME);
        assert_eq!(source.name(), "gcloud");
    }
}
