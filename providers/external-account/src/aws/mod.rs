//! AWS-sourced subject tokens (the reference's `aws` module).

use std::sync::Arc;

use credkit_core::BuildError;
use serde_json::{Map, Value};

use crate::info::SourceContext;
use crate::supplier::SubjectTokenSupplier;

/// Parses an AWS `credential_source`.
pub(crate) fn from_credential_source(
    _source: &Map<String, Value>,
    _context: &SourceContext<'_>,
) -> Result<Arc<dyn SubjectTokenSupplier>, BuildError> {
    Err(BuildError::invalid_value(
        "AWS-sourced credentials are not supported by this build",
    ))
}
