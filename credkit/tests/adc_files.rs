//! ADC discovery from credentials files, in an isolated environment (`AdcEnv`): the order,
//! the errors, the quota project.
#![cfg(feature = "refresh-token")]
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use credkit::Adc;
use credkit::core::{ErrorKind, Result};
use credkit::refresh_token::UserCredentials;
use credkit_testing::{AdcEnv, FakeTokenEndpoint};
use futures::executor::block_on;

const USER_FILE: &str = r#"{"client_id": "123", "client_secret": "secret", "refresh_token": "alabalaportocala", "type": "authorized_user", "quota_project_id": "from-file"}"#;

fn adc(env: &AdcEnv) -> Adc {
    Adc::new()
        .with_env(env.lookup())
        .with_transport(FakeTokenEndpoint::new())
}

/// The user credentials discovery finds.
fn find(env: &AdcEnv) -> Result<UserCredentials> {
    let found = block_on(adc(env).discover())?;
    assert_eq!(found.credential_type(), "authorized_user");
    Ok(found
        .credential()
        .as_any()
        .and_then(|any| any.downcast_ref::<UserCredentials>())
        .unwrap()
        .clone())
}

#[test]
fn the_explicit_file_comes_first() {
    let env = AdcEnv::new()
        .with_credentials_file(USER_FILE)
        .with_well_known_file(&USER_FILE.replace("123", "456"));
    let creds = find(&env).unwrap();
    assert_eq!(creds.client_id(), Some("123"));
    assert_eq!(creds.quota_project(), Some("from-file"));
    let explicit = env.var("GOOGLE_APPLICATION_CREDENTIALS").unwrap();
    let expected =
        format!("{explicit} file via the GOOGLE_APPLICATION_CREDENTIALS environment variable");
    assert_eq!(creds.cred_info().unwrap()["credential_source"], expected);
    assert_eq!(block_on(adc(&env).discover()).unwrap().origin(), expected);
}

#[test]
fn a_missing_explicit_file_is_an_error_not_a_fallthrough() {
    let env = AdcEnv::new().with_well_known_file(USER_FILE);
    let missing = env.dir().join("nope.json");
    let env = env.with_var(
        "GOOGLE_APPLICATION_CREDENTIALS",
        missing.display().to_string(),
    );
    let err = find(&env).unwrap_err();
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
fn the_well_known_file_via_cloudsdk_config_or_home() {
    let env = AdcEnv::new().with_well_known_file(USER_FILE);
    let file = env
        .gcloud_config_dir()
        .join("application_default_credentials.json");
    let via_sdk = find(&env).unwrap();
    assert_eq!(
        via_sdk.cred_info().unwrap()["credential_source"],
        file.display().to_string()
    );
    if !cfg!(windows) {
        let via_home = AdcEnv::new();
        let home = env.home().display().to_string();
        let via_home = via_home
            .without_var("CLOUDSDK_CONFIG")
            .with_var("HOME", home);
        assert_eq!(find(&via_home).unwrap().client_id(), Some("123"));
        assert_eq!(adc(&via_home).well_known_file(), Some(file));
    }
}

#[test]
fn the_quota_project_variable_wins_over_the_file_and_the_builder_over_both() {
    let env = AdcEnv::new()
        .with_credentials_file(USER_FILE)
        .with_var("GOOGLE_CLOUD_QUOTA_PROJECT", "from-env");
    assert_eq!(find(&env).unwrap().quota_project(), Some("from-env"));
    let found = block_on(adc(&env).with_quota_project("from-code").discover()).unwrap();
    let user = found
        .credential()
        .as_any()
        .unwrap()
        .downcast_ref::<UserCredentials>()
        .unwrap();
    assert_eq!(user.quota_project(), Some("from-code"));
}

#[test]
fn scopes_given_replace_the_files() {
    let env = AdcEnv::new().with_credentials_file(USER_FILE);
    let found = block_on(adc(&env).with_scopes(["s1", "s2"]).discover()).unwrap();
    let user = found
        .credential()
        .as_any()
        .unwrap()
        .downcast_ref::<UserCredentials>()
        .unwrap();
    assert_eq!(user.scopes().unwrap(), ["s1", "s2"]);
}

#[test]
fn nothing_found_lists_where_it_looked() {
    let env = AdcEnv::new();
    let err = find(&env).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConfigured);
    let message = err.to_string();
    assert!(message.starts_with("Your default credentials were not found. To set up Application Default Credentials, see https://cloud.google.com/docs/authentication/external/set-up-adc for more information. Looked at: "), "{message}");
    assert!(message.contains("GOOGLE_APPLICATION_CREDENTIALS (not set)"));
    let file = env
        .gcloud_config_dir()
        .join("application_default_credentials.json");
    assert!(
        message.contains(&format!("{} (no such file)", file.display())),
        "{message}"
    );

    // Nothing set but NO_GCE_CHECK: the metadata server's default address is never probed.
    let only_no_gce_check = |name: &str| (name == "NO_GCE_CHECK").then(|| "True".to_owned());
    let nothing = block_on(Adc::new().with_env(only_no_gce_check).discover()).unwrap_err();
    assert!(nothing.to_string().contains(
        "gcloud's configuration folder (neither CLOUDSDK_CONFIG nor a home folder is set)"
    ));
}

#[test]
fn a_malformed_file_names_the_file_and_hides_its_content() {
    let env = AdcEnv::new().with_credentials_file(
        r#"{"type": "authorized_user", "client_id": "123", "refresh_token": "credkit-secret-zzzzzzzzzzzzzzzzz"}"#,
    );
    let file = env
        .var("GOOGLE_APPLICATION_CREDENTIALS")
        .unwrap()
        .to_owned();
    let err = find(&env).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "Failed to load authorized user credentials from {file}"
        )),
        "{message}"
    );
    assert!(
        message.contains("missing fields client_secret."),
        "{message}"
    );
    assert!(!message.contains("credkit-secret"));
    assert!(!format!("{err:?}").contains("credkit-secret"));
}

#[test]
fn a_file_that_is_not_json_names_the_position() {
    let env = AdcEnv::new().with_credentials_file("{not json");
    let file = env
        .var("GOOGLE_APPLICATION_CREDENTIALS")
        .unwrap()
        .to_owned();
    let err = find(&env).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(
        err.to_string(),
        format!("File {file} is not a valid json file. (line 1, column 2)")
    );
}

#[test]
fn a_broken_well_known_file_stops_discovery() {
    // The fallbacks are never asked: a broken file is an error, not a reason to look further.
    let env = AdcEnv::new().with_well_known_file(r#"{"type": "authorized_user"}"#);
    let err = find(&env).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(
        err.to_string()
            .starts_with("Failed to load authorized user credentials from ")
    );
}

#[test]
fn gcloud_user_credentials_without_a_quota_project_warn_as_the_reference_does() {
    let gcloud_file = |quota: &str| {
        format!(
            r#"{{"client_id": "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com", "client_secret": "s", "refresh_token": "r", "type": "authorized_user"{quota}}}"#
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
        let env = AdcEnv::new().with_credentials_file(&content);
        let (found, lines) = credkit_testing::capture_logs(|| find(&env));
        found.unwrap();
        let warned = lines.iter().any(|line| {
            line.level == tracing::Level::WARN
                && line.text.starts_with("Your application has authenticated using end user credentials from Google Cloud SDK without a quota project.")
        });
        assert_eq!(warned, warns, "{content}: {lines:?}");
    }
}

#[test]
fn the_found_credentials_fetch_through_the_given_transport() {
    let endpoint = FakeTokenEndpoint::new();
    endpoint.push_reply(credkit_testing::Reply::token("ya29.adc"));
    let env = AdcEnv::new().with_credentials_file(USER_FILE);
    let credentials = block_on(
        Adc::new()
            .with_env(env.lookup())
            .with_transport(endpoint.clone())
            .credentials(),
    )
    .unwrap();
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(headers["authorization"], "Bearer ya29.adc");
    assert_eq!(headers["x-goog-user-project"], "from-file");
    assert_eq!(endpoint.request_count(), 1);
    let debug = format!("{:?}", Adc::new().with_env(|_| None));
    assert!(
        debug.starts_with("Adc { credential_types: [\"authorized_user\""),
        "{debug}"
    );
    assert!(debug.contains("fallbacks: ["), "{debug}");
}

#[test]
fn a_file_of_1_mib_loads_and_a_larger_one_is_refused_unread() {
    const MIB: usize = 1024 * 1024;
    let padded = |len: usize| {
        let base = USER_FILE.replace("\"type\"", "\"padding\": \"\", \"type\"");
        let file = USER_FILE.replace(
            "\"type\"",
            &format!(
                "\"padding\": \"{}\", \"type\"",
                "x".repeat(len - base.len())
            ),
        );
        assert_eq!(file.len(), len);
        file
    };
    let exactly = AdcEnv::new().with_credentials_file(&padded(MIB));
    assert_eq!(find(&exactly).unwrap().client_id(), Some("123"));

    let env = AdcEnv::new().with_credentials_file(&padded(MIB + 1));
    let file = env
        .var("GOOGLE_APPLICATION_CREDENTIALS")
        .unwrap()
        .to_owned();
    let err = find(&env).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert_eq!(
        err.to_string(),
        format!("File {file} is larger than 1 MiB; it is not a credentials file")
    );
}

#[test]
fn the_email_of_user_credentials_is_the_files_account() {
    let with_account = USER_FILE.replace("\"type\"", "\"account\": \"me@example.com\", \"type\"");
    let found =
        block_on(adc(&AdcEnv::new().with_credentials_file(&with_account)).discover()).unwrap();
    assert_eq!(
        block_on(found.email()).unwrap().as_deref(),
        Some("me@example.com")
    );
    assert_eq!(block_on(found.project_id()).unwrap(), None);
    assert!(found.signer().is_none());
    let found = block_on(adc(&AdcEnv::new().with_credentials_file(USER_FILE)).discover()).unwrap();
    assert_eq!(block_on(found.email()).unwrap(), None);
}

#[test]
fn the_id_token_source_shares_the_users_state_and_clock() {
    use credkit::core::{AccessToken, Clock, CredentialRecord, TokenSource};
    use credkit_testing::FakeClock;
    use secrecy::{ExposeSecret, SecretString};

    let clock = FakeClock::new();
    let found = block_on(
        adc(&AdcEnv::new().with_credentials_file(USER_FILE))
            .with_clock(clock.clone())
            .discover(),
    )
    .unwrap();
    let ids = found.id_token_source("aud").unwrap();
    assert_eq!(ids.clock().unwrap().now(), clock.now());
    let record = CredentialRecord::new()
        .with_access_token(&AccessToken::new("eyJ.stored"))
        .with_refresh_token(SecretString::from("1//rotated"));
    ids.adopt_record(&record);
    let user = found
        .credential()
        .as_any()
        .and_then(|any| any.downcast_ref::<UserCredentials>())
        .unwrap();
    assert_eq!(user.refresh_token().unwrap().expose_secret(), "1//rotated");
    assert_eq!(
        format!("{:?}", credkit::adc::Env::with_lookup(|_| None)),
        "Env { .. }"
    );
}
