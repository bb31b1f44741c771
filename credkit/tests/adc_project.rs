//! Project ID discovery: the variables, the credentials file's own project, gcloud's
//! configuration files (never gcloud itself), then the fallbacks.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]
// A loader has the Loader signature even when it cannot fail.
#![allow(clippy::unnecessary_wraps)]

use std::sync::Arc;

use async_trait::async_trait;
use credkit::Adc;
use credkit::adc::{AdcCredential, LoadContext};
use credkit::core::{AccessToken, ErrorKind, Result, StaticSource, TokenSource};
use credkit_testing::{AdcEnv, FakeTokenEndpoint};
use futures::executor::block_on;

/// A type whose files carry a `project_id`, as a service account key's do.
#[derive(Debug)]
struct WithProject(Option<String>);

#[async_trait]
impl AdcCredential for WithProject {
    fn credential_type(&self) -> &'static str {
        "with_project"
    }

    fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::new(StaticSource::new(AccessToken::new("ya29.t")))
    }

    async fn project_id(&self) -> Result<Option<String>> {
        Ok(self.0.clone())
    }
}

fn load(json: &serde_json::Value, _: &LoadContext) -> Result<Box<dyn AdcCredential>> {
    Ok(Box::new(WithProject(
        json.get("project_id")
            .and_then(|p| p.as_str())
            .map(str::to_owned),
    )))
}

fn project(env: &AdcEnv) -> Result<String> {
    block_on(
        Adc::new()
            .with_env(env.lookup())
            .with_transport(FakeTokenEndpoint::new())
            .with_credential_type("with_project", load)
            .project_id(),
    )
}

const FILE: &str = r#"{"type": "with_project", "project_id": "from-file"}"#;

#[test]
fn the_order_is_variable_legacy_variable_file_gcloud() {
    let full = || {
        AdcEnv::new()
            .with_credentials_file(FILE)
            .with_gcloud_properties(&[("project", "from-gcloud")])
    };
    let env = full()
        .with_var("GOOGLE_CLOUD_PROJECT", "from-env")
        .with_var("GCLOUD_PROJECT", "from-legacy");
    assert_eq!(project(&env).unwrap(), "from-env");
    let env = full().with_var("GCLOUD_PROJECT", "from-legacy");
    assert_eq!(project(&env).unwrap(), "from-legacy");
    assert_eq!(project(&full()).unwrap(), "from-file");
    let env = AdcEnv::new()
        .with_credentials_file(r#"{"type": "with_project"}"#)
        .with_gcloud_properties(&[("project", "from-gcloud")]);
    assert_eq!(project(&env).unwrap(), "from-gcloud");
    let env = AdcEnv::new().with_gcloud_properties(&[("project", "from-gcloud")]);
    assert_eq!(project(&env).unwrap(), "from-gcloud");
}

#[test]
fn gclouds_active_configuration_and_its_variables() {
    let env = AdcEnv::new().with_gcloud_properties(&[("project", "in-default")]);
    let configurations = env.gcloud_config_dir().join("configurations");
    std::fs::write(
        configurations.join("config_work"),
        "[core]\nproject = in-work\n",
    )
    .unwrap();
    std::fs::write(env.gcloud_config_dir().join("active_config"), "work").unwrap();
    assert_eq!(project(&env).unwrap(), "in-work");
    let env = env.with_var("CLOUDSDK_ACTIVE_CONFIG_NAME", "default");
    assert_eq!(project(&env).unwrap(), "in-default");
    let env = env.with_var("CLOUDSDK_CORE_PROJECT", "from-cloudsdk-variable");
    assert_eq!(project(&env).unwrap(), "from-cloudsdk-variable");
    // A configuration name that would leave the folder is not followed.
    let env = AdcEnv::new().with_var("CLOUDSDK_ACTIVE_CONFIG_NAME", "../../etc");
    assert!(project(&env).is_err());
}

#[test]
fn nowhere_is_not_configured_and_lists_the_places() {
    let env = AdcEnv::new();
    let err = project(&env).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConfigured);
    let message = err.to_string();
    assert!(message.starts_with("No project ID could be determined. Consider running `gcloud config set project` or setting the GOOGLE_CLOUD_PROJECT environment variable. Looked at: GOOGLE_CLOUD_PROJECT and GCLOUD_PROJECT (not set); the credentials file (none found); gcloud's configuration "), "{message}");
    assert!(
        message.contains("config_default (no [core] project)"),
        "{message}"
    );

    let env = AdcEnv::new().with_credentials_file(r#"{"type": "with_project"}"#);
    let message = project(&env).unwrap_err().to_string();
    assert!(
        message.contains(
            "file via the GOOGLE_APPLICATION_CREDENTIALS environment variable (no project)"
        ),
        "{message}"
    );
}

#[test]
fn a_broken_credentials_file_is_an_error() {
    let env = AdcEnv::new()
        .with_credentials_file("{not json")
        .with_gcloud_properties(&[("project", "from-gcloud")]);
    let err = project(&env).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
}

#[cfg(feature = "refresh-token")]
#[test]
fn user_credentials_have_no_project_of_their_own() {
    let env = AdcEnv::new()
        .with_well_known_file(r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r", "quota_project_id": "billing"}"#)
        .with_gcloud_properties(&[("project", "from-gcloud")]);
    assert_eq!(
        project(&env).unwrap(),
        "from-gcloud",
        "the quota project is not the project"
    );
}
