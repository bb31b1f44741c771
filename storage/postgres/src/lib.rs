//! A credkit [`Storage`](credkit_core::Storage) in Postgres, for teams whose users already
//! live there: any number of processes share each credential, make **one** token request per
//! expiry between them, and never lose a rotated refresh token.
//!
//! [`PostgresStorage`] keeps each record in a row with a generation. `Credentials` refreshes
//! under its lease (a row with a random owner and an expiry on the database's clock, renewed
//! while held, released by a compare-and-delete that wakes waiting processes through
//! `NOTIFY`), and every store made under the lease is fenced by the generation the lease began
//! on: a holder whose lease lapsed mid-refresh cannot overwrite a newer rotation. Each clone of
//! a [`PostgresStorage`] is fenced by its own leases only, as a separate process is.
//!
//! ```no_run
//! use std::time::Duration;
//! use credkit_core::{AccessToken, Credentials, LeasePolicy, StaticSource};
//! use credkit_storage_postgres::PostgresStorage;
//!
//! # #[allow(dead_code)]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let storage = PostgresStorage::builder("postgres://credkit:PASSWORD@db.internal:5432/app")
//!     .with_schema("auth")
//!     .with_lease_ttl(Duration::from_secs(10))
//!     .build()?;
//! let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.example")))
//!     .with_storage(storage, "user:client-id")
//!     // For refresh tokens that rotate: never refresh outside the lease.
//!     .with_lease_policy(LeasePolicy::strict())
//!     .build()?;
//! let headers = credentials.headers().await?;
//! # let _ = headers;
//! # Ok(())
//! # }
//! ```
//!
//! # Schema
//!
//! The store creates its tables on first use (or on [`PostgresStorage::migrate`]), in one
//! transaction under a transaction-level advisory lock, so that processes starting together
//! do not race; a version table says which schema the tables follow, and tables of a newer
//! version than this credkit knows are refused with an error that says so. With the default
//! table prefix `credkit_` and no schema (the first of the search path), version 1 is:
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS "credkit_schema_version" (
//!     version integer PRIMARY KEY,
//!     applied_at timestamptz NOT NULL DEFAULT now()
//! );
//! CREATE TABLE IF NOT EXISTS "credkit_records" (
//!     key text COLLATE "C" PRIMARY KEY,
//!     record bytea NOT NULL,
//!     generation bigint NOT NULL,
//!     updated_at timestamptz NOT NULL DEFAULT now()
//! );
//! CREATE TABLE IF NOT EXISTS "credkit_leases" (
//!     key text COLLATE "C" PRIMARY KEY,
//!     owner text NOT NULL,
//!     expires_at timestamptz NOT NULL
//! );
//! INSERT INTO "credkit_schema_version" (version) VALUES (1);
//! ```
//!
//! `record` holds the bytes of [`CredentialRecord::to_json`](credkit_core::CredentialRecord::to_json)
//! as the [`RecordCodec`] gave them; `generation` grows with each store. Keys are in the `"C"`
//! collation, so listing pages by byte order on the primary key's index. Leases' expiries
//! are on the database's clock (`clock_timestamp()`): the clocks of the processes do not
//! matter. A user
//! that may not create tables can run with tables an administrator created from this DDL
//! (with the version row): the store then only reads and writes rows.
//!
//! **Degradation.** Postgres out of reach (or restarting) is a transient storage error within
//! [`PostgresStorageBuilder::with_timeout`]: by default `Credentials` keeps serving a fresh
//! cached token (the hot path never touches the database) and refreshes an expired one
//! locally, reporting `RefreshEvent::LeaseUnavailable`; with
//! `with_lease_policy(LeasePolicy::strict())` it fails instead. The pool replaces broken
//! connections by itself. A refused password or a missing database is a permanent error that
//! says what to fix.
//!
//! **Trust.** Records are stored as they are: whoever reads the tables reads the tokens. Give
//! a [`RecordCodec`] to encrypt the bytes before they leave the process (credkit-vault's
//! sealed codec). Connections are plain TCP (or a Unix socket): keep the database on a trusted
//! network. TLS would come through `tokio-postgres-rustls` as the connector (a later `tls`
//! feature).
//!
//! **Runtime.** tokio-postgres runs on tokio: use this store inside a tokio runtime.
//!
//! Sibling crates: `credkit-core` (the `Storage` trait, `Credentials`), `credkit-storage-redis`
//! (the same design on Redis), `credkit-testing` (the `Storage` contract suite this store
//! passes).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod error;
mod lease;
mod schema;
mod store;

// The public interface is:
/// Re-exported from `credkit-core`: the codec record bytes pass through (encryption at rest).
pub use credkit_core::{PlainJson, RecordCodec};
pub use store::{PostgresStorage, PostgresStorageBuilder};
