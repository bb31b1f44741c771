//! Executable-sourced subject tokens: the reference's `pluggable` module. A program named in the
//! credentials file prints an OIDC token or a SAML assertion as a small JSON response; its
//! output file, when configured, caches that response between runs.

mod builder;
mod error;
mod response;
mod split;
#[cfg(test)]
mod tests;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use credkit_core::Error;
use credkit_process::{Command, Limits, RunError};
use secrecy::SecretString;
use serde_json::Value;
use zeroize::Zeroizing;

pub use builder::ExecutableSourceBuilder;
pub(crate) use builder::from_credential_source;
use error::Origin;
use response::Problem;
#[cfg(fuzzing)]
pub(crate) use split::split;

use crate::supplier::{SubjectTokenSupplier, SupplierContext};

/// The variable that must be `1` for any executable to run.
pub(crate) const ALLOW_EXECUTABLES: &str = "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES";

/// The most a response may take, on standard output or in the output file: 1 MiB (a SAML
/// assertion is at most [`MAX_SUBJECT_TOKEN_BYTES`](crate::MAX_SUBJECT_TOKEN_BYTES)).
pub(crate) const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// A subject token from a program: the reference's executable-sourced credentials
/// (`pluggable.Credentials`), run without a shell and safer at the edges.
///
/// ```
/// use std::time::Duration;
/// use credkit_external_account::ExecutableSource;
///
/// let source = ExecutableSource::builder("/opt/idp/get-token --audience 'my pool'")
///     .with_timeout(Duration::from_secs(10))
///     .with_output_file("/run/idp/cached-response.json")
///     .build()?;
/// assert_eq!(source.program(), "/opt/idp/get-token");
/// assert_eq!(source.args(), ["--audience", "my pool"]);
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
///
/// # Running it
///
/// Nothing runs unless the environment (read through
/// [`SupplierContext::env`]) has `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1`: a credentials
/// file must not be enough to run a program. Then, at each subject token:
///
/// 1. **The output file**, when configured, is read first. A successful response there that
///    has an `expiration_time` still ahead (by the context's [`Clock`](credkit_core::Clock)) is
///    used without running the program. A file that is missing, unreadable, larger than 1 MiB or
///    not JSON is passed over, and so is a response the reference treats as stale: expired,
///    without an `expiration_time`, a failure response, an unsupported `version` or
///    `token_type`, or a type the credentials do not accept. A malformed one (a required member
///    missing or of the wrong type, a failure without `code` and `message`, a bad token) is an
///    error, as in the reference: the program that writes it is broken.
/// 2. **The program** is run: the command line is split into words as Python's `shlex.split`
///    does (no shell: single quotes keep text as is; double quotes too, except that a backslash
///    escapes `"` and `\`; outside quotes a backslash escapes any character; nothing is
///    expanded, so `$HOME`, `~`, `*`, `|` and `>` are plain characters), standard input is
///    closed, standard error kept apart from the response (the reference merges it in), and
///    the whole process tree killed if it runs past the timeout or prints more than 1 MiB. It
///    inherits this process's environment, plus the variables the reference sets:
///    `GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE`, `GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE`,
///    `GOOGLE_EXTERNAL_ACCOUNT_ID` (the impersonated service account, or empty),
///    `GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE=0`, `GOOGLE_EXTERNAL_ACCOUNT_REVOKE=0`,
///    `GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL` when impersonating, and
///    `GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE` when an output file is configured. (Variables a
///    [`SupplierContext`] fakes with `with_env_lookup` are read for the gate only: the child
///    gets the real environment.)
/// 3. **The response** on standard output must be version 1 and successful, of a
///    `token_type` the credentials' subject token type accepts (`jwt` and `id_token` are both
///    OIDC and take `id_token`; `saml2` takes `saml_response`), not expired if it has an
///    `expiration_time` (optional here), with a token that is non-empty, at most
///    [`MAX_SUBJECT_TOKEN_BYTES`](crate::MAX_SUBJECT_TOKEN_BYTES) and free of control
///    characters. A program that prints nothing (or a JSON value Python finds false) is
///    answered by its output file instead, as in the reference.
///
/// Every failure is an [`Error`] that says what is wrong and never quotes a token: a non-zero
/// exit is reported with the failure response's `code` and `message` and an excerpt of standard
/// error, scrubbed; standard output itself is never quoted.
///
/// Interactive mode (the reference's `interactive=True`, which only its CLI sets) is not
/// supported: the program is always told `GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE=0`.
#[derive(Clone, Debug)]
pub struct ExecutableSource {
    command: String,
    /// The command split into words: the program, then its arguments.
    program: String,
    args: Vec<String>,
    timeout: Duration,
    output_file: Option<PathBuf>,
    impersonated_email: Option<String>,
}

impl ExecutableSource {
    /// The timeout when the configuration names none: 30 seconds.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// The shortest timeout allowed: 5 seconds.
    pub const MIN_TIMEOUT: Duration = Duration::from_secs(5);

    /// The longest timeout allowed: 2 minutes.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(120);

    /// The environment variable that must be `1` for the program to run.
    pub const ALLOW_EXECUTABLES: &'static str = ALLOW_EXECUTABLES;

    /// A builder running `command`, a command line split into words as described on the type.
    pub fn builder(command: impl Into<String>) -> ExecutableSourceBuilder {
        ExecutableSourceBuilder::new(command.into())
    }

    /// The command line as configured.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The program run: the command line's first word.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The program's arguments: the command line's other words.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// How long the program may run.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The file caching the program's response, if one is configured.
    pub fn output_file(&self) -> Option<&Path> {
        self.output_file.as_deref()
    }

    /// The service account the credentials impersonate, told to the program.
    pub fn impersonated_email(&self) -> Option<&str> {
        self.impersonated_email.as_deref()
    }

    /// The command the program runs as: its words and the reference's variables.
    fn prepared(&self, context: &SupplierContext) -> Command {
        let email = self.impersonated_email.as_deref();
        let mut command = Command::new(&self.program)
            .with_args(&self.args)
            .with_env("GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE", context.audience())
            .with_env(
                "GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE",
                context.subject_token_type(),
            )
            .with_env("GOOGLE_EXTERNAL_ACCOUNT_ID", email.unwrap_or_default())
            .with_env("GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE", "0");
        if let Some(email) = email {
            command = command.with_env("GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL", email);
        }
        if let Some(path) = &self.output_file {
            command = command.with_env("GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE", path);
        }
        command.with_env("GOOGLE_EXTERNAL_ACCOUNT_REVOKE", "0")
    }

    /// Runs the program: its response (or its output file's), or why there is none.
    async fn run(&self, context: &SupplierContext) -> Result<SecretString, Error> {
        let limits = Limits::new(self.timeout).with_stdout_limit(MAX_OUTPUT_BYTES);
        let output = credkit_process::run(&self.prepared(context), &limits, &**context.clock())
            .await
            .map_err(|err| match err {
                RunError::Spawn(err) => error::spawn_failed(&self.program, err),
                RunError::TimedOut { .. } => error::timed_out(&self.program, self.timeout),
                RunError::TooMuchOutput { .. } => error::too_much_output(&self.program),
                RunError::Io(err) => error::io_failed(&self.program, err),
                other => error::run_failed(&self.program, &other),
            })?;
        if !output.status.success() {
            return Err(exited(&output, context));
        }
        let (expected, now) = (context.subject_token_type(), now(context));
        if let Some(token) = printed(&output.stdout, expected, now)? {
            return Ok(token);
        }
        let Some(path) = &self.output_file else {
            return Err(error::no_response(&self.program));
        };
        let bytes = read_bounded(path).map_err(|err| match err {
            Unread::Io(err) => error::output_file_unreadable(path, err),
            Unread::TooBig => error::output_file_too_big(path),
        })?;
        written(&bytes, path, expected, now)
    }
}

#[async_trait]
impl SubjectTokenSupplier for ExecutableSource {
    async fn subject_token(&self, context: &SupplierContext) -> Result<SecretString, Error> {
        if context.env(ALLOW_EXECUTABLES).as_deref() != Some("1") {
            return Err(error::not_allowed());
        }
        // A file that cannot be read is passed over, as one that is not JSON.
        if let Some(path) = &self.output_file
            && let Ok(bytes) = read_bounded(path)
            && let Some(token) =
                cached_response(&bytes, path, context.subject_token_type(), now(context))?
        {
            return Ok(token);
        }
        self.run(context).await
    }

    fn kind(&self) -> &'static str {
        "executable"
    }
}

/// The error of a program that exited unsuccessfully: its failure response, if it printed one,
/// and its standard error, never a token from its output.
fn exited(output: &credkit_process::Output, context: &SupplierContext) -> Error {
    let mut value: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let failure = response::check(&value, context.subject_token_type(), now(context)).err();
    let secrets = value
        .as_object()
        .map(response::tokens_in)
        .unwrap_or_default();
    credkit_core::oauth::zeroize_json(&mut value);
    error::exited(output.status, failure.as_ref(), &output.stderr, &secrets)
}

/// The response the program printed on `stdout`: its token, or `None` when it printed nothing
/// (or a JSON value Python finds false), for the output file to answer instead.
pub(crate) fn printed(
    stdout: &[u8],
    expected_type: &str,
    now: SystemTime,
) -> Result<Option<SecretString>, Error> {
    if stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let mut value: Value =
        serde_json::from_slice(stdout).map_err(|err| error::not_json(Origin::Program, &err))?;
    if response::is_falsy(&value) {
        credkit_core::oauth::zeroize_json(&mut value);
        return Ok(None);
    }
    checked(value, expected_type, now)
        .map(Some)
        .map_err(|problem| error::response(&problem, Origin::Program))
}

/// The response the program wrote to its output file at `path` (`bytes`) instead of printing
/// it: checked as a printed one.
fn written(
    bytes: &[u8],
    path: &Path,
    expected_type: &str,
    now: SystemTime,
) -> Result<SecretString, Error> {
    let origin = Origin::OutputFile(path);
    let value = serde_json::from_slice(bytes).map_err(|err| error::not_json(origin, &err))?;
    checked(value, expected_type, now).map_err(|problem| error::response(&problem, origin))
}

/// The cached response in `bytes`, read from the output file at `path` before running the
/// program: the token of a usable one, `None` for one to pass over, the error of a malformed
/// one.
pub(crate) fn cached_response(
    bytes: &[u8],
    path: &Path,
    expected_type: &str,
    now: SystemTime,
) -> Result<Option<SecretString>, Error> {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return Ok(None);
    };
    match response::check_wiped(value, expected_type, now) {
        // Without an expiry it cannot be known to be valid: the reference runs the program.
        Ok(response) => Ok(response.has_expiry.then_some(response.token)),
        Err(problem @ Problem::Malformed(_)) => {
            Err(error::response(&problem, Origin::OutputFile(path)))
        }
        Err(Problem::Unsuccessful { .. } | Problem::Unusable(_)) => Ok(None),
    }
}

/// The token of the response `value`, which is wiped.
fn checked(value: Value, expected_type: &str, now: SystemTime) -> Result<SecretString, Problem> {
    response::check_wiped(value, expected_type, now).map(|response| response.token)
}

/// The context's time, for comparisons with `expiration_time`.
fn now(context: &SupplierContext) -> SystemTime {
    context.clock().now().into()
}

/// Why a file was not read.
enum Unread {
    Io(std::io::Error),
    TooBig,
}

/// The file at `path`, if it holds at most [`MAX_OUTPUT_BYTES`].
fn read_bounded(path: &Path) -> Result<Zeroizing<Vec<u8>>, Unread> {
    let file = std::fs::File::open(path).map_err(Unread::Io)?;
    // Allocated once at its final size (one byte past the limit, to see a larger file), so no
    // reallocation leaves an unwiped copy behind.
    let mut content = Zeroizing::new(Vec::with_capacity(MAX_OUTPUT_BYTES + 1));
    let read_at_most = u64::try_from(content.capacity()).unwrap_or(u64::MAX);
    file.take(read_at_most)
        .read_to_end(&mut content)
        .map_err(Unread::Io)?;
    // A byte past the limit: the file is larger.
    if content.get(MAX_OUTPUT_BYTES).is_some() {
        return Err(Unread::TooBig);
    }
    Ok(content)
}
