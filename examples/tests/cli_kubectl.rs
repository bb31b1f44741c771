//! `credkit exec-credential`: kubectl's exec credential plugin. The protocol with the exact
//! requests kubectl writes in `KUBERNETES_EXEC_INFO`, and the real kubectl (when installed)
//! running the built binary as its plugin against a loopback stand-in for an API server that
//! wants the token the fake token endpoint issued. Nothing leaves loopback.
// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use credkit_testing::{FakeChallenge, FakeReauthServer, FakeTokenServer, ReauthReply, Reply};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use support::{CLIENT_SECRET, REFRESH_TOKEN, Sandbox, run, run_with_stdin};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;

const V1: &str = "client.authentication.k8s.io/v1";
const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// kubectl's request, as it writes it.
fn exec_info(version: &str, interactive: bool) -> String {
    json!({"kind": "ExecCredential", "apiVersion": version, "spec": {"interactive": interactive}})
        .to_string()
}

/// `credkit exec-credential --credentials <file> --token-uri <server> <extra...>` with
/// `KUBERNETES_EXEC_INFO` set to `info` (unset for `None`).
fn plugin(
    sandbox: &Sandbox,
    server: &FakeTokenServer,
    info: Option<&str>,
    extra: &[&str],
) -> Command {
    let file = sandbox.credentials_file(&json!({}));
    let mut command = sandbox.credkit(["exec-credential", "--no-cache"]);
    command
        .arg("--credentials")
        .arg(file)
        .args(["--token-uri", &server.token_url()])
        .args(extra);
    match info {
        Some(info) => command.env("KUBERNETES_EXEC_INFO", info),
        None => command.env_remove("KUBERNETES_EXEC_INFO"),
    };
    command
}

/// The `ExecCredential` printed, after checking the run succeeded quietly.
fn credential(out: &support::Run) -> Value {
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(out.stderr, "", "{out:#?}");
    out.assert_no_secret(&[CLIENT_SECRET, REFRESH_TOKEN]);
    serde_json::from_str(&out.stdout).unwrap()
}

// ===== the protocol =====

#[tokio::test]
async fn answers_in_the_version_asked_with_the_token_and_its_expiry() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    for version in [V1, V1BETA1] {
        server.push_reply(Reply::token("ya29.kube-token"));
        let before = OffsetDateTime::now_utc();
        let out = run(plugin(
            &sandbox,
            &server,
            Some(&exec_info(version, false)),
            &[],
        ))
        .await;
        let after = OffsetDateTime::now_utc();
        let answer = credential(&out);
        assert_eq!(answer["apiVersion"], version);
        assert_eq!(answer["kind"], "ExecCredential");
        assert_eq!(answer["status"]["token"], "ya29.kube-token");
        let stamp = answer["status"]["expirationTimestamp"].as_str().unwrap();
        let expiry = OffsetDateTime::parse(stamp, &Rfc3339).unwrap();
        let hour = Duration::from_secs(3600);
        assert!(expiry >= before + hour - Duration::from_secs(1), "{stamp}");
        assert!(expiry <= after + hour, "{stamp}");
    }
}

#[tokio::test]
async fn a_scope_shortfall_is_a_warning_beside_the_credential() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_reply(Reply::json(
        200,
        json!({"access_token": "ya29.narrow", "expires_in": 3600, "token_type": "Bearer", "scope": "email"}),
    ));
    let out = run(plugin(
        &sandbox,
        &server,
        Some(&exec_info(V1, false)),
        &["--scope", "email", "--scope", "profile"],
    ))
    .await;
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert_eq!(
        out.stderr,
        "warning: Not all requested scopes were granted by the authorization server, missing scopes profile.\n"
    );
    let answer: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(answer["status"]["token"], "ya29.narrow");
}

#[tokio::test]
async fn the_expiration_timestamp_is_the_token_expiry() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    let expiry = (OffsetDateTime::now_utc() + Duration::from_secs(1800))
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap();
    let file = sandbox.credentials_file(&json!({"token": "ya29.from-file", "expiry": expiry}));
    let mut command = sandbox.credkit(["exec-credential", "--no-cache"]);
    command
        .arg("--credentials")
        .arg(file)
        .args(["--token-uri", &server.token_url()])
        .env("KUBERNETES_EXEC_INFO", exec_info(V1, false));
    let answer = credential(&run(command).await);
    assert_eq!(answer["status"]["token"], "ya29.from-file");
    assert_eq!(answer["status"]["expirationTimestamp"], expiry.as_str());
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn without_exec_info_it_answers_v1beta1() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    server.push_replies([Reply::token("ya29.absent"), Reply::token("ya29.empty")]);
    let answer = credential(&run(plugin(&sandbox, &server, None, &[])).await);
    assert_eq!(answer["apiVersion"], V1BETA1);
    assert_eq!(answer["status"]["token"], "ya29.absent");
    let answer = credential(&run(plugin(&sandbox, &server, Some(""), &[])).await);
    assert_eq!(answer["apiVersion"], V1BETA1);
}

#[tokio::test]
async fn v1alpha1_and_unknown_versions_are_refused_before_any_request() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    let out = run(plugin(
        &sandbox,
        &server,
        Some(&exec_info("client.authentication.k8s.io/v1alpha1", false)),
        &[],
    ))
    .await;
    let message = out.assert_error();
    assert!(message.contains("v1alpha1 is not supported"), "{message}");
    assert!(message.contains(V1), "{message}");
    let out = run(plugin(
        &sandbox,
        &server,
        Some(&exec_info("example.com/v2", false)),
        &[],
    ))
    .await;
    assert!(
        out.assert_error()
            .contains("\"example.com/v2\" is not supported"),
        "{out:#?}"
    );
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn garbage_exec_info_is_refused() {
    let sandbox = Sandbox::new();
    let server = FakeTokenServer::start().await.unwrap();
    for (garbage, says) in [
        ("{not json", "is not kubectl's request"),
        (r#"{"kind":"ExecCredential"}"#, "names no apiVersion"),
        (
            r#"{"kind":"Secret","apiVersion":"client.authentication.k8s.io/v1"}"#,
            "not an ExecCredential",
        ),
    ] {
        let out = run(plugin(&sandbox, &server, Some(garbage), &[])).await;
        let message = out.assert_error();
        assert!(message.starts_with("KUBERNETES_EXEC_INFO"), "{message}");
        assert!(message.contains(says), "{message}");
    }
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_one_error_line() {
    let sandbox = Sandbox::new();
    let mut command = sandbox.credkit_unreachable(&["exec-credential"]);
    command.env("KUBERNETES_EXEC_INFO", exec_info(V1, false));
    let out = run(command).await;
    assert!(!out.assert_error().is_empty());
    out.assert_no_secret(&[CLIENT_SECRET, REFRESH_TOKEN]);
}

// ===== interactive or not =====

fn invalid_rapt() -> Reply {
    Reply::json(
        400,
        json!({"error": "invalid_grant", "error_subtype": "invalid_rapt"}),
    )
}

#[tokio::test]
async fn not_interactive_never_reauthenticates_or_reads_the_password() {
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    let reauth = FakeReauthServer::start().await.unwrap();
    tokens.push_reply(invalid_rapt());
    reauth.push_reply(ReauthReply::challenge_required(
        "s1",
        [FakeChallenge::password(1)],
    ));
    let command = plugin(
        &sandbox,
        &tokens,
        Some(&exec_info(V1, false)),
        &[
            "--enable-reauth",
            "--reauth-uri",
            &reauth.url(),
            "--password-stdin",
        ],
    );
    let out = run_with_stdin(command, "hunter2\n").await;
    let message = out.assert_error();
    assert!(message.contains("Reauthentication is needed"), "{message}");
    assert_eq!(reauth.request_count(), 0);
    assert_eq!(tokens.request_count(), 1);
    out.assert_no_secret(&["hunter2"]);
}

#[tokio::test]
async fn interactive_reauthenticates_with_the_password() {
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    let reauth = FakeReauthServer::start().await.unwrap();
    tokens.push_replies([
        invalid_rapt(),
        Reply::token("ya29.reauth-scoped"),
        Reply::token("ya29.after-reauth"),
    ]);
    reauth.push_replies([
        ReauthReply::challenge_required("s1", [FakeChallenge::password(1)]),
        ReauthReply::authenticated("new_rapt_token"),
    ]);
    let command = plugin(
        &sandbox,
        &tokens,
        Some(&exec_info(V1BETA1, true)),
        &[
            "--enable-reauth",
            "--reauth-uri",
            &reauth.url(),
            "--password-stdin",
        ],
    );
    let out = run_with_stdin(command, "hunter2\n").await;
    let answer = credential(&out);
    assert_eq!(answer["status"]["token"], "ya29.after-reauth");
    assert_eq!(answer["apiVersion"], V1BETA1);
    assert_eq!(
        reauth.json_bodies()[1]["proposalResponse"]["credential"],
        "hunter2"
    );
    out.assert_no_secret(&["hunter2", "new_rapt_token", "ya29.reauth-scoped"]);
}

// ===== the real kubectl =====

/// A loopback stand-in for a Kubernetes API server, over TLS (kubectl runs an exec plugin
/// only for https) with a certificate for 127.0.0.1 from a CA made for the run: `/version`
/// for the bearer token it wants, 401 for anything else; it records every `Authorization`
/// header.
struct ApiServer {
    url: String,
    /// The CA's certificate, PEM (the kubeconfig's certificate-authority-data).
    ca: String,
    seen: Arc<Mutex<Vec<Option<String>>>>,
    task: tokio::task::JoinHandle<()>,
}

/// A CA's certificate (PEM) and a server configuration with a certificate for 127.0.0.1
/// signed by it.
fn tls() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "credkit kubectl test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "credkit kubectl test server");
    let cert = params.signed_by(&key, &issuer).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    (ca.pem(), Arc::new(config))
}

const VERSION: &str = r#"{"major":"1","minor":"32","gitVersion":"v1.32.0","gitCommit":"0000000000000000000000000000000000000000","gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.23.0","compiler":"gc","platform":"linux/amd64"}"#;

impl ApiServer {
    async fn start(token: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let (ca, config) = tls();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let wanted = Arc::new(format!("Bearer {token}"));
        let record = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let record = Arc::clone(&record);
                let wanted = Arc::clone(&wanted);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |request: Request<Incoming>| {
                        let authorization = request
                            .headers()
                            .get(hyper::header::AUTHORIZATION)
                            .and_then(|value| value.to_str().ok())
                            .map(str::to_owned);
                        let ok = authorization.as_deref() == Some(wanted.as_str());
                        record.lock().unwrap().push(authorization);
                        let response = if ok && request.uri().path() == "/version" {
                            Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from_static(VERSION.as_bytes())))
                        } else {
                            Response::builder()
                                .status(if ok { StatusCode::NOT_FOUND } else { StatusCode::UNAUTHORIZED })
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from_static(
                                    br#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}"#,
                                )))
                        };
                        async move { Ok::<_, Infallible>(response.unwrap()) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            url,
            ca,
            seen,
            task,
        }
    }

    fn seen(&self) -> Vec<Option<String>> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The installed kubectl, or `None` after a loud line on standard error (a failure with
/// `CREDKIT_REQUIRE_KUBECTL=1`).
fn kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .map(|dir| dir.join("kubectl"))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CREDKIT_REQUIRE_KUBECTL").as_deref() != Ok("1"),
            "CREDKIT_REQUIRE_KUBECTL=1 but kubectl is not on PATH"
        );
        // Past the harness's capture: a skip must be seen.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"SKIPPED: kubectl is not installed (apt-get install kubernetes-client); set CREDKIT_REQUIRE_KUBECTL=1 to fail instead\n",
        );
    }
    found
}

/// kubectl's client version as (major, minor), from `kubectl version --client -o json`
/// (1.20 and later print JSON).
fn kubectl_version(sandbox: &Sandbox, kubectl: &Path) -> (u32, u32) {
    let out = kubectl_command(sandbox, kubectl, None)
        .args(["version", "--client", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let version: Value = serde_json::from_slice(&out.stdout).unwrap();
    let number = |field: &str| -> u32 {
        let text = version["clientVersion"][field].as_str().unwrap();
        text.trim_end_matches('+').parse().unwrap()
    };
    (number("major"), number("minor"))
}

/// kubectl in the sandbox: HOME the sandbox's, KUBECONFIG `kubeconfig`, and as PATH a folder
/// of links to the kubectl programs of kubectl's own folder (the Cloud SDK's dispatcher runs
/// its versioned siblings), never to a gcloud beside them.
fn kubectl_command(sandbox: &Sandbox, kubectl: &Path, kubeconfig: Option<&Path>) -> Command {
    let bin = sandbox.path("kubectl-bin");
    if !bin.exists() {
        std::fs::create_dir(&bin).unwrap();
        let real = std::fs::canonicalize(kubectl).unwrap();
        for entry in std::fs::read_dir(real.parent().unwrap()).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().starts_with("kubectl") {
                std::os::unix::fs::symlink(entry.path(), bin.join(entry.file_name())).unwrap();
            }
        }
    }
    let mut command = sandbox.env().command(bin.join("kubectl"));
    command.env("PATH", &bin);
    if let Some(kubeconfig) = kubeconfig {
        command.env("KUBECONFIG", kubeconfig);
    }
    command
}

/// A kubeconfig whose one user runs the built credkit as its exec plugin, for `version`.
fn kubeconfig(sandbox: &Sandbox, version: &str, api: &ApiServer, args: &[String]) -> PathBuf {
    use base64::Engine as _;
    let mut exec = json!({
        "apiVersion": version,
        "command": env!("CARGO_BIN_EXE_credkit"),
        "args": args,
        "provideClusterInfo": false,
    });
    // kubectl before 1.22 knows no interactiveMode; v1 requires it.
    if version == V1 {
        exec["interactiveMode"] = json!("IfAvailable");
    }
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "stand-in", "cluster": {
            "server": api.url,
            "certificate-authority-data": base64::engine::general_purpose::STANDARD.encode(&api.ca),
        }}],
        "users": [{"name": "credkit", "user": {"exec": exec}}],
        "contexts": [{"name": "test", "context": {"cluster": "stand-in", "user": "credkit"}}],
        "current-context": "test",
    });
    let name = format!("kubeconfig-{}", version.rsplit('/').next().unwrap());
    sandbox.write(&name, &config.to_string())
}

#[tokio::test]
async fn kubectl_gets_the_version_with_the_token_of_the_plugin() {
    let Some(kubectl) = kubectl() else {
        return;
    };
    let sandbox = Sandbox::new();
    let (major, minor) = kubectl_version(&sandbox, &kubectl);
    let mut versions = vec![V1BETA1];
    if (major, minor) >= (1, 22) {
        versions.push(V1);
    }
    let tokens = FakeTokenServer::start().await.unwrap();
    tokens.push_reply(Reply::token("ya29.for-kubectl"));
    let api = ApiServer::start("ya29.for-kubectl").await;
    let file = sandbox.credentials_file(&json!({}));
    let cache = sandbox.path("token-cache");
    let args: Vec<String> = [
        "exec-credential",
        "--credentials",
        &file.display().to_string(),
        "--token-uri",
        &tokens.token_url(),
        "--cache",
        &cache.display().to_string(),
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .collect();

    for version in &versions {
        let config = kubeconfig(&sandbox, version, &api, &args);
        let mut command = kubectl_command(&sandbox, &kubectl, Some(&config));
        command.args(["get", "--raw", "/version"]);
        let out = run(command).await;
        assert_eq!(out.code, Some(0), "kubectl with {version}: {out:#?}");
        let printed: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(printed["gitVersion"], "v1.32.0", "{out:#?}");
        out.assert_no_secret(&["ya29.for-kubectl", CLIENT_SECRET, REFRESH_TOKEN]);
    }
    let seen = api.seen();
    assert!(!seen.is_empty());
    assert!(
        seen.iter()
            .all(|authorization| authorization.as_deref() == Some("Bearer ya29.for-kubectl")),
        "{seen:?}"
    );
    // One refresh for every run: the later ones read the token cache.
    assert_eq!(tokens.request_count(), 1);
}

#[tokio::test]
async fn kubectl_reports_a_refused_token() {
    let Some(kubectl) = kubectl() else {
        return;
    };
    let sandbox = Sandbox::new();
    let tokens = FakeTokenServer::start().await.unwrap();
    tokens.push_replies([Reply::token("ya29.wrong"), Reply::token("ya29.wrong-again")]);
    let api = ApiServer::start("ya29.wanted").await;
    let file = sandbox.credentials_file(&json!({}));
    let args: Vec<String> = [
        "exec-credential",
        "--credentials",
        &file.display().to_string(),
        "--token-uri",
        &tokens.token_url(),
        "--no-cache",
    ]
    .iter()
    .map(|arg| (*arg).to_owned())
    .collect();
    let config = kubeconfig(&sandbox, V1BETA1, &api, &args);
    let mut command = kubectl_command(&sandbox, &kubectl, Some(&config));
    command.args(["get", "--raw", "/version"]);
    let out = run(command).await;
    assert_ne!(out.code, Some(0), "{out:#?}");
    assert!(
        api.seen()
            .iter()
            .any(|authorization| authorization.as_deref() == Some("Bearer ya29.wrong")),
        "{:?}",
        api.seen()
    );
}
