//! The benchmark's own throwaway database servers, on loopback, stopped on drop.

use std::error::Error;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server on a free loopback port, without persistence.
#[derive(Debug)]
pub(crate) struct Redis {
    child: Child,
    port: u16,
}

/// A free loopback port.
pub(crate) fn free_port() -> Result<u16, Box<dyn Error>> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Polls until something accepts connections on `port`, for at most `within`.
pub(crate) fn wait_for_port(port: u16, within: Duration) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > within {
            return Err(
                format!("nothing accepted connections on port {port} within {within:?}").into(),
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

impl Redis {
    pub(crate) fn start() -> Result<Self, Box<dyn Error>> {
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .map_err(|err| {
                format!("redis-server could not be started ({err}): apt-get install redis-server")
            })?;
        let redis = Self { child, port };
        wait_for_port(port, Duration::from_secs(10))?;
        Ok(redis)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
