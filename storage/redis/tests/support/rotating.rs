//! A token source whose refresh token rotates, over an issuer that several sources share (two
//! `Credentials` of one user), with a gate to hold a fetch while a test changes Redis.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{
    AccessToken, CredentialRecord, Credentials, Error, ErrorKind, Result, TokenSource,
};
use credkit_storage_redis::RedisStorage;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Notify, Semaphore};

/// The token server's side: which refresh tokens it accepts, and the tokens it issued.
#[derive(Debug)]
pub(crate) struct Issuer {
    /// Strict: only the last refresh token issued is accepted (each one is good once).
    /// Lenient: any refresh token issued so far is accepted.
    strict: bool,
    /// Put before every token's name: tokens of two issuers never look alike.
    prefix: &'static str,
    /// Every refresh token issued, oldest first; `rt-N` is the N-th (from `rt-0`).
    issued: Mutex<Vec<String>>,
}

impl Issuer {
    /// An issuer that gave out `rt-0` and accepts only the latest refresh token.
    pub(crate) fn strict() -> Arc<Self> {
        Self::new(true, "")
    }

    /// As [`strict`](Self::strict), with `prefix` before every token's name (`PREFIXrt-0`).
    pub(crate) fn strict_named(prefix: &'static str) -> Arc<Self> {
        Self::new(true, prefix)
    }

    /// An issuer that gave out `rt-0` and accepts any refresh token it issued.
    pub(crate) fn lenient() -> Arc<Self> {
        Self::new(false, "")
    }

    fn new(strict: bool, prefix: &'static str) -> Arc<Self> {
        Arc::new(Self {
            strict,
            prefix,
            issued: Mutex::new(vec![format!("{prefix}rt-0")]),
        })
    }

    /// Issues `at-N` and `rt-N` (the next N) against `refresh`, or refuses it.
    fn exchange(&self, refresh: &str) -> Result<(String, String)> {
        let mut issued = self.issued.lock().unwrap();
        let accepted = if self.strict {
            issued.last().is_some_and(|last| last == refresh)
        } else {
            issued.iter().any(|known| known == refresh)
        };
        if !accepted {
            return Err(Error::new(
                ErrorKind::TokenEndpoint,
                format!("invalid_grant: {refresh} is not the refresh token in force"),
            ));
        }
        let (n, prefix) = (issued.len(), self.prefix);
        issued.push(format!("{prefix}rt-{n}"));
        Ok((format!("{prefix}at-{n}"), format!("{prefix}rt-{n}")))
    }

    /// The last refresh token issued: the one a strict server accepts now.
    pub(crate) fn latest(&self) -> String {
        self.issued.lock().unwrap().last().unwrap().clone()
    }
}

/// A source that sends the refresh token it holds (the last one it adopted or was issued) to
/// its issuer and reports the rotation with the token. A gated one waits at each fetch, after
/// announcing it on `started`, until the test calls [`open`](Rotating::open).
#[derive(Debug)]
pub(crate) struct Rotating {
    issuer: Arc<Issuer>,
    holds: Mutex<String>,
    gate: Option<Semaphore>,
    pub(crate) started: Notify,
    adopted: Mutex<Vec<String>>,
}

impl Rotating {
    /// A source holding its issuer's first refresh token, that fetches at once.
    pub(crate) fn new(issuer: &Arc<Issuer>) -> Arc<Self> {
        Self::build(issuer, None)
    }

    /// A source holding its issuer's first refresh token, whose every fetch waits for
    /// [`open`](Rotating::open).
    pub(crate) fn gated(issuer: &Arc<Issuer>) -> Arc<Self> {
        Self::build(issuer, Some(Semaphore::new(0)))
    }

    fn build(issuer: &Arc<Issuer>, gate: Option<Semaphore>) -> Arc<Self> {
        Arc::new(Self {
            issuer: Arc::clone(issuer),
            holds: Mutex::new(format!("{}rt-0", issuer.prefix)),
            gate,
            started: Notify::new(),
            adopted: Mutex::new(Vec::new()),
        })
    }

    /// Lets one waiting (or the next) fetch go on.
    pub(crate) fn open(&self) {
        self.gate.as_ref().unwrap().add_permits(1);
    }

    /// The refresh token the next fetch sends.
    pub(crate) fn holds(&self) -> String {
        self.holds.lock().unwrap().clone()
    }

    /// The refresh tokens of every record it adopted, in order.
    pub(crate) fn adopted(&self) -> Vec<String> {
        self.adopted.lock().unwrap().clone()
    }
}

#[async_trait]
impl TokenSource for Rotating {
    async fn fetch_token(&self) -> Result<AccessToken> {
        self.started.notify_one();
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        let sent = self.holds();
        let (access, refresh) = self.issuer.exchange(&sent)?;
        let expiry = credkit_core::time::OffsetDateTime::now_utc() + Duration::from_secs(3600);
        let token = AccessToken::new(access)
            .with_expiry(expiry)
            .with_rotated_refresh_token(SecretString::from(refresh.clone()));
        *self.holds.lock().unwrap() = refresh;
        Ok(token)
    }

    fn adopt_record(&self, record: &CredentialRecord) {
        if let Some(refresh) = record.refresh_token() {
            let refresh = refresh.expose_secret().to_owned();
            self.adopted.lock().unwrap().push(refresh.clone());
            *self.holds.lock().unwrap() = refresh;
        }
    }
}

/// A record with an expired access token `access` and the refresh token `refresh`: the next
/// `Credentials` call refreshes.
pub(crate) fn expired(access: &str, refresh: &str) -> CredentialRecord {
    let past = credkit_core::time::OffsetDateTime::now_utc() - Duration::from_secs(60);
    CredentialRecord::new()
        .with_access_token(&AccessToken::new(access).with_expiry(past))
        .with_refresh_token(SecretString::from(refresh.to_owned()))
}

/// One process's credentials over `source`, storing under `key` through `storage`.
pub(crate) fn credentials_on(
    source: &Arc<Rotating>,
    storage: &RedisStorage,
    key: &str,
) -> Credentials {
    Credentials::builder(Arc::clone(source))
        .with_storage(storage.clone(), key)
        .build()
        .unwrap()
}
