//! The lease while it is held and as it ends: renewed past its time to live, lost about one
//! time to live after the last renewal when Redis is away, released before `release` returns
//! (or an error when it cannot be), given back when a take is cancelled after the server took
//! it; its `Debug` never shows the owner value.
//!
//! The time to live runs on the server's clock, so the renewal tests wait on real time and
//! assert only lower bounds or generous upper bounds.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use credkit_core::{ErrorKind, LeaseOptions, Storage, SystemClock};
use credkit_storage_redis::RedisStorage;
use redis::aio::MultiplexedConnection;
use support::RedisServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const KEY: &str = "lease:user";
/// Short, and a multiple of 3 ms: renewed every 300 ms.
const TTL: Duration = Duration::from_millis(900);
/// How often a test looks again.
const POLL: Duration = Duration::from_millis(10);
/// A generous bound on anything that should happen within about one time to live.
const PATIENCE: Duration = Duration::from_secs(10);

fn wait() -> LeaseOptions {
    LeaseOptions::new(Duration::from_secs(5), SystemClock)
}

fn lease_key(storage: &RedisStorage, key: &str) -> String {
    format!("{}:lease", storage.record_key(key))
}

/// A connection of the test's own, for checks.
async fn checks(server: &RedisServer) -> MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// The lease key's remaining time to live in ms (-2: no such key).
async fn pttl(checks: &mut MultiplexedConnection, name: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(name)
        .query_async(checks)
        .await
        .unwrap()
}

/// Polls `PTTL` until the key is (`true`) or is not (`false`) there, within [`PATIENCE`].
async fn until_present(checks: &mut MultiplexedConnection, name: &str, present: bool) {
    let deadline = Instant::now() + PATIENCE;
    while (pttl(checks, name).await != -2) != present {
        assert!(
            Instant::now() < deadline,
            "the lease key is {} after {PATIENCE:?}",
            if present {
                "still missing"
            } else {
                "still there"
            }
        );
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_is_renewed_past_its_time_to_live() {
    support::require_redis!();
    let server = RedisServer::start();
    let storage = RedisStorage::builder(server.url())
        .with_lease_ttl(TTL)
        .build()
        .unwrap();
    let mut checks = checks(&server).await;
    let name = lease_key(&storage, KEY);
    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    let taken = Instant::now();
    let mut last = i64::MAX;
    let mut extended = 0;
    // Three times to live: without renewal the key would be gone after the first.
    while taken.elapsed() < TTL * 3 {
        let left = pttl(&mut checks, &name).await;
        assert!(
            left > 0,
            "the lease key lapsed {:?} after the take (PTTL {left})",
            taken.elapsed()
        );
        if left > last {
            extended += 1;
        }
        last = left;
        assert!(lease.is_held());
        tokio::time::sleep(POLL).await;
    }
    assert!(
        extended >= 2,
        "the time to live went up {extended} times in three times to live"
    );
    lease.release().await.unwrap();
    assert_eq!(pttl(&mut checks, &name).await, -2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_away_a_lease_is_held_until_about_one_time_to_live_after_its_last_renewal() {
    support::require_redis!();
    let mut server = RedisServer::start();
    let storage = RedisStorage::builder(server.url())
        .with_lease_ttl(TTL)
        .with_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let before = Instant::now();
    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    // Before the first renewal (a third of the time to live): every renewal fails from now on.
    server.stop();
    let deadline = Instant::now() + PATIENCE;
    while lease.is_held() {
        assert!(
            Instant::now() < deadline,
            "the lease was still held {PATIENCE:?} after Redis went away"
        );
        tokio::time::sleep(POLL).await;
    }
    // Redis may still hold the key for the time to live after the last renewal (here, the
    // take): the lease is not given up before then, whatever renewals failed in between.
    let lost = before.elapsed();
    assert!(
        lost >= TTL * 9 / 10,
        "the lease was lost {lost:?} after the take"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn release_frees_the_lease_before_it_returns() {
    support::require_redis!();
    let server = RedisServer::start();
    let storage = RedisStorage::new(&server.url()).unwrap();
    let name = lease_key(&storage, KEY);
    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    assert_eq!(server.command(&["EXISTS", &name]), redis::Value::Int(1));
    lease.release().await.unwrap();
    // A synchronous check on the only thread: no spawned task (a drop's release) has run.
    assert_eq!(server.command(&["EXISTS", &name]), redis::Value::Int(0));
    // So another handle takes it without waiting.
    let other = RedisStorage::new(&server.url()).unwrap();
    let now = LeaseOptions::new(Duration::ZERO, SystemClock);
    other.lease(KEY, &now).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releasing_with_redis_away_is_a_transient_error() {
    support::require_redis!();
    let mut server = RedisServer::start();
    let storage = RedisStorage::builder(server.url())
        .with_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    server.stop();
    let err = lease.release().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.is_transient(), "{err}");
    assert!(
        err.to_string().contains("releasing the refresh lease"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_shows_the_lease_and_whether_it_is_held_but_never_the_owner() {
    support::require_redis!();
    let server = RedisServer::start();
    let storage = RedisStorage::new(&server.url()).unwrap();
    let name = lease_key(&storage, KEY);
    let lease = storage.lease(KEY, &wait()).await.unwrap().unwrap();
    let redis::Value::BulkString(owner) = server.command(&["GET", &name]) else {
        panic!("no lease owner in Redis");
    };
    let owner = String::from_utf8(owner).unwrap();
    let shown = format!("{lease:?}");
    assert!(shown.contains("RedisLease"), "{shown}");
    assert!(shown.contains("held: true"), "{shown}");
    assert!(shown.contains(&name), "{shown}");
    // The owner value releases the lease; the caller's key may name a user.
    assert!(!shown.contains(&owner), "{shown}");
    assert!(!shown.contains(KEY), "{shown}");
    lease.release().await.unwrap();
}

/// A TCP proxy in front of a server whose replies can be held back: the server still runs
/// every command it is sent, but the client never hears back.
struct Proxy {
    port: u16,
    hold: watch::Sender<bool>,
}

impl Proxy {
    async fn start(server_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (hold, holding) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let mut holding = holding.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0; 16 * 1024];
                    while let Ok(read @ 1..) = server_read.read(&mut buffer).await {
                        if holding.wait_for(|hold| !*hold).await.is_err()
                            || client_write.write_all(&buffer[..read]).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Self { port, hold }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// From now on, replies are held back.
    fn hold_replies(&self) {
        self.hold.send_replace(true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_take_cancelled_after_the_server_took_the_lease_gives_it_back() {
    support::require_redis!();
    let server = RedisServer::start();
    let proxy = Proxy::start(server.port()).await;
    // A time to live far past the test: only a release frees the key in time.
    let storage = RedisStorage::builder(proxy.url())
        .with_lease_ttl(Duration::from_secs(120))
        .build()
        .unwrap();
    let mut checks = checks(&server).await;
    // The connection is made and the scripts are loaded, so a take is one EVALSHA.
    let warm_up = storage.lease("warm-up", &wait()).await.unwrap().unwrap();
    warm_up.release().await.unwrap();

    let name = lease_key(&storage, KEY);
    proxy.hold_replies();
    let taking = tokio::spawn({
        let storage = storage.clone();
        async move { storage.lease(KEY, &wait()).await.map(drop) }
    });
    // The server took the lease for this owner; the take still waits for the reply.
    until_present(&mut checks, &name, true).await;
    assert!(!taking.is_finished());
    taking.abort();
    assert!(taking.await.unwrap_err().is_cancelled());
    // The cancelled attempt gives the lease back (the server runs the release; its reply is
    // held back like the others, which does not matter).
    until_present(&mut checks, &name, false).await;
}
