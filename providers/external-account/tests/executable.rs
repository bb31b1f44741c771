//! The executable source against real (scripted) programs: the environment the program sees,
//! the output file cache, every hostile answer, the gate, the timeout killing the whole tree,
//! and parity with google-auth's `pluggable.Credentials.retrieve_subject_token` (run by
//! `CREDKIT_GOOGLE_AUTH_PYTHON`) on the same scripted programs.
//!
//! Without `CREDKIT_GOOGLE_AUTH_PYTHON` (or without google-auth in it) the parity test prints
//! `SKIPPED: ...` and passes, unless `CREDKIT_REQUIRE_GOOGLE_AUTH=1`, when it fails.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use credkit_core::{Clock, Error, ErrorKind, TokenSource};
use credkit_external_account::{
    ExecutableSource, ExternalAccountInfo, SubjectTokenSupplier, SupplierContext,
};
use credkit_testing::{FakeClock, FakeTokenEndpoint, Reply, ScriptedExecutable};
use futures::executor::block_on;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const SAML: &str = "urn:ietf:params:oauth:token-type:saml2";
const AUDIENCE: &str =
    "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/idp";
const EMAIL: &str = "robot@project.iam.gserviceaccount.com";
const ALLOW: &str = "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES";

/// A token that must never show in a message or a `Debug`.
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.SECRET-subject-token-0123456789";
/// Another, for the cache.
const CACHED_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.CACHED-subject-token-9876543210";

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// An environment lookup: `ALLOW` is `value`, nothing else is set.
fn allow(value: Option<&'static str>) -> credkit_external_account::EnvLookup {
    Arc::new(move |name| {
        (name == ALLOW)
            .then_some(value)
            .flatten()
            .map(str::to_owned)
    })
}

/// A context for `JWT` tokens on `clock`, executables allowed.
fn context(clock: &FakeClock) -> SupplierContext {
    context_for(JWT, clock)
}

fn context_for(token_type: &str, clock: &FakeClock) -> SupplierContext {
    SupplierContext::new(token_type, AUDIENCE)
        .with_clock(Arc::new(clock.clone()))
        .with_env_lookup(allow(Some("1")))
}

/// `clock`'s time in seconds since the Unix epoch, plus `offset`.
fn at(clock: &FakeClock, offset: i64) -> i64 {
    clock.now().unix_timestamp() + offset
}

/// A source running `program` with its defaults.
fn source(program: &ScriptedExecutable) -> ExecutableSource {
    ExecutableSource::builder(program.command_line())
        .build()
        .unwrap()
}

/// A source running `program`, caching in `output_file`.
fn cached_source(program: &ScriptedExecutable, output_file: &Path) -> ExecutableSource {
    ExecutableSource::builder(program.command_line())
        .with_output_file(output_file)
        .build()
        .unwrap()
}

fn fetch(source: &ExecutableSource, context: &SupplierContext) -> Result<String, Error> {
    block_on(source.subject_token(context)).map(|t| t.expose_secret().to_owned())
}

/// Checks that no rendering of `err` shows a token.
fn assert_no_token(err: &Error) {
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("SECRET-subject-token"), "{shown}");
        assert!(!shown.contains("CACHED-subject-token"), "{shown}");
    }
}

/// The error of a fetch that must fail, checked for tokens.
fn failure(source: &ExecutableSource, context: &SupplierContext) -> Error {
    let err = fetch(source, context).unwrap_err();
    assert_no_token(&err);
    err
}

/// The program that prints `response` and exits 0.
fn printing(response: &str) -> ScriptedExecutable {
    ScriptedExecutable::builder()
        .with_stdout(response)
        .build()
        .unwrap()
}

// ---- What the program is given ----

#[test]
fn the_program_gets_the_reference_s_variables_and_its_arguments() -> TestResult {
    let clock = FakeClock::new();
    let program = printing(&ScriptedExecutable::oidc_response(TOKEN, None));
    let output_file = program.dir().join("cache.json");
    let source = ExecutableSource::builder(format!(
        "{} --audience 'my pool' \"a\\\"b\" $HOME",
        program.command_line()
    ))
    .with_output_file(&output_file)
    .with_impersonated_email(EMAIL)
    .with_timeout(Duration::from_secs(10))
    .build()?;
    assert_eq!(fetch(&source, &context(&clock))?, TOKEN);

    let run = program.last_run().unwrap();
    assert_eq!(run.args, ["--audience", "my pool", "a\"b", "$HOME"]);
    let expected: BTreeMap<String, String> = [
        ("GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE", AUDIENCE),
        ("GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE", JWT),
        ("GOOGLE_EXTERNAL_ACCOUNT_ID", EMAIL),
        ("GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE", "0"),
        ("GOOGLE_EXTERNAL_ACCOUNT_REVOKE", "0"),
        ("GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL", EMAIL),
        (
            "GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE",
            output_file.to_str().unwrap(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(without_gate(&run.google_env()), expected);
    // The rest of the environment is inherited.
    assert_eq!(run.env.get("PATH"), std::env::var("PATH").ok().as_ref());
    Ok(())
}

#[test]
fn without_impersonation_or_output_file_those_variables_are_not_set() -> TestResult {
    let clock = FakeClock::new();
    let program = printing(&ScriptedExecutable::oidc_response(TOKEN, None));
    assert_eq!(fetch(&source(&program), &context(&clock))?, TOKEN);
    let env = without_gate(&program.last_run().unwrap().google_env());
    assert_eq!(env["GOOGLE_EXTERNAL_ACCOUNT_ID"], "");
    assert!(!env.contains_key("GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL"));
    assert!(!env.contains_key("GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE"));
    assert_eq!(env.len(), 5, "{env:?}");
    Ok(())
}

/// `env` without the gate, which the test process may or may not have.
fn without_gate(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env = env.clone();
    env.remove(ALLOW);
    env
}

// ---- The gate ----

#[test]
fn nothing_runs_unless_executables_are_allowed() {
    let clock = FakeClock::new();
    let program = printing(&ScriptedExecutable::oidc_response(TOKEN, None));
    let output_file = program.dir().join("cache.json");
    std::fs::write(
        &output_file,
        ScriptedExecutable::oidc_response(CACHED_TOKEN, Some(at(&clock, 3600))),
    )
    .unwrap();
    let source = cached_source(&program, &output_file);
    for value in [None, Some("0"), Some("true"), Some(" 1"), Some("")] {
        let context = context(&clock).with_env_lookup(allow(value));
        let err = failure(&source, &context);
        assert_eq!(err.kind(), ErrorKind::Configuration);
        assert_eq!(
            err.message(),
            "Executables need to be explicitly allowed (set GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES to '1') to run."
        );
        assert!(!err.is_transient());
    }
    assert_eq!(program.calls(), 0);
}

// ---- The output file ----

#[test]
fn a_valid_cached_response_is_used_without_running_the_program() -> TestResult {
    let clock = FakeClock::new();
    let program = printing(&ScriptedExecutable::oidc_response(TOKEN, None));
    let output_file = program.dir().join("cache.json");
    std::fs::write(
        &output_file,
        ScriptedExecutable::oidc_response(CACHED_TOKEN, Some(at(&clock, 60))),
    )?;
    let source = cached_source(&program, &output_file);
    assert_eq!(fetch(&source, &context(&clock))?, CACHED_TOKEN);
    assert_eq!(program.calls(), 0);

    // Expired by the context's clock (one second past): the program runs.
    clock.advance(Duration::from_secs(61));
    assert_eq!(fetch(&source, &context(&clock))?, TOKEN);
    assert_eq!(program.calls(), 1);
    Ok(())
}

#[test]
fn stale_or_unreadable_caches_are_passed_over() -> TestResult {
    let clock = FakeClock::new();
    let fresh = at(&clock, 3600);
    let stale = [
        (
            "expired",
            ScriptedExecutable::oidc_response(CACHED_TOKEN, Some(at(&clock, -1))),
        ),
        (
            "no expiration_time",
            ScriptedExecutable::oidc_response(CACHED_TOKEN, None),
        ),
        ("not JSON", format!("{CACHED_TOKEN} is not JSON")),
        ("empty", String::new()),
        ("not UTF-8", "\u{FFFF}".to_owned()),
        (
            "a failure",
            ScriptedExecutable::failure_response("401", "no"),
        ),
        (
            "version 2",
            json!({"version": 2, "success": true, "token_type": JWT, "id_token": CACHED_TOKEN,
                   "expiration_time": fresh})
            .to_string(),
        ),
        (
            "an unsupported token type",
            json!({"version": 1, "success": true, "token_type": "urn:x", "id_token": CACHED_TOKEN,
                   "expiration_time": fresh})
            .to_string(),
        ),
        (
            "a SAML response for OIDC credentials",
            ScriptedExecutable::saml_response(CACHED_TOKEN, Some(fresh)),
        ),
        (
            "larger than 1 MiB",
            format!(
                "{}{}",
                " ".repeat(1024 * 1024),
                ScriptedExecutable::oidc_response(CACHED_TOKEN, Some(fresh))
            ),
        ),
    ];
    for (why, cache) in stale {
        let program = printing(&ScriptedExecutable::oidc_response(TOKEN, None));
        let output_file = program.dir().join("cache.json");
        let bytes = if why == "not UTF-8" {
            vec![0xff, 0xfe, b'{']
        } else {
            cache.into_bytes()
        };
        std::fs::write(&output_file, bytes)?;
        let source = cached_source(&program, &output_file);
        assert_eq!(fetch(&source, &context(&clock))?, TOKEN, "{why}");
        assert_eq!(program.calls(), 1, "{why}");
    }
    // No file at all.
    let program = printing(&ScriptedExecutable::oidc_response(TOKEN, None));
    let source = cached_source(&program, &program.dir().join("missing.json"));
    assert_eq!(fetch(&source, &context(&clock))?, TOKEN);
    Ok(())
}

#[test]
fn a_cache_of_exactly_one_mebibyte_is_read_and_one_byte_more_is_not() -> TestResult {
    let clock = FakeClock::new();
    let response = ScriptedExecutable::oidc_response(CACHED_TOKEN, Some(at(&clock, 60)));
    for (padding, used) in [(0, true), (1, false)] {
        let program = printing(&ScriptedExecutable::oidc_response(TOKEN, None));
        let output_file = program.dir().join("cache.json");
        let spaces = 1024 * 1024 - response.len() + padding;
        std::fs::write(&output_file, format!("{}{response}", " ".repeat(spaces)))?;
        let token = fetch(&cached_source(&program, &output_file), &context(&clock))?;
        assert_eq!(token == CACHED_TOKEN, used, "{padding} byte(s) over");
        assert_eq!(program.calls(), usize::from(!used));
    }
    Ok(())
}

#[test]
fn a_malformed_cache_is_an_error_and_the_program_does_not_run() {
    let clock = FakeClock::new();
    let fresh = at(&clock, 3600);
    let malformed = [
        (
            json!({"success": true, "token_type": JWT, "id_token": CACHED_TOKEN, "expiration_time": fresh}),
            "The executable response is missing the version field.",
        ),
        (
            json!({"version": 1, "token_type": JWT, "id_token": CACHED_TOKEN}),
            "The executable response is missing the success field.",
        ),
        (
            json!({"version": 1, "success": false, "message": "no code"}),
            "Error code and message fields are required in the response.",
        ),
        (
            json!({"version": 1, "success": true, "id_token": CACHED_TOKEN, "expiration_time": fresh}),
            "The executable response is missing the token_type field.",
        ),
        (
            json!({"version": 1, "success": true, "token_type": JWT, "expiration_time": fresh}),
            "The executable response is missing the id_token field.",
        ),
        (
            json!({"version": "1", "success": true, "token_type": JWT, "id_token": CACHED_TOKEN}),
            "The executable response's version is not a positive whole number.",
        ),
        (
            json!([CACHED_TOKEN]),
            "The executable response is not a JSON object.",
        ),
    ];
    for (cache, message) in malformed {
        let program = printing(&ScriptedExecutable::oidc_response(TOKEN, None));
        let output_file = program.dir().join("cache.json");
        std::fs::write(&output_file, cache.to_string()).unwrap();
        let err = failure(&cached_source(&program, &output_file), &context(&clock));
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{cache}");
        assert!(err.message().starts_with(message), "{cache}: {err}");
        assert!(err.message().contains("output file"), "{err}");
        assert_eq!(program.calls(), 0, "{cache}");
    }
}

#[test]
fn a_program_that_prints_nothing_is_answered_by_its_output_file() -> TestResult {
    let clock = FakeClock::new();
    // Without an expiry: required of a cache read before the run, not of the file it writes.
    let program = ScriptedExecutable::builder()
        .with_output_file_contents(ScriptedExecutable::oidc_response(TOKEN, None))
        .with_stdout("\n")
        .build()?;
    let output_file = program.dir().join("written.json");
    assert_eq!(
        fetch(&cached_source(&program, &output_file), &context(&clock))?,
        TOKEN
    );
    assert_eq!(program.calls(), 1);
    // Python's false values are no response either.
    let program = ScriptedExecutable::builder()
        .with_output_file_contents(ScriptedExecutable::oidc_response(TOKEN, None))
        .with_stdout("{}")
        .build()?;
    let output_file = program.dir().join("written.json");
    assert_eq!(
        fetch(&cached_source(&program, &output_file), &context(&clock))?,
        TOKEN
    );

    // What it writes there is checked strictly: expired is an error now.
    let program = ScriptedExecutable::builder()
        .with_output_file_contents(ScriptedExecutable::oidc_response(
            TOKEN,
            Some(at(&clock, -1)),
        ))
        .build()?;
    let output_file = program.dir().join("written.json");
    let err = failure(&cached_source(&program, &output_file), &context(&clock));
    assert!(
        err.message()
            .starts_with("The token returned by the executable is expired."),
        "{err}"
    );
    Ok(())
}

#[test]
fn a_program_that_prints_nothing_without_an_output_file_to_read_fails() {
    let clock = FakeClock::new();
    let program = ScriptedExecutable::builder().build().unwrap();
    let err = failure(&source(&program), &context(&clock));
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.message().contains("no output_file"), "{err}");

    let output_file = program.dir().join("never-written.json");
    let err = failure(&cached_source(&program, &output_file), &context(&clock));
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.message().contains("cannot be read"), "{err}");

    let program = ScriptedExecutable::builder()
        .with_output_file_contents("not json")
        .build()
        .unwrap();
    let output_file = program.dir().join("written.json");
    let err = failure(&cached_source(&program, &output_file), &context(&clock));
    assert!(
        err.message()
            .starts_with("The executable response is not JSON"),
        "{err}"
    );
}

#[test]
fn an_output_file_too_large_to_be_a_response_is_an_error_after_the_run() {
    let clock = FakeClock::new();
    let huge = format!(
        "{}{}",
        " ".repeat(1024 * 1024),
        ScriptedExecutable::oidc_response(TOKEN, None)
    );
    let program = ScriptedExecutable::builder()
        .with_output_file_contents(huge)
        .build()
        .unwrap();
    let output_file = program.dir().join("written.json");
    let err = failure(&cached_source(&program, &output_file), &context(&clock));
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(
        err.message().contains("is larger than 1048576 bytes"),
        "{err}"
    );
    assert_eq!(program.calls(), 1);
}

// ---- Hostile programs ----

#[test]
fn every_malformed_response_is_a_typed_error_naming_what_is_wrong() {
    let clock = FakeClock::new();
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{TOKEN}\n"),
            "The executable response is not JSON (line 1, column 1).",
        ),
        (
            json!({"success": true}).to_string(),
            "The executable response is missing the version field.",
        ),
        (
            json!({"version": 2, "success": true}).to_string(),
            "Executable returned unsupported version 2.",
        ),
        (
            json!({"version": 1}).to_string(),
            "The executable response is missing the success field.",
        ),
        (
            json!({"version": 1, "success": "yes", "id_token": TOKEN}).to_string(),
            "The executable response's success is not true or false.",
        ),
        (
            json!({"version": 1, "success": true, "id_token": TOKEN}).to_string(),
            "The executable response is missing the token_type field.",
        ),
        (
            json!({"version": 1, "success": true, "token_type": "urn:x", "id_token": TOKEN})
                .to_string(),
            "Executable returned unsupported token type.",
        ),
        (
            ScriptedExecutable::saml_response(TOKEN, None),
            "The executable returned a token of type urn:ietf:params:oauth:token-type:saml2",
        ),
        (
            json!({"version": 1, "success": true, "token_type": JWT, "saml_response": TOKEN})
                .to_string(),
            "The executable response is missing the id_token field.",
        ),
        (
            json!({"version": 1, "success": true, "token_type": JWT, "id_token": [TOKEN]})
                .to_string(),
            "The executable response's id_token is not a string.",
        ),
        (
            ScriptedExecutable::oidc_response(TOKEN, Some(at(&clock, -1))),
            "The token returned by the executable is expired.",
        ),
        (
            json!({"version": 1, "success": true, "token_type": JWT, "id_token": TOKEN,
                   "expiration_time": "tomorrow"})
            .to_string(),
            "The executable response's expiration_time is not a number of seconds.",
        ),
        (
            ScriptedExecutable::oidc_response(&format!("{TOKEN}\r\nx"), None),
            "The executable response's id_token has control characters.",
        ),
        (
            ScriptedExecutable::oidc_response(&"x".repeat(600 * 1024), None),
            "The executable response's id_token is larger than 524288 bytes",
        ),
    ];
    for (stdout, message) in cases {
        let program = printing(&stdout);
        let err = failure(&source(&program), &context(&clock));
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{message}");
        assert!(err.message().starts_with(message), "{message}: {err}");
        assert!(!err.is_transient(), "{err}");
    }
}

#[test]
fn a_failure_response_reports_its_code_and_message_scrubbed() {
    let clock = FakeClock::new();
    let failure_response = json!({"version": 1, "success": false, "code": "401",
        "message": format!("Caller not authorized\u{1b}[2J for {TOKEN}"), "id_token": TOKEN})
    .to_string();
    let err = failure(&source(&printing(&failure_response)), &context(&clock));
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert_eq!(
        err.message(),
        "Executable returned unsuccessful response: code: 401, message: Caller not authorized\u{FFFD}[2J for [REDACTED]."
    );
}

#[test]
fn a_non_zero_exit_reports_the_failure_and_standard_error_never_standard_output() {
    let clock = FakeClock::new();
    // A failure response and a message on standard error.
    let program = ScriptedExecutable::builder()
        .with_stdout(ScriptedExecutable::failure_response("403", "denied"))
        .with_stderr("idp said no\n")
        .with_exit_code(3)
        .build()
        .unwrap();
    let err = failure(&source(&program), &context(&clock));
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert_eq!(
        err.message(),
        "Executable exited with non-zero return code 3. Executable returned unsuccessful response: code: 403, message: denied. Standard error: idp said no"
    );

    // A token on standard output, echoed on standard error: neither is shown.
    let program = ScriptedExecutable::builder()
        .with_stdout(ScriptedExecutable::oidc_response(TOKEN, None))
        .with_stderr(format!("printed {TOKEN}"))
        .with_exit_code(1)
        .build()
        .unwrap();
    let err = failure(&source(&program), &context(&clock));
    assert_eq!(
        err.message(),
        "Executable exited with non-zero return code 1. Standard error: printed [REDACTED]"
    );

    // Garbage on standard output, nothing on standard error.
    let program = ScriptedExecutable::builder()
        .with_stdout(format!("raw {TOKEN}"))
        .with_exit_code(1)
        .build()
        .unwrap();
    let err = failure(&source(&program), &context(&clock));
    assert_eq!(
        err.message(),
        "Executable exited with non-zero return code 1. It printed nothing on standard error."
    );
}

#[test]
fn standard_error_is_kept_apart_from_the_response() -> TestResult {
    let clock = FakeClock::new();
    // The reference merges standard error into the response and would fail to parse it.
    let program = ScriptedExecutable::builder()
        .with_stdout(ScriptedExecutable::oidc_response(TOKEN, None))
        .with_stderr("warning: something\n")
        .build()?;
    assert_eq!(fetch(&source(&program), &context(&clock))?, TOKEN);
    Ok(())
}

#[test]
fn a_flood_of_standard_output_is_stopped_at_one_mebibyte() {
    let clock = FakeClock::new();
    let program = ScriptedExecutable::builder().flooding().build().unwrap();
    let err = failure(&source(&program), &context(&clock));
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.message().contains("more than 1048576 bytes"), "{err}");
    let pid = program.last_run().unwrap().pid;
    assert!(gone_soon(pid), "the flooding program {pid} still runs");
}

#[test]
fn a_missing_program_is_a_configuration_error() {
    let clock = FakeClock::new();
    let source = ExecutableSource::builder("/nonexistent/credkit/helper --x")
        .build()
        .unwrap();
    let err = failure(&source, &context(&clock));
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(
        err.message(),
        "The executable `/nonexistent/credkit/helper` was not found."
    );
}

#[test]
fn a_program_that_cannot_be_started_is_a_configuration_error() {
    let clock = FakeClock::new();
    let dir = tempfile::tempdir().unwrap();
    let not_executable = dir.path().join("helper");
    std::fs::write(&not_executable, "#!/bin/sh\necho hi\n").unwrap();
    let source = ExecutableSource::builder(not_executable.to_str().unwrap())
        .build()
        .unwrap();
    let err = failure(&source, &context(&clock));
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(
        err.message()
            .ends_with("could not be started (permission denied)."),
        "{err}"
    );
    assert!(!err.is_transient());
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn a_hanging_program_is_killed_with_every_process_it_started() {
    let clock = FakeClock::new();
    let program = ScriptedExecutable::builder().hanging().build().unwrap();
    let source = ExecutableSource::builder(program.command_line())
        .with_timeout(ExecutableSource::MIN_TIMEOUT)
        .build()
        .unwrap();
    let context = context(&clock);
    let err = block_on(async {
        let driver = pin!(async {
            // Time out only once the grandchild runs: then it is the one that must die.
            while !(program.grandchildren().len() == 1 && clock.pending_sleeps() == 1) {
                futures::future::ready(()).await;
                std::thread::sleep(Duration::from_millis(5));
            }
            clock.advance(ExecutableSource::MIN_TIMEOUT);
            std::future::pending::<()>().await;
        });
        match futures::future::select(pin!(source.subject_token(&context)), driver).await {
            futures::future::Either::Left((result, _)) => result,
            futures::future::Either::Right(((), _)) => unreachable!("the driver never finishes"),
        }
    })
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(err.is_transient());
    assert!(err.message().contains("did not finish within 5s"), "{err}");
    assert_eq!(clock.sleeps(), [ExecutableSource::MIN_TIMEOUT]);
    let grandchild = program.grandchildren()[0];
    assert!(
        gone_soon(grandchild),
        "the grandchild {grandchild} still runs"
    );
    assert!(gone_soon(program.last_run().unwrap().pid));
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
fn oidc_and_saml_tokens_come_from_their_members() -> TestResult {
    let clock = FakeClock::new();
    let saml = printing(&ScriptedExecutable::saml_response(
        TOKEN,
        Some(at(&clock, 60)),
    ));
    assert_eq!(fetch(&source(&saml), &context_for(SAML, &clock))?, TOKEN);
    let id = printing(&ScriptedExecutable::oidc_response(TOKEN, None));
    assert_eq!(fetch(&source(&id), &context_for(ID_TOKEN, &clock))?, TOKEN);
    Ok(())
}

#[test]
fn debug_never_shows_a_token() -> TestResult {
    let clock = FakeClock::new();
    let program = printing(&ScriptedExecutable::oidc_response(TOKEN, None));
    let source = source(&program);
    let token: SecretString = block_on(source.subject_token(&context(&clock)))?;
    for shown in [
        format!("{source:?}"),
        format!("{token:?}"),
        format!("{:?}", context(&clock)),
    ] {
        assert!(!shown.contains("SECRET"), "{shown}");
    }
    assert_eq!(source.kind(), "executable");
    Ok(())
}

// ---- Through the credentials file ----

/// An `external_account` file whose source is `executable`.
fn info(executable: &Value, token_type: &str, impersonating: bool) -> Value {
    let mut info = json!({
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": token_type,
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": {"executable": executable},
    });
    if impersonating {
        info["service_account_impersonation_url"] = json!(format!(
            "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{EMAIL}:generateAccessToken"
        ));
    }
    info
}

/// The subject token credentials built from `info` exchange at STS (the fake endpoint records
/// it), or the error that stopped them before the exchange.
fn exchanged(info: &Value, env: credkit_external_account::EnvLookup) -> Result<String, Error> {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(Reply::token("ya29.from-sts"));
    let credentials = ExternalAccountInfo::from_json(info)
        .unwrap()
        .builder()
        .with_transport(endpoint.clone())
        .with_env_lookup(env)
        .build()
        .unwrap();
    let fetched = block_on(credentials.fetch_token());
    match endpoint.requests().first() {
        Some(request) => Ok(request.form_value("subject_token").unwrap().to_owned()),
        None => Err(fetched.unwrap_err()),
    }
}

#[test]
fn a_credentials_file_runs_its_executable_and_exchanges_the_token() -> TestResult {
    let program = printing(&ScriptedExecutable::oidc_response(TOKEN, None));
    let output_file = program.dir().join("cache.json");
    let executable = json!({"command": format!("{} --from-file", program.command_line()),
                            "timeout_millis": 5000, "output_file": output_file});
    let info = info(&executable, JWT, true);
    assert_eq!(
        ExternalAccountInfo::from_json(&info)?.source_kind(),
        "executable"
    );
    assert_eq!(exchanged(&info, allow(Some("1")))?, TOKEN);
    let run = program.last_run().unwrap();
    assert_eq!(run.args, ["--from-file"]);
    assert_eq!(run.env["GOOGLE_EXTERNAL_ACCOUNT_IMPERSONATED_EMAIL"], EMAIL);

    let err = exchanged(&info, allow(None)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
    assert_eq!(program.calls(), 1);
    Ok(())
}

// ---- Parity with google-auth ----

/// One comparison: the program, the file around it, the cache left beforehand.
struct Case {
    name: &'static str,
    program: ScriptedExecutable,
    token_type: &'static str,
    impersonating: bool,
    output_file: bool,
    cache: Option<String>,
    /// What both error messages start with, when both fail.
    message: Option<&'static str>,
}

impl Case {
    /// `program` for OIDC credentials, without impersonation or output file.
    fn new(name: &'static str, program: ScriptedExecutable) -> Self {
        Self {
            name,
            program,
            token_type: JWT,
            impersonating: false,
            output_file: false,
            cache: None,
            message: None,
        }
    }

    fn typed(mut self, token_type: &'static str) -> Self {
        self.token_type = token_type;
        self
    }

    fn impersonating(mut self) -> Self {
        self.impersonating = true;
        self
    }

    /// With an output file, holding `cache` beforehand (`None`: no file).
    fn cached(mut self, cache: Option<String>) -> Self {
        self.output_file = true;
        self.cache = cache;
        self
    }

    /// Both fail, with messages starting with `message`.
    fn failing(mut self, message: &'static str) -> Self {
        self.message = Some(message);
        self
    }

    fn info(&self) -> Value {
        let mut executable = json!({
            "command": format!("{} --flag 'two words' \"q\\\"d\"", self.program.command_line()),
            "timeout_millis": 5000,
        });
        if self.output_file {
            executable["output_file"] = json!(self.program.dir().join("output.json"));
        }
        info(&executable, self.token_type, self.impersonating)
    }
}

/// The cases where the program's own answer decides.
fn program_cases(now: i64) -> Vec<Case> {
    let fresh = ScriptedExecutable::oidc_response(TOKEN, Some(now + 3600));
    let failure = |code: i32| {
        ScriptedExecutable::builder()
            .with_stdout(ScriptedExecutable::failure_response("403", "denied"))
            .with_exit_code(code)
            .build()
            .unwrap()
    };
    vec![
        Case::new("a response on standard output", printing(&fresh)),
        Case::new("impersonating", printing(&fresh)).impersonating(),
        Case::new("an id_token subject type", printing(&fresh)).typed(ID_TOKEN),
        Case::new(
            "SAML",
            printing(&ScriptedExecutable::saml_response(TOKEN, Some(now + 3600))),
        )
        .typed(SAML),
        Case::new(
            "no expiration_time from the program",
            printing(&ScriptedExecutable::oidc_response(TOKEN, None)),
        ),
        Case::new(
            "a failure response",
            printing(&ScriptedExecutable::failure_response(
                "401",
                "Caller not authorized",
            )),
        )
        .failing(
            "Executable returned unsuccessful response: code: 401, message: Caller not authorized.",
        ),
        Case::new("a non-zero exit", failure(2))
            .failing("Executable exited with non-zero return code 2."),
        Case::new(
            "an expired token from the program",
            printing(&ScriptedExecutable::oidc_response(TOKEN, Some(now - 3600))),
        )
        .failing("The token returned by the executable is expired."),
        Case::new(
            "an unsupported version from the program",
            printing(&json!({"version": 2, "success": true}).to_string()),
        )
        .failing("Executable returned unsupported version 2."),
        Case::new(
            "an unsupported token type from the program",
            printing(
                &json!({"version": 1, "success": true, "token_type": "urn:x", "id_token": TOKEN})
                    .to_string(),
            ),
        )
        .failing("Executable returned unsupported token type."),
        Case::new(
            "a response without success",
            printing(&json!({"version": 1}).to_string()),
        )
        .failing("The executable response is missing the success field."),
    ]
}

/// The cases where the output file decides.
fn cache_cases(now: i64) -> Vec<Case> {
    let fresh = ScriptedExecutable::oidc_response(TOKEN, Some(now + 3600));
    let cache = |response: Value| Some(response.to_string());
    let prints = || printing(&fresh);
    vec![
        Case::new("an output file, none yet", prints()).cached(None),
        Case::new("a valid cache", prints())
            .impersonating()
            .cached(Some(ScriptedExecutable::oidc_response(
                CACHED_TOKEN,
                Some(now + 3600),
            ))),
        Case::new("an expired cache", prints()).cached(Some(ScriptedExecutable::oidc_response(
            CACHED_TOKEN,
            Some(now - 3600),
        ))),
        Case::new("a cache without expiration_time", prints())
            .cached(Some(ScriptedExecutable::oidc_response(CACHED_TOKEN, None))),
        Case::new("a cache that is not JSON", prints()).cached(Some("{not json".to_owned())),
        Case::new("a cached failure", prints()).cached(Some(ScriptedExecutable::failure_response(
            "401",
            "expired session",
        ))),
        Case::new("a cache of version 2", prints()).cached(cache(json!({
            "version": 2, "success": true, "token_type": JWT, "id_token": CACHED_TOKEN,
            "expiration_time": now + 3600}))),
        Case::new("a cache of an unsupported token type", prints()).cached(cache(json!({
            "version": 1, "success": true, "token_type": "urn:x", "id_token": CACHED_TOKEN,
            "expiration_time": now + 3600}))),
        Case::new("a cache without version", prints())
            .cached(cache(
                json!({"success": true, "token_type": JWT, "id_token": CACHED_TOKEN}),
            ))
            .failing("The executable response is missing the version field."),
        Case::new("a cached failure without code", prints())
            .cached(cache(
                json!({"version": 1, "success": false, "message": "m"}),
            ))
            .failing("Error code and message fields are required in the response."),
        Case::new("a cache without token_type", prints())
            .cached(cache(
                json!({"version": 1, "success": true, "id_token": CACHED_TOKEN,
                                 "expiration_time": now + 3600}),
            ))
            .failing("The executable response is missing the token_type field."),
        Case::new(
            "the program writes its output file and prints nothing",
            ScriptedExecutable::builder()
                .with_output_file_contents(ScriptedExecutable::oidc_response(TOKEN, None))
                .build()
                .unwrap(),
        )
        .cached(None),
    ]
}

fn parity_cases() -> Vec<Case> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let now = i64::try_from(now).unwrap();
    let mut cases = program_cases(now);
    cases.extend(cache_cases(now));
    cases
}

/// Leaves `case`'s cache in its output file (or no file).
fn prepare(case: &Case) {
    if let Some(path) = output_file(case) {
        match &case.cache {
            Some(text) => std::fs::write(&path, text).unwrap(),
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

fn output_file(case: &Case) -> Option<PathBuf> {
    case.output_file
        .then(|| case.program.dir().join("output.json"))
}

#[test]
fn the_program_sees_and_yields_what_google_auth_s_does() {
    let Some(python) = credkit_testing::google_auth_python("google.auth.pluggable") else {
        return;
    };
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/pluggable_retrieve.py");
    let cases = parity_cases();
    let input: Vec<Value> = cases
        .iter()
        .map(|case| json!({"info": case.info(), "cache": case.cache}))
        .collect();
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(Value::Array(input).to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the google-auth script failed");
    let reference: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(reference.len(), cases.len());

    let mut compared_runs = 0;
    for (case, theirs) in cases.iter().zip(&reference) {
        let name = case.name;
        let their_runs = case.program.runs();
        prepare(case);
        let ours = exchanged(&case.info(), allow(Some("1")));
        let our_runs = case.program.runs().split_off(their_runs.len());
        match (&ours, theirs.get("token").and_then(Value::as_str)) {
            (Ok(ours), Some(theirs)) => assert_eq!(ours, theirs, "{name}: the token"),
            (Err(err), None) => {
                assert_no_token(err);
                let message = case
                    .message
                    .unwrap_or_else(|| panic!("{name}: both failed: {err} / {theirs}"));
                assert!(
                    theirs["message"].as_str().unwrap().starts_with(message),
                    "{name}: google-auth said {theirs}"
                );
                assert!(
                    err.message().starts_with(message),
                    "{name}: credkit said {err}"
                );
            }
            (ours, _) => panic!("{name}: credkit {ours:?}, google-auth {theirs}"),
        }
        assert_eq!(our_runs.len(), their_runs.len(), "{name}: how many runs");
        compared_runs += our_runs.len();
        for (our_run, their_run) in our_runs.iter().zip(&their_runs) {
            assert_eq!(our_run.args, their_run.args, "{name}: the arguments");
            assert_eq!(
                without_gate(&our_run.google_env()),
                without_gate(&their_run.google_env()),
                "{name}: the variables"
            );
        }
    }
    // Most cases run the program; the valid cache and the malformed ones do not.
    assert_eq!(compared_runs, cases.len() - 4);
}

/// Command lines of the characters that matter to a split, made by a fixed generator.
fn command_lines() -> Vec<String> {
    const ALPHABET: [char; 10] = ['a', 'b', ' ', '\t', '\n', '\'', '"', '\\', '#', '$'];
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap()
    };
    (0..400)
        .map(|_| {
            let len = next() % 12;
            // A program name first, so most lines have one.
            std::iter::once('p')
                .chain((0..len).map(|_| ALPHABET[next() % ALPHABET.len()]))
                .collect()
        })
        .collect()
}

#[test]
fn command_lines_split_as_python_s_shlex_splits_them() {
    let Some(python) = credkit_testing::google_auth_python("shlex, google.auth.pluggable") else {
        return;
    };
    let lines = command_lines();
    let program = r#"
import json, shlex, sys
out = []
for line in json.load(sys.stdin):
    try:
        out.append({"words": shlex.split(line)})
    except ValueError as e:
        out.append({"error": str(e)})
json.dump(out, sys.stdout)
"#;
    let mut child = Command::new(python)
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(json!(lines).to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "shlex failed");
    let reference: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mut errors = 0;
    for (line, theirs) in lines.iter().zip(&reference) {
        match ExecutableSource::builder(line.as_str()).build() {
            Ok(source) => {
                let mut ours = vec![source.program().to_owned()];
                ours.extend(source.args().iter().cloned());
                assert_eq!(json!(ours), theirs["words"], "{line:?}");
            }
            Err(err) => {
                errors += 1;
                let theirs = theirs["error"].as_str().unwrap_or_else(|| {
                    panic!("{line:?}: credkit refused it ({err}), shlex split it: {theirs}")
                });
                assert!(
                    err.to_string().ends_with(theirs),
                    "{line:?}: {err} / {theirs}"
                );
            }
        }
    }
    // Both kinds of outcome were compared.
    assert!(errors > 20 && errors < 300, "{errors} errors");
}
