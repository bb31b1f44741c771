//! The requests of the credential helpers, any bytes: kubectl's `KUBERNETES_EXEC_INFO`,
//! docker's server URL (`get`, `erase`) and credentials to store, and the Bazel helper's
//! `{"uri": ...}`. Nothing panics; errors are one clean line that never quote a planted
//! secret; what is accepted answers as its protocol says (the answer parses, carries the
//! token, and in the version asked).
#![no_main]

use arbitrary::Arbitrary;
use credkit_core::http::header::AUTHORIZATION;
use credkit_core::http::{HeaderMap, HeaderValue};
use credkit_helpers::hosts::HostList;
use credkit_helpers::{bazel, docker, kubectl};
use libfuzzer_sys::fuzz_target;
use secrecy::{ExposeSecret, SecretString};
use time::macros::datetime;

/// A token-shaped secret planted in the inputs: no message may quote it.
const PLANTED: &str = "ya29.planted-helper-secret";

#[derive(Arbitrary, Debug)]
enum Input {
    ExecInfo(String),
    DockerUrl(Vec<u8>),
    DockerStore(Vec<u8>),
    /// Credentials to store around a planted secret: `{before}"Secret":"<planted>"{after}`.
    DockerStorePlanted {
        before: String,
        after: String,
    },
    Bazel(Vec<u8>),
    /// A request around a planted URI part: `{before}<planted>{after}`.
    BazelPlanted {
        before: String,
        after: String,
    },
}

fuzz_target!(|input: Input| {
    let token = SecretString::from("ya29.answer-token");
    let expiry = Some(datetime!(2026-01-02 03:04:05 UTC));
    match input {
        Input::ExecInfo(text) => match kubectl::ExecInfo::from_env(Some(&text)) {
            Ok(info) => {
                let answer = kubectl::exec_credential(&info, &token, expiry);
                let json: serde_json::Value = serde_json::from_str(answer.expose_secret()).unwrap();
                assert_eq!(json["apiVersion"], info.api_version().as_str());
                assert_eq!(json["status"]["token"], "ya29.answer-token");
                assert_eq!(
                    json["status"]["expirationTimestamp"],
                    "2026-01-02T03:04:05Z"
                );
            }
            Err(err) => credkit_fuzz::assert_clean("an exec info error", &err.to_string(), &[]),
        },
        Input::DockerUrl(bytes) => match docker::ServerUrl::parse(&bytes) {
            Ok(url) => {
                assert!(!url.as_str().is_empty());
                assert_eq!(url.as_str(), url.as_str().trim());
                let _ = url.allowed_by(&HostList::registries());
                let answer = docker::get_answer(&url, &token);
                let json: serde_json::Value = serde_json::from_str(answer.expose_secret()).unwrap();
                assert_eq!(json["ServerURL"], url.as_str());
                assert_eq!(json["Secret"], "ya29.answer-token");
                let _ = docker::erase(&url, &HostList::registries());
            }
            Err(err) => {
                // The one message that may quote the input is none: a URL never shows.
                assert!(!err.is_not_found());
            }
        },
        Input::DockerStore(bytes) => store(&bytes, &[]),
        Input::DockerStorePlanted { before, after } => {
            let text = format!("{before}\"Secret\":\"{PLANTED}\"{after}");
            store(text.as_bytes(), &[PLANTED]);
        }
        Input::Bazel(bytes) => bazel_get(&bytes, &[]),
        Input::BazelPlanted { before, after } => {
            let text = format!("{before}{PLANTED}{after}");
            bazel_get(text.as_bytes(), &[PLANTED]);
        }
    }
});

fn store(bytes: &[u8], secrets: &[&str]) {
    match docker::StoreRequest::parse(bytes) {
        Ok(request) => {
            assert!(!request.server_url().as_str().is_empty());
            assert!(!request.username().is_empty());
            credkit_fuzz::assert_debug_clean(&request, secrets);
            if let Err(err) = request.accept(&HostList::registries()) {
                credkit_fuzz::assert_clean("a store refusal", &err.to_string(), secrets);
            }
        }
        Err(err) => {
            credkit_fuzz::assert_clean("a store error", &err.to_string(), secrets);
            credkit_fuzz::assert_debug_clean(&err, secrets);
        }
    }
}

fn bazel_get(bytes: &[u8], secrets: &[&str]) {
    match bazel::GetRequest::parse(bytes) {
        Ok(request) => {
            if request.allowed_by(&HostList::apis()) {
                // A token goes only over https or grpcs, or in plain text to loopback.
                let scheme = request.uri().scheme();
                assert!(scheme == "https" || scheme == "grpcs", "{scheme}");
            }
            let mut headers = HeaderMap::new();
            headers.insert(
                AUTHORIZATION,
                HeaderValue::from_static("Bearer ya29.answer-token"),
            );
            let answer = bazel::get_answer(&headers, None).unwrap();
            let json: serde_json::Value = serde_json::from_str(answer.expose_secret()).unwrap();
            assert_eq!(
                json["headers"]["Authorization"][0],
                "Bearer ya29.answer-token"
            );
        }
        Err(err) => {
            credkit_fuzz::assert_clean("a Bazel request error", &err.to_string(), secrets);
            credkit_fuzz::assert_debug_clean(&err, secrets);
        }
    }
}
