//! A timeout kills gcloud's whole process tree, not just the direct child.
//!
//! Real gcloud is a wrapper: a shell script that starts Python (`gcloud.cmd` under `cmd.exe` on
//! Windows). The wrapper here does not `exec` either: it waits on a grandchild that holds the
//! output pipes and never finishes.
#![cfg(unix)]

mod support;

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::pin::pin;
use std::time::{Duration, Instant};

use credkit_core::{ErrorKind, TokenSource};
use credkit_gcloud::GcloudSource;
use credkit_testing::FakeClock;
use futures::executor::block_on;
use support::TestResult;

/// A gcloud stand-in that runs its work in a grandchild and waits for it (no `exec`). The
/// grandchild appends its pid to `children` and then sleeps an hour.
fn write_wrapper(dir: &Path, children: &Path) -> std::io::Result<std::path::PathBuf> {
    let path = dir.join("gcloud");
    let script = format!(
        "#!/bin/sh\n/bin/sh -c 'printf \"%s\\n\" \"$$\" >> \"{}\"; exec sleep 3600'\nexit 0\n",
        children.display()
    );
    let mut file = std::fs::File::create(&path)?;
    file.write_all(script.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

/// A source running the wrapper in a new temporary folder (kept alive by the returned guard),
/// and the file its grandchild reports its pid to.
fn wrapped(
    clock: &FakeClock,
) -> Result<(tempfile::TempDir, std::path::PathBuf, GcloudSource), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let children = dir.path().join("children");
    let program = write_wrapper(dir.path(), &children)?;
    let source = GcloudSource::builder()
        .with_program(&program)
        .with_clock(clock.clone())
        .build()?;
    Ok((dir, children, source))
}

/// Whether the grandchild has written its whole pid line to `children`: the file exists as
/// soon as the shell opens it for `>>`, before `printf` writes a byte.
fn reported(children: &Path) -> bool {
    std::fs::read_to_string(children).is_ok_and(|text| text.ends_with('\n'))
}

/// Checks that the grandchild that reported its pid to `children` is gone.
fn assert_grandchild_gone(children: &Path) -> TestResult {
    let text = std::fs::read_to_string(children)?;
    let grandchild: u32 = text.trim().parse()?;
    assert!(
        gone_soon(grandchild),
        "the grandchild {grandchild} still runs"
    );
    Ok(())
}

/// Serializes this file's tests: a wrapper script being written while another test's thread
/// forks can be inherited open by that child, and executing it then fails with "text file busy".
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether `pid` is gone (or a zombie waiting for init to reap it), within a few seconds.
fn gone_soon(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|s| s.trim_start().starts_with('Z')) =>
            {
                return true;
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    false
}

#[test]
fn a_timeout_kills_the_grandchild_of_a_wrapper_that_does_not_exec() -> TestResult {
    let _serial = serial();
    let clock = FakeClock::new();
    let (_dir, children, source) = wrapped(&clock)?;

    let err = block_on(async {
        let driver = pin!(async {
            // Time out only once the grandchild runs: then it is the one that must die.
            while !(reported(&children) && clock.pending_sleeps() == 1) {
                futures::future::ready(()).await;
                std::thread::sleep(Duration::from_millis(5));
            }
            clock.advance(source.timeout());
            std::future::pending::<()>().await;
        });
        match futures::future::select(pin!(source.fetch_token()), driver).await {
            futures::future::Either::Left((result, _)) => result,
            futures::future::Either::Right(((), _)) => unreachable!("the driver never finishes"),
        }
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");

    assert_grandchild_gone(&children)
}

#[test]
fn dropping_a_fetch_kills_the_grandchild_of_a_wrapper_that_does_not_exec() -> TestResult {
    let _serial = serial();
    let (_dir, children, source) = wrapped(&FakeClock::new())?;
    block_on(async {
        let mut fetch = Box::pin(source.fetch_token());
        // Until the grandchild runs: then it is the one that must die with the fetch.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !reported(&children) && Instant::now() < deadline {
            assert!(futures::poll!(fetch.as_mut()).is_pending());
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(fetch);
    });
    assert_grandchild_gone(&children)
}
