//! Running the built `credkit` binary in a sandbox: no real credentials, home or gcloud, and
//! the metadata server's address on a closed loopback port (credkit-testing's `AdcEnv`).
// Test helpers: each test binary uses a different subset, and a broken helper should fail loudly.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use credkit_testing::{AdcEnv, FakeIamServer, FakeTokenServer, JwtBearerCheck, Reply, TestKey};
use serde_json::json;

/// `credkit login`'s process and the browser a test plays.
pub mod login;

/// A temporary home for one test: an empty `HOME`, an empty gcloud configuration folder, an
/// empty `PATH`, the metadata server on a closed loopback port, and room for credentials
/// files.
pub struct Sandbox {
    env: AdcEnv,
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Sandbox {
    pub fn new() -> Self {
        Self { env: AdcEnv::new() }
    }

    /// The sandbox with the fake gcloud's folder as its `PATH` (and the utilities its script
    /// needs; no system folder, so never a real gcloud).
    #[cfg(unix)]
    pub fn with_gcloud(self, gcloud: &credkit_testing::FakeGcloud) -> Self {
        let env = self.env.with_gcloud_dir(gcloud.dir());
        assert!(!env.has_real_gcloud(gcloud.dir()));
        Self { env }
    }

    /// The sandbox with `change` made to its environment.
    pub fn with_env(self, change: impl FnOnce(AdcEnv) -> AdcEnv) -> Self {
        Self {
            env: change(self.env),
        }
    }

    /// `credkit <args> --credentials <an authorized_user file> --token-uri <a closed loopback
    /// port> --no-cache --no-retry`: every refresh fails at once, unreachable.
    pub fn credkit_unreachable(&self, args: &[&str]) -> Command {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/token", closed.local_addr().unwrap());
        drop(closed);
        let file = self.credentials_file(&json!({}));
        let mut command = self.credkit(args);
        command.arg("--credentials").arg(file).args([
            "--token-uri",
            &url,
            "--no-cache",
            "--no-retry",
        ]);
        command
    }

    /// The isolated environment.
    pub fn env(&self) -> &AdcEnv {
        &self.env
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.env.dir().join(name)
    }

    /// Writes `json` to a file named `name` and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// An `authorized_user` file with the secrets of [`CLIENT_SECRET`] and [`REFRESH_TOKEN`],
    /// plus `extra` fields.
    pub fn credentials_file(&self, extra: &serde_json::Value) -> PathBuf {
        let mut info = serde_json::json!({
            "type": "authorized_user",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
        });
        if let (Some(info), Some(extra)) = (info.as_object_mut(), extra.as_object()) {
            info.extend(extra.clone());
        }
        self.write("authorized_user.json", &info.to_string())
    }

    /// The binary with `args`, in an environment of nothing but the sandbox: no
    /// `GOOGLE_APPLICATION_CREDENTIALS`, an empty home and gcloud folder, a `PATH` with
    /// nothing on it (so no gcloud) unless [`with_gcloud`](Self::with_gcloud), and the
    /// metadata server's address on a closed loopback port.
    pub fn credkit<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = self.env.command(env!("CARGO_BIN_EXE_credkit"));
        command.args(args);
        command
    }
}

/// Runs `command` to completion off the async runtime, so a `FakeTokenServer` on the test's
/// runtime keeps answering it.
pub async fn run(mut command: Command) -> Run {
    let output: Output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    Run::of(output)
}

/// Runs `command` with `input` on its standard input, off the async runtime.
pub async fn run_with_stdin(mut command: Command, input: impl Into<String>) -> Run {
    let input = input.into();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    Run::of(output)
}

/// A new service-account key for `email`, whose JWT-bearer grants `server` then accepts,
/// written to `key.json` in a new sandbox whose Application Default Credentials it is (a key's
/// `token_uri` is honored, unlike an `authorized_user` file's). Returns the sandbox, the key
/// and the file.
pub fn service_account_sandbox(
    server: &FakeTokenServer,
    email: &str,
) -> (Sandbox, TestKey, PathBuf) {
    let key = TestKey::generate().unwrap();
    server.accept_jwt_bearer(JwtBearerCheck::new(&key, email));
    let sandbox = Sandbox::new();
    let file = sandbox.write(
        "key.json",
        &key.service_account_json(email, &server.token_url()),
    );
    let adc = file.display().to_string();
    let sandbox = sandbox.with_env(|env| env.with_var("GOOGLE_APPLICATION_CREDENTIALS", adc));
    (sandbox, key, file)
}

pub const CLIENT_ID: &str = "123-cli-test.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "cli-test-client-secret";
pub const REFRESH_TOKEN: &str = "1//cli-test-refresh-token";

impl Run {
    /// What the finished process `output` did.
    pub fn of(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    /// Asserts that none of `secrets` appears on either stream.
    pub fn assert_no_secret(&self, secrets: &[&str]) {
        for secret in secrets {
            assert!(
                !self.stdout.contains(secret) && !self.stderr.contains(secret),
                "{secret} was printed: {self:#?}"
            );
        }
    }

    /// Asserts exit status 1 with exactly one line, `error: <message>`, on standard error and
    /// nothing on standard output; returns the message.
    pub fn assert_error(&self) -> &str {
        assert_eq!(self.code, Some(1), "{self:#?}");
        assert_eq!(self.stdout, "", "{self:#?}");
        assert_eq!(self.stderr.lines().count(), 1, "{self:#?}");
        assert!(self.stderr.ends_with('\n'), "{self:#?}");
        let message = self.stderr.trim_end_matches('\n');
        message
            .strip_prefix("error: ")
            .unwrap_or_else(|| panic!("not an error line: {message:?}"))
    }
}

/// A user's credentials file whose refresh gives `ya29.source`, and an IAM fake accepting it.
pub struct Impersonation {
    pub sandbox: Sandbox,
    pub server: FakeTokenServer,
    pub iam: FakeIamServer,
    pub file: String,
}

impl Impersonation {
    pub async fn start() -> Self {
        let server = FakeTokenServer::start().await.unwrap();
        server.push_reply(Reply::token("ya29.source"));
        let iam = FakeIamServer::builder()
            .with_accepted_bearer("ya29.source")
            .start()
            .await
            .unwrap();
        let url = iam.url();
        let sandbox = Sandbox::new().with_env(|env| {
            env.with_var(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS",
                format!("{url}/"),
            )
        });
        let file = sandbox.credentials_file(&json!({})).display().to_string();
        Self {
            sandbox,
            server,
            iam,
            file,
        }
    }

    /// `credkit <command> --credentials <file> --token-uri <server>
    /// --impersonate-service-account <chain> <extra...>`.
    pub fn credkit(&self, command: &str, chain: &str, extra: &[&str]) -> Command {
        let mut args = vec![
            command.to_owned(),
            "--credentials".to_owned(),
            self.file.clone(),
            "--token-uri".to_owned(),
            self.server.token_url(),
            "--impersonate-service-account".to_owned(),
            chain.to_owned(),
        ];
        args.extend(extra.iter().map(|&a| a.to_owned()));
        self.sandbox.credkit(args)
    }
}
