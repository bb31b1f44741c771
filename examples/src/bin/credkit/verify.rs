//! `credkit verify-id-token`: checks a Google-issued ID token and prints its claims.

use std::io::{self, BufRead as _};
use std::sync::Arc;

use credkit_verifier::IdTokenVerifier;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize as _;

use crate::cli::VerifyArgs;
use crate::failure::Failure;
use crate::lazy::LazyTransport;
use crate::output;

/// Verifies the token (the argument, or one line of standard input) and prints its claims as
/// one JSON document; a rejection is one `error:` line and exit status 1.
pub(crate) async fn run(args: &VerifyArgs) -> Result<(), Failure> {
    let token = read_token(args)?;
    let verifier = verifier(args)?;
    let claims = verifier
        .verify(token.expose_secret())
        .await
        .map_err(|err| Failure::new(format!("the ID token is not valid: {err}")))?;
    let json = serde_json::to_string_pretty(&claims)
        .map_err(|err| Failure::new(format!("could not write the JSON document: {err}")))?;
    output::print(&format!("{json}\n"))
}

/// The verifier the options describe: Google's (or IAP's) issuers and keys unless overridden,
/// keys from a file for offline use.
fn verifier(args: &VerifyArgs) -> Result<IdTokenVerifier, Failure> {
    // Google's issuers and keys with RS256 and ES256 (the keys decide which is used), or IAP's.
    let mut builder = if args.iap {
        IdTokenVerifier::iap()
    } else {
        IdTokenVerifier::builder()
    };
    builder = builder.with_audiences(args.audiences.iter().cloned());
    if !args.issuers.is_empty() {
        builder = builder.with_issuers(args.issuers.iter().cloned());
    }
    if let Some(skew) = args.clock_skew {
        builder = builder.with_clock_skew(skew);
    }
    if let Some(domain) = &args.hosted_domain {
        builder = builder.with_hosted_domain(domain.clone());
    }
    if args.require_email_verified {
        builder = builder.require_email_verified();
    }
    if let Some(path) = &args.keys_file {
        let text = std::fs::read_to_string(path).map_err(|err| {
            Failure::new(format!(
                "could not read the keys file {}: {err}",
                path.display()
            ))
        })?;
        // A JWK set or a `kid → PEM` map: the verifier tells them apart, as for a keys URL.
        builder = builder.with_jwk_set(text);
    } else {
        if let Some(url) = &args.keys_url {
            builder = builder.with_keys_url(url.clone());
        }
        builder = builder.with_transport(Arc::new(LazyTransport::new(args.timeout)));
    }
    Ok(builder.build()?)
}

/// The token from the argument, or from one line of standard input when it is `-` or absent.
fn read_token(args: &VerifyArgs) -> Result<SecretString, Failure> {
    if let Some(token) = args.token.as_deref().filter(|t| *t != "-") {
        return Ok(SecretString::from(token.trim()));
    }
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line).map_err(|err| {
        Failure::new(format!(
            "could not read the token from standard input: {err}"
        ))
    })?;
    let token = SecretString::from(line.trim());
    line.zeroize();
    if token.expose_secret().is_empty() {
        return Err(Failure::new(
            "no token: give it as the argument or on standard input",
        ));
    }
    Ok(token)
}
