//! Fleet members: this test binary run again as a child process (with `CREDKIT_VAULT_FLEET_URL`
//! set), holding one `Vault` over the shared store, as one process of a fleet. It reads
//! commands on stdin and answers one `answer ...` line each on stdout.
//!
//! - `round N CALLS`: calls `headers(user)` CALLS times for each of the users `u0`..`u{N-1}`
//!   (32 at a time, in an order of its own), then answers `answer OK TRANSIENT PERMANENT
//!   INVALID_GRANT FIRST_ERROR`.
//! - `touch USER`: one call; answers `answer ok ACCESS_TOKEN` or `answer err TRANSIENT MESSAGE`.
//! - `forget N`: drops users `u0`..`u{N-1}` from memory (not from the store): `answer forgot`.
//! - `quit`.

// A member answers on standard output.
#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use credkit_core::{Error, LeasePolicy, Storage};
use credkit_login::OAuthClient;
use credkit_reqwest::ReqwestTransport;
use credkit_storage_postgres::PostgresStorage;
use credkit_storage_redis::RedisStorage;
use credkit_vault::{Grant, Keyring, SealedCodec, Vault};
use futures::StreamExt;
use secrecy::ExposeSecret;

use super::postgres::{PgServer, postgres_available};
use super::redis::RedisServer;
use super::token_server::{TokenServer, initial_refresh_token, unix_now};

const URL: &str = "CREDKIT_VAULT_FLEET_URL";
const TOKEN_URL: &str = "CREDKIT_VAULT_FLEET_TOKEN_URL";
const REVOKE_URL: &str = "CREDKIT_VAULT_FLEET_REVOKE_URL";
const THRESHOLD_MS: &str = "CREDKIT_VAULT_FLEET_THRESHOLD_MS";
const TTL_MS: &str = "CREDKIT_VAULT_FLEET_TTL_MS";
const INDEX: &str = "CREDKIT_VAULT_FLEET_INDEX";
const SPAWNER: &str = "CREDKIT_VAULT_FLEET_SPAWNER";

/// The members' data key (records are sealed at rest, as in production).
pub const TEST_KEYS: &str = "fleet-1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The shared store's server: Redis or Postgres, stopped and started again at will.
pub enum Db {
    Redis(RedisServer),
    Postgres(PgServer),
}

impl Db {
    /// A redis-server (persistent: it keeps every write across a stop), or `None` (skipped).
    pub fn redis() -> Option<Self> {
        RedisServer::start_persistent().map(Self::Redis)
    }

    /// A Postgres cluster, or `None` (skipped; required under `CREDKIT_REQUIRE_POSTGRES=1`).
    pub fn postgres() -> Option<Self> {
        postgres_available().then(|| Self::Postgres(PgServer::start()))
    }

    pub fn url(&self) -> String {
        match self {
            Self::Redis(redis) => redis.url(),
            Self::Postgres(postgres) => postgres.url(),
        }
    }

    /// Stops the server at once (SIGKILL, `pg_ctl stop -m immediate`); its data stays.
    pub fn stop(&mut self) {
        match self {
            Self::Redis(redis) => redis.kill(),
            Self::Postgres(postgres) => postgres.stop(),
        }
    }

    /// Starts it again on its port, and waits until it accepts connections.
    pub fn start_again(&mut self) {
        match self {
            Self::Redis(redis) => redis.start_again(),
            Self::Postgres(postgres) => postgres.restart(),
        }
    }
}

/// How the members are set up.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The store's URL (`redis://...`).
    pub url: String,
    pub token_url: String,
    pub revoke_url: String,
    /// The vault's refresh threshold.
    pub threshold: Duration,
    /// The store's lease time to live.
    pub lease_ttl: Duration,
    /// The vault runs refreshes ahead, and stores of rotations the store could not take at
    /// first, on the runtime (`with_spawner`).
    pub spawner: bool,
}

/// The store a member (or the test) opens: Redis or Postgres by the URL, records sealed with
/// [`TEST_KEYS`].
pub fn storage(setup: &Setup) -> Arc<dyn Storage> {
    let codec = SealedCodec::new(Keyring::parse(TEST_KEYS).unwrap());
    if setup.url.starts_with("postgres") {
        Arc::new(
            PostgresStorage::builder(&setup.url)
                .with_codec(codec)
                .with_lease_ttl(setup.lease_ttl)
                .with_lease_poll_interval(Duration::from_millis(20))
                .with_timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
        )
    } else {
        Arc::new(
            RedisStorage::builder(&setup.url)
                .with_codec(codec)
                .with_listing()
                .with_lease_ttl(setup.lease_ttl)
                .with_lease_poll_interval(Duration::from_millis(20))
                .with_timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
        )
    }
}

/// A vault as every member builds it: strict lease policy (the token endpoint rotates refresh
/// tokens), the setup's threshold, refreshes bounded to 10 s (so a lease wait to 5 s), the
/// runtime as spawner if the setup says so. Call it on a runtime.
pub fn vault(setup: &Setup) -> Vault {
    let client = OAuthClient::new("fleet-client", Some("fleet-secret".into()))
        .with_token_uri(&setup.token_url)
        .with_revoke_uri(&setup.revoke_url);
    let threshold = setup.threshold;
    let mut builder = Vault::builder(client, storage(setup));
    if setup.spawner {
        let runtime = tokio::runtime::Handle::current();
        builder = builder.with_spawner(move |task| {
            runtime.spawn(task);
        });
    }
    builder
        .with_transport(ReqwestTransport::new().unwrap())
        .with_credentials(move |builder| {
            builder
                .with_refresh_threshold(threshold)
                .with_lease_policy(LeasePolicy::strict())
                .with_min_retry_interval(Duration::from_millis(200))
                // A refresh waits for another process's lease at most half of this.
                .with_flight_deadline(Duration::from_secs(10))
        })
        .build()
        .unwrap()
}

/// The name of user `i`.
pub fn user(i: usize) -> String {
    format!("u{i}")
}

/// Stores a first grant (`rt.USER.0`, no access token) for users `u0`..`u{n-1}`.
pub async fn seed(setup: &Setup, n: usize) {
    let vault = vault(setup);
    futures::stream::iter(0..n)
        .for_each_concurrent(32, |i| {
            let vault = vault.clone();
            async move {
                let user = user(i);
                vault
                    .insert(&user, Grant::new(initial_refresh_token(&user)))
                    .await
                    .unwrap();
            }
        })
        .await;
}

/// A running member.
pub struct Member {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

/// The answer to `round`.
#[derive(Debug, Default, Clone)]
pub struct Round {
    pub ok: u64,
    pub transient: u64,
    pub permanent: u64,
    pub invalid_grant: u64,
    pub first_error: String,
}

impl Round {
    pub fn errors(&self) -> u64 {
        self.transient + self.permanent + self.invalid_grant
    }
}

impl Member {
    /// Starts the test `child_test` of this binary as member `index`.
    pub fn spawn(child_test: &str, setup: &Setup, index: usize) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                child_test,
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(URL, &setup.url)
            .env(TOKEN_URL, &setup.token_url)
            .env(REVOKE_URL, &setup.revoke_url)
            .env(THRESHOLD_MS, setup.threshold.as_millis().to_string())
            .env(TTL_MS, setup.lease_ttl.as_millis().to_string())
            .env(INDEX, index.to_string())
            .env(SPAWNER, if setup.spawner { "1" } else { "0" })
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
                if let Some(answer) = line.strip_prefix("answer ") {
                    let _ = sender.send(answer.to_owned());
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

    pub fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next answer; fails the test after two minutes (a hung fleet).
    pub fn answer(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(120))
            .expect("a fleet member did not answer within 120 s")
    }

    /// Parses the answer to `round`.
    pub fn round_answer(&self) -> Round {
        let answer = self.answer();
        let mut parts = answer.splitn(5, ' ');
        let mut number = || parts.next().unwrap().parse().unwrap();
        Round {
            ok: number(),
            transient: number(),
            permanent: number(),
            invalid_grant: number(),
            first_error: parts.next().unwrap_or_default().to_owned(),
        }
    }

    /// Parses the answer to `touch`: the access token, or (transient, message).
    pub fn touch_answer(&self) -> Result<String, (bool, String)> {
        let answer = self.answer();
        let mut parts = answer.splitn(3, ' ');
        match parts.next() {
            Some("ok") => Ok(parts.next().unwrap().to_owned()),
            _ => Err((
                parts.next() == Some("true"),
                parts.next().unwrap_or_default().to_owned(),
            )),
        }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
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

/// Runs `round`s on the members at once: their answers, in order.
pub fn round_all(members: &mut [Member], users: usize, calls: usize) -> Vec<Round> {
    for member in members.iter_mut() {
        member.send(&format!("round {users} {calls}"));
    }
    members.iter().map(Member::round_answer).collect()
}

/// How an error counts.
enum Class {
    Transient,
    Permanent,
    InvalidGrant,
}

fn class(err: &Error) -> Class {
    if err.oauth_error() == Some("invalid_grant") {
        Class::InvalidGrant
    } else if err.is_transient() {
        Class::Transient
    } else {
        Class::Permanent
    }
}

/// The member's side; returns at once when not run as a member.
pub fn run_member() {
    let Ok(url) = std::env::var(URL) else {
        return;
    };
    let millis = |name: &str| Duration::from_millis(std::env::var(name).unwrap().parse().unwrap());
    let setup = Setup {
        url,
        token_url: std::env::var(TOKEN_URL).unwrap(),
        revoke_url: std::env::var(REVOKE_URL).unwrap(),
        threshold: millis(THRESHOLD_MS),
        lease_ttl: millis(TTL_MS),
        spawner: std::env::var(SPAWNER).as_deref() == Ok("1"),
    };
    let index: usize = std::env::var(INDEX).unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let vault = runtime.block_on(async { vault(&setup) });
    println!("answer ready");
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let words: Vec<&str> = line.split(' ').collect();
        let answer = match words.as_slice() {
            ["round", users, calls] => {
                let (users, calls) = (users.parse().unwrap(), calls.parse().unwrap());
                runtime.block_on(round(&vault, index, users, calls))
            }
            ["touch", user] => match runtime.block_on(vault.access_token(user)) {
                Ok(token) => format!("ok {}", token.secret().expose_secret()),
                Err(err) => format!("err {} {err}", err.is_transient()),
            },
            ["forget", users] => {
                for i in 0..users.parse().unwrap() {
                    vault.forget(&user(i));
                }
                "forgot".to_owned()
            }
            _ => break,
        };
        println!("answer {answer}");
    }
}

async fn round(vault: &Vault, index: usize, users: usize, calls: usize) -> String {
    // Each member walks the users from its own starting point, so that members meet on users
    // at different moments.
    let start = index.wrapping_mul(users / 4 + 1);
    let outcomes: Vec<Result<(), Error>> = futures::stream::iter(0..users * calls)
        .map(|n| {
            let user = user((start + n / calls) % users.max(1));
            let vault = vault.clone();
            async move { vault.headers(&user).await.map(|_| ()) }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let (mut ok, mut transient, mut permanent, mut invalid) = (0u64, 0u64, 0u64, 0u64);
    let mut first = String::new();
    for outcome in outcomes {
        match outcome {
            Ok(()) => ok += 1,
            Err(err) => {
                match class(&err) {
                    Class::Transient => transient += 1,
                    Class::Permanent => permanent += 1,
                    Class::InvalidGrant => invalid += 1,
                }
                if first.is_empty() {
                    first = err.to_string().replace('\n', " ");
                }
            }
        }
    }
    format!("{ok} {transient} {permanent} {invalid} {first}")
}

/// Waits (real time: the thing under test) until every token `server` issued is stale for
/// every process: `fresh_for` after it was issued, plus `margin` (a client counts a token's
/// lifetime from the answer, a little after the server booked it).
pub async fn until_all_stale(server: &TokenServer, fresh_for: Duration, margin: Duration) {
    let last = server
        .users()
        .values()
        .filter_map(|book| book.grants.last().copied())
        .fold(0.0_f64, f64::max);
    let wait = last + fresh_for.as_secs_f64() + margin.as_secs_f64() - unix_now();
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
}
