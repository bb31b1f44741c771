//! `ServiceAccountKey` parsing: the reference's texts, fixed order, types, unknown members
//! ignored, the private key never shown.
#![allow(clippy::unwrap_used)]

mod support;

use base64::Engine as _;

use credkit_core::TokenSource;
use credkit_service_account::{ServiceAccountCredentials, ServiceAccountKey};
use serde_json::{Value, json};
use support::{EMAIL, test_key};

fn info() -> Value {
    test_key().service_account_info(EMAIL, "https://oauth2.googleapis.com/token")
}

fn without(keys: &[&str]) -> Value {
    let mut info = info();
    for key in keys {
        info.as_object_mut().unwrap().remove(*key);
    }
    info
}

fn with(key: &str, value: Value) -> Value {
    let mut info = info();
    info[key] = value;
    info
}

fn message(info: &Value) -> String {
    ServiceAccountKey::from_json(info).unwrap_err().to_string()
}

#[test]
fn a_key_file_is_read_with_every_member() {
    let key = ServiceAccountKey::from_json(&info()).unwrap();
    assert_eq!(key.client_email(), EMAIL);
    assert_eq!(key.token_uri(), "https://oauth2.googleapis.com/token");
    assert_eq!(key.project_id(), Some("credkit-test"));
    assert_eq!(key.private_key_id(), Some(test_key().key_id()));
    assert_eq!(key.client_id(), Some("100000000000000000001"));
    assert_eq!(key.universe_domain(), "googleapis.com");
    let debug = format!("{key:?}");
    assert!(debug.contains(EMAIL) && debug.contains(test_key().key_id()));
    assert!(
        !debug.contains("PRIVATE KEY") && !debug.contains(&test_key().private_key_pem()[40..80])
    );
    let creds = ServiceAccountCredentials::from_service_account_info(&info()).unwrap();
    assert_eq!(creds.project_id(), Some("credkit-test"));
    assert_eq!(creds.signer_email(), EMAIL);
    assert!(creds.requires_scopes());
    let debug = format!("{creds:?}");
    assert!(debug.contains(test_key().key_id()) && !debug.contains("PRIVATE KEY"));
    assert_eq!(creds.name(), "service account");
}

#[test]
fn missing_members_are_named_in_a_fixed_order() {
    assert_eq!(
        message(&without(&["token_uri", "client_email"])),
        "Service account info was not in the expected format, missing fields client_email, token_uri."
    );
    assert_eq!(
        message(&without(&["token_uri"])),
        "Service account info was not in the expected format, missing fields token_uri."
    );
    let err = ServiceAccountKey::from_json(&without(&["private_key"])).unwrap_err();
    assert!(err.is_missing_field());
    assert_eq!(
        err.to_string(),
        "The private_key field was not found in the service account info."
    );
}

#[test]
fn types_are_checked_and_unknown_members_ignored() {
    let err = ServiceAccountKey::from_json(&with("type", json!("authorized_user"))).unwrap_err();
    assert!(err.is_unknown_type());
    assert!(err.to_string().contains("authorized_user"), "{err}");
    assert!(ServiceAccountKey::from_json(&without(&["type"])).is_ok());
    assert!(ServiceAccountKey::from_json(&with("new_member", json!({"a": [1]}))).is_ok());
    for key in [
        "client_email",
        "token_uri",
        "private_key",
        "type",
        "project_id",
        "universe_domain",
    ] {
        let err = ServiceAccountKey::from_json(&with(key, json!(7))).unwrap_err();
        assert!(err.is_invalid_value(), "{key}");
        assert!(err.to_string().contains(key), "{err}");
    }
    assert!(
        ServiceAccountKey::from_json(&with("project_id", Value::Null))
            .unwrap()
            .project_id()
            .is_none()
    );
    for universe in [Value::Null, json!("")] {
        let key = ServiceAccountKey::from_json(&with("universe_domain", universe)).unwrap();
        assert_eq!(key.universe_domain(), "googleapis.com");
    }
    let key = ServiceAccountKey::from_json(&with("universe_domain", json!("u.test"))).unwrap();
    assert_eq!(key.universe_domain(), "u.test");
    assert!(
        ServiceAccountKey::from_json(&json!([1]))
            .unwrap_err()
            .is_parsing()
    );
    assert!(
        ServiceAccountKey::from_json_str("{")
            .unwrap_err()
            .is_parsing()
    );
}

#[test]
fn bad_private_keys_are_named_without_quoting_them() {
    let pem = test_key().private_key_pem();
    let truncated = &pem[..pem.len() / 2];
    let garbled = pem.replace("MII", "M!I");
    let ec = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBYr\n-----END EC PRIVATE KEY-----\n";
    for (bad, why) in [
        ("not a key", "no PEM private key"),
        (truncated, "malformed"),
        (garbled.as_str(), "malformed"),
        (ec, "elliptic-curve"),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "not an acceptable RSA key",
        ),
    ] {
        let err = ServiceAccountKey::from_json(&with("private_key", json!(bad))).unwrap_err();
        assert!(err.is_invalid_value(), "{bad}: {err}");
        assert!(err.to_string().contains(why), "{why}: {err}");
        assert!(!err.to_string().contains(&pem[40..80]));
    }
}

#[test]
fn key_files_are_read_and_their_errors_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    std::fs::write(&path, info().to_string()).unwrap();
    let creds = ServiceAccountCredentials::from_service_account_file(&path).unwrap();
    assert_eq!(creds.service_account_email(), EMAIL);
    let missing = dir.path().join("missing.json");
    let err = ServiceAccountKey::from_file(&missing).unwrap_err();
    assert!(err.is_loading());
    assert_eq!(
        err.to_string(),
        format!("File {} was not found.", missing.display())
    );
    std::fs::write(&path, "{\"private_key\": ").unwrap();
    let err = ServiceAccountKey::from_file(&path).unwrap_err();
    assert!(err.is_parsing());
    assert!(err.to_string().contains("is not a valid json file"));
    std::fs::write(&path, vec![b' '; 1024 * 1024 + 1]).unwrap();
    assert!(
        ServiceAccountKey::from_file(&path)
            .unwrap_err()
            .to_string()
            .contains("larger than 1 MiB")
    );
    assert!(ServiceAccountCredentials::from_service_account_json(&info().to_string()).is_ok());
}

#[test]
fn pkcs1_keys_are_accepted() {
    // The PKCS#1 form of the same key, as older tools write it.
    let pkcs8 = pem_der(test_key().private_key_pem());
    // PKCS#8 wraps the PKCS#1 RSAPrivateKey in an OCTET STRING at the end of the structure.
    let pkcs1 = pkcs1_from_pkcs8(&pkcs8);
    let body = base64::engine::general_purpose::STANDARD.encode(pkcs1);
    let pem = format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n");
    let key = ServiceAccountKey::from_json(&with("private_key", json!(pem))).unwrap();
    let signature = key.signer().sign_now(b"m").unwrap();
    let expected = ServiceAccountKey::from_json(&info())
        .unwrap()
        .signer()
        .sign_now(b"m")
        .unwrap();
    assert_eq!(
        signature, expected,
        "RS256 is deterministic: same key, same signature"
    );
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// The `privateKey` OCTET STRING of a PKCS#8 `PrivateKeyInfo` for RSA (version, algorithm
/// identifier, then the octet string: its content is the PKCS#1 key).
fn pkcs1_from_pkcs8(der: &[u8]) -> Vec<u8> {
    // SEQUENCE header (4 bytes for 2048-bit keys), INTEGER 0 (3 bytes), the 15-byte RSA
    // AlgorithmIdentifier, then OCTET STRING with a 2-byte long length.
    assert_eq!(der[0], 0x30);
    let rest = &der[4 + 3 + 15..];
    assert_eq!(rest[0], 0x04);
    assert_eq!(rest[1], 0x82);
    let len = usize::from(rest[2]) << 8 | usize::from(rest[3]);
    rest[4..4 + len].to_vec()
}

#[test]
fn accessors_report_every_setting_and_copies_leave_the_original_alone() {
    let mut claims = serde_json::Map::new();
    claims.insert("k".to_owned(), json!("v"));
    let creds = ServiceAccountCredentials::builder(ServiceAccountKey::from_json(&info()).unwrap())
        .with_scopes(["s1", "s2"])
        .with_default_scopes(["d1"])
        .with_subject("sub@example.com")
        .with_quota_project("quota")
        .with_token_uri("https://token.example/t")
        .with_default_host("api.example.com")
        .with_additional_claims(claims.clone())
        .build()
        .unwrap();
    assert_eq!(
        creds.scopes(),
        Some(&["s1".to_owned(), "s2".to_owned()][..])
    );
    assert_eq!(creds.default_scopes(), Some(&["d1".to_owned()][..]));
    assert_eq!(creds.subject(), Some("sub@example.com"));
    assert_eq!(creds.quota_project(), Some("quota"));
    assert_eq!(creds.token_uri(), "https://token.example/t");
    assert_eq!(creds.default_host(), Some("api.example.com"));
    assert_eq!(creds.additional_claims(), &claims);
    assert_eq!(creds.universe_domain(), "googleapis.com");
    assert!(!creds.always_use_jwt_access());
    assert!(!creds.requires_scopes());
    assert_eq!(
        credkit_core::Signer::key_id(&creds.signer()),
        Some(test_key().key_id())
    );

    let copy = creds
        .with_quota_project("other")
        .unwrap()
        .with_token_uri("https://t2.example/")
        .unwrap();
    assert_eq!(
        (copy.quota_project(), copy.token_uri()),
        (Some("other"), "https://t2.example/")
    );
    assert_eq!(creds.quota_project(), Some("quota"));
    let copy = creds
        .with_subject("")
        .unwrap()
        .with_scopes(Vec::<String>::new(), None)
        .unwrap();
    assert_eq!(copy.subject(), None);
    assert!(copy.requires_scopes());
    assert_eq!(copy.default_scopes(), None);
    assert!(
        creds
            .with_quota_project("")
            .unwrap()
            .quota_project()
            .is_none()
    );
    assert!(
        creds
            .to_builder()
            .with_default_host("")
            .build()
            .unwrap()
            .default_host()
            .is_none()
    );
    assert!(
        creds
            .with_always_use_jwt_access(true)
            .unwrap()
            .always_use_jwt_access()
    );
    let err = creds.with_token_uri("").unwrap_err();
    assert!(err.is_invalid_value());
}

#[test]
fn id_token_accessors_report_every_setting() {
    use credkit_service_account::IdTokenCredentials;
    let mut claims = serde_json::Map::new();
    claims.insert("k".to_owned(), json!("v"));
    let creds = ServiceAccountCredentials::builder(ServiceAccountKey::from_json(&info()).unwrap())
        .with_quota_project("quota")
        .with_token_uri("https://token.example/t")
        .build()
        .unwrap();
    let ids = creds.id_token_credentials("https://aud.example").unwrap();
    assert_eq!(ids.target_audience(), "https://aud.example");
    assert_eq!(ids.service_account_email(), EMAIL);
    assert_eq!(ids.signer_email(), EMAIL);
    assert_eq!(ids.quota_project(), Some("quota"));
    assert_eq!(ids.token_uri(), "https://token.example/t");
    assert_eq!(ids.universe_domain(), "googleapis.com");
    let moved = ids
        .with_target_audience("b")
        .unwrap()
        .with_quota_project("")
        .unwrap()
        .with_token_uri("https://t3/")
        .unwrap();
    assert_eq!(
        (
            moved.target_audience(),
            moved.quota_project(),
            moved.token_uri()
        ),
        ("b", None, "https://t3/")
    );
    assert!(ids.with_target_audience("").unwrap_err().is_invalid_value());
    assert!(ids.with_token_uri("").unwrap_err().is_invalid_value());
    let debug = format!("{ids:?}");
    assert!(debug.contains("https://aud.example") && !debug.contains("PRIVATE"));
    let elsewhere =
        IdTokenCredentials::builder(ServiceAccountKey::from_json(&info()).unwrap(), "a")
            .with_universe_domain("")
            .with_additional_claims(claims)
            .build()
            .unwrap();
    assert_eq!(elsewhere.universe_domain(), "googleapis.com");
    assert_eq!(elsewhere.name(), "service account ID token");
    assert_eq!(elsewhere.signer().signature_len(), 256);
    assert!(elsewhere.clock().is_some());
}

#[test]
fn a_key_file_of_exactly_one_mib_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.json");
    let mut text = info().to_string();
    text.push_str(&" ".repeat(1024 * 1024 - text.len()));
    std::fs::write(&path, &text).unwrap();
    assert!(ServiceAccountKey::from_file(&path).is_ok());
}

#[test]
fn a_pkcs8_key_of_another_algorithm_is_named_as_such() {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
        .unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
    let err = ServiceAccountKey::from_json(&with("private_key", json!(pem))).unwrap_err();
    assert!(
        err.to_string()
            .contains("a PKCS#8 key of another algorithm, not an RSA private key"),
        "{err}"
    );
}

#[test]
fn the_signer_names_its_account_and_key_but_not_the_key_material() {
    use credkit_core::Signer;
    let signer = ServiceAccountKey::from_json(&info()).unwrap().signer();
    assert_eq!(signer.signer_email(), EMAIL);
    assert_eq!(signer.algorithm(), "RS256");
    assert_eq!(
        format!("{signer:?}"),
        format!(
            "ServiceAccountSigner {{ email: \"{EMAIL}\", key_id: Some(\"{}\"), bits: 2048, .. }}",
            test_key().key_id()
        )
    );
    let signature = futures::executor::block_on(signer.sign(b"m")).unwrap();
    assert_eq!(signature.key_id(), Some(test_key().key_id()));
    let no_id = credkit_service_account::ServiceAccountSigner::from_pem(
        test_key().private_key_pem(),
        EMAIL,
        None,
    )
    .unwrap();
    assert_eq!(no_id.sign_now(b"m").unwrap().key_id(), None);
    assert_eq!(no_id.sign_now(b"m").unwrap().bytes(), signature.bytes());
}
