//! A fleet of four OS processes shares 500 users' rotating refresh tokens, sealed at rest, through
//! Redis, then Postgres: in each expiry window, exactly one token request per user, and no
//! `invalid_grant` (the token endpoint rotates each user's refresh token and accepts only the
//! latest, so two processes racing for one user's grant would show up as one).
//!
//! Token lifetimes are real time here (processes): 8 s tokens, stale 2 s before their
//! expiry, three windows. Between windows the test waits until every user's token is stale
//! (the thing under test), nothing else.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]
#![cfg(unix)]

mod support;

use std::time::{Duration, Instant};

use support::fleet::{Db, Member, Setup, round_all, seed, until_all_stale, user};
use support::redis::RedisServer;
use support::token_server::{TokenServer, early_grants};

const MEMBERS: usize = 4;
const USERS: usize = 500;
/// Calls per user per member in a round (concurrent ones included).
const CALLS: usize = 2;
const WINDOWS: usize = 3;
const LIFETIME: Duration = Duration::from_secs(8);
const THRESHOLD: Duration = Duration::from_secs(2);
/// How long a token stays fresh: its lifetime less the threshold.
const FRESH_FOR: Duration = Duration::from_secs(6);
/// A client counts a token's lifetime from the answer, a little after the server booked it.
const MARGIN: Duration = Duration::from_millis(500);

/// The member's entry point: does nothing as an ordinary test.
#[test]
fn fleet_member() {
    support::fleet::run_member();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_make_one_token_request_per_user_per_expiry_on_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    one_token_request_per_user_per_expiry(&redis.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_make_one_token_request_per_user_per_expiry_on_postgres() {
    let Some(postgres) = Db::postgres() else {
        return;
    };
    one_token_request_per_user_per_expiry(&postgres.url()).await;
}

async fn one_token_request_per_user_per_expiry(url: &str) {
    let server = TokenServer::start(LIFETIME, true).await.unwrap();
    let setup = Setup {
        url: url.to_owned(),
        token_url: server.token_url(),
        revoke_url: server.revoke_url(),
        threshold: THRESHOLD,
        lease_ttl: Duration::from_secs(5),
        spawner: false,
    };
    seed(&setup, USERS).await;
    let mut fleet: Vec<Member> = tokio::task::block_in_place(|| {
        (0..MEMBERS)
            .map(|i| Member::spawn("fleet_member", &setup, i))
            .collect()
    });
    for window in 1..=WINDOWS {
        until_all_stale(&server, FRESH_FOR, MARGIN).await;
        let started = Instant::now();
        let rounds = tokio::task::block_in_place(|| round_all(&mut fleet, USERS, CALLS));
        let took = started.elapsed();
        for round in &rounds {
            assert_eq!(round.errors(), 0, "window {window}: {round:?}");
        }
        // The premise: a round ends before the tokens it got go stale.
        assert!(
            took < FRESH_FOR,
            "a round took {took:?}, longer than a token stays fresh: the machine is too slow for this test"
        );
        assert_eq!(server.invalid_grants(), 0, "window {window}");
        let books = server.users();
        for i in 0..USERS {
            let book = &books[&user(i)];
            assert_eq!(
                book.grants.len(),
                window,
                "user {i}: one token request per expiry window"
            );
            assert_eq!(early_grants(&book.grants, FRESH_FOR, MARGIN), 0);
        }
        eprintln!(
            "window {window}: {USERS} users, {} calls in {took:?}, {} token requests in all",
            MEMBERS * USERS * CALLS,
            server.grants()
        );
    }
    assert_eq!(server.requests(), (USERS * WINDOWS) as u64);
    drop(fleet);
}
