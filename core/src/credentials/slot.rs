//! What this process knows of its storage: the record as last loaded or stored, the update a
//! fetch handed over that no store has confirmed yet, and the lease kept while that update
//! waits.
//!
//! The update (a rotated refresh token, provider secrets) goes into the slot the moment the
//! grant's answer is in hand, and leaves it only when a store confirms it, or when the record
//! rules say another holder's newer record replaces it. A store that fails, hangs, panics or is
//! cancelled therefore loses nothing: the next store carries the update.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use super::lock;
use super::rules::Relation;
use crate::{AccessToken, CredentialRecord, Lease, Storage};

/// The storage, the key of our record, and what this process holds for it.
pub(super) struct StorageSlot {
    pub(super) storage: Arc<dyn Storage>,
    pub(super) key: String,
    /// The record as last loaded or stored; `None` until known. New tokens are merged into it,
    /// so a store never drops the provider's fields or the refresh token.
    record: Mutex<Option<Remembered>>,
    pending: Mutex<Pending>,
    /// The lease, kept between refreshes while a rotation is pending: another process that
    /// took it would load the record without our rotation and present a rotated-away token.
    kept_lease: Mutex<Option<Lease>>,
    /// A task stores the pending rotation again in the background (see `Refresher::flush`).
    flushing: AtomicBool,
}

/// The record as last loaded or stored, kept compact between refreshes: its JSON form takes a
/// few hundred bytes where the parsed record's maps take several times that, and a process
/// may hold many (one per user). It is parsed again when a store or a judgement needs it, once
/// per refresh.
enum Remembered {
    Json(Zeroizing<Box<[u8]>>),
    /// A record whose JSON form cannot be written (a date RFC 3339 cannot express: an offset
    /// with seconds, a year before 0), as it is.
    Record(Box<CredentialRecord>),
}

impl Remembered {
    fn new(record: CredentialRecord) -> Self {
        match record.to_json() {
            // An exact-size copy: the buffer written is zeroized when it drops here.
            Ok(json) => Self::Json(Zeroizing::new(Box::from(json.as_slice()))),
            Err(_) => Self::Record(Box::new(record)),
        }
    }

    /// The record again; `None` only if its own JSON does not parse, which `to_json` and
    /// `from_json` rule out (the caller then loads it from the storage).
    fn record(&self) -> Option<CredentialRecord> {
        match self {
            Self::Json(json) => CredentialRecord::from_json(json).ok(),
            Self::Record(record) => Some(CredentialRecord::clone(record)),
        }
    }
}

/// The update waiting for a store, with what it replaced.
#[derive(Default)]
struct Pending {
    update: RecordUpdate,
    /// The refresh token the record held when the pending rotation was issued.
    replaces: Option<SecretString>,
    /// Counts changes, so a store confirms only what it carried.
    generation: u64,
}

/// What a fetched token asks to be stored besides itself: a rotated refresh token, and the
/// provider's secrets (see [`AccessToken::with_provider_secret`]).
#[derive(Clone, Default)]
pub(super) struct RecordUpdate {
    refresh_token: Option<SecretString>,
    provider_secrets: Vec<(String, SecretString)>,
}

impl RecordUpdate {
    /// Takes what `token` carries for storage off it: the one place the cache reads it.
    pub(super) fn take_from(token: &mut AccessToken) -> Self {
        Self {
            refresh_token: token.take_rotated_refresh_token(),
            provider_secrets: token.take_provider_secrets(),
        }
    }

    pub(super) fn rotates(&self) -> bool {
        self.refresh_token.is_some()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.refresh_token.is_none() && self.provider_secrets.is_empty()
    }

    /// `record` with this update written in (later secrets of one name over earlier ones).
    pub(super) fn apply(&self, mut record: CredentialRecord) -> CredentialRecord {
        if let Some(refresh_token) = &self.refresh_token {
            record = record.with_refresh_token(refresh_token.clone());
        }
        for (name, secret) in &self.provider_secrets {
            record = record.with_provider_secret(name.clone(), secret.clone());
        }
        record
    }
}

/// Whether two optional secrets are equal.
pub(super) fn same(a: Option<&SecretString>, b: Option<&SecretString>) -> bool {
    a.map(ExposeSecret::expose_secret) == b.map(ExposeSecret::expose_secret)
}

impl StorageSlot {
    pub(super) fn new(storage: Arc<dyn Storage>, key: String) -> Self {
        Self {
            storage,
            key,
            record: Mutex::new(None),
            pending: Mutex::new(Pending::default()),
            kept_lease: Mutex::new(None),
            flushing: AtomicBool::new(false),
        }
    }

    /// The record as last loaded or stored.
    pub(super) fn record(&self) -> Option<CredentialRecord> {
        lock(&self.record).as_ref().and_then(Remembered::record)
    }

    /// The refresh token of the record as last loaded or stored.
    fn known_refresh_token(&self) -> Option<SecretString> {
        self.record()
            .and_then(|record| record.refresh_token().cloned())
    }

    /// Remembers `record` as the one the storage holds; returns its access token, if any.
    pub(super) fn remember(&self, record: CredentialRecord) -> Option<AccessToken> {
        let token = record.access_token();
        let remembered = Remembered::new(record);
        *lock(&self.record) = Some(remembered);
        token
    }

    /// Takes in what a grant's answer carries for storage, on top of anything still pending.
    pub(super) fn hold(&self, update: RecordUpdate) {
        if update.is_empty() {
            return;
        }
        let known = self.known_refresh_token();
        let mut pending = lock(&self.pending);
        if update.refresh_token.is_some() && pending.update.refresh_token.is_none() {
            // The first rotation since the last confirmed store replaces the known record's.
            pending.replaces = known;
        }
        if update.refresh_token.is_some() {
            pending.update.refresh_token = update.refresh_token;
        }
        pending
            .update
            .provider_secrets
            .extend(update.provider_secrets);
        pending.generation = pending.generation.wrapping_add(1);
    }

    /// What is pending now, and its generation for [`confirm`](Self::confirm).
    pub(super) fn pending(&self) -> (RecordUpdate, u64) {
        let pending = lock(&self.pending);
        (pending.update.clone(), pending.generation)
    }

    /// A store carrying generation `generation` of the pending update succeeded: clears it,
    /// unless something newer arrived meanwhile (that is kept for the next store).
    pub(super) fn confirm(&self, generation: u64) {
        let mut pending = lock(&self.pending);
        if pending.generation == generation {
            *pending = Pending {
                generation,
                ..Pending::default()
            };
        }
    }

    /// Whether a rotated refresh token waits for a store.
    pub(super) fn rotation_pending(&self) -> bool {
        lock(&self.pending).update.refresh_token.is_some()
    }

    /// Forgets the pending rotation: the record holds it (`stored`), or another holder's newer
    /// record replaced it.
    pub(super) fn settle_rotation(&self) {
        let mut pending = lock(&self.pending);
        pending.update.refresh_token = None;
        pending.replaces = None;
        pending.generation = pending.generation.wrapping_add(1);
    }

    /// How `record`'s refresh token relates to ours (see [`Relation`]).
    pub(super) fn relation(&self, record: &CredentialRecord) -> Relation {
        let stored = record.refresh_token();
        let pending = lock(&self.pending);
        if let Some(ours) = &pending.update.refresh_token {
            if same(stored, Some(ours)) {
                Relation::Same
            } else if stored.is_none() || same(stored, pending.replaces.as_ref()) {
                Relation::Behind
            } else {
                Relation::Moved
            }
        } else {
            let ours = self.known_refresh_token();
            if same(stored, ours.as_ref()) {
                Relation::Same
            } else {
                Relation::Moved
            }
        }
    }

    /// Keeps `lease` until a later refresh takes it back.
    pub(super) fn keep_lease(&self, lease: Lease) {
        let previous = lock(&self.kept_lease).replace(lease);
        drop(previous);
    }

    /// The lease kept by an earlier refresh, if any.
    pub(super) fn kept_lease(&self) -> Option<Lease> {
        lock(&self.kept_lease).take()
    }

    /// Whether a rotation waits for a store with the lease kept for it.
    pub(super) fn unstored(&self) -> bool {
        self.rotation_pending() && lock(&self.kept_lease).is_some()
    }

    /// Claims the background store of the pending rotation: true for the one caller that
    /// starts it, until [`flushed`](Self::flushed).
    pub(super) fn start_flushing(&self) -> bool {
        !self.flushing.swap(true, Ordering::AcqRel)
    }

    /// The background store is over (stored, given up, or its task dropped).
    pub(super) fn flushed(&self) {
        self.flushing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStorage;

    fn rotation(to: &str) -> RecordUpdate {
        RecordUpdate {
            refresh_token: Some(SecretString::from(to)),
            provider_secrets: Vec::new(),
        }
    }

    fn record(expiry: time::OffsetDateTime) -> CredentialRecord {
        let mut fields = serde_json::Map::new();
        fields.insert("client_id".into(), "123".into());
        fields.insert("nested".into(), serde_json::json!({"a": [1, 2.5, null]}));
        CredentialRecord::new()
            .with_access_token(
                &AccessToken::new("ya29.cached")
                    .with_expiry(expiry)
                    .with_granted_scopes(["s1"]),
            )
            .with_refresh_token(SecretString::from("1//rt"))
            .with_provider_fields(fields)
            .with_provider_secret("rapt_token", SecretString::from("rapt"))
    }

    fn json(record: &CredentialRecord) -> Vec<u8> {
        record.to_json().unwrap().to_vec()
    }

    #[test]
    fn a_remembered_record_comes_back_whole_from_its_compact_form() {
        let slot = StorageSlot::new(Arc::new(MemoryStorage::new()), "key".to_owned());
        assert!(slot.record().is_none());
        let original = record(time::macros::datetime!(2026-01-01 12:00:00.123456789 UTC));
        let token = slot.remember(original.clone());
        assert_eq!(token.unwrap().secret().expose_secret(), "ya29.cached");
        assert!(matches!(*lock(&slot.record), Some(Remembered::Json(_))));
        let back = slot.record().unwrap();
        assert_eq!(json(&back), json(&original));
        assert_eq!(
            back.access_token().unwrap().expiry(),
            original.access_token().unwrap().expiry()
        );
        assert_eq!(slot.known_refresh_token().unwrap().expose_secret(), "1//rt");
        assert_eq!(slot.relation(&original), Relation::Same);
        assert_eq!(
            slot.relation(&CredentialRecord::new().with_refresh_token(SecretString::from("other"))),
            Relation::Moved
        );
    }

    #[test]
    fn a_record_without_a_json_form_is_remembered_as_it_is() {
        // RFC 3339 has no offsets with seconds: this record's JSON cannot be written.
        let odd = record(time::macros::datetime!(2026-01-01 12:00 +01:00:30));
        assert!(odd.to_json().is_err());
        let slot = StorageSlot::new(Arc::new(MemoryStorage::new()), "key".to_owned());
        slot.remember(odd.clone());
        assert!(matches!(*lock(&slot.record), Some(Remembered::Record(_))));
        let back = slot.record().unwrap();
        assert_eq!(
            back.access_token().unwrap().expiry(),
            odd.access_token().unwrap().expiry()
        );
        assert_eq!(back.refresh_token().unwrap().expose_secret(), "1//rt");
        assert_eq!(back.provider_fields(), odd.provider_fields());
        assert_eq!(
            back.provider_secret("rapt_token").unwrap().expose_secret(),
            "rapt"
        );
    }

    #[test]
    fn a_rotation_replaces_the_remembered_refresh_token() {
        let slot = StorageSlot::new(Arc::new(MemoryStorage::new()), "key".to_owned());
        slot.remember(record(time::macros::datetime!(2026-01-01 12:00 UTC)));
        slot.hold(rotation("rt-2"));
        let before = CredentialRecord::new().with_refresh_token(SecretString::from("1//rt"));
        assert_eq!(
            slot.relation(&before),
            Relation::Behind,
            "the record still holds what rt-2 replaced"
        );
        let after = CredentialRecord::new().with_refresh_token(SecretString::from("rt-2"));
        assert_eq!(slot.relation(&after), Relation::Same);
    }

    #[test]
    fn a_late_confirmation_never_clears_a_newer_update() {
        let slot = StorageSlot::new(Arc::new(MemoryStorage::new()), "key".to_owned());
        slot.hold(rotation("rt-1"));
        let (_, first) = slot.pending();
        slot.confirm(first);
        assert!(!slot.rotation_pending(), "the first store confirmed it");
        slot.hold(rotation("rt-2"));
        // The first store's confirmation arrives again (a store that landed twice, say).
        slot.confirm(first);
        assert!(
            slot.rotation_pending(),
            "rt-2 still waits for its own store"
        );
        let (_, second) = slot.pending();
        slot.confirm(second);
        assert!(!slot.rotation_pending());
    }
}
