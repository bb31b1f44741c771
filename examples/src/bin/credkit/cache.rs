//! The token cache of `token`, `header` and `info`: a `FileStorage` in the user's cache
//! directory (or `--cache DIR`), or a `RedisStorage` (`--cache redis://HOST:PORT/DB`), keyed by the credential's identity, and a note of whether the
//! token came from it.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use credkit_core::{CredentialsBuilder, RefreshEvent};
use credkit_refresh_token::UserCredentials;
use credkit_storage_file::FileStorage;
use credkit_storage_redis::RedisStorage;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};

use crate::cli::SourceArgs;
use crate::failure::Failure;
use crate::output;

/// The folder of the user's cache directory the cache goes in.
const APP: &str = "credkit";

/// Where the token of this run came from, as the refresh observer saw it (0: nowhere yet).
#[derive(Clone, Debug, Default)]
pub(crate) struct Outcome(Arc<AtomicU8>);

const FROM_CACHE: u8 = 1;
const FETCHED: u8 = 2;

impl Outcome {
    /// `Some(true)`: the cache; `Some(false)`: a request; `None`: no token was obtained in this
    /// run (a token still fresh in the credentials file, say).
    pub(crate) fn came_from_cache(&self) -> Option<bool> {
        match self.0.load(Ordering::Acquire) {
            FROM_CACHE => Some(true),
            FETCHED => Some(false),
            _ => None,
        }
    }
}

/// A token cache: a directory, or a Redis server shared with other machines.
#[derive(Debug)]
pub(crate) enum Cache {
    File(FileStorage),
    /// The store, and its URL without a password (for `info`).
    Redis(RedisStorage, String),
}

impl Cache {
    /// Where the cache is: its directory, or its Redis URL without a password.
    pub(crate) fn location(&self) -> String {
        match self {
            Self::File(storage) => storage.dir().display().to_string(),
            Self::Redis(_, shown) => shown.clone(),
        }
    }
}

/// The cache the options ask for: `None` with `--no-cache`. The default directory is skipped,
/// with a warning, when it cannot be used (no home directory, wrong permissions); a directory
/// or Redis URL given with `--cache` that cannot be used is an error.
pub(crate) fn open(args: &SourceArgs) -> Result<Option<Cache>, Failure> {
    if args.no_cache {
        return Ok(None);
    }
    if let Some(target) = &args.cache {
        if let Some(rest) = target
            .strip_prefix("redis://")
            .or_else(|| target.strip_prefix("rediss://"))
        {
            let scheme = &target[..target.len() - rest.len()];
            // Never shown: a password in the URL's user part.
            let shown = format!(
                "{scheme}{}",
                rest.rsplit_once('@').map_or(rest, |(_, host)| host)
            );
            return Ok(Some(Cache::Redis(RedisStorage::new(target)?, shown)));
        }
        return Ok(Some(Cache::File(FileStorage::new(target)?)));
    }
    match FileStorage::in_user_cache_dir(APP) {
        Ok(storage) => Ok(Some(Cache::File(storage))),
        Err(err) => {
            output::warn(&format!(
                "the token cache is off: {err}; use --cache DIR or --no-cache"
            ));
            Ok(None)
        }
    }
}

/// The record's key: the client ID, then a hash of what makes the token what it is (the
/// refresh token the credentials started from, the token endpoint and the scopes). No secret
/// appears in it; a rotation does not change it, since it is computed from the file's refresh
/// token before any rotation is adopted.
pub(crate) fn key(user: &UserCredentials) -> String {
    let mut hash = Sha256::new();
    if let Some(refresh_token) = user.refresh_token() {
        hash.update(refresh_token.expose_secret().as_bytes());
    }
    hash.update([0]);
    hash.update(user.token_uri().unwrap_or_default().as_bytes());
    hash_scopes(&mut hash, user.requested_scopes());
    format!(
        "user-{}-{}",
        user.client_id().unwrap_or("no-client-id"),
        hex16(&hash.finalize())
    )
}

/// The record's key for a credential read from a file of another type (`service_account`,
/// `external_account`, ...): the type, then a hash of the file's bytes and the scopes. The file
/// holds what makes the token what it is (the key or the external source, the audience, the
/// impersonated account); none of it appears in the key.
pub(crate) fn file_key(kind: &str, file: &[u8], scopes: &[String]) -> String {
    let mut hash = Sha256::new();
    hash.update(file);
    hash_scopes(&mut hash, scopes);
    format!("{}-{}", key_safe(kind), hex16(&hash.finalize()))
}

/// The record's key for a service account impersonated with the credentials of `source` (the
/// source's own key, or what names it): a hash of the source, the target, the delegates in
/// order and the scopes.
pub(crate) fn impersonated_key(
    source: &str,
    target: &str,
    delegates: &[String],
    scopes: &[String],
) -> String {
    let mut hash = Sha256::new();
    hash.update(source.as_bytes());
    hash.update([0]);
    hash.update(target.as_bytes());
    for delegate in delegates {
        hash.update([1]);
        hash.update(delegate.as_bytes());
    }
    hash_scopes(&mut hash, scopes);
    format!("impersonated-{}", hex16(&hash.finalize()))
}

/// Adds `scopes` to `hash` in sorted order, each after a zero byte.
fn hash_scopes(hash: &mut Sha256, scopes: &[String]) {
    let mut scopes = scopes.to_vec();
    scopes.sort();
    for scope in &scopes {
        hash.update([0]);
        hash.update(scope.as_bytes());
    }
}

/// The first 16 bytes of `digest` in hex.
fn hex16(digest: &[u8]) -> String {
    digest.iter().take(16).fold(String::new(), |mut hex, b| {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// `text` with anything but ASCII letters, digits, `-` and `_` made `_`, for a key.
fn key_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `builder` with the cache (if any) as its storage, and an observer that notes where the
/// token came from and warns about cache failures on standard error.
pub(crate) fn attach(
    builder: CredentialsBuilder,
    storage: Option<Cache>,
    key: String,
    outcome: &Outcome,
) -> CredentialsBuilder {
    let builder = match storage {
        None => return builder,
        Some(Cache::File(storage)) => builder.with_storage(storage, key),
        Some(Cache::Redis(storage, _)) => builder.with_storage(storage, key),
    };
    let outcome = Arc::clone(&outcome.0);
    builder.on_refresh(move |event| match event {
        RefreshEvent::Refreshed { from_storage, .. } => {
            let how = if *from_storage { FROM_CACHE } else { FETCHED };
            outcome.store(how, Ordering::Release);
        }
        RefreshEvent::StorageFailed { error, .. } => {
            output::warn(&format!("the token cache: {error}"));
        }
        RefreshEvent::LeaseUnavailable { error, .. } => {
            output::warn(&format!("the token cache's lock: {error}"));
        }
        _ => {}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(refresh_token: &str, scopes: &[&str]) -> UserCredentials {
        UserCredentials::builder()
            .with_client_id("cid.apps.googleusercontent.com")
            .with_client_secret("client-secret")
            .with_refresh_token(refresh_token.to_owned())
            .with_token_uri("http://127.0.0.1:9/token")
            .with_scopes(scopes.iter().copied())
            .build()
            .unwrap()
    }

    #[test]
    fn the_key_names_the_client_and_hides_the_secrets() {
        let key = key(&user("1//refresh-secret", &["a", "b"]));
        assert!(
            key.starts_with("user-cid.apps.googleusercontent.com-"),
            "{key}"
        );
        assert!(!key.contains("refresh-secret") && !key.contains("client-secret"));
        // Stable, whatever the order of the scopes; another token or scope set is another key.
        assert_eq!(key, super::key(&user("1//refresh-secret", &["b", "a"])));
        assert_ne!(key, super::key(&user("1//other", &["a", "b"])));
        assert_ne!(key, super::key(&user("1//refresh-secret", &["a"])));
    }

    #[test]
    fn file_keys_name_the_type_and_hide_the_file() {
        let file = br#"{"type":"service_account","private_key":"-----BEGIN secret"}"#;
        let scopes = ["a".to_owned(), "b".to_owned()];
        let key = file_key("service_account", file, &scopes);
        assert!(key.starts_with("service_account-"), "{key}");
        assert_eq!(key.len(), "service_account-".len() + 32);
        assert!(!key.contains("secret"));
        let reversed = ["b".to_owned(), "a".to_owned()];
        assert_eq!(key, file_key("service_account", file, &reversed));
        assert_ne!(key, file_key("service_account", b"{}", &scopes));
        assert_ne!(key, file_key("service_account", file, &scopes[..1]));
        assert!(file_key("a/../b c", b"", &[]).starts_with("a____b_c-"));
    }

    #[test]
    fn impersonated_keys_tell_every_part_apart() {
        let scopes = ["s".to_owned()];
        let delegates = ["d1".to_owned(), "d2".to_owned()];
        let key = impersonated_key("source", "sa@p.iam", &delegates, &scopes);
        assert!(key.starts_with("impersonated-"), "{key}");
        assert_ne!(
            key,
            impersonated_key("other", "sa@p.iam", &delegates, &scopes)
        );
        assert_ne!(
            key,
            impersonated_key("source", "sb@p.iam", &delegates, &scopes)
        );
        let swapped = ["d2".to_owned(), "d1".to_owned()];
        assert_ne!(
            key,
            impersonated_key("source", "sa@p.iam", &swapped, &scopes)
        );
        assert_ne!(key, impersonated_key("source", "sa@p.iam", &delegates, &[]));
        assert_ne!(key, impersonated_key("source", "sa@p.iam", &[], &scopes));
    }
}
