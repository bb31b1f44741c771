//! A real browser for the sign-in's tests: headless Chromium driven through chromedriver
//! (`WebDriver`) by fantoccini. chromedriver listens on a free loopback port, Chromium runs with a
//! fresh profile and without any of its background traffic, so nothing leaves loopback.
//!
//! Without Debian's `chromium` and `chromium-driver` installed, [`Browser::start`] prints a loud
//! `SKIPPED` line and returns `None`, unless `CREDKIT_REQUIRE_CHROMIUM=1` (CI sets it), where it
//! fails.
// Test helpers: a broken helper should fail loudly.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::fmt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;

/// How long chromedriver may take to answer that it is ready, a page to load, or an element to
/// appear: failure guards only (each is a few hundred milliseconds when things work).
const DEADLINE: Duration = Duration::from_secs(60);

/// The first bytes of every PNG file.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Chromium's flags: headless, as root in a container (no sandbox, no GPU, no /dev/shm), and
/// none of its own traffic (updates, sync, translation, field trials, QUIC probes), which
/// would try to leave loopback. The profile folder is added per run.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--no-proxy-server",
    "--window-size=1024,768",
];

/// Headless Chromium under a chromedriver of its own. [`close`](Self::close) ends the session
/// (Chromium exits) and then chromedriver; dropping it without `close` (a failing test) kills
/// chromedriver's process group, Chromium with it.
pub struct Browser {
    client: Option<Client>,
    driver: Child,
    profile: TempDir,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser")
            .field("chromedriver", &self.driver.id())
            .field("profile", &self.profile.path())
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// chromedriver on a free loopback port, ready, with a Chromium session open. `None`, after
    /// a loud `SKIPPED` line, when chromium or chromedriver is not installed, unless
    /// `CREDKIT_REQUIRE_CHROMIUM=1`, where that fails the test.
    pub async fn start() -> Option<Self> {
        let install = "apt-get install chromium chromium-driver";
        if !credkit_testing::program_available("chromium", "CREDKIT_REQUIRE_CHROMIUM", install)
            || !credkit_testing::program_available(
                "chromedriver",
                "CREDKIT_REQUIRE_CHROMIUM",
                install,
            )
        {
            return None;
        }
        let (Some(chromium), Some(chromedriver)) = (on_path("chromium"), on_path("chromedriver"))
        else {
            panic!("chromium and chromedriver run but are not on PATH");
        };
        let profile = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = profile.path().join("chromedriver.log");
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that Chromium (which stays in it) can be killed with it.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .spawn()
            .unwrap_or_else(|err| panic!("could not start {}: {err}", chromedriver.display()));
        let mut browser = Self {
            client: None,
            driver,
            profile,
        };
        let url = format!("http://127.0.0.1:{port}");
        browser.wait_until_ready(&url).await;
        let user_data_dir = browser.profile.path().join("chromium");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|&arg| arg.to_owned()).collect();
        args.push(format!("--user-data-dir={}", user_data_dir.display()));
        let Value::Object(capabilities) = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
            "timeouts": { "pageLoad": DEADLINE.as_millis(), "script": DEADLINE.as_millis() },
        }) else {
            unreachable!("a JSON object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .unwrap_or_else(|err| {
                panic!(
                    "chromedriver could not start Chromium ({}): {err}\n{}",
                    chromium.display(),
                    browser.log()
                )
            });
        browser.client = Some(client);
        Some(browser)
    }

    /// Polls chromedriver's `GET /status` until it says `"ready": true` (a real condition; the
    /// deadline and chromedriver's exit are the failure guards).
    async fn wait_until_ready(&mut self, url: &str) {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let status = format!("{url}/status");
        let started = Instant::now();
        loop {
            if let Ok(answer) = http.get(&status).send().await
                && let Ok(body) = answer.text().await
                && let Ok(body) = serde_json::from_str::<Value>(&body)
                && body["value"]["ready"] == true
            {
                return;
            }
            if let Some(exit) = self.driver.try_wait().unwrap() {
                panic!(
                    "chromedriver exited ({exit}) before it was ready\n{}",
                    self.log()
                );
            }
            assert!(
                started.elapsed() < DEADLINE,
                "chromedriver was not ready within {DEADLINE:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// chromedriver's log, for failure messages.
    fn log(&self) -> String {
        let path = self.profile.path().join("chromedriver.log");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        format!("{}:\n{text}", path.display())
    }

    /// The `WebDriver` session.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// Navigates to `url` and waits for the page to load (following redirects).
    pub async fn open(&self, url: &str) {
        self.client()
            .goto(url)
            .await
            .unwrap_or_else(|err| panic!("Chromium could not open {url}: {err}"));
    }

    /// The URL the browser shows.
    pub async fn current_url(&self) -> url::Url {
        self.client().current_url().await.unwrap()
    }

    /// Waits for the element whose `id` is `id` (the deadline is the failure guard).
    pub async fn wait_for_id(&self, id: &str) -> Element {
        self.client()
            .wait()
            .at_most(DEADLINE)
            .for_element(Locator::Id(id))
            .await
            .unwrap_or_else(|err| panic!("no element #{id} within {DEADLINE:?}: {err}"))
    }

    /// The rendered text of the element whose `id` is `id`, once it is there.
    pub async fn text_of(&self, id: &str) -> String {
        self.wait_for_id(id).await.text().await.unwrap()
    }

    /// The page's `<title>`.
    pub async fn title(&self) -> String {
        self.client().title().await.unwrap()
    }

    /// Saves a screenshot of the page to `path` (making its folder), checks that it is a
    /// non-empty PNG, prints where it is, and returns its bytes.
    pub async fn screenshot(&self, path: &Path) -> Vec<u8> {
        let png = self.client().screenshot().await.unwrap();
        assert!(
            png.len() > PNG_SIGNATURE.len() && png.starts_with(PNG_SIGNATURE),
            "the screenshot is not a PNG ({} bytes)",
            png.len()
        );
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &png).unwrap();
        eprintln!("screenshot: {} ({} bytes)", path.display(), png.len());
        png
    }

    /// Ends the session (Chromium exits), then stops chromedriver and reaps it.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            client.close().await.unwrap();
        }
        let _ = self.driver.kill();
        self.driver.wait().unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.driver.try_wait().is_ok_and(|exit| exit.is_some()) {
            return;
        }
        // Not closed (the test failed): kill chromedriver's whole group, Chromium in it.
        #[cfg(unix)]
        if let Some(group) = i32::try_from(self.driver.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `program` in a folder of the test's `PATH`.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A loopback port nobody listens on (the system's choice, released for chromedriver).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
