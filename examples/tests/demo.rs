//! `credkit demo`, as built: it exits 0, shows every step, and prints no secret.

mod support;

use serde_json::Value;
use support::{Sandbox, run};

/// The demo's made-up secrets, and the prefixes of the fake endpoint's tokens.
const SECRETS: [&str; 4] = [
    "demo-client-secret",
    "demo-refresh-token",
    "fake-access-token",
    "fake-refresh-token",
];

/// Fewer hot-path calls than the default, to keep a debug build quick.
const CALLS: &str = "20000";

#[tokio::test]
async fn the_demo_shows_every_step_and_exits_0() {
    let sandbox = Sandbox::new();

    let out = run(sandbox.credkit(["demo", "--calls", CALLS])).await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stderr, "");
    out.assert_no_secret(&SECRETS);
    for title in [
        "[1/6] First refresh",
        "[2/6] Cached hot path",
        "[3/6] Single flight",
        "[4/6] Refresh-token rotation",
        "[5/6] Transient failure retried",
        "[6/6] Permanent failure reported",
    ] {
        assert!(
            out.stdout.contains(title),
            "{title} missing:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout
            .contains("- every caller got the same token: yes")
    );
    assert!(
        out.stdout
            .contains("- next refresh sent the new refresh token: yes")
    );
    assert!(
        out.stdout
            .contains("- error: invalid_grant: Token has been expired or revoked.")
    );
    assert!(
        out.stdout.contains("Done in ")
            && out.stdout.contains(": 7 requests to the token endpoint"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn demo_json_is_one_document_for_scripts() {
    let sandbox = Sandbox::new();

    let out = run(sandbox.credkit(["demo", "--json", "--calls", CALLS, "--callers", "50"])).await;

    assert_eq!(out.code, Some(0), "{out:#?}");
    out.assert_no_secret(&SECRETS);
    let document: Value = serde_json::from_str(&out.stdout).unwrap();
    let steps = document["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "first_refresh",
            "hot_path",
            "single_flight",
            "rotation",
            "transient_failure",
            "permanent_failure"
        ]
    );
    let facts = |i: usize| &steps[i]["facts"];
    assert_eq!(facts(0)["requests"], 1);
    assert_eq!(facts(0)["token_state"], "fresh");
    assert_eq!(facts(1)["requests"], 0);
    assert!(facts(1)["calls"].as_u64().unwrap() > 0);
    assert!(facts(1)["calls_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(facts(2)["callers"], 50);
    assert_eq!(facts(2)["requests"], 1);
    assert_eq!(facts(2)["same_token"], true);
    assert_eq!(facts(3)["next_sent_rotated_token"], true);
    assert_eq!(facts(4)["requests"], 2);
    assert_eq!(facts(5)["transient"], false);
    assert_eq!(facts(5)["kept_token"], true);
    assert_eq!(document["token_endpoint_requests"], 7);
    assert!(document["total_millis"].as_f64().unwrap() > 0.0);
    for step in steps {
        assert!(step["millis"].as_f64().unwrap() >= 0.0);
        assert!(!step["explanation"].as_str().unwrap().is_empty());
    }
}
