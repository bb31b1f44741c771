//! The two child roles: a worker (Zipf-distributed `vault.headers(user)` calls for the run's
//! duration) and the probe (memory per cached user, cached latency against one
//! `Credentials`, storage reads of a cold user), each the benchmark's binary run again.

use std::error::Error;
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use credkit_core::{LeasePolicy, Storage};
use credkit_login::OAuthClient;
use credkit_reqwest::ReqwestTransport;
use credkit_storage_postgres::PostgresStorage;
use credkit_storage_redis::RedisStorage;
use credkit_vault::{Keyring, SealedCodec, Vault};
use futures::StreamExt;
use serde_json::json;

use crate::Args;
use crate::counting::Counting;
use crate::stats::{Histogram, Rng, Touches, Zipf};

/// The store the vaults share, as `args` say; records sealed with the keyring in
/// `CREDKIT_VAULT_KEYS` (which the coordinator sets for its children) unless `--plain`.
pub(crate) fn storage(args: &Args, url: &str) -> Result<Arc<dyn Storage>, Box<dyn Error>> {
    let codec = if args.plain {
        None
    } else {
        let keyring = match crate::RUN_KEYS.get() {
            Some(text) => Keyring::parse(text)?,
            None => Keyring::from_env(Keyring::VARIABLE)?,
        };
        Some(SealedCodec::new(keyring))
    };
    match args.store.as_str() {
        "redis" => {
            let mut builder = RedisStorage::builder(url).with_listing();
            if let Some(codec) = codec {
                builder = builder.with_codec(codec);
            }
            Ok(Arc::new(builder.build()?))
        }
        "postgres" => {
            let mut builder = PostgresStorage::builder(url).with_pool_size(args.pool_size);
            if let Some(codec) = codec {
                builder = builder.with_codec(codec);
            }
            Ok(Arc::new(builder.build()?))
        }
        other => Err(format!("unknown store {other:?}: give redis or postgres").into()),
    }
}

/// A vault over `storage`, as every process of the benchmark builds it.
pub(crate) fn vault(
    args: &Args,
    storage: Arc<dyn Storage>,
    capacity: u64,
) -> Result<Vault, Box<dyn Error>> {
    let client = OAuthClient::new("fleet-client", Some("fleet-secret".into()))
        .with_token_uri(&args.token_url)
        .with_revoke_uri(&args.revoke_url);
    let threshold = Duration::from_secs_f64(args.threshold);
    let strict = !args.lenient;
    Ok(Vault::builder(client, storage)
        .with_transport(ReqwestTransport::new()?)
        .with_capacity(capacity)
        .with_credentials(move |builder| {
            let builder = builder.with_refresh_threshold(threshold);
            if strict {
                builder.with_lease_policy(LeasePolicy::strict())
            } else {
                builder
            }
        })
        .build()?)
}

/// User `i`'s ID.
pub(crate) fn user(i: usize) -> String {
    format!("u{i}")
}

fn runtime(args: &Args) -> Result<tokio::runtime::Runtime, Box<dyn Error>> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?)
}

/// What an error counts as.
fn class(err: &credkit_core::Error) -> &'static str {
    if err.oauth_error() == Some("invalid_grant") {
        "invalid_grant"
    } else if err.is_transient() {
        "transient"
    } else {
        "permanent"
    }
}

/// One task's tally.
#[derive(Default)]
struct Tally {
    calls: u64,
    transient: u64,
    permanent: u64,
    invalid_grant: u64,
    first_error: Option<String>,
    latency: Histogram,
}

impl Tally {
    fn add(&mut self, other: Self) {
        self.calls += other.calls;
        self.transient += other.transient;
        self.permanent += other.permanent;
        self.invalid_grant += other.invalid_grant;
        self.first_error = self.first_error.take().or(other.first_error);
        self.latency.merge(&other.latency);
    }
}

/// The worker: says `ready`, waits for `go START_UNIX_MS` on stdin, calls until the run's end,
/// writes its touch bitmap to `--touch-file`, prints `result {json}`.
pub(crate) fn work(args: &Args) -> Result<(), Box<dyn Error>> {
    let runtime = runtime(args)?;
    let vault =
        runtime.block_on(async { vault(args, storage(args, &args.url)?, args.users as u64) })?;
    let names: Arc<Vec<String>> = Arc::new((0..args.users).map(user).collect());
    let zipf = Arc::new(Zipf::new(args.users, args.zipf));
    let run = Duration::from_secs(args.seconds);
    let touches = Arc::new(Touches::new(args.users, run));
    crate::say("ready");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let start_ms: u64 = line
        .trim()
        .strip_prefix("go ")
        .ok_or("expected `go START`")?
        .parse()?;
    let start = UNIX_EPOCH + Duration::from_millis(start_ms);
    let tally = runtime.block_on(async {
        let wait = start
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        tokio::time::sleep(wait).await;
        let started = Instant::now();
        let deadline = started + run;
        // Each task paces itself to its share of the rate (0: as fast as it can).
        let period =
            (args.rate > 0.0).then(|| Duration::from_secs_f64(args.concurrency as f64 / args.rate));
        let tasks: Vec<_> = (0..args.concurrency)
            .map(|task| {
                let (vault, names, zipf, touches) = (
                    vault.clone(),
                    Arc::clone(&names),
                    Arc::clone(&zipf),
                    Arc::clone(&touches),
                );
                let mut rng = Rng::new((args.index as u64) << 32 | task as u64);
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    let mut next =
                        started + period.map_or(Duration::ZERO, |p| p.mul_f64(rng.unit()));
                    loop {
                        if let Some(period) = period {
                            tokio::time::sleep_until(next.into()).await;
                            next += period;
                        }
                        let now = Instant::now();
                        if now >= deadline {
                            break;
                        }
                        let i = zipf.sample(&mut rng);
                        touches.touch(i, now - started);
                        let outcome = vault.headers(&names[i]).await;
                        tally.latency.record(now.elapsed());
                        tally.calls += 1;
                        if let Err(err) = outcome {
                            match class(&err) {
                                "invalid_grant" => tally.invalid_grant += 1,
                                "transient" => tally.transient += 1,
                                _ => tally.permanent += 1,
                            }
                            tally.first_error.get_or_insert_with(|| err.to_string());
                        }
                    }
                    tally
                })
            })
            .collect();
        let mut total = Tally::default();
        for task in tasks {
            if let Ok(tally) = task.await {
                total.add(tally);
            }
        }
        total
    });
    std::fs::write(&args.touch_file, touches.to_bytes())?;
    let report = json!({
        "calls": tally.calls,
        "transient": tally.transient,
        "permanent": tally.permanent,
        "invalid_grant": tally.invalid_grant,
        "first_error": tally.first_error,
        "in_memory": vault.users_in_memory(),
        "latency": tally.latency.encode(),
    });
    crate::say(&format!("result {report}"));
    Ok(())
}

/// The probe: memory per cached user, cached latency, cold reads. Prints `result {json}`.
pub(crate) fn probe(args: &Args) -> Result<(), Box<dyn Error>> {
    let runtime = runtime(args)?;
    let counting = Counting::new(storage(args, &args.url)?);
    // From the top of the range down (the coldest users under Zipf): the measured users, the
    // warm-up users, the cold-read users.
    let warmup_n = (args.users / 4).min(500);
    let cold_n = (args.users / 4).min(args.cold_users);
    let k = args
        .probe_users
        .min(args.users.saturating_sub(warmup_n + cold_n))
        .max(1);
    let vault = vault(args, Arc::new(counting.clone()), (args.users + k) as u64)?;
    let top = args.users;
    let measured: Vec<String> = (top - k..top).map(user).collect();
    let warmup: Vec<String> = (top - k - warmup_n..top - k).map(user).collect();
    let cold: Vec<String> = (top - k - warmup_n - cold_n..top - k - warmup_n)
        .chain(top..top + args.cold_users)
        .map(user)
        .collect();
    let report = runtime.block_on(async {
        let warm = |users: Vec<String>| {
            let vault = vault.clone();
            async move {
                let failed = futures::stream::iter(users)
                    .map(|user| {
                        let vault = vault.clone();
                        async move { vault.headers(&user).await.is_err() }
                    })
                    .buffer_unordered(32)
                    .filter(|failed| std::future::ready(*failed))
                    .count()
                    .await;
                vault.users_in_memory();
                failed
            }
        };
        // Connections, pools and the cache's own structures first, then the measured users
        // while dhat counts.
        let mut failed = warm(warmup).await;
        // With --dhat-file, a profile of where the bytes live (dhat's viewer, "t-end").
        let profiler = if args.dhat_file.is_empty() {
            dhat::Profiler::builder().testing().build()
        } else {
            dhat::Profiler::builder()
                .file_name(&args.dhat_file)
                .trim_backtraces(Some(16))
                .build()
        };
        let before = dhat::HeapStats::get().curr_bytes;
        failed += warm(measured.clone()).await;
        let after = dhat::HeapStats::get().curr_bytes;
        drop(profiler);
        let per_user = after.saturating_sub(before) / k;

        // Cached latency, all timed the same way, in alternating blocks: the vault's
        // headers(user) for a random warm user and for the same one each time; that user's
        // Credentials' headers(); a random warm user's Credentials (the same ones the vault
        // holds, from a Vec: the memory misses of many users without the vault's lookup).
        let mut rng = Rng::new(0x00C0_FFEE);
        let mut held = Vec::with_capacity(k);
        for user in &measured {
            held.push(vault.credentials(user).await?);
        }
        let mut latency = [
            Histogram::default(),
            Histogram::default(),
            Histogram::default(),
            Histogram::default(),
        ];
        for _ in 0..args.samples.div_ceil(1000) {
            for (kind, histogram) in latency.iter_mut().enumerate() {
                for _ in 0..1000 {
                    let i = if kind % 2 == 0 { rng.below(k) } else { 0 };
                    let started = Instant::now();
                    let headers = if kind < 2 {
                        vault.headers(&measured[i]).await
                    } else {
                        held[i].headers().await
                    };
                    histogram.record(started.elapsed());
                    drop(headers?);
                }
            }
        }
        let [via_vault, via_vault_same, via_held, via_one] = latency;
        let cold = cold_reads(&vault, &counting, &cold).await;
        failed += cold.failed;
        Ok::<_, Box<dyn Error>>(json!({
            "measured_users": k,
            "failed": failed,
            "bytes_per_user": per_user,
            "vault_p50_ns": via_vault.quantile(0.5).as_nanos() as u64,
            "vault_p99_ns": via_vault.quantile(0.99).as_nanos() as u64,
            "same_p50_ns": via_vault_same.quantile(0.5).as_nanos() as u64,
            "same_p99_ns": via_vault_same.quantile(0.99).as_nanos() as u64,
            "held_p50_ns": via_held.quantile(0.5).as_nanos() as u64,
            "held_p99_ns": via_held.quantile(0.99).as_nanos() as u64,
            "one_p50_ns": via_one.quantile(0.5).as_nanos() as u64,
            "one_p99_ns": via_one.quantile(0.99).as_nanos() as u64,
            "samples": via_vault.count(),
            "cold_fresh": cold.fresh,
            "cold_fresh_reads": cold.fresh_reads,
            "cold_refreshed": cold.refreshed,
            "cold_reads_before_lease": cold.reads_before_lease,
            "cold_reads_under_lease": cold.reads_under_lease,
        }))
    })?;
    crate::say(&format!("result {report}"));
    Ok(())
}

/// Storage reads of cold users up to their first token.
#[derive(Default)]
struct ColdReads {
    failed: usize,
    /// Users whose stored token was fresh (no refresh), and their reads.
    fresh: u64,
    fresh_reads: u64,
    /// Users refreshed, and their reads before and under the lease.
    refreshed: u64,
    reads_before_lease: u64,
    reads_under_lease: u64,
}

/// Calls each of `users` once, one at a time, and counts its storage reads.
async fn cold_reads(vault: &Vault, counting: &Counting, users: &[String]) -> ColdReads {
    let mut reads = ColdReads::default();
    for user in users {
        let key = vault.storage_key(user);
        counting.watch(&key);
        if vault.headers(user).await.is_err() {
            reads.failed += 1;
            continue;
        }
        let ops = counting.ops(&key);
        if let Some((before, under)) = ops.split_once('L') {
            reads.refreshed += 1;
            reads.reads_before_lease += before.matches('R').count() as u64;
            reads.reads_under_lease += under.matches('R').count() as u64;
        } else {
            reads.fresh += 1;
            reads.fresh_reads += ops.matches('R').count() as u64;
        }
    }
    reads
}
