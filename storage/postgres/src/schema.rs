//! The tables' names and the schema migration: created or brought up to date on first use,
//! in one transaction under an advisory lock, so that processes starting together do not race.

use std::fmt::Write as _;

use credkit_core::{BuildError, Result};
use deadpool_postgres::Object;
use sha2::{Digest, Sha256};
use tokio_postgres::GenericClient;

use crate::error;

/// The schema version this credkit creates and understands.
pub(crate) const VERSION: i32 = 1;

/// The longest identifier Postgres keeps (NAMEDATALEN - 1).
const LONGEST_IDENTIFIER: usize = 63;
/// The longest table suffix (`schema_version`).
const LONGEST_SUFFIX: usize = "schema_version".len();

/// The names one store uses, quoted and (with a schema) qualified, ready for SQL.
#[derive(Clone, Debug)]
pub(crate) struct Tables {
    /// `CREATE SCHEMA` for the schema given, if any.
    schema: Option<String>,
    pub(crate) records: String,
    pub(crate) leases: String,
    pub(crate) versions: String,
    /// The notification channel on which releases are announced (a name, not quoted: given
    /// to `pg_notify` as a value, and quoted for `LISTEN`).
    pub(crate) channel: String,
}

impl Tables {
    /// The names for tables `PREFIX + records`, `PREFIX + leases` and `PREFIX +
    /// schema_version`, in `schema` (default: the connection's search path).
    pub(crate) fn new(schema: Option<&str>, prefix: &str) -> std::result::Result<Self, BuildError> {
        if let Some(schema) = schema
            && !is_identifier(schema, LONGEST_IDENTIFIER)
        {
            return Err(error::bad_identifier("schema", LONGEST_IDENTIFIER));
        }
        let longest_prefix = LONGEST_IDENTIFIER - LONGEST_SUFFIX;
        if !(prefix.is_empty() || is_identifier(prefix, longest_prefix)) {
            return Err(error::bad_identifier("table prefix", longest_prefix));
        }
        let qualify = |table: &str| match schema {
            Some(schema) => format!("\"{schema}\".\"{prefix}{table}\""),
            None => format!("\"{prefix}{table}\""),
        };
        Ok(Self {
            schema: schema.map(|schema| format!("\"{schema}\"")),
            records: qualify("records"),
            leases: qualify("leases"),
            versions: qualify("schema_version"),
            channel: format!("{prefix}released"),
        })
    }

    /// The payload a release of `key` is announced with: a digest that names the key without
    /// revealing it, and tells these tables from another prefix's that share the channel.
    pub(crate) fn payload(&self, key: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.leases.as_bytes());
        hasher.update([0]);
        hasher.update(key.as_bytes());
        let mut payload = String::with_capacity(32);
        for byte in &hasher.finalize()[..16] {
            let _ = write!(payload, "{byte:02x}");
        }
        payload
    }

    /// The statements that create version 1 of the schema (documented in the crate's docs).
    fn version_1(&self) -> String {
        let Self {
            records, leases, ..
        } = self;
        format!(
            "CREATE TABLE IF NOT EXISTS {records} (
    key text COLLATE \"C\" PRIMARY KEY,
    record bytea NOT NULL,
    generation bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {leases} (
    key text COLLATE \"C\" PRIMARY KEY,
    owner text NOT NULL,
    expires_at timestamptz NOT NULL
);"
        )
    }

    /// The advisory lock's key for migrating these tables: another prefix or schema migrates
    /// without waiting for this one.
    fn lock_key(&self) -> i64 {
        let digest = Sha256::digest(format!("credkit-migrate:{}", self.versions).as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(bytes)
    }
}

/// A plain identifier: ASCII letters, digits and underscores, not starting with a digit, at
/// most `longest` bytes.
fn is_identifier(name: &str, longest: usize) -> bool {
    !name.is_empty()
        && name.len() <= longest
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether the versions table exists.
async fn versions_table_exists(
    client: &impl GenericClient,
    tables: &Tables,
) -> std::result::Result<bool, tokio_postgres::Error> {
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&tables.versions])
        .await?
        .try_get(0)
}

/// The highest version the versions table records (0: none).
async fn applied_version(
    client: &impl GenericClient,
    tables: &Tables,
) -> std::result::Result<i32, tokio_postgres::Error> {
    client
        .query_one(
            &format!("SELECT COALESCE(max(version), 0) FROM {}", tables.versions),
            &[],
        )
        .await?
        .try_get(0)
}

/// Checks that the tables are there at [`VERSION`], changing nothing (a store built
/// `without_schema_changes`).
pub(crate) async fn check(client: &Object, tables: &Tables) -> Result<()> {
    let failed = |err: tokio_postgres::Error| error::statement("checking the credkit tables", &err);
    let exists = versions_table_exists(&***client, tables)
        .await
        .map_err(failed)?;
    if !exists {
        return Err(error::schema_missing(0, VERSION));
    }
    let found = applied_version(&***client, tables).await.map_err(failed)?;
    match found {
        found if found > VERSION => Err(error::newer_schema(found, VERSION)),
        found if found < VERSION => Err(error::schema_missing(found, VERSION)),
        _ => Ok(()),
    }
}

/// Creates the tables, or brings them up to [`VERSION`], or refuses tables of a newer one:
/// one transaction, under a transaction-level advisory lock.
pub(crate) async fn migrate(client: &mut Object, tables: &Tables) -> Result<()> {
    let failed = |err: tokio_postgres::Error| error::statement("creating the credkit tables", &err);
    let transaction = client.transaction().await.map_err(failed)?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&tables.lock_key()])
        .await
        .map_err(failed)?;
    // Tables already there at this version need no DDL at all (nor the privilege to create
    // tables): a user granted only the rows works.
    let exists = versions_table_exists(&*transaction, tables)
        .await
        .map_err(failed)?;
    if !exists {
        let mut setup = String::new();
        if let Some(schema) = &tables.schema {
            let _ = writeln!(setup, "CREATE SCHEMA IF NOT EXISTS {schema};");
        }
        let _ = write!(
            setup,
            "CREATE TABLE IF NOT EXISTS {} (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);",
            tables.versions
        );
        transaction.batch_execute(&setup).await.map_err(failed)?;
    }
    let found = applied_version(&*transaction, tables)
        .await
        .map_err(failed)?;
    if found > VERSION {
        return Err(error::newer_schema(found, VERSION));
    }
    if found < 1 {
        transaction
            .batch_execute(&tables.version_1())
            .await
            .map_err(failed)?;
        transaction
            .execute(
                &format!("INSERT INTO {} (version) VALUES ($1)", tables.versions),
                &[&VERSION],
            )
            .await
            .map_err(failed)?;
        tracing::info!(version = VERSION, "created the credkit tables in Postgres");
    }
    transaction.commit().await.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_and_qualified() {
        let tables = Tables::new(None, "credkit_").unwrap();
        assert_eq!(tables.records, "\"credkit_records\"");
        assert_eq!(tables.leases, "\"credkit_leases\"");
        assert_eq!(tables.versions, "\"credkit_schema_version\"");
        assert_eq!(tables.channel, "credkit_released");
        let tables = Tables::new(Some("auth"), "").unwrap();
        assert_eq!(tables.records, "\"auth\".\"records\"");
        assert!(
            tables
                .version_1()
                .contains("CREATE TABLE IF NOT EXISTS \"auth\".\"leases\"")
        );
    }

    #[test]
    fn only_plain_identifiers_are_taken() {
        for bad in ["", "1abc", "a-b", "a\"b", "a;DROP", "é"] {
            assert!(Tables::new(Some(bad), "p_").is_err(), "{bad:?}");
        }
        for bad in ["1abc", "a b", "x\""] {
            assert!(Tables::new(None, bad).is_err(), "{bad:?}");
        }
        assert!(Tables::new(Some(&"s".repeat(63)), &"p".repeat(49)).is_ok());
        assert!(Tables::new(Some(&"s".repeat(64)), "p").is_err());
        assert!(Tables::new(None, &"p".repeat(50)).is_err());
        assert!(Tables::new(Some("Auth_2"), "_x9").is_ok());
    }

    #[test]
    fn payloads_name_a_key_and_its_tables_without_revealing_the_key() {
        let tables = Tables::new(None, "credkit_").unwrap();
        let payload = tables.payload("user-secret");
        assert_eq!(payload.len(), 32);
        assert!(!payload.contains("secret"));
        assert_eq!(payload, tables.payload("user-secret"));
        assert_ne!(payload, tables.payload("user-other"));
        let other = Tables::new(Some("elsewhere"), "credkit_").unwrap();
        assert_ne!(payload, other.payload("user-secret"));
        assert_ne!(tables.lock_key(), other.lock_key());
    }
}
