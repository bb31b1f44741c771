//! gcloud's properties files (`configurations/config_<name>`), any bytes, as ADC reads them for
//! the account and the project: never a panic; a value found is trimmed, never empty, without a
//! control character, and it is a substring of the file.
#![no_main]

use credkit::fuzzing::gcloud_ini_value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for (section, key) in [("core", "project"), ("core", "account"), ("", "")] {
        if let Some(value) = gcloud_ini_value(&text, section, key) {
            assert!(!value.is_empty());
            assert_eq!(value, value.trim());
            assert!(!value.chars().any(char::is_control));
            assert!(text.contains(value.as_str()));
        }
    }
});
