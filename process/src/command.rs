//! What to run ([`Command`]) and within which bounds ([`Limits`]).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::time::Duration;

/// The standard output kept by default: 64 KiB, far more than a token or a small JSON document.
pub const DEFAULT_STDOUT_LIMIT: usize = 64 * 1024;

/// The standard error kept by default: the first 8 KiB (the rest is read and dropped).
pub const DEFAULT_STDERR_KEPT: usize = 8 * 1024;

/// A program to run: its path or name (looked up on `PATH` as the platform does), its
/// arguments, passed as they are with no shell in between, and environment variables to set on
/// top of the ones the child inherits from this process.
///
/// `Debug` shows the program, the arguments and the names of the variables, never their values.
///
/// ```
/// use credkit_process::Command;
///
/// let command = Command::new("/opt/helper")
///     .with_args(["--format", "json"])
///     .with_env("HELPER_TOKEN_TYPE", "urn:ietf:params:oauth:token-type:jwt");
/// assert_eq!(command.program(), "/opt/helper");
/// assert_eq!(command.args().count(), 2);
/// assert!(!format!("{command:?}").contains("token-type:jwt"));
/// ```
#[derive(Clone)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&OsStr> = self.envs.iter().map(|(name, _)| name.as_os_str()).collect();
        f.debug_struct("Command")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &names)
            .finish()
    }
}

impl Command {
    /// Runs `program` with no arguments and the inherited environment.
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// The same command with `arg` after its arguments.
    #[must_use]
    pub fn with_arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The same command with `args` after its arguments.
    #[must_use]
    pub fn with_args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The same command setting the variable `name` to `value` in the child's environment (a
    /// later value for the same name wins).
    #[must_use]
    pub fn with_env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((name.into(), value.into()));
        self
    }

    /// The program.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments, in order.
    pub fn args(&self) -> impl ExactSizeIterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    /// The variables set on top of the inherited environment, in the order they were given.
    pub fn envs(&self) -> impl ExactSizeIterator<Item = (&OsStr, &OsStr)> {
        self.envs
            .iter()
            .map(|(name, value)| (name.as_os_str(), value.as_os_str()))
    }

    /// The standard library's command for this one: program, arguments and variables.
    pub(crate) fn to_std(&self) -> std::process::Command {
        let mut command = std::process::Command::new(&self.program);
        command.args(&self.args);
        command.envs(self.envs.iter().map(|(name, value)| (name, value)));
        command
    }
}

/// The bounds of one run: how long it may take, how much standard output it may print, how
/// much of its standard error is kept.
///
/// ```
/// use std::time::Duration;
/// use credkit_process::{DEFAULT_STDOUT_LIMIT, Limits};
///
/// let limits = Limits::new(Duration::from_secs(30));
/// assert_eq!(limits.stdout_limit(), DEFAULT_STDOUT_LIMIT);
/// let limits = limits.with_stdout_limit(1 << 20).with_stderr_kept(1024);
/// assert_eq!(limits.stdout_limit(), 1 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    timeout: Duration,
    stdout_limit: usize,
    stderr_kept: usize,
}

impl Limits {
    /// At most `timeout`, [`DEFAULT_STDOUT_LIMIT`] bytes of standard output, the first
    /// [`DEFAULT_STDERR_KEPT`] bytes of standard error kept.
    pub const fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            stdout_limit: DEFAULT_STDOUT_LIMIT,
            stderr_kept: DEFAULT_STDERR_KEPT,
        }
    }

    /// The same limits allowing at most `bytes` of standard output; more stops the run
    /// ([`RunError::TooMuchOutput`](crate::RunError::TooMuchOutput)). A buffer of this size is
    /// allocated for each run, so that no growth leaves a copy of a secret behind.
    #[must_use]
    pub const fn with_stdout_limit(mut self, bytes: usize) -> Self {
        self.stdout_limit = bytes;
        self
    }

    /// The same limits keeping the first `bytes` of standard error.
    #[must_use]
    pub const fn with_stderr_kept(mut self, bytes: usize) -> Self {
        self.stderr_kept = bytes;
        self
    }

    /// How long the program may run, until it has exited and closed its output.
    pub const fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The most standard output allowed, in bytes.
    pub const fn stdout_limit(&self) -> usize {
        self.stdout_limit
    }

    /// How much standard error is kept, in bytes.
    pub const fn stderr_kept(&self) -> usize {
        self.stderr_kept
    }
}
