//! The command line, as clap reads it.
//!
//! The doc comments of the types below are the `--help` text, printed as written.
// Backticks around every identifier would show in `--help`.
#![allow(clippy::doc_markdown)]

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};

/// Google and OAuth 2.0 credentials from the command line: print an access token, the request
/// headers or the credentials' facts; serve tokens to kubectl, docker, git, Bazel and any
/// Google client library; or watch the library work in a self-contained demo.
///
/// Sign in with `credkit login --client-secrets client_secret.json` (your own OAuth client's
/// file, without gcloud) to write Application Default Credentials, and out with
/// `credkit revoke`.
///
/// Without --credentials, --access-token-file or --gcloud, credentials are found as
/// Application Default Credentials: a token handed in as gcloud takes one
/// (CLOUDSDK_AUTH_ACCESS_TOKEN, then the file of CLOUDSDK_AUTH_ACCESS_TOKEN_FILE or gcloud's
/// auth/access_token_file property), then the file named by GOOGLE_APPLICATION_CREDENTIALS,
/// then gcloud's application_default_credentials.json, then the gcloud CLI (when an account
/// is logged in).
///
/// Exit status: 0 on success; 1 on a credential or refresh error, with one line
/// `error: <message>` on standard error; 2 on a usage error.
#[derive(Debug, Parser)]
#[command(name = "credkit", version, arg_required_else_help = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Show the library at work against a fake token endpoint, with timings.
    ///
    /// Starts a fake OAuth token endpoint on 127.0.0.1 in this process, writes a temporary
    /// authorized_user file for it, and shows step by step: the first refresh, the cached hot
    /// path, single flight, a refresh-token rotation, a transient failure retried and a
    /// permanent one reported. Each step checks what it shows. Needs no credentials, sends
    /// nothing off the machine, prints no secret.
    Demo(DemoArgs),
    /// Print an access token (or, with --id-token, an ID token) and a newline.
    ///
    /// A token still fresh in the credentials file or the token cache is printed as it is;
    /// otherwise one is fetched (and cached).
    Token(TokenArgs),
    /// Print the request headers, one `name: value` a line.
    ///
    /// authorization first, then x-goog-user-project when there is a quota project.
    Header(SourceArgs),
    /// Print the credentials' non-secret facts as JSON.
    ///
    /// The fields: type (the credential type: authorized_user, gcloud, or the type
    /// Application Default Credentials found), email (the account's e-mail address),
    /// project_id (GOOGLE_CLOUD_PROJECT, the credentials file's, gcloud's configuration),
    /// client_id, account, scopes,
    /// granted_scopes, quota_project, token_uri, source, expiry (RFC 3339, UTC),
    /// token_state (fresh, stale or invalid), cache (the token cache's directory, null when
    /// off) and token_from_cache (whether this run's token came from the cache, null when no
    /// token was obtained); null where unknown. Never a token or secret.
    ///
    /// It gets a token first (from the cache while it is fresh, else by a refresh), so the
    /// expiry, the granted scopes and the state are live; a failed refresh exits 1. With
    /// --no-refresh it reports what is known without a request.
    Info(InfoArgs),
    /// Verify a Google-issued ID token and print its claims as JSON.
    ///
    /// Checks the signature (RS256 or ES256) with Google's public keys (fetched, or from
    /// --keys-file), the issuer, the audience, exp and iat (with --clock-skew), and with the
    /// options the hosted domain and email_verified. An invalid token exits 1 with one line
    /// `error: the ID token is not valid: <why>`; the token is never printed.
    VerifyIdToken(VerifyArgs),
    /// Answer kubectl as its exec credential plugin: print an ExecCredential with a token.
    ///
    /// Reads kubectl's request from KUBERNETES_EXEC_INFO and answers in the apiVersion it
    /// asks (client.authentication.k8s.io/v1 or v1beta1; v1alpha1 and others are refused):
    /// the access token as status.token and its expiry as status.expirationTimestamp
    /// (RFC 3339), so kubectl runs it again only then. Without KUBERNETES_EXEC_INFO it
    /// answers v1beta1, as gke-gcloud-auth-plugin does. Only when the request says
    /// spec.interactive (kubeconfig interactiveMode IfAvailable or Always, at a terminal) may
    /// reauthentication (--enable-reauth) ask for a password; otherwise nothing is read from
    /// standard input. The token comes from the token cache while it is fresh, as `token`'s.
    ExecCredential(ExecCredentialArgs),
    /// Answer docker as its credential helper (docker-credential-credkit).
    ///
    /// ACTION is get, store, erase, list or version, with docker's input on standard input.
    /// get answers a Google registry (gcr.io, *.gcr.io, *.pkg.dev, and the --host patterns)
    /// with {"ServerURL":..,"Username":"oauth2accesstoken","Secret":TOKEN}, and any
    /// other with "credentials not found in native keychain", exit 1. store and erase accept
    /// a Google registry and keep nothing (the secret is the token get answers); for another
    /// registry store fails and erase answers "not found". list names Container Registry's
    /// hosts. An error is the message on standard output (docker reads it there), exit 1, and
    /// one line `error: <message>` on standard error.
    ///
    /// A link to credkit named docker-credential-credkit runs this: `docker-credential-credkit
    /// get` is `credkit docker-credential get`, with CREDKIT_HELPER_HOSTS for --host.
    DockerCredential(DockerCredentialArgs),
    /// Answer Bazel (or uv) as its credential helper (credkit-credential-helper).
    ///
    /// COMMAND is get, with {"uri": "https://..."} on standard input. For a URI on Google's
    /// APIs (*.googleapis.com, storage.cloud.google.com, the registries, and the --host
    /// patterns; https or grpcs) it prints the spec's answer: headers (Authorization: Bearer
    /// and the access token, and x-goog-user-project when there is a quota project) and
    /// expires (RFC 3339); for any other URI {} (no credentials), so the token never leaves
    /// for another host.
    ///
    /// A link to credkit named credkit-credential-helper runs this (Bazel's
    /// --credential_helper takes a path and no arguments), with CREDKIT_HELPER_HOSTS for
    /// --host.
    CredentialHelper(CredentialHelperArgs),
    /// Answer git as its credential helper (git-credential-credkit) for Google's git hosts.
    ///
    /// Set it up with `git config --global credential.https://source.developers.google.com.helper credkit`
    /// (and the same for *.googlesource.com, *.sourcemanager.dev), with a link named
    /// git-credential-credkit to this program on PATH; or with
    /// `credential.helper '!credkit git-credential --credentials FILE'` for options.
    ///
    /// git writes its request (key=value lines) on standard input. `get` answers a Google
    /// git host (source.developers.google.com, *.googlesource.com, *.sourcemanager.dev, and
    /// those of --host and CREDKIT_HELPER_HOSTS) over https (or http on loopback) with
    /// username=EMAIL (the account's e-mail address, or oauth2accesstoken), password=TOKEN
    /// (the access token) and password_expiry_utc=EXPIRY (Unix seconds). Any other host gets no
    /// answer (exit 0: git asks its next helper), and never a token. `store`, `erase` and any
    /// other operation are read and ignored. A malformed request, or a token that cannot be
    /// had for a Google host, exits 1 with one line on standard error.
    GitCredential(GitCredentialArgs),
    /// Serve tokens as the Compute Engine metadata server does, for programs built on
    /// Google's client libraries (Python, Go, Java, Node, Rust).
    ///
    /// Prints the environment to set, one `NAME=value` a line (GCE_METADATA_HOST and
    /// GCE_METADATA_IP), then serves until SIGINT or SIGTERM (exit 0). The tokens come from
    /// the credentials the options name (Application Default Credentials by default), through
    /// the token cache; a program asking for other scopes (`?scopes=`) gets a token of its
    /// own for them. Binds to 127.0.0.1: anyone who can reach the port gets tokens.
    MetadataServer(MetadataServerArgs),
    /// Sign in with a Google account and save its credentials (an authorized_user file) as
    /// Application Default Credentials, without gcloud.
    ///
    /// Runs the OAuth authorization-code flow with PKCE for your own OAuth client (a
    /// client_secret.json from --client-secrets or CREDKIT_CLIENT_SECRETS): prints the
    /// sign-in URL on standard error, opens it in the browser ($BROWSER when set), and waits
    /// for the browser to come back to a listener on 127.0.0.1. With --device, the device
    /// flow: a code to enter on another device. The file is written as `gcloud auth
    /// application-default login` writes it (account, client_id, client_secret,
    /// quota_project_id with --quota-project, refresh_token, type, universe_domain, and
    /// token_uri when the client's is not Google's), with mode 0600, atomically, to gcloud's
    /// application_default_credentials.json ($CLOUDSDK_CONFIG, else ~/.config/gcloud) or
    /// --output FILE; an existing file is never replaced without --force. No token is
    /// printed. Standard error then says where the file is and which scopes were granted.
    ///
    /// Getting a client: Google Cloud console, APIs & Services, Credentials, Create
    /// credentials, OAuth client ID, application type "Desktop app"; download its JSON.
    Login(LoginArgs),
    /// Sign out: revoke the refresh token of an authorized_user file and forget its tokens.
    ///
    /// Revokes the file's refresh token at Google (which ends every access token issued from
    /// it), removes the token cache's records for it (those of the file's scopes, and of the
    /// --scope set when given), and deletes the file when it is Application Default
    /// Credentials' (gcloud's application_default_credentials.json, as `gcloud auth
    /// application-default revoke` does). A file named with --credentials is kept, and no
    /// longer works. A refresh token that was already invalid (expired, or revoked before) is
    /// not an error: the rest is done all the same.
    Revoke(RevokeArgs),
    /// Operate a vault of many users' grants (credkit-vault): list, count and inspect the
    /// users, remove one (revoking its refresh token), re-encrypt records after a key rotation.
    ///
    /// The vault is the one an application keeps with credkit_vault::Vault, in Redis or
    /// Postgres: give its storage with --storage URL (or CREDKIT_VAULT_STORAGE, better for a
    /// URL with a password, which the command line shows to other users of the machine) and
    /// the prefix of its users' keys with --prefix (default vault:). A Redis vault is listed
    /// through its index of keys: the application builds its RedisStorage with_listing().
    ///
    /// Encryption at rest: CREDKIT_VAULT_KEYS holds the data keys records are sealed with, as
    /// the application's SealedCodec has them (ID:BASE64[,ID:BASE64...], the current key
    /// first, then the retired ones). Without it records are read and written as plain JSON,
    /// as they are in a vault without a SealedCodec.
    ///
    /// Nothing printed holds a token or a key. An error (a bad URL, a storage out of reach, an
    /// unknown user) is one line `error: <message>` on standard error, exit 1.
    Vault(VaultArgs),
}

/// Where the credentials come from, and how to refresh them.
#[derive(Clone, Debug, Args)]
pub(crate) struct SourceArgs {
    /// An authorized_user JSON file (default: Application Default Credentials).
    #[arg(long, value_name = "FILE", conflicts_with = "gcloud")]
    pub(crate) credentials: Option<PathBuf>,

    /// Use the access token in FILE (gcloud's --access-token-file) instead of finding
    /// credentials: a bare token (one line), or a JSON document with access_token and its
    /// expiry (expiry or expireTime in RFC 3339, or expires_in counted from the file's
    /// modification time). Nothing refreshes it: whoever writes the file writes the next
    /// token. A long-running command (--keep-fresh, metadata-server) reads it again every 60 s
    /// for a bare token, and when a JSON token turns stale; an expired token is an error
    /// (exit 1). Not cached. Wins over CLOUDSDK_AUTH_ACCESS_TOKEN. Its scopes are whatever
    /// the token has: --scope applies only with --impersonate-service-account.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["credentials", "gcloud", "token_uri"]
    )]
    pub(crate) access_token_file: Option<PathBuf>,

    /// The token endpoint to refresh against, instead of Google's. A token_uri inside the
    /// file is ignored, as in the reference library; this is how to point at another server.
    /// https is required except on loopback.
    #[arg(long, value_name = "URL", conflicts_with = "gcloud")]
    pub(crate) token_uri: Option<String>,

    /// A scope to request; repeat for several. Default: the file's scopes, if any. A scope
    /// the server does not grant is a warning on standard error, not an error.
    #[arg(
        long = "scope",
        value_name = "S",
        value_parser = NonEmptyStringValueParser::new(),
        conflicts_with = "gcloud"
    )]
    pub(crate) scopes: Vec<String>,

    /// The project for quota and billing, sent as x-goog-user-project; wins over the file's
    /// quota_project_id and GOOGLE_CLOUD_QUOTA_PROJECT.
    #[arg(long, value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    pub(crate) quota_project: Option<String>,

    /// Get the token from the gcloud CLI (`gcloud` on PATH) instead of a file.
    #[arg(long)]
    pub(crate) gcloud: bool,

    /// With --gcloud: the account to get a token for (default: gcloud's active account).
    #[arg(
        long,
        value_name = "A",
        requires = "gcloud",
        value_parser = NonEmptyStringValueParser::new()
    )]
    pub(crate) account: Option<String>,

    /// How long one attempt may take, in seconds (decimals allowed): one HTTP request to the
    /// token endpoint, or one run of gcloud. Default: 30.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,

    /// Cache tokens in DIR instead of the user's cache directory ($XDG_CACHE_HOME/credkit or
    /// ~/.cache/credkit on Linux, ~/Library/Caches/credkit on macOS, %LOCALAPPDATA%\credkit
    /// on Windows), or in Redis with redis://HOST:PORT/DB (redis://:PASSWORD@HOST:PORT/DB with a password, rediss:// for TLS) to
    /// share it with other machines. The cache keeps the token and any rotated refresh token
    /// (files only this user can read; in Redis as they are), so a second run while the token
    /// is fresh makes no request, and several runs at once make one refresh between them.
    /// Every credential is cached but the gcloud CLI (which keeps its own cache) and the
    /// metadata server (which is one).
    #[arg(
        long,
        value_name = "DIR|redis://HOST:PORT/DB",
        conflicts_with = "no_cache"
    )]
    pub(crate) cache: Option<String>,

    /// Do not cache: read and write no token cache.
    #[arg(long)]
    pub(crate) no_cache: bool,

    /// Try once: do not retry a transient failure (by default, 3 attempts, waiting about
    /// 1 s and then 2 s).
    #[arg(long)]
    pub(crate) no_retry: bool,

    /// Impersonate a service account with the credentials found (gcloud's flag): its email,
    /// or a comma-separated delegation chain whose last account is the target and whose
    /// others are delegates, in order. The credentials found must hold the Service Account
    /// Token Creator role on the first account of the chain; --scope then names the
    /// impersonated token's scopes (default cloud-platform). The impersonated token is cached
    /// as the source's is, under a key of its own. Like gcloud, the IAM endpoint may be
    /// overridden with CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS.
    #[arg(long, value_name = "EMAILS", value_parser = NonEmptyStringValueParser::new())]
    pub(crate) impersonate_service_account: Option<String>,

    /// With --impersonate-service-account: a delegate between the credentials found and the
    /// target, in order, after those of the chain; repeat or separate with commas. An email
    /// is sent as IAM names accounts (projects/-/serviceAccounts/EMAIL).
    #[arg(
        long = "delegates",
        value_name = "EMAIL",
        value_delimiter = ',',
        requires = "impersonate_service_account",
        value_parser = NonEmptyStringValueParser::new()
    )]
    pub(crate) delegates: Vec<String>,

    #[command(flatten)]
    pub(crate) reauth: ReauthArgs,
}

impl SourceArgs {
    /// The service account to impersonate and the delegates before it, in order, when
    /// --impersonate-service-account is given: the chain's last account is the target.
    pub(crate) fn impersonation(&self) -> Option<(String, Vec<String>)> {
        let chain = self.impersonate_service_account.as_deref()?;
        let mut accounts: Vec<String> = chain
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        let target = accounts.pop()?;
        accounts.extend(self.delegates.iter().map(|d| d.trim().to_owned()));
        // IAM names delegates by resource name, as gcloud writes them.
        let delegates = accounts
            .into_iter()
            .map(|account| {
                if account.starts_with("projects/") {
                    account
                } else {
                    format!("projects/-/serviceAccounts/{account}")
                }
            })
            .collect();
        Some((target, delegates))
    }
}

/// The reauthentication options of `token`, `header` and `info`.
#[derive(Clone, Debug, Args)]
pub(crate) struct ReauthArgs {
    /// When the token endpoint asks for reauthentication (invalid_rapt, rapt_required), run
    /// it: answer its challenges against the reauth API, then refresh again. A password
    /// challenge is read from the terminal without echo, or with --password-stdin from
    /// standard input; without either it fails ("not in an interactive session"), exit 1.
    #[arg(long)]
    pub(crate) enable_reauth: bool,

    /// With --enable-reauth: the reauthentication API's base URL (default: Google's,
    /// reauth.googleapis.com over https). https is required except on loopback.
    #[arg(long, value_name = "URL", requires = "enable_reauth")]
    pub(crate) reauth_uri: Option<String>,

    /// With --enable-reauth: read the password from one line of standard input; it answers
    /// every password challenge of the run.
    #[arg(long, requires = "enable_reauth")]
    pub(crate) password_stdin: bool,
}

/// The options of `token`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,

    /// Print an ID token for --audience instead of an access token, from any credential:
    /// a service account signs one, the metadata server and impersonation ask Google for
    /// one, gcloud runs print-identity-token. For authorized_user credentials (and a gcloud
    /// user account) it is the ID token of a refresh (as the reference library's), whose
    /// audience is the OAuth client. It is not cached.
    #[arg(long, requires = "audience")]
    pub(crate) id_token: bool,

    /// With --id-token: the audience the ID token is for (the URL of the service it calls).
    #[arg(
        long,
        value_name = "A",
        requires = "id_token",
        value_parser = NonEmptyStringValueParser::new()
    )]
    pub(crate) audience: Option<String>,

    /// Write the token to FILE instead of standard output, for programs that read one
    /// (gcloud's --access-token-file, CLOUDSDK_AUTH_ACCESS_TOKEN_FILE). The file holds the
    /// token alone, without a newline, written atomically (a temporary file in the same
    /// directory, renamed) with mode 0600. Nothing is printed.
    #[arg(long, value_name = "FILE")]
    pub(crate) output_file: Option<PathBuf>,

    /// With --output-file: keep running and rewrite the file with a new token each time the
    /// token turns stale (225 s before it expires), until SIGINT or SIGTERM; then exit 0 and
    /// leave the last file. A failed refresh is retried (10 s, doubling, at most 5 min apart),
    /// with one warning on standard error; if the token expires before a refresh succeeds,
    /// the file is removed (readers then fail plainly rather than send an expired token) and
    /// written again with the next token.
    #[arg(long, requires = "output_file")]
    pub(crate) keep_fresh: bool,
}

/// The options of `git-credential`.
#[derive(Debug, Args)]
pub(crate) struct GitCredentialArgs {
    /// git's operation: get, store or erase.
    #[arg(value_name = "OPERATION")]
    pub(crate) operation: String,

    #[command(flatten)]
    pub(crate) hosts: HostArgs,

    #[command(flatten)]
    pub(crate) source: SourceArgs,
}

/// The options of `info`.
#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,

    /// Report what is known without refreshing: no request is made, and the state is that of
    /// the token in the file, if any.
    #[arg(long)]
    pub(crate) no_refresh: bool,
}

/// The options of `verify-id-token`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The ID token; `-` or nothing reads it from one line of standard input (better: a
    /// token on the command line is visible to other users of the machine).
    #[arg(value_name = "TOKEN")]
    pub(crate) token: Option<String>,

    /// An audience the token must be for (its aud claim); repeat for several.
    #[arg(
        long = "audience",
        value_name = "A",
        required = true,
        value_parser = NonEmptyStringValueParser::new()
    )]
    pub(crate) audiences: Vec<String>,

    /// Verify an Identity-Aware Proxy token: IAP's issuer and keys (ES256), not Google's
    /// ID-token issuers and keys.
    #[arg(long)]
    pub(crate) iap: bool,

    /// An accepted issuer instead of the default ones; repeat for several.
    #[arg(long = "issuer", value_name = "ISS", value_parser = NonEmptyStringValueParser::new())]
    pub(crate) issuers: Vec<String>,

    /// Fetch the keys from URL (a JWK set or a JSON object of PEM certificates) instead of
    /// Google's. https is required except on loopback.
    #[arg(long, value_name = "URL", conflicts_with = "keys_file")]
    pub(crate) keys_url: Option<String>,

    /// Verify offline with the keys in FILE (a JWK set or a JSON object of PEM certificates
    /// or public keys by key ID): nothing is fetched.
    #[arg(long, value_name = "FILE")]
    pub(crate) keys_file: Option<PathBuf>,

    /// Require this hosted domain (the hd claim of a Google Workspace account).
    #[arg(long, value_name = "DOMAIN", value_parser = NonEmptyStringValueParser::new())]
    pub(crate) hosted_domain: Option<String>,

    /// Require email_verified to be true.
    #[arg(long)]
    pub(crate) require_email_verified: bool,

    /// How far the clocks may disagree, in seconds (decimals allowed; at most 300).
    #[arg(long, value_name = "SECS", value_parser = parse_skew)]
    pub(crate) clock_skew: Option<Duration>,

    /// How long fetching the keys may take, in seconds (decimals allowed). Default: 30.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
}

/// The options of `metadata-server`.
#[derive(Debug, Args)]
pub(crate) struct MetadataServerArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,

    /// The port to listen on; 0 (the default) picks a free one, printed in the environment
    /// lines.
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub(crate) port: u16,

    /// The address to listen on. Default 127.0.0.1 (this machine only). Another address, such
    /// as 0.0.0.0 for a container network, gives tokens to anyone who can reach the port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub(crate) bind: std::net::IpAddr,

    /// The project ID to serve (project/project-id). Default: the one Application Default
    /// Credentials find (GOOGLE_CLOUD_PROJECT, the credentials file's, gcloud's).
    #[arg(long, value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    pub(crate) project: Option<String>,

    /// The project number to serve (project/numeric-project-id); without it that path
    /// answers 404.
    #[arg(long, value_name = "NUMBER")]
    pub(crate) numeric_project_id: Option<u64>,
}

/// The options of `demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Print one JSON document instead of the step-by-step text.
    #[arg(long)]
    pub(crate) json: bool,

    /// At most how many times the hot-path step calls apply(); it stops after a second
    /// anyway, so a slow (debug) build keeps the demo short.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1_000_000,
        value_parser = clap::value_parser!(u64).range(1..=1_000_000_000)
    )]
    pub(crate) calls: u64,

    /// How many concurrent tasks the single-flight step starts.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1_000,
        value_parser = clap::value_parser!(u32).range(2..=100_000)
    )]
    pub(crate) callers: u32,
}

/// What the authorization server asks the user (`credkit login --prompt`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PromptArg {
    /// Always show the consent screen (so a refresh token is issued even when the user
    /// consented before).
    Consent,
    /// Always let the user choose the account.
    SelectAccount,
    /// Both.
    ConsentSelectAccount,
}

/// The options of `login`.
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The OAuth client's client_secret.json ("Desktop app", or "Web application" with a
    /// loopback redirect URI such as http://localhost:8085/). Default: the file named by
    /// CREDKIT_CLIENT_SECRETS.
    #[arg(long, value_name = "FILE")]
    pub(crate) client_secrets: Option<PathBuf>,

    /// A scope to ask for; repeat for several. Default: openid, userinfo.email and
    /// cloud-platform, as gcloud asks. A scope the user does not grant is a warning, not an
    /// error.
    #[arg(long = "scope", value_name = "S", value_parser = NonEmptyStringValueParser::new())]
    pub(crate) scopes: Vec<String>,

    /// Do not open a browser: only print the URL. Open it in a browser on this machine; from
    /// another machine, choose the port with --port P and forward it first (ssh -L
    /// P:127.0.0.1:P this-machine), since the browser comes back to 127.0.0.1:P.
    #[arg(long, conflicts_with = "device")]
    pub(crate) no_browser: bool,

    /// Use the device flow: enter a code on another device (a phone, say) instead of a
    /// browser coming back to this machine. Google allows it only for OAuth clients of type
    /// "TVs and Limited Input devices", and only for a short list of scopes (openid, email,
    /// profile, drive.file, drive.appdata, YouTube's): not cloud-platform, so give --scope.
    #[arg(long)]
    pub(crate) device: bool,

    /// Write the credentials to FILE instead of Application Default Credentials' file.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,

    /// Replace the file if it exists (otherwise an existing file is an error, checked before
    /// the sign-in starts).
    #[arg(long)]
    pub(crate) force: bool,

    /// The port to listen on for the browser's return (default: one the system chooses).
    #[arg(long, value_name = "P", conflicts_with = "device")]
    pub(crate) port: Option<u16>,

    /// What Google asks the user: consent (always show the consent screen, so a refresh token
    /// is issued even after an earlier consent), select-account, or both.
    #[arg(long, value_name = "PROMPT", value_enum, conflicts_with = "device")]
    pub(crate) prompt: Option<PromptArg>,

    /// The account to suggest (an email address).
    #[arg(
        long,
        value_name = "EMAIL",
        value_parser = NonEmptyStringValueParser::new(),
        conflicts_with = "device"
    )]
    pub(crate) login_hint: Option<String>,

    /// The project for quota and billing, written to the file as quota_project_id.
    #[arg(long, value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    pub(crate) quota_project: Option<String>,

    /// With --device: the device authorization endpoint instead of Google's. https is
    /// required except on loopback.
    #[arg(long, value_name = "URL", requires = "device")]
    pub(crate) device_authorization_uri: Option<String>,

    /// How long to wait for the browser to come back, in seconds (decimals allowed).
    /// Default: 300.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout, conflicts_with = "device")]
    pub(crate) login_timeout: Option<Duration>,

    /// How long one HTTP request may take, in seconds (decimals allowed). Default: 30.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
}

/// The options of `revoke`.
#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// The authorized_user file to sign out of (default: Application Default Credentials'
    /// file, which is then deleted). A file named here is kept.
    #[arg(long, value_name = "FILE")]
    pub(crate) credentials: Option<PathBuf>,

    /// The revocation endpoint instead of Google's. https is required except on loopback.
    #[arg(long, value_name = "URL")]
    pub(crate) revoke_uri: Option<String>,

    /// The token endpoint the tokens were refreshed at, as given to `credkit token
    /// --token-uri` (part of the token cache's key; default Google's).
    #[arg(long, value_name = "URL")]
    pub(crate) token_uri: Option<String>,

    /// Also forget the cached token of this scope set, as given to `credkit token --scope`;
    /// repeat for several scopes of one set. The records of other scope sets stay in the
    /// cache until they expire (within the hour), and hold tokens Google revoked with the
    /// refresh token: they no longer work.
    #[arg(long = "scope", value_name = "S", value_parser = NonEmptyStringValueParser::new())]
    pub(crate) scopes: Vec<String>,

    /// The token cache to clean, as given to `credkit token --cache` (default: the user's
    /// cache directory).
    #[arg(
        long,
        value_name = "DIR|redis://HOST:PORT/DB",
        conflicts_with = "no_cache"
    )]
    pub(crate) cache: Option<String>,

    /// Leave every token cache alone.
    #[arg(long)]
    pub(crate) no_cache: bool,

    /// How long the HTTP request may take, in seconds (decimals allowed). Default: 30.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
}

/// The options of `vault`.
#[derive(Debug, Args)]
pub(crate) struct VaultArgs {
    #[command(subcommand)]
    pub(crate) command: VaultCommand,
}

/// The subcommands of `vault`.
#[derive(Debug, Subcommand)]
pub(crate) enum VaultCommand {
    /// Print the users with a grant stored, one user ID a line (every page of the listing).
    ///
    /// Reads no record, so it needs no key. A user ID with a control character (which the
    /// vault never stores) is printed escaped.
    List(VaultListArgs),
    /// Print how many users have a grant stored.
    Count(VaultStoreArgs),
    /// Print a user's standing: whether a grant is stored and holds a refresh token, when the
    /// user consented, since when the user must consent again (a refresh was answered
    /// invalid_grant), the stored access token's expiry and state (fresh, stale or invalid)
    /// and its granted scopes. Never a token.
    ///
    /// A user with nothing stored exits 1.
    Status(VaultStatusArgs),
    /// Remove a user: revoke the stored refresh token at Google (RFC 7009), then delete the
    /// record, under the user's lease (no refresh of the user runs meanwhile).
    ///
    /// Prints what happened: revoked, already invalid (the token had expired or was revoked
    /// before: the record is deleted all the same) or not stored (nothing to do, exit 0). When
    /// the revocation endpoint cannot be reached or refuses, it exits 1 and the record is
    /// kept, so that running it again can revoke the token.
    Remove(VaultRemoveArgs),
    /// Re-encrypt records with the current data key, after a rotation: every record (--all)
    /// or one user's. Needs CREDKIT_VAULT_KEYS, the new key first, then the retired ones that
    /// opened the records before.
    ///
    /// Each record sealed with another key is read and stored again under the user's lease
    /// (so it never races a refresh), --jobs users at a time; records already under the current key are
    /// skipped, so it can be run again, and resumes where an interrupted run stopped. Prints
    /// the counts (resealed, already current, failed) and each user whose record could not be
    /// resealed, with why (a key not in CREDKIT_VAULT_KEYS, say); with any failure it exits 1.
    /// Drop a retired key from the application's keys only once a run reports no failure.
    Reseal(VaultResealArgs),
}

/// Where the vault is: its storage and its users' key prefix.
#[derive(Clone, Debug, Args)]
pub(crate) struct VaultStoreArgs {
    /// The vault's storage: redis://:PASSWORD@HOST:PORT/DB, rediss://... (TLS) or
    /// postgres://USER:PASSWORD@HOST:PORT/DB (postgresql:// too; password, port and database
    /// optional). Default: the URL in CREDKIT_VAULT_STORAGE. It is never printed with its
    /// password.
    #[arg(long, value_name = "URL")]
    pub(crate) storage: Option<String>,

    /// The prefix of the users' storage keys, as given to the application's
    /// VaultBuilder::with_key_prefix.
    #[arg(long, value_name = "PREFIX", default_value = credkit_vault::DEFAULT_KEY_PREFIX)]
    pub(crate) prefix: String,

    /// Redis only: the prefix of the store's own Redis keys, as given to the application's
    /// RedisStorageBuilder::with_prefix.
    #[arg(long, value_name = "PREFIX", default_value = "credkit:")]
    pub(crate) redis_prefix: String,

    /// Redis only, rediss://: trust the certificate authorities in FILE (PEM) instead of the
    /// web PKI's roots, for a server whose certificate a private CA signed (a managed Redis's
    /// server CA, say).
    #[arg(long, value_name = "FILE")]
    pub(crate) redis_ca_file: Option<PathBuf>,

    /// Redis only, rediss:// to a server that asks clients for a certificate (mutual TLS):
    /// present the certificate chain in FILE (PEM), with the key in --redis-client-key.
    #[arg(long, value_name = "FILE", requires = "redis_client_key")]
    pub(crate) redis_client_cert: Option<PathBuf>,

    /// Redis only: the private key (PEM) of --redis-client-cert. It is never printed.
    #[arg(long, value_name = "FILE", requires = "redis_client_cert")]
    pub(crate) redis_client_key: Option<PathBuf>,

    /// Postgres only: the schema of the store's tables, as given to the application's
    /// PostgresStorageBuilder::with_schema (default: the first of the search path).
    #[arg(long, value_name = "SCHEMA")]
    pub(crate) postgres_schema: Option<String>,

    /// Postgres only: the prefix of the store's table names, as given to the application's
    /// PostgresStorageBuilder::with_table_prefix.
    #[arg(long, value_name = "PREFIX", default_value = "credkit_")]
    pub(crate) postgres_table_prefix: String,
}

/// The options of `vault list`.
#[derive(Debug, Args)]
pub(crate) struct VaultListArgs {
    #[command(flatten)]
    pub(crate) store: VaultStoreArgs,

    /// Print at most N users (default: all of them).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) limit: Option<u64>,

    /// Print one JSON document, {"users": [...], "more": BOOL}, "more" telling whether
    /// --limit left users out.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The options of `vault status`.
#[derive(Debug, Args)]
pub(crate) struct VaultStatusArgs {
    /// The user's ID, as the application gives it to the vault.
    #[arg(value_name = "USER")]
    pub(crate) user: String,

    #[command(flatten)]
    pub(crate) store: VaultStoreArgs,

    /// Print one JSON document: user, stored, has_refresh_token, granted_at,
    /// consent_needed_at, token_expiry (RFC 3339 in UTC, or null), token_state (fresh, stale,
    /// invalid, or null without an access token) and granted_scopes (null when unknown).
    #[arg(long)]
    pub(crate) json: bool,
}

/// The options of `vault remove`.
#[derive(Debug, Args)]
pub(crate) struct VaultRemoveArgs {
    /// The user's ID, as the application gives it to the vault.
    #[arg(value_name = "USER")]
    pub(crate) user: String,

    #[command(flatten)]
    pub(crate) store: VaultStoreArgs,

    /// The application's OAuth client (its client_secret.json), whose refresh tokens the vault
    /// holds. Default: the file named by CREDKIT_CLIENT_SECRETS, if any. Google's revocation
    /// endpoint needs no client authentication, so it may be left out.
    #[arg(long, value_name = "FILE")]
    pub(crate) client_secrets: Option<PathBuf>,

    /// The revocation endpoint instead of Google's (tests). https is required except on
    /// loopback.
    #[arg(long, value_name = "URL", hide = true)]
    pub(crate) revoke_uri: Option<String>,

    /// How long the revocation request may take, in seconds (decimals allowed). Default: 30.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,
}

/// The options of `vault reseal`.
#[derive(Debug, Args)]
pub(crate) struct VaultResealArgs {
    /// The one user whose record to reseal (exit 1 when nothing is stored for it).
    #[arg(
        value_name = "USER",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub(crate) user: Option<String>,

    /// Reseal every user's record.
    #[arg(long)]
    pub(crate) all: bool,

    /// Also seal the records stored as plain JSON, to turn encryption on for a vault that ran
    /// without keys: run `reseal --all --from-plain` as the application starts sealing (its
    /// SealedCodec opens no plain record, so a user is refused until resealed). Without it, a
    /// plain record is a failure, as it is to the application.
    #[arg(long)]
    pub(crate) from_plain: bool,

    /// With --all: how many users to reseal at a time (each under its own lease).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 16,
        value_parser = clap::value_parser!(u16).range(1..=256)
    )]
    pub(crate) jobs: u16,

    #[command(flatten)]
    pub(crate) store: VaultStoreArgs,
}

/// The longest timeout accepted: a day.
const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// `--timeout`: a positive number of seconds, at most a day.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds, such as 10 or 2.5".to_owned())?;
    if !(secs > 0.0 && secs <= MAX_TIMEOUT_SECS) {
        return Err("expected more than 0 and at most 86400 seconds".to_owned());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `--clock-skew`: seconds, at most the verifier's bound (5 minutes); zero is allowed.
fn parse_skew(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| "expected a number of seconds, such as 10 or 2.5".to_owned())?;
    if !(0.0..=300.0).contains(&secs) {
        return Err("expected at least 0 and at most 300 seconds".to_owned());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The options of `exec-credential`.
#[derive(Debug, Args)]
pub(crate) struct ExecCredentialArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,
}

/// The options of `docker-credential`.
#[derive(Debug, Args)]
pub(crate) struct DockerCredentialArgs {
    /// get, store, erase, list or version (docker's argument).
    #[arg(value_name = "ACTION")]
    pub(crate) action: Option<String>,

    #[command(flatten)]
    pub(crate) hosts: HostArgs,

    #[command(flatten)]
    pub(crate) source: SourceArgs,
}

/// The options of `credential-helper`.
#[derive(Debug, Args)]
pub(crate) struct CredentialHelperArgs {
    /// get (the one command of the credential-helper spec).
    #[arg(value_name = "COMMAND")]
    pub(crate) command: Option<String>,

    #[command(flatten)]
    pub(crate) hosts: HostArgs,

    #[command(flatten)]
    pub(crate) source: SourceArgs,
}

/// The hosts a credential helper answers besides Google's.
#[derive(Debug, Args)]
pub(crate) struct HostArgs {
    /// Also answer this host: a host name (registry.example.com), a wildcard of its
    /// subdomains (*.example.com) or either with a port (127.0.0.1:5000); repeat for several.
    /// https only, except on loopback. The comma-separated patterns of CREDKIT_HELPER_HOSTS
    /// are added too (the only way to name hosts when run through a link).
    #[arg(long = "host", value_name = "PATTERN")]
    pub(crate) hosts: Vec<String>,
}

impl Cli {
    /// Reads the command line `args` (the program's name first); exits 2 with clap's message on a usage error (0 for `--help`
    /// and `--version`).
    pub(crate) fn read_from<I, T>(args: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cli = Self::parse_from(args);
        if let Some(uri) = cli.command.source().and_then(|s| s.token_uri.as_deref()) {
            // Checked here rather than by a clap value parser, whose message would repeat the
            // value: a URL may carry a password.
            if let Err(reason) = check_token_uri(uri) {
                let message = format!("invalid value for '--token-uri <URL>': {reason}");
                // The subcommand's usage line, as clap's own errors show it.
                let mut command = Self::command();
                command.build();
                let name = cli.command.name();
                match command.find_subcommand_mut(name) {
                    Some(sub) => sub.error(ErrorKind::ValueValidation, message).exit(),
                    None => command.error(ErrorKind::ValueValidation, message).exit(),
                }
            }
        }
        cli
    }
}

impl Command {
    /// The subcommand's name on the command line.
    fn name(&self) -> &'static str {
        match self {
            Self::Demo(_) => "demo",
            Self::Token(_) => "token",
            Self::Header(_) => "header",
            Self::Info(_) => "info",
            Self::VerifyIdToken(_) => "verify-id-token",
            Self::ExecCredential(_) => "exec-credential",
            Self::DockerCredential(_) => "docker-credential",
            Self::CredentialHelper(_) => "credential-helper",
            Self::GitCredential(_) => "git-credential",
            Self::MetadataServer(_) => "metadata-server",
            Self::Login(_) => "login",
            Self::Revoke(_) => "revoke",
            Self::Vault(_) => "vault",
        }
    }

    /// The source options of `token`, `header` and `info`.
    pub(crate) fn source(&self) -> Option<&SourceArgs> {
        match self {
            Self::Token(args) => Some(&args.source),
            Self::Header(args) => Some(args),
            Self::Info(info) => Some(&info.source),
            Self::ExecCredential(args) => Some(&args.source),
            Self::DockerCredential(args) => Some(&args.source),
            Self::CredentialHelper(args) => Some(&args.source),
            Self::GitCredential(args) => Some(&args.source),
            Self::MetadataServer(args) => Some(&args.source),
            Self::Demo(_)
            | Self::VerifyIdToken(_)
            | Self::Login(_)
            | Self::Revoke(_)
            | Self::Vault(_) => None,
        }
    }
}

/// `--token-uri`: a URL the transport will send to (https, or http on loopback). The reason
/// never repeats the URL's user info, path or query.
fn check_token_uri(text: &str) -> Result<(), String> {
    credkit_reqwest::check_endpoint(text)
        .map(drop)
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_timeout("10"), Ok(Duration::from_secs(10)));
        for bad in ["0", "-1", "nan", "inf", "1e9", "ten", ""] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_uris() {
        assert!(check_token_uri("https://oauth2.googleapis.com/token").is_ok());
        assert!(check_token_uri("http://127.0.0.1:8080/token").is_ok());
        assert!(check_token_uri("http://example.com/token").is_err());
        assert!(check_token_uri("not a url").is_err());
        let reason = check_token_uri("https://user:hunter2@example.com/token").unwrap_err();
        assert!(!reason.contains("hunter2"));
    }
}
