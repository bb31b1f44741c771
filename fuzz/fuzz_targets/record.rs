//! Stored credential records, any bytes: a record that loads writes back to bytes that load to
//! the same record; an unreadable one is an error with no raw control character and no secret.
#![no_main]

use credkit_core::CredentialRecord;
use credkit_fuzz::assert_error_clean;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match CredentialRecord::from_json(data) {
        Ok(record) => {
            let written = record.to_json().expect("a loaded record serializes");
            let again = CredentialRecord::from_json(&written).expect("what to_json writes loads");
            let rewritten = again.to_json().expect("serializes");
            assert_eq!(*written, *rewritten, "a round trip changes nothing");
        }
        Err(error) => {
            // Any string member of the input could be a secret: the message names none of it.
            let planted: Vec<&str> = std::str::from_utf8(data)
                .ok()
                .map(|text| {
                    text.split('"')
                        .filter(|part| part.contains("planted"))
                        .collect()
                })
                .unwrap_or_default();
            assert_error_clean(&error, &planted);
        }
    }
});
