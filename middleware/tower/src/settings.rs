//! What the layer and every service it builds share: the authorizer and the replay policy.

use credkit_core::authorize::Authorizer;

/// Shared by an [`AuthLayer`](crate::AuthLayer) and its services behind one `Arc`, so a clone
/// of either costs one reference count.
#[derive(Clone, Debug)]
pub(crate) struct Settings<R> {
    pub(crate) authorizer: Authorizer,
    pub(crate) replay: R,
}

impl<R> Settings<R> {
    pub(crate) fn new(authorizer: Authorizer, replay: R) -> Self {
        Self { authorizer, replay }
    }

    pub(crate) fn with_replay<R2>(self, replay: R2) -> Settings<R2> {
        Settings {
            authorizer: self.authorizer,
            replay,
        }
    }
}
