//! Tokens handed in through gcloud's variables (feature `access-token`): the first place ADC
//! looks.
//!
//! gcloud uses, before any account or file of its own: `CLOUDSDK_AUTH_ACCESS_TOKEN` (the
//! token), then the `auth/access_token_file` property (the `--access-token-file` flag,
//! `CLOUDSDK_AUTH_ACCESS_TOKEN_FILE`, the active configuration's `[auth] access_token_file`).
//! ADC reads them the same way and in the same order, ahead of
//! `GOOGLE_APPLICATION_CREDENTIALS`: whoever sets them hands a program its identity on
//! purpose, for this run, and a tool that also runs gcloud then acts as one identity. Google's
//! client libraries read neither, which is why the feature is off by default.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_access_token::{
    ACCESS_TOKEN_ENV, ACCESS_TOKEN_FILE_ENV, TokenEnvSource, TokenFileSource,
};
use credkit_core::{Error, ErrorKind, Result, TokenSource};

use crate::adc::gcloud_config::GcloudConfig;
use crate::adc::{AdcCredential, LoadContext};

/// The credential type of a token from `CLOUDSDK_AUTH_ACCESS_TOKEN`.
pub(crate) const ACCESS_TOKEN: &str = "access_token";
/// The credential type of a token from the `auth/access_token_file` property's file.
pub(crate) const ACCESS_TOKEN_FILE: &str = "access_token_file";

/// How the "Looked at" list names these places when none is set.
pub(crate) const PLACES: &str = "CLOUDSDK_AUTH_ACCESS_TOKEN and CLOUDSDK_AUTH_ACCESS_TOKEN_FILE (gcloud's auth/access_token_file)";

/// The handed-in token, with where it was found; `None` when gcloud's variables and property
/// are all unset.
///
/// # Errors
///
/// A [`Configuration`](ErrorKind::Configuration) error, stopping discovery, when the variable
/// is set to something that is not a usable token, or the property names a file that does
/// not exist. The file's content is read on each fetch, not here: it is expected to change.
pub(crate) async fn find(
    context: &LoadContext,
) -> Result<Option<(Box<dyn AdcCredential>, String)>> {
    if context.var(ACCESS_TOKEN_ENV).is_some() {
        let env = context.env().clone();
        let mut source = TokenEnvSource::new().with_lookup(move |name| env.var(name));
        if let Some(clock) = context.clock() {
            source = source.with_clock(Arc::clone(clock));
        }
        if let Some(project) = context.quota_project() {
            source = source.with_quota_project(project);
        }
        // The value never changes in a process: a broken one is an error now, not at first use.
        if let Err(err) = source.fetch_token().await {
            return Err(Error::new(
                ErrorKind::Configuration,
                format!("Failed to load an access token from {ACCESS_TOKEN_ENV}: {err}"),
            )
            .with_causes(vec![err]));
        }
        let origin = format!("the {ACCESS_TOKEN_ENV} environment variable");
        let credential = HandedToken::Env(Arc::new(source));
        return Ok(Some((Box::new(credential), origin)));
    }
    let Some((path, via)) = token_file(context) else {
        return Ok(None);
    };
    if !path.exists() {
        return Err(Error::new(
            ErrorKind::Configuration,
            format!(
                "File {} (named by {via}) was not found; write an access token to it, or unset it",
                path.display()
            ),
        ));
    }
    let mut builder = TokenFileSource::builder(&path);
    if let Some(clock) = context.clock() {
        builder = builder.with_clock(Arc::clone(clock));
    }
    if let Some(project) = context.quota_project() {
        builder = builder.with_quota_project(project);
    }
    let origin = format!("{} file via {via}", path.display());
    let credential = HandedToken::File(Arc::new(builder.build()?));
    Ok(Some((Box::new(credential), origin)))
}

/// The token file gcloud's `auth/access_token_file` property names, and what named it: the
/// environment variable, else the active configuration's file.
fn token_file(context: &LoadContext) -> Option<(PathBuf, String)> {
    if let Some(path) = context.var(ACCESS_TOKEN_FILE_ENV) {
        return Some((
            PathBuf::from(path),
            format!("the {ACCESS_TOKEN_FILE_ENV} environment variable"),
        ));
    }
    let config = GcloudConfig::new(context.env());
    let path = config.property("auth", "access_token_file")?;
    let file = config
        .properties_file()
        .map_or_else(String::new, |f| format!(" in {}", f.display()));
    Some((
        PathBuf::from(path),
        format!("gcloud's auth/access_token_file property{file}"),
    ))
}

/// A token handed in: gcloud's variable, or the file its property names.
#[derive(Debug)]
enum HandedToken {
    Env(Arc<TokenEnvSource>),
    File(Arc<TokenFileSource>),
}

#[async_trait]
impl AdcCredential for HandedToken {
    fn credential_type(&self) -> &'static str {
        match self {
            Self::Env(_) => ACCESS_TOKEN,
            Self::File(_) => ACCESS_TOKEN_FILE,
        }
    }

    fn token_source(&self) -> Arc<dyn TokenSource> {
        match self {
            Self::Env(source) => Arc::clone(source) as Arc<dyn TokenSource>,
            Self::File(source) => Arc::clone(source) as Arc<dyn TokenSource>,
        }
    }

    /// The [`TokenEnvSource`] or the [`TokenFileSource`].
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        match self {
            Self::Env(source) => Some(&**source),
            Self::File(source) => Some(&**source),
        }
    }
}
