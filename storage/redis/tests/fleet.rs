//! A fleet of OS processes shares one rotating refresh token through Redis: one token request
//! per expiry, no `invalid_grant`, one refresh token at the end; a holder killed mid-refresh
//! costs the others no more than the lease's time to live.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]
#![cfg(unix)]

mod support;

use std::time::{Duration, Instant};

use credkit_core::{AccessToken, CredentialRecord, Storage};
use credkit_storage_redis::RedisStorage;
use credkit_testing::{FAKE_CLOCK_START, FAKE_EXPIRES_IN, FakeTokenServer, Reply};
use secrecy::{ExposeSecret, SecretString};
use support::RedisServer;
use support::fleet::{INITIAL_REFRESH, KEY, Member, Setup, run_member};

const PROCESSES: usize = 8;
const CALLERS: usize = 50;
const EXPIRIES: usize = 5;

/// The member's entry point: does nothing as an ordinary test.
#[test]
fn fleet_member() {
    support::require_redis!();
    run_member();
}

async fn seed(redis: &RedisServer, access: AccessToken) {
    let storage = RedisStorage::new(&redis.url()).unwrap();
    let record = CredentialRecord::new()
        .with_access_token(&access)
        .with_refresh_token(SecretString::from(INITIAL_REFRESH));
    storage.store(KEY, &record).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_make_one_token_request_per_expiry() {
    support::require_redis!();
    let redis = RedisServer::start();
    let server = FakeTokenServer::start().await.unwrap();
    server.set_strict_rotation(INITIAL_REFRESH);
    // Every member starts on the fake clock's start, with this token in Redis: fresh.
    let lifetime = Duration::from_secs(FAKE_EXPIRES_IN);
    seed(
        &redis,
        AccessToken::new("at-seed").with_expiry(FAKE_CLOCK_START + lifetime),
    )
    .await;
    let setup = Setup {
        redis: redis.url(),
        token_url: server.token_url(),
        fake_clock: true,
        lease_ttl: Duration::from_secs(10),
        callers: CALLERS,
    };
    let mut fleet: Vec<Member> = tokio::task::block_in_place(|| {
        (0..PROCESSES)
            .map(|_| Member::spawn("fleet_member", &setup))
            .collect()
    });
    for expiry in 1..=EXPIRIES {
        // Every member's clock moves past the token's expiry, then all callers ask at once.
        for member in &mut fleet {
            member.send(&format!("advance {}", FAKE_EXPIRES_IN + 1));
            member.send("round");
        }
        let answers: Vec<_> =
            tokio::task::block_in_place(|| fleet.iter().map(Member::round_answer).collect());
        let first = &answers[0].1;
        for (distinct, access, _) in &answers {
            assert_eq!(*distinct, 1, "one token per expiry in each process");
            assert_eq!(access, first, "every process got the same token");
        }
        assert_eq!(server.request_count(), expiry, "one request per expiry");
    }
    // The last refresh token is the one the server accepts, in every process and in Redis.
    let valid = server.valid_refresh_token().unwrap();
    assert_eq!(valid, format!("fake-rotated-refresh-token-{EXPIRIES}"));
    for member in &mut fleet {
        member.send("round");
    }
    for (_, _, refresh) in
        tokio::task::block_in_place(|| fleet.iter().map(Member::round_answer).collect::<Vec<_>>())
    {
        assert_eq!(refresh, valid);
    }
    let stored = RedisStorage::new(&redis.url())
        .unwrap()
        .load(KEY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.refresh_token().unwrap().expose_secret(), valid);
    assert_eq!(server.request_count(), EXPIRIES);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.form_value("grant_type") == Some("refresh_token"))
    );
    drop(fleet);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_killed_mid_refresh_costs_no_more_than_the_lease_ttl() {
    support::require_redis!();
    let redis = RedisServer::start();
    let server = FakeTokenServer::start().await.unwrap();
    server.set_strict_rotation(INITIAL_REFRESH);
    // The first request never gets its reply (so it rotates nothing): its sender is killed.
    // (The last scripted reply repeats: the ones after it are the default.)
    server.push_replies([Reply::stall(), Reply::default_token()]);
    let now = credkit_core::time::OffsetDateTime::now_utc();
    seed(
        &redis,
        AccessToken::new("at-old").with_expiry(now - Duration::from_secs(60)),
    )
    .await;
    let ttl = Duration::from_millis(1500);
    let setup = Setup {
        redis: redis.url(),
        token_url: server.token_url(),
        fake_clock: false,
        lease_ttl: ttl,
        callers: 10,
    };
    let (mut holder, mut other) = tokio::task::block_in_place(|| {
        (
            Member::spawn("fleet_member", &setup),
            Member::spawn("fleet_member", &setup),
        )
    });
    holder.send("round");
    tokio::time::timeout(Duration::from_secs(60), server.wait_for_requests(1))
        .await
        .expect("the holder made no request");
    // The holder has the lease and its request is in flight: SIGKILL.
    holder.kill();
    let killed = Instant::now();
    other.send("round");
    let (distinct, _, refresh) = tokio::task::block_in_place(|| other.round_answer());
    let took = killed.elapsed();
    assert_eq!(distinct, 1);
    // Bounded by the time to live (plus one poll and the request itself).
    assert!(took < ttl + Duration::from_secs(1), "took {took:?}");
    assert_eq!(server.request_count(), 2);
    assert_eq!(
        refresh, "fake-rotated-refresh-token-1",
        "no rotation was lost"
    );
    assert_eq!(server.valid_refresh_token().unwrap(), refresh);
    eprintln!("after the SIGKILL, another process refreshed in {took:?} (lease TTL {ttl:?})");
}
