//! git's credential requests, any bytes, with a password planted in the input: never a panic;
//! a request read and written back reads the same; errors and `Debug` never quote the planted
//! password; a request is for Google's git hosts only if its host is one of them.
#![no_main]

use credkit_helpers::git::Request;
use credkit_helpers::hosts::HostList;
use libfuzzer_sys::fuzz_target;
use secrecy::ExposeSecret;

const PLANTED: &str = "planted-git-password";

fuzz_target!(|data: &[u8]| {
    // The input as it is, and with a password line planted where git would put one.
    let mut planted = b"password=".to_vec();
    planted.extend_from_slice(PLANTED.as_bytes());
    planted.push(b'\n');
    planted.extend_from_slice(data);
    // Debug may show the planted text only if the fuzzer also put it under another key.
    let elsewhere = data
        .windows(PLANTED.len())
        .any(|window| window == PLANTED.as_bytes());
    for input in [data, planted.as_slice()] {
        match Request::parse(input) {
            Ok(request) => {
                let rendered = request.render();
                let again = Request::parse(rendered.expose_secret().as_bytes())
                    .expect("a rendered request reads back");
                assert_eq!(again, request, "a request changed through render");
                let debug = format!("{request:?}");
                assert!(
                    elsewhere || !debug.contains(PLANTED),
                    "Debug shows the password: {debug}"
                );
                if request.is_for(&HostList::git()) {
                    let host = request.host().expect("a request for a host names it");
                    let host = host.to_ascii_lowercase();
                    let host = host
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .trim_end_matches('.');
                    assert!(
                        host == "source.developers.google.com"
                            || host.ends_with(".googlesource.com")
                            || host.ends_with(".sourcemanager.dev"),
                        "a token for {host}"
                    );
                }
            }
            Err(err) => {
                let message = err.to_string();
                assert!(
                    !message.contains(PLANTED),
                    "the error quotes the password: {message}"
                );
                assert!(!message.contains('\n'), "a two-line error: {message}");
            }
        }
    }
});
