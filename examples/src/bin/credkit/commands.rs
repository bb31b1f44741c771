//! `token`, `header` and `info`. Each awaits its refresh inside `interactive`: the user is at
//! the terminal, so reauthentication (with `--enable-reauth`) may ask for a password.

use std::fmt::Write as _;

use credkit::external_account::ExternalAccountCredentials;
use credkit_core::http::header::AUTHORIZATION;
use credkit_core::http::{HeaderMap, HeaderName};
use credkit_core::interactive::interactive;
use secrecy::ExposeSecret;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::cli::{InfoArgs, SourceArgs, TokenArgs};
use crate::failure::Failure;
use crate::output;
use crate::source::{self, Loaded, Origin};
use crate::token_file;

/// The quota-project header.
const USER_PROJECT: &str = "x-goog-user-project";

/// `credkit token`: the access token and a newline. A cached token still fresh (from the file)
/// is printed as it is; otherwise one is fetched. With `--id-token`, an ID token for the
/// audience, fetched (not cached).
pub(crate) async fn token(args: &TokenArgs) -> Result<(), Failure> {
    let loaded = source::load(&args.source).await?;
    if let (true, Some(audience)) = (args.id_token, &args.audience) {
        let source = loaded
            .origin
            .id_token_source(audience, loaded.email.as_deref())?;
        let mut builder = credkit_core::Credentials::builder(source);
        if args.source.no_retry {
            builder = builder.without_retries();
        }
        let id_tokens = builder.build()?;
        if let Some(path) = &args.output_file {
            return token_file::run(&id_tokens, path, args.keep_fresh).await;
        }
        let token = interactive(id_tokens.access_token()).await?;
        return output::print(&format!("{}\n", token.secret().expose_secret()));
    }
    if let Some(path) = &args.output_file {
        token_file::run(&loaded.credentials, path, args.keep_fresh).await?;
        // A file kept fresh runs until a signal: the warning is for a one-off write.
        if !args.keep_fresh {
            warn_on_scope_shortfall(&loaded);
        }
        return Ok(());
    }
    let token = interactive(loaded.credentials.access_token()).await?;
    warn_on_scope_shortfall(&loaded);
    output::print(&format!("{}\n", token.secret().expose_secret()))
}

/// `credkit header`: the request headers, one `name: value` a line, authorization first.
pub(crate) async fn header(args: &SourceArgs) -> Result<(), Failure> {
    let loaded = source::load(args).await?;
    let headers = interactive(loaded.credentials.headers()).await?;
    warn_on_scope_shortfall(&loaded);
    output::print(&render_headers(&headers)?)
}

/// `credkit info`: the non-secret facts as one JSON document, after a refresh unless
/// `--no-refresh`.
pub(crate) async fn info(args: &InfoArgs) -> Result<(), Failure> {
    let loaded = source::load(&args.source).await?;
    if !args.no_refresh {
        if loaded.cache.is_some() {
            // The cached token while it is fresh: that is what `token` would print.
            interactive(loaded.credentials.access_token()).await?;
        } else {
            interactive(loaded.credentials.refresh()).await?;
        }
        warn_on_scope_shortfall(&loaded);
    }
    let mut info = Info::of(&loaded);
    info.email = loaded
        .origin
        .email()
        .await?
        .or_else(|| loaded.email.clone());
    info.project_id = project_id().await;
    let json = serde_json::to_string_pretty(&info)
        .map_err(|err| Failure::new(format!("could not write the JSON document: {err}")))?;
    output::print(&format!("{json}\n"))
}

/// `authorization` first, then `x-goog-user-project`, then anything else by name.
fn render_headers(headers: &HeaderMap) -> Result<String, Failure> {
    let mut names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
    let rank = |name: &str| match name {
        "authorization" => 0,
        USER_PROJECT => 1,
        _ => 2,
    };
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    let mut text = String::new();
    for name in names {
        for value in headers.get_all(name) {
            let value = value
                .to_str()
                .map_err(|_| Failure::new(format!("the {name} header is not printable text")))?;
            // Writing to a String cannot fail.
            let _ = writeln!(text, "{name}: {value}");
        }
    }
    if !headers.contains_key(AUTHORIZATION) {
        return Err(Failure::new("the credentials gave no authorization header"));
    }
    Ok(text)
}

/// The warning the reference logs when the server granted fewer scopes than requested, on
/// standard error. Not an error: the token works for what was granted.
pub(crate) fn warn_on_scope_shortfall(loaded: &Loaded) {
    let missing = loaded.origin.missing_scopes();
    if !missing.is_empty() {
        output::warn(&format!(
            "Not all requested scopes were granted by the authorization server, missing scopes {}.",
            missing.join(", ")
        ));
    }
}

/// The project ID as Application Default Credentials find it; `None` when no place knows one
/// or a place failed (the rest of `info` still stands).
pub(crate) async fn project_id() -> Option<String> {
    match credkit::Adc::new().project_id().await {
        Ok(project) => Some(project),
        Err(err) => {
            if !err.is_not_configured() {
                output::warn(&format!("no project ID: {err}"));
            }
            None
        }
    }
}

/// What `info` prints. Never a secret: no token, refresh token, ID token or client secret.
#[derive(Debug, Serialize)]
struct Info {
    /// The credential type: `authorized_user`, `gcloud`, or the type discovery found.
    #[serde(rename = "type")]
    kind: String,
    /// The account's e-mail address, when known.
    email: Option<String>,
    /// The project ID, as Application Default Credentials find it.
    project_id: Option<String>,
    /// The OAuth client ID (`authorized_user` only).
    client_id: Option<String>,
    /// The account: gcloud's `--account`, or the file's `account`.
    account: Option<String>,
    /// The scopes requested on refresh.
    scopes: Option<Vec<String>>,
    /// The scopes the server granted, as of the last refresh that reported them.
    granted_scopes: Option<Vec<String>>,
    /// The project sent as `x-goog-user-project`.
    quota_project: Option<String>,
    /// The token endpoint (`authorized_user` only).
    token_uri: Option<String>,
    /// Where the credentials came from: a file's path, or the gcloud program.
    source: Option<String>,
    /// An external account's STS audience (`external_account` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    audience: Option<String>,
    /// What supplies an external account's subject token: `file`, `url`, `executable`, `aws`
    /// (`external_account` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_token_source: Option<String>,
    /// When the cached token expires, RFC 3339 in UTC, to the second.
    expiry: Option<String>,
    /// `fresh`, `stale` or `invalid`.
    token_state: &'static str,
    /// Where the token cache is (a directory or a Redis URL); `None` when the cache is off.
    cache: Option<String>,
    /// Whether this run's token came from the cache; `None` when a cache is on but no token
    /// was obtained in this run (one fresh in the credentials file, say).
    token_from_cache: Option<bool>,
}

impl Info {
    fn of(loaded: &Loaded) -> Self {
        let credentials = &loaded.credentials;
        let token = credentials.token();
        let token_scopes = token
            .as_deref()
            .and_then(|t| t.granted_scopes())
            .map(<[String]>::to_vec);
        let common = |kind: &str| Self {
            kind: kind.to_owned(),
            email: None,
            project_id: None,
            client_id: None,
            account: None,
            scopes: None,
            granted_scopes: token_scopes.clone(),
            quota_project: credentials.quota_project().map(str::to_owned),
            token_uri: None,
            source: None,
            audience: None,
            subject_token_source: None,
            expiry: credentials.expiry().and_then(rfc3339),
            token_state: credentials.token_state().as_str(),
            cache: loaded.cache.clone(),
            // Without a cache, no token came from one.
            token_from_cache: if loaded.cache.is_some() {
                loaded.outcome.came_from_cache()
            } else {
                Some(false)
            },
        };
        match &loaded.origin {
            Origin::User(user) => Self {
                client_id: user.client_id().map(str::to_owned),
                account: Some(user.account().to_owned()).filter(|a| !a.is_empty()),
                scopes: Some(user.requested_scopes().to_vec()).filter(|s| !s.is_empty()),
                granted_scopes: user.granted_scopes().or(token_scopes.clone()),
                token_uri: user.token_uri().map(str::to_owned),
                source: user.credential_source().map(str::to_owned),
                ..common(loaded.origin.kind())
            },
            Origin::Gcloud(gcloud) => Self {
                account: gcloud.account().map(str::to_owned),
                source: Some(format!("gcloud CLI ({})", gcloud.program().display())),
                ..common(loaded.origin.kind())
            },
            Origin::Other(found) => {
                let external = found
                    .credential()
                    .as_any()
                    .and_then(|any| any.downcast_ref::<ExternalAccountCredentials>());
                match external {
                    Some(external) => Self {
                        source: Some(found.origin().to_owned()),
                        account: external.service_account_email().map(str::to_owned),
                        scopes: Some(external.scopes().to_vec()),
                        token_uri: Some(external.token_url().to_owned()),
                        audience: Some(external.audience().to_owned()),
                        subject_token_source: Some(external.source_kind().to_owned()),
                        ..common(loaded.origin.kind())
                    },
                    None => Self {
                        source: Some(found.origin().to_owned()),
                        ..common(loaded.origin.kind())
                    },
                }
            }
            Origin::Impersonated(impersonated) => Self {
                account: Some(impersonated.target_principal().to_owned()),
                scopes: Some(impersonated.scopes().to_vec()),
                source: Some(format!(
                    "{} impersonated with {} credentials",
                    impersonated.target_principal(),
                    impersonated.source().source_name()
                )),
                ..common(loaded.origin.kind())
            },
        }
    }
}

/// `time` in RFC 3339, in UTC, without fractions of a second.
pub(crate) fn rfc3339(time: OffsetDateTime) -> Option<String> {
    let time = time.to_offset(UtcOffset::UTC).replace_nanosecond(0).ok()?;
    time.format(&Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use credkit_core::http::HeaderValue;
    use time::macros::datetime;

    #[test]
    fn headers_in_a_fixed_order() {
        let mut headers = HeaderMap::new();
        headers.insert("x-other", HeaderValue::from_static("1"));
        headers.insert(USER_PROJECT, HeaderValue::from_static("billing"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        assert_eq!(
            render_headers(&headers).unwrap(),
            "authorization: Bearer t\nx-goog-user-project: billing\nx-other: 1\n"
        );
    }

    #[test]
    fn expiry_is_rfc3339_in_utc_to_the_second() {
        let at = datetime!(2026-01-02 03:04:05.678 +01:00);
        assert_eq!(rfc3339(at).unwrap(), "2026-01-02T02:04:05Z");
    }
}
