//! Faults across processes, on Redis and on Postgres, with a token endpoint that rotates each user's refresh
//! token and accepts only the latest:
//!
//! - a worker killed (SIGKILL) mid-refresh (the endpoint holds its answer, so nothing rotated): its
//!   lease lapses by its time to live, another worker refreshes, no refresh token is lost;
//! - the database (redis-server, Postgres) stopped and started again while workers run: errors during the outage are
//!   transient, service resumes, and still one refresh per user per expiry after.
//!
//! Token lifetimes are real time (processes): the tests wait for tokens to go stale, nothing
//! else; every other wait polls a condition with a deadline.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]
#![cfg(unix)]

mod support;

use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use support::fleet::{Db, Member, Round, Setup, round_all, seed, storage, until_all_stale, user};
use support::token_server::{TokenServer, early_grants};

const LIFETIME: Duration = Duration::from_secs(6);
const THRESHOLD: Duration = Duration::from_millis(1500);
const FRESH_FOR: Duration = Duration::from_millis(4500);
const MARGIN: Duration = Duration::from_millis(500);

/// The member's entry point: does nothing as an ordinary test.
#[test]
fn fleet_member() {
    support::fleet::run_member();
}

fn setup(db: &Db, server: &TokenServer, lease_ttl: Duration) -> Setup {
    Setup {
        url: db.url(),
        token_url: server.token_url(),
        revoke_url: server.revoke_url(),
        threshold: THRESHOLD,
        lease_ttl,
        spawner: false,
    }
}

/// Every user of `0..users` has `grants` grants, none asked for while the last was fresh.
fn assert_grants(server: &TokenServer, users: usize, grants: usize) {
    let books = server.users();
    for i in 0..users {
        let book = &books[&user(i)];
        assert_eq!(book.grants.len(), grants, "user {i}");
        assert_eq!(early_grants(&book.grants, FRESH_FOR, MARGIN), 0, "user {i}");
    }
    assert_eq!(server.invalid_grants(), 0);
}

fn assert_clean(rounds: &[Round]) {
    for round in rounds {
        assert_eq!(round.errors(), 0, "{round:?}");
    }
}

/// Runs `$test(db)` on Redis and on Postgres, as two tests.
macro_rules! on_both {
    ($test:ident, $redis:ident, $postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $redis() {
            if let Some(db) = Db::redis() {
                $test(db).await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            if let Some(db) = Db::postgres() {
                $test(db).await;
            }
        }
    };
}

on_both!(
    a_worker_killed_mid_refresh,
    a_worker_killed_mid_refresh_loses_no_refresh_token_on_redis,
    a_worker_killed_mid_refresh_loses_no_refresh_token_on_postgres
);

async fn a_worker_killed_mid_refresh(db: Db) {
    let server = TokenServer::start(LIFETIME, true).await.unwrap();
    let ttl = Duration::from_millis(1500);
    let setup = setup(&db, &server, ttl);
    seed(&setup, 10).await;
    // The first refresh request is never answered (so it rotates nothing): its sender dies.
    server.hold_next(1);
    let (mut holder, mut b, mut c) = tokio::task::block_in_place(|| {
        (
            Member::spawn("fleet_member", &setup, 0),
            Member::spawn("fleet_member", &setup, 1),
            Member::spawn("fleet_member", &setup, 2),
        )
    });
    holder.send("touch u0");
    assert!(
        server
            .wait_until(Duration::from_secs(60), |s| s.held() == 1)
            .await,
        "the holder made no request"
    );
    // The holder has u0's lease, its request is in flight: SIGKILL.
    tokio::task::block_in_place(|| holder.kill());
    let killed = Instant::now();
    b.send("touch u0");
    c.send("touch u0");
    let (from_b, from_c) = tokio::task::block_in_place(|| (b.touch_answer(), c.touch_answer()));
    eprintln!(
        "after the SIGKILL, the others had u0's token in {:?} (lease TTL {ttl:?})",
        killed.elapsed()
    );
    let (from_b, from_c) = (from_b.unwrap(), from_c.unwrap());
    assert_eq!(from_b, from_c, "one token between them");
    assert_eq!(from_b, "at.u0.1");
    assert_eq!(server.user("u0").grants.len(), 1);
    assert_eq!(server.invalid_grants(), 0);
    // The rotation is in the store: the refresh token the server accepts now.
    let stored = storage(&setup).load("vault:u0").await.unwrap().unwrap();
    assert_eq!(
        stored.refresh_token().unwrap().expose_secret(),
        server.valid_refresh_token("u0")
    );
    // And the fleet goes on: every user refreshed once per window, no invalid_grant.
    let mut fleet = vec![b, c];
    assert_clean(&tokio::task::block_in_place(|| {
        round_all(&mut fleet, 10, 4)
    }));
    assert_grants(&server, 10, 1);
    until_all_stale(&server, FRESH_FOR, MARGIN).await;
    assert_clean(&tokio::task::block_in_place(|| {
        round_all(&mut fleet, 10, 4)
    }));
    assert_grants(&server, 10, 2);
}

on_both!(
    restarted_under_load,
    redis_restarted_under_load_costs_transient_errors_only,
    postgres_restarted_under_load_costs_transient_errors_only
);

async fn restarted_under_load(mut db: Db) {
    const USERS: usize = 200;
    const MEMBERS: usize = 3;
    let server = TokenServer::start(LIFETIME, true).await.unwrap();
    let setup = setup(&db, &server, Duration::from_secs(3));
    seed(&setup, USERS).await;
    let mut fleet: Vec<Member> = tokio::task::block_in_place(|| {
        (0..MEMBERS)
            .map(|i| Member::spawn("fleet_member", &setup, i))
            .collect()
    });
    assert_clean(&tokio::task::block_in_place(|| {
        round_all(&mut fleet, USERS, 2)
    }));
    assert_grants(&server, USERS, 1);

    // Tokens go stale; half the users are dropped from memory (their next call must load).
    until_all_stale(&server, FRESH_FOR, MARGIN).await;
    for member in &mut fleet {
        member.send(&format!("forget {}", USERS / 2));
        assert_eq!(member.answer(), "forgot");
    }
    // The store goes away: calls that need it fail, transiently; no refresh happens without
    // the lease (strict policy), so nothing rotates unstored.
    tokio::task::block_in_place(|| db.stop());
    let outage = tokio::task::block_in_place(|| round_all(&mut fleet, USERS, 2));
    let mut failed = 0;
    for round in &outage {
        assert_eq!(round.permanent, 0, "{round:?}");
        assert_eq!(round.invalid_grant, 0, "{round:?}");
        failed += round.transient;
    }
    assert!(failed > 0, "the outage went unnoticed: {outage:?}");
    assert_grants(&server, USERS, 1);

    // Back (with every write it had): service resumes within a few rounds.
    tokio::task::block_in_place(|| db.start_again());
    let back = Instant::now();
    let mut rounds = 0;
    loop {
        rounds += 1;
        let answers = tokio::task::block_in_place(|| round_all(&mut fleet, USERS, 2));
        if answers.iter().all(|round| round.errors() == 0) {
            break;
        }
        for round in &answers {
            assert_eq!(round.permanent + round.invalid_grant, 0, "{round:?}");
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "service did not resume: {answers:?}"
        );
    }
    eprintln!(
        "after the restart, a clean round after {rounds} round(s), {:?}",
        back.elapsed()
    );
    // The stale tokens were refreshed once each, no race, no lost rotation.
    assert_grants(&server, USERS, 2);
    // And one refresh per expiry after.
    until_all_stale(&server, FRESH_FOR, MARGIN).await;
    assert_clean(&tokio::task::block_in_place(|| {
        round_all(&mut fleet, USERS, 2)
    }));
    assert_grants(&server, USERS, 3);
}

on_both!(
    a_rotation_answered_while_the_store_is_down,
    a_rotation_answered_while_redis_is_down_is_not_lost,
    a_rotation_answered_while_postgres_is_down_is_not_lost
);

async fn a_rotation_answered_while_the_store_is_down(mut db: Db) {
    let server = TokenServer::start(LIFETIME, true).await.unwrap();
    let setup = setup(&db, &server, Duration::from_secs(2));
    // A spawner: A stores its rotation again in the background once the store is back.
    let setup = Setup {
        spawner: true,
        ..setup
    };
    seed(&setup, 3).await;
    server.gate_next(1);
    let (mut a, mut b) = tokio::task::block_in_place(|| {
        (
            Member::spawn("fleet_member", &setup, 0),
            Member::spawn("fleet_member", &setup, 1),
        )
    });
    a.send("touch u0");
    assert!(
        server
            .wait_until(Duration::from_secs(60), |s| s.gated() == 1)
            .await,
        "A made no request"
    );
    // A holds u0's lease, its request is at the endpoint: the store goes away, then the
    // endpoint answers (rotating u0's refresh token), and A cannot store the rotation.
    tokio::task::block_in_place(|| db.stop());
    server.open_gate(1);
    let from_a = tokio::task::block_in_place(|| a.touch_answer());
    eprintln!("A, with the store down: {from_a:?}");
    assert_eq!(server.user("u0").grants.len(), 1);
    tokio::task::block_in_place(|| db.start_again());
    // A keeps u0's lease while its rotation waits for the store (renewed once the store is
    // back): B cannot refresh u0 meanwhile, and never with the refresh token rotated away; a
    // call of B's that waits out the lease (5 s here) fails, transiently. A's background store
    // (1 s after its refresh, then 2 s, 4 s... later) lands once the store is back and releases
    // the lease: B is then served A's token from the store, with no second grant.
    let back = Instant::now();
    let from_b = loop {
        b.send("touch u0");
        match tokio::task::block_in_place(|| b.touch_answer()) {
            Ok(token) => break token,
            Err((transient, message)) => {
                assert!(transient, "{message}");
                assert!(
                    back.elapsed() < Duration::from_secs(90),
                    "B is still kept waiting: {message}"
                );
            }
        }
    };
    eprintln!("B, after the restart: served in {:?}", back.elapsed());
    assert_eq!(Ok(from_b.clone()), from_a, "B is served the token A stored");
    assert_eq!(server.user("u0").grants.len(), 1, "no second grant");
    assert_eq!(server.invalid_grants(), 0, "a rotation was lost");
    // A's next refresh of u0 (its token stale: ahead of expiry, in the background) sends the
    // rotated refresh token and stores what it gets; then B is served that token from the
    // store (at once, or after its own refresh ahead reads it).
    until_all_stale(&server, FRESH_FOR, MARGIN).await;
    a.send("touch u0");
    tokio::task::block_in_place(|| a.touch_answer()).unwrap();
    assert!(
        server
            .wait_until(Duration::from_secs(60), |s| s.user("u0").grants.len() == 2)
            .await,
        "A did not refresh u0"
    );
    let newest = server.user("u0").grants.len();
    let asked = Instant::now();
    let from_b = loop {
        b.send("touch u0");
        let token = tokio::task::block_in_place(|| b.touch_answer()).unwrap();
        if token != from_b || asked.elapsed() > Duration::from_secs(60) {
            break token;
        }
    };
    a.send("touch u0");
    let from_a = tokio::task::block_in_place(|| a.touch_answer()).unwrap();
    assert_eq!(from_a, from_b, "both serve A's second token");
    assert_eq!(newest, 2);
    assert_eq!(
        server.user("u0").grants.len(),
        2,
        "B made no grant of its own"
    );
    assert_eq!(server.invalid_grants(), 0, "a rotation was lost");
    let stored = storage(&setup).load("vault:u0").await.unwrap().unwrap();
    assert_eq!(
        stored.refresh_token().unwrap().expose_secret(),
        server.valid_refresh_token("u0")
    );
}
