//! Fleet members: this test binary run again as a child process with `CREDKIT_FLEET_REDIS`
//! set, acting as one process of a fleet. It reads commands on stdin and answers on stdout.
//!
//! - `advance SECS`: moves its fake clock (fake-clock mode) on.
//! - `round`: runs its concurrent callers once (`Credentials::access_token`), then prints
//!   `round DISTINCT ACCESS REFRESH FETCHED LATENCIES` (distinct access tokens the callers
//!   got, the first one, the refresh token its source holds, 1 if this process made the token
//!   request, each caller's latency from the round's start in µs, joined by commas) or
//!   `error MESSAGE`.
//! - `quit`.

// A member answers on standard output.
#![allow(clippy::print_stdout)]

use credkit_core::LeasePolicy;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use credkit_core::{Clock, Credentials, RefreshEvent, SystemClock};
use credkit_refresh_token::UserCredentials;
use credkit_reqwest::ReqwestTransport;
use credkit_storage_redis::RedisStorage;
use credkit_testing::FakeClock;
use secrecy::ExposeSecret;

pub(crate) const KEY: &str = "fleet:user";
pub(crate) const INITIAL_REFRESH: &str = "rt-0";
const REDIS: &str = "CREDKIT_FLEET_REDIS";
const TOKEN_URL: &str = "CREDKIT_FLEET_TOKEN_URL";
const FAKE_CLOCK: &str = "CREDKIT_FLEET_FAKE_CLOCK";
const TTL_MS: &str = "CREDKIT_FLEET_TTL_MS";
const CALLERS: &str = "CREDKIT_FLEET_CALLERS";

/// How a member is set up.
#[derive(Clone, Debug)]
pub(crate) struct Setup {
    pub(crate) redis: String,
    pub(crate) token_url: String,
    pub(crate) fake_clock: bool,
    pub(crate) lease_ttl: Duration,
    pub(crate) callers: usize,
}

/// A running member.
pub(crate) struct Member {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Member {
    /// Starts the test `child_test` of this binary as a member.
    pub(crate) fn spawn(child_test: &str, setup: &Setup) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                child_test,
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(REDIS, &setup.redis)
            .env(TOKEN_URL, &setup.token_url)
            .env(FAKE_CLOCK, if setup.fake_clock { "1" } else { "0" })
            .env(TTL_MS, setup.lease_ttl.as_millis().to_string())
            .env(CALLERS, setup.callers.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The test harness's own lines are not answers.
                if line.starts_with("round ") || line.starts_with("error ") || line == "ready" {
                    let _ = sender.send(line);
                }
            }
        });
        let member = Self {
            child,
            stdin,
            lines,
        };
        assert_eq!(member.answer(), "ready");
        member
    }

    pub(crate) fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next answer; fails the test after a minute (a hung fleet).
    pub(crate) fn answer(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(60))
            .expect("a fleet member did not answer within 60 s")
    }

    /// Parses the answer to `round`: (distinct tokens, access token, refresh token).
    pub(crate) fn round_answer(&self) -> (usize, String, String) {
        let (distinct, access, refresh, _, _) = self.round_timings();
        (distinct, access, refresh)
    }

    /// Parses the answer to `round`, with whether this process fetched and the callers'
    /// latencies.
    pub(crate) fn round_timings(&self) -> (usize, String, String, bool, Vec<Duration>) {
        let answer = self.answer();
        let parts: Vec<&str> = answer.split(' ').collect();
        assert_eq!(parts[0], "round", "a member failed: {answer}");
        let latencies = parts[5]
            .split(',')
            .map(|us| Duration::from_micros(us.parse().unwrap()))
            .collect();
        (
            parts[1].parse().unwrap(),
            parts[2].to_owned(),
            parts[3].to_owned(),
            parts[4] == "1",
            latencies,
        )
    }

    /// SIGKILL.
    pub(crate) fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        // A member that does not quit promptly is killed: none is left running.
        for _ in 0..200 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The member's side; returns at once when not run as a member.
pub(crate) fn run_member() {
    let Ok(redis) = std::env::var(REDIS) else {
        return;
    };
    let setup = Setup {
        redis,
        token_url: std::env::var(TOKEN_URL).unwrap(),
        fake_clock: std::env::var(FAKE_CLOCK).unwrap() == "1",
        lease_ttl: Duration::from_millis(std::env::var(TTL_MS).unwrap().parse().unwrap()),
        callers: std::env::var(CALLERS).unwrap().parse().unwrap(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let fake = FakeClock::new();
    let clock: Arc<dyn Clock> = if setup.fake_clock {
        Arc::new(fake.clone())
    } else {
        Arc::new(SystemClock)
    };
    let fetched = Arc::new(AtomicBool::new(false));
    let (user, credentials) = runtime.block_on(async {
        let storage = RedisStorage::builder(&setup.redis)
            .with_lease_ttl(setup.lease_ttl)
            .with_lease_poll_interval(Duration::from_millis(20))
            .build()
            .unwrap();
        let user = Arc::new(
            UserCredentials::builder()
                .with_refresh_token(INITIAL_REFRESH)
                .with_token_uri(&setup.token_url)
                .with_client_id("fleet-client")
                .with_client_secret("fleet-secret")
                .with_transport(ReqwestTransport::new().unwrap())
                .with_clock(Arc::clone(&clock))
                .build()
                .unwrap(),
        );
        let fetched = Arc::clone(&fetched);
        let credentials = Credentials::builder(Arc::clone(&user))
            .with_clock(Arc::clone(&clock))
            .on_refresh(move |event| {
                if let RefreshEvent::Refreshed {
                    from_storage: false,
                    ..
                } = event
                {
                    fetched.store(true, Ordering::Release);
                }
            })
            .with_storage(storage, KEY)
            // Rotating refresh tokens: never refresh outside the lease.
            .with_lease_policy(LeasePolicy::strict())
            .build()
            .unwrap();
        (user, credentials)
    });
    println!("ready");
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let mut words = line.split(' ');
        match words.next() {
            Some("advance") => {
                let secs: u64 = words.next().unwrap().parse().unwrap();
                fake.advance(Duration::from_secs(secs));
            }
            Some("round") => {
                println!(
                    "{}",
                    round(&runtime, &credentials, &user, &fetched, setup.callers)
                );
            }
            _ => break,
        }
    }
}

/// Runs `callers` concurrent callers once: the answer line to `round`.
fn round(
    runtime: &tokio::runtime::Runtime,
    credentials: &Credentials,
    user: &UserCredentials,
    fetched: &AtomicBool,
    callers: usize,
) -> String {
    fetched.store(false, Ordering::Release);
    // Latencies count from the round's start, so a caller spawned late still counts the wait
    // since the expiry was noticed.
    let started = Instant::now();
    let answers = runtime.block_on(futures::future::join_all((0..callers).map(|_| {
        let credentials = credentials.clone();
        runtime.spawn(async move {
            let token = credentials.access_token().await;
            (token, started.elapsed())
        })
    })));
    let mut distinct = BTreeSet::new();
    let mut latencies = Vec::new();
    for answer in answers {
        let (answer, latency) = answer.unwrap();
        latencies.push(latency.as_micros().to_string());
        match answer {
            Ok(token) => {
                distinct.insert(token.secret().expose_secret().to_owned());
            }
            Err(err) => return format!("error {err}"),
        }
    }
    let refresh = user
        .refresh_token()
        .map(|rt| rt.expose_secret().to_owned())
        .unwrap_or_default();
    let first = distinct.iter().next().cloned().unwrap_or_default();
    let fetched = u8::from(fetched.load(Ordering::Acquire));
    format!(
        "round {} {first} {refresh} {fetched} {}",
        distinct.len(),
        latencies.join(",")
    )
}
