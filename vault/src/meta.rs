//! What the vault keeps in a record beside the tokens: its provider field `vault`, an object
//! with `granted_at` (when the user consented, Unix seconds) and `consent_needed_at` (when a
//! refresh was answered `invalid_grant`, Unix seconds; absent while the grant works).

use credkit_core::CredentialRecord;
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// The provider field the vault's metadata lives under.
pub(crate) const FIELD: &str = "vault";

/// The vault's metadata of one record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) granted_at: Option<OffsetDateTime>,
    pub(crate) consent_needed_at: Option<OffsetDateTime>,
}

impl Meta {
    /// The metadata of `record` (none: defaults).
    pub(crate) fn read(record: &CredentialRecord) -> Self {
        let Some(Value::Object(meta)) = record.provider_fields().get(FIELD) else {
            return Self::default();
        };
        let time = |name: &str| {
            meta.get(name)
                .and_then(Value::as_i64)
                .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        };
        Self {
            granted_at: time("granted_at"),
            consent_needed_at: time("consent_needed_at"),
        }
    }

    /// `record` with this metadata, its other provider fields kept.
    pub(crate) fn write(self, record: CredentialRecord) -> CredentialRecord {
        let mut meta = Map::new();
        if let Some(at) = self.granted_at {
            meta.insert("granted_at".into(), at.unix_timestamp().into());
        }
        if let Some(at) = self.consent_needed_at {
            meta.insert("consent_needed_at".into(), at.unix_timestamp().into());
        }
        let mut fields = record.provider_fields().clone();
        fields.insert(FIELD.into(), Value::Object(meta));
        record.with_provider_fields(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn metadata_round_trips_beside_other_fields() {
        let mut fields = Map::new();
        fields.insert("client_id".into(), "c".into());
        let record = CredentialRecord::new().with_provider_fields(fields);
        assert_eq!(Meta::read(&record), Meta::default());
        let meta = Meta {
            granted_at: Some(datetime!(2026-01-02 03:04:05 UTC)),
            consent_needed_at: None,
        };
        let record = meta.write(record);
        assert_eq!(Meta::read(&record), meta);
        assert_eq!(record.provider_fields()["client_id"], "c");
        let revoked = Meta {
            consent_needed_at: Some(datetime!(2026-02-02 00:00 UTC)),
            ..meta
        };
        assert_eq!(Meta::read(&revoked.write(record)), revoked);
    }

    #[test]
    fn metadata_of_the_wrong_shape_reads_as_none() {
        let mut fields = Map::new();
        fields.insert(FIELD.into(), "not an object".into());
        let record = CredentialRecord::new().with_provider_fields(fields);
        assert_eq!(Meta::read(&record), Meta::default());
        let mut fields = Map::new();
        fields.insert(FIELD.into(), serde_json::json!({"granted_at": "soon"}));
        let record = CredentialRecord::new().with_provider_fields(fields);
        assert_eq!(Meta::read(&record), Meta::default());
    }
}
