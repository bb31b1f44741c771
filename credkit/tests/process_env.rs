//! `credkit::default_credentials()` and `credkit::project_id()` read the process environment:
//! this test runs itself again as a child process whose whole environment is an `AdcEnv`.
#![cfg(feature = "refresh-token")]
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use credkit_testing::AdcEnv;

/// Set in the child's environment: the child half runs only then.
const CHILD: &str = "CREDKIT_PROCESS_ENV_CHILD";

/// The child half: what the process environment gives, on standard output.
#[tokio::test]
#[ignore = "run by the_process_environment_is_read, in a child process"]
async fn child_reports_what_the_process_environment_gives() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let project = credkit::project_id().await.unwrap();
    // The blocking API reads the same environment (and may be called from inside a runtime).
    assert_eq!(credkit::blocking::project_id().unwrap(), project);
    // Built, not used: nothing is fetched, so nothing is sent anywhere.
    let credentials = credkit::default_credentials().await.unwrap();
    println!("project={project} source={}", credentials.source_name());
}

#[test]
fn the_process_environment_is_read() {
    let env = AdcEnv::new()
        .with_credentials_file(
            r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}"#,
        )
        .with_var("GOOGLE_CLOUD_PROJECT", "from-the-process")
        .with_var(CHILD, "1");
    let output = env
        .command(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_reports_what_the_process_environment_gives",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("project=from-the-process source=authorized user (refresh token)"),
        "{stdout}"
    );
}
