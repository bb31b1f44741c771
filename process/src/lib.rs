//! Running a credential helper program for credkit: the gcloud tool, the executable of workload
//! identity federation, or any other program whose standard output is a credential.
//!
//! [`run`] starts a prepared [`Command`] and waits for it within [`Limits`]:
//!
//! - **no shell**: the program is started directly with its arguments, so nothing in them is
//!   expanded, globbed or interpreted; standard input is closed (`/dev/null`), so a program
//!   that would prompt fails instead of hanging;
//! - **bounded output**: standard output past [`Limits::stdout_limit`] stops the run; standard
//!   error is kept apart (never mixed into the answer) and only its first
//!   [`Limits::stderr_kept`] bytes are kept, the rest read and dropped so the program never
//!   blocks on a full pipe; standard output is wiped from memory when dropped (it is a secret);
//! - **a timeout waited on the [`Clock`](credkit_core::Clock)**, so tests drive it with a fake
//!   clock and no real time passes;
//! - **the whole process tree killed and reaped** when the run times out, floods its output,
//!   fails to be read, or is dropped: the program leads a process group of its own on Unix and
//!   the group gets `SIGKILL`; on Windows `taskkill /T /F` ends the tree. A helper is rarely one
//!   process (gcloud is a shell script starting Python), and killing only the direct child
//!   would leave the real work running, holding the output pipes open.
//!
//! The crate needs no particular async runtime: the child is watched by `async-process`.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use credkit_core::SystemClock;
//! use credkit_process::{Command, Limits, RunError};
//!
//! # futures::executor::block_on(async {
//! let command = Command::new("gcloud")
//!     .with_args(["auth", "print-access-token"])
//!     .with_env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1");
//! let limits = Limits::new(Duration::from_secs(30)).with_stdout_limit(64 * 1024);
//! match credkit_process::run(&command, &limits, &SystemClock).await {
//!     Ok(output) if output.status.success() => println!("{} bytes", output.stdout.len()),
//!     Ok(output) => eprintln!("it failed: {}", output.status),
//!     Err(RunError::TimedOut { .. }) => eprintln!("killed, with everything it started"),
//!     Err(other) => eprintln!("{other}"),
//! }
//! # });
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod command;
mod read;
mod run;
mod tree;

// The public interface is:
pub use command::{Command, DEFAULT_STDERR_KEPT, DEFAULT_STDOUT_LIMIT, Limits};
pub use run::{Output, RunError, run};
