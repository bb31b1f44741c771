//! Quickstart: Application Default Credentials to headers on a request.
//!
//! ```text
//! gcloud auth application-default login      # once, or set GOOGLE_APPLICATION_CREDENTIALS
//! cargo run -p credkit-examples --example quickstart
//! ```
//!
//! It finds your credentials, puts `authorization` (and `x-goog-user-project`, with a quota
//! project) on a request to Google's userinfo endpoint, sends it, and prints the status and the
//! e-mail address it answers with. It needs real credentials: without them it prints
//! `error: Your default credentials were not found. ...` and exits 1.

use std::error::Error;
use std::process::ExitCode;

use credkit_core::Credentials;
use credkit_core::http::{self, header::AUTHORIZATION};
use credkit_reqwest::reqwest;

/// Who the credentials belong to (needs the `openid` and `email` scopes, which
/// `gcloud auth application-default login` grants).
const USERINFO: &str = "https://www.googleapis.com/oauth2/v3/userinfo";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    // 1. Find the credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud's
    //    application_default_credentials.json, then the gcloud CLI. Keep them for the life of
    //    the program: they cache the token and refresh it ahead of expiry, in the background on
    //    this runtime, so no request waits on the token endpoint once the first token is in.
    let credentials = credkit::default_credentials().await?;

    // 2. Before each request, let them add the headers (a fetch the first time, then cached).
    let mut request = http::Request::get(USERINFO).body(Vec::new())?;
    authorize(&credentials, &mut request).await?;
    println!("GET {USERINFO}");
    for name in request.headers().keys() {
        let shown = if name == AUTHORIZATION {
            "Bearer <hidden>"
        } else {
            request.headers()[name].to_str().unwrap_or("<not text>")
        };
        println!("{name}: {shown}");
    }

    // 3. Send it with the HTTP client of your choice; here, reqwest.
    let response = reqwest::Client::builder()
        .build()?
        .execute(reqwest::Request::try_from(request)?)
        .await?;
    let status = response.status();
    let body: serde_json::Value = serde_json::from_str(&response.text().await?).unwrap_or_default();
    println!("-> {status}");
    if let Some(email) = body.get("email").and_then(|e| e.as_str()) {
        println!("signed in as {email}");
    }
    Ok(())
}

/// Puts the credentials on `request`: what an application does before every call.
async fn authorize<B>(
    credentials: &Credentials,
    request: &mut http::Request<B>,
) -> credkit_core::Result<()> {
    credentials.before_request(request.headers_mut()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use credkit_core::{AccessToken, StaticSource};

    /// The part after discovery, which needs no credentials of the machine.
    #[tokio::test]
    async fn authorize_puts_the_headers_on_the_request() {
        let credentials = Credentials::builder(StaticSource::new(AccessToken::new("ya29.t")))
            .with_quota_project("my-project")
            .build()
            .unwrap();
        let mut request = http::Request::get(USERINFO).body(Vec::new()).unwrap();
        authorize(&credentials, &mut request).await.unwrap();
        assert_eq!(request.headers()[AUTHORIZATION], "Bearer ya29.t");
        assert_eq!(request.headers()["x-goog-user-project"], "my-project");
        let converted = reqwest::Request::try_from(request).unwrap();
        assert_eq!(converted.headers()[AUTHORIZATION], "Bearer ya29.t");
    }
}
