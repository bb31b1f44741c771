//! A credential vault for a service that acts for many users: each user's refresh token kept in
//! a shared [`Storage`](credkit_core::Storage) (encrypted at rest), served with the same hot path
//! as one `Credentials`, refreshed once per user per expiry across a fleet, and revocations
//! handled once.
//!
//! A mail integration, a calendar sync, a drive backup, an agent acting for people: the service
//! holds a refresh token per user, and a fleet of workers uses any of them at any moment. Two
//! workers racing to refresh one user's token (one `invalid_grant` logs the user out), tokens in
//! clear in the database, a revoked user retried forever: the [`Vault`] handles all three.
//!
//! - [`Vault`]: `headers(user)`, `access_token(user)`, `insert(user, grant)` (after consent),
//!   `remove(user)` (revokes, RFC 7009), `status(user)`, `list`, `count`, `reseal(user)`.
//! - [`Grant`]: what a user's consent gave (from an OAuth callback or `credkit login`).
//! - [`VaultEvent`]: a revoked grant (once, fleet-wide), each user's refresh events.
//! - [`Refusal`]: why a call was refused (consent needed, unknown user, newer grant).
//! - [`SealedCodec`]: encryption at rest for the store (AES-256-GCM, key rotation, the record's
//!   key bound as associated data, KMS-held keys through [`KeyUnwrapper`]); its docs say what it
//!   protects against and what it does not.
//!
//! The storage is any [`Storage`](credkit_core::Storage) with a lease that can list:
//! `credkit-storage-redis` (`with_listing()`), `credkit-storage-postgres`, or
//! [`MemoryStorage`](credkit_core::MemoryStorage) in tests.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod error;
mod events;
mod grant;
mod meta;
mod refusal;
mod sealed;
mod source;
mod status;
mod vault;

// The public interface is:
pub use events::VaultEvent;
pub use grant::Grant;
pub use refusal::Refusal;
pub use sealed::{DataKey, KeyUnwrapper, Keyring, SealedCodec, SealedError, WrappedKey};
pub use status::{Inserted, Removed, UserStatus};
pub use vault::{
    DEFAULT_CAPACITY, DEFAULT_CONSENT_RECHECK, DEFAULT_KEY_PREFIX, Vault, VaultBuilder,
};
