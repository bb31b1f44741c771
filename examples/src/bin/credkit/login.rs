//! `credkit login`: a user's sign-in (credkit-login's authorization-code flow with PKCE and a
//! loopback redirect, or its device flow), saved as an `authorized_user` file where
//! Application Default Credentials read it.
//!
//! The file is the one `gcloud auth application-default login` writes: `account`,
//! `client_id`, `client_secret`, `quota_project_id` (with `--quota-project`), `refresh_token`,
//! `type` and `universe_domain`, in that (sorted) order, plus `token_uri` when the client's is
//! not Google's. No access token and no expiry: the first use refreshes. It is written with
//! mode 0600, atomically (a temporary file in the same folder, synced, renamed), and never over
//! an existing file without `--force`: the rename itself refuses to replace one
//! (`persist_noclobber`), and the destination is checked before the sign-in starts, so nobody
//! signs in for nothing. On any failure nothing is left behind.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use clap::CommandFactory as _;
use clap::error::ErrorKind;
use credkit::adc::{CREDENTIALS_ENV, Env};
use credkit_core::Credentials;
use credkit_login::{
    DEFAULT_LOGIN_TIMEOUT, DeviceFlow, GOOGLE_TOKEN_URI, InstalledFlow, OAuthClient, Prompt,
};
use credkit_refresh_token::UserCredentials;
use secrecy::ExposeSecret;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::cache::Outcome;
use crate::cli::{Cli, LoginArgs, PromptArg};
use crate::commands::warn_on_scope_shortfall;
use crate::failure::Failure;
use crate::lazy::LazyTransport;
use crate::output;
use crate::source::{Loaded, Origin};

/// The environment variable naming the OAuth client's `client_secret.json` when
/// `--client-secrets` is not given.
pub(crate) const CLIENT_SECRETS_ENV: &str = "CREDKIT_CLIENT_SECRETS";

/// How to get a client, for the usage error without one.
const NO_CLIENT: &str = "no OAuth client: give --client-secrets FILE or set CREDKIT_CLIENT_SECRETS to a client_secret.json. To get one: Google Cloud console, APIs & Services, Credentials, Create credentials, OAuth client ID, application type \"Desktop app\", then download its JSON (credkit embeds no one else's client)";

/// The temporary file's name starts so (in the destination's folder).
const TEMP_PREFIX: &str = ".credkit-login-";

/// `credkit login`.
pub(crate) async fn run(args: &LoginArgs) -> Result<(), Failure> {
    let secrets = client_secrets_path(args.client_secrets.as_deref());
    let well_known = Env::process().well_known_file();
    let Some(path) = args.output.clone().or_else(|| well_known.clone()) else {
        return Err(Failure::new(
            "cannot tell where Application Default Credentials look: neither CLOUDSDK_CONFIG nor HOME is set; give --output FILE",
        ));
    };
    if !args.force && exists(&path) {
        return Err(exists_error(&path));
    }
    let mut client = OAuthClient::from_client_secrets_file(&secrets)?;
    if let Some(uri) = &args.device_authorization_uri {
        client = client.with_device_authorization_uri(uri.clone());
    }
    let transport = LazyTransport::new(args.timeout);
    let user = if args.device {
        device(args, client, transport).await?
    } else {
        installed(args, client, transport).await?
    };
    let json = authorized_user_json(&user, args.quota_project.as_deref())?;
    write_new(&path, &json, args.force)?;
    report(&user, &path, well_known.as_deref() == Some(path.as_path()))
}

/// The client secrets file: `--client-secrets`, else `CREDKIT_CLIENT_SECRETS`; without either,
/// a usage error (exit 2) saying how to get one.
fn client_secrets_path(given: Option<&Path>) -> PathBuf {
    if let Some(path) = given {
        return path.to_path_buf();
    }
    if let Some(path) = std::env::var_os(CLIENT_SECRETS_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let mut command = Cli::command();
    command.build();
    match command.find_subcommand_mut("login") {
        Some(login) => login
            .error(ErrorKind::MissingRequiredArgument, NO_CLIENT)
            .exit(),
        None => command
            .error(ErrorKind::MissingRequiredArgument, NO_CLIENT)
            .exit(),
    }
}

/// The browser sign-in: print the URL, open the browser (unless `--no-browser`), wait.
async fn installed(
    args: &LoginArgs,
    client: OAuthClient,
    transport: LazyTransport,
) -> Result<UserCredentials, Failure> {
    let mut flow = InstalledFlow::new(client, transport)
        .with_timeout(args.login_timeout.unwrap_or(DEFAULT_LOGIN_TIMEOUT));
    if !args.scopes.is_empty() {
        flow = flow.with_scopes(args.scopes.iter().cloned());
    }
    if let Some(prompt) = args.prompt {
        flow = flow.with_prompt(match prompt {
            PromptArg::Consent => Prompt::Consent,
            PromptArg::SelectAccount => Prompt::SelectAccount,
            PromptArg::ConsentSelectAccount => Prompt::ConsentAndSelectAccount,
        });
    }
    if let Some(hint) = &args.login_hint {
        flow = flow.with_login_hint(hint.clone());
    }
    if let Some(port) = args.port {
        flow = flow.with_port(port);
    }
    let pending = flow.start()?;
    let url = pending.authorization_url().to_owned();
    let wait = args
        .login_timeout
        .unwrap_or(DEFAULT_LOGIN_TIMEOUT)
        .as_secs_f64();
    if args.no_browser {
        let port = pending.local_addr().port();
        say(&format!(
            "Open this URL in a browser on this machine to sign in:\n\n    {url}\n\n\
             From another machine, forward this port first (ssh -L {port}:127.0.0.1:{port} THIS-MACHINE; \
             --port chooses it), then open the URL there.\n\
             Waiting for the browser to come back (at most {wait} s)...\n"
        ));
    } else {
        say(&format!(
            "Opening your browser; if it does not open, visit:\n\n    {url}\n\n\
             Waiting for the browser to come back (at most {wait} s)...\n"
        ));
        // Off the runtime, and not awaited: a text browser ($BROWSER=lynx) runs until the user
        // quits it, while the sign-in goes on.
        tokio::spawn(async move {
            let opened = tokio::task::spawn_blocking(move || webbrowser::open(&url)).await;
            if let Ok(Err(err)) = opened {
                output::warn(&format!(
                    "could not open a browser ({err}): open the URL above yourself"
                ));
            }
        });
    }
    Ok(pending.finish().await?)
}

/// The device flow: print the code and where to enter it, then poll.
async fn device(
    args: &LoginArgs,
    client: OAuthClient,
    transport: LazyTransport,
) -> Result<UserCredentials, Failure> {
    let mut flow = DeviceFlow::new(client, transport);
    if !args.scopes.is_empty() {
        flow = flow.with_scopes(args.scopes.iter().cloned());
    }
    let authorization = flow.start().await?;
    let mut text = format!(
        "On another device, visit {} and enter code {}\n",
        authorization.verification_uri(),
        authorization.user_code()
    );
    if let Some(complete) = authorization.verification_uri_complete() {
        let _ = writeln!(text, "(or open {complete}, which holds the code)");
    }
    let expires_at = authorization.expires_at();
    let expires_at = expires_at.replace_nanosecond(0).unwrap_or(expires_at);
    if let Ok(at) = expires_at.format(&Rfc3339) {
        let _ = writeln!(text, "The code expires at {at}. Waiting for the sign-in...");
    }
    say(&text);
    Ok(authorization.finish().await?)
}

/// The `authorized_user` file gcloud writes for Application Default Credentials, members in
/// sorted order (as gcloud writes them), borrowed from the credentials.
#[derive(Serialize)]
struct AuthorizedUserFile<'a> {
    account: &'a str,
    client_id: &'a str,
    client_secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quota_project_id: Option<&'a str>,
    refresh_token: &'a str,
    /// Only when it is not Google's, which is what a reader assumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    token_uri: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
    universe_domain: &'a str,
}

/// The file's bytes, in a buffer zeroized on drop that is never grown (so no unwiped copy of
/// a secret is left behind by a reallocation).
fn authorized_user_json(
    user: &UserCredentials,
    quota_project: Option<&str>,
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let refresh_token = user
        .refresh_token()
        .ok_or_else(|| Failure::new("the sign-in gave no refresh token: run the login again"))?;
    let file = AuthorizedUserFile {
        account: user.account(),
        client_id: user.client_id().unwrap_or_default(),
        client_secret: user.client_secret().map(ExposeSecret::expose_secret),
        quota_project_id: quota_project,
        refresh_token: refresh_token.expose_secret(),
        token_uri: user.token_uri().filter(|uri| *uri != GOOGLE_TOKEN_URI),
        kind: "authorized_user",
        universe_domain: user.universe_domain(),
    };
    let values = [
        file.account,
        file.client_id,
        file.client_secret.unwrap_or_default(),
        file.quota_project_id.unwrap_or_default(),
        file.refresh_token,
        file.token_uri.unwrap_or_default(),
        file.universe_domain,
    ];
    let mut out = Zeroizing::new(Vec::with_capacity(buffer_capacity(&values)));
    serde_json::to_writer_pretty(&mut *out, &file)
        .map_err(|err| Failure::new(format!("could not write the credentials JSON: {err}")))?;
    out.push(b'\n');
    Ok(out)
}

/// Room for the file holding `values`: at worst every byte of a value is escaped as `\uXXXX`
/// (6 bytes), and the keys and layout take less than 512.
fn buffer_capacity(values: &[&str]) -> usize {
    values.iter().map(|v| v.len() * 6).sum::<usize>() + 512
}

/// Whether anything (a file, a folder, a link, even a broken one) is at `path`.
fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

fn exists_error(path: &Path) -> Failure {
    Failure::new(format!(
        "{} exists; pass --force to replace it",
        path.display()
    ))
}

/// Writes `contents` to `path` with mode 0600, atomically: a temporary file in the same
/// folder (made 0700 with its missing parents), synced, then renamed over `path` with `force`,
/// or renamed only if nothing is there without it. On failure the temporary file is removed.
pub(crate) fn write_new(path: &Path, contents: &[u8], force: bool) -> Result<(), Failure> {
    let fail = |err: &io::Error| {
        Failure::new(format!(
            "could not write the credentials to {}: {err}",
            path.display()
        ))
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    create_private_dir(dir).map_err(|err| fail(&err))?;
    // tempfile makes the file with mode 0600 on Unix, before anything is written to it.
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|err| fail(&err))?;
    temp.write_all(contents)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|err| fail(&err))?;
    let persisted = if force {
        temp.persist(path)
    } else {
        temp.persist_noclobber(path)
    };
    match persisted {
        Ok(_) => {
            // The rename itself reaches the disk with the folder.
            #[cfg(unix)]
            if let Ok(dir) = std::fs::File::open(dir) {
                let _ = dir.sync_all();
            }
            Ok(())
        }
        // The temporary file is removed as `err.file` drops. (With --force the rename replaces
        // a file; renaming a file over a folder fails otherwise.)
        Err(err) if err.error.kind() == io::ErrorKind::AlreadyExists => Err(exists_error(path)),
        Err(err) => Err(fail(&err.error)),
    }
}

/// Makes `dir` and its missing parents, with mode 0700 on Unix (gcloud's folder holds
/// credentials).
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// What was done, on standard error: where the file is, the granted scopes, a warning for
/// each requested scope not granted, and whether Application Default Credentials use it.
fn report(user: &UserCredentials, path: &Path, is_adc_file: bool) -> Result<(), Failure> {
    let mut text = format!("Saved the credentials to {}.\n", path.display());
    match user.granted_scopes() {
        Some(granted) if !granted.is_empty() => {
            let _ = writeln!(text, "Granted scopes: {}", granted.join(" "));
        }
        _ => text.push_str("The server did not say which scopes it granted.\n"),
    }
    say(&text);
    // The CLI's one scope warning, as `token`, `header` and `info` print it.
    let credentials = Credentials::builder(user.clone()).build()?;
    warn_on_scope_shortfall(&Loaded {
        credentials,
        origin: Origin::User(user.clone()),
        cache: None,
        outcome: Outcome::default(),
        email: None,
        identity: String::new(),
    });
    if is_adc_file {
        say("Application Default Credentials (and `credkit token`) now use these credentials.\n");
        if let Some(other) = std::env::var_os(CREDENTIALS_ENV).filter(|v| !v.is_empty()) {
            output::warn(&format!(
                "{CREDENTIALS_ENV} is set ({}), and Application Default Credentials read that file first: unset it to use these",
                Path::new(&other).display()
            ));
        }
    }
    Ok(())
}

/// Writes `text` to standard error as it is (several lines).
fn say(text: &str) {
    // Nothing better can be done if standard error is gone.
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(token_uri: &str) -> UserCredentials {
        UserCredentials::builder()
            .with_client_id("cid.apps.googleusercontent.com")
            .with_client_secret("client-secret")
            .with_refresh_token("1//refresh")
            .with_token("ya29.access")
            .with_token_uri(token_uri)
            .build()
            .unwrap()
    }

    #[test]
    fn the_file_is_gclouds_with_no_access_token() {
        let json = authorized_user_json(&user(GOOGLE_TOKEN_URI), None).unwrap();
        let text = std::str::from_utf8(&json).unwrap();
        assert_eq!(
            text,
            "{\n  \"account\": \"\",\n  \"client_id\": \"cid.apps.googleusercontent.com\",\n  \"client_secret\": \"client-secret\",\n  \"refresh_token\": \"1//refresh\",\n  \"type\": \"authorized_user\",\n  \"universe_domain\": \"googleapis.com\"\n}\n"
        );
        let json =
            authorized_user_json(&user("http://127.0.0.1:9/token"), Some("billing")).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["token_uri"], "http://127.0.0.1:9/token");
        assert_eq!(value["quota_project_id"], "billing");
        assert!(value.get("token").is_none() && value.get("expiry").is_none());
    }

    #[test]
    fn the_buffer_never_grows_even_when_every_byte_is_escaped() {
        assert_eq!(buffer_capacity(&[]), 512);
        assert_eq!(buffer_capacity(&["ab", "cde"]), 6 * 5 + 512);
        // A refresh token of control characters, each written as \u00XX.
        let nasty = "\u{1}".repeat(300);
        let user = UserCredentials::builder()
            .with_client_id("cid")
            .with_client_secret("s")
            .with_refresh_token(nasty.clone())
            .build()
            .unwrap();
        let json = authorized_user_json(&user, None).unwrap();
        let values = ["", "cid", "s", "", nasty.as_str(), "", "googleapis.com"];
        assert_eq!(json.capacity(), buffer_capacity(&values));
        assert!(json.len() > 6 * 300);
    }

    #[test]
    fn writing_never_replaces_without_force_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/deeper/adc.json");
        write_new(&path, b"one", false).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        let err = write_new(&path, b"two", false).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("exists; pass --force to replace it"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_new(&path, b"three", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["adc.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
            assert_eq!(mode(&dir.path().join("new")), 0o700);
        }
    }

    #[test]
    fn a_folder_in_the_way_is_an_error_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("adc.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"x").unwrap();
        let err = write_new(&path, b"one", true).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("could not write the credentials to "),
            "{err}"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["adc.json"]);
    }
}
