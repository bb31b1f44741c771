//! A credkit [`Storage`](credkit_core::Storage) in a directory: tokens that outlive the
//! process, written crash-safely, and one refresh at a time across every process that shares
//! the directory.
//!
//! [`FileStorage`] keeps one record per key in a private directory (0700, files 0600 on Unix).
//! Each store replaces the record atomically (temporary file, `fsync`, rename, directory
//! `fsync`), so a crash leaves the old record or the new one, never a torn one. A record that
//! does not parse is read up to three times (a writer on a filesystem without atomic rename may
//! be half-way), then reported as a permanent error, which `Credentials` answers by storing a
//! new record over it; so is a file over 1 MiB, which is not read past that. Its lease is an
//! advisory lock on a sibling lock file: `Credentials` refreshes under it, so N processes make
//! one request per expiry between them and never lose a rotated refresh token. The lock is held
//! by the operating system for as long as its holder lives, so it cannot lapse under a live
//! holder, and stores need no [fencing by generation](credkit_core::Storage#fencing) (a store
//! whose lease has a time to live must fence).
//!
//! On Unix the directory is opened once and every later operation works through that handle,
//! so a symlink re-pointed afterwards changes nothing; a record or lock file that is a symlink,
//! not a regular file, or another user's is refused, never read.
//!
//! It is not a secret vault: records are plain JSON protected by file permissions, like the
//! `gcloud` CLI's own credential files. Every file operation runs on a small blocking thread
//! pool ([`blocking`]), so it works under any async runtime.
//!
//! ```
//! use credkit_core::{AccessToken, CredentialRecord, Storage};
//! use credkit_storage_file::FileStorage;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let temp = tempfile::tempdir()?;
//! let storage = FileStorage::new(temp.path().join("credkit"))?;
//! # futures::executor::block_on(async {
//! let record = CredentialRecord::new().with_access_token(&AccessToken::new("ya29.a"));
//! storage.store("user:client-id", &record).await?;
//! let back = storage.load("user:client-id").await?;
//! assert!(back.and_then(|r| r.access_token()).is_some());
//! # Ok::<(), credkit_core::Error>(())
//! # })?;
//! # Ok(())
//! # }
//! ```
//!
//! Sibling crates: `credkit-core` (the `Storage` trait, `Credentials`), `credkit-testing`
//! (the `Storage` contract suite this store passes).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod dir;
mod error;
mod fsio;
mod names;
mod store;

// The public interface is:
pub use store::{FileStorage, FileStorageBuilder};
