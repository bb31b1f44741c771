//! The places ADC looks after the credentials files: the gcloud CLI (feature `gcloud`), then
//! the metadata server behind its probe.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::Result;

use super::registry::{AdcCredential, LoadContext};

/// A place ADC looks after the credentials files, in the order they are registered.
///
/// Discovery asks each in turn for its [`credential`](Self::credential); an error for which
/// [`Error::is_not_configured`](credkit_core::Error::is_not_configured) holds passes the turn
/// and appears in the "Looked at" list as `<place> (<its message>)`; any other error stops
/// discovery with it. Project ID discovery asks each for its
/// [`project_id`](Self::project_id) after the environment, the credentials file and gcloud's
/// configuration.
#[async_trait]
pub trait AdcFallback: Send + Sync + fmt::Debug {
    /// How the "Looked at" list names this place: `the gcloud CLI`, `the metadata server`.
    fn place(&self) -> &str;

    /// The credential this place offers.
    ///
    /// # Errors
    ///
    /// Not configured, with a short reason (`gcloud not found on PATH`), when there is none
    /// here; any other error when the place is there but failed.
    async fn credential(&self, context: &LoadContext) -> Result<Box<dyn AdcCredential>>;

    /// The project this place knows, if any; default: none.
    ///
    /// # Errors
    ///
    /// Not configured when the place is not there; any other error when it failed.
    async fn project_id(&self, context: &LoadContext) -> Result<Option<String>> {
        let _ = context;
        Ok(None)
    }
}

/// The fallbacks ADC uses without registration, in order. Adding one is one line here (and
/// its type in its module): the metadata server goes last.
pub(crate) fn builtin() -> Vec<Arc<dyn AdcFallback>> {
    vec![
        #[cfg(feature = "gcloud")]
        Arc::new(crate::gcloud_adc::GcloudFallback),
        #[cfg(feature = "metadata")]
        Arc::new(crate::metadata_adc::MetadataFallback),
    ]
}
