//! Helpers shared by the gcloud provider's tests.
#![allow(dead_code, unreachable_pub)] // Each test file uses a different part.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use credkit_core::BuildError;
use credkit_gcloud::GcloudSource;
use credkit_testing::{FakeClock, FakeGcloud};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A source running `gcloud` on `clock`.
pub fn source(gcloud: &FakeGcloud, clock: &FakeClock) -> Result<GcloudSource, BuildError> {
    GcloudSource::builder()
        .with_program(gcloud.path())
        .with_clock(clock.clone())
        .build()
}

/// Yields once to the executor.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

/// Runs `fetch` to completion; once `gcloud` has started `runs` times and the source is waiting
/// on the clock, moves the clock on by `by` (the timeout). No real time is waited for.
pub fn advance_when_waiting<F: Future>(
    clock: &FakeClock,
    gcloud: &FakeGcloud,
    runs: usize,
    by: Duration,
    fetch: F,
) -> F::Output {
    futures::executor::block_on(async {
        let driver = pin!(async {
            while !(gcloud.calls() == runs && clock.pending_sleeps() == 1) {
                yield_now().await;
            }
            clock.advance(by);
            std::future::pending::<()>().await;
        });
        // Whatever the fetch does, it ends the test: it never waits on a driver that waits on it.
        match futures::future::select(pin!(fetch), driver).await {
            futures::future::Either::Left((output, _)) => output,
            futures::future::Either::Right(((), _)) => unreachable!("the driver never finishes"),
        }
    })
}

/// Whether a process with this id still exists.
pub fn process_exists(pid: u32) -> std::io::Result<bool> {
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -0 {pid} 2>/dev/null"))
        .status()?;
    Ok(status.success())
}
