//! From the command-line options to `Credentials`: a file, Application Default Credentials or
//! the gcloud CLI.

use std::path::Path;
use std::sync::Arc;

use credkit_core::{Credentials, CredentialsBuilder, Transport};
use credkit_gcloud::{GcloudSource, GcloudSourceBuilder};
use credkit_refresh_token::{Adc, AdcSource, UserCredentials};

use crate::cache::{self, Outcome};
use crate::cli::SourceArgs;
use crate::failure::Failure;
use crate::lazy::LazyTransport;
use crate::password;

/// The credentials the options chose, and the provider behind them (for `info` and the scope
/// check).
#[derive(Debug)]
pub(crate) struct Loaded {
    /// The caching layer every command reads from.
    pub(crate) credentials: Credentials,
    /// The provider. A clone of the one inside `credentials`: for user credentials they share
    /// the state a refresh updates (granted scopes, the rotated refresh token).
    pub(crate) origin: Origin,
    /// Where the token cache is (a directory, or a Redis URL without its password); `None`
    /// when the cache is off.
    pub(crate) cache: Option<String>,
    /// Whether this run's token came from the cache.
    pub(crate) outcome: Outcome,
}

/// Which provider the credentials came from.
#[derive(Debug)]
pub(crate) enum Origin {
    /// An `authorized_user` file.
    User(UserCredentials),
    /// The gcloud CLI.
    Gcloud(GcloudSource),
}

impl Origin {
    /// `authorized_user` or `gcloud`, as `info` reports it.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "authorized_user",
            Self::Gcloud(_) => "gcloud",
        }
    }

    /// The scopes requested but not granted by the last refresh, in request order; empty when
    /// nothing is missing or the server did not say what it granted.
    pub(crate) fn missing_scopes(&self) -> Vec<String> {
        match self {
            Self::User(user) => user.scope_shortfall(),
            Self::Gcloud(_) => Vec::new(),
        }
    }
}

/// Loads the credentials `args` name. Nothing is fetched yet.
///
/// # Errors
///
/// A missing, unreadable or malformed file; no Application Default Credentials; options that
/// do not apply to the gcloud CLI that discovery found; a transport that cannot be built.
pub(crate) fn load(args: &SourceArgs) -> Result<Loaded, Failure> {
    if args.gcloud {
        let gcloud = gcloud_source(GcloudSource::builder(), args)?;
        return gcloud_credentials(gcloud, args);
    }
    let mut user = match &args.credentials {
        Some(path) => from_file(path, args)?
            .to_builder()
            .with_credential_source(path.display().to_string()),
        None => match Adc::from_env().discover()? {
            AdcSource::User(user) => {
                let builder = user.to_builder();
                if args.scopes.is_empty() {
                    builder
                } else {
                    builder.with_scopes(args.scopes.iter().cloned())
                }
            }
            AdcSource::Gcloud(found) => {
                if args.token_uri.is_some() || !args.scopes.is_empty() {
                    return Err(Failure::new(
                        "no credentials file was found, and the gcloud CLI that Application Default Credentials fell back to takes neither --token-uri nor --scope; give --credentials FILE",
                    ));
                }
                let gcloud = gcloud_source(found.to_builder(), args)?;
                return gcloud_credentials(gcloud, args);
            }
            other => {
                return Err(Failure::new(format!(
                    "credentials of type {} are not supported by this tool",
                    other.kind()
                )));
            }
        },
    };
    user = user.with_transport(transport(args));
    if let Some(uri) = &args.token_uri {
        user = user.with_token_uri(uri.clone());
    }
    if let Some(project) = &args.quota_project {
        user = user.with_quota_project(project.clone());
    }
    if args.reauth.enable_reauth {
        user = password::with_reauth(user, &args.reauth);
    }
    let user = user.build()?;
    let storage = cache::open(args)?;
    let cache = storage.as_ref().map(cache::Cache::location);
    let outcome = Outcome::default();
    let builder = cache::attach(
        Credentials::builder(user.clone()),
        storage,
        cache::key(&user),
        &outcome,
    );
    let credentials = retries(builder, args).build()?;
    Ok(Loaded {
        credentials,
        origin: Origin::User(user),
        cache,
        outcome,
    })
}

/// An `authorized_user` file, with `--scope` winning over the file's scopes.
fn from_file(path: &Path, args: &SourceArgs) -> Result<UserCredentials, Failure> {
    let scopes = (!args.scopes.is_empty()).then(|| args.scopes.clone());
    Ok(UserCredentials::from_authorized_user_file(path, scopes)?)
}

/// The gcloud source with the account, quota project and timeout of `args`.
fn gcloud_source(
    mut builder: GcloudSourceBuilder,
    args: &SourceArgs,
) -> Result<GcloudSource, Failure> {
    if let Some(account) = &args.account {
        builder = builder.with_account(account.clone());
    }
    if let Some(project) = &args.quota_project {
        builder = builder.with_quota_project(project.clone());
    }
    if let Some(timeout) = args.timeout {
        builder = builder.with_timeout(timeout);
    }
    Ok(builder.build()?)
}

fn gcloud_credentials(gcloud: GcloudSource, args: &SourceArgs) -> Result<Loaded, Failure> {
    let credentials = retries(Credentials::builder(gcloud.clone()), args).build()?;
    // Not cached: gcloud keeps its own cache, and its active account can change under a key.
    Ok(Loaded {
        credentials,
        origin: Origin::Gcloud(gcloud),
        cache: None,
        outcome: Outcome::default(),
    })
}

/// The reqwest transport, with `--timeout` as its total timeout, built on the first request.
fn transport(args: &SourceArgs) -> Arc<dyn Transport> {
    Arc::new(LazyTransport::new(args.timeout))
}

/// The default retry policy, or none with `--no-retry`.
fn retries(builder: CredentialsBuilder, args: &SourceArgs) -> CredentialsBuilder {
    if args.no_retry {
        builder.without_retries()
    } else {
        builder
    }
}
