//! The gcloud CLI as ADC's fallback after the credentials files (feature `gcloud`).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{Error, Result, TokenSource};
use credkit_gcloud::{DEFAULT_PROGRAM, GcloudSource};

use crate::adc::gcloud_config::GcloudConfig;
use crate::adc::{AdcCredential, AdcFallback, LoadContext};

/// The gcloud CLI on `PATH`, when an account is logged in.
#[derive(Debug)]
pub(crate) struct GcloudFallback;

#[async_trait]
impl AdcFallback for GcloudFallback {
    fn place(&self) -> &'static str {
        "the gcloud CLI"
    }

    async fn credential(&self, context: &LoadContext) -> Result<Box<dyn AdcCredential>> {
        let Some(program) = find_on_path(context) else {
            return Err(Error::not_configured(format!(
                "{DEFAULT_PROGRAM} not found on PATH"
            )));
        };
        // Read from gcloud's files, not by running it: discovery stays fast and never asks a
        // server; a gcloud with nobody logged in is "not configured", as a missing file is.
        let config = GcloudConfig::new(context.env());
        let Some(account) = config.property("core", "account") else {
            let file = config.properties_file().map_or_else(
                || "gcloud's configuration".to_owned(),
                |f| f.display().to_string(),
            );
            return Err(Error::not_configured(format!(
                "{} is on PATH, but no account is logged in: {file} sets no [core] account. Run `gcloud auth login`",
                program.display()
            )));
        };
        // Run the very program found, so discovery and use agree whatever PATH the process has.
        let mut builder = GcloudSource::builder().with_program(program);
        if let Some(project) = context.quota_project() {
            builder = builder.with_quota_project(project);
        }
        if let Some(clock) = context.clock() {
            builder = builder.with_clock(Arc::clone(clock));
        }
        Ok(Box::new(GcloudCredential {
            source: Arc::new(builder.build()?),
            account,
        }))
    }
}

/// The gcloud program in a directory of the context's `PATH`.
fn find_on_path(context: &LoadContext) -> Option<PathBuf> {
    let path = context.var("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(DEFAULT_PROGRAM))
        .find(|candidate| candidate.is_file())
}

/// Tokens from the gcloud CLI, for gcloud's active account.
#[derive(Debug)]
pub(crate) struct GcloudCredential {
    source: Arc<GcloudSource>,
    account: String,
}

#[async_trait]
impl AdcCredential for GcloudCredential {
    fn credential_type(&self) -> &'static str {
        "gcloud"
    }

    fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::clone(&self.source) as Arc<dyn TokenSource>
    }

    /// `gcloud auth print-identity-token`: for `audience` when the account is a service
    /// account; a user account's ID token is issued to gcloud's OAuth client (gcloud refuses an
    /// audience for it), as the reference's user credentials.
    fn id_token_source(&self, audience: &str) -> Result<Arc<dyn TokenSource>> {
        Ok(Arc::new(
            self.source
                .id_token_source()
                .with_audience_for_account(audience, &self.account),
        ))
    }

    async fn email(&self) -> Result<Option<String>> {
        Ok(Some(self.account.clone()))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(&*self.source)
    }
}
