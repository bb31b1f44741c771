//! A throwaway redis-server on a free loopback port, killed on drop; a persistent one (an
//! append-only file synced at every write) can be killed and started again on its port.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// The append-only file's directory, for a persistent server.
    dir: Option<tempfile::TempDir>,
}

impl RedisServer {
    /// A server, or `None` (after one `SKIPPED` line) when redis-server is not installed and
    /// `CREDKIT_REQUIRE_REDIS` is not 1.
    pub fn start() -> Option<Self> {
        Self::start_with(None)
    }

    /// A server whose every write is synced to an append-only file, so that it survives
    /// [`kill`](Self::kill) and [`start_again`](Self::start_again); `None` as
    /// [`start`](Self::start).
    pub fn start_persistent() -> Option<Self> {
        Self::start_with(Some(tempfile::tempdir().unwrap()))
    }

    fn start_with(dir: Option<tempfile::TempDir>) -> Option<Self> {
        if !credkit_testing::program_available(
            "redis-server",
            "CREDKIT_REQUIRE_REDIS",
            "apt-get install redis-server",
        ) {
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            child: None,
            port,
            dir,
        };
        server.start_again();
        Some(server)
    }

    /// Starts the server (again) on its port, and waits until it accepts connections.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the server is running");
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""]);
        match &self.dir {
            Some(dir) => command.arg("--dir").arg(dir.path()).args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ]),
            None => command.args(["--appendonly", "no"]),
        };
        self.child = Some(command.stdout(Stdio::null()).spawn().unwrap());
        let started = Instant::now();
        // Ready once it accepts a connection (polled with a deadline).
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILL: the server is gone at once (a persistent one keeps every write).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
