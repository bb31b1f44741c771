//! `authorized_user` JSON as bytes: parsed, and when it loads, written back out and loaded again
//! to the same document. Errors never carry the file's secrets or a raw control character.
#![no_main]

use credkit_fuzz::{SECRET_MEMBERS, assert_error_clean};
use credkit_refresh_token::UserCredentials;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// `text` with every character outside printable ASCII replaced by `with`.
fn rendered(text: &str, with: char) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { with })
        .collect()
}

/// `text` without its first `expiry: Some(...)` member.
fn without_expiry(text: &str) -> String {
    let Some(start) = text.find("expiry: Some(") else {
        return text.to_owned();
    };
    let end = text[start..]
        .find(')')
        .map_or(text.len(), |end| start + end + 1);
    format!("{}{}", &text[..start], &text[end..])
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // The secrets a seed planted (values marked "planted"): an error may quote other text that
    // happens to equal a field's value, such as a member name, so only marked ones are checked.
    // A secret that is also part of a member that is not secret (a client id that contains
    // the client secret's text) may show through that member, so it is not checked.
    let open_text: Vec<&str> = value
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| !SECRET_MEMBERS.contains(&name.as_str()))
        .flat_map(|(_, member)| match member {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect::<Vec<_>>(),
        })
        .collect();
    let secrets: Vec<String> = SECRET_MEMBERS
        .iter()
        .filter_map(|name| value.get(name).and_then(Value::as_str).map(str::to_owned))
        .filter(|value| value.contains("planted"))
        .filter(|secret| {
            // Compared as messages render them too: characters outside printable ASCII become
            // `?` or U+FFFD, so a member may render as a secret's text without holding it.
            !open_text.iter().any(|open| {
                [
                    open.to_string(),
                    rendered(open, '?'),
                    rendered(open, '\u{fffd}'),
                ]
                .iter()
                .any(|form| form.contains(secret.as_str()))
            })
        })
        .collect();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    match UserCredentials::from_authorized_user_info(&value, None) {
        Ok(creds) => {
            credkit_fuzz::assert_round_trip(&value, &creds);
            // Debug does not depend on the secrets: the same document with every secret
            // replaced renders the same.
            let mut other = value.clone();
            for name in SECRET_MEMBERS {
                if let Some(Value::String(text)) = other.get_mut(name) {
                    *text = "Z".repeat(text.chars().count().max(1));
                }
            }
            if let Ok(other) = UserCredentials::from_authorized_user_info(&other, None) {
                // (The default expiry is the load time minus the threshold: not compared.)
                assert_eq!(
                    without_expiry(&format!("{creds:?}")),
                    without_expiry(&format!("{other:?}")),
                    "Debug shows a secret"
                );
            }
        }
        Err(error) => {
            let error = credkit_core::Error::from(error);
            assert_error_clean(&error, &secrets);
        }
    }
});
