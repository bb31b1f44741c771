//! `credkit revoke`: sign out of an `authorized_user` file. Its refresh token is revoked
//! (credkit-login's `Revoker`, RFC 7009), the token cache's records for it are removed, and
//! Application Default Credentials' own file is deleted (as `gcloud auth application-default
//! revoke` does); a file named with `--credentials` is kept.

use std::fmt::Write as _;
use std::io::{self, Write as _};

use credkit::adc::Env;
use credkit_core::Storage;
use credkit_core::credentials_file;
use credkit_login::{GOOGLE_TOKEN_URI, Revocation, Revoker};
use credkit_refresh_token::UserCredentials;

use crate::cache::{self, Cache};
use crate::cli::{ReauthArgs, RevokeArgs, SourceArgs};
use crate::failure::Failure;
use crate::lazy::LazyTransport;

/// `credkit revoke`.
pub(crate) async fn run(args: &RevokeArgs) -> Result<(), Failure> {
    let (path, is_adc_file) = match &args.credentials {
        Some(path) => (path.clone(), false),
        None => (
            Env::process().well_known_file().ok_or_else(|| {
                Failure::new(
                    "cannot tell where Application Default Credentials look: neither CLOUDSDK_CONFIG nor HOME is set; give --credentials FILE",
                )
            })?,
            true,
        ),
    };
    if is_adc_file && path.symlink_metadata().is_err() {
        return Err(Failure::new(format!(
            "there are no Application Default Credentials to revoke: {} does not exist",
            path.display()
        )));
    }
    let json = credentials_file::read_json(&path)?;
    match json.get("type").and_then(serde_json::Value::as_str) {
        None | Some("authorized_user") => {}
        Some(other) => {
            return Err(Failure::new(format!(
                "{} holds {} credentials, not a user's sign-in: only an authorized_user file (from `credkit login` or `gcloud auth application-default login`) has a refresh token to revoke",
                path.display(),
                printable(other)
            )));
        }
    }
    let user = UserCredentials::from_authorized_user_info(&json, None)?;
    let file_token_uri = json
        .get("token_uri")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    drop(json);
    let mut revoker = Revoker::new(LazyTransport::new(args.timeout));
    if let Some(uri) = &args.revoke_uri {
        revoker = revoker.with_uri(uri.clone());
    }
    let revocation = revoker.revoke_credentials(&user).await?;
    let mut text = match revocation {
        Revocation::Revoked => format!(
            "Revoked the refresh token of {}: it, and the access tokens issued from it, no longer work.\n",
            path.display()
        ),
        _ => format!(
            "The refresh token of {} was no longer valid (it had expired, or was revoked before): nothing to revoke.\n",
            path.display()
        ),
    };
    let mut token_uris = vec![
        args.token_uri
            .clone()
            .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned()),
    ];
    token_uris.extend(file_token_uri);
    let forgotten = forget_cached(&user, &token_uris, args).await?;
    if let Some((location, removed)) = forgotten {
        let _ = writeln!(
            text,
            "Removed {removed} cached token record(s) from the token cache ({location})."
        );
    }
    if is_adc_file {
        std::fs::remove_file(&path).map_err(|err| {
            Failure::new(format!(
                "revoked, but could not delete {}: {err}; delete it yourself",
                path.display()
            ))
        })?;
        let _ = writeln!(
            text,
            "Deleted {}: Application Default Credentials no longer find these credentials.",
            path.display()
        );
    } else {
        let _ = writeln!(
            text,
            "Kept {}, which no longer works: delete it, or sign in again with `credkit login --output {} --force`.",
            path.display(),
            path.display()
        );
    }
    // Nothing better can be done if standard error is gone.
    let _ = io::stderr().lock().write_all(text.as_bytes());
    Ok(())
}

/// Removes the token cache's records of `user`: those `credkit token` keeps for the file's own
/// scopes and for the `--scope` set, refreshed at each of `token_uris`. Returns the cache's
/// location and how many records were there; `None` with `--no-cache` (or no usable cache).
async fn forget_cached(
    user: &UserCredentials,
    token_uris: &[String],
    args: &RevokeArgs,
) -> Result<Option<(String, usize)>, Failure> {
    let Some(storage) = cache::open(&cache_options(args))? else {
        return Ok(None);
    };
    let mut scope_sets = vec![user.requested_scopes().to_vec()];
    if !args.scopes.is_empty() {
        scope_sets.push(args.scopes.clone());
    }
    let mut keys = Vec::new();
    for uri in token_uris {
        for scopes in &scope_sets {
            let keyed = user
                .to_builder()
                .with_token_uri(uri.clone())
                .with_scopes(scopes.iter().cloned())
                .build()?;
            let key = cache::key(&keyed);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    let store: &dyn Storage = match &storage {
        Cache::File(store) => store,
        Cache::Redis(store, _) => store,
    };
    let mut removed = 0;
    for key in &keys {
        if store.load(key).await?.is_some() {
            removed += 1;
        }
        store.remove(key).await?;
    }
    Ok(Some((storage.location(), removed)))
}

/// The source options that name the token cache `args` name (`cache::open` reads only these).
fn cache_options(args: &RevokeArgs) -> SourceArgs {
    SourceArgs {
        credentials: None,
        access_token_file: None,
        token_uri: None,
        scopes: Vec::new(),
        quota_project: None,
        gcloud: false,
        account: None,
        timeout: args.timeout,
        cache: args.cache.clone(),
        no_cache: args.no_cache,
        no_retry: false,
        impersonate_service_account: None,
        delegates: Vec::new(),
        reauth: ReauthArgs {
            enable_reauth: false,
            reauth_uri: None,
            password_stdin: false,
        },
    }
}

/// A value from the file fit for a message: at most 64 visible ASCII characters.
fn printable(text: &str) -> String {
    text.chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_the_file_are_shown_tamed() {
        assert_eq!(printable("service_account"), "service_account");
        assert_eq!(printable("a\nb\u{1b}[31m"), "a?b?[31m");
        assert_eq!(printable(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn the_cache_options_name_only_the_cache() {
        let args = RevokeArgs {
            credentials: None,
            revoke_uri: None,
            token_uri: None,
            scopes: Vec::new(),
            cache: Some("/tmp/somewhere".to_owned()),
            no_cache: false,
            timeout: None,
        };
        let options = cache_options(&args);
        assert_eq!(options.cache.as_deref(), Some("/tmp/somewhere"));
        assert!(!options.no_cache);
    }
}
