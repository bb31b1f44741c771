//! `credkit token|header|info --enable-reauth` against the loopback token server and the fake
//! reauth API.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use credkit_testing::{FakeChallenge, FakeReauthServer, FakeTokenServer, ReauthReply, Reply};
use serde_json::json;
use support::{Sandbox, run_with_stdin};

fn invalid_rapt() -> Reply {
    Reply::json(
        400,
        json!({"error": "invalid_grant", "error_subtype": "invalid_rapt"}),
    )
}

fn reauth_command(
    sandbox: &Sandbox,
    subcommand: &str,
    tokens: &FakeTokenServer,
    reauth: &FakeReauthServer,
    extra: &[&str],
) -> Command {
    let file = sandbox.credentials_file(&json!({"rapt_token": "old_rapt"}));
    let mut args = vec![
        subcommand.to_owned(),
        "--credentials".to_owned(),
        file.display().to_string(),
        "--token-uri".to_owned(),
        tokens.token_url(),
        "--enable-reauth".to_owned(),
        "--reauth-uri".to_owned(),
        reauth.url(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    sandbox.credkit(args)
}

#[tokio::test]
async fn token_reauthenticates_with_the_password_from_stdin() {
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    let reauth = FakeReauthServer::start().await.unwrap();
    tokens.push_replies([
        invalid_rapt(),
        Reply::token("ya29.reauth-scoped"),
        Reply::token("ya29.after-reauth"),
    ]);
    // Two password challenges: the one line answers both.
    reauth.push_replies([
        ReauthReply::challenge_required("s1", [FakeChallenge::password(1)]),
        ReauthReply::challenge_pending("s1", [FakeChallenge::password(2)]),
        ReauthReply::authenticated("new_rapt_token"),
    ]);
    let command = reauth_command(&sandbox, "token", &tokens, &reauth, &["--password-stdin"]);
    let run = run_with_stdin(command, "hunter2\n").await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert_eq!(run.stdout, "ya29.after-reauth\n");
    run.assert_no_secret(&["hunter2", "new_rapt_token", "ya29.reauth-scoped"]);

    let seen = tokens.requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].form_value("rapt"), Some("old_rapt"));
    assert_eq!(
        seen[1].form_value("scope"),
        Some("https://www.googleapis.com/auth/accounts.reauth")
    );
    assert_eq!(seen[2].form_value("rapt"), Some("new_rapt_token"));
    assert_eq!(
        reauth.paths(),
        [
            "/v2/sessions:start",
            "/v2/sessions/s1:continue",
            "/v2/sessions/s1:continue"
        ]
    );
    let bodies = reauth.json_bodies();
    assert_eq!(bodies[1]["proposalResponse"]["credential"], "hunter2");
    assert_eq!(bodies[2]["proposalResponse"]["credential"], "hunter2");
    assert_eq!(bodies[2]["challengeId"], 2);
}

#[tokio::test]
async fn header_without_a_password_source_is_not_interactive() {
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    let reauth = FakeReauthServer::start().await.unwrap();
    tokens.push_replies([invalid_rapt(), Reply::token("ya29.reauth-scoped")]);
    reauth.push_reply(ReauthReply::challenge_required(
        "s1",
        [FakeChallenge::password(1)],
    ));
    // Standard input is not a terminal and --password-stdin is not given.
    let run = support::run(reauth_command(&sandbox, "header", &tokens, &reauth, &[])).await;
    assert_eq!(
        run.assert_error(),
        "Reauthentication failed. Reauthentication challenge could not be answered because you are not in an interactive session."
    );
    assert_eq!(reauth.request_count(), 1);
}

#[tokio::test]
async fn without_enable_reauth_the_reference_error_and_no_reauth_call() {
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    let reauth = FakeReauthServer::start().await.unwrap();
    tokens.push_reply(invalid_rapt());
    let file = sandbox.credentials_file(&json!({}));
    let command = sandbox.credkit([
        "info",
        "--credentials",
        &file.display().to_string(),
        "--token-uri",
        &tokens.token_url(),
    ]);
    let run = support::run(command).await;
    assert_eq!(
        run.assert_error(),
        "Reauthentication is needed. Please run `gcloud auth application-default login` to reauthenticate."
    );
    assert_eq!(reauth.request_count(), 0);
}

#[tokio::test]
async fn reauth_options_need_enable_reauth_and_a_safe_url() {
    let sandbox = Sandbox::new();
    let file = sandbox.credentials_file(&json!({}));
    let path = file.display().to_string();
    let run =
        support::run(sandbox.credkit(["token", "--credentials", &path, "--password-stdin"])).await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    let run = support::run(sandbox.credkit([
        "token",
        "--credentials",
        &path,
        "--enable-reauth",
        "--reauth-uri",
        "http://user:hunter2@reauth.example.com",
    ]))
    .await;
    let message = run.assert_error();
    assert!(message.contains("reauth URL"), "{message}");
    run.assert_no_secret(&["hunter2"]);
}
