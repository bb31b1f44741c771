//! A token endpoint that echoes the refresh token and the client secret in its error, with line
//! breaks and terminal escapes around them: `credkit` exits 1 with one `error:` line that holds
//! neither secret and no raw control character.

mod support;

use credkit_testing::{FakeTokenServer, Reply};
use serde_json::json;
use support::{CLIENT_SECRET, REFRESH_TOKEN, Sandbox, run};

#[tokio::test]
async fn an_echoed_secret_never_reaches_the_error_line() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    let description = format!(
        "Invalid refresh token: {REFRESH_TOKEN}\r\nerror: forged line\x1b[2K for client secret {CLIENT_SECRET}\u{2028}{}",
        "x".repeat(2000)
    );
    server.push_reply(Reply::json(
        400,
        json!({"error": "invalid_grant", "error_description": description}),
    ));
    let file = sandbox.credentials_file(&json!({}));
    let command = sandbox.credkit([
        "token".to_owned(),
        "--credentials".to_owned(),
        file.display().to_string(),
        "--token-uri".to_owned(),
        server.token_url(),
    ]);

    let out = run(command).await;

    let message = out.assert_error().to_owned();
    out.assert_no_secret(&[REFRESH_TOKEN, CLIENT_SECRET]);
    assert!(
        !out.stderr
            .trim_end_matches('\n')
            .chars()
            .any(char::is_control),
        "{out:#?}"
    );
    assert!(!message.contains('\u{2028}'), "{message}");
    assert!(
        message.starts_with("invalid_grant: Invalid refresh token: [REDACTED]"),
        "{message}"
    );
    assert!(message.ends_with("…[truncated]"), "{message}");
    assert_eq!(server.request_count(), 1);
}
