//! Token URLs through the endpoint policy: never a panic; an accepted URL names the same host
//! as the URL a request is built from (the parser reqwest uses), and a plain `http://` URL is
//! accepted only for a loopback host (core's one loopback rule) or exactly the metadata
//! server's two hosts (rule 5 of `check_endpoint`).
#![no_main]

use credkit_core::endpoint::is_loopback_host;
use credkit_reqwest::{check_endpoint, reqwest};
use libfuzzer_sys::fuzz_target;

/// The metadata server's hosts, as the URL parser spells them: the only hosts off loopback
/// that plain `http` may reach.
const METADATA_HOSTS: [&str; 2] = ["169.254.169.254", "metadata.google.internal"];

fuzz_target!(|text: &str| {
    let checked = check_endpoint(text);
    if let Ok(url) = &checked {
        let request = reqwest::Url::parse(text).expect("the policy parsed it");
        assert_eq!(
            url.host_str(),
            request.host_str(),
            "the policy and the request agree"
        );
        assert!(url.username().is_empty() && url.password().is_none());
        match url.scheme() {
            "https" => {}
            "http" => assert!(
                url.host_str()
                    .is_some_and(|host| is_loopback_host(host) || METADATA_HOSTS.contains(&host)),
                "plain http accepted off loopback and the metadata server"
            ),
            other => panic!("scheme {other} accepted"),
        }
    }
    if let Err(error) = checked {
        credkit_fuzz::assert_error_clean(&error, &[]);
    }
});
