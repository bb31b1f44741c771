//! The fleet benchmark (a timed harness, not criterion: it runs OS processes against a real
//! redis-server). Run it with
//!
//! ```text
//! cargo bench -p credkit-storage-redis --bench fleet
//! ```
//!
//! For 1, 2, 4 and 8 processes of 50 callers each, sharing one rotating refresh token through
//! Redis, over 5 expiries (after one warm-up): token requests per expiry; the callers' latency
//! in the process that made the request (the refresh's own latency) beside the other
//! processes' (the followers: their added wait); and the Redis commands made by a burst of
//! `Credentials::apply` calls with a fresh token (the hot path).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::cast_precision_loss
)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use credkit_core::{AccessToken, CredentialRecord, Credentials, Storage};
use credkit_storage_redis::RedisStorage;
use credkit_testing::{FAKE_CLOCK_START, FAKE_EXPIRES_IN, FakeClock, FakeTokenServer};
use secrecy::SecretString;
use support::RedisServer;
use support::fleet::{INITIAL_REFRESH, KEY, Member, Setup, run_member};

const CALLERS: usize = 50;
const EXPIRIES: usize = 5;

fn main() {
    if std::env::var_os("CREDKIT_FLEET_REDIS").is_some() {
        run_member();
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "| processes | token requests per expiry | refresh's own latency p50 | followers' wait p50 | followers' wait p99 |"
        );
        println!("|---|---|---|---|---|");
        for processes in [1, 2, 4, 8] {
            fleet(processes).await;
        }
        hot_path().await;
    });
}

async fn seed(redis: &RedisServer, access: AccessToken) {
    let storage = RedisStorage::new(&redis.url()).unwrap();
    let record = CredentialRecord::new()
        .with_access_token(&access)
        .with_refresh_token(SecretString::from(INITIAL_REFRESH));
    storage.store(KEY, &record).await.unwrap();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round();
    sorted[format!("{rank}").parse::<usize>().unwrap()]
}

async fn fleet(processes: usize) {
    let redis = RedisServer::start();
    let server = FakeTokenServer::start().await.unwrap();
    server.set_strict_rotation(INITIAL_REFRESH);
    seed(
        &redis,
        AccessToken::new("at-seed")
            .with_expiry(FAKE_CLOCK_START + Duration::from_secs(FAKE_EXPIRES_IN)),
    )
    .await;
    let setup = Setup {
        redis: redis.url(),
        token_url: server.token_url(),
        fake_clock: true,
        lease_ttl: Duration::from_secs(10),
        callers: CALLERS,
    };
    let mut members: Vec<Member> = tokio::task::block_in_place(|| {
        (0..processes)
            .map(|_| Member::spawn("fleet_member", &setup))
            .collect()
    });
    let (mut own, mut followers) = (Vec::new(), Vec::new());
    let mut counted_from = 0;
    for expiry in 0..=EXPIRIES {
        for member in &mut members {
            member.send(&format!("advance {}", FAKE_EXPIRES_IN + 1));
            member.send("round");
        }
        let answers: Vec<_> =
            tokio::task::block_in_place(|| members.iter().map(Member::round_timings).collect());
        if expiry == 0 {
            // The warm-up: connections are made.
            counted_from = server.request_count();
            continue;
        }
        for (_, _, _, fetched, latencies) in answers {
            if fetched {
                own.extend(latencies);
            } else {
                followers.extend(latencies);
            }
        }
    }
    let requests = server.request_count() - counted_from;
    own.sort();
    followers.sort();
    let show = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    let (f50, f99) = if followers.is_empty() {
        ("n/a".to_owned(), "n/a".to_owned())
    } else {
        (
            show(percentile(&followers, 0.50)),
            show(percentile(&followers, 0.99)),
        )
    };
    println!(
        "| {processes} | {:.2} | {} | {f50} | {f99} |",
        requests as f64 / EXPIRIES as f64,
        show(percentile(&own, 0.50)),
    );
    drop(members);
}

/// Redis commands made by `apply()` with a fresh token: counted with `INFO commandstats`.
async fn hot_path() {
    let redis = RedisServer::start();
    let storage = RedisStorage::new(&redis.url()).unwrap();
    let clock = FakeClock::new();
    let fresh = AccessToken::new("at-fresh")
        .with_expiry(FAKE_CLOCK_START + Duration::from_secs(FAKE_EXPIRES_IN));
    storage
        .store(KEY, &CredentialRecord::new().with_access_token(&fresh))
        .await
        .unwrap();
    let credentials = Credentials::builder(credkit_core::StaticSource::new(fresh))
        .with_clock(clock)
        .with_storage(storage, KEY)
        .build()
        .unwrap();
    // The first call loads the stored token; the burst after it is the hot path.
    credentials.access_token().await.unwrap();
    let before = total_commands(&redis);
    let calls = 1_000_000u32;
    let started = Instant::now();
    let mut headers = http::HeaderMap::new();
    for _ in 0..calls {
        credentials.apply(&mut headers).unwrap();
    }
    let took = started.elapsed();
    let after = total_commands(&redis);
    println!();
    println!(
        "hot path: {calls} apply() calls with a fresh token: {} Redis commands, {:.1} ns per call",
        after - before,
        took.as_nanos() as f64 / f64::from(calls)
    );
}

/// Every command the server ran, `INFO` itself left out.
fn total_commands(redis: &RedisServer) -> u64 {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_connection().unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut connection)
        .unwrap();
    info.lines()
        .filter(|line| line.starts_with("cmdstat_") && !line.starts_with("cmdstat_info:"))
        .filter_map(|line| {
            line.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}
