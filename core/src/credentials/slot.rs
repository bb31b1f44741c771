//! What this process knows of its storage: the record as last loaded or stored, the update a
//! fetch handed over that no store has confirmed yet, and the lease kept while that update
//! waits.
//!
//! The update (a rotated refresh token, provider secrets) goes into the slot the moment the
//! grant's answer is in hand, and leaves it only when a store confirms it, or when the record
//! rules say another holder's newer record replaces it. A store that fails, hangs, panics or is
//! cancelled therefore loses nothing: the next store carries the update.

use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};

use super::lock;
use super::rules::Relation;
use crate::{AccessToken, CredentialRecord, Lease, Storage};

/// The storage, the key of our record, and what this process holds for it.
pub(super) struct StorageSlot {
    pub(super) storage: Arc<dyn Storage>,
    pub(super) key: String,
    /// The record as last loaded or stored; `None` until known. New tokens are merged into it,
    /// so a store never drops the provider's fields or the refresh token.
    record: Mutex<Option<CredentialRecord>>,
    pending: Mutex<Pending>,
    /// The lease, kept between refreshes while a rotation is pending: another process that
    /// took it would load the record without our rotation and present a rotated-away token.
    kept_lease: Mutex<Option<Lease>>,
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
        }
    }

    /// The record as last loaded or stored.
    pub(super) fn record(&self) -> Option<CredentialRecord> {
        lock(&self.record).clone()
    }

    /// Remembers `record` as the one the storage holds; returns its access token, if any.
    pub(super) fn remember(&self, record: CredentialRecord) -> Option<AccessToken> {
        let token = record.access_token();
        *lock(&self.record) = Some(record);
        token
    }

    /// Takes in what a grant's answer carries for storage, on top of anything still pending.
    pub(super) fn hold(&self, update: RecordUpdate) {
        if update.is_empty() {
            return;
        }
        let known = lock(&self.record)
            .as_ref()
            .and_then(|record| record.refresh_token().cloned());
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
            let known = lock(&self.record);
            let ours = known.as_ref().and_then(CredentialRecord::refresh_token);
            if same(stored, ours) {
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
