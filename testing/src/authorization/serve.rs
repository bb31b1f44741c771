//! Serving the fake authorization server over HTTP/1.1: the routes, the checks, the queues.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use url::{Host, Url};

use super::{
    AuthorizationRequest, AuthorizeReply, Config, DevicePoll, FAKE_USER_CODE, FAKE_USER_EMAIL,
    Inner, IssuedCode, IssuedDevice, IssuedToken, State, TokenKind, TokenReply,
};

/// The device flow's grant type (RFC 8628 §3.4).
pub(crate) const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The `expires_in` of access tokens, as Google answers.
const EXPIRES_IN: u64 = 3599;

/// The largest request body read; a larger one gets a `413`.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

type Reply = Response<Full<Bytes>>;

/// An endpoint's handler.
type Handler = fn(&AuthorizationRequest, &Config, &mut Inner) -> Reply;

/// Serves `state` on `listener` until the task is aborted.
pub(crate) async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    crate::http_serve::accept_loop(listener, state, answer).await;
}

async fn answer(request: Request<Incoming>, state: Arc<State>) -> Result<Reply, Infallible> {
    let (parts, body) = request.into_parts();
    let Ok(collected) = Limited::new(body, MAX_REQUEST_BODY).collect().await else {
        return Ok(oauth_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "The request body is too large.",
        ));
    };
    let recorded =
        AuthorizationRequest::new(parts.method, parts.uri, parts.headers, collected.to_bytes());
    let mut inner = state.lock();
    inner.record.push(recorded.clone());
    Ok(route(&recorded, &state.config, &mut inner))
}

/// The endpoint of the path, its method and the form check, then its handler.
fn route(request: &AuthorizationRequest, config: &Config, inner: &mut Inner) -> Reply {
    let (method, handler): (&'static str, Handler) = match request.path() {
        "/o/oauth2/auth" => ("GET", authorize),
        "/token" => ("POST", token),
        "/device/code" => ("POST", device_code),
        "/device" => ("GET", device_page),
        "/revoke" => ("POST", revoke),
        _ => return text(StatusCode::NOT_FOUND, "Not Found"),
    };
    if request.method() != method {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(method));
        return response;
    }
    if method == "POST" && !crate::server::is_form(request.headers()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body must be application/x-www-form-urlencoded.",
        );
    }
    handler(request, config, inner)
}

// ===== the authorization endpoint =====

fn authorize(request: &AuthorizationRequest, config: &Config, inner: &mut Inner) -> Reply {
    if request.param("client_id") != Some(config.client_id.as_str()) {
        return error_page(
            "invalid_request",
            "The OAuth client was not found: client_id is missing or unknown.",
        );
    }
    let Some(redirect_uri) = request.param("redirect_uri") else {
        return error_page(
            "invalid_request",
            "Missing required parameter: redirect_uri",
        );
    };
    let Some(target) = loopback(redirect_uri) else {
        return error_page(
            "redirect_uri_mismatch",
            "An installed app's redirect_uri must be a loopback http URI (127.0.0.1, [::1] or \
             localhost, any port).",
        );
    };
    let state = request.param("state");
    let refuse = |description: &str| {
        redirect(
            target.clone(),
            &[
                ("error", "invalid_request"),
                ("error_description", description),
            ],
            state,
        )
    };
    if request.param("response_type") != Some("code") {
        return refuse("Invalid response_type: this client takes code.").into();
    }
    let scopes = split_scopes(request.param("scope"));
    if scopes.is_empty() {
        return refuse("Missing required parameter: scope").into();
    }
    let Some(challenge) = request
        .param("code_challenge")
        .filter(|challenge| is_code_challenge(challenge))
    else {
        return refuse(
            "Missing or invalid code_challenge: 43 to 128 characters of [A-Za-z0-9-._~].",
        )
        .into();
    };
    if request.param("code_challenge_method") != Some("S256") {
        return refuse("Invalid code_challenge_method: only S256 is allowed.").into();
    }
    let grant = IssuedCode {
        redirect_uri: redirect_uri.to_owned(),
        challenge: challenge.to_owned(),
        scopes: config.granted_scopes.clone().unwrap_or(scopes),
        offline: request.param("access_type") == Some("offline"),
        used: false,
    };
    let reply = inner
        .authorize_replies
        .pop_front()
        .unwrap_or(AuthorizeReply::Code);
    consent(reply, inner, target, state, &grant)
}

/// The user's answer, once the request passed the checks: `grant` is what a code remembers.
fn consent(
    reply: AuthorizeReply,
    inner: &mut Inner,
    target: Url,
    state: Option<&str>,
    grant: &IssuedCode,
) -> Reply {
    let scope = grant.scopes.join(" ");
    let new_code = |inner: &mut Inner| {
        inner.codes_made += 1;
        let code = format!("fake-code-{}-{}", inner.codes_made, random_hex());
        inner.codes.insert(code.clone(), grant.clone());
        code
    };
    match reply {
        AuthorizeReply::Code => {
            let code = new_code(inner);
            redirect(target, &[("code", &code)], state)
                .with_scope(&scope)
                .into()
        }
        AuthorizeReply::Error(error) => redirect(
            target,
            &[
                ("error", &error),
                ("error_description", "The authorization server refused."),
            ],
            state,
        )
        .into(),
        AuthorizeReply::WrongState => {
            let code = new_code(inner);
            let tampered = format!("{}-tampered", state.unwrap_or_default());
            redirect(target, &[("code", &code)], Some(&tampered))
                .with_scope(&scope)
                .into()
        }
        AuthorizeReply::NoCode => redirect(target, &[], state).into(),
        AuthorizeReply::RepeatedCode => {
            let first = new_code(inner);
            let second = new_code(inner);
            redirect(target, &[("code", &first), ("code", &second)], state)
                .with_scope(&scope)
                .into()
        }
        AuthorizeReply::NoRedirect => html(
            StatusCode::OK,
            "<!doctype html><html><head><title>Sign in</title></head><body>\
             <h1>Choose an account</h1><p>The fake consent page: it never redirects.</p>\
             </body></html>",
        ),
    }
}

/// The redirect URI, when it is a loopback `http` URI without a fragment.
fn loopback(uri: &str) -> Option<Url> {
    let url = Url::parse(uri).ok()?;
    let host = match url.host() {
        Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    (host && url.scheme() == "http" && url.fragment().is_none()).then_some(url)
}

/// RFC 7636 §4.2: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn is_code_challenge(challenge: &str) -> bool {
    (43..=128).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn split_scopes(scope: Option<&str>) -> Vec<String> {
    scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A `302` to `target` with `members` and then `state` (when there is one) in its query.
fn redirect(mut target: Url, members: &[(&str, &str)], state: Option<&str>) -> Redirect {
    {
        let mut query = target.query_pairs_mut();
        query.extend_pairs(members);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    Redirect(target)
}

/// A redirect being built; a reply once done.
struct Redirect(Url);

impl Redirect {
    fn with_scope(mut self, scope: &str) -> Self {
        self.0.query_pairs_mut().append_pair("scope", scope);
        self
    }

    fn into_reply(self) -> Reply {
        let mut response = html(StatusCode::FOUND, "<html><body>Moved</body></html>");
        if let Ok(location) = HeaderValue::from_str(self.0.as_str()) {
            response.headers_mut().insert(LOCATION, location);
        }
        response
    }
}

impl From<Redirect> for Reply {
    fn from(redirect: Redirect) -> Self {
        redirect.into_reply()
    }
}

// ===== the token endpoint =====

fn token(request: &AuthorizationRequest, config: &Config, inner: &mut Inner) -> Reply {
    match request.form_value("grant_type") {
        Some("authorization_code") => {
            match inner.token_replies.pop_front().unwrap_or(TokenReply::Issue) {
                TokenReply::Issue => exchange(request, config, inner, true),
                TokenReply::NoRefreshToken => exchange(request, config, inner, false),
                TokenReply::Garbage => with_type(StatusCode::OK, "text/html", "<html>oops</html>"),
                TokenReply::Json(status, body) => match StatusCode::from_u16(status) {
                    Ok(status) => json_body(status, body),
                    Err(_) => text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "credkit-testing: the scripted TokenReply::Json has an invalid status",
                    ),
                },
            }
        }
        Some("refresh_token") => refresh(request, config, inner),
        Some(DEVICE_GRANT) => device_poll(request, config, inner),
        _ => bad_request(
            "unsupported_grant_type",
            "Invalid grant_type: this server takes authorization_code, refresh_token and \
             urn:ietf:params:oauth:grant-type:device_code.",
        ),
    }
}

/// The refusal of the form's client (`client_id` and `client_secret`), if it is not the known
/// one.
fn refuse_client(request: &AuthorizationRequest, config: &Config) -> Option<Reply> {
    if request.form_value("client_id") != Some(config.client_id.as_str()) {
        return Some(invalid_client("The OAuth client was not found."));
    }
    if request.form_value("client_secret") != Some(config.client_secret.as_str()) {
        return Some(invalid_client(
            "Unauthorized: a wrong or missing client_secret.",
        ));
    }
    None
}

/// The checked `authorization_code` grant.
fn exchange(
    request: &AuthorizationRequest,
    config: &Config,
    inner: &mut Inner,
    refresh_allowed: bool,
) -> Reply {
    if let Some(refusal) = refuse_client(request, config) {
        return refusal;
    }
    let Some(code) = request
        .form_value("code")
        .and_then(|code| inner.codes.get_mut(code))
    else {
        return bad_request("invalid_grant", "Malformed auth code.");
    };
    if code.used {
        return bad_request("invalid_grant", "Bad Request");
    }
    code.used = true;
    if request.form_value("redirect_uri") != Some(code.redirect_uri.as_str()) {
        return bad_request(
            "redirect_uri_mismatch",
            "The redirect_uri is not the one the code was issued for.",
        );
    }
    let verified = request
        .form_value("code_verifier")
        .is_some_and(|verifier| s256(verifier) == code.challenge);
    if !verified {
        return bad_request("invalid_grant", "Invalid code verifier.");
    }
    let scopes = code.scopes.clone();
    let refresh = refresh_allowed && code.offline;
    issue(config, inner, &scopes, refresh)
}

/// `BASE64URL-NOPAD(SHA-256(verifier))`, RFC 7636 §4.2.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()))
}

/// The refresh-token grant.
fn refresh(request: &AuthorizationRequest, config: &Config, inner: &mut Inner) -> Reply {
    if let Some(refusal) = refuse_client(request, config) {
        return refusal;
    }
    let presented = request.form_value("refresh_token");
    let scopes = inner.tokens.iter().find_map(|issued| match &issued.kind {
        TokenKind::Refresh { scopes }
            if !issued.revoked && Some(issued.token.as_str()) == presented =>
        {
            Some(scopes.clone())
        }
        _ => None,
    });
    let (Some(scopes), Some(refresh_token)) = (scopes, presented) else {
        return bad_request("invalid_grant", "Token has been expired or revoked.");
    };
    let body = tokens(
        config,
        inner,
        &scopes,
        Some(refresh_token.to_owned()),
        false,
    );
    json_response(StatusCode::OK, &body)
}

/// A poll of the device flow.
fn device_poll(request: &AuthorizationRequest, config: &Config, inner: &mut Inner) -> Reply {
    if let Some(refusal) = refuse_client(request, config) {
        return refusal;
    }
    let Some(device_code) = request.form_value("device_code") else {
        return bad_request("invalid_request", "Missing required parameter: device_code");
    };
    let Some(device) = inner
        .devices
        .get_mut(device_code)
        .filter(|device| !device.used)
    else {
        return bad_request("invalid_grant", "Malformed or used device code.");
    };
    let poll = inner
        .device_polls
        .pop_front()
        .unwrap_or(DevicePoll::Approve);
    match poll {
        DevicePoll::Pending => oauth_error(
            StatusCode::PRECONDITION_REQUIRED,
            "authorization_pending",
            "Precondition Required",
        ),
        DevicePoll::SlowDown => oauth_error(StatusCode::FORBIDDEN, "slow_down", "Forbidden"),
        DevicePoll::Deny => oauth_error(StatusCode::FORBIDDEN, "access_denied", "Forbidden"),
        DevicePoll::Expire => bad_request("expired_token", "Expired device code."),
        DevicePoll::Approve => {
            device.used = true;
            let scopes = device.scopes.clone();
            issue(config, inner, &scopes, true)
        }
    }
}

/// A `200` token answer with a new access token, and a new refresh token when `refresh`.
fn issue(config: &Config, inner: &mut Inner, scopes: &[String], refresh: bool) -> Reply {
    let body = tokens(config, inner, scopes, None, refresh);
    json_response(StatusCode::OK, &body)
}

/// A token answer: a new access token (issued with `existing`, a refresh token already
/// issued), a new refresh token when `new_refresh`, and an ID token with `openid`.
fn tokens(
    config: &Config,
    inner: &mut Inner,
    scopes: &[String],
    existing: Option<String>,
    new_refresh: bool,
) -> Value {
    inner.tokens_made += 1;
    let n = inner.tokens_made;
    let access_token = format!("fake-user-access-token-{n}");
    let refresh_token = new_refresh.then(|| format!("fake-user-refresh-token-{n}"));
    let mut body = json!({
        "access_token": access_token,
        "expires_in": EXPIRES_IN,
        "scope": scopes.join(" "),
        "token_type": "Bearer",
    });
    if let Some(refresh_token) = &refresh_token {
        body["refresh_token"] = json!(refresh_token);
        inner.tokens.push(IssuedToken {
            token: refresh_token.clone(),
            kind: TokenKind::Refresh {
                scopes: scopes.to_vec(),
            },
            revoked: false,
        });
    }
    inner.tokens.push(IssuedToken {
        token: access_token,
        kind: TokenKind::Access {
            refresh_token: refresh_token.or(existing),
        },
        revoked: false,
    });
    if scopes.iter().any(|scope| scope == "openid") {
        body["id_token"] = json!(id_token(config));
    }
    body
}

fn id_token(config: &Config) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": "https://accounts.google.com",
        "azp": config.client_id,
        "aud": config.client_id,
        "sub": "1234567890",
        "email": FAKE_USER_EMAIL,
        "email_verified": true,
        "iat": now,
        "exp": now.saturating_add(3600),
    });
    match &config.minter {
        Some(minter) => minter.mint(&claims),
        None => crate::FakeMetadataServer::fake_id_token(&claims),
    }
}

// ===== the device endpoints =====

fn device_code(request: &AuthorizationRequest, config: &Config, inner: &mut Inner) -> Reply {
    if request.form_value("client_id") != Some(config.client_id.as_str()) {
        return invalid_client("The OAuth client was not found.");
    }
    let scopes = split_scopes(request.form_value("scope"));
    if scopes.is_empty() {
        return bad_request("invalid_scope", "Missing required parameter: scope");
    }
    inner.devices_made += 1;
    let device_code = format!("fake-device-code-{}-{}", inner.devices_made, random_hex());
    inner.devices.insert(
        device_code.clone(),
        IssuedDevice {
            scopes: config.granted_scopes.clone().unwrap_or(scopes),
            used: false,
        },
    );
    let page = format!("{}/device", config.url);
    let mut body = json!({
        "device_code": device_code,
        "user_code": FAKE_USER_CODE,
        "expires_in": config.device_expires_in,
        "interval": config.device_interval,
    });
    if config.rfc_device_names {
        body["verification_uri_complete"] = json!(format!("{page}?user_code={FAKE_USER_CODE}"));
        body["verification_uri"] = json!(page);
    } else {
        body["verification_url"] = json!(page);
    }
    json_response(StatusCode::OK, &body)
}

fn device_page(_: &AuthorizationRequest, _: &Config, _: &mut Inner) -> Reply {
    html(
        StatusCode::OK,
        "<!doctype html><html><head><title>Connect a device</title></head><body>\
         <h1>Enter the code displayed on your device</h1>\
         <form><input name=\"user_code\"><button>Next</button></form></body></html>",
    )
}

// ===== the revocation endpoint =====

fn revoke(request: &AuthorizationRequest, _: &Config, inner: &mut Inner) -> Reply {
    let Some(presented) = request.form_value("token") else {
        return bad_request("invalid_request", "Missing required parameter: token");
    };
    let Some(index) = inner
        .tokens
        .iter()
        .position(|issued| !issued.revoked && issued.token == presented)
    else {
        return bad_request("invalid_token", "Token expired or revoked");
    };
    let Some(revoked) = inner.tokens.get_mut(index) else {
        return bad_request("invalid_token", "Token expired or revoked");
    };
    revoked.revoked = true;
    if matches!(revoked.kind, TokenKind::Refresh { .. }) {
        for issued in &mut inner.tokens {
            if let TokenKind::Access {
                refresh_token: Some(parent),
            } = &issued.kind
                && parent == presented
            {
                issued.revoked = true;
            }
        }
    }
    inner.revoked.push(presented.to_owned());
    json_response(StatusCode::OK, &json!({}))
}

// ===== answers =====

/// 16 random hex digits (the counter keeps codes unique should the random source fail).
fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    let _ = SystemRandom::new().fill(&mut bytes);
    bytes.iter().fold(String::with_capacity(16), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// Google's error page for a request it cannot redirect.
fn error_page(error: &str, description: &str) -> Reply {
    html(
        StatusCode::BAD_REQUEST,
        format!(
            "<!doctype html><html><head><title>Error 400 ({error})</title></head><body>\
             <h1>Access blocked: authorization error</h1><p>{description}</p>\
             <p>Error 400: {error}</p></body></html>"
        ),
    )
}

fn bad_request(error: &str, description: &str) -> Reply {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

fn invalid_client(description: &str) -> Reply {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Reply {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn json_response(status: StatusCode, value: &Value) -> Reply {
    json_body(status, value.to_string())
}

fn json_body(status: StatusCode, body: String) -> Reply {
    with_type(status, "application/json; charset=utf-8", body)
}

fn html(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    with_type(status, "text/html; charset=utf-8", body)
}

fn text(status: StatusCode, body: &'static str) -> Reply {
    with_type(status, "text/plain", body)
}

fn with_type(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
