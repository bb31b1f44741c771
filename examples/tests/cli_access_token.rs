//! `credkit token|header|info --access-token-file FILE`, and a token handed in through
//! gcloud's variables found by discovery: the file's token printed, a JSON document's expiry
//! reported, an expired or unusable token an error that never quotes it, the flag over the
//! variable, the variable over every credentials file, nothing cached. Nothing leaves
//! loopback; no gcloud runs.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use support::{Sandbox, run};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const TOKEN: &str = "ya29.handed-in-cli-token";

fn hour_from_now() -> OffsetDateTime {
    // The binary reads the system clock; whole seconds, as RFC 3339 prints them back.
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    now + time::Duration::hours(1)
}

/// The user cache folder the sandbox's home would hold, and whether anything is in it.
fn cache_is_empty(sandbox: &Sandbox) -> bool {
    let cache = sandbox.env().home().join(".cache");
    std::fs::read_dir(&cache).map_or(true, |mut entries| entries.next().is_none())
}

#[tokio::test]
async fn token_header_and_info_read_the_file() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("token", &format!("{TOKEN}\n"));
    let path = file.display().to_string();

    let out = run(sandbox.credkit(["token", "--access-token-file", &path])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        (&*format!("{TOKEN}\n"), "")
    );

    let out = run(sandbox.credkit([
        "header",
        "--access-token-file",
        &path,
        "--quota-project",
        "billing-project",
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        out.stdout,
        format!("authorization: Bearer {TOKEN}\nx-goog-user-project: billing-project\n")
    );

    let out = run(sandbox.credkit(["info", "--access-token-file", &path])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    out.assert_no_secret(&[TOKEN]);
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["type"], "access_token_file");
    assert!(
        info["source"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{path} file via ")),
        "{info}"
    );
    assert_eq!(info["token_state"], "fresh");
    assert_eq!(info["cache"], Value::Null);
    // A bare token's expiry is unknown: what info reports is the re-read deadline, 60 s on.
    let expiry = OffsetDateTime::parse(info["expiry"].as_str().unwrap(), &Rfc3339).unwrap();
    let ahead = expiry - OffsetDateTime::now_utc();
    assert!(
        ahead > time::Duration::seconds(30) && ahead <= time::Duration::seconds(60),
        "{ahead}"
    );
    assert!(cache_is_empty(&sandbox));
}

#[tokio::test]
async fn a_json_documents_expiry_is_the_tokens() {
    let sandbox = Sandbox::new();
    let expiry = hour_from_now().format(&Rfc3339).unwrap();
    let file = sandbox.write(
        "token.json",
        &format!(r#"{{"accessToken": "{TOKEN}", "expireTime": "{expiry}"}}"#),
    );
    let path = file.display().to_string();
    let out = run(sandbox.credkit(["info", "--access-token-file", &path])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["expiry"], expiry);
    let out = run(sandbox.credkit(["token", "--access-token-file", &path])).await;
    assert_eq!(out.stdout, format!("{TOKEN}\n"), "{out:#?}");
}

#[tokio::test]
async fn an_expired_token_is_an_error_and_never_printed() {
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "token.json",
        &format!(r#"{{"access_token": "{TOKEN}", "expiry": "2020-01-01T00:00:00Z"}}"#),
    );
    let path = file.display().to_string();
    let out = run(sandbox.credkit(["token", "--access-token-file", &path, "--no-retry"])).await;
    let message = out.assert_error();
    assert_eq!(
        message,
        format!(
            "the access token in {path} expired at 2020-01-01T00:00:00Z; write a new token to the file"
        )
    );
    out.assert_no_secret(&[TOKEN]);
}

#[tokio::test]
async fn unusable_content_is_an_error_that_never_quotes_it() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("token", &format!("{TOKEN}\nsecond-line-{TOKEN}\n"));
    let path = file.display().to_string();
    let out = run(sandbox.credkit(["header", "--access-token-file", &path])).await;
    let message = out.assert_error();
    assert!(
        message.starts_with(&format!(
            "the access token file {path} holds no usable access token: the token has white space or a control character inside"
        )),
        "{message}"
    );
    out.assert_no_secret(&[TOKEN]);
}

#[tokio::test]
async fn a_missing_file_is_an_error() {
    let sandbox = Sandbox::new();
    let path = sandbox.path("absent").display().to_string();
    let out = run(sandbox.credkit(["token", "--access-token-file", &path])).await;
    assert_eq!(
        out.assert_error(),
        format!("--access-token-file: {path} does not exist; write an access token to it")
    );
}

#[tokio::test]
async fn the_flag_wins_over_the_variable_and_the_credentials_file() {
    let sandbox = Sandbox::new()
        .with_env(|env| env.with_var("CLOUDSDK_AUTH_ACCESS_TOKEN", "ya29.from-the-variable"));
    let _ = sandbox.credentials_file(&serde_json::json!({}));
    let file = sandbox.write("token", TOKEN);
    let out =
        run(sandbox.credkit(["token", "--access-token-file", &file.display().to_string()])).await;
    assert_eq!(out.stdout, format!("{TOKEN}\n"), "{out:#?}");
}

#[tokio::test]
async fn discovery_takes_gclouds_variable_before_any_credentials_file() {
    let sandbox = Sandbox::new();
    let credentials = sandbox.credentials_file(&serde_json::json!({}));
    let sandbox = sandbox.with_env(|env| {
        env.with_var(
            "GOOGLE_APPLICATION_CREDENTIALS",
            credentials.display().to_string(),
        )
        .with_var("CLOUDSDK_AUTH_ACCESS_TOKEN", format!(" {TOKEN}\n"))
    });
    let out = run(sandbox.credkit(["token"])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, format!("{TOKEN}\n"));

    let out = run(sandbox.credkit(["info"])).await;
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["type"], "access_token");
    assert_eq!(
        info["source"],
        "the CLOUDSDK_AUTH_ACCESS_TOKEN environment variable"
    );
    assert_eq!(info["expiry"], Value::Null);
    out.assert_no_secret(&[TOKEN]);
    // Never cached under a key of the credentials file discovery did not use.
    assert!(cache_is_empty(&sandbox));
}

#[tokio::test]
async fn discovery_takes_the_file_of_gclouds_file_variable() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("token", TOKEN);
    let sandbox = sandbox.with_env(|env| {
        env.with_var(
            "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
            file.display().to_string(),
        )
    });
    let out = run(sandbox.credkit(["header"])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, format!("authorization: Bearer {TOKEN}\n"));

    // A broken variable stops discovery with its reason.
    let sandbox = sandbox.with_env(|env| env.with_var("CLOUDSDK_AUTH_ACCESS_TOKEN", "two words"));
    let out = run(sandbox.credkit(["token"])).await;
    let message = out.assert_error();
    assert!(
        message.starts_with("Failed to load an access token from CLOUDSDK_AUTH_ACCESS_TOKEN: "),
        "{message}"
    );
    out.assert_no_secret(&["two words"]);
}

#[tokio::test]
async fn the_token_written_to_an_output_file() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("token", TOKEN);
    let output = sandbox.path("copy");
    let out = run(sandbox.credkit([
        "token",
        "--access-token-file",
        &file.display().to_string(),
        "--output-file",
        &output.display().to_string(),
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(std::fs::read_to_string(&output).unwrap(), TOKEN);
}

#[tokio::test]
async fn options_that_do_not_apply_are_refused() {
    let sandbox = Sandbox::new();
    let file = sandbox.write("token", TOKEN);
    let path = file.display().to_string();
    for other in [
        &["--credentials", "x.json"][..],
        &["--gcloud"],
        &["--token-uri", "http://127.0.0.1:9/token"],
    ] {
        let mut args = vec!["token", "--access-token-file", &path];
        args.extend_from_slice(other);
        let out = run(sandbox.credkit(&args)).await;
        assert_eq!(out.code, Some(2), "{other:?}: {out:#?}");
        assert!(out.stderr.contains("cannot be used with"), "{out:#?}");
    }
    let out = run(sandbox.credkit(["token", "--access-token-file", &path, "--scope", "s"])).await;
    assert_eq!(
        out.assert_error(),
        "--scope does not apply to --access-token-file (the token has the scopes it was issued with), except with --impersonate-service-account"
    );
    let out =
        run(sandbox.credkit(["token", "--access-token-file", &path, "--enable-reauth"])).await;
    assert!(
        out.assert_error()
            .starts_with("--token-uri and --enable-reauth apply to authorized_user credentials"),
        "{out:#?}"
    );
}
