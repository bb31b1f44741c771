//! Two worker processes share one credential through Redis: one token request between them,
//! and the rotated refresh token lands in Redis for both.
//!
//! ```text
//! redis-server --port 6390 --save '' --appendonly no &
//! cargo run -p credkit-examples --example redis_workers -- redis://127.0.0.1:6390/0
//! ```
//!
//! The program starts a loopback token endpoint (with strict rotation: a refresh token works
//! once), then runs itself twice more as workers. Each worker builds its own `Credentials` on
//! a `RedisStorage` and asks for a token; they take turns on the Redis lease, so the second
//! one finds the token the first one stored.

use credkit_core::LeasePolicy;
use std::error::Error;
use std::process::{Command, Stdio};

use credkit_core::Credentials;
use credkit_refresh_token::UserCredentials;
use credkit_reqwest::ReqwestTransport;
use credkit_storage_redis::RedisStorage;
use credkit_testing::FakeTokenServer;
use secrecy::ExposeSecret;

/// The key both workers share: it names the credential, never a secret.
const KEY: &str = "example:user:client-id";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [redis_url, worker, token_url, name] if worker == "worker" => {
            run_worker(redis_url, token_url, name).await
        }
        [redis_url] => run_both(redis_url).await,
        _ => Err("usage: redis_workers redis://HOST:PORT/DB".into()),
    }
}

/// Starts the token endpoint and two workers, and checks they made one request between them.
async fn run_both(redis_url: &str) -> Result<(), Box<dyn Error>> {
    // A fresh start: no record left from an earlier run.
    credkit_core::Storage::remove(&RedisStorage::new(redis_url)?, KEY).await?;
    let server = FakeTokenServer::start().await?;
    server.set_strict_rotation("1//initial-refresh-token");
    let workers: Vec<_> = ["worker-1", "worker-2"]
        .into_iter()
        .map(|name| {
            Command::new(std::env::current_exe()?)
                .args([redis_url, "worker", &server.token_url(), name])
                .stdout(Stdio::inherit())
                .spawn()
        })
        .collect::<Result<_, _>>()?;
    for mut worker in workers {
        let status = tokio::task::spawn_blocking(move || worker.wait()).await??;
        if !status.success() {
            return Err(format!("a worker failed: {status}").into());
        }
    }
    say(&format!(
        "token requests made by both workers together: {}",
        server.request_count()
    ));
    Ok(())
}

/// One worker: its own credentials on the shared Redis store.
async fn run_worker(redis_url: &str, token_url: &str, name: &str) -> Result<(), Box<dyn Error>> {
    let user = UserCredentials::builder()
        .with_refresh_token("1//initial-refresh-token")
        .with_token_uri(token_url)
        .with_client_id("client-id")
        .with_client_secret("client-secret")
        .with_transport(ReqwestTransport::new()?)
        .build()?;
    let credentials = Credentials::builder(user)
        .with_storage(RedisStorage::new(redis_url)?, KEY)
        // The refresh token rotates: never refresh outside the lease.
        .with_lease_policy(LeasePolicy::strict())
        .build()?;
    let token = credentials.access_token().await?;
    let secret = token.secret().expose_secret();
    say(&format!(
        "{name}: token {}… (expires {:?})",
        &secret[..secret.len().min(12)],
        token.expiry()
    ));
    Ok(())
}

#[allow(clippy::print_stdout)]
fn say(line: &str) {
    println!("{line}");
}
