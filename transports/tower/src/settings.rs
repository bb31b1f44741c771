//! What the layer and every service it builds share: the credentials and the rules.

use credkit_core::Credentials;
use credkit_core::endpoint::AttachPolicy;

/// Shared by an [`AuthLayer`](crate::AuthLayer) and its services behind one `Arc`, so a clone
/// of either costs one reference count.
#[derive(Clone, Debug)]
pub(crate) struct Settings<R> {
    pub(crate) credentials: Credentials,
    pub(crate) policy: AttachPolicy,
    pub(crate) replay: R,
}

impl<R> Settings<R> {
    pub(crate) fn new(credentials: Credentials, replay: R) -> Self {
        Self {
            credentials,
            policy: AttachPolicy::new(),
            replay,
        }
    }

    pub(crate) fn with_replay<R2>(self, replay: R2) -> Settings<R2> {
        Settings {
            credentials: self.credentials,
            policy: self.policy,
            replay,
        }
    }
}
