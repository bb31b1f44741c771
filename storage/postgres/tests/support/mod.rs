//! A throwaway Postgres cluster per test: `initdb` in a temporary directory, `postgres` on a
//! free loopback port (its socket in that directory too), without durability (`fsync=off`),
//! stopped (`pg_ctl stop -m immediate`, then killed) and removed on drop.
//!
//! Self-contained (std, tempfile, tokio, tokio-postgres and credkit-testing only), so that
//! other crates' tests can include it with `#[path = ".../support/mod.rs"] mod postgres;`.
//!
//! The programs (`initdb`, `pg_ctl`, `postgres`, `pg_isready`) are looked for on `PATH`, then
//! in `/usr/lib/postgresql/*/bin` (Debian's layout, newest first). Without them the tests are
//! skipped, loudly, unless `CREDKIT_REQUIRE_POSTGRES=1` (CI sets it), where they fail. Install
//! them with `apt-get install postgresql` (Debian, Ubuntu) or `brew install postgresql`.
//!
//! Postgres refuses to run as root: when the tests run as root, the cluster runs as the
//! `postgres` user that Debian's package creates (or `CREDKIT_POSTGRES_USER`), through
//! `setpriv`.
#![allow(
    dead_code,
    unused_macros,
    unused_imports,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cluster's superuser, trusted on loopback (no password: a SCRAM login costs a debug
/// build tens of milliseconds of PBKDF2, and the contract suite makes many connections).
pub const USER: &str = "credkit";
/// The user who must log in with [`PASSWORD`] (SCRAM), made by
/// [`PgServer::password_url`].
pub const PASSWORD_USER: &str = "credkit_pw";
/// [`PASSWORD_USER`]'s password.
pub const PASSWORD: &str = "credkit-test-password";
/// The database the URL names (made by `initdb`).
pub const DATABASE: &str = "postgres";

const REQUIRE: &str = "CREDKIT_REQUIRE_POSTGRES";
const INSTALL: &str = "apt-get install postgresql";

/// The directory holding `initdb`, `pg_ctl`, `postgres` and `pg_isready`, if any.
pub fn postgres_bin() -> Option<PathBuf> {
    let complete = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres", "pg_isready"]
            .iter()
            .all(|program| dir.join(program).is_file())
    };
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    // The real binaries' directory, where PATH holds symbolic links to some of them.
    let on_path = on_path.into_iter().filter_map(|dir| {
        let initdb = std::fs::canonicalize(dir.join("initdb")).ok()?;
        Some(initdb.parent()?.to_path_buf())
    });
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.filter_map(|dir| Some(dir.ok()?.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    // Newest first (numerically: 15 before 9.6).
    debian.sort_by_key(|dir| {
        let version = dir
            .parent()
            .and_then(Path::file_name)
            .and_then(|name| name.to_str())
            .and_then(|name| name.split('.').next()?.parse::<u32>().ok())
            .unwrap_or(0);
        std::cmp::Reverse(version)
    });
    on_path.chain(debian).find(|dir| complete(dir))
}

/// Whether a cluster can run here (see the module's docs).
pub fn postgres_available() -> bool {
    let postgres = postgres_bin().map_or_else(
        || "postgres".to_owned(),
        |bin| bin.join("postgres").display().to_string(),
    );
    credkit_testing::program_available(&postgres, REQUIRE, INSTALL)
}

/// Returns from the test, loudly skipped, when Postgres is not installed (see
/// [`postgres_available`]).
macro_rules! require_postgres {
    () => {
        if !crate::support::postgres_available() {
            return;
        }
    };
}
pub(crate) use require_postgres;

/// A running throwaway cluster.
#[derive(Debug)]
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// `(uid, gid)` to run the programs as, when the tests run as root.
    run_as: Option<(String, String)>,
    /// Settings given to `postgres` after the defaults (`["-c", "name=value"]`).
    settings: Vec<String>,
    child: Option<Child>,
}

impl PgServer {
    /// A new cluster on a free loopback port, accepting connections.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`start`](Self::start) with `settings` on `postgres`'s command line after the
    /// defaults (`["-c", "shared_preload_libraries=pg_stat_statements"]`).
    pub fn start_with(settings: &[&str]) -> Self {
        let bin = postgres_bin().unwrap_or_else(|| panic!("Postgres is not installed: {INSTALL}"));
        let dir = tempfile::tempdir().unwrap();
        let run_as = run_as();
        if let Some((uid, gid)) = &run_as {
            let status = Command::new("chown")
                .args(["-R", &format!("{uid}:{gid}")])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success(), "chown of the cluster's directory failed");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            dir,
            bin,
            port,
            run_as,
            settings: settings.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
        };
        let data = server.data();
        let output = server
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", USER, "--auth=trust"])
            .args(["-E", "UTF8", "--no-locale", "--no-sync"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // Only PASSWORD_USER logs in with a password; every other user is trusted.
        std::fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all all trust\n\
                 host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n\
                 host all all 127.0.0.1/32 trust\n"
            ),
        )
        .unwrap();
        server.launch();
        server
    }

    /// `postgres://credkit@127.0.0.1:PORT/postgres` (a superuser, trusted).
    pub fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// The URL of [`PASSWORD_USER`] with `password` (the right one is [`PASSWORD`]), made a
    /// superuser first if it is not there yet.
    pub async fn password_url(&self, password: &str) -> String {
        self.execute(&format!(
            "DO $$ BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{PASSWORD_USER}') THEN
                    CREATE ROLE {PASSWORD_USER} LOGIN SUPERUSER PASSWORD '{PASSWORD}';
                END IF;
            END $$"
        ))
        .await;
        format!(
            "postgres://{PASSWORD_USER}:{password}@127.0.0.1:{}/{DATABASE}",
            self.port
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection for checks from tests (its connection task runs on the current runtime).
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Runs `sql` (one or more statements, no parameters).
    pub async fn execute(&self, sql: &str) {
        self.client().await.batch_execute(sql).await.unwrap();
    }

    /// Stops the cluster at once (`pg_ctl stop -m immediate`, then a kill); its data stays
    /// for [`restart`](Self::restart).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = self
            .command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "-t", "10"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops the cluster and starts it again on the same port, with the same data, and waits
    /// until it accepts connections.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("postgres.log"))
            .unwrap();
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .args(["-c", "shared_buffers=16MB"])
            .args(["-c", "max_connections=60"])
            .args(&self.settings)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.child = Some(child);
        // Poll with a deadline (not a fixed sleep): ready as soon as it accepts connections,
        // past its start-up and any recovery.
        let started = Instant::now();
        loop {
            let ready = self
                .command("pg_isready")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
                .args(["-U", USER, "-d", DATABASE, "-q"])
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("postgres exited ({status}): {}", self.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "postgres did not accept connections on port {} within 30 s: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `program` of the cluster's installation, run as the cluster's user, in its directory.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = match &self.run_as {
            Some((uid, gid)) => {
                let mut command = Command::new("setpriv");
                command
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(path);
                command
            }
            None => Command::new(path),
        };
        command.current_dir(self.dir.path()).stdin(Stdio::null());
        command
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The user (as numeric uid and gid) to run the cluster as: none unless running as root.
fn run_as() -> Option<(String, String)> {
    let id = |args: &[&str]| {
        let output = Command::new("id").args(args).output().ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    if id(&["-u"]).as_deref() != Some("0") {
        return None;
    }
    let user = std::env::var("CREDKIT_POSTGRES_USER").unwrap_or_else(|_| "postgres".to_owned());
    let uid = id(&["-u", &user]).unwrap_or_else(|| {
        panic!(
            "running as root, the cluster needs a user of its own: create `{user}` \
             (apt-get install postgresql does), or name one in CREDKIT_POSTGRES_USER"
        )
    });
    let gid = id(&["-g", &user]).unwrap();
    Some((uid, gid))
}

/// A loopback address on which nothing listens (connections are refused).
pub fn refusing_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("postgres://{USER}@127.0.0.1:{port}/{DATABASE}")
}

/// A loopback server that accepts connections and never answers, with the URL to it; the
/// connections it holds close when it drops.
pub fn silent_server() -> (SilentServer, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopping = std::sync::Arc::clone(&stop);
    let thread = std::thread::spawn(move || {
        let mut held = Vec::new();
        while !stopping.load(std::sync::atomic::Ordering::Acquire) {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    (
        SilentServer {
            stop,
            thread: Some(thread),
        },
        format!("postgres://{USER}@127.0.0.1:{port}/{DATABASE}"),
    )
}

/// See [`silent_server`].
#[derive(Debug)]
pub struct SilentServer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
