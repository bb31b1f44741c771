//! `credkit login` as a user meets it: a running process whose standard error says where to
//! sign in, and a browser (a plain HTTP client that follows no redirect) that goes there.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use super::Run;

/// How long a step may take before the test fails (a guard, never a wait).
const DEADLINE: Duration = Duration::from_secs(60);

/// A running `credkit login`, read line by line on standard error.
pub struct LoginProcess {
    child: Child,
    stderr: Option<BufReader<ChildStderr>>,
    /// Everything read from standard error so far.
    seen: String,
}

impl LoginProcess {
    /// Starts `command` with no standard input and both outputs piped.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().map(BufReader::new);
        Self {
            child,
            stderr,
            seen: String::new(),
        }
    }

    /// Reads standard error up to the first line that `wanted` picks, and returns that line.
    /// A process that ends first fails the test with everything it printed.
    pub async fn line(&mut self, wanted: fn(&str) -> bool) -> String {
        let mut reader = self.stderr.take().unwrap();
        let read = tokio::task::spawn_blocking(move || {
            let mut lines = String::new();
            loop {
                let mut line = String::new();
                let n = reader.read_line(&mut line).unwrap();
                lines.push_str(&line);
                if n == 0 || wanted(line.trim_end()) {
                    return (lines, line, reader);
                }
            }
        });
        let Ok(read) = tokio::time::timeout(DEADLINE, read).await else {
            let _ = self.child.kill();
            panic!(
                "no such line within {DEADLINE:?}; read so far: {:?}",
                self.seen
            );
        };
        let (lines, line, reader) = read.unwrap();
        self.seen.push_str(&lines);
        self.stderr = Some(reader);
        assert!(!line.is_empty(), "the process ended first: {:?}", self.seen);
        line.trim_end().to_owned()
    }

    /// The authorization URL, printed indented on a line of its own.
    pub async fn authorization_url(&mut self) -> String {
        let line = self
            .line(|line| line.starts_with("    http://") || line.starts_with("    https://"))
            .await;
        line.trim_start().to_owned()
    }

    /// Waits for the exit; what it printed in all.
    pub async fn finish(mut self) -> Run {
        let mut reader = self.stderr.take().unwrap();
        let mut stdout = self.child.stdout.take().unwrap();
        let mut child = self.child;
        let seen = self.seen;
        let done = tokio::task::spawn_blocking(move || {
            let mut stderr = seen;
            reader.read_to_string(&mut stderr).unwrap();
            let mut out = String::new();
            stdout.read_to_string(&mut out).unwrap();
            let status = child.wait().unwrap();
            Run {
                code: status.code(),
                stdout: out,
                stderr,
            }
        });
        tokio::time::timeout(DEADLINE, done)
            .await
            .unwrap_or_else(|_| panic!("the login did not end within {DEADLINE:?}"))
            .unwrap()
    }
}

/// A browser that follows no redirect and uses no proxy.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What one `GET` answered.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

/// `GET url`.
pub async fn get(url: &str) -> Page {
    let response = browser().get(url).send().await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|value| value.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap();
    Page {
        status,
        location,
        body,
    }
}

/// The member `name` of `url`'s query.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The browser's round trip: the authorization URL, whose `302` must go to the login's own
/// loopback redirect URI (the one the URL names), then that redirect, whose page is returned.
pub async fn sign_in(url: &str) -> Page {
    let redirect_uri = query_param(url, "redirect_uri").unwrap();
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:"),
        "{redirect_uri}"
    );
    let consent = get(url).await;
    assert_eq!(consent.status, StatusCode::FOUND, "{consent:?}");
    let location = consent.location.unwrap();
    assert!(
        location.starts_with(&format!("{redirect_uri}?")),
        "{location} is not {redirect_uri}"
    );
    get(&location).await
}

/// The entries of `dir`, by name, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Asserts a failed login: exit 1, nothing on standard output, and one `error:` line, the last;
/// returns its message.
pub fn assert_login_error(run: &Run) -> String {
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(run.stdout, "", "{run:#?}");
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{run:#?}");
    assert_eq!(
        run.stderr.lines().last(),
        errors.first().copied(),
        "{run:#?}"
    );
    errors[0].trim_start_matches("error: ").to_owned()
}

/// The mode bits of `path`.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A `$BROWSER` program that writes its argument, and a newline, to `opened.txt` beside it.
#[cfg(unix)]
pub fn recording_browser(dir: &Path) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let script = dir.join("record-browser.sh");
    let record = dir.join("opened.txt");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" > '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, record)
}
