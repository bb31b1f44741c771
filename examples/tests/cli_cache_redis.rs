//! `credkit --cache redis://HOST:PORT/DB`: the token cache in Redis, shared by every run that
//! points at it; `info` shows where, without the password. Needs `redis-server` on the PATH
//! (see the README); the test starts its own on a free loopback port and kills it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod support;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use credkit_testing::{FakeTokenServer, Reply};
use serde_json::{Value, json};
use support::{CLIENT_SECRET, REFRESH_TOKEN, Sandbox, run};

/// A redis-server on a free loopback port, killed on drop.
struct RedisServer(Child, u16);

impl RedisServer {
    /// Whether `redis-server` can run here. Without it the test is skipped, loudly, unless
    /// `CREDKIT_REQUIRE_REDIS=1` (CI sets it), where it fails.
    fn available() -> bool {
        credkit_testing::program_available(
            "redis-server",
            "CREDKIT_REQUIRE_REDIS",
            "apt-get install redis-server",
        )
    }

    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server could not be started: install it (apt-get install redis-server)");
        let server = Self(child, port);
        let started = Instant::now();
        // Ready once it accepts a connection (polled, not slept on).
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        server
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_cache_can_live_in_redis() {
    if !RedisServer::available() {
        return;
    }
    let redis = RedisServer::start();
    let sandbox = Sandbox::new();
    let file = sandbox.credentials_file(&json!({}));
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::token("ya29.in-redis"));
    let url = format!("redis://127.0.0.1:{}/0", redis.1);
    let command = |what: &str| {
        sandbox.credkit([
            what,
            "--credentials",
            &file.display().to_string(),
            "--token-uri",
            &server.token_url(),
            "--cache",
            &url,
        ])
    };
    let first = run(command("token")).await;
    let second = run(command("token")).await;
    assert_eq!(first.code, Some(0), "{first:#?}");
    assert_eq!(first.stdout, "ya29.in-redis\n");
    assert_eq!(second.stdout, "ya29.in-redis\n", "{second:#?}");
    assert_eq!(server.request_count(), 1, "the cached token was not used");

    let info = run(command("info")).await;
    info.assert_no_secret(&["ya29.in-redis", CLIENT_SECRET, REFRESH_TOKEN]);
    let info: Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(info["cache"], url);
    assert_eq!(info["token_from_cache"], true);
}
