//! A programmatic subject-token supplier that always gives the same token, for the tests that
//! need a supplier and nothing more of it.
#![allow(dead_code, unreachable_pub)]

use async_trait::async_trait;
use credkit_core::Error;
use credkit_external_account::{SubjectTokenSupplier, SupplierContext};
use secrecy::SecretString;

/// Supplies its token, every time.
#[derive(Debug)]
pub struct Fixed(pub &'static str);

/// The token `Fixed` supplies where the test does not care which.
pub const SUBJECT: Fixed = Fixed("subject");

#[async_trait]
impl SubjectTokenSupplier for Fixed {
    async fn subject_token(&self, _: &SupplierContext) -> Result<SecretString, Error> {
        Ok(self.0.into())
    }
}
