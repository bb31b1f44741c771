//! The metadata server in ADC (feature `metadata`): the last place ADC looks, behind its
//! probe.

use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{Error, Result, TokenSource};
use credkit_metadata::{
    DEFAULT_SERVICE_ACCOUNT, MetadataCredentials, MetadataIdTokenSource, MetadataServer, Probe,
};

use crate::adc::{AdcCredential, AdcFallback, LoadContext};

/// The type name of metadata server credentials.
pub(crate) const METADATA: &str = "metadata";

/// The metadata server as ADC's last fallback: not configured unless its probe finds it.
#[derive(Debug)]
pub(crate) struct MetadataFallback;

impl MetadataFallback {
    /// The metadata server of the context's environment, transport and clock, found by its
    /// probe; not configured (with what the probe saw) when it is not there.
    async fn server(context: &LoadContext) -> Result<MetadataServer> {
        let env = context.env().clone();
        let mut builder = MetadataServer::builder()
            .with_env(move |name| env.var(name))
            .with_transport(context.transport()?);
        if let Some(clock) = context.clock() {
            builder = builder.with_clock(Arc::clone(clock));
        }
        if let Some(timeout) = context.probe_timeout() {
            builder = builder.with_probe_timeout(timeout);
        }
        let server = builder.build()?;
        match server.probe().await {
            Probe::Available => Ok(server),
            Probe::Disabled => Err(Error::not_configured("NO_GCE_CHECK is set")),
            Probe::TimedOut => Err(Error::not_configured(format!(
                "no answer from {} within {} ms",
                server.probe_host(),
                server.probe_timeout().as_millis()
            ))),
            Probe::NotMetadataServer { status } => Err(Error::not_configured(format!(
                "{} answered HTTP {status}, not as the metadata server does",
                server.probe_host()
            ))),
            Probe::Unreachable(err) => Err(Error::not_configured(format!(
                "{} is unreachable: {}",
                server.probe_host(),
                err.message()
            ))),
            _ => Err(Error::not_configured(format!(
                "{} did not answer as the metadata server does",
                server.probe_host()
            ))),
        }
    }
}

#[async_trait]
impl AdcFallback for MetadataFallback {
    fn place(&self) -> &'static str {
        "the metadata server"
    }

    async fn credential(&self, context: &LoadContext) -> Result<Box<dyn AdcCredential>> {
        let server = Self::server(context).await?;
        let mut builder = MetadataCredentials::builder().with_server(server.clone());
        if let Some(scopes) = context.scopes().or(context.default_scopes()) {
            builder = builder.with_scopes(scopes.iter().cloned());
        }
        if let Some(project) = context.quota_project() {
            builder = builder.with_quota_project(project);
        }
        Ok(Box::new(Metadata {
            credentials: builder.build()?,
            server,
            quota_project: context.quota_project().map(str::to_owned),
        }))
    }

    async fn project_id(&self, context: &LoadContext) -> Result<Option<String>> {
        Ok(Some(Self::server(context).await?.project_id().await?))
    }
}

/// The metadata server's default service account as an [`AdcCredential`]: access tokens, ID
/// tokens for any audience, its email and the project, asked of the server. It cannot sign.
#[derive(Clone, Debug)]
pub struct Metadata {
    credentials: MetadataCredentials,
    server: MetadataServer,
    quota_project: Option<String>,
}

impl Metadata {
    /// The access-token source.
    pub fn credentials(&self) -> &MetadataCredentials {
        &self.credentials
    }

    /// The metadata server.
    pub fn server(&self) -> &MetadataServer {
        &self.server
    }
}

#[async_trait]
impl AdcCredential for Metadata {
    fn credential_type(&self) -> &'static str {
        METADATA
    }

    fn token_source(&self) -> Arc<dyn TokenSource> {
        Arc::new(self.credentials.clone())
    }

    /// ID tokens for `audience` from the server's identity endpoint (`format=full`).
    fn id_token_source(&self, audience: &str) -> Result<Arc<dyn TokenSource>> {
        let mut builder = MetadataIdTokenSource::builder(audience)
            .with_server(self.server.clone())
            .with_service_account(self.credentials.service_account());
        if let Some(project) = &self.quota_project {
            builder = builder.with_quota_project(project.clone());
        }
        Ok(Arc::new(builder.build()?))
    }

    async fn email(&self) -> Result<Option<String>> {
        let account = self.credentials.service_account();
        let account = if account.is_empty() {
            DEFAULT_SERVICE_ACCOUNT
        } else {
            account
        };
        Ok(Some(self.server.email(account).await?))
    }

    async fn project_id(&self) -> Result<Option<String>> {
        Ok(Some(self.server.project_id().await?))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(&self.credentials)
    }
}
