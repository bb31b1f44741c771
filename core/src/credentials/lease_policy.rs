//! `LeasePolicy`: what a refresh does when the storage's cross-process lease cannot be had.

/// What a refresh does without the storage's lease: wait no longer and fail, or refresh on this
/// process's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WithoutLease {
    /// Fail the refresh with the storage's error; the next call tries again. For refresh tokens
    /// that rotate, where a refresh without the lease races the other processes for the grant.
    Fail,
    /// Refresh on this process's own and keep serving, reporting it with a
    /// [`RefreshEvent::LeaseUnavailable`](crate::RefreshEvent::LeaseUnavailable).
    RefreshLocally,
}

/// What a refresh does when the storage's cross-process lease (see
/// [`Storage::lease`](crate::Storage::lease)) cannot be had, for each of the two reasons: another
/// process held it past the refresh's wait ([`on_timeout`](Self::on_timeout)), or the storage
/// failed while it was being taken ([`on_storage_error`](Self::on_storage_error)).
///
/// Set with [`CredentialsBuilder::with_lease_policy`](crate::CredentialsBuilder::with_lease_policy).
///
/// # Examples
///
/// ```
/// use credkit_core::{LeasePolicy, WithoutLease};
///
/// // The default: a busy lease fails the refresh (the holder is refreshing), an unreachable
/// // store does not stop this process.
/// let policy = LeasePolicy::default();
/// assert_eq!(policy.on_timeout(), WithoutLease::Fail);
/// assert_eq!(policy.on_storage_error(), WithoutLease::RefreshLocally);
///
/// // For refresh tokens that rotate: never refresh without the lease.
/// assert_eq!(LeasePolicy::strict().on_storage_error(), WithoutLease::Fail);
///
/// let policy = LeasePolicy::default().with_on_timeout(WithoutLease::RefreshLocally);
/// assert_eq!(policy, LeasePolicy::available());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeasePolicy {
    on_timeout: WithoutLease,
    on_storage_error: WithoutLease,
}

impl Default for LeasePolicy {
    /// A busy lease fails the refresh with the storage's transient
    /// [`Timeout`](crate::ErrorKind::Timeout) (its holder is refreshing, and the next call finds
    /// its token); a failing store does not stop this process from refreshing.
    fn default() -> Self {
        Self {
            on_timeout: WithoutLease::Fail,
            on_storage_error: WithoutLease::RefreshLocally,
        }
    }
}

impl LeasePolicy {
    /// Never refresh without the lease: both reasons fail the refresh. For refresh tokens that
    /// rotate, where a refresh without the lease would race the other processes.
    pub fn strict() -> Self {
        Self {
            on_timeout: WithoutLease::Fail,
            on_storage_error: WithoutLease::Fail,
        }
    }

    /// Always refresh, with the lease or without: both reasons refresh locally. For tokens
    /// that do not rotate, where availability beats one request per expiry.
    pub fn available() -> Self {
        Self {
            on_timeout: WithoutLease::RefreshLocally,
            on_storage_error: WithoutLease::RefreshLocally,
        }
    }

    /// The same policy, doing `then` when another process holds the lease past the wait.
    #[must_use]
    pub fn with_on_timeout(mut self, then: WithoutLease) -> Self {
        self.on_timeout = then;
        self
    }

    /// The same policy, doing `then` when the storage fails while the lease is taken.
    #[must_use]
    pub fn with_on_storage_error(mut self, then: WithoutLease) -> Self {
        self.on_storage_error = then;
        self
    }

    /// What a refresh does when another process holds the lease past the wait.
    pub fn on_timeout(&self) -> WithoutLease {
        self.on_timeout
    }

    /// What a refresh does when the storage fails while the lease is taken.
    pub fn on_storage_error(&self) -> WithoutLease {
        self.on_storage_error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_setter_changes_its_own_reason_only() {
        let policy = LeasePolicy::default().with_on_timeout(WithoutLease::RefreshLocally);
        assert_eq!(policy.on_timeout(), WithoutLease::RefreshLocally);
        assert_eq!(policy.on_storage_error(), WithoutLease::RefreshLocally);
        let policy = LeasePolicy::default().with_on_storage_error(WithoutLease::Fail);
        assert_eq!(policy.on_timeout(), WithoutLease::Fail);
        assert_eq!(policy.on_storage_error(), WithoutLease::Fail);
        assert_eq!(policy, LeasePolicy::strict());
        let policy = LeasePolicy::strict().with_on_timeout(WithoutLease::RefreshLocally);
        assert_eq!(policy.on_timeout(), WithoutLease::RefreshLocally);
        assert_eq!(policy.on_storage_error(), WithoutLease::Fail);
    }
}
