//! Running one gcloud command: no shell, no stdin, output kept apart and bounded, a timeout
//! waited through the `Clock`, the whole process tree killed and the child reaped when it runs
//! over.
//!
//! gcloud is rarely one process: `gcloud` is a shell script that starts Python, and on Windows
//! `gcloud.cmd` is a batch file run by `cmd.exe`. Killing only the direct child would leave the
//! real work running, holding the output pipes open. So:
//!
//! - on Unix the child leads a process group of its own (`process_group(0)`), and a timeout, an
//!   output error or a dropped fetch sends `SIGKILL` to the whole group, before the child is
//!   reaped (so the group id cannot have been reused);
//! - on Windows the tree is ended with `taskkill /T /F /PID <pid>` (the system's own tool, which
//!   walks the child processes), then the child itself is killed. A job object would be tighter
//!   (it also catches processes that outlive their parent), but needs `unsafe` Win32 calls,
//!   which the workspace forbids.

use std::ffi::OsStr;
use std::io;
use std::pin::pin;
use std::process::ExitStatus;
use std::time::Duration;

use async_process::{Command, Stdio};
use credkit_core::Clock;
use futures::future::{self, Either};
use futures::io::{AsyncRead, AsyncReadExt as _};
use zeroize::Zeroizing;

/// More than this on standard output is not a token or a config-helper document.
pub(crate) const STDOUT_LIMIT: usize = 64 * 1024;

/// How much of standard error is kept; the rest is read and dropped (gcloud can be verbose).
const STDERR_KEPT: usize = 8 * 1024;

/// What a finished command left behind.
pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    /// Zeroized on drop: it holds the token.
    pub(crate) stdout: Zeroizing<Vec<u8>>,
    /// At most [`STDERR_KEPT`] bytes.
    pub(crate) stderr: Zeroizing<Vec<u8>>,
}

/// Why a command did not finish normally.
#[derive(Debug)]
pub(crate) enum RunError {
    /// The program could not be started.
    Spawn(io::Error),
    /// It ran past the timeout; it was killed and reaped.
    TimedOut,
    /// It printed more than [`STDOUT_LIMIT`] on standard output; it was killed and reaped.
    TooMuchOutput,
    /// Reading its output or waiting for it failed; it was killed and reaped.
    Io(io::Error),
}

/// Runs `program` with `args` and waits, by `clock`, at most `timeout` for it to exit and close
/// its output.
///
/// Dropping the future kills the child (`kill_on_drop`); async-process reaps it in the
/// background.
pub(crate) async fn run(
    program: &OsStr,
    args: &[String],
    timeout: Duration,
    clock: &dyn Clock,
) -> Result<Finished, RunError> {
    let mut command = std::process::Command::new(program);
    command
        .args(args)
        // Never wait for an answer from a person: fail instead of prompting.
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1");
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = Command::from(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(RunError::Spawn)?;
    // Declared after the child, so dropped before it: a dropped fetch kills the tree while the
    // child is not yet reaped.
    let mut tree = TreeGuard {
        pid: child.id(),
        armed: true,
    };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let status = child.status();

    let outcome = {
        let work = pin!(async move {
            let (stdout, stderr) = future::try_join(
                read_limited(stdout, STDOUT_LIMIT),
                read_kept(stderr, STDERR_KEPT),
            )
            .await?;
            let status = status.await.map_err(RunError::Io)?;
            Ok(Finished {
                status,
                stdout,
                stderr,
            })
        });
        match future::select(work, clock.sleep(timeout)).await {
            Either::Left((finished, _)) => finished,
            Either::Right(((), _)) => Err(RunError::TimedOut),
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
    tree.armed = false;
    outcome
}

/// Kills the child's process tree: when told to, or when the fetch is dropped mid-run.
struct TreeGuard {
    pid: u32,
    armed: bool,
}

impl TreeGuard {
    /// Kills the tree now: `SIGKILL` to the process group on Unix, `taskkill /T` (waited for)
    /// on Windows.
    // Awaits only on Windows, where it waits for taskkill.
    #[cfg_attr(not(windows), allow(clippy::unused_async))]
    async fn kill(&mut self) {
        #[cfg(unix)]
        self.kill_now();
        #[cfg(windows)]
        {
            self.armed = false;
            if let Ok(mut taskkill) = taskkill(self.pid).spawn() {
                let _ = taskkill.status().await;
            }
        }
    }

    /// Sends `SIGKILL` to the child's process group, once.
    #[cfg(unix)]
    fn kill_now(&mut self) {
        if std::mem::replace(&mut self.armed, false) {
            let group = i32::try_from(self.pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw);
            if let Some(group) = group {
                // Fails only if the group is already gone.
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
        }
    }
}

impl Drop for TreeGuard {
    fn drop(&mut self) {
        #[cfg(unix)]
        self.kill_now();
        #[cfg(windows)]
        if std::mem::replace(&mut self.armed, false) {
            // Not waited for: a destructor cannot block an executor thread.
            let _ = taskkill(self.pid).kill_on_drop(false).spawn();
        }
    }
}

/// `taskkill /T /F /PID <pid>`: ends the process and all it started.
#[cfg(windows)]
fn taskkill(pid: u32) -> Command {
    let mut command = Command::new("taskkill");
    command
        .args(["/T", "/F", "/PID", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// Reads to the end; more than `limit` bytes is [`RunError::TooMuchOutput`].
async fn read_limited(
    reader: Option<impl AsyncRead + Unpin>,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, RunError> {
    // Allocated once at its final size, so no reallocation leaves an unzeroized copy behind.
    let mut buf = Zeroizing::new(vec![0_u8; limit + 1]);
    let mut filled = 0;
    if let Some(mut reader) = reader {
        while let Some(space) = buf.get_mut(filled..).filter(|s| !s.is_empty()) {
            let n = reader.read(space).await.map_err(RunError::Io)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
    }
    if filled > limit {
        return Err(RunError::TooMuchOutput);
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Reads to the end, keeping the first `kept` bytes.
async fn read_kept(
    reader: Option<impl AsyncRead + Unpin>,
    kept: usize,
) -> Result<Zeroizing<Vec<u8>>, RunError> {
    let mut buf = Zeroizing::new(vec![0_u8; kept]);
    let mut filled = 0;
    let Some(mut reader) = reader else {
        buf.clear();
        return Ok(buf);
    };
    let mut scratch = Zeroizing::new([0_u8; 1024]);
    loop {
        let space = match buf.get_mut(filled..) {
            Some(space) if !space.is_empty() => space,
            _ => &mut scratch[..],
        };
        let n = reader.read(space).await.map_err(RunError::Io)?;
        if n == 0 {
            break;
        }
        // Counts only what went into `buf`; what went to `scratch` is dropped.
        filled = (filled + n).min(kept);
    }
    buf.truncate(filled);
    Ok(buf)
}
