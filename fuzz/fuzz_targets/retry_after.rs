//! `Retry-After` values, seconds or HTTP dates, any bytes: never a panic, never an overflow, and
//! a wait is never longer than the value says.
#![no_main]

use credkit_core::oauth::retry_after;
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = http::HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::RETRY_AFTER, value);
    let now = datetime!(2026-01-01 0:00 UTC);
    if let Some(wait) = retry_after(&headers, now)
        && let Ok(text) = std::str::from_utf8(data)
        && let Ok(seconds) = text.trim().parse::<u64>()
    {
        assert!(wait.as_secs() <= seconds, "a wait longer than asked");
    }
});
