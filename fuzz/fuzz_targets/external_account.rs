//! Workload identity federation's parsers, any bytes: the `external_account` file (whole, or a
//! valid file around a fuzzed `credential_source`, with a planted client secret), and a file or
//! URL source's content as text or JSON. Nothing panics; no error or `Debug` output quotes the
//! planted secret or a subject token; a token read is non-empty and free of control
//! characters.
#![no_main]

use arbitrary::Arbitrary;
use credkit_external_account::{ExternalAccountInfo, fuzzing};
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;

/// A secret planted in the file and in the source's content: no message may quote it.
const PLANTED: &str = "planted-secret-4f7c2a";

#[derive(Arbitrary, Debug)]
enum Input {
    File(String),
    Source {
        subject_token_type: String,
        credential_source: String,
    },
    Content {
        before: Vec<u8>,
        plant: bool,
        after: Vec<u8>,
        field: Option<String>,
    },
}

fuzz_target!(|input: Input| match input {
    Input::File(text) => match ExternalAccountInfo::from_json_str(&text) {
        Ok(info) => {
            assert!(!info.audience().is_empty());
            assert!(!info.subject_token_type().is_empty());
        }
        Err(err) => credkit_fuzz::assert_clean("a file error", &err.to_string(), &[]),
    },
    Input::Source {
        subject_token_type,
        credential_source,
    } => {
        let Ok(source) = serde_json::from_str::<serde_json::Value>(&credential_source) else {
            return;
        };
        let file = serde_json::json!({
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
            "subject_token_type": subject_token_type,
            "client_id": "client",
            "client_secret": PLANTED,
            "credential_source": source,
        });
        match ExternalAccountInfo::from_json(&file) {
            Ok(info) => credkit_fuzz::assert_debug_clean(&info, &[PLANTED]),
            Err(err) => credkit_fuzz::assert_clean("a source error", &err.to_string(), &[PLANTED]),
        }
    }
    Input::Content {
        before,
        plant,
        after,
        field,
    } => {
        let mut content = before;
        if plant {
            content.extend_from_slice(PLANTED.as_bytes());
        }
        content.extend_from_slice(&after);
        match fuzzing::subject_token(&content, field.as_deref()) {
            Ok(token) => {
                let text = token.expose_secret();
                assert!(!text.is_empty());
                assert!(!text.chars().any(char::is_control));
            }
            Err(err) => credkit_fuzz::assert_error_clean(&err, &[PLANTED]),
        }
    }
});
