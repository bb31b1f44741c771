//! What the built-in supplier reads from the environment, with the reference's precedence and
//! its tests of presence: a region is taken when the variable is set (even empty), credentials
//! only when both the key ID and the secret are set and not empty.

use secrecy::SecretString;

use crate::supplier::{AwsSecurityCredentials, SupplierContext};

/// The region of AWS Lambda and of the AWS SDKs, read first.
pub(crate) const AWS_REGION: &str = "AWS_REGION";
/// The region read when `AWS_REGION` is not set.
pub(crate) const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
/// The access key ID.
pub(crate) const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// The secret access key.
pub(crate) const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
/// The session token of temporary credentials.
pub(crate) const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";

/// `AWS_REGION`, else `AWS_DEFAULT_REGION`: the reference's `is not None`, so a variable set
/// to the empty string is taken (and then refused as a region name).
pub(crate) fn region(context: &SupplierContext) -> Option<String> {
    context
        .env(AWS_REGION)
        .or_else(|| context.env(AWS_DEFAULT_REGION))
}

/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` when both are set and not empty, with
/// `AWS_SESSION_TOKEN` when it is set (the reference's `is not None` again: even empty).
pub(crate) fn credentials(context: &SupplierContext) -> Option<AwsSecurityCredentials> {
    let access_key_id = context.env(AWS_ACCESS_KEY_ID).filter(|v| !v.is_empty())?;
    let secret = context
        .env(AWS_SECRET_ACCESS_KEY)
        .filter(|v| !v.is_empty())
        .map(SecretString::from)?;
    let credentials = AwsSecurityCredentials::new(access_key_id, secret);
    Some(match context.env(AWS_SESSION_TOKEN) {
        Some(token) => credentials.with_session_token(SecretString::from(token)),
        None => credentials,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use secrecy::ExposeSecret as _;

    use super::*;

    fn context(vars: &[(&str, &str)]) -> SupplierContext {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        SupplierContext::new(crate::AWS_SUBJECT_TOKEN_TYPE, "aud")
            .with_env_lookup(Arc::new(move |name| vars.get(name).cloned()))
    }

    #[test]
    fn the_region_is_aws_region_then_aws_default_region() {
        assert_eq!(region(&context(&[])), None);
        assert_eq!(
            region(&context(&[(AWS_DEFAULT_REGION, "eu-west-1")])).as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region(&context(&[
                (AWS_REGION, "us-east-2"),
                (AWS_DEFAULT_REGION, "eu-west-1")
            ]))
            .as_deref(),
            Some("us-east-2")
        );
        // Set but empty still wins, as in the reference.
        assert_eq!(
            region(&context(&[
                (AWS_REGION, ""),
                (AWS_DEFAULT_REGION, "eu-west-1")
            ]))
            .as_deref(),
            Some("")
        );
    }

    #[test]
    fn credentials_need_both_the_key_and_the_secret() {
        assert!(credentials(&context(&[(AWS_ACCESS_KEY_ID, "AKID")])).is_none());
        assert!(credentials(&context(&[(AWS_SECRET_ACCESS_KEY, "s")])).is_none());
        assert!(
            credentials(&context(&[
                (AWS_ACCESS_KEY_ID, ""),
                (AWS_SECRET_ACCESS_KEY, "s")
            ]))
            .is_none()
        );
        let long_lived = credentials(&context(&[
            (AWS_ACCESS_KEY_ID, "AKID"),
            (AWS_SECRET_ACCESS_KEY, "s"),
        ]))
        .unwrap();
        assert_eq!(long_lived.access_key_id(), "AKID");
        assert!(long_lived.session_token().is_none());
        let temporary = credentials(&context(&[
            (AWS_ACCESS_KEY_ID, "AKID"),
            (AWS_SECRET_ACCESS_KEY, "s"),
            (AWS_SESSION_TOKEN, "tok"),
        ]))
        .unwrap();
        assert_eq!(temporary.session_token().unwrap().expose_secret(), "tok");
    }
}
