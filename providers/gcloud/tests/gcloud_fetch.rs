//! `GcloudSource` against the fake gcloud: tokens, expiries, the account, the fallback, and one
//! process per fetch.
#![cfg(unix)]

mod support;

use std::time::Duration;

use credkit_core::{Clock, TokenSource};
use credkit_gcloud::{DEFAULT_FALLBACK_LIFETIME, GcloudSource};
use credkit_testing::{FAKE_CLOCK_START, FAKE_GCLOUD_TOKEN, FakeClock, FakeGcloud, GcloudReply};
use futures::executor::block_on;
use secrecy::ExposeSecret;
use support::{TestResult, source};

const CONFIG_HELPER: [&str; 3] = ["config", "config-helper", "--format=json"];
const PRINT_ACCESS_TOKEN: [&str; 2] = ["auth", "print-access-token"];

fn minutes(n: i64) -> time::Duration {
    time::Duration::minutes(n)
}

#[test]
fn a_token_and_its_expiry_from_one_config_helper_run() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_token("ya29.from-gcloud")
        .with_token_expiry(FAKE_CLOCK_START + minutes(42))
        .build()?;
    let token = block_on(source(&gcloud, &clock)?.fetch_token())?;
    assert_eq!(token.secret().expose_secret(), "ya29.from-gcloud");
    assert_eq!(token.expiry(), Some(FAKE_CLOCK_START + minutes(42)));
    // Issue 12: gcloud does not say when its (possibly cached) token was issued.
    assert_eq!(token.issued_at(), None);
    assert_eq!(token.token_type(), "Bearer");
    assert_eq!(gcloud.calls(), 1);
    assert_eq!(gcloud.invocations(), [CONFIG_HELPER.to_vec()]);
    Ok(())
}

#[test]
fn the_id_token_comes_along() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_id_token("eyJ.id.token")
        .build()?;
    let token = block_on(source(&gcloud, &clock)?.fetch_token())?;
    assert_eq!(token.id_token().unwrap().expose_secret(), "eyJ.id.token");
    Ok(())
}

#[test]
fn each_fetch_runs_exactly_one_process() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder().build()?;
    let source = source(&gcloud, &clock)?;
    block_on(source.fetch_token())?;
    assert_eq!(gcloud.calls(), 1);
    block_on(source.fetch_token())?;
    assert_eq!(gcloud.calls(), 2);
    Ok(())
}

#[test]
fn concurrent_fetches_each_run_one_process() -> TestResult {
    // The source caches nothing: concurrent callers sharing one process is the caching layer's
    // job. Here each fetch runs its own, and all of them finish.
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder().build()?;
    let source = source(&gcloud, &clock)?;
    let fetches = (0..8).map(|_| source.fetch_token());
    let tokens = block_on(futures::future::join_all(fetches));
    for token in tokens {
        assert_eq!(token?.secret().expose_secret(), FAKE_GCLOUD_TOKEN);
    }
    assert_eq!(gcloud.calls(), 8);
    assert!(
        gcloud
            .invocations()
            .iter()
            .all(|args| args.as_slice() == CONFIG_HELPER)
    );
    Ok(())
}

#[test]
fn the_account_is_passed_to_both_commands() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_config_helper(GcloudReply::invalid_choice())
        .build()?;
    let source = source(&gcloud, &clock)?.with_account("me@example.com")?;
    assert_eq!(source.account(), Some("me@example.com"));
    block_on(source.fetch_token())?;
    assert_eq!(
        gcloud.invocations(),
        [
            vec![
                "config",
                "config-helper",
                "--format=json",
                "--account=me@example.com"
            ],
            vec!["auth", "print-access-token", "--account=me@example.com"],
        ]
    );
    Ok(())
}

#[test]
fn an_account_cannot_inject_arguments_or_shell() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder().build()?;
    let account = "x --format=yaml; touch /tmp/pwned $(id)";
    let source = source(&gcloud, &clock)?.with_account(account)?;
    block_on(source.fetch_token())?;
    assert_eq!(
        gcloud.invocations()[0].last().map(String::as_str),
        Some(format!("--account={account}").as_str())
    );
    assert_eq!(gcloud.invocations()[0].len(), 4);
    Ok(())
}

#[test]
fn quota_project_is_kept_for_the_caching_layer() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder().build()?;
    let source = source(&gcloud, &clock)?.with_quota_project("billing-project")?;
    assert_eq!(source.quota_project(), Some("billing-project"));
    block_on(source.fetch_token())?;
    // gcloud is not told about it.
    assert!(
        gcloud.invocations()[0]
            .iter()
            .all(|arg| !arg.contains("billing"))
    );
    Ok(())
}

#[test]
fn stderr_never_ends_up_in_the_token() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_stderr_noise("WARNING: a newer gcloud is available\n")
        .with_config_helper(GcloudReply::invalid_choice())
        .build()?;
    // The fallback prints the token on stdout and the warning on stderr.
    let gcloud_noisy = FakeGcloud::builder()
        .with_stderr_noise("WARNING: a newer gcloud is available\n")
        .build()?;
    for gcloud in [gcloud, gcloud_noisy] {
        let token = block_on(source(&gcloud, &clock)?.fetch_token())?;
        assert_eq!(token.secret().expose_secret(), FAKE_GCLOUD_TOKEN);
    }
    Ok(())
}

#[test]
fn an_old_gcloud_without_config_helper_falls_back_with_the_conservative_lifetime() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_token("ya29.printed")
        .with_config_helper(GcloudReply::invalid_choice())
        .build()?;
    let token = block_on(source(&gcloud, &clock)?.fetch_token())?;
    assert_eq!(token.secret().expose_secret(), "ya29.printed");
    assert_eq!(token.issued_at(), Some(FAKE_CLOCK_START));
    assert_eq!(
        token.expiry(),
        Some(FAKE_CLOCK_START + DEFAULT_FALLBACK_LIFETIME)
    );
    assert_eq!(
        gcloud.invocations(),
        [CONFIG_HELPER.to_vec(), PRINT_ACCESS_TOKEN.to_vec()]
    );
    Ok(())
}

#[test]
fn the_fallback_lifetime_is_configurable() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_config_helper(GcloudReply::invalid_choice())
        .build()?;
    let source = GcloudSource::builder()
        .with_program(gcloud.path())
        .with_clock(clock.clone())
        .with_fallback_lifetime(Duration::from_secs(120))
        .build()?;
    let token = block_on(source.fetch_token())?;
    assert_eq!(token.lifetime(), Some(Duration::from_secs(120)));
    Ok(())
}

#[test]
fn unusable_config_helper_output_falls_back() -> TestResult {
    let cases = [
        GcloudReply::stdout("not json at all"),
        GcloudReply::stdout(r#"{"credential": {"access_token": 12}}"#),
        GcloudReply::stdout(r#"{"credential": {"access_token": "two words"}}"#),
        GcloudReply::stdout(""),
        GcloudReply::stdout("x".repeat(70 * 1024)),
        // Expired an hour before the fake clock's now.
        GcloudReply::stdout(
            r#"{"credential": {"access_token": "ya29.old", "token_expiry": "2025-12-31T23:00:00Z"}}"#,
        ),
        // A failure that is not about credentials: a crash.
        GcloudReply::fail("ERROR: gcloud crashed (AttributeError): oops\n", 1),
        GcloudReply::fail("", 1),
    ];
    for reply in cases {
        let clock = FakeClock::new();
        let gcloud = FakeGcloud::builder()
            .with_token("ya29.fallback")
            .with_config_helper(reply.clone())
            .build()?;
        let token = block_on(source(&gcloud, &clock)?.fetch_token())?;
        assert_eq!(token.secret().expose_secret(), "ya29.fallback", "{reply:?}");
        assert_eq!(token.lifetime(), Some(DEFAULT_FALLBACK_LIFETIME));
        assert_eq!(gcloud.calls(), 2, "{reply:?}");
    }
    Ok(())
}

#[test]
fn a_config_helper_without_expiry_keeps_its_token_without_a_second_process() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_config_helper(GcloudReply::stdout(
            r#"{"credential": {"access_token": "ya29.no-expiry"}}"#,
        ))
        .build()?;
    let token = block_on(source(&gcloud, &clock)?.fetch_token())?;
    assert_eq!(token.secret().expose_secret(), "ya29.no-expiry");
    assert_eq!(token.lifetime(), Some(DEFAULT_FALLBACK_LIFETIME));
    assert_eq!(gcloud.calls(), 1);
    Ok(())
}

#[test]
fn credential_failures_do_not_run_a_second_process() -> TestResult {
    let clock = FakeClock::new();
    for stderr in [
        "ERROR: (gcloud.config.config-helper) There was a problem refreshing your current auth tokens: Reauthentication failed. cannot prompt during non-interactive execution.\nPlease run:\n\n  $ gcloud auth login\n",
        "ERROR: (gcloud.config.config-helper) You do not currently have an active account selected.\n",
        "ERROR: (gcloud.config.config-helper) Your current active account [me@example.com] does not have any valid credentials\n",
    ] {
        let gcloud = FakeGcloud::builder()
            .with_config_helper(GcloudReply::fail(stderr, 1))
            .build()?;
        let err = block_on(source(&gcloud, &clock)?.fetch_token()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Failed to obtain access token: `gcloud config config-helper` exited with status 1: ERROR: (gcloud.config.config-helper)"),
            "{err}"
        );
        assert_eq!(gcloud.calls(), 1, "{stderr}");
    }
    Ok(())
}

#[test]
fn a_fresh_token_later_runs_gcloud_again_with_the_new_time() -> TestResult {
    // The source dates tokens by its clock: a fetch an hour later gets a later issue time.
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_config_helper(GcloudReply::invalid_choice())
        .build()?;
    let source = source(&gcloud, &clock)?;
    let first = block_on(source.fetch_token())?;
    clock.advance(Duration::from_secs(3600));
    let second = block_on(source.fetch_token())?;
    assert_eq!(first.issued_at(), Some(FAKE_CLOCK_START));
    assert_eq!(second.issued_at(), Some(FAKE_CLOCK_START + minutes(60)));
    // config-helper's "Invalid choice" is remembered: the second fetch is one process.
    assert_eq!(gcloud.calls(), 3);
    let commands: Vec<String> = gcloud
        .invocations()
        .iter()
        .map(|args| args[..2].join(" "))
        .collect();
    assert_eq!(
        commands,
        [
            "config config-helper",
            "auth print-access-token",
            "auth print-access-token"
        ]
    );
    // Clones share the memory; a copy through the builder asks again.
    block_on(source.clone().fetch_token())?;
    assert_eq!(gcloud.calls(), 4);
    block_on(source.to_builder().build()?.fetch_token())?;
    assert_eq!(gcloud.calls(), 6);
    Ok(())
}

#[test]
fn debug_shows_no_secret() -> TestResult {
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_token("ya29.super-secret-value")
        .build()?;
    let source = source(&gcloud, &clock)?
        .with_account("me@example.com")?
        .with_quota_project("proj")?;
    let token = block_on(source.fetch_token())?;
    for shown in [format!("{source:?}"), format!("{token:?}")] {
        assert!(!shown.contains("super-secret"), "{shown}");
    }
    let shown = format!("{source:?}");
    assert!(shown.contains("me@example.com") && shown.contains("proj"));
    Ok(())
}

#[test]
fn fresh_fakes_in_parallel_never_fail_to_spawn() {
    // The provider does nothing special about ETXTBSY; the fake gcloud's builder makes it
    // impossible.
    std::thread::scope(|scope| {
        for thread in 0..4 {
            scope.spawn(move || {
                for i in 0..20 {
                    let token = format!("ya29.p{thread}-{i}");
                    let gcloud = FakeGcloud::builder().with_token(&token).build().unwrap();
                    let source = source(&gcloud, &FakeClock::new()).unwrap();
                    let got = block_on(source.fetch_token()).unwrap();
                    assert_eq!(got.secret().expose_secret(), token);
                }
            });
        }
    });
}

/// A [`FakeClock`] on which an hour passes while each gcloud command runs: the source's wait for
/// the command (its timeout sleep, taken once the process has started) moves the clock on first.
#[derive(Debug)]
struct SlowProcessClock(FakeClock);

impl Clock for SlowProcessClock {
    fn now(&self) -> time::OffsetDateTime {
        self.0.now()
    }

    fn sleep(&self, duration: Duration) -> futures::future::BoxFuture<'static, ()> {
        self.0.advance(Duration::from_secs(3600));
        self.0.sleep(duration)
    }
}

#[test]
fn lifetimes_count_from_before_the_process_started() -> TestResult {
    // print-access-token reports no expiry: the fallback lifetime counts from the start.
    let clock = FakeClock::new();
    let gcloud = FakeGcloud::builder()
        .with_config_helper(GcloudReply::invalid_choice())
        .build()?;
    let source = GcloudSource::builder()
        .with_program(gcloud.path())
        .with_clock(SlowProcessClock(clock.clone()))
        .build()?;
    let token = block_on(source.fetch_token())?;
    assert_eq!(clock.now(), FAKE_CLOCK_START + time::Duration::hours(2));
    assert_eq!(token.issued_at(), Some(FAKE_CLOCK_START));
    assert_eq!(
        token.expiry(),
        Some(FAKE_CLOCK_START + time::Duration::try_from(DEFAULT_FALLBACK_LIFETIME)?)
    );

    // config-helper reports the expiry; gcloud's token may be an old cached one, so its issue
    // time is unknown (the full refresh threshold applies, not a quarter of what is left).
    let clock = FakeClock::new();
    let expiry = FAKE_CLOCK_START + time::Duration::hours(3);
    let gcloud = FakeGcloud::builder().with_token_expiry(expiry).build()?;
    let source = GcloudSource::builder()
        .with_program(gcloud.path())
        .with_clock(SlowProcessClock(clock.clone()))
        .build()?;
    let token = block_on(source.fetch_token())?;
    assert_eq!(token.issued_at(), None);
    assert_eq!(token.expiry(), Some(expiry));
    Ok(())
}
