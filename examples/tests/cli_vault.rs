//! `credkit vault`: the built binary operating a vault that the test fills through a `Vault`, in
//! a real redis-server on a free loopback port (skipped in one line without redis-server, unless
//! `CREDKIT_REQUIRE_REDIS=1`): list, count, status, remove (revoking at a loopback fake, whose
//! form is checked), and the errors, with no token on any output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod support;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use credkit_core::{AccessToken, CredentialRecord, Storage};
use credkit_login::OAuthClient;
use credkit_storage_redis::RedisStorage;
use credkit_testing::{FakeApiServer, FakeTokenServer, Reply};
use credkit_vault::{DataKey, Grant, Keyring, SealedCodec, Vault};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use support::{Run, Sandbox, run};
use time::OffsetDateTime;

const CLIENT_SECRET: &str = "vault-test-client-secret";
const ALICE_REFRESH: &str = "1//alice-vault-refresh-token";
const ALICE_ACCESS: &str = "ya29.alice-vault-access-token";
const BOB_REFRESH: &str = "1//bob-vault-refresh-token";
const CAROL_REFRESH: &str = "1//carol-vault-refresh-token";
/// Every secret the test hands the vault: none may be printed.
const SECRETS: &[&str] = &[
    CLIENT_SECRET,
    ALICE_REFRESH,
    ALICE_ACCESS,
    BOB_REFRESH,
    CAROL_REFRESH,
];

/// A redis-server on a free loopback port, killed on drop.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// A server, or `None` (after one skip line) without redis-server, unless
    /// `CREDKIT_REQUIRE_REDIS=1`, where the test fails.
    fn start() -> Option<Self> {
        Self::start_with(&[])
    }

    /// A server with `extra` arguments, where `{port}` is its port: TLS only on it with
    /// `--tls-port {port}`.
    fn start_with(extra: &[&str]) -> Option<Self> {
        if !credkit_testing::program_available(
            "redis-server",
            "CREDKIT_REQUIRE_REDIS",
            "apt-get install redis-server",
        ) {
            return None;
        }
        let port = free_port();
        let extra: Vec<String> = extra
            .iter()
            .map(|arg| arg.replace("{port}", &port.to_string()))
            .collect();
        // TLS only: no plain port at all (left out, it would be the default 6379, which two
        // servers at once cannot both take).
        let plain = if extra.iter().any(|arg| arg == "--tls-port") {
            0
        } else {
            port
        };
        let args = vec!["--port".to_owned(), plain.to_string()];
        let child = Command::new("redis-server")
            .args(&args)
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(&extra)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        // Ready once it accepts a connection (polled with a deadline, never slept on).
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        Some(Self { child, port })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The application's side: a vault on the server's storage (listing on, as the CLI needs),
/// whose token requests go to `token`.
fn app_vault(url: &str, token: &FakeTokenServer) -> Vault {
    let storage = RedisStorage::builder(url).with_listing().build().unwrap();
    let client = OAuthClient::new("vault-test-client", Some(CLIENT_SECRET.to_owned().into()))
        .with_token_uri(token.token_url());
    Vault::builder(client, storage)
        .with_transport(token.endpoint().clone())
        .build()
        .unwrap()
}

/// alice (with an access token, its expiry and scopes), bob and carol, inserted as the
/// application does.
async fn fill(vault: &Vault) {
    let expiry = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    let token = AccessToken::new(ALICE_ACCESS)
        .with_expiry(expiry)
        .with_granted_scopes(["openid", "https://www.googleapis.com/auth/drive.file"]);
    let granted_at = OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap();
    vault
        .insert(
            "alice",
            Grant::new(ALICE_REFRESH.to_owned())
                .with_access_token(token)
                .with_granted_at(granted_at),
        )
        .await
        .unwrap();
    vault
        .insert("bob", Grant::new(BOB_REFRESH.to_owned()))
        .await
        .unwrap();
    vault
        .insert("carol", Grant::new(CAROL_REFRESH.to_owned()))
        .await
        .unwrap();
}

/// `credkit vault <args> --storage <url>`, in a sandbox.
fn vault_command(sandbox: &Sandbox, url: &str, args: &[&str]) -> Command {
    let mut command = sandbox.credkit(["vault"]);
    command.args(args).args(["--storage", url]);
    command
}

/// Runs `credkit vault <args> --storage <url>` and checks that nothing secret was printed.
async fn vault_run(sandbox: &Sandbox, url: &str, args: &[&str]) -> Run {
    let out = run(vault_command(sandbox, url, args)).await;
    out.assert_no_secret(SECRETS);
    out
}

fn lines(out: &Run) -> Vec<&str> {
    assert_eq!(out.code, Some(0), "{out:#?}");
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    lines.sort_unstable();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_count_and_status_read_the_vault_without_a_secret() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let token = FakeTokenServer::start().await.unwrap();
    let url = redis.url();
    fill(&app_vault(&url, &token)).await;
    let sandbox = Sandbox::new();

    let list = vault_run(&sandbox, &url, &["list"]).await;
    assert_eq!(lines(&list), ["alice", "bob", "carol"], "{list:#?}");
    assert_eq!(list.stderr, "");
    let limited = vault_run(&sandbox, &url, &["list", "--limit", "2"]).await;
    assert_eq!(lines(&limited).len(), 2, "{limited:#?}");

    let json = vault_run(&sandbox, &url, &["list", "--json"]).await;
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    let mut users: Vec<&str> = json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    users.sort_unstable();
    assert_eq!(users, ["alice", "bob", "carol"]);
    assert_eq!(json["more"], false);
    let cut = vault_run(&sandbox, &url, &["list", "--json", "--limit", "2"]).await;
    let cut: Value = serde_json::from_str(&cut.stdout).unwrap();
    assert_eq!(cut["users"].as_array().unwrap().len(), 2);
    assert_eq!(cut["more"], true);
    let exact = vault_run(&sandbox, &url, &["list", "--json", "--limit", "3"]).await;
    let exact: Value = serde_json::from_str(&exact.stdout).unwrap();
    assert_eq!(exact["more"], false, "{exact}");

    let count = vault_run(&sandbox, &url, &["count"]).await;
    assert_eq!((count.code, count.stdout.as_str()), (Some(0), "3\n"));

    let status = vault_run(&sandbox, &url, &["status", "alice"]).await;
    assert_eq!(status.code, Some(0), "{status:#?}");
    for line in [
        "user: alice",
        "stored: yes",
        "refresh token: yes",
        "granted at: 2026-05-28T20:26:40Z",
        "consent needed: no",
        "token state: fresh",
        "granted scopes: openid https://www.googleapis.com/auth/drive.file",
    ] {
        assert!(
            status.stdout.lines().any(|l| l == line),
            "{line}: {status:#?}"
        );
    }
    assert!(status.stdout.contains("token expiry: 20"), "{status:#?}");

    let json = vault_run(&sandbox, &url, &["status", "alice", "--json"]).await;
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["user"], "alice");
    assert_eq!(json["stored"], true);
    assert_eq!(json["has_refresh_token"], true);
    assert_eq!(json["granted_at"], "2026-05-28T20:26:40Z");
    assert_eq!(json["consent_needed_at"], Value::Null);
    assert_eq!(json["token_state"], "fresh");
    assert_eq!(
        json["granted_scopes"],
        json!(["openid", "https://www.googleapis.com/auth/drive.file"])
    );
    assert!(json["token_expiry"].as_str().unwrap().ends_with('Z'));

    // bob has no access token stored.
    let bob = vault_run(&sandbox, &url, &["status", "bob", "--json"]).await;
    let bob: Value = serde_json::from_str(&bob.stdout).unwrap();
    assert_eq!(bob["token_state"], Value::Null);
    assert_eq!(bob["token_expiry"], Value::Null);
    assert_eq!(bob["granted_scopes"], Value::Null);

    // An unknown user: one error line, exit 1.
    let unknown = vault_run(&sandbox, &url, &["status", "mallory"]).await;
    let message = unknown.assert_error();
    assert!(
        message.starts_with("no grant is stored for user \"mallory\""),
        "{message}"
    );
    // A user ID the vault refuses.
    let empty = vault_run(&sandbox, &url, &["status", ""]).await;
    assert!(empty.assert_error().contains("the user ID is not valid"));

    // Another key prefix is another vault: empty.
    let other = vault_run(&sandbox, &url, &["count", "--prefix", "other:"]).await;
    assert_eq!(other.stdout, "0\n", "{other:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_a_user_whose_consent_is_needed() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let token = FakeTokenServer::start().await.unwrap();
    token.push_reply(Reply::oauth_error(
        400,
        "invalid_grant",
        Some("Token has been expired or revoked."),
    ));
    let url = redis.url();
    let vault = app_vault(&url, &token);
    vault
        .insert("dave", Grant::new(BOB_REFRESH.to_owned()))
        .await
        .unwrap();
    // The application's refresh is refused: the vault marks the record.
    vault.headers("dave").await.unwrap_err();

    let sandbox = Sandbox::new();
    let json = vault_run(&sandbox, &url, &["status", "dave", "--json"]).await;
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(json["consent_needed_at"].as_str().unwrap().ends_with('Z'));
    let text = vault_run(&sandbox, &url, &["status", "dave"]).await;
    assert!(
        text.stdout.contains("consent needed: yes, since 20"),
        "{text:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_listed_and_counted() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    // More users than a page holds, stored as a vault stores them.
    let storage = RedisStorage::builder(&url).with_listing().build().unwrap();
    let record = CredentialRecord::new().with_refresh_token(ALICE_REFRESH.to_owned().into());
    for n in 0..1003 {
        storage
            .store(&format!("vault:user-{n:04}"), &record)
            .await
            .unwrap();
    }
    let sandbox = Sandbox::new();
    let count = vault_run(&sandbox, &url, &["count"]).await;
    assert_eq!(count.stdout, "1003\n", "{count:#?}");
    let list = vault_run(&sandbox, &url, &["list"]).await;
    let users = lines(&list);
    assert_eq!(users.len(), 1003);
    assert_eq!(users[0], "user-0000");
    assert_eq!(users[1002], "user-1002");
    let limited = vault_run(&sandbox, &url, &["list", "--limit", "1001"]).await;
    assert_eq!(lines(&limited).len(), 1001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_revokes_then_deletes() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let token = FakeTokenServer::start().await.unwrap();
    let url = redis.url();
    let vault = app_vault(&url, &token);
    fill(&vault).await;
    let revocation = FakeApiServer::start().await.unwrap();
    let revoke_uri = format!("{}/revoke", revocation.url());
    let sandbox = Sandbox::new();

    // Revoked: the form RFC 7009 asks for, then the record is gone.
    let out = vault_run(
        &sandbox,
        &url,
        &["remove", "alice", "--revoke-uri", &revoke_uri],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.starts_with("revoked: "), "{out:#?}");
    let request = revocation.last_request().unwrap();
    assert_eq!(request.method(), "POST");
    assert_eq!(request.path(), "/revoke");
    assert_eq!(request.form_value("token"), Some(ALICE_REFRESH));
    assert_eq!(request.form_value("token_type_hint"), Some("refresh_token"));
    assert_eq!(request.form_keys(), ["token", "token_type_hint"]);
    assert!(!vault.status("alice").await.unwrap().stored);

    // A token the server no longer knows: deleted all the same.
    revocation.push_reply(Reply::oauth_error(400, "invalid_token", None));
    let out = vault_run(
        &sandbox,
        &url,
        &["remove", "bob", "--revoke-uri", &revoke_uri],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.starts_with("already invalid: "), "{out:#?}");
    assert!(!vault.status("bob").await.unwrap().stored);

    // Nothing stored: said, exit 0, no request.
    let before = revocation.request_count();
    let out = vault_run(
        &sandbox,
        &url,
        &["remove", "alice", "--revoke-uri", &revoke_uri],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.starts_with("not stored: "), "{out:#?}");
    assert_eq!(revocation.request_count(), before);

    // The revocation endpoint out of reach: exit 1, the record kept.
    let closed = format!("http://127.0.0.1:{}/revoke", free_port());
    let out = vault_run(
        &sandbox,
        &url,
        &["remove", "carol", "--revoke-uri", &closed],
    )
    .await;
    let message = out.assert_error();
    assert!(message.contains("its record is kept"), "{message}");
    assert!(vault.status("carol").await.unwrap().stored);

    // The endpoint refusing (a 500): the same.
    revocation.push_reply(Reply::json(500, json!({"error": "internal"})));
    let out = vault_run(
        &sandbox,
        &url,
        &["remove", "carol", "--revoke-uri", &revoke_uri],
    )
    .await;
    out.assert_error();
    assert!(vault.status("carol").await.unwrap().stored);

    // With the application's client_secret.json (named through the environment).
    let secrets = sandbox.write(
        "client_secret.json",
        &json!({"installed": {"client_id": "vault-test-client", "client_secret": CLIENT_SECRET}})
            .to_string(),
    );
    let mut command = vault_command(
        &sandbox,
        &url,
        &["remove", "carol", "--revoke-uri", &revoke_uri],
    );
    command.env("CREDKIT_CLIENT_SECRETS", &secrets);
    let out = run(command).await;
    out.assert_no_secret(SECRETS);
    assert!(out.stdout.starts_with("revoked: "), "{out:#?}");
    assert_eq!(
        revocation.last_request().unwrap().form_value("token"),
        Some(CAROL_REFRESH)
    );
    let count = vault_run(&sandbox, &url, &["count"]).await;
    assert_eq!(count.stdout, "0\n");
}

/// A private CA and a certificate for 127.0.0.1 it signed, as PEM files in `dir`; the CA's
/// PEM.
fn private_ca(dir: &std::path::Path) -> String {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "credkit vault test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    // A client certificate the CA signed, for a server that asks for one.
    let client_key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "credkit vault operator");
    let client = client.signed_by(&client_key, &issuer).unwrap();
    std::fs::write(dir.join("client.pem"), client.pem()).unwrap();
    std::fs::write(dir.join("client.key"), client_key.serialize_pem()).unwrap();
    ca.pem()
}

/// A TLS-only redis-server with a certificate of [`private_ca`]'s (made in `dir`), asking
/// clients for a certificate when `auth_clients` is `yes`; with the CA's PEM.
fn tls_redis(dir: &std::path::Path, auth_clients: &str) -> Option<(RedisServer, String)> {
    std::fs::create_dir(dir).unwrap();
    let ca = private_ca(dir);
    let file = |name: &str| dir.join(name).display().to_string();
    let redis = RedisServer::start_with(&[
        "--tls-port",
        "{port}",
        "--tls-cert-file",
        &file("server.pem"),
        "--tls-key-file",
        &file("server.key"),
        "--tls-ca-cert-file",
        &file("ca.pem"),
        "--tls-auth-clients",
        auth_clients,
    ])?;
    Some((redis, ca))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_a_private_ca() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("pki");
    let Some((redis, ca)) = tls_redis(&dir, "no") else {
        return;
    };
    let url = format!("rediss://127.0.0.1:{}/0", redis.port);
    let file = |name: &str| dir.join(name).display().to_string();
    let storage = RedisStorage::builder(&url)
        .with_listing()
        .with_tls_root_certificates(ca)
        .build()
        .unwrap();
    let token = FakeTokenServer::start().await.unwrap();
    let client = OAuthClient::new("vault-test-client", Some(CLIENT_SECRET.to_owned().into()));
    let vault = Vault::builder(client, storage)
        .with_transport(token.endpoint().clone())
        .build()
        .unwrap();
    fill(&vault).await;

    let count = vault_run(
        &sandbox,
        &url,
        &["count", "--redis-ca-file", &file("ca.pem")],
    )
    .await;
    assert_eq!(
        (count.code, count.stdout.as_str()),
        (Some(0), "3\n"),
        "{count:#?}"
    );
    // Without the CA the server is not trusted: one line.
    let untrusted = vault_run(&sandbox, &url, &["count"]).await;
    let message = untrusted.assert_error();
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(
        message.ends_with("give that CA with --redis-ca-file FILE"),
        "{message}"
    );
    let missing = vault_run(
        &sandbox,
        &url,
        &["count", "--redis-ca-file", &file("none.pem")],
    )
    .await;
    assert!(
        missing
            .assert_error()
            .contains("could not read --redis-ca-file")
    );
}

/// A server that asks for a client certificate (mutual TLS): `--redis-client-cert` and
/// `--redis-client-key` present one; without them the handshake fails in one line; the two
/// flags go together; the key never appears in any output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_a_client_certificate() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path("pki");
    let Some((redis, ca)) = tls_redis(&dir, "yes") else {
        return;
    };
    let url = format!("rediss://127.0.0.1:{}/0", redis.port);
    let file = |name: &str| dir.join(name).display().to_string();
    let key_pem = std::fs::read_to_string(dir.join("client.key")).unwrap();
    let storage = RedisStorage::builder(&url)
        .with_listing()
        .with_tls_root_certificates(ca)
        .with_tls_client_certificate(
            std::fs::read(dir.join("client.pem")).unwrap(),
            key_pem.clone().into_bytes(),
        )
        .build()
        .unwrap();
    let token = FakeTokenServer::start().await.unwrap();
    let client = OAuthClient::new("vault-test-client", Some(CLIENT_SECRET.to_owned().into()));
    let vault = Vault::builder(client, storage)
        .with_transport(token.endpoint().clone())
        .build()
        .unwrap();
    fill(&vault).await;
    // The key's base64 body, a line of it: what a leak would show.
    let key_line = key_pem.lines().nth(1).unwrap().to_owned();

    let count = |extra: Vec<String>| {
        let mut args = vec![
            "count".to_owned(),
            "--redis-ca-file".to_owned(),
            file("ca.pem"),
        ];
        args.extend(extra);
        let (sandbox, url) = (&sandbox, &url);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            vault_run(sandbox, url, &args).await
        }
    };
    let client = |key: &str| {
        vec![
            "--redis-client-cert".to_owned(),
            file("client.pem"),
            "--redis-client-key".to_owned(),
            file(key),
        ]
    };

    let out = count(client("client.key")).await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (Some(0), "3\n"),
        "{out:#?}"
    );
    out.assert_no_secret(&[&key_line]);
    // Without a client certificate the server closes the handshake: one line.
    count(Vec::new()).await.assert_error();
    // One flag without the other is a usage error.
    let out = count(vec!["--redis-client-cert".to_owned(), file("client.pem")]).await;
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stderr.contains("--redis-client-key"), "{out:#?}");
    // A key that is not there: named, never its contents.
    let out = count(client("none.key")).await;
    assert!(
        out.assert_error()
            .contains("could not read --redis-client-key")
    );
    // A key that is not PEM: refused in one line that does not quote it.
    std::fs::write(
        dir.join("bad.key"),
        "not a key: hunter2-secret-key-material",
    )
    .unwrap();
    let out = count(client("bad.key")).await;
    out.assert_error();
    out.assert_no_secret(&["hunter2-secret-key-material"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_errors_are_one_line() {
    let sandbox = Sandbox::new();
    // Not a storage credkit knows; the password is never repeated.
    let out = vault_run(&sandbox, "mysql://app:hunter2@db/vault", &["count"]).await;
    let message = out.assert_error();
    assert!(message.contains("redis://"), "{message}");
    out.assert_no_secret(&["hunter2"]);

    // A Redis URL the client refuses.
    let out = vault_run(&sandbox, "redis://:hunter2@127.0.0.1:notaport/0", &["list"]).await;
    let message = out.assert_error();
    assert!(message.contains("the Redis URL is not valid"), "{message}");
    out.assert_no_secret(&["hunter2"]);

    // Nothing listens there: the storage is down.
    let down = format!("redis://:hunter2@127.0.0.1:{}/0", free_port());
    for args in [
        &["count"][..],
        &["list"],
        &["status", "alice"],
        &["remove", "alice"],
    ] {
        let out = vault_run(&sandbox, &down, args).await;
        let message = out.assert_error();
        assert!(
            message.starts_with("the vault storage (redis://127.0.0.1:"),
            "{args:?}: {message}"
        );
        out.assert_no_secret(&["hunter2"]);
    }

    // No storage at all.
    let out = run(sandbox.credkit(["vault", "count"])).await;
    let message = out.assert_error();
    assert!(message.contains("CREDKIT_VAULT_STORAGE"), "{message}");

    // The storage from the environment.
    let mut command = sandbox.credkit(["vault", "count"]);
    command.env("CREDKIT_VAULT_STORAGE", &down);
    let out = run(command).await;
    out.assert_error();
    out.assert_no_secret(&["hunter2"]);
}

/// A data key for the test, and its `ID:BASE64` entry.
fn data_key(id: &str) -> (DataKey, String) {
    let key = DataKey::generate(id).unwrap();
    let entry = format!("{id}:{}", key.to_base64().expose_secret());
    (key, entry)
}

/// A vault on `url` whose records pass through `codec` (the application's, or a test's view).
fn sealed_vault(url: &str, token: &FakeTokenServer, codec: Option<SealedCodec>) -> Vault {
    let mut storage = RedisStorage::builder(url).with_listing();
    if let Some(codec) = codec {
        storage = storage.with_codec(codec);
    }
    let client = OAuthClient::new("vault-test-client", Some(CLIENT_SECRET.to_owned().into()))
        .with_token_uri(token.token_url());
    Vault::builder(client, storage.build().unwrap())
        .with_transport(token.endpoint().clone())
        .build()
        .unwrap()
}

/// `credkit vault <args>` with `CREDKIT_VAULT_KEYS=keys`; no key, token or secret printed.
async fn with_keys(sandbox: &Sandbox, url: &str, keys: &str, args: &[&str]) -> Run {
    let mut command = vault_command(sandbox, url, args);
    command.env("CREDKIT_VAULT_KEYS", keys);
    let out = run(command).await;
    out.assert_no_secret(SECRETS);
    for entry in keys.split(',') {
        out.assert_no_secret(&[entry.split_once(':').unwrap().1]);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reseal_moves_every_record_to_the_current_key() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let token = FakeTokenServer::start().await.unwrap();
    let url = redis.url();
    let (old, old_entry) = data_key("2026-01");
    let (new, new_entry) = data_key("2026-02");
    let (_lost, lost_entry) = data_key("lost");
    // The application seals with the old key.
    fill(&sealed_vault(
        &url,
        &token,
        Some(SealedCodec::new(Keyring::new(old.clone()))),
    ))
    .await;
    // One record sealed with a key nobody has any more.
    let lost = Keyring::parse(&lost_entry).unwrap();
    sealed_vault(&url, &token, Some(SealedCodec::new(lost)))
        .insert("erin", Grant::new(BOB_REFRESH.to_owned()))
        .await
        .unwrap();
    let sandbox = Sandbox::new();
    let rotated = format!("{new_entry},{old_entry}");

    // Status and list read sealed records with the keys.
    let status = with_keys(&sandbox, &url, &rotated, &["status", "alice", "--json"]).await;
    assert_eq!(status.code, Some(0), "{status:#?}");
    let count = with_keys(&sandbox, &url, &old_entry, &["count"]).await;
    assert_eq!(count.stdout, "4\n", "{count:#?}");

    // Without keys: users are listed and counted (no record is read), a record is not read.
    let count = vault_run(&sandbox, &url, &["count"]).await;
    assert_eq!(count.stdout, "4\n", "{count:#?}");
    let keyless = vault_run(&sandbox, &url, &["status", "alice"]).await;
    let message = keyless.assert_error();
    assert!(
        message.ends_with(
            "the record is sealed (with the data key \"2026-01\"): set CREDKIT_VAULT_KEYS to the application's keys"
        ),
        "{message}"
    );

    // One user first.
    let one = with_keys(&sandbox, &url, &rotated, &["reseal", "alice"]).await;
    assert_eq!(one.code, Some(0), "{one:#?}");
    assert!(one.stdout.contains("resealed: 1\n"), "{one:#?}");

    // Then all: the others resealed, alice already current, erin failed (named, with why).
    let all = with_keys(&sandbox, &url, &rotated, &["reseal", "--all"]).await;
    assert_eq!(all.code, Some(1), "{all:#?}");
    assert!(all.stdout.starts_with("current key: 2026-02\n"), "{all:#?}");
    for line in ["resealed: 2", "already current: 1", "failed: 1"] {
        assert!(all.stdout.lines().any(|l| l == line), "{line}: {all:#?}");
    }
    assert!(
        all.stdout.contains(
            "  erin: sealed with the data key \"lost\", which CREDKIT_VAULT_KEYS does not hold"
        ),
        "{all:#?}"
    );
    assert_eq!(all.stderr.lines().count(), 1, "{all:#?}");
    assert!(
        all.stderr
            .starts_with("error: 1 record(s) could not be resealed")
    );

    // The status of a record no key opens says why.
    let lost_status = with_keys(&sandbox, &url, &rotated, &["status", "erin"]).await;
    let message = lost_status.assert_error();
    assert!(
        message.ends_with("the record is sealed with the data key \"lost\", which CREDKIT_VAULT_KEYS does not hold: add it after the current key"),
        "{message}"
    );

    // The records now open with the new key alone.
    let new_only = sealed_vault(
        &url,
        &token,
        Some(SealedCodec::new(Keyring::new(new.clone()))),
    );
    for user in ["alice", "bob", "carol"] {
        let status = new_only.status(user).await.unwrap();
        assert!(status.stored && status.has_refresh_token, "{user}");
    }
    assert_eq!(
        new_only.status("alice").await.unwrap().token_state,
        Some(credkit_core::TokenState::Fresh)
    );
    let new_key_only = with_keys(&sandbox, &url, &new_entry, &["status", "carol"]).await;
    assert_eq!(new_key_only.code, Some(0), "{new_key_only:#?}");

    // Run again: nothing left to do but the lost record; once it is removed, a clean run.
    let again = with_keys(
        &sandbox,
        &url,
        &rotated,
        &["reseal", "--all", "--jobs", "1"],
    )
    .await;
    assert!(again.stdout.contains("resealed: 0\n"), "{again:#?}");
    assert!(again.stdout.contains("already current: 3\n"), "{again:#?}");
    new_only.forget("erin");
    let storage = RedisStorage::builder(&url).with_listing().build().unwrap();
    storage.remove("vault:erin").await.unwrap();
    let clean = with_keys(&sandbox, &url, &new_entry, &["reseal", "--all"]).await;
    assert_eq!(clean.code, Some(0), "{clean:#?}");
    assert_eq!(
        clean.stdout,
        "current key: 2026-02\nresealed: 0\nalready current: 3\nfailed: 0\n"
    );

    // A user with nothing stored.
    let unknown = with_keys(&sandbox, &url, &rotated, &["reseal", "mallory"]).await;
    assert!(
        unknown
            .assert_error()
            .starts_with("no grant is stored for user")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reseal_from_plain_turns_encryption_on() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let token = FakeTokenServer::start().await.unwrap();
    let url = redis.url();
    fill(&sealed_vault(&url, &token, None)).await;
    let (key, entry) = data_key("first");
    let sandbox = Sandbox::new();

    // Without --from-plain a plain record is a failure, as it is to a sealing application.
    let refused = with_keys(&sandbox, &url, &entry, &["reseal", "--all"]).await;
    assert_eq!(refused.code, Some(1), "{refused:#?}");
    assert!(refused.stdout.contains("failed: 3\n"), "{refused:#?}");
    assert!(
        refused
            .stdout
            .contains("  bob: stored as plain JSON, not sealed: reseal it with --from-plain\n"),
        "{refused:#?}"
    );

    let sealed = with_keys(&sandbox, &url, &entry, &["reseal", "--all", "--from-plain"]).await;
    assert_eq!(sealed.code, Some(0), "{sealed:#?}");
    assert!(sealed.stdout.contains("resealed: 3\n"), "{sealed:#?}");
    let app = sealed_vault(&url, &token, Some(SealedCodec::new(Keyring::new(key))));
    assert!(app.status("alice").await.unwrap().has_refresh_token);
    // A plain reader no longer can.
    sealed_vault(&url, &token, None)
        .status("alice")
        .await
        .unwrap_err();
}

#[tokio::test]
async fn the_keys_are_checked() {
    let sandbox = Sandbox::new();
    let url = "redis://127.0.0.1:9/0";
    let out = vault_run(&sandbox, url, &["reseal", "--all"]).await;
    let message = out.assert_error();
    assert!(message.contains("CREDKIT_VAULT_KEYS"), "{message}");
    // Keys that do not parse: the variable named, the value never shown.
    let bad = with_keys(&sandbox, url, "k1:c2VjcmV0LWtleS1ieXRlcw", &["count"]).await;
    let message = bad.assert_error();
    assert!(message.contains("CREDKIT_VAULT_KEYS"), "{message}");
    // --all or one user, not both nor neither: a usage error.
    let both = vault_run(&sandbox, url, &["reseal", "--all", "a"]).await;
    assert_eq!(both.code, Some(2), "{both:#?}");
    let neither = vault_run(&sandbox, url, &["reseal"]).await;
    assert_eq!(neither.code, Some(2), "{neither:#?}");
}

#[tokio::test]
async fn the_help_says_where_the_keys_come_from() {
    let sandbox = Sandbox::new();
    let out = run(sandbox.credkit(["vault", "--help"])).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("CREDKIT_VAULT_KEYS"), "{out:#?}");
    assert!(out.stdout.contains("plain JSON"), "{out:#?}");
    for sub in ["list", "count", "status", "remove", "reseal"] {
        assert!(out.stdout.contains(sub), "{sub}: {out:#?}");
    }
    let remove = run(sandbox.credkit(["vault", "remove", "--help"])).await;
    assert!(!remove.stdout.contains("--revoke-uri"), "{remove:#?}");
}

// ===== Postgres =====

/// credkit-storage-postgres's throwaway cluster.
#[path = "../../storage/postgres/tests/support/mod.rs"]
mod postgres;

use credkit_storage_postgres::PostgresStorage;

/// The application's vault on Postgres.
fn pg_vault(url: &str, token: &FakeTokenServer) -> Vault {
    let storage = PostgresStorage::builder(url)
        .with_table_prefix("app_")
        .build()
        .unwrap();
    let client = OAuthClient::new("vault-test-client", Some(CLIENT_SECRET.to_owned().into()))
        .with_token_uri(token.token_url());
    Vault::builder(client, storage)
        .with_transport(token.endpoint().clone())
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_commands_work_on_postgres() {
    if !postgres::postgres_available() {
        return;
    }
    let server = postgres::PgServer::start();
    // A user with a password: it is never printed.
    let url = server.password_url(postgres::PASSWORD).await;
    let token = FakeTokenServer::start().await.unwrap();
    let vault = pg_vault(&url, &token);
    fill(&vault).await;
    let sandbox = Sandbox::new();
    let pg = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--postgres-table-prefix", "app_"]);
        all.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let pg_run = async |args: &[&str]| {
        let args = pg(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = vault_run(&sandbox, &url, &args).await;
        out.assert_no_secret(&[postgres::PASSWORD]);
        out
    };

    let list = pg_run(&["list"]).await;
    assert_eq!(lines(&list), ["alice", "bob", "carol"], "{list:#?}");
    let count = pg_run(&["count"]).await;
    assert_eq!(count.stdout, "3\n", "{count:#?}");
    let status = pg_run(&["status", "alice", "--json"]).await;
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["token_state"], "fresh");
    assert_eq!(status["granted_at"], "2026-05-28T20:26:40Z");

    let revocation = FakeApiServer::start().await.unwrap();
    let revoke_uri = format!("{}/revoke", revocation.url());
    let removed = pg_run(&["remove", "bob", "--revoke-uri", &revoke_uri]).await;
    assert!(removed.stdout.starts_with("revoked: "), "{removed:#?}");
    assert_eq!(
        revocation.last_request().unwrap().form_value("token"),
        Some(BOB_REFRESH)
    );
    assert!(!vault.status("bob").await.unwrap().stored);
    let count = pg_run(&["count"]).await;
    assert_eq!(count.stdout, "2\n", "{count:#?}");

    // Tables that are not there (another table prefix, the wrong database): the operator's
    // tool says so and creates nothing.
    let other = vault_run(&sandbox, &url, &["count"]).await;
    let message = other.assert_error();
    assert!(message.contains("check the URL"), "{message}");

    // A wrong password, and a server that is gone: one line, no password.
    let wrong = server.password_url("not-the-password").await;
    let out = vault_run(
        &sandbox,
        &wrong,
        &pg(&["count"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .await;
    let message = out.assert_error();
    assert!(
        message.starts_with("the vault storage (postgres://127.0.0.1:"),
        "{message}"
    );
    out.assert_no_secret(&["not-the-password"]);
    drop(server);
    let out = pg_run(&["status", "alice"]).await;
    let message = out.assert_error();
    assert!(
        message.starts_with("the vault storage (postgres://127.0.0.1:"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reseal_works_on_postgres() {
    if !postgres::postgres_available() {
        return;
    }
    let server = postgres::PgServer::start();
    let url = server.url();
    let token = FakeTokenServer::start().await.unwrap();
    let (old, old_entry) = data_key("pg-old");
    let (new, new_entry) = data_key("pg-new");
    let sealed_with = |key: DataKey| {
        let storage = PostgresStorage::builder(&url)
            .with_codec(SealedCodec::new(Keyring::new(key)))
            .build()
            .unwrap();
        Vault::builder(OAuthClient::new("vault-test-client", None), storage)
            .with_transport(token.endpoint().clone())
            .build()
            .unwrap()
    };
    fill(&sealed_with(old)).await;
    let sandbox = Sandbox::new();
    let rotated = format!("{new_entry},{old_entry}");
    let out = with_keys(&sandbox, &url, &rotated, &["reseal", "--all"]).await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("resealed: 3\n"), "{out:#?}");
    let new_only = sealed_with(new);
    for user in ["alice", "bob", "carol"] {
        assert!(
            new_only.status(user).await.unwrap().has_refresh_token,
            "{user}"
        );
    }
    let again = with_keys(&sandbox, &url, &new_entry, &["reseal", "--all"]).await;
    assert!(again.stdout.contains("already current: 3\n"), "{again:#?}");
}
