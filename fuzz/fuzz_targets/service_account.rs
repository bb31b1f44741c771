//! `service_account` key files as bytes: parsed, the private key included. Never panics; an
//! error never quotes the private key, and `Debug` of a loaded key never shows it. The same
//! bytes as an ID token: reading its `exp` never panics.
#![no_main]

use credkit_service_account::ServiceAccountKey;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = credkit_service_account::fuzzing::id_token_expiry(text);
        let _ = ServiceAccountKey::from_json_str(text);
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // The private key's text, when a seed planted it (it holds "planted": an error may quote
    // other text that happens to equal the key, such as its own fixed words or a wrong `type`)
    // and it appears in no other member (which an error may name).
    let private_key = value
        .get("private_key")
        .and_then(Value::as_str)
        .filter(|key| key.contains("planted"))
        .filter(|key| {
            value.as_object().into_iter().flatten().all(|(name, member)| {
                name == "private_key" || !member.to_string().contains(*key) && !name.contains(*key)
            })
        });
    match ServiceAccountKey::from_json(&value) {
        Ok(key) => {
            if let Some(private_key) = private_key {
                assert!(!format!("{key:?}").contains(private_key), "Debug shows the key");
            }
            let _ = key.signer().sign_now(b"fuzz");
        }
        Err(error) => {
            if let Some(private_key) = private_key {
                let shown = format!("{error} {error:?}");
                assert!(!shown.contains(private_key), "an error quotes the private key");
            }
        }
    }
});
