//! A real `redis-server` per test: started on a free loopback port, without persistence,
//! killed on drop. Install it with `apt-get install redis-server` (Debian, Ubuntu) or
//! `brew install redis`.
#![allow(
    dead_code,
    unused_macros,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `redis-server` can run here. Without it these tests are skipped, loudly, unless
/// `CREDKIT_REQUIRE_REDIS=1` (CI sets it), where they fail.
pub(crate) fn redis_available() -> bool {
    credkit_testing::program_available(
        "redis-server",
        "CREDKIT_REQUIRE_REDIS",
        "apt-get install redis-server",
    )
}

/// Returns from the test, loudly skipped, when `redis-server` is not installed (see
/// [`redis_available`]).
macro_rules! require_redis {
    () => {
        if !crate::support::redis_available() {
            return;
        }
    };
}
pub(crate) use require_redis;

/// A running `redis-server`, killed when dropped.
#[derive(Debug)]
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// Settings given on the command line, after the test defaults.
    settings: Vec<String>,
}

impl RedisServer {
    /// A new server on a free loopback port.
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// A new server with `settings` on its command line (`["--requirepass", "pw"]`); `{port}`
    /// in a setting stands for the server's port.
    pub(crate) fn start_with(settings: &[&str]) -> Self {
        // The OS picks a free port; it is closed again just before redis-server takes it.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            child: None,
            port,
            settings: settings.iter().map(|s| (*s).to_owned()).collect(),
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (its data is gone: no persistence).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, and waits until it accepts connections.
    pub(crate) fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(
                self.settings
                    .iter()
                    .map(|setting| setting.replace("{port}", &self.port.to_string())),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("redis-server could not be started ({err}); install it: apt-get install redis-server")
            });
        self.child = Some(child);
        // Poll a connect (not a fixed sleep): ready as soon as it listens.
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not listen on port {} within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A synchronous command, for checks from tests.
    pub(crate) fn command(&self, args: &[&str]) -> redis::Value {
        let client = redis::Client::open(self.url()).unwrap();
        let mut connection = client.get_connection().unwrap();
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query(&mut connection).unwrap()
    }

    /// The serialized value of `key` (`DUMP`): what a lagging replica still holds, to be put
    /// back by [`restore`](Self::restore).
    pub(crate) fn snapshot(&self, key: &str) -> Vec<u8> {
        let client = redis::Client::open(self.url()).unwrap();
        let mut connection = client.get_connection().unwrap();
        redis::cmd("DUMP").arg(key).query(&mut connection).unwrap()
    }

    /// A failover to a replica that lost the writes made since `snapshot` was taken: `key`
    /// goes back to that value (`RESTORE ... REPLACE`), everything else stays.
    pub(crate) fn restore(&self, key: &str, snapshot: &[u8]) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut connection = client.get_connection().unwrap();
        redis::cmd("RESTORE")
            .arg(key)
            .arg(0)
            .arg(snapshot)
            .arg("REPLACE")
            .query::<()>(&mut connection)
            .unwrap();
    }

    /// The generation of the record hash `record_key` (0 when there is none).
    pub(crate) fn generation(&self, record_key: &str) -> i64 {
        let client = redis::Client::open(self.url()).unwrap();
        let mut connection = client.get_connection().unwrap();
        let found: Option<i64> = redis::cmd("HGET")
            .arg(record_key)
            .arg("gen")
            .query(&mut connection)
            .unwrap();
        found.unwrap_or(0)
    }

    /// The number of calls of `command` (lowercase) since the server started, from
    /// `INFO commandstats`.
    pub(crate) fn calls(&self, command: &str) -> u64 {
        let client = redis::Client::open(self.url()).unwrap();
        let mut connection = client.get_connection().unwrap();
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query(&mut connection)
            .unwrap();
        let prefix = format!("cmdstat_{command}:calls=");
        info.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|rest| rest.split(',').next())
            .map_or(0, |n| n.parse().unwrap())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) mod fleet;
pub(crate) mod rotating;
