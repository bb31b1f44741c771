//! Prints a `service_account` key file of an RSA-2048 key generated for this run (the test kit's
//! `TestKey`), for `.ci/bench-signing`: `cargo run -p credkit-service-account --example
//! test_key_file -- EMAIL`.
#![allow(clippy::print_stdout)]

use credkit_testing::TestKey;

fn main() -> std::io::Result<()> {
    let email = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "bench@credkit-test.iam.gserviceaccount.com".to_owned());
    let key = TestKey::generate()?;
    println!(
        "{}",
        key.service_account_json(&email, "https://oauth2.googleapis.com/token")
    );
    Ok(())
}
