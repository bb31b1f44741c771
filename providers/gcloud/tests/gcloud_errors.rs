//! `GcloudSource`'s failure modes: each with its kind, transience and message, none showing a
//! token.
#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use credkit_core::{ErrorKind, TokenSource};
use credkit_gcloud::GcloudSource;
use credkit_testing::{FakeClock, FakeGcloud, GcloudReply};
use futures::executor::block_on;
use secrecy::ExposeSecret as _;
use support::{TestResult, advance_when_waiting, process_exists, source};

const PREFIX: &str = "Failed to obtain access token: ";

#[test]
fn gcloud_not_found_says_to_install_the_sdk_or_set_the_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    for program in [
        dir.path().join("no-such-gcloud"),
        "credkit-test-no-such-gcloud-on-path".into(),
    ] {
        let source = GcloudSource::builder()
            .with_program(&program)
            .with_clock(FakeClock::new())
            .build()?;
        let err = block_on(source.fetch_token()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConfigured);
        assert!(err.is_not_configured());
        assert!(!err.is_transient());
        let message = err.to_string();
        assert!(message.starts_with(PREFIX), "{message}");
        assert!(message.contains(&format!("`{}` was not found", program.display())));
        assert!(
            message.contains("install the Google Cloud SDK"),
            "{message}"
        );
        assert!(message.contains("with_program"), "{message}");
        assert!(std::error::Error::source(&err).is_some());
    }
    Ok(())
}

#[test]
fn a_program_that_cannot_be_started_is_a_configuration_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let not_executable = dir.path().join("gcloud");
    std::fs::write(&not_executable, "#!/bin/sh\necho ya29.x\n")?;
    std::fs::set_permissions(&not_executable, std::fs::Permissions::from_mode(0o600))?;
    for program in [not_executable, dir.path().to_owned()] {
        let source = GcloudSource::builder()
            .with_program(&program)
            .with_clock(FakeClock::new())
            .build()?;
        let err = block_on(source.fetch_token()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration);
        assert!(
            err.to_string().starts_with(&format!(
                "{PREFIX}the gcloud program `{}` could not be started",
                program.display()
            )),
            "{err}"
        );
    }
    Ok(())
}

#[test]
fn a_non_zero_exit_quotes_a_short_redacted_excerpt_of_stderr() -> TestResult {
    let secret = "ya29.a0AfH6SMBxLeakedTokenValue1234567890";
    let stderr = format!(
        "ERROR: (gcloud.auth.print-access-token) bad token {secret} given\n\nsecond line\n{}\n",
        "more detail ".repeat(40)
    );
    let gcloud = FakeGcloud::builder()
        .with_reply(GcloudReply::fail(stderr, 7))
        .build()?;
    let err = block_on(source(&gcloud, &FakeClock::new())?.fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert!(!err.is_transient());
    let message = err.to_string();
    // Not about credentials, so the fallback ran; its failure is reported.
    assert_eq!(gcloud.calls(), 2);
    assert!(
        message.starts_with(&format!(
            "{PREFIX}`gcloud auth print-access-token` exited with status 7: ERROR: (gcloud.auth.print-access-token) bad token [REDACTED] given second line more detail"
        )),
        "{message}"
    );
    assert!(!message.contains("LeakedToken"), "{message}");
    assert!(!format!("{err:?}").contains("LeakedToken"));
    assert!(message.ends_with('…'), "{message}");
    assert!(!message.contains('\n'));
    let excerpt = message.split_once(": ERROR").map_or("", |(_, e)| e);
    assert!(
        excerpt.chars().count() <= 200,
        "{}",
        excerpt.chars().count()
    );
    Ok(())
}

#[test]
fn an_exit_with_nothing_on_stderr_says_so() -> TestResult {
    let gcloud = FakeGcloud::builder()
        .with_reply(GcloudReply::fail("", 1))
        .build()?;
    let err = block_on(source(&gcloud, &FakeClock::new())?.fetch_token()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{PREFIX}`gcloud auth print-access-token` exited with status 1 and printed nothing on standard error"
        )
    );
    Ok(())
}

#[test]
fn a_reauthentication_failure_is_reported_from_config_helper() -> TestResult {
    let gcloud = FakeGcloud::builder()
        .with_reply(GcloudReply::login_required())
        .build()?;
    let err = block_on(source(&gcloud, &FakeClock::new())?.fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert!(!err.is_transient());
    assert!(
        err.to_string().starts_with(&format!(
            "{PREFIX}`gcloud config config-helper` exited with status 1: ERROR: (gcloud.config.config-helper) There was a problem refreshing your current auth tokens: Reauthentication failed."
        )),
        "{err}"
    );
    assert!(err.to_string().contains("gcloud auth login"));
    assert_eq!(gcloud.calls(), 1);
    Ok(())
}

#[test]
fn network_failures_are_transient() -> TestResult {
    let stderr = "ERROR: (gcloud.config.config-helper) There was a problem refreshing your current auth tokens: HTTPSConnectionPool(host='oauth2.googleapis.com', port=443): Max retries exceeded with url: /token (Caused by NewConnectionError('Failed to establish a new connection: [Errno -3] Temporary failure in name resolution'))\n";
    let gcloud = FakeGcloud::builder()
        .with_reply(GcloudReply::fail(stderr, 1))
        .build()?;
    let err = block_on(source(&gcloud, &FakeClock::new())?.fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert!(err.is_transient());
    // It mentions the auth tokens: the second command would fail the same way.
    assert_eq!(gcloud.calls(), 1);
    Ok(())
}

#[test]
fn garbage_output_is_an_invalid_response_that_never_quotes_it() -> TestResult {
    let cases = [
        ("", "it printed nothing"),
        ("ya29.secret-one\nya29.secret-two\n", "more than one line"),
        (
            "ya29.secret with spaces\n",
            "the access token contains whitespace",
        ),
        ("ya29.secret\u{7}bell\n", "the access token contains"),
    ];
    for (stdout, reason) in cases {
        let gcloud = FakeGcloud::builder()
            .with_reply(GcloudReply::stdout(stdout))
            .build()?;
        let err = block_on(source(&gcloud, &FakeClock::new())?.fetch_token()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{stdout:?}");
        assert!(!err.is_transient());
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "{PREFIX}`gcloud auth print-access-token` gave no usable access token: "
            )),
            "{message}"
        );
        assert!(message.contains(reason), "{message}");
        assert!(!message.contains("secret"), "{message}");
        assert!(!format!("{err:?}").contains("secret"));
        assert_eq!(gcloud.calls(), 2);
    }
    Ok(())
}

#[test]
fn oversized_output_is_refused_and_the_process_stopped() -> TestResult {
    let gcloud = FakeGcloud::builder()
        .with_reply(GcloudReply::stdout("y".repeat(200 * 1024)))
        .build()?;
    let err = block_on(source(&gcloud, &FakeClock::new())?.fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(
        err.to_string()
            .ends_with("it printed more than 64 KiB on standard output"),
        "{err}"
    );
    for pid in gcloud.pids() {
        assert!(!process_exists(pid)?, "process {pid} still exists");
    }
    Ok(())
}

#[test]
fn a_hang_times_out_by_the_clock_and_the_child_is_killed() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_reply(GcloudReply::Hang)
        .build()?;
    let source = source(&gcloud, &clock)?;
    let err = advance_when_waiting(
        &clock,
        &gcloud,
        1,
        Duration::from_secs(30),
        source.fetch_token(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_transient());
    assert_eq!(
        err.to_string(),
        format!("{PREFIX}`gcloud config config-helper` did not finish within 30s and was stopped")
    );
    // No second command after a timeout: it would double the wait.
    assert_eq!(gcloud.calls(), 1);
    assert_eq!(clock.sleeps(), [Duration::from_secs(30)]);
    let pid = gcloud.pids()[0];
    assert!(!process_exists(pid)?, "the hung gcloud {pid} still runs");
    Ok(())
}

#[test]
fn a_hang_in_the_fallback_times_out_too() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_config_helper(GcloudReply::invalid_choice())
        .with_print_access_token(GcloudReply::Hang)
        .build()?;
    let source = GcloudSource::builder()
        .with_program(gcloud.path())
        .with_clock(clock.clone())
        .with_timeout(Duration::from_millis(1500))
        .build()?;
    let err = advance_when_waiting(
        &clock,
        &gcloud,
        2,
        Duration::from_millis(1500),
        source.fetch_token(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(
        err.to_string(),
        format!(
            "{PREFIX}`gcloud auth print-access-token` did not finish within 1.5s and was stopped"
        )
    );
    assert_eq!(gcloud.calls(), 2);
    assert!(!process_exists(gcloud.pids()[1])?);
    Ok(())
}

#[test]
fn a_timely_answer_leaves_no_timer_behind() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder().build()?;
    block_on(source(&gcloud, &clock)?.fetch_token())?;
    assert_eq!(clock.pending_sleeps(), 0);
    assert_eq!(clock.sleeps(), [Duration::from_secs(30)]);
    Ok(())
}

#[test]
fn dropping_a_fetch_kills_the_child() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_reply(GcloudReply::Hang)
        .build()?;
    let source = source(&gcloud, &clock)?;
    block_on(async {
        let mut fetch = Box::pin(source.fetch_token());
        while gcloud.calls() == 0 {
            assert!(futures::poll!(fetch.as_mut()).is_pending());
            support::yield_now().await;
        }
        drop(fetch);
    });
    let pid = gcloud.pids()[0];
    // kill_on_drop sent SIGKILL before drop returned; the reaper collects it in the background.
    let mut gone = false;
    for _ in 0..10_000 {
        if !process_exists(pid)? {
            gone = true;
            break;
        }
        std::thread::yield_now();
    }
    assert!(gone, "the dropped fetch's gcloud {pid} still runs");
    Ok(())
}

#[test]
fn build_refuses_nonsense() {
    let empty_program = GcloudSource::builder().with_program("").build();
    assert!(empty_program.unwrap_err().is_invalid_value());
    let zero_timeout = GcloudSource::builder().with_timeout(Duration::ZERO).build();
    assert!(zero_timeout.unwrap_err().is_invalid_value());
    let zero_lifetime = GcloudSource::builder()
        .with_fallback_lifetime(Duration::ZERO)
        .build();
    assert!(zero_lifetime.unwrap_err().is_invalid_value());
}

#[test]
fn stderr_is_classified_on_its_first_8_kib() -> TestResult {
    let network = "There was a problem refreshing your current auth tokens: Temporary failure in name resolution\n";
    for (noise, transient) in [(6000, true), (9000, false)] {
        let stderr = format!("{}\n{network}", "W".repeat(noise));
        let gcloud = FakeGcloud::builder()
            .with_reply(GcloudReply::fail(stderr, 1))
            .build()?;
        let err = block_on(source(&gcloud, &FakeClock::new())?.fetch_token()).unwrap_err();
        assert_eq!(err.is_transient(), transient, "{noise} bytes first: {err}");
    }
    Ok(())
}

#[test]
fn stderr_far_larger_than_a_pipe_is_read_to_the_end() -> TestResult {
    // A child blocked writing to a full pipe would never exit; the fake clock never times out.
    let stderr = format!("{}\nERROR: something broke\n", "W".repeat(512 * 1024));
    let gcloud = FakeGcloud::builder()
        .with_reply(GcloudReply::fail(stderr, 1))
        .build()?;
    let err = block_on(source(&gcloud, &FakeClock::new())?.fetch_token()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider, "{err}");
    // It ran to its own exit: not cut off by a closed pipe.
    assert!(err.to_string().contains("exited with status 1"), "{err}");
    Ok(())
}

#[test]
fn standard_output_up_to_64_kib_is_read() -> TestResult {
    let reply = |len: usize| -> Result<_, Box<dyn std::error::Error>> {
        let gcloud = FakeGcloud::builder()
            .with_reply(GcloudReply::stdout("x".repeat(len)))
            .build()?;
        Ok(block_on(source(&gcloud, &FakeClock::new())?.fetch_token()))
    };
    let token = reply(64 * 1024)?.map_err(|err| err.to_string())?;
    assert_eq!(token.secret().expose_secret().len(), 64 * 1024);
    // A bare token line says nothing of its expiry: the fallback lifetime applies.
    assert_eq!(
        token.lifetime(),
        Some(credkit_gcloud::DEFAULT_FALLBACK_LIFETIME)
    );
    assert_eq!(
        credkit_gcloud::DEFAULT_FALLBACK_LIFETIME,
        Duration::from_secs(300)
    );
    let err = reply(64 * 1024 + 1)?.unwrap_err();
    assert!(
        err.to_string()
            .contains("more than 64 KiB on standard output"),
        "{err}"
    );
    Ok(())
}
