//! [`run`]: one program started, waited for within its limits, and cleaned up after.

use std::fmt;
use std::io;
use std::pin::pin;
use std::process::ExitStatus;
use std::time::Duration;

use async_process::Stdio;
use credkit_core::Clock;
use futures::future::{self, Either};
use zeroize::Zeroizing;

use crate::read::{read_kept, read_limited};
use crate::tree::TreeGuard;
use crate::{Command, Limits};

/// What a program that ran to its end left behind, whatever its exit status.
///
/// `Debug` shows the status and the lengths of the outputs, never their bytes.
#[non_exhaustive]
pub struct Output {
    /// How it exited.
    pub status: ExitStatus,
    /// All it printed on standard output (at most [`Limits::stdout_limit`] bytes), wiped from
    /// memory when dropped: it usually holds a credential.
    pub stdout: Zeroizing<Vec<u8>>,
    /// The first [`Limits::stderr_kept`] bytes it printed on standard error, wiped when
    /// dropped too.
    pub stderr: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Output")
            .field("status", &self.status)
            .field("stdout_bytes", &self.stdout.len())
            .field("stderr_bytes", &self.stderr.len())
            .finish()
    }
}

/// Why a program did not run to its end. In every case but [`Spawn`](RunError::Spawn) its
/// whole process tree was killed and the program reaped before the error was returned.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// The program could not be started (`NotFound` when it does not exist).
    Spawn(io::Error),
    /// It ran past the timeout (it had not exited, or something it started still held its
    /// output open).
    TimedOut {
        /// The timeout it ran past.
        after: Duration,
    },
    /// It printed more than the limit on standard output.
    TooMuchOutput {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Reading its output or waiting for it failed.
    Io(io::Error),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spawn(err) => write!(f, "the program could not be started ({})", err.kind()),
            Self::TimedOut { after } => {
                write!(
                    f,
                    "the program did not finish within {after:?} and was killed"
                )
            }
            Self::TooMuchOutput { limit } => write!(
                f,
                "the program printed more than {limit} bytes on standard output and was killed"
            ),
            Self::Io(err) => write!(f, "reading the program's output failed ({})", err.kind()),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Spawn(err) | Self::Io(err) => Some(err),
            Self::TimedOut { .. } | Self::TooMuchOutput { .. } => None,
        }
    }
}

/// Runs `command` and waits, by `clock`'s [`sleep`](Clock::sleep), at most
/// [`limits.timeout()`](Limits::timeout) for it to exit and close its output.
///
/// Standard input is closed; standard output and standard error are read at the same time, so
/// neither pipe fills up. On Unix the program leads a new process group.
///
/// Dropping the returned future kills the whole tree too; the program itself is then reaped in
/// the background by `async-process`.
///
/// # Errors
///
/// [`RunError`]: not started, timed out, too much output, or its output unreadable. A program
/// that exits unsuccessfully is not an error here: its [`Output::status`] says so.
pub async fn run(
    command: &Command,
    limits: &Limits,
    clock: &dyn Clock,
) -> Result<Output, RunError> {
    let mut std_command = command.to_std();
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut std_command, 0);
    let mut child = async_process::Command::from(std_command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(RunError::Spawn)?;
    // Declared after the child, so dropped before it: a dropped run kills the tree while the
    // child is not yet reaped (so its process group id cannot have been reused).
    let mut tree = TreeGuard::new(child.id());
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let status = child.status();

    let outcome = {
        let work = pin!(async move {
            let (stdout, stderr) = future::try_join(
                read_limited(stdout, limits.stdout_limit()),
                read_kept(stderr, limits.stderr_kept()),
            )
            .await?;
            let status = status.await.map_err(RunError::Io)?;
            Ok(Output {
                status,
                stdout,
                stderr,
            })
        });
        match future::select(work, clock.sleep(limits.timeout())).await {
            Either::Left((finished, _)) => finished,
            Either::Right(((), _)) => Err(RunError::TimedOut {
                after: limits.timeout(),
            }),
        }
    };
    if outcome.is_err() {
        // The whole tree first, while the child is unreaped; then the child itself. An error
        // from `kill` means it has already exited; either way, reap it now so no zombie is left
        // behind. After SIGKILL (TerminateProcess on Windows) this returns promptly.
        tree.kill().await;
        let _ = child.kill();
        let _ = child.status().await;
    }
    tree.disarm();
    outcome
}
