//! Running the built `credkit` binary in a sandbox: no real credentials, home or gcloud.
// Test helpers: each test binary uses a different subset, and a broken helper should fail loudly.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

use tempfile::TempDir;

/// A temporary home for one test: an empty `HOME`, an empty gcloud configuration folder, an
/// empty `PATH`, and room for credentials files.
pub struct Sandbox {
    dir: TempDir,
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
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "gcloud-config", "bin"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
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
    /// `GOOGLE_APPLICATION_CREDENTIALS`, an empty home and gcloud folder, and a `PATH` with
    /// nothing on it (so no gcloud).
    pub fn credkit<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(env!("CARGO_BIN_EXE_credkit"));
        command
            .args(args)
            .env_clear()
            .env("HOME", self.path("home"))
            .env("CLOUDSDK_CONFIG", self.path("gcloud-config"))
            .env("PATH", self.path("bin"))
            .current_dir(self.dir.path());
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
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

pub const CLIENT_ID: &str = "123-cli-test.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "cli-test-client-secret";
pub const REFRESH_TOKEN: &str = "1//cli-test-refresh-token";

impl Run {
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
