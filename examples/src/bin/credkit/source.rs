//! From the command-line options to `Credentials`: a file, Application Default Credentials
//! (the `credkit` facade's discovery) or the gcloud CLI.

use std::path::Path;
use std::sync::Arc;

use credkit::Adc;
use credkit::adc::{AdcCredential, AuthorizedUser, Discovered};
use credkit_core::{Credentials, CredentialsBuilder, TokenSource, Transport};
use credkit_gcloud::{DEFAULT_PROGRAM, GcloudSource, GcloudSourceBuilder};
use credkit_impersonated::{
    CLOUD_PLATFORM_SCOPE, IMPERSONATED_SERVICE_ACCOUNT, ImpersonatedCredentials,
};
use credkit_refresh_token::UserCredentials;

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
    /// The account's e-mail address as discovery found it, when the provider does not know
    /// it (gcloud's active account, read from its configuration).
    pub(crate) email: Option<String>,
    /// What names the token: its key in the cache, or for the gcloud CLI and the metadata
    /// server (not cached by this tool) their name and account. An impersonated token's key
    /// is derived from it.
    pub(crate) identity: String,
}

/// Which provider the credentials came from.
#[derive(Debug)]
pub(crate) enum Origin {
    /// An `authorized_user` file.
    User(UserCredentials),
    /// The gcloud CLI.
    Gcloud(GcloudSource),
    /// Another type Application Default Credentials found (through the facade's registry).
    Other(Box<Discovered>),
    /// A service account impersonated with the credentials found
    /// (`--impersonate-service-account`).
    Impersonated(ImpersonatedCredentials),
}

impl Origin {
    /// The credential type, as `info` reports it: `authorized_user`, `gcloud`, or the type
    /// discovery found.
    pub(crate) fn kind(&self) -> &str {
        match self {
            Self::User(_) => "authorized_user",
            Self::Gcloud(_) => "gcloud",
            Self::Other(found) => found.credential_type(),
            Self::Impersonated(_) => IMPERSONATED_SERVICE_ACCOUNT,
        }
    }

    /// The account's e-mail address, when known: the file's `account`, gcloud's account, or
    /// what the discovered credential says.
    pub(crate) async fn email(&self) -> Result<Option<String>, Failure> {
        match self {
            Self::User(user) => Ok(Some(user.account().to_owned()).filter(|a| !a.is_empty())),
            Self::Gcloud(gcloud) => Ok(gcloud.account().map(str::to_owned)),
            Self::Other(found) => Ok(found.email().await?),
            Self::Impersonated(impersonated) => {
                Ok(Some(impersonated.target_principal().to_owned()))
            }
        }
    }

    /// The ID-token source for `audience`, when the credential has one. `account` is the
    /// account discovery found (gcloud's active one), when the provider does not name it.
    pub(crate) fn id_token_source(
        &self,
        audience: &str,
        account: Option<&str>,
    ) -> Result<Arc<dyn TokenSource>, Failure> {
        match self {
            Self::User(user) => Ok(AuthorizedUser::new(user.clone()).id_token_source(audience)?),
            Self::Gcloud(gcloud) => {
                let account = gcloud.account().or(account).unwrap_or_default();
                Ok(Arc::new(
                    gcloud
                        .id_token_source()
                        .with_audience_for_account(audience, account),
                ))
            }
            Self::Other(found) => Ok(found.id_token_source(audience)?),
            Self::Impersonated(impersonated) => {
                Ok(Arc::new(impersonated.id_token_source(audience)?))
            }
        }
    }

    /// The scopes requested but not granted by the last refresh, in request order; empty when
    /// nothing is missing or the server did not say what it granted.
    pub(crate) fn missing_scopes(&self) -> Vec<String> {
        match self {
            Self::User(user) => user.scope_shortfall(),
            Self::Gcloud(_) | Self::Other(_) | Self::Impersonated(_) => Vec::new(),
        }
    }
}

/// Loads the credentials `args` name. Nothing is fetched yet.
///
/// # Errors
///
/// A missing, unreadable or malformed file; no Application Default Credentials; options that
/// do not apply to the gcloud CLI that discovery found; a transport that cannot be built.
pub(crate) async fn load(args: &SourceArgs) -> Result<Loaded, Failure> {
    let loaded = load_source(args).await?;
    match args.impersonation() {
        Some((target, delegates)) => impersonate(loaded, target, delegates, args),
        None => Ok(loaded),
    }
}

/// gcloud's environment variable for the IAM Credentials API's endpoint
/// (`api_endpoint_overrides/iamcredentials`): its origin, such as
/// `https://iamcredentials.googleapis.com/`.
const IAM_ENDPOINT_OVERRIDE: &str = "CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS";

/// The credentials found acting as `target` through IAM's `generateAccessToken`, with the
/// options' scopes (default cloud-platform) and quota project.
fn impersonate(
    source: Loaded,
    target: String,
    delegates: Vec<String>,
    args: &SourceArgs,
) -> Result<Loaded, Failure> {
    let mut builder = ImpersonatedCredentials::builder(source.credentials, target)
        .with_transport(transport(args));
    if !delegates.is_empty() {
        builder = builder.with_delegates(delegates);
    }
    // gcloud's property for another IAM Credentials endpoint (a regional one, or a test's).
    if let Some(url) = std::env::var(IAM_ENDPOINT_OVERRIDE)
        .ok()
        .filter(|url| !url.is_empty())
    {
        builder = builder.with_iam_base_url(url.trim_end_matches('/'));
    }
    if !args.scopes.is_empty() {
        builder = builder.with_scopes(args.scopes.iter().cloned());
    }
    if let Some(project) = &args.quota_project {
        builder = builder.with_quota_project(project.clone());
    }
    let impersonated = builder.build()?;
    // Cached like any other token, under a key of its own: the source's identity, the chain
    // and the scopes.
    let key = cache::impersonated_key(
        &source.identity,
        impersonated.target_principal(),
        impersonated.delegates(),
        impersonated.scopes(),
    );
    let storage = cache::open(args)?;
    let cache = storage.as_ref().map(cache::Cache::location);
    let outcome = Outcome::default();
    let builder = cache::attach(
        Credentials::builder(impersonated.clone()),
        storage,
        key.clone(),
        &outcome,
    );
    let credentials = retries(builder, args).build()?;
    Ok(Loaded {
        credentials,
        origin: Origin::Impersonated(impersonated),
        cache,
        outcome,
        email: None,
        identity: key,
    })
}

/// The credentials the options name, before any impersonation. When impersonating,
/// `--scope` is the impersonated token's: the source keeps its file's scopes, and one found
/// by discovery asks for cloud-platform (enough to call IAM).
async fn load_source(args: &SourceArgs) -> Result<Loaded, Failure> {
    let impersonating = args.impersonation().is_some();
    let scopes: &[String] = if impersonating { &[] } else { &args.scopes };
    if let Some(path) = &args.access_token_file {
        return access_token_file(path, scopes, args).await;
    }
    if args.gcloud {
        let program = gcloud_on_path().ok_or_else(|| {
            Failure::new(format!(
                "--gcloud: the {DEFAULT_PROGRAM} program was not found on PATH; install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install) or add its bin folder to PATH"
            ))
        })?;
        let gcloud = gcloud_source(GcloudSource::builder().with_program(program), args)?;
        return gcloud_credentials(gcloud, args);
    }
    if let Some(path) = args
        .credentials
        .as_deref()
        .filter(|path| is_other_type(path))
    {
        // Another type (external_account, service_account, ...): loaded by the facade's
        // registry, as Application Default Credentials would load it from
        // GOOGLE_APPLICATION_CREDENTIALS.
        let file = path.to_path_buf();
        let mut adc = Adc::new()
            .with_env(move |name| {
                if name == "GOOGLE_APPLICATION_CREDENTIALS" {
                    Some(file.display().to_string())
                } else {
                    std::env::var(name).ok()
                }
            })
            .with_transport(transport(args));
        if impersonating {
            adc = adc.with_scopes([CLOUD_PLATFORM_SCOPE]);
        } else if !scopes.is_empty() {
            adc = adc.with_scopes(scopes.iter().cloned());
        }
        let found = adc.discover().await?;
        return discovered_credentials(found, Some(path), args);
    }
    let mut user = if let Some(path) = &args.credentials {
        from_file(path, scopes)?
            .to_builder()
            .with_credential_source(path.display().to_string())
    } else {
        let mut adc = Adc::new().with_transport(transport(args));
        if impersonating {
            adc = adc.with_scopes([CLOUD_PLATFORM_SCOPE]);
        } else if !scopes.is_empty() {
            adc = adc.with_scopes(scopes.iter().cloned());
        }
        let found = adc.discover().await?;
        let provider = found.credential().as_any();
        if let Some(user) = provider.and_then(|any| any.downcast_ref::<UserCredentials>()) {
            user.to_builder()
        } else if let Some(gcloud) = provider.and_then(|any| any.downcast_ref::<GcloudSource>()) {
            if args.token_uri.is_some() || !scopes.is_empty() {
                return Err(Failure::new(
                    "no credentials file was found, and the gcloud CLI that Application Default Credentials fell back to takes neither --token-uri nor --scope; give --credentials FILE",
                ));
            }
            let gcloud = gcloud_source(gcloud.to_builder(), args)?;
            let mut loaded = gcloud_credentials(gcloud, args)?;
            loaded.email = found.email().await?;
            return Ok(loaded);
        } else {
            return discovered_credentials(found, adc_file(&adc).as_deref(), args);
        }
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
    let key = cache::key(&user);
    let storage = cache::open(args)?;
    let cache = storage.as_ref().map(cache::Cache::location);
    let outcome = Outcome::default();
    let builder = cache::attach(
        Credentials::builder(user.clone()),
        storage,
        key.clone(),
        &outcome,
    );
    let credentials = retries(builder, args).build()?;
    Ok(Loaded {
        credentials,
        origin: Origin::User(user),
        cache,
        outcome,
        email: None,
        identity: key,
    })
}

/// The token in the file of `--access-token-file`, through the facade's access-token step
/// (not cached: the file is its only truth).
async fn access_token_file(
    path: &Path,
    scopes: &[String],
    args: &SourceArgs,
) -> Result<Loaded, Failure> {
    if !scopes.is_empty() {
        return Err(Failure::new(
            "--scope does not apply to --access-token-file (the token has the scopes it was issued with), except with --impersonate-service-account",
        ));
    }
    if !path.exists() {
        return Err(Failure::new(format!(
            "--access-token-file: {} does not exist; write an access token to it",
            path.display()
        )));
    }
    // The facade's access-token step, pointed at this file alone: the flag wins over a
    // token in CLOUDSDK_AUTH_ACCESS_TOKEN (gcloud's own flag does not).
    let file = path.display().to_string();
    let adc = Adc::new().with_env(move |name| match name {
        "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE" => Some(file.clone()),
        "CLOUDSDK_AUTH_ACCESS_TOKEN" => None,
        _ => std::env::var(name).ok(),
    });
    let found = adc.discover().await?;
    discovered_credentials(found, None, args)
}

/// The file discovery reads: `GOOGLE_APPLICATION_CREDENTIALS`, else the well-known file. (The
/// fallbacks read none; their types are not cached.)
fn adc_file(adc: &Adc) -> Option<std::path::PathBuf> {
    adc.env()
        .var("GOOGLE_APPLICATION_CREDENTIALS")
        .filter(|path| !path.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| adc.well_known_file())
}

/// The credential types whose tokens this tool does not cache: the metadata server (on this
/// machine's network, with a cache of its own, and its tokens belong to the machine), the
/// gcloud CLI (its own cache, and an active account that can change under a key), and tokens
/// handed in (the variable or the file is their only truth).
const UNCACHED_TYPES: &[&str] = &["metadata", "gcloud", "access_token", "access_token_file"];

/// Any other type discovery found, through the facade, read from `file` (`None` for a
/// fallback such as the metadata server). Cached under a key of the type, the file's bytes and
/// the scopes; none of the options that shape a refresh-token grant apply.
fn discovered_credentials(
    found: Discovered,
    file: Option<&Path>,
    args: &SourceArgs,
) -> Result<Loaded, Failure> {
    if args.token_uri.is_some() || args.reauth.enable_reauth {
        return Err(Failure::new(format!(
            "--token-uri and --enable-reauth apply to authorized_user credentials; Application Default Credentials found {}",
            found.credential_type()
        )));
    }
    let mut builder = found.credentials_builder();
    if let Some(project) = &args.quota_project {
        builder = builder.with_quota_project(project.clone());
    }
    let kind = found.credential_type().to_owned();
    // The file as it is now: if it changed since discovery read it, the key names the newer
    // contents, and the next run (which reads those) finds the token under it.
    let bytes = file
        .filter(|_| !UNCACHED_TYPES.contains(&kind.as_str()))
        .and_then(|path| std::fs::read(path).ok());
    let (builder, cache, outcome, identity) = match bytes {
        Some(bytes) => {
            let key = cache::file_key(&kind, &bytes, args_scopes(args));
            let storage = cache::open(args)?;
            let cache = storage.as_ref().map(cache::Cache::location);
            let outcome = Outcome::default();
            let builder = cache::attach(builder, storage, key.clone(), &outcome);
            (builder, cache, outcome, key)
        }
        None => (builder, None, Outcome::default(), kind),
    };
    let credentials = retries(builder, args).build()?;
    Ok(Loaded {
        credentials,
        origin: Origin::Other(Box::new(found)),
        cache,
        outcome,
        email: None,
        identity,
    })
}

/// The scopes the source is asked for: `--scope`, or cloud-platform when impersonating (as
/// `load_source` asks discovery for).
fn args_scopes(args: &SourceArgs) -> &[String] {
    static CLOUD_PLATFORM: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| vec![CLOUD_PLATFORM_SCOPE.to_owned()]);
    if args.impersonation().is_some() {
        &CLOUD_PLATFORM
    } else {
        &args.scopes
    }
}

/// The gcloud program in a folder of `PATH`.
fn gcloud_on_path() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(DEFAULT_PROGRAM))
        .find(|candidate| candidate.is_file())
}

/// Whether the file at `path` names a `type` other than `authorized_user`. Anything else (no
/// `type`, an unreadable file) is left to the `authorized_user` reader and its messages.
fn is_other_type(path: &Path) -> bool {
    credkit_core::credentials_file::read_json(path).is_ok_and(|json| {
        json.get("type")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|kind| kind != "authorized_user")
    })
}

/// An `authorized_user` file, with `scopes` (`--scope`) winning over the file's scopes.
fn from_file(path: &Path, scopes: &[String]) -> Result<UserCredentials, Failure> {
    let scopes = (!scopes.is_empty()).then(|| scopes.to_vec());
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
    let identity = format!("gcloud-{}", gcloud.account().unwrap_or("active-account"));
    Ok(Loaded {
        credentials,
        origin: Origin::Gcloud(gcloud),
        cache: None,
        outcome: Outcome::default(),
        email: None,
        identity,
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
