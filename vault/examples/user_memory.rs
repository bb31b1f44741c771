//! Memory per cached user, measured alone: a vault on `MemoryStorage` (records stored
//! first, then forgotten), warmed user by user while dhat counts. With `--dhat-file F`, a
//! profile of where the bytes live (dhat's viewer, "t-end").
//!
//! `cargo run --release -p credkit-vault --example user_memory -- [USERS] [--dhat-file F]`
// A measuring program: setup may fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Duration;

use credkit_core::{AccessToken, Clock, MemoryStorage, SystemClock};
use credkit_login::OAuthClient;
use credkit_testing::FakeTokenEndpoint;
use credkit_vault::{Grant, Vault};
use futures::executor::block_on;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const TOKEN: &str = "ya29.a0AfB_byC-a-token-of-a-realistic-length-0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz";

fn main() {
    let mut args = std::env::args().skip(1);
    let mut users = 10_000usize;
    let mut dhat_file = None;
    while let Some(arg) = args.next() {
        if arg == "--dhat-file" {
            dhat_file = args.next();
        } else {
            users = arg.parse().expect("USERS is a number");
        }
    }
    let endpoint = FakeTokenEndpoint::new();
    let client = OAuthClient::new(
        "client-id.apps.googleusercontent.com",
        Some("client-secret".into()),
    )
    .with_token_uri(endpoint.token_url());
    let vault = Vault::builder(client, MemoryStorage::new())
        .with_transport(endpoint)
        .with_scopes(["https://www.googleapis.com/auth/gmail.readonly"])
        .with_capacity(2 * users as u64 + 16)
        .build()
        .unwrap();
    let now = SystemClock.now();
    let user = |i: usize| format!("tenant-42/user-{i:08}");
    for i in 0..2 * users {
        let token = AccessToken::new(TOKEN)
            .with_lifetime(now, Duration::from_secs(3600))
            .with_granted_scopes(["https://www.googleapis.com/auth/gmail.readonly"]);
        block_on(vault.insert(
            &user(i),
            Grant::new(format!("1//0g-a-refresh-token-of-a-realistic-length-{i:08}-abcdefghijklmnopqrstuvwxyz0123456789"))
                .with_access_token(token),
        ))
        .unwrap();
        vault.forget(&user(i));
    }
    // The cache's own structures first, then the measured users while dhat counts.
    for i in 0..users {
        block_on(vault.headers(&user(i))).unwrap();
    }
    vault.users_in_memory();
    let profiler = match &dhat_file {
        Some(file) => dhat::Profiler::builder()
            .file_name(file)
            .trim_backtraces(Some(16))
            .build(),
        None => dhat::Profiler::builder().testing().build(),
    };
    let before = dhat::HeapStats::get().curr_bytes;
    for i in users..2 * users {
        block_on(vault.headers(&user(i))).unwrap();
    }
    vault.users_in_memory();
    let after = dhat::HeapStats::get().curr_bytes;
    drop(profiler);
    println!(
        "{} B per cached user ({users} users)",
        after.saturating_sub(before) / users
    );
}
