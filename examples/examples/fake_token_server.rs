//! A fake OAuth token endpoint on 127.0.0.1 for trying the `credkit` tool (and timing it)
//! without real credentials.
//!
//! ```text
//! cargo run -p credkit-examples --example fake_token_server -- DIR
//! ```
//!
//! It writes an `authorized_user` file to `DIR/authorized_user.json`, prints the token URL on
//! one line, and answers every refresh with a new token valid for an hour until its standard
//! input closes. Each line `count` on its standard input is answered with a line holding the
//! number of token requests served so far (for benchmarks that count requests). Then, in
//! another shell:
//!
//! ```text
//! credkit token --credentials DIR/authorized_user.json --token-uri URL --cache DIR/cache
//! ```

use std::error::Error;
use std::io::{BufRead, Write};
use std::path::PathBuf;

use credkit_testing::FakeTokenServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: fake_token_server DIR")?,
    );
    std::fs::create_dir_all(&dir)?;
    let server = FakeTokenServer::start().await?;
    let credentials = serde_json::json!({
        "type": "authorized_user",
        "client_id": "fake-client.apps.googleusercontent.com",
        "client_secret": "fake-client-secret",
        "refresh_token": "fake-refresh-token",
    });
    std::fs::write(dir.join("authorized_user.json"), credentials.to_string())?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", server.token_url())?;
    out.flush()?;
    drop(out);
    // Serve until standard input closes, answering `count` lines.
    let counter = server.endpoint().clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        for line in std::io::stdin().lock().lines() {
            if line?.trim() == "count" {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", counter.request_count())?;
                out.flush()?;
            }
        }
        Ok(())
    })
    .await??;
    let requests = server.request_count();
    server.shutdown().await;
    eprintln!("served {requests} token requests");
    Ok(())
}
