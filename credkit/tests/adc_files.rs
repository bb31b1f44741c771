//! Application Default Credentials discovery, with an injected environment (the process
//! environment is never touched).

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;

use credkit_core::ErrorKind;
use credkit_core::Result;
use credkit_refresh_token::{Adc, UserCredentials};

const USER_FILE: &str = r#"{"client_id": "123", "client_secret": "secret", "refresh_token": "alabalaportocala", "type": "authorized_user", "quota_project_id": "from-file"}"#;

fn env(vars: &[(&str, &Path)]) -> Adc {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.display().to_string()))
        .collect();
    Adc::with_env(move |name| map.get(name).cloned())
}

fn find(adc: &Adc) -> Result<UserCredentials> {
    adc.find_user_credentials()
}

#[test]
fn the_explicit_file_comes_first() {
    let dir = tempfile::tempdir().unwrap();
    let explicit = dir.path().join("explicit.json");
    std::fs::write(&explicit, USER_FILE).unwrap();
    let config = dir.path().join("gcloud");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("application_default_credentials.json"),
        USER_FILE.replace("123", "456"),
    )
    .unwrap();

    let creds = find(&env(&[
        ("GOOGLE_APPLICATION_CREDENTIALS", &explicit),
        ("CLOUDSDK_CONFIG", &config),
    ]))
    .unwrap();
    assert_eq!(creds.client_id(), Some("123"));
    assert_eq!(creds.quota_project(), Some("from-file"));
    let info = creds.cred_info().unwrap();
    assert_eq!(
        info["credential_source"],
        format!(
            "{} file via the GOOGLE_APPLICATION_CREDENTIALS environment variable",
            explicit.display()
        )
    );
}

#[test]
fn a_missing_explicit_file_is_an_error_not_a_fallthrough() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let err = find(&env(&[("GOOGLE_APPLICATION_CREDENTIALS", &missing)])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(
        !err.is_not_configured(),
        "a named file that is missing is an error"
    );
    assert_eq!(
        err.to_string(),
        format!("File {} was not found.", missing.display())
    );
}

#[test]
fn the_gcloud_file_via_cloudsdk_config_or_home() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join(".config").join("gcloud");
    std::fs::create_dir_all(&config).unwrap();
    let file = config.join("application_default_credentials.json");
    std::fs::write(&file, USER_FILE).unwrap();

    let via_sdk = find(&env(&[("CLOUDSDK_CONFIG", &config)])).unwrap();
    assert_eq!(
        via_sdk.cred_info().unwrap()["credential_source"],
        file.display().to_string()
    );
    if !cfg!(windows) {
        let via_home = find(&env(&[("HOME", dir.path())])).unwrap();
        assert_eq!(via_home.client_id(), Some("123"));
        assert_eq!(env(&[("HOME", dir.path())]).well_known_file(), Some(file));
    }
}

#[test]
fn the_quota_project_environment_variable_wins() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("creds.json");
    std::fs::write(&file, USER_FILE).unwrap();
    let quota = Path::new("from-env");
    let creds = find(&env(&[
        ("GOOGLE_APPLICATION_CREDENTIALS", &file),
        ("GOOGLE_CLOUD_QUOTA_PROJECT", quota),
    ]))
    .unwrap();
    assert_eq!(creds.quota_project(), Some("from-env"));
}

#[test]
fn nothing_found_lists_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let err = find(&env(&[("CLOUDSDK_CONFIG", dir.path())])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConfigured);
    assert!(err.is_not_configured());
    let message = err.to_string();
    assert!(message.starts_with("Your default credentials were not found. To set up Application Default Credentials, see https://cloud.google.com/docs/authentication/external/set-up-adc for more information."));
    assert!(message.contains("GOOGLE_APPLICATION_CREDENTIALS (not set)"));
    assert!(
        message.contains(
            &dir.path()
                .join("application_default_credentials.json")
                .display()
                .to_string()
        )
    );
    let nothing = find(&Adc::with_env(|_| None)).unwrap_err();
    assert!(
        nothing
            .to_string()
            .contains("gcloud's configuration folder")
    );
}

#[test]
fn a_malformed_file_names_the_file_and_hides_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("creds.json");
    std::fs::write(
        &file,
        r#"{"client_id": "123", "refresh_token": "credkit-secret-zzzzzzzzzzzzzzzzz"}"#,
    )
    .unwrap();
    let err = find(&env(&[("GOOGLE_APPLICATION_CREDENTIALS", &file)])).unwrap_err();
    let message = err.to_string();
    assert!(message.starts_with(&format!(
        "Failed to load authorized user credentials from {}",
        file.display()
    )));
    assert!(message.contains("missing fields client_secret."));
    assert!(!message.contains("credkit-secret"));
}

#[test]
fn gcloud_user_credentials_without_a_quota_project_warn_as_the_reference_does() {
    let gcloud_file = |quota: &str| {
        format!(
            r#"{{"client_id": "{}", "client_secret": "s", "refresh_token": "r", "type": "authorized_user"{quota}}}"#,
            credkit_refresh_token::GCLOUD_CLIENT_ID
        )
    };
    let cases = [
        (gcloud_file(""), true),
        (gcloud_file(r#", "quota_project_id": "billing""#), false),
        (
            USER_FILE.replace(r#", "quota_project_id": "from-file""#, ""),
            false,
        ),
    ];
    for (content, warns) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("adc.json");
        std::fs::write(&file, &content).unwrap();
        let adc = env(&[("GOOGLE_APPLICATION_CREDENTIALS", &file)]);
        let (found, lines) = credkit_testing::capture_logs(|| find(&adc));
        found.unwrap();
        let warned = lines.iter().any(|line| {
            line.level == tracing::Level::WARN
                && line.text.starts_with("Your application has authenticated using end user credentials from Google Cloud SDK without a quota project.")
        });
        assert_eq!(warned, warns, "{content}: {lines:?}");
    }
}

#[test]
fn an_adc_source_passes_every_method_to_its_credentials() {
    use credkit_core::{AccessToken, CredentialRecord, TokenSource};
    use credkit_refresh_token::AdcSource;
    use secrecy::{ExposeSecret, SecretString};
    let user = UserCredentials::builder()
        .with_token("ya29.stored")
        .with_refresh_token("1//old")
        .with_client_id("id")
        .with_client_secret("secret")
        .build()
        .unwrap();
    let name = user.name().to_owned();
    let source = AdcSource::User(user);
    assert_eq!(source.name(), name);
    let stored = source.initial_token().unwrap();
    assert_eq!(stored.secret().expose_secret(), "ya29.stored");
    let record = CredentialRecord::new()
        .with_access_token(&AccessToken::new("ya29.new"))
        .with_refresh_token(SecretString::from("1//rotated"));
    source.adopt_record(&record);
    let AdcSource::User(user) = &source else {
        panic!("a user source");
    };
    assert_eq!(user.refresh_token().unwrap().expose_secret(), "1//rotated");
    assert_eq!(format!("{:?}", Adc::with_env(|_| None)), "Adc { .. }");
}
