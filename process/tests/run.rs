//! The runner against real processes: exit status and outputs kept apart, arguments and
//! variables passed without a shell, output bounds, and the whole tree killed on a timeout, an
//! output flood or a drop.
#![cfg(unix)]

use std::path::Path;
use std::pin::pin;
use std::time::{Duration, Instant};

use credkit_process::{Command, Limits, RunError};
use credkit_testing::FakeClock;
use futures::executor::block_on;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const MINUTE: Duration = Duration::from_secs(60);

/// `/bin/sh -c script`, with `args` as `$1`...
fn sh(script: &str, args: &[&str]) -> Command {
    Command::new("/bin/sh")
        .with_args(["-c", script, "sh"])
        .with_args(args.iter().copied())
}

/// Runs `command` within `limits` on a clock that never moves.
fn run(command: &Command, limits: &Limits) -> Result<credkit_process::Output, RunError> {
    block_on(credkit_process::run(command, limits, &FakeClock::new()))
}

/// Whether the pid written to `file` is there in full.
fn reported(file: &Path) -> bool {
    std::fs::read_to_string(file).is_ok_and(|text| text.ends_with('\n'))
}

/// The pid written to `file`.
fn reported_pid(file: &Path) -> Result<u32, Box<dyn std::error::Error>> {
    Ok(std::fs::read_to_string(file)?.trim().parse()?)
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
fn the_exit_status_and_both_outputs_are_kept_apart() -> TestResult {
    let output = run(
        &sh("printf out; printf err >&2; exit 3", &[]),
        &Limits::new(MINUTE),
    )?;
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(&output.stdout[..], b"out");
    assert_eq!(&output.stderr[..], b"err");
    let shown = format!("{output:?}");
    assert!(!shown.contains("out\""), "{shown}");
    assert!(shown.contains("stdout_bytes: 3"), "{shown}");
    Ok(())
}

#[test]
fn arguments_reach_the_program_as_they_are_with_no_shell_in_between() -> TestResult {
    let command =
        sh(r#"printf '%s|' "$@""#, &["a b", "$HOME", "*", "'q'", ""]).with_arg("; exit 1");
    assert_eq!(command.program(), "/bin/sh");
    assert_eq!(command.args().count(), 9);
    let output = run(&command, &Limits::new(MINUTE))?;
    assert!(output.status.success());
    assert_eq!(&output.stdout[..], b"a b|$HOME|*|'q'||; exit 1|");
    Ok(())
}

#[test]
fn variables_are_set_on_top_of_the_inherited_environment() -> TestResult {
    let command = sh(
        r#"printf '%s|%s' "$CREDKIT_PROCESS_TEST" "${PATH:+inherited}""#,
        &[],
    )
    .with_env("CREDKIT_PROCESS_TEST", "first")
    .with_env("CREDKIT_PROCESS_TEST", "second");
    assert_eq!(command.envs().count(), 2);
    let shown = format!("{command:?}");
    assert!(!shown.contains("second"), "{shown}");
    assert!(
        shown.contains("/bin/sh") && shown.contains("CREDKIT_PROCESS_TEST"),
        "{shown}"
    );
    let output = run(&command, &Limits::new(MINUTE))?;
    assert_eq!(&output.stdout[..], b"second|inherited");
    Ok(())
}

#[test]
fn standard_input_is_closed() -> TestResult {
    // `cat` would wait forever on an open terminal or pipe.
    let output = run(&Command::new("cat"), &Limits::new(MINUTE))?;
    assert!(output.status.success());
    assert!(output.stdout.is_empty());
    Ok(())
}

#[test]
fn a_missing_program_is_a_spawn_error_with_not_found() {
    let err = run(
        &Command::new("/nonexistent/credkit-process-test"),
        &Limits::new(MINUTE),
    )
    .unwrap_err();
    assert!(
        matches!(&err, RunError::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert!(err.to_string().contains("could not be started"), "{err}");
}

#[test]
fn standard_output_up_to_the_limit_is_kept_and_one_byte_more_is_an_error() -> TestResult {
    let limits = Limits::new(MINUTE).with_stdout_limit(10);
    let output = run(&sh("printf 0123456789", &[]), &limits)?;
    assert_eq!(&output.stdout[..], b"0123456789");
    let err = run(&sh("printf 0123456789a", &[]), &limits).unwrap_err();
    assert!(
        matches!(err, RunError::TooMuchOutput { limit: 10 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("more than 10 bytes"), "{err}");
    Ok(())
}

#[test]
fn by_default_64_kib_of_standard_output_and_8_kib_of_standard_error_are_kept() -> TestResult {
    let limits = Limits::new(MINUTE);
    let script = "head -c \"$1\" /dev/zero; head -c 10000 /dev/zero >&2";
    let output = run(&sh(script, &["65536"]), &limits)?;
    assert_eq!(output.stdout.len(), 64 * 1024);
    assert_eq!(output.stderr.len(), 8 * 1024);
    let err = run(&sh(script, &["65537"]), &limits).unwrap_err();
    assert!(
        matches!(err, RunError::TooMuchOutput { limit: 65536 }),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn standard_error_is_read_to_its_end_and_only_its_start_kept() -> TestResult {
    // 200 KiB on standard error, written by the shell itself: more than a pipe holds, so a
    // runner that stopped reading would hang here (on a clock that never moves), and one that
    // closed the pipe early would kill the shell with SIGPIPE.
    let limits = Limits::new(MINUTE).with_stderr_kept(100);
    let script =
        r"i=0; while [ $i -lt 200 ]; do printf '%01024d' 0 >&2; i=$((i+1)); done; printf done";
    let output = run(&sh(script, &[]), &limits)?;
    assert!(output.status.success(), "{:?}", output.status);
    assert_eq!(&output.stdout[..], b"done");
    assert_eq!(&output.stderr[..], [b'0'; 100]);
    Ok(())
}

#[test]
fn a_flood_of_standard_output_kills_the_whole_tree() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pid_file = dir.path().join("flooder");
    // The flood comes from a grandchild, which reports its pid before it starts; the child
    // waits for it.
    let command = sh(
        r#"/bin/sh -c 'printf "%s\n" "$$" > "$1"; exec yes' sh "$1" & wait"#,
        &[&pid_file.to_string_lossy()],
    );
    let err = run(&command, &Limits::new(MINUTE).with_stdout_limit(4096)).unwrap_err();
    assert!(
        matches!(err, RunError::TooMuchOutput { limit: 4096 }),
        "{err:?}"
    );
    let flooder = reported_pid(&pid_file)?;
    assert!(
        gone_soon(flooder),
        "the flooding grandchild {flooder} still runs"
    );
    Ok(())
}

#[test]
fn a_timeout_kills_the_grandchild_of_a_program_that_waits_for_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pid_file = dir.path().join("sleeper");
    // The grandchild holds the output pipes and never finishes; the child waits for it.
    let command = sh(
        r#"/bin/sh -c 'printf "%s\n" "$$" > "$1"; exec sleep 3600' sh "$1"; exit 0"#,
        &[&pid_file.to_string_lossy()],
    );
    let limits = Limits::new(Duration::from_secs(5));
    let clock = FakeClock::new();
    let err = block_on(async {
        let driver = pin!(async {
            // Time out only once the grandchild runs: then it is the one that must die.
            while !(reported(&pid_file) && clock.pending_sleeps() == 1) {
                futures::future::ready(()).await;
                std::thread::sleep(Duration::from_millis(5));
            }
            clock.advance(limits.timeout());
            std::future::pending::<()>().await;
        });
        let running = pin!(credkit_process::run(&command, &limits, &clock));
        match futures::future::select(running, driver).await {
            futures::future::Either::Left((result, _)) => result,
            futures::future::Either::Right(((), _)) => unreachable!("the driver never finishes"),
        }
    })
    .unwrap_err();
    assert!(
        matches!(err, RunError::TimedOut { after } if after == Duration::from_secs(5)),
        "{err:?}"
    );
    assert_eq!(clock.sleeps(), [Duration::from_secs(5)]);
    let sleeper = reported_pid(&pid_file)?;
    assert!(gone_soon(sleeper), "the grandchild {sleeper} still runs");
    Ok(())
}

#[test]
fn dropping_a_run_kills_the_whole_tree() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pid_file = dir.path().join("sleeper");
    let command = sh(
        r#"/bin/sh -c 'printf "%s\n" "$$" > "$1"; exec sleep 3600' sh "$1"; exit 0"#,
        &[&pid_file.to_string_lossy()],
    );
    let clock = FakeClock::new();
    let limits = Limits::new(MINUTE);
    block_on(async {
        let mut running = Box::pin(credkit_process::run(&command, &limits, &clock));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !reported(&pid_file) && Instant::now() < deadline {
            assert!(futures::poll!(running.as_mut()).is_pending());
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(running);
    });
    let sleeper = reported_pid(&pid_file)?;
    assert!(gone_soon(sleeper), "the grandchild {sleeper} still runs");
    Ok(())
}

#[test]
fn a_run_that_ends_well_leaves_what_the_program_left_running() -> TestResult {
    // A helper may start a daemon that outlives it (detached from the output pipes): only a
    // failed or dropped run kills the group.
    let output = run(
        &sh(r#"sleep 60 >/dev/null 2>&1 & printf '%s' "$!""#, &[]),
        &Limits::new(MINUTE),
    )?;
    assert!(output.status.success());
    let daemon: u32 = std::str::from_utf8(&output.stdout)?.parse()?;
    std::thread::sleep(Duration::from_millis(200));
    let alive = std::fs::read_to_string(format!("/proc/{daemon}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'))
    });
    let _ = std::process::Command::new("kill")
        .arg(daemon.to_string())
        .status();
    assert!(alive, "the daemon {daemon} was killed after a good run");
    Ok(())
}
