//! The vault's fleet benchmark: many users' refresh tokens in a shared store, several worker
//! processes calling `vault.headers(user)` for Zipf-distributed users, tokens that expire
//! during the run. Loopback only: it starts its own redis-server and its own token endpoint.
//!
//! ```text
//! cargo run --release -p credkit-vault --example fleet -- \
//!     --store redis --users 100000 --workers 4 --seconds 60
//! ```
//!
//! It reports, as a markdown table:
//!
//! - **token requests per user per expiry window** (goal 1.00): the token endpoint's grants
//!   during the run, divided by the expiry windows the users were called in. A user's windows
//!   are counted from the calls of every worker (merged, at 100 ms resolution): a window opens
//!   at the first call not served by the last window's token, and lasts as long as a token
//!   stays fresh (its lifetime less the refresh threshold). Also: grants asked for while the
//!   user's last token was still fresh (a process that missed another's refresh; goal 0);
//! - **`invalid_grant` answers** (goal 0): the endpoint rotates each user's refresh token and
//!   accepts only the latest (unless `--lenient`), so two processes racing for one grant show;
//! - **memory per cached user** (goal ≤ 2 KiB): in a probe process after the run, the bytes
//!   still allocated (dhat's counting allocator) after warming K users, over K;
//! - **cached `headers(user)` latency** (goal within 2× of one `Credentials::headers()`): both
//!   timed call by call, in the same probe process, in alternating blocks;
//! - **a cold user's storage reads before its first token** (goal 1 before the refresh): the
//!   probe's storage is wrapped in a decorator that writes down each operation on a key.
//!
//! The workers are this binary run again (`--role worker`), as is the probe (`--role probe`).
// The report is printed; the children answer on standard output.
#![allow(clippy::print_stdout, clippy::print_stderr)]
// Figures: counts become ratios and milliseconds.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod counting;
// The Postgres store's own test harness: a throwaway cluster on loopback (it allows itself
// what a test harness may).
#[allow(clippy::pedantic)]
#[path = "../../../storage/postgres/tests/support/mod.rs"]
mod postgres;
mod servers;
mod stats;
// Shared with the vault's multi-process tests, which use the rest of it.
#[allow(dead_code)]
mod token_server;
mod worker;

use std::error::Error;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use credkit_vault::Grant;
use futures::StreamExt;

use stats::{Histogram, Touches};
use token_server::{TokenServer, early_grants, initial_refresh_token};

/// dhat's allocator: counts only while the probe's profiler runs (it takes a lock per
/// allocation in every process of the benchmark, the same for the vault and the baseline).
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// The vault's fleet benchmark (loopback only).
#[derive(Parser, Debug, Clone)]
#[command(name = "fleet")]
pub(crate) struct Args {
    /// The stores to run on, one after the other: redis, postgres (comma-separated).
    #[arg(long, default_value = "redis")]
    store: String,
    /// Users seeded.
    #[arg(long, default_value_t = 2000)]
    users: usize,
    /// Worker processes.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// The run's duration, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Access tokens' lifetime, in seconds (0: 20 s, or two fifths of a shorter run, at least
    /// 4 s, so that tokens expire during the run).
    #[arg(long, default_value_t = 0)]
    lifetime: u64,
    /// The vault's refresh threshold, in seconds (a token is stale this long before its
    /// expiry, or a quarter of its lifetime when that is shorter).
    #[arg(long, default_value_t = 5.0)]
    threshold: f64,
    /// Zipf's exponent over users.
    #[arg(long, default_value_t = 1.0)]
    zipf: f64,
    /// Concurrent callers per worker.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Calls per second per worker (0: as fast as they go).
    #[arg(long, default_value_t = 2000.0)]
    rate: f64,
    /// Tokio worker threads per worker process.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// No rotation: the endpoint accepts any refresh token it issued.
    #[arg(long)]
    lenient: bool,
    /// Records in clear (default: sealed with `SealedCodec`, AES-256-GCM, under a key made for
    /// the run).
    #[arg(long)]
    plain: bool,
    /// Postgres connections per process's pool.
    #[arg(long, default_value_t = 4)]
    pool_size: usize,
    /// Users the probe warms to measure memory (from those the workers call).
    #[arg(long, default_value_t = 5000)]
    probe_users: usize,
    /// Cold users the probe counts storage reads of: as many from those the workers called,
    /// and as many more seeded for it alone (whose first call refreshes).
    #[arg(long, default_value_t = 200)]
    cold_users: usize,
    /// Timed calls of each kind in the probe.
    #[arg(long, default_value_t = 200_000)]
    samples: usize,
    /// Writes the probe's heap profile of the measured users there (for dhat's viewer).
    #[arg(long, default_value = "")]
    dhat_file: String,
    /// Concurrent inserts while seeding.
    #[arg(long, default_value_t = 64)]
    seed_concurrency: usize,

    // Set by the coordinator for its children.
    #[arg(long, hide = true, default_value = "")]
    role: String,
    #[arg(long, hide = true, default_value_t = 0)]
    index: usize,
    #[arg(long, hide = true, default_value = "")]
    url: String,
    #[arg(long, hide = true, default_value = "")]
    token_url: String,
    #[arg(long, hide = true, default_value = "")]
    revoke_url: String,
    #[arg(long, hide = true, default_value = "")]
    touch_file: String,
}

impl Args {
    /// How long a token stays fresh.
    fn fresh_for(&self) -> Duration {
        let lifetime = self.lifetime as f64;
        Duration::from_secs_f64(lifetime - self.threshold.min(lifetime / 4.0))
    }

    /// The arguments of a child in `role`.
    fn child_args(&self, role: &str, index: usize, touch_file: &str) -> Vec<String> {
        let mut args = vec![
            format!("--role={role}"),
            format!("--index={index}"),
            format!("--store={}", self.store),
            format!("--url={}", self.url),
            format!("--token-url={}", self.token_url),
            format!("--revoke-url={}", self.revoke_url),
            format!("--touch-file={touch_file}"),
            format!("--users={}", self.users),
            format!("--seconds={}", self.seconds),
            format!("--lifetime={}", self.lifetime),
            format!("--threshold={}", self.threshold),
            format!("--zipf={}", self.zipf),
            format!("--concurrency={}", self.concurrency),
            format!("--rate={}", self.rate),
            format!("--threads={}", self.threads),
            format!("--probe-users={}", self.probe_users),
            format!("--cold-users={}", self.cold_users),
            format!("--samples={}", self.samples),
            format!("--dhat-file={}", self.dhat_file),
        ];
        if self.lenient {
            args.push("--lenient".to_owned());
        }
        if self.plain {
            args.push("--plain".to_owned());
        }
        args.push(format!("--pool-size={}", self.pool_size));
        args
    }
}

/// The run's keyring text (the coordinator's; its children get it in `CREDKIT_VAULT_KEYS`).
pub(crate) static RUN_KEYS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Prints a line for the coordinator, at once.
pub(crate) fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = Args::parse();
    if args.role.is_empty() && !args.plain {
        // The run's data key, for every process (children inherit the environment).
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| "no randomness for the run's data key")?;
        let text = format!(
            "fleet-run:{}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key)
        );
        let _ = RUN_KEYS.set(text);
    }
    if args.lifetime == 0 {
        args.lifetime = (args.seconds * 2 / 5).clamp(4, 20);
    }
    match args.role.as_str() {
        "worker" => worker::work(&args),
        "probe" => worker::probe(&args),
        "" => coordinate(&args),
        other => Err(format!("unknown role {other:?}").into()),
    }
}

/// A child process and its answer lines.
struct Proc {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Proc {
    fn spawn(args: &[String]) -> Result<Self, Box<dyn Error>> {
        let mut command = Command::new(std::env::current_exe()?);
        if let Some(keys) = RUN_KEYS.get() {
            command.env(credkit_vault::Keyring::VARIABLE, keys);
        }
        let mut child = command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        Ok(Self { child, lines })
    }

    fn expect_line(&self, prefix: &str, within: Duration) -> Result<String, Box<dyn Error>> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .map_err(|_| format!("a child did not say {prefix:?} within {within:?}"))?;
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(rest.trim().to_owned());
            }
        }
    }

    fn send(&mut self, line: &str) -> Result<(), Box<dyn Error>> {
        let stdin = self.child.stdin.as_mut().ok_or("no stdin")?;
        writeln!(stdin, "{line}")?;
        stdin.flush()?;
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// One store's figures.
#[derive(Debug, Default)]
struct Figures {
    store: String,
    seed: Duration,
    calls: u64,
    transient: u64,
    permanent: u64,
    invalid_calls: u64,
    first_error: Option<String>,
    latency: Histogram,
    grants: u64,
    windows: u64,
    touched: u64,
    early: u64,
    invalid_grants: u64,
    probe: serde_json::Value,
}

fn coordinate(args: &Args) -> Result<(), Box<dyn Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut all = Vec::new();
    for store in args.store.split(',').map(str::trim) {
        let mut args = args.clone();
        store.clone_into(&mut args.store);
        eprintln!(
            "== {store}: {} users, {} workers, {} s",
            args.users, args.workers, args.seconds
        );
        all.push(run_one(&runtime, &mut args)?);
    }
    print!("{}", table(args, &all));
    Ok(())
}

fn run_one(runtime: &tokio::runtime::Runtime, args: &mut Args) -> Result<Figures, Box<dyn Error>> {
    // The store's server, stopped when this returns.
    let _server: Box<dyn std::any::Any> = match args.store.as_str() {
        "redis" => {
            let redis = servers::Redis::start()?;
            args.url = redis.url();
            Box::new(redis)
        }
        "postgres" => {
            if !postgres::postgres_available() {
                return Err("Postgres is not installed: apt-get install postgresql".into());
            }
            let cluster = postgres::PgServer::start();
            args.url = cluster.url();
            Box::new(cluster)
        }
        other => return Err(format!("unknown store {other:?}: give redis or postgres").into()),
    };
    let server = runtime.block_on(TokenServer::start(
        Duration::from_secs(args.lifetime),
        !args.lenient,
    ))?;
    args.token_url = server.token_url();
    args.revoke_url = server.revoke_url();
    let mut figures = Figures {
        store: args.store.clone(),
        ..Figures::default()
    };

    // Seed: each user's first grant, inserted as a service does after consent.
    let started = Instant::now();
    runtime.block_on(async {
        let vault = worker::vault(args, worker::storage(args, &args.url)?, 1)?;
        // The workers' users, and the probe's own cold users after them.
        let failures = futures::stream::iter(0..args.users + args.cold_users)
            .map(|i| {
                let vault = vault.clone();
                async move {
                    let user = worker::user(i);
                    vault
                        .insert(&user, Grant::new(initial_refresh_token(&user)))
                        .await
                        .err()
                }
            })
            .buffer_unordered(args.seed_concurrency.max(1))
            .filter_map(std::future::ready)
            .collect::<Vec<_>>()
            .await;
        match failures.first() {
            Some(err) => Err(format!("seeding failed for {} users: {err}", failures.len()).into()),
            None => Ok::<(), Box<dyn Error>>(()),
        }
    })?;
    figures.seed = started.elapsed();
    eprintln!(
        "seeded {} users in {:.1?}",
        args.users + args.cold_users,
        figures.seed
    );

    // The run.
    let dir = tempfile::tempdir()?;
    let mut workers = Vec::new();
    for index in 0..args.workers {
        let touch_file = dir.path().join(format!("touches-{index}"));
        let child_args = args.child_args("worker", index, &touch_file.to_string_lossy());
        workers.push((Proc::spawn(&child_args)?, touch_file));
    }
    for (worker, _) in &workers {
        worker.expect_line("ready", Duration::from_secs(60))?;
    }
    let start = SystemTime::now() + Duration::from_millis(200);
    let start_ms = start.duration_since(UNIX_EPOCH)?.as_millis();
    for (worker, _) in &mut workers {
        worker.send(&format!("go {start_ms}"))?;
    }
    let run = Duration::from_secs(args.seconds);
    let touches = Touches::new(args.users, run);
    for (worker, touch_file) in &workers {
        let report = worker.expect_line("result ", run + Duration::from_secs(120))?;
        let report: serde_json::Value = serde_json::from_str(&report)?;
        let number = |name: &str| report[name].as_u64().unwrap_or(0);
        figures.calls += number("calls");
        figures.transient += number("transient");
        figures.permanent += number("permanent");
        figures.invalid_calls += number("invalid_grant");
        if figures.first_error.is_none() {
            figures.first_error = report["first_error"].as_str().map(str::to_owned);
        }
        figures
            .latency
            .merge(&Histogram::decode(report["latency"].as_str().unwrap_or("")));
        touches.merge_bytes(&std::fs::read(touch_file)?);
    }
    drop(workers);

    account(args, &server, &touches, &mut figures);

    // The probe, in a quiet system.
    let probe = Proc::spawn(&args.child_args("probe", 0, ""))?;
    let report = probe.expect_line("result ", Duration::from_secs(600))?;
    figures.probe = serde_json::from_str(&report)?;
    Ok(figures)
}

/// The token endpoint's book against the calls.
fn account(args: &Args, server: &TokenServer, touches: &Touches, figures: &mut Figures) {
    let books = server.users();
    let fresh_for = args.fresh_for();
    for i in 0..args.users {
        let windows = touches.windows(i, fresh_for);
        figures.windows += windows;
        figures.touched += u64::from(windows > 0);
        if let Some(book) = books.get(&worker::user(i)) {
            figures.grants += book.grants.len() as u64;
            figures.early +=
                early_grants(&book.grants, fresh_for, Duration::from_millis(500)) as u64;
        }
    }
    figures.invalid_grants = server.invalid_grants();
    eprintln!(
        "run: {} calls, {} token requests for {} expiry windows of {} users",
        figures.calls, figures.grants, figures.windows, figures.touched
    );
}

fn micros(nanos: u64) -> String {
    format!("{:.2} µs", nanos as f64 / 1000.0)
}

// One row per figure: long, and flat.
#[allow(clippy::too_many_lines)]
fn table(args: &Args, all: &[Figures]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} users, {} worker processes × {} callers ({} calls/s each{}), {} s, Zipf s = {}, \
         tokens of {} s stale {:.1} s before expiry, {} rotation; loopback, one machine.\n",
        args.users,
        args.workers,
        args.concurrency,
        if args.rate > 0.0 {
            format!("{}", args.rate)
        } else {
            "unthrottled".to_owned()
        },
        format_args!(", {} runtime threads", args.threads),
        args.seconds,
        args.zipf,
        args.lifetime,
        args.lifetime as f64 - args.fresh_for().as_secs_f64(),
        if args.lenient { "no" } else { "strict" },
    );
    let mut header = "| | goal |".to_owned();
    let mut rule = "|---|---|".to_owned();
    for figures in all {
        let _ = write!(header, " {} |", figures.store);
        rule.push_str("---|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    let mut row = |name: &str, goal: &str, cell: &dyn Fn(&Figures) -> String| {
        let mut line = format!("| {name} | {goal} |");
        for figures in all {
            let _ = write!(line, " {} |", cell(figures));
        }
        let _ = writeln!(out, "{line}");
    };
    row("token requests per user per expiry window", "1.00", &|f| {
        format!(
            "{:.3} ({} / {})",
            f.grants as f64 / f.windows.max(1) as f64,
            f.grants,
            f.windows
        )
    });
    row("requests while the last token was fresh", "0", &|f| {
        f.early.to_string()
    });
    row("`invalid_grant` answers", "0", &|f| {
        f.invalid_grants.to_string()
    });
    row("memory per cached user", "≤ 2 KiB", &|f| {
        format!(
            "{} B (K = {})",
            f.probe["bytes_per_user"].as_u64().unwrap_or(0),
            f.probe["measured_users"].as_u64().unwrap_or(0)
        )
    });
    let latency = |f: &Figures, name: &str| {
        let p = |q: &str| f.probe[format!("{name}_{q}_ns")].as_u64().unwrap_or(0);
        format!("{} / {}", micros(p("p50")), micros(p("p99")))
    };
    let ratio = |f: &Figures, name: &str| {
        let p = |name: &str| f.probe[name].as_u64().unwrap_or(0) as f64;
        p(&format!("{name}_p50_ns")) / p("one_p50_ns").max(1.0)
    };
    row("one `Credentials::headers()` p50 / p99", "", &|f| {
        latency(f, "one")
    });
    row(
        "cached `headers(user)`, same user, p50 / p99",
        "≤ 2× one `Credentials`",
        &|f| format!("{} ({:.2}× at p50)", latency(f, "same"), ratio(f, "same")),
    );
    row(
        "cached `headers(user)`, random warm user, p50 / p99",
        "",
        &|f| {
            format!(
                "{} ({:.2}× at p50; that user's `Credentials` from a `Vec`: {})",
                latency(f, "vault"),
                ratio(f, "vault"),
                latency(f, "held")
            )
        },
    );
    row(
        "cold user: storage reads before its first token",
        "1 before the refresh",
        &|f| {
            let p = |name: &str| f.probe[name].as_u64().unwrap_or(0);
            let per = |reads: u64, users: u64| reads as f64 / users.max(1) as f64;
            format!(
                "stored token fresh: {:.2} ({} users); refreshed: {:.2} before the lease + {:.2} under it ({} users)",
                per(p("cold_fresh_reads"), p("cold_fresh")),
                p("cold_fresh"),
                per(p("cold_reads_before_lease"), p("cold_refreshed")),
                per(p("cold_reads_under_lease"), p("cold_refreshed")),
                p("cold_refreshed")
            )
        },
    );
    row("calls (all workers), calls/s", "", &|f| {
        format!(
            "{} ({:.0}/s)",
            f.calls,
            f.calls as f64 / args.seconds.max(1) as f64
        )
    });
    row("users touched", "", &|f| f.touched.to_string());
    row(
        "`headers(user)` under load p50 / p99 (all calls)",
        "",
        &|f| {
            format!(
                "{} / {}",
                micros(f.latency.quantile(0.5).as_nanos() as u64),
                micros(f.latency.quantile(0.99).as_nanos() as u64)
            )
        },
    );
    row(
        "errors (transient / permanent / invalid_grant)",
        "0",
        &|f| {
            let mut cell = format!("{} / {} / {}", f.transient, f.permanent, f.invalid_calls);
            if let Some(first) = &f.first_error {
                let _ = write!(cell, " (first: {})", first.replace('|', "/"));
            }
            cell
        },
    );
    row("seeding (inserts)", "", &|f| {
        format!(
            "{:.1?} ({:.0}/s)",
            f.seed,
            args.users as f64 / f.seed.as_secs_f64().max(1e-9)
        )
    });
    let _ = writeln!(
        out,
        "\nMachine: 2 cores shared by the workers, the store, the token endpoint and other jobs; \
         every process runs dhat's allocator (a lock per allocation, counting only in the probe)."
    );
    out
}
