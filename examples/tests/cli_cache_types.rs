//! The token cache serves every credential type but the gcloud CLI and the metadata server: a
//! service-account key (found by ADC or named with `--credentials`) and an impersonated
//! service account make one request for any number of runs while the token is fresh, and the
//! metadata server's tokens are never written to the cache.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use credkit_testing::{FakeMetadataServer, FakeTokenServer};
use serde_json::Value;
use support::{Impersonation, Sandbox, run, service_account_sandbox};

const EMAIL: &str = "robot@credkit-test.iam.gserviceaccount.com";
const TARGET: &str = "target@credkit-test.iam.gserviceaccount.com";

/// The names of the files in `dir`.
fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_service_account_key_is_fetched_once_for_many_runs() {
    let server = FakeTokenServer::start().await.unwrap();
    let (sandbox, key, file) = service_account_sandbox(&server, EMAIL);
    let cache = sandbox.path("cache").display().to_string();

    let first = run(sandbox.credkit(["token", "--cache", &cache])).await;
    assert_eq!(first.code, Some(0), "{first:#?}");
    for _ in 0..3 {
        let again = run(sandbox.credkit(["token", "--cache", &cache])).await;
        assert_eq!(again.stdout, first.stdout, "{again:#?}");
    }
    // Named with --credentials, the same file is the same token.
    let named = run(sandbox.credkit([
        "token",
        "--cache",
        &cache,
        "--credentials",
        &file.display().to_string(),
    ]))
    .await;
    assert_eq!(named.stdout, first.stdout, "{named:#?}");
    assert_eq!(server.requests().len(), 1);

    let info = run(sandbox.credkit(["info", "--cache", &cache])).await;
    assert_eq!(info.code, Some(0), "{info:#?}");
    let info: Value = serde_json::from_str(&info.stdout).unwrap();
    assert_eq!(info["type"], "service_account");
    assert_eq!(info["cache"], cache);
    assert_eq!(info["token_from_cache"], true);
    assert_eq!(server.requests().len(), 1);

    // Another scope is another token.
    let scoped = run(sandbox.credkit([
        "token",
        "--cache",
        &cache,
        "--scope",
        "https://www.googleapis.com/auth/devstorage.read_only",
    ]))
    .await;
    assert_eq!(scoped.code, Some(0), "{scoped:#?}");
    assert_eq!(server.requests().len(), 2);
    // The record's name tells nothing of the key.
    for name in names(Path::new(&cache)) {
        assert!(!name.contains(EMAIL) && !name.contains("PRIVATE"), "{name}");
    }
    first.assert_no_secret(&[key.private_key_pem()]);
}

#[tokio::test]
async fn an_impersonated_token_is_cached_under_its_own_key() {
    let setup = Impersonation::start().await;
    let cache = setup.sandbox.path("cache").display().to_string();
    let cached = ["--cache", cache.as_str()];
    for _ in 0..3 {
        let out = run(setup.credkit("token", TARGET, &cached)).await;
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert_eq!(
            out.stdout,
            format!("{}\n", setup.iam.access_token_for(TARGET))
        );
    }
    assert_eq!(setup.iam.requests().len(), 1);
    // Another target is another token; the source's own token comes from the cache.
    let other = "other@credkit-test.iam.gserviceaccount.com";
    let out = run(setup.credkit("token", other, &cached)).await;
    assert_eq!(
        out.stdout,
        format!("{}\n", setup.iam.access_token_for(other))
    );
    assert_eq!(setup.iam.requests().len(), 2);
    assert_eq!(setup.server.requests().len(), 1);
}

#[tokio::test]
async fn the_metadata_servers_tokens_stay_out_of_the_cache() {
    let fake = FakeMetadataServer::start().await.unwrap();
    let sandbox = Sandbox::new().with_env(|env| env.with_metadata_host(fake.host()));
    let cache = sandbox.path("cache").display().to_string();
    for _ in 0..2 {
        let out = run(sandbox.credkit(["token", "--cache", &cache])).await;
        assert_eq!(out.code, Some(0), "{out:#?}");
        assert_eq!(out.stdout, format!("{}\n", fake.access_token(&[])));
    }
    let tokens = fake
        .requests()
        .iter()
        .filter(|request| request.path().ends_with("/token"))
        .count();
    assert_eq!(tokens, 2);
    assert!(
        names(Path::new(&cache))
            .iter()
            .all(|n| Path::new(n).extension().is_none_or(|e| e != "json")),
        "{:?}",
        names(Path::new(&cache))
    );
}
