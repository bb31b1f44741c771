//! The built `credkit` binary's `token`, `header` and `info` against `FakeTokenServer`: output,
//! exit codes and error lines, with no secret where it does not belong.

mod support;

use std::time::{Duration, Instant};

use credkit_testing::{FakeTokenServer, Reply};
use serde_json::{Value, json};
use support::{CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, Sandbox, run};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const REVOKED: &str = "Token has been expired or revoked.";

/// `credkit <command> --credentials <file> --token-uri <server> <extra...>`.
fn against(
    sandbox: &Sandbox,
    server: &FakeTokenServer,
    command: &str,
    extra: &[&str],
) -> std::process::Command {
    let file = sandbox.credentials_file(&json!({}));
    let mut args = vec![
        command.to_owned(),
        "--credentials".to_owned(),
        file.display().to_string(),
        "--token-uri".to_owned(),
        server.token_url(),
    ];
    args.extend(extra.iter().map(|&a| a.to_owned()));
    sandbox.credkit(args)
}

fn secrets(access_token: &str) -> [&str; 3] {
    [access_token, CLIENT_SECRET, REFRESH_TOKEN]
}

// ===== token =====

#[tokio::test]
async fn token_prints_the_token_and_a_newline() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.cli-token"));

    let out = run(against(&sandbox, &server, "token", &[])).await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, "ya29.cli-token\n");
    assert_eq!(out.stderr, "");
    let request = server.last_request().unwrap();
    assert_eq!(server.request_count(), 1);
    assert_eq!(request.form_value("refresh_token"), Some(REFRESH_TOKEN));
    assert_eq!(request.form_value("client_id"), Some(CLIENT_ID));
}

#[tokio::test]
async fn token_prints_a_fresh_token_from_the_file_without_a_request() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    let expiry = (OffsetDateTime::now_utc() + Duration::from_secs(3600))
        .format(&Rfc3339)
        .unwrap();
    let file = sandbox.credentials_file(&json!({"token": "ya29.from-file", "expiry": expiry}));
    let mut command = sandbox.credkit(["token", "--token-uri", &server.token_url()]);
    command.arg("--credentials").arg(&file);

    let out = run(command).await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, "ya29.from-file\n");
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn token_finds_application_default_credentials_in_the_environment() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.adc"));
    let file = sandbox.credentials_file(&json!({}));
    let mut command = sandbox.credkit(["token", "--token-uri", &server.token_url()]);
    command.env("GOOGLE_APPLICATION_CREDENTIALS", &file);

    let out = run(command).await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, "ya29.adc\n");
}

#[tokio::test]
async fn info_through_adc_shows_the_type_email_and_project() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.adc-info"));
    let file = sandbox.credentials_file(&json!({"account": "user@example.com"}));
    let sandbox = sandbox.with_env(|env| {
        env.with_var("GOOGLE_APPLICATION_CREDENTIALS", file.display().to_string())
            .with_var("GOOGLE_CLOUD_PROJECT", "env-project")
    });

    let out = run(sandbox.credkit(["info", "--token-uri", &server.token_url()])).await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    out.assert_no_secret(&secrets("ya29.adc-info"));
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["type"], "authorized_user");
    assert_eq!(info["email"], "user@example.com");
    assert_eq!(info["project_id"], "env-project");
    assert_eq!(
        info["source"],
        format!(
            "{} file via the GOOGLE_APPLICATION_CREDENTIALS environment variable",
            file.display()
        )
    );
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn token_id_token_prints_the_id_token_of_the_refresh_response() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::json(
        200,
        json!({"access_token": "ya29.with-id", "expires_in": 3600, "token_type": "Bearer", "id_token": "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiIxMjMifQ.c2ln"}),
    ));
    let file = sandbox.credentials_file(&json!({}));
    let sandbox = sandbox
        .with_env(|env| env.with_var("GOOGLE_APPLICATION_CREDENTIALS", file.display().to_string()));

    let out = run(sandbox.credkit([
        "token",
        "--id-token",
        "--audience",
        "https://service.example.com",
        "--token-uri",
        &server.token_url(),
    ]))
    .await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiIxMjMifQ.c2ln\n");
    assert_eq!(server.request_count(), 1);
    let sent = server.last_request().unwrap();
    assert_eq!(sent.form_value("grant_type"), Some("refresh_token"));
    out.assert_no_secret(&[CLIENT_SECRET, REFRESH_TOKEN, "ya29.with-id"]);
}

#[tokio::test]
async fn token_id_token_without_an_id_token_in_the_response_exits_1() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.no-id"));

    let out = run(against(
        &sandbox,
        &server,
        "token",
        &["--id-token", "--audience", "a"],
    ))
    .await;

    let message = out.assert_error();
    assert!(
        message.starts_with("the token endpoint returned no ID token"),
        "{message}"
    );
}

#[tokio::test]
async fn a_scope_shortfall_is_a_warning_and_the_token_is_still_printed() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::json(
        200,
        json!({"access_token": "ya29.narrow", "expires_in": 3600, "token_type": "Bearer", "scope": "email"}),
    ));

    let out = run(against(
        &sandbox,
        &server,
        "token",
        &[
            "--scope", "email", "--scope", "profile", "--scope", "openid",
        ],
    ))
    .await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stdout, "ya29.narrow\n");
    assert_eq!(
        out.stderr,
        "warning: Not all requested scopes were granted by the authorization server, missing scopes profile, openid.\n"
    );
    assert_eq!(
        server.last_request().unwrap().form_value("scope"),
        Some("email profile openid")
    );
}

// ===== header =====

#[tokio::test]
async fn header_prints_authorization_and_the_quota_project() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.header"));

    let out = run(against(
        &sandbox,
        &server,
        "header",
        &["--quota-project", "billing-project"],
    ))
    .await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        out.stdout,
        "authorization: Bearer ya29.header\nx-goog-user-project: billing-project\n"
    );
    assert_eq!(out.stderr, "");
}

#[tokio::test]
async fn header_takes_the_quota_project_from_the_file_unless_told_otherwise() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.header"));
    let file = sandbox.credentials_file(&json!({"quota_project_id": "from-file"}));
    let header = |extra: &[&str]| {
        let mut command = sandbox.credkit(["header", "--token-uri", &server.token_url()]);
        command.arg("--credentials").arg(&file).args(extra);
        command
    };

    let out = run(header(&[])).await;
    assert_eq!(
        out.stdout,
        "authorization: Bearer ya29.header\nx-goog-user-project: from-file\n"
    );
    let out = run(header(&["--quota-project", "from-flag"])).await;
    assert_eq!(
        out.stdout,
        "authorization: Bearer ya29.header\nx-goog-user-project: from-flag\n"
    );
}

#[tokio::test]
async fn header_without_a_quota_project_prints_authorization_only() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.alone"));

    let out = run(against(&sandbox, &server, "header", &[])).await;

    assert_eq!(out.stdout, "authorization: Bearer ya29.alone\n");
}

// ===== info =====

#[tokio::test]
async fn info_prints_the_facts_as_json_and_no_secret() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::json(
        200,
        json!({"access_token": "ya29.info", "expires_in": 3600, "token_type": "Bearer", "scope": "openid email"}),
    ));
    let file = sandbox
        .credentials_file(&json!({"quota_project_id": "billing", "scopes": ["openid", "email"]}));
    let mut command = sandbox.credkit(["info", "--token-uri", &server.token_url()]);
    command.arg("--credentials").arg(&file);

    let started = OffsetDateTime::now_utc();
    let out = run(command).await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stderr, "");
    out.assert_no_secret(&secrets("ya29.info"));
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["type"], "authorized_user");
    assert_eq!(info["client_id"], CLIENT_ID);
    assert_eq!(info["scopes"], json!(["openid", "email"]));
    assert_eq!(info["granted_scopes"], json!(["openid", "email"]));
    assert_eq!(info["quota_project"], "billing");
    assert_eq!(info["token_uri"], server.token_url());
    assert_eq!(info["source"], file.display().to_string());
    assert_eq!(info["token_state"], "fresh");
    assert_eq!(info["account"], Value::Null);
    let expiry = OffsetDateTime::parse(info["expiry"].as_str().unwrap(), &Rfc3339).unwrap();
    let lifetime = expiry - started;
    assert!(
        lifetime > time::Duration::minutes(55) && lifetime <= time::Duration::minutes(61),
        "{expiry}"
    );
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn info_no_refresh_reports_without_a_request() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();

    let out = run(against(&sandbox, &server, "info", &["--no-refresh"])).await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    let info: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(info["token_state"], "invalid");
    assert_eq!(info["expiry"], Value::Null);
    assert_eq!(info["granted_scopes"], Value::Null);
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn info_exits_1_when_the_refresh_fails() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::oauth_error(400, "invalid_grant", Some(REVOKED)));

    let out = run(against(&sandbox, &server, "info", &[])).await;

    assert_eq!(out.assert_error(), format!("invalid_grant: {REVOKED}"));
}

// ===== errors =====

#[tokio::test]
async fn invalid_grant_exits_1_with_one_error_line_and_no_retry() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::oauth_error(400, "invalid_grant", Some(REVOKED)));

    for command in ["token", "header"] {
        let out = run(against(&sandbox, &server, command, &[])).await;
        assert_eq!(
            out.stderr,
            "error: invalid_grant: Token has been expired or revoked.\n"
        );
        out.assert_error();
        out.assert_no_secret(&[CLIENT_SECRET, REFRESH_TOKEN]);
    }
    assert_eq!(
        server.request_count(),
        2,
        "one request per run: never retried"
    );
}

#[tokio::test]
async fn an_html_503_is_retried_then_reported_without_its_body() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::html(
        503,
        "<html><body>Service Unavailable, request id ya29.leaked</body></html>",
    ));

    let started = Instant::now();
    let out = run(against(&sandbox, &server, "token", &[])).await;
    let elapsed = started.elapsed();

    assert_eq!(
        out.assert_error(),
        "the token endpoint answered HTTP 503 with a text/html body that is not an OAuth error response"
    );
    out.assert_no_secret(&["ya29.leaked", "<html", CLIENT_SECRET, REFRESH_TOKEN]);
    assert_eq!(
        server.request_count(),
        3,
        "3 attempts: the default retry policy"
    );
    // The default waits are about 1 s and 2 s (plus or minus 10 %).
    assert!(elapsed >= Duration::from_millis(2500), "{elapsed:?}");
}

#[tokio::test]
async fn no_retry_tries_once() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::html(503, "<html>busy</html>"));

    let out = run(against(&sandbox, &server, "token", &["--no-retry"])).await;

    assert!(out.assert_error().contains("HTTP 503"));
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn a_stalled_endpoint_times_out() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::stall());

    let started = Instant::now();
    let out = run(against(
        &sandbox,
        &server,
        "token",
        &["--timeout", "0.5", "--no-retry"],
    ))
    .await;

    let message = out.assert_error();
    assert!(
        message.contains("did not answer in full within 500ms"),
        "{message}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_missing_credentials_file_exits_1() {
    let sandbox = Sandbox::new();
    let missing = sandbox.path("nowhere.json");
    let mut command = sandbox.credkit(["token", "--credentials"]);
    command.arg(&missing);

    let out = run(command).await;

    assert_eq!(
        out.assert_error(),
        format!("File {} was not found.", missing.display())
    );
}

#[tokio::test]
async fn a_malformed_credentials_file_exits_1() {
    let sandbox = Sandbox::new();
    let cases = [
        ("{\"refresh_token\": ", "is not a valid json file"),
        (
            "{\"type\": \"authorized_user\", \"client_id\": \"c\"}",
            "Authorized user info was not in the expected format, missing fields refresh_token, client_secret.",
        ),
        // Another registered type is loaded as ADC loads it, with its own messages.
        (
            "{\"type\": \"service_account\"}",
            "Service account info was not in the expected format, missing fields client_email, token_uri.",
        ),
        (
            "{\"type\": \"mystery\"}",
            "does not have a valid type. Type is mystery",
        ),
    ];
    for (text, expected) in cases {
        let file = sandbox.write("bad.json", text);
        let mut command = sandbox.credkit(["header", "--credentials"]);
        command.arg(&file);
        let out = run(command).await;
        let message = out.assert_error();
        assert!(message.contains(expected), "{message}");
    }
}

#[tokio::test]
async fn no_application_default_credentials_exits_1() {
    let sandbox = Sandbox::new();

    let out = run(sandbox.credkit(["token"])).await;

    let message = out.assert_error();
    assert!(
        message.starts_with("Your default credentials were not found."),
        "{message}"
    );
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let sandbox = Sandbox::new();
    let cases: &[&[&str]] = &[
        &[],
        &["frobnicate"],
        &["token", "--bogus"],
        &["token", "--scope"],
        &["token", "--scope", ""],
        &["token", "--gcloud", "--credentials", "x.json"],
        &[
            "token",
            "--gcloud",
            "--token-uri",
            "https://example.com/token",
        ],
        &["token", "--account", "a@example.com"],
        &["token", "--timeout", "0"],
        &["token", "--timeout", "soon"],
        &["token", "--token-uri", "http://example.com/token"],
        &["token", "--token-uri", "not a url"],
        &["demo", "--callers", "0"],
    ];
    for args in cases {
        let out = run(sandbox.credkit(*args)).await;
        assert_eq!(out.code, Some(2), "{args:?}: {out:#?}");
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[tokio::test]
async fn a_token_uri_with_a_password_is_refused_without_repeating_it() {
    let sandbox = Sandbox::new();

    let out = run(sandbox.credkit([
        "token",
        "--token-uri",
        "https://user:hunter2@example.com/token?key=k3y",
    ]))
    .await;

    assert_eq!(out.code, Some(2));
    out.assert_no_secret(&["hunter2", "k3y"]);
}

#[tokio::test]
async fn help_and_version_exit_0() {
    let sandbox = Sandbox::new();
    for args in [&["--help"][..], &["token", "--help"], &["--version"]] {
        let out = run(sandbox.credkit(args)).await;
        assert_eq!(out.code, Some(0), "{args:?}");
        assert!(!out.stdout.is_empty());
    }
}

// ===== gcloud =====

#[cfg(unix)]
// The helpers below are not #[test] functions, and a broken one should fail loudly.
#[allow(clippy::unwrap_used)]
mod gcloud {
    use credkit_testing::FakeGcloud;

    use super::*;

    fn fake_gcloud() -> FakeGcloud {
        FakeGcloud::builder()
            .with_token("ya29.from-gcloud")
            .with_token_expiry(OffsetDateTime::now_utc() + Duration::from_secs(3600))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn token_from_gcloud_for_an_account() {
        let sandbox = Sandbox::new();
        let gcloud = fake_gcloud();

        let out = run(sandbox.with_gcloud(&gcloud).credkit([
            "token",
            "--gcloud",
            "--account",
            "dev@example.com",
        ]))
        .await;

        assert_eq!(out.code, Some(0), "{out:#?}");
        assert_eq!(out.stdout, "ya29.from-gcloud\n");
        assert!(
            gcloud.invocations()[0].contains(&"--account=dev@example.com".to_owned()),
            "{:?}",
            gcloud.invocations()
        );
    }

    #[tokio::test]
    async fn id_tokens_from_gcloud_for_a_service_account_and_a_user() {
        use base64::Engine as _;
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let claims = json!({"aud": "https://run.app", "iat": now, "exp": now + 3600});
        let jwt = format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2lnbmF0dXJl",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let gcloud = FakeGcloud::builder()
            .with_identity_token(jwt.clone())
            .build()
            .unwrap();
        for (account, audience_sent) in [
            ("robot@p.iam.gserviceaccount.com", true),
            ("dev@example.com", false),
        ] {
            let sandbox = Sandbox::new().with_gcloud(&gcloud);
            let out = run(sandbox.credkit([
                "token",
                "--gcloud",
                "--account",
                account,
                "--id-token",
                "--audience",
                "https://run.app",
            ]))
            .await;
            assert_eq!(out.code, Some(0), "{out:#?}");
            assert_eq!(out.stdout, format!("{jwt}\n"));
            let last = gcloud.invocations().pop().unwrap();
            assert_eq!(last[..2], ["auth", "print-identity-token"]);
            assert_eq!(
                last.contains(&"--audiences=https://run.app".to_owned()),
                audience_sent,
                "{last:?}"
            );
            assert!(last.contains(&format!("--account={account}")), "{last:?}");
        }
    }

    #[tokio::test]
    async fn info_for_gcloud_found_by_discovery() {
        let sandbox = Sandbox::new().with_env(|env| {
            env.with_gcloud_properties(&[
                ("account", "dev@example.com"),
                ("project", "gcloud-project"),
            ])
        });
        let gcloud = fake_gcloud();

        let out = run(sandbox
            .with_gcloud(&gcloud)
            .credkit(["info", "--quota-project", "billing"]))
        .await;

        assert_eq!(out.code, Some(0), "{out:#?}");
        out.assert_no_secret(&["ya29.from-gcloud"]);
        let info: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(info["type"], "gcloud");
        assert_eq!(info["email"], "dev@example.com");
        assert_eq!(info["project_id"], "gcloud-project");
        assert_eq!(info["client_id"], Value::Null);
        assert_eq!(info["quota_project"], "billing");
        assert_eq!(info["token_state"], "fresh");
        assert!(info["expiry"].is_string());
    }

    #[tokio::test]
    async fn a_failing_gcloud_exits_1_with_one_line() {
        let sandbox = Sandbox::new();
        let gcloud = FakeGcloud::builder()
            .with_reply(credkit_testing::GcloudReply::login_required())
            .build()
            .unwrap();

        let out = run(sandbox.with_gcloud(&gcloud).credkit(["token", "--gcloud"])).await;

        out.assert_error();
    }

    #[tokio::test]
    async fn gcloud_on_path_with_nobody_logged_in_is_no_credentials_with_the_whole_list() {
        let gcloud = fake_gcloud();
        let sandbox = Sandbox::new().with_gcloud(&gcloud);
        let properties = sandbox
            .env()
            .gcloud_config_dir()
            .join("configurations")
            .join("config_default");

        for args in [&["token"][..], &["info", "--no-refresh"]] {
            let out = run(sandbox.credkit(args)).await;
            let message = out.assert_error();
            assert!(
                message.starts_with("Your default credentials were not found."),
                "{message}"
            );
            assert!(
                message.contains("GOOGLE_APPLICATION_CREDENTIALS (not set)"),
                "{message}"
            );
            assert!(
                message.contains("application_default_credentials.json (no such file)"),
                "{message}"
            );
            assert!(
                message.ends_with(&format!(
                    "the gcloud CLI ({} is on PATH, but no account is logged in: {} sets no [core] account. Run `gcloud auth login`); the metadata server (NO_GCE_CHECK is set)."
                    , gcloud.path().display(), properties.display()
                )),
                "{message}"
            );
            assert!(!out.stdout.contains("\"type\": \"gcloud\""));
            assert!(!message.contains("::"), "no library method: {message}");
        }
        assert_eq!(gcloud.calls(), 0, "discovery never runs gcloud");
    }

    #[tokio::test]
    async fn gcloud_not_on_path_names_no_library_method() {
        let sandbox = Sandbox::new();
        let out = run(sandbox.credkit(["token", "--gcloud"])).await;
        let message = out.assert_error();
        assert_eq!(
            message,
            "--gcloud: the gcloud program was not found on PATH; install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install) or add its bin folder to PATH"
        );
    }
}
