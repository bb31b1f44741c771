//! The fake gcloud: its answers, its record, and that a fresh script never fails with ETXTBSY.
#![cfg(unix)]

use std::io::Read as _;
use std::process::{Command, Output, Stdio};

use credkit_testing::{
    FAKE_CLOCK_START, FAKE_GCLOUD_ACCOUNT, FAKE_GCLOUD_TOKEN, FakeClock, FakeGcloud, GcloudReply,
};
use time::macros::datetime;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn run(gcloud: &FakeGcloud, args: &[&str]) -> std::io::Result<Output> {
    Command::new(gcloud.path())
        .args(args)
        .stdin(Stdio::null())
        .output()
}

fn config_helper_json(
    gcloud: &FakeGcloud,
    extra: &[&str],
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let mut args = vec!["config", "config-helper", "--format=json"];
    args.extend_from_slice(extra);
    let out = run(gcloud, &args)?;
    if !out.status.success() {
        return Err(format!("config-helper failed: {out:?}").into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[test]
fn print_access_token_prints_the_token_and_a_newline() -> TestResult {
    let gcloud = FakeGcloud::builder().build()?;
    let out = run(&gcloud, &["auth", "print-access-token"])?;
    assert!(out.status.success());
    assert_eq!(out.stdout, format!("{FAKE_GCLOUD_TOKEN}\n").as_bytes());
    assert!(out.stderr.is_empty());
    Ok(())
}

#[test]
fn config_helper_reports_token_expiry_account_and_project_as_gcloud_does() -> TestResult {
    let gcloud = FakeGcloud::builder()
        .with_token("ya29.abc")
        .with_token_expiry(datetime!(2026-01-01 0:45 UTC))
        .with_id_token("eyJ.fake.id")
        .with_project("proj-1")
        .build()?;
    let doc = config_helper_json(&gcloud, &[])?;
    assert_eq!(doc["credential"]["access_token"], "ya29.abc");
    assert_eq!(doc["credential"]["token_expiry"], "2026-01-01T00:45:00Z");
    assert_eq!(doc["credential"]["id_token"], "eyJ.fake.id");
    assert_eq!(
        doc["configuration"]["properties"]["core"]["account"],
        FAKE_GCLOUD_ACCOUNT
    );
    assert_eq!(
        doc["configuration"]["properties"]["core"]["project"],
        "proj-1"
    );
    assert_eq!(doc["configuration"]["active_configuration"], "default");
    assert!(doc["sentinels"]["config_sentinel"].is_string());
    Ok(())
}

#[test]
fn default_expiry_is_an_hour_after_the_clock_in_use() -> TestResult {
    let gcloud = FakeGcloud::builder()
        .with_clock(&FakeClock::new())
        .build()?;
    let doc = config_helper_json(&gcloud, &[])?;
    assert_eq!(doc["credential"]["token_expiry"], "2026-01-01T01:00:00Z");
    assert_eq!(FAKE_CLOCK_START, datetime!(2026-01-01 0:00 UTC));
    // Without a clock, an hour after the system clock's now: never expired since a fixed date.
    let gcloud = FakeGcloud::builder().build()?;
    let doc = config_helper_json(&gcloud, &[])?;
    let expiry = doc["credential"]["token_expiry"]
        .as_str()
        .unwrap_or_default();
    let expiry =
        time::OffsetDateTime::parse(expiry, &time::format_description::well_known::Rfc3339)?;
    let lifetime = expiry - credkit_core::Clock::now(&credkit_core::SystemClock);
    assert!(lifetime > time::Duration::minutes(59) && lifetime <= time::Duration::HOUR);
    assert!(doc["credential"].get("id_token").is_none());
    Ok(())
}

#[test]
fn account_flag_is_reported_in_both_spellings_and_escaped() -> TestResult {
    let gcloud = FakeGcloud::builder().build()?;
    let doc = config_helper_json(&gcloud, &["--account=other@example.com"])?;
    assert_eq!(
        doc["configuration"]["properties"]["core"]["account"],
        "other@example.com"
    );
    let doc = config_helper_json(&gcloud, &["--account", "x@example.com"])?;
    assert_eq!(
        doc["configuration"]["properties"]["core"]["account"],
        "x@example.com"
    );
    let doc = config_helper_json(&gcloud, &[r#"--account=we"ird\one"#])?;
    assert_eq!(
        doc["configuration"]["properties"]["core"]["account"],
        r#"we"ird\one"#
    );
    Ok(())
}

#[test]
fn config_helper_without_format_json_prints_yaml() -> TestResult {
    let gcloud = FakeGcloud::builder().build()?;
    let out = run(&gcloud, &["config", "config-helper"])?;
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout)?;
    assert!(text.starts_with("configuration:\n"), "{text}");
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    Ok(())
}

#[test]
fn records_arguments_and_counts_runs() -> TestResult {
    let gcloud = FakeGcloud::builder()
        .with_reply(GcloudReply::fail("nope", 1))
        .build()?;
    assert_eq!(gcloud.calls(), 0);
    assert!(gcloud.invocations().is_empty());
    run(&gcloud, &["auth", "print-access-token", "--account=a b'c"])?;
    run(&gcloud, &[])?;
    run(&gcloud, &["config", "config-helper", "--format=json", ""])?;
    assert_eq!(gcloud.calls(), 3);
    assert_eq!(
        gcloud.invocations(),
        [
            vec!["auth", "print-access-token", "--account=a b'c"],
            vec![],
            vec!["config", "config-helper", "--format=json", ""],
        ]
    );
    assert_eq!(gcloud.pids().len(), 3);
    Ok(())
}

#[test]
fn failure_prints_stderr_only_and_exits_with_the_code() -> TestResult {
    let gcloud = FakeGcloud::builder()
        .with_reply(GcloudReply::fail("ERROR: it's broken\n", 3))
        .build()?;
    for args in [
        &["auth", "print-access-token"][..],
        &["config", "config-helper", "--format=json"],
    ] {
        let out = run(&gcloud, args)?;
        assert_eq!(out.status.code(), Some(3));
        assert!(out.stdout.is_empty());
        assert_eq!(out.stderr, b"ERROR: it's broken\n");
    }
    Ok(())
}

#[test]
fn replies_per_command() -> TestResult {
    let gcloud = FakeGcloud::builder()
        .with_config_helper(GcloudReply::invalid_choice())
        .with_print_access_token(GcloudReply::Token)
        .build()?;
    let helper = run(&gcloud, &["config", "config-helper", "--format=json"])?;
    assert_eq!(helper.status.code(), Some(2));
    assert!(String::from_utf8(helper.stderr)?.contains("Invalid choice: 'config-helper'"));
    let token = run(&gcloud, &["auth", "print-access-token"])?;
    assert_eq!(token.stdout, format!("{FAKE_GCLOUD_TOKEN}\n").as_bytes());

    let login = FakeGcloud::builder()
        .with_reply(GcloudReply::login_required())
        .build()?;
    let out = run(&login, &["auth", "print-access-token"])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stderr)?.contains("gcloud auth login"));
    Ok(())
}

#[test]
fn garbage_is_printed_verbatim() -> TestResult {
    let gcloud = FakeGcloud::builder()
        .with_reply(GcloudReply::stdout("not\na token %s \\n"))
        .build()?;
    let out = run(&gcloud, &["auth", "print-access-token"])?;
    assert!(out.status.success());
    assert_eq!(out.stdout, b"not\na token %s \\n");
    Ok(())
}

#[test]
fn stderr_noise_stays_on_stderr() -> TestResult {
    let gcloud = FakeGcloud::builder()
        .with_stderr_noise("WARNING: update available\n")
        .build()?;
    let out = run(&gcloud, &["auth", "print-access-token"])?;
    assert_eq!(out.stdout, format!("{FAKE_GCLOUD_TOKEN}\n").as_bytes());
    assert_eq!(out.stderr, b"WARNING: update available\n");
    let out = run(&gcloud, &["config", "config-helper", "--format=json"])?;
    assert!(serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok());
    assert_eq!(out.stderr, b"WARNING: update available\n");
    Ok(())
}

#[test]
fn unknown_commands_fail_like_gcloud() -> TestResult {
    let gcloud = FakeGcloud::builder().build()?;
    let out = run(&gcloud, &["auth", "login"])?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)?.contains("Invalid choice: 'auth login'"));
    Ok(())
}

#[test]
fn killing_a_hanging_run_closes_its_pipes() -> TestResult {
    let gcloud = FakeGcloud::builder()
        .with_reply(GcloudReply::Hang)
        .build()?;
    let mut child = Command::new(gcloud.path())
        .args(["auth", "print-access-token"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.kill()?;
    // The sleep replaced the shell (`exec`), so no orphan holds the pipes: reading ends at once.
    let mut stdout = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut stdout)?;
    let mut stderr = Vec::new();
    child.stderr.take().unwrap().read_to_end(&mut stderr)?;
    assert!(!child.wait()?.success());
    assert!(stdout.is_empty());
    Ok(())
}

#[test]
fn dropping_the_last_clone_deletes_the_directory() -> TestResult {
    let gcloud = FakeGcloud::builder().build()?;
    let dir = gcloud.dir().to_owned();
    let clone = gcloud.clone();
    drop(gcloud);
    assert!(clone.path().exists());
    drop(clone);
    assert!(!dir.exists());
    Ok(())
}

#[test]
fn nul_in_a_text_is_refused() {
    let err = FakeGcloud::builder()
        .with_token("a\0b")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn debug_names_the_path() -> TestResult {
    let gcloud = FakeGcloud::builder().build()?;
    let debug = format!("{gcloud:?}");
    assert!(debug.contains("FakeGcloud"));
    assert!(debug.contains("calls: 0"));
    Ok(())
}

/// Many threads each write fresh fakes and run them at once. Written naively (open, write,
/// close, exec), this fails with ETXTBSY within a few hundred runs on a 2-core machine; the
/// builder's writer process makes it impossible.
#[test]
fn fresh_fakes_run_in_parallel_without_etxtbsy() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 80;
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            scope.spawn(move || {
                for i in 0..PER_THREAD {
                    let token = format!("ya29.t{thread}-{i}");
                    let gcloud = FakeGcloud::builder().with_token(&token).build().unwrap();
                    let out = Command::new(gcloud.path())
                        .args(["auth", "print-access-token"])
                        .output()
                        .unwrap_or_else(|e| panic!("spawning a fresh fake failed: {e}"));
                    assert_eq!(out.stdout, format!("{token}\n").as_bytes());
                }
            });
        }
    });
}
