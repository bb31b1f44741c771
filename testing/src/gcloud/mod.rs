//! `FakeGcloud`: an executable that answers like the `gcloud` command-line tool.

pub(crate) mod script;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tempfile::TempDir;
use time::OffsetDateTime;

use credkit_core::{Clock, SystemClock};

/// The lifetime of the default token, from the clock's current time.
const DEFAULT_LIFETIME: time::Duration = time::Duration::HOUR;

/// The token a [`FakeGcloud`] prints unless told otherwise.
pub const FAKE_GCLOUD_TOKEN: &str = "ya29.fake-gcloud-token";

/// The account a [`FakeGcloud`] reports when it is run without `--account`.
pub const FAKE_GCLOUD_ACCOUNT: &str = "user@example.com";

/// A fake `gcloud`: a shell script in a temporary directory that answers
/// `gcloud auth print-access-token [--account=A]`,
/// `gcloud config config-helper --format=json [--account=A]` and
/// `gcloud auth print-identity-token [...]` as scripted, and records every time
/// it runs. The directory is deleted when the last clone is dropped.
///
/// By default it prints [`FAKE_GCLOUD_TOKEN`], and config-helper reports that token expiring one
/// hour after the current time of the clock in use: the one given to
/// [`FakeGcloudBuilder::with_clock`] (a [`FakeClock`](crate::FakeClock)), else the system
/// clock. So the provider under test sees a one-hour token, never one expired since a fixed
/// date. [`GcloudReply`] scripts failures, hangs
/// and garbage, for both commands or each on its own. Any other command fails as gcloud does with
/// an unknown command: `Invalid choice` on standard error, exit status 2.
///
/// Unix only: it is a `/bin/sh` script.
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use credkit_testing::{FakeGcloud, GcloudReply};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let gcloud = FakeGcloud::builder()
///     .with_token("ya29.from-the-fake")
///     .with_config_helper(GcloudReply::invalid_choice())
///     .build()?;
///
/// let out = Command::new(gcloud.path()).args(["auth", "print-access-token", "--account=a@example.com"]).output()?;
/// assert_eq!(out.stdout, b"ya29.from-the-fake\n");
///
/// let out = Command::new(gcloud.path()).args(["config", "config-helper", "--format=json"]).output()?;
/// assert_eq!(out.status.code(), Some(2));
///
/// assert_eq!(gcloud.calls(), 2);
/// assert_eq!(gcloud.invocations()[0], ["auth", "print-access-token", "--account=a@example.com"]);
/// # Ok(())
/// # }
/// ```
///
/// # Spawning a fresh script in parallel tests
///
/// Executing a file that some process holds open for writing fails with `ETXTBSY` ("text file
/// busy"), and a parallel test that forks while this process writes the script would hold such a
/// descriptor. The builder therefore never opens the script for writing itself: a short-lived
/// `/bin/sh` child writes it, so no thread of the test process can fork a copy of the descriptor,
/// and the script is closed for good before [`build`](FakeGcloudBuilder::build) returns. The code
/// under test needs no retry.
#[derive(Clone)]
pub struct FakeGcloud {
    inner: Arc<Inner>,
}

struct Inner {
    program: PathBuf,
    log: PathBuf,
    // Deleted with everything in it when dropped.
    dir: TempDir,
}

/// How a [`FakeGcloud`] answers one command.
///
/// # Examples
///
/// An old gcloud without `config-helper`, whose `print-access-token` then hangs:
///
/// ```
/// use std::process::{Command, Stdio};
/// use credkit_testing::{FakeGcloud, GcloudReply};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let gcloud = FakeGcloud::builder()
///     .with_config_helper(GcloudReply::invalid_choice())
///     .with_print_access_token(GcloudReply::Hang)
///     .build()?;
/// let mut hung = Command::new(gcloud.path())
///     .args(["auth", "print-access-token"])
///     .stdout(Stdio::piped())
///     .spawn()?;
/// hung.kill()?; // the process killed is the one holding the pipe
/// assert!(!hung.wait()?.success());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GcloudReply {
    /// As gcloud does when all is well: `print-access-token` prints the token and a newline;
    /// `config-helper --format=json` prints its JSON document with the token, its expiry, the
    /// account (the `--account` value, or the default account) and the project. Exit status 0.
    Token,
    /// Print `stderr` on standard error, nothing on standard output, and exit with `exit_code`.
    Fail {
        /// Written to standard error as is.
        stderr: String,
        /// The exit status.
        exit_code: i32,
    },
    /// Never answer: the script `exec`s `sleep 3600`, so the process a caller kills is the one
    /// holding the pipes, and no orphan keeps them open.
    Hang,
    /// Print this text on standard output as is, and exit with status 0 (garbage, or a document of
    /// the test's own).
    Stdout(String),
}

impl GcloudReply {
    /// A [`GcloudReply::Fail`].
    pub fn fail(stderr: impl Into<String>, exit_code: i32) -> Self {
        Self::Fail {
            stderr: stderr.into(),
            exit_code,
        }
    }

    /// A [`GcloudReply::Stdout`].
    pub fn stdout(stdout: impl Into<String>) -> Self {
        Self::Stdout(stdout.into())
    }

    /// What gcloud says when its stored credentials need the user to log in again (reauthentication
    /// required, refresh token revoked): a message naming `gcloud auth login`, exit status 1.
    pub fn login_required() -> Self {
        Self::fail(
            "ERROR: (gcloud.config.config-helper) There was a problem refreshing your current auth \
             tokens: Reauthentication failed. cannot prompt during non-interactive execution.\n\
             Please run:\n\n  $ gcloud auth login\n\nto obtain new credentials.\n",
            1,
        )
    }

    /// What an old gcloud without the command says: `Invalid choice`, exit status 2.
    pub fn invalid_choice() -> Self {
        Self::fail(
            "ERROR: (gcloud.config) Invalid choice: 'config-helper'.\n\
             Maybe you meant:\n  gcloud config get\n  gcloud config list\n",
            2,
        )
    }
}

impl FakeGcloud {
    /// A builder with the defaults described on [`FakeGcloud`].
    pub fn builder() -> FakeGcloudBuilder {
        FakeGcloudBuilder::default()
    }

    /// The executable's path: give it to the code under test as its gcloud program.
    pub fn path(&self) -> &Path {
        &self.inner.program
    }

    /// The temporary directory holding the script and its log.
    pub fn dir(&self) -> &Path {
        self.inner.dir.path()
    }

    /// How many times the script has started, whatever it then did.
    pub fn calls(&self) -> usize {
        self.records().len()
    }

    /// The arguments of each run, in the order the runs started. An argument containing a
    /// newline would split its record; gcloud arguments never do.
    pub fn invocations(&self) -> Vec<Vec<String>> {
        self.records().into_iter().map(|(_, args)| args).collect()
    }

    /// The process id of each run, in the order the runs started (to check that a hanging run
    /// was killed).
    pub fn pids(&self) -> Vec<u32> {
        self.records().into_iter().map(|(pid, _)| pid).collect()
    }

    fn records(&self) -> Vec<(u32, Vec<String>)> {
        let Ok(text) = std::fs::read_to_string(&self.inner.log) else {
            return Vec::new();
        };
        text.lines().filter_map(parse_record).collect()
    }
}

/// One log line: `pid<TAB>argc:arg<US>arg<US>...`.
fn parse_record(line: &str) -> Option<(u32, Vec<String>)> {
    let (pid, rest) = line.split_once('\t')?;
    let (count, joined) = rest.split_once(':')?;
    let args = if count.parse::<usize>().ok()? == 0 {
        Vec::new()
    } else {
        joined.split('\u{1f}').map(str::to_owned).collect()
    };
    Some((pid.parse().ok()?, args))
}

impl fmt::Debug for FakeGcloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeGcloud")
            .field("path", &self.inner.program)
            .field("calls", &self.calls())
            .finish()
    }
}

/// Builds a [`FakeGcloud`]; see there for the defaults.
#[derive(Clone, Debug)]
#[must_use]
pub struct FakeGcloudBuilder {
    token: String,
    token_expiry: OffsetDateTime,
    expiry_set: bool,
    id_token: Option<String>,
    identity_token: Option<String>,
    account: String,
    project: String,
    stderr_noise: Option<String>,
    print_access_token: GcloudReply,
    config_helper: GcloudReply,
    print_identity_token: GcloudReply,
}

impl Default for FakeGcloudBuilder {
    fn default() -> Self {
        Self {
            token: FAKE_GCLOUD_TOKEN.to_owned(),
            token_expiry: SystemClock.now() + DEFAULT_LIFETIME,
            expiry_set: false,
            id_token: None,
            identity_token: None,
            account: FAKE_GCLOUD_ACCOUNT.to_owned(),
            project: "fake-project".to_owned(),
            stderr_noise: None,
            print_access_token: GcloudReply::Token,
            config_helper: GcloudReply::Token,
            print_identity_token: GcloudReply::Token,
        }
    }
}

impl FakeGcloudBuilder {
    /// The access token both commands print. Default [`FAKE_GCLOUD_TOKEN`].
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// The `token_expiry` config-helper reports. Default: one hour after the current time of
    /// the clock given to [`with_clock`](Self::with_clock), or of the system clock without
    /// one, read when the builder is made or the clock given; so the token is fresh for the
    /// clock the provider under test uses, whatever the date.
    pub fn with_token_expiry(mut self, expiry: OffsetDateTime) -> Self {
        self.token_expiry = expiry;
        self.expiry_set = true;
        self
    }

    /// The clock the provider under test uses (a [`FakeClock`](crate::FakeClock), say): the
    /// default `token_expiry` becomes one hour after its current time. An expiry set with
    /// [`with_token_expiry`](Self::with_token_expiry) stays.
    ///
    /// ```
    /// use credkit_testing::{FakeClock, FakeGcloud};
    ///
    /// let clock = FakeClock::new();
    /// let gcloud = FakeGcloud::builder().with_clock(&clock).build()?;
    /// # let _ = gcloud;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_clock(mut self, clock: &dyn Clock) -> Self {
        if !self.expiry_set {
            self.token_expiry = clock.now() + DEFAULT_LIFETIME;
        }
        self
    }

    /// An `id_token` for config-helper to report beside the access token. Default none.
    pub fn with_id_token(mut self, id_token: impl Into<String>) -> Self {
        self.id_token = Some(id_token.into());
        self
    }

    /// The ID token `gcloud auth print-identity-token` prints (whatever `--audiences` asks:
    /// mint one per audience with your own issuer if a test needs that). Without one that
    /// command fails as gcloud does for an account that has none.
    pub fn with_identity_token(mut self, id_token: impl Into<String>) -> Self {
        self.identity_token = Some(id_token.into());
        self
    }

    /// How `gcloud auth print-identity-token` answers. Default [`GcloudReply::Token`]: the
    /// token given to [`with_identity_token`](Self::with_identity_token).
    pub fn with_print_identity_token(mut self, reply: GcloudReply) -> Self {
        self.print_identity_token = reply;
        self
    }

    /// The account config-helper reports when run without `--account`. Default
    /// [`FAKE_GCLOUD_ACCOUNT`].
    pub fn with_account(mut self, account: impl Into<String>) -> Self {
        self.account = account.into();
        self
    }

    /// The project config-helper reports. Default `fake-project`.
    pub fn with_project(mut self, project: impl Into<String>) -> Self {
        self.project = project.into();
        self
    }

    /// Text to print on standard error when a command succeeds, as gcloud does with its update
    /// notices and warnings. Default none.
    pub fn with_stderr_noise(mut self, text: impl Into<String>) -> Self {
        self.stderr_noise = Some(text.into());
        self
    }

    /// How both commands answer. Default [`GcloudReply::Token`].
    pub fn with_reply(self, reply: GcloudReply) -> Self {
        self.with_print_access_token(reply.clone())
            .with_config_helper(reply)
    }

    /// How `gcloud auth print-access-token` answers. Default [`GcloudReply::Token`].
    pub fn with_print_access_token(mut self, reply: GcloudReply) -> Self {
        self.print_access_token = reply;
        self
    }

    /// How `gcloud config config-helper` answers. Default [`GcloudReply::Token`].
    pub fn with_config_helper(mut self, reply: GcloudReply) -> Self {
        self.config_helper = reply;
        self
    }

    /// Writes the script into a new temporary directory.
    ///
    /// # Errors
    ///
    /// Creating the directory or writing the script failed, or a configured text contains a NUL
    /// character (which a shell script cannot hold).
    pub fn build(self) -> io::Result<FakeGcloud> {
        let dir = tempfile::Builder::new()
            .prefix("credkit-fake-gcloud-")
            .tempdir()?;
        let program = dir.path().join("gcloud");
        let log = dir.path().join("invocations.log");
        let text = script::render(&self, &log, dir.path())?;
        if text.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a fake gcloud's texts cannot contain NUL characters",
            ));
        }
        script::install_executable(&program, text.as_bytes())?;
        Ok(FakeGcloud {
            inner: Arc::new(Inner { program, log, dir }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse() {
        assert_eq!(parse_record("12\t0:"), Some((12, vec![])));
        assert_eq!(
            parse_record("7\t2:a b\u{1f}c:d"),
            Some((7, vec!["a b".to_owned(), "c:d".to_owned()]))
        );
        assert_eq!(parse_record("7\t1:"), Some((7, vec![String::new()])));
        assert_eq!(parse_record("garbage"), None);
    }
}
