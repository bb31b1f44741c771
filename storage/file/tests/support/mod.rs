//! Child processes for the file store's tests: the test binary itself, run again with an
//! environment variable that makes one test of it act as the child.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::panic)]

use std::process::{Child, Command, Stdio};

use credkit_core::{AccessToken, CredentialRecord};
use secrecy::{ExposeSecret, SecretString};

/// Runs this test binary's test `name` alone as a child process, with `env` set, its standard
/// input and output piped.
pub fn spawn_child(name: &str, env: &[(&str, String)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", name, "--nocapture", "--test-threads=1", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

/// Record number `n`: its access token and refresh token both carry `n`, so a torn record
/// (one field of one store, another of another) is caught.
pub fn record(n: u64) -> CredentialRecord {
    CredentialRecord::new()
        .with_access_token(&AccessToken::new(format!("at-{n}")))
        .with_refresh_token(SecretString::from(format!("rt-{n}")))
}

/// The `n` of a record made by [`record`], checking that it is whole.
pub fn number(record: &CredentialRecord) -> u64 {
    let at = record.access_token().unwrap();
    let at = at.secret().expose_secret();
    let rt = record.refresh_token().unwrap().expose_secret();
    let n: u64 = at.strip_prefix("at-").unwrap().parse().unwrap();
    assert_eq!(rt, format!("rt-{n}"), "a torn record: {at} with {rt}");
    n
}
