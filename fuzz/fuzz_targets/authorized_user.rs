//! `authorized_user` JSON as bytes: parsed, and when it loads, written back out and loaded again
//! to the same document. Errors never carry the file's secrets or a raw control character.
#![no_main]

use credkit_fuzz::assert_error_clean;
use credkit_refresh_token::UserCredentials;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // The secrets a seed planted (values marked "planted"): an error may quote other text that
    // happens to equal a field's value, such as a member name, so only marked ones are checked.
    // A secret that is also part of a member that is not secret (a client id that contains
    // the client secret's text) may show through that member, so it is not checked.
    const SECRET_MEMBERS: [&str; 5] = [
        "refresh_token",
        "client_secret",
        "token",
        "rapt_token",
        "id_token",
    ];
    let open_text: Vec<&str> = value
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| !SECRET_MEMBERS.contains(&name.as_str()))
        .filter_map(|(_, member)| member.as_str())
        .collect();
    let secrets: Vec<String> = SECRET_MEMBERS
        .iter()
        .filter_map(|name| value.get(name).and_then(Value::as_str).map(str::to_owned))
        .filter(|value| value.contains("planted"))
        .filter(|secret| !open_text.iter().any(|open| open.contains(secret.as_str())))
        .collect();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    match UserCredentials::from_authorized_user_info(&value, None) {
        Ok(creds) => {
            credkit_fuzz::assert_round_trip(&value, &creds);
            credkit_fuzz::assert_debug_clean(&creds, &secrets);
        }
        Err(error) => {
            let error = credkit_core::Error::from(error);
            assert_error_clean(&error, &secrets);
        }
    }
});
