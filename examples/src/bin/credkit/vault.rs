//! `credkit vault`: operating a vault of many users' grants (credkit-vault's `Vault`) in the
//! storage an application keeps it in: `list`, `count`, `status`, `remove` (revoking first) and
//! `reseal` (re-encryption after a key rotation). Nothing printed holds a token or a key.
//!
//! The storage comes from `--storage URL` (or `CREDKIT_VAULT_STORAGE`), opened by
//! [`open_storage`] (one arm per kind of store: Redis, Postgres); the records' codec from `CREDKIT_VAULT_KEYS`
//! (`codec`), wrapped in a [`Watch`] that notes which records `reseal` must store again.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use credkit_core::{ErrorKind, PlainJson, RecordCodec, Storage};
use credkit_login::OAuthClient;
use credkit_storage_postgres::PostgresStorage;
use credkit_storage_redis::RedisStorage;
use credkit_vault::{Keyring, Refusal, Removed, SealedCodec, SealedError, UserStatus, Vault};
use futures::stream::{FuturesUnordered, StreamExt};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::{
    VaultArgs, VaultCommand, VaultListArgs, VaultRemoveArgs, VaultResealArgs, VaultStatusArgs,
    VaultStoreArgs,
};
use crate::commands::rfc3339;
use crate::failure::Failure;
use crate::lazy::LazyTransport;
use crate::login::CLIENT_SECRETS_ENV;
use crate::output;

/// The environment variable holding the storage's URL when `--storage` is not given.
const STORAGE_ENV: &str = "CREDKIT_VAULT_STORAGE";
/// The environment variable holding the data keys (`ID:BASE64,...`, the current key first).
const KEYS_ENV: &str = Keyring::VARIABLE;
/// Users asked of the storage per page.
const PAGE: usize = 1000;
/// The client ID the vault is built with when no `client_secret.json` is given: it makes no
/// token request, and Google's revocation endpoint asks for no client.
const NO_CLIENT_ID: &str = "credkit-vault-operator";

/// `credkit vault ...`.
pub(crate) async fn run(args: &VaultArgs) -> Result<(), Failure> {
    match &args.command {
        VaultCommand::List(args) => list(args).await,
        VaultCommand::Count(args) => count(args).await,
        VaultCommand::Status(args) => status(args).await,
        VaultCommand::Remove(args) => remove(args).await,
        VaultCommand::Reseal(args) => reseal(args).await,
    }
}

/// `credkit vault list`: every user, page by page, as they come.
async fn list(args: &VaultListArgs) -> Result<(), Failure> {
    let opened = Opened::open(&args.store, None)?;
    let mut left = args.limit.unwrap_or(u64::MAX);
    let mut cursor: Option<String> = None;
    let mut first = true;
    if args.json {
        output::print("{\"users\":[")?;
    }
    let more = loop {
        let want = usize::try_from(left).map_or(PAGE, |left| left.min(PAGE));
        let page = opened
            .vault
            .list(cursor.as_deref(), want)
            .await
            .map_err(|err| opened.failed(&err))?;
        let (users, next) = page.into_parts();
        let mut text = String::new();
        for user in users.iter().take(want) {
            if args.json {
                let quoted = serde_json::to_string(user).map_err(|err| json_failure(&err))?;
                text.push_str(if first { "" } else { "," });
                text.push_str(&quoted);
            } else {
                text.push_str(&printable_id(user));
                text.push('\n');
            }
            first = false;
            left -= 1;
        }
        output::print(&text)?;
        match next {
            None => break false,
            Some(next) if left == 0 => {
                // Whether --limit left any user out: a page may end where the users do.
                let after = opened
                    .vault
                    .list(Some(&next), 1)
                    .await
                    .map_err(|err| opened.failed(&err))?;
                break !after.keys().is_empty();
            }
            Some(next) => cursor = Some(next),
        }
    };
    if args.json {
        output::print(&format!("],\"more\":{more}}}\n"))?;
    }
    Ok(())
}

/// `credkit vault count`.
async fn count(args: &VaultStoreArgs) -> Result<(), Failure> {
    let opened = Opened::open(args, None)?;
    let count = match &opened.postgres {
        Some(postgres) => postgres.count(&args.prefix).await,
        None => opened.vault.count().await,
    }
    .map_err(|err| opened.failed(&err))?;
    output::print(&format!("{count}\n"))
}

/// `credkit vault status USER`.
async fn status(args: &VaultStatusArgs) -> Result<(), Failure> {
    let opened = Opened::open(&args.store, None)?;
    let status = opened
        .vault
        .status(&args.user)
        .await
        .map_err(|err| opened.failed(&err))?;
    if !status.stored {
        return Err(opened.not_stored(&args.user));
    }
    let shown = Status::of(&status);
    let text = if args.json {
        let json = serde_json::to_string_pretty(&shown).map_err(|err| json_failure(&err))?;
        format!("{json}\n")
    } else {
        shown.text()
    };
    output::print(&text)
}

/// `credkit vault remove USER`.
async fn remove(args: &VaultRemoveArgs) -> Result<(), Failure> {
    let opened = Opened::open(&args.store, Some(args))?;
    let user = &args.user;
    let removed = opened.vault.remove(user).await.map_err(|err| {
        if err.kind() == ErrorKind::Storage {
            opened.failed(&err)
        } else {
            Failure::new(format!(
                "the refresh token of user {user:?} could not be revoked, so its record is kept (run this again once the revocation endpoint answers): {}",
                with_causes(&err)
            ))
        }
    })?;
    let text = match removed {
        Removed::Revoked => format!(
            "revoked: the refresh token of user {user:?} was revoked, and its record deleted\n"
        ),
        Removed::AlreadyInvalid => format!(
            "already invalid: the refresh token of user {user:?} no longer worked (it had expired, or was revoked before); its record was deleted\n"
        ),
        Removed::NotStored => format!("not stored: nothing is stored for user {user:?}\n"),
        // A later kind of removal: say that it was done.
        _ => format!("removed: user {user:?}\n"),
    };
    output::print(&text)
}

/// What `reseal` did, user by user.
#[derive(Debug, Default)]
struct Tally {
    resealed: u64,
    current: u64,
    /// Users listed, then removed before their turn (`--all` only).
    gone: u64,
    failed: Vec<(String, String)>,
}

impl Tally {
    fn text(&self, current_key: &str) -> String {
        let mut text = format!(
            "current key: {current_key}\nresealed: {}\nalready current: {}\nfailed: {}\n",
            self.resealed,
            self.current,
            self.failed.len()
        );
        for (user, why) in &self.failed {
            // Writing to a String cannot fail.
            let _ = writeln!(text, "  {}: {why}", printable_id(user));
        }
        if self.gone > 0 {
            let _ = writeln!(text, "removed meanwhile: {}", self.gone);
        }
        text
    }
}

/// `credkit vault reseal --all | USER`.
async fn reseal(args: &VaultResealArgs) -> Result<(), Failure> {
    let keys = Keys::from_env()?.ok_or_else(|| {
        Failure::new(format!(
            "reseal needs the data keys: set {KEYS_ENV} to the application's keys, the new current key first, then the retired ones (ID:BASE64,ID:BASE64...)"
        ))
    })?;
    let current_key = keys.current_key_id.clone();
    let opened = Opened::open_with(&args.store, None, Some(keys), args.from_plain)?;
    let mut done = Tally::default();
    if let Some(user) = &args.user {
        match reseal_one(&opened, user, &mut done).await {
            Ok(true) => {}
            Ok(false) => return Err(opened.not_stored(user)),
            Err(err) => return Err(opened.failed(&err)),
        }
        output::print(&done.text(&current_key))?;
        return failures(&done);
    }
    if let Err(err) = reseal_all(&opened, usize::from(args.jobs), &mut done).await {
        return Err(interrupted(&opened, &done, &current_key, &err));
    }
    output::print(&done.text(&current_key))?;
    failures(&done)
}

/// Reseals every user's record, `jobs` users at a time (each under its own lease), page by
/// page. The first transient failure stops the run once the users under way are done.
async fn reseal_all(
    opened: &Opened,
    jobs: usize,
    done: &mut Tally,
) -> Result<(), credkit_core::Error> {
    let mut running = FuturesUnordered::new();
    let mut stopped: Option<credkit_core::Error> = None;
    let mut cursor: Option<String> = None;
    'pages: loop {
        let (users, next) = match opened.vault.list(cursor.as_deref(), PAGE).await {
            Ok(page) => page.into_parts(),
            Err(err) => {
                stopped = Some(err);
                break;
            }
        };
        for user in users {
            while running.len() >= jobs.max(1) {
                if let Some(finished) = running.next().await
                    && let Some(err) = add(done, finished)
                {
                    stopped = Some(err);
                    break 'pages;
                }
            }
            running.push(async move {
                let mut tally = Tally::default();
                let outcome = reseal_one(opened, &user, &mut tally).await;
                (tally, outcome)
            });
        }
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    while let Some(finished) = running.next().await {
        if let Some(err) = add(done, finished) {
            stopped.get_or_insert(err);
        }
    }
    done.failed.sort();
    stopped.map_or(Ok(()), Err)
}

/// Adds what one user's reseal did to `done`; its transient failure, if any.
fn add(
    done: &mut Tally,
    (tally, outcome): (Tally, Result<bool, credkit_core::Error>),
) -> Option<credkit_core::Error> {
    done.resealed += tally.resealed;
    done.current += tally.current;
    done.gone += tally.gone;
    done.failed.extend(tally.failed);
    match outcome {
        Ok(true) => None,
        Ok(false) => {
            done.gone += 1;
            None
        }
        Err(err) => Some(err),
    }
}

/// Reseals `user`'s record when it is not sealed with the current key. False when nothing is
/// stored. A permanent failure (a record no key opens) is noted in `done`; a transient one (the
/// storage out of reach, the user's lease held too long) is returned: the run stops there.
async fn reseal_one(
    opened: &Opened,
    user: &str,
    done: &mut Tally,
) -> Result<bool, credkit_core::Error> {
    let key = opened.vault.storage_key(user);
    let stale = match opened.vault.status(user).await {
        Ok(status) if !status.stored => return Ok(false),
        Ok(_) => opened.watch.take_stale(&key),
        Err(err) if err.is_transient() => return Err(err),
        Err(err) => {
            done.failed.push((user.to_owned(), unreadable(&err)));
            return Ok(true);
        }
    };
    if !stale {
        done.current += 1;
        return Ok(true);
    }
    match opened.vault.reseal(user).await {
        Ok(true) => done.resealed += 1,
        Ok(false) => return Ok(false),
        Err(err) if err.is_transient() => return Err(err),
        Err(err) => done.failed.push((user.to_owned(), unreadable(&err))),
    }
    opened.watch.take_stale(&key);
    Ok(true)
}

/// Why a record could not be read or resealed, in the operator's terms.
fn unreadable(err: &credkit_core::Error) -> String {
    match SealedError::of(err) {
        Some(SealedError::UnknownKey { key_id }) => format!(
            "sealed with the data key {key_id:?}, which {KEYS_ENV} does not hold: add it after the current key"
        ),
        Some(SealedError::NotSealed) => {
            "stored as plain JSON, not sealed: reseal it with --from-plain".to_owned()
        }
        Some(SealedError::ForeignOrAltered) => {
            "altered, or copied from another user's record (it does not authenticate under its key): remove the user and ask for consent again".to_owned()
        }
        Some(SealedError::Damaged) => {
            "damaged or cut short: remove the user and ask for consent again".to_owned()
        }
        _ => with_causes(err),
    }
}

/// The end of a reseal run: exit 1 when a record could not be resealed.
fn failures(done: &Tally) -> Result<(), Failure> {
    match done.failed.len() {
        0 => Ok(()),
        n => Err(Failure::new(format!(
            "{n} record(s) could not be resealed (listed above, with why); they are left as they were: fix that and run reseal again (records already under the current key are skipped)"
        ))),
    }
}

/// A `--all` run stopped by a transient failure: what was done, then the error.
fn interrupted(
    opened: &Opened,
    done: &Tally,
    current_key: &str,
    err: &credkit_core::Error,
) -> Failure {
    // Standard output may be gone too; the error line says what matters.
    let _ = output::print(&done.text(current_key));
    Failure::new(format!(
        "stopped after {} record(s) resealed: {}; run reseal --all again to resume (records already under the current key are skipped)",
        done.resealed,
        opened.failed(err)
    ))
}

/// The data keys, when `CREDKIT_VAULT_KEYS` is set.
struct Keys {
    codec: Arc<dyn RecordCodec>,
    current_key_id: String,
}

impl Keys {
    /// The codec of the keys in `CREDKIT_VAULT_KEYS`; `None` when it is not set (or empty).
    fn from_env() -> Result<Option<Self>, Failure> {
        if std::env::var_os(KEYS_ENV).is_none_or(|value| value.is_empty()) {
            return Ok(None);
        }
        // Its errors name the variable and the entry, never a key.
        let keyring = Keyring::from_env(KEYS_ENV)?;
        Ok(Some(Self {
            current_key_id: keyring.current_key_id().to_owned(),
            codec: Arc::new(SealedCodec::new(keyring)),
        }))
    }
}

/// A sealed record met without keys: what the error from [`Watch`] says, found behind a
/// store's error.
#[derive(Debug)]
struct NeedsKeys {
    key_id: String,
}

impl std::fmt::Display for NeedsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the record is sealed (with the data key {:?}): set {KEYS_ENV} to the application's keys",
            self.key_id
        )
    }
}

impl std::error::Error for NeedsKeys {}

impl NeedsKeys {
    /// The one behind `err`, if any.
    fn of(err: &credkit_core::Error) -> Option<&Self> {
        credkit_core::find_source(err)
    }
}

/// A codec that notes, for each record it opens, whether it is sealed with a key other than
/// the current one: what `reseal` asks before storing a record again.
#[derive(Debug)]
struct Watch {
    codec: Arc<dyn RecordCodec>,
    /// The storage keys of the records last opened stale.
    stale: Mutex<HashSet<String>>,
    /// Open a record that is not sealed as the plain JSON it is (`reseal --from-plain`), as
    /// stale: what turning encryption on for a vault of plain records needs, once.
    accept_plain: bool,
    /// Whether `codec` seals (`CREDKIT_VAULT_KEYS` is set): without keys, a sealed record is
    /// refused with what to do rather than read as JSON that does not parse.
    keyed: bool,
}

impl Watch {
    /// Whether the record under `key` was stale when last opened (and forgets it).
    fn take_stale(&self, key: &str) -> bool {
        self.stale
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
    }
}

impl RecordCodec for Watch {
    fn encode(&self, key: &str, json: &[u8]) -> credkit_core::Result<Vec<u8>> {
        self.codec.encode(key, json)
    }

    fn decode(&self, key: &str, stored: &[u8]) -> credkit_core::Result<Zeroizing<Vec<u8>>> {
        if !self.keyed
            && let Some(key_id) = SealedCodec::key_id_of(stored)
        {
            let needs = NeedsKeys {
                key_id: key_id.to_owned(),
            };
            return Err(
                credkit_core::Error::new(ErrorKind::Storage, needs.to_string())
                    .with_transient(false)
                    .with_source(needs),
            );
        }
        let (json, plain) = match self.codec.decode(key, stored) {
            Ok(json) => (json, false),
            Err(err)
                if self.accept_plain
                    && SealedError::of(&err) == Some(&SealedError::NotSealed)
                    && stored.first() == Some(&b'{') =>
            {
                (Zeroizing::new(stored.to_vec()), true)
            }
            Err(err) => return Err(err),
        };
        let mut stale = self.stale.lock().unwrap_or_else(PoisonError::into_inner);
        if plain || self.codec.is_stale(stored) {
            stale.insert(key.to_owned());
        } else {
            stale.remove(key);
        }
        Ok(json)
    }

    fn is_stale(&self, stored: &[u8]) -> bool {
        self.codec.is_stale(stored)
    }
}

/// The kinds of storage `--storage` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Redis,
    Postgres,
}

/// The kind of storage `url` names, by its scheme.
fn kind(url: &str) -> Result<Kind, Failure> {
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("redis" | "rediss") => Ok(Kind::Redis),
        Some("postgres" | "postgresql") => Ok(Kind::Postgres),
        _ => Err(Failure::new(
            "the vault storage URL is not one credkit knows: give redis://HOST[:PORT][/DB], rediss://... (TLS) or postgres://USER@HOST[:PORT]/DB",
        )),
    }
}

/// `url` fit to show: its scheme, host, port and path, without user, password or query (a
/// Postgres URL may carry a password in its query).
fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the vault storage".to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let path = after.split(['?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}{path}")
}

/// The storage `url` names, opened with `codec`, able to list its keys; a Postgres store
/// beside it too, which counts in one statement.
fn open_storage(
    url: &str,
    args: &VaultStoreArgs,
    codec: Arc<dyn RecordCodec>,
) -> Result<(Arc<dyn Storage>, Option<PostgresStorage>), Failure> {
    match kind(url)? {
        Kind::Redis => {
            let mut builder = RedisStorage::builder(url)
                .with_prefix(args.redis_prefix.clone())
                .with_listing()
                .with_codec(codec);
            if let Some(path) = &args.redis_ca_file {
                builder = builder.with_tls_root_certificates(read_pem("--redis-ca-file", path)?);
            }
            if let (Some(chain), Some(key)) = (&args.redis_client_cert, &args.redis_client_key) {
                // Moved into the builder, which wipes it when dropped.
                let mut key = Zeroizing::new(read_pem("--redis-client-key", key)?);
                let chain = read_pem("--redis-client-cert", chain)?;
                builder = builder.with_tls_client_certificate(chain, std::mem::take(&mut *key));
            }
            Ok((Arc::new(builder.build()?), None))
        }
        Kind::Postgres => {
            // An operator's tool never creates tables: pointed at the wrong database, it says so
            // and changes nothing.
            let mut builder = PostgresStorage::builder(url)
                .with_table_prefix(args.postgres_table_prefix.clone())
                .with_codec(codec)
                .without_schema_changes();
            if let Some(schema) = &args.postgres_schema {
                builder = builder.with_schema(schema.clone());
            }
            let storage = builder.build()?;
            Ok((Arc::new(storage.clone()), Some(storage)))
        }
    }
}

/// The PEM file `path` a flag named; an error names the flag and the file, never its contents.
fn read_pem(flag: &str, path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path)
        .map_err(|err| Failure::new(format!("could not read {flag} {}: {err}", path.display())))
}

/// A vault opened for a command.
#[derive(Debug)]
struct Opened {
    vault: Vault,
    watch: Arc<Watch>,
    /// A Postgres store counts its keys in one statement.
    postgres: Option<PostgresStorage>,
    /// The storage's URL without its password.
    location: String,
    prefix: String,
}

impl Opened {
    /// The vault `args` name, with the keys of `CREDKIT_VAULT_KEYS` if set; `remove`'s client
    /// and revocation endpoint with `remove`.
    fn open(args: &VaultStoreArgs, remove: Option<&VaultRemoveArgs>) -> Result<Self, Failure> {
        Self::open_with(args, remove, None, false)
    }

    /// The vault `args` name, with `keys` (else those of `CREDKIT_VAULT_KEYS`, if set), opening
    /// plain records too with `accept_plain`.
    fn open_with(
        args: &VaultStoreArgs,
        remove: Option<&VaultRemoveArgs>,
        keys: Option<Keys>,
        accept_plain: bool,
    ) -> Result<Self, Failure> {
        let url = storage_url(args)?;
        let location = shown(&url);
        let keys = match keys {
            Some(keys) => Some(keys),
            None => Keys::from_env()?,
        };
        let keyed = keys.is_some();
        let watch = Arc::new(Watch {
            codec: keys.map_or_else(|| Arc::new(PlainJson::default()) as _, |keys| keys.codec),
            stale: Mutex::default(),
            accept_plain,
            keyed,
        });
        let (storage, postgres) =
            open_storage(&url, args, Arc::clone(&watch) as Arc<dyn RecordCodec>).map_err(
                |failure| Failure::new(format!("the vault storage ({location}): {failure}")),
            )?;
        let (client, timeout) = match remove {
            Some(remove) => (client(remove)?, remove.timeout),
            None => (OAuthClient::new(NO_CLIENT_ID, None), None),
        };
        let vault = Vault::builder(client, storage)
            .with_transport(LazyTransport::new(timeout))
            .with_key_prefix(args.prefix.clone())
            .build()?;
        Ok(Self {
            vault,
            watch,
            postgres,
            location,
            prefix: args.prefix.clone(),
        })
    }

    /// A failure of the storage (or of the vault on it), naming where; a refusal of the vault
    /// (a user ID it does not take) as it is.
    fn failed(&self, err: &credkit_core::Error) -> Failure {
        if Refusal::of(err).is_some() {
            return Failure::new(err.to_string());
        }
        if let Some(needs) = NeedsKeys::of(err) {
            return Failure::new(format!("the vault storage ({}): {needs}", self.location));
        }
        if SealedError::of(err).is_some() {
            return Failure::new(format!(
                "the vault storage ({}): the record is {}",
                self.location,
                unreadable(err)
            ));
        }
        let mut text = with_causes(err);
        if text.contains("UnknownIssuer") {
            text.push_str(
                "; for a server whose certificate a private CA signed, give that CA with --redis-ca-file FILE",
            );
        }
        Failure::new(format!("the vault storage ({}): {text}", self.location))
    }

    /// Nothing is stored for `user`.
    fn not_stored(&self, user: &str) -> Failure {
        Failure::new(format!(
            "no grant is stored for user {user:?} (key prefix {:?} in {}): `credkit vault list` shows the users stored",
            self.prefix, self.location
        ))
    }
}

/// The storage URL: `--storage`, else `CREDKIT_VAULT_STORAGE`.
fn storage_url(args: &VaultStoreArgs) -> Result<Zeroizing<String>, Failure> {
    if let Some(url) = &args.storage {
        return Ok(Zeroizing::new(url.clone()));
    }
    match std::env::var(STORAGE_ENV) {
        Ok(url) if !url.is_empty() => Ok(Zeroizing::new(url)),
        Err(std::env::VarError::NotUnicode(_)) => Err(Failure::new(format!(
            "{STORAGE_ENV} is not valid UTF-8: give a redis://, rediss:// or postgres:// URL"
        ))),
        _ => Err(Failure::new(format!(
            "no vault storage: give --storage URL or set {STORAGE_ENV} (redis://HOST[:PORT][/DB], rediss://... or postgres://USER@HOST[:PORT]/DB)"
        ))),
    }
}

/// `remove`'s client: `--client-secrets`, else `CREDKIT_CLIENT_SECRETS`, else one with no
/// secret (Google's revocation endpoint authenticates no client); the revocation endpoint
/// `--revoke-uri` names.
fn client(args: &VaultRemoveArgs) -> Result<OAuthClient, Failure> {
    let path = args.client_secrets.clone().or_else(|| {
        std::env::var_os(CLIENT_SECRETS_ENV)
            .filter(|path| !path.is_empty())
            .map(Into::into)
    });
    let mut client = match path {
        Some(path) => OAuthClient::from_client_secrets_file(path)?,
        None => OAuthClient::new(NO_CLIENT_ID, None),
    };
    if let Some(uri) = &args.revoke_uri {
        client = client.with_revoke_uri(uri.clone());
    }
    Ok(client)
}

/// `err`'s message, then those of its sources (credkit's messages hold no secret; a source
/// that repeats its parent's message is left out).
fn with_causes(err: &credkit_core::Error) -> String {
    let mut text = err.to_string();
    let mut next = std::error::Error::source(err);
    while let Some(source) = next {
        let message = source.to_string();
        if !message.is_empty() && !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        next = source.source();
    }
    text
}

/// A user ID fit for a line of its own: as it is, or escaped when it holds a control
/// character (which the vault never stores, but another writer might).
fn printable_id(user: &str) -> String {
    if user.chars().any(char::is_control) {
        user.escape_debug().to_string()
    } else {
        user.to_owned()
    }
}

/// Serializing failed (it cannot, for these documents).
fn json_failure(err: &serde_json::Error) -> Failure {
    Failure::new(format!("could not write the JSON document: {err}"))
}

/// What `status` prints. No token.
#[derive(Debug, Serialize)]
struct Status {
    user: String,
    stored: bool,
    has_refresh_token: bool,
    granted_at: Option<String>,
    consent_needed_at: Option<String>,
    token_expiry: Option<String>,
    token_state: Option<&'static str>,
    granted_scopes: Option<Vec<String>>,
}

impl Status {
    fn of(status: &UserStatus) -> Self {
        Self {
            user: status.user.clone(),
            stored: status.stored,
            has_refresh_token: status.has_refresh_token,
            granted_at: status.granted_at.and_then(rfc3339),
            consent_needed_at: status.consent_needed_at.and_then(rfc3339),
            token_expiry: status.token_expiry.and_then(rfc3339),
            token_state: status.token_state.map(credkit_core::TokenState::as_str),
            granted_scopes: status.granted_scopes.clone(),
        }
    }

    /// One `name: value` a line.
    fn text(&self) -> String {
        let yes = |b: bool| if b { "yes" } else { "no" };
        let or = |value: &Option<String>, none: &str| value.clone().unwrap_or_else(|| none.into());
        let consent = match &self.consent_needed_at {
            Some(at) => format!("yes, since {at} (the grant was revoked or expired)"),
            None => "no".to_owned(),
        };
        let scopes = match &self.granted_scopes {
            Some(scopes) if !scopes.is_empty() => scopes.join(" "),
            Some(_) => "none".to_owned(),
            None => "unknown".to_owned(),
        };
        format!(
            "user: {}\nstored: {}\nrefresh token: {}\ngranted at: {}\nconsent needed: {consent}\ntoken expiry: {}\ntoken state: {}\ngranted scopes: {scopes}\n",
            printable_id(&self.user),
            yes(self.stored),
            yes(self.has_refresh_token),
            or(&self.granted_at, "unknown"),
            or(&self.token_expiry, "none"),
            self.token_state.unwrap_or("no access token"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_secrets() {
        assert_eq!(
            shown("redis://:hunter2@127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(
            shown("rediss://user:hunter2@redis.internal:6380"),
            "rediss://redis.internal:6380"
        );
        assert_eq!(
            shown("postgres://app:hunter2@db:5432/vault?password=hunter2&sslmode=require"),
            "postgres://db:5432/vault"
        );
        assert_eq!(shown("not a url"), "the vault storage");
    }

    #[test]
    fn kinds_by_scheme() {
        assert_eq!(kind("redis://h/0").unwrap(), Kind::Redis);
        assert_eq!(kind("REDISS://h").unwrap(), Kind::Redis);
        assert_eq!(kind("postgresql://u@h/db").unwrap(), Kind::Postgres);
        assert_eq!(kind("postgres://u@h/db").unwrap(), Kind::Postgres);
        for bad in ["mysql://u:hunter2@h/db", "h:6379", ""] {
            let message = kind(bad).unwrap_err().to_string();
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn odd_user_ids_are_escaped() {
        assert_eq!(printable_id("alice@example.com"), "alice@example.com");
        assert_eq!(printable_id("a\nb\u{1b}"), "a\\nb\\u{1b}");
    }
}
