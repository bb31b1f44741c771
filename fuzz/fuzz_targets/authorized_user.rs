//! `authorized_user` JSON as bytes: parsed, and when it loads, written back out and loaded again
//! to the same document. Errors never carry the file's secrets or a raw control character.
#![no_main]

use credkit_fuzz::assert_error_clean;
use credkit_refresh_token::UserCredentials;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Whether a member the refresh needs is present but `null`.
fn has_null_required_member(value: &Value) -> bool {
    ["refresh_token", "client_id", "client_secret"]
        .iter()
        .any(|name| value.get(name).is_some_and(Value::is_null))
}

/// Writes `creds` out and loads the document again.
fn round_trip(creds: &UserCredentials) -> (UserCredentials, zeroize::Zeroizing<String>) {
    let written = creds.to_json(&[]);
    let again: Value = serde_json::from_str(&written).expect("to_json writes JSON");
    let reloaded = UserCredentials::from_authorized_user_info(&again, None)
        .expect("what to_json writes loads again");
    (reloaded, written)
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // The secrets a seed planted (values marked "planted"): an error may quote other text that
    // happens to equal a field's value, such as a member name, so only marked ones are checked.
    let secrets: Vec<String> = [
        "refresh_token",
        "client_secret",
        "token",
        "rapt_token",
        "id_token",
    ]
    .iter()
    .filter_map(|name| value.get(name).and_then(Value::as_str).map(str::to_owned))
    .filter(|value| value.contains("planted"))
    .collect();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    match UserCredentials::from_authorized_user_info(&value, None) {
        Ok(creds) => {
            // The reference checks required members by presence: a `null` one loads, and
            // `to_json` leaves it out (as `json.dumps` of the reference's dict does), so the
            // written document lacks it. Parity keeps that; such documents skip the round trip.
            if has_null_required_member(&value) {
                return;
            }
            // One round trip may drop the sub-second part of a default expiry (the reference's
            // parser does); from then on the document is a fixed point.
            let (once, _) = round_trip(&creds);
            let (twice, second) = round_trip(&once);
            let (_, third) = round_trip(&twice);
            assert_eq!(*second, *third, "a round trip changes nothing");
            credkit_fuzz::assert_debug_clean(&creds, &secrets);
        }
        Err(error) => {
            let error = credkit_core::Error::from(error);
            assert_error_clean(&error, &secrets);
        }
    }
});
