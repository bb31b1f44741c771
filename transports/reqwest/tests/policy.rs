//! The token-endpoint URL policy: as a pure function over many URLs, and in the transport,
//! before anything is sent. No URL in this file that is not loopback is ever sent: the refused
//! ones are refused before resolution, and the tests that send use `.invalid` names, which can
//! never resolve, or loopback.

mod support;

use credkit_core::ErrorKind;
use credkit_reqwest::{ReqwestTransport, check_endpoint};
use credkit_testing::FakeTokenServer;
use support::send_err;

const ACCEPTED: &[&str] = &[
    // https, anywhere.
    "https://oauth2.googleapis.com/token",
    "HTTPS://OAUTH2.GOOGLEAPIS.COM/token",
    "https://example.com:8443/token?x=1",
    "https://127.0.0.1/token",
    "https://[2001:db8::1]/token",
    // http to IPv4 loopback: all of 127.0.0.0/8, in the forms the URL standard accepts.
    "http://127.0.0.1/token",
    "http://127.0.0.1:8080/token",
    "HTTP://127.0.0.1/token",
    "http://127.1.2.3/",
    "http://127.255.255.255/",
    "http://127.1/",
    "http://0x7f.0.0.1/",
    "http://2130706433/",
    // http to IPv6 loopback.
    "http://[::1]/",
    "http://[::1]:8080/",
    "http://[0:0:0:0:0:0:0:1]/token",
    "http://[::ffff:127.0.0.1]/",
    // http to the metadata server: exactly its address and its name, any port.
    "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token",
    "http://169.254.169.254:80/",
    "http://0xa9fea9fe/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://Metadata.Google.Internal:8080/",
    // http to localhost, exactly.
    "http://localhost/",
    "http://LOCALHOST:8080/token",
    "HtTp://LocalHost/token?x=1#frag",
];

const REFUSED: &[&str] = &[
    // http off loopback.
    "http://example.com/",
    "http://oauth2.googleapis.com/token",
    "http://128.0.0.1/",
    "http://126.255.255.255/",
    "http://0.0.0.0/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    // Link-local, but not the metadata server: nothing wider than its one address.
    "http://169.254.169.253/",
    "http://169.254.169.255/",
    "http://169.254.0.1/",
    "http://[fe80::a9fe:a9fe]/",
    "http://[::ffff:169.254.169.254]/",
    // Names that only look like the metadata server's.
    "http://metadata.google.internal./",
    "http://metadata.google.internal.evil.com/",
    "http://evil.metadata.google.internal/",
    "http://metadata.google.internals/",
    "http://metadata.internal/",
    "http://metadata/",
    "http://google.internal/",
    "http://169.254.169.254.evil.example/",
    "http://169.254.169.254@evil.example/",
    "http://metadata.google.internal@evil.example/",
    "http://[::]/",
    "http://[::2]/",
    "http://[fe80::1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::127.0.0.1]/",
    // Names that only look like localhost; they would go through DNS.
    "http://localhost./",
    "http://localhost.evil.example/",
    "http://auth.localhost/",
    "http://localhost.localdomain/",
    "http://127.0.0.1.evil.example/",
    // User-info tricks: the host is the part after the `@`.
    "http://127.0.0.1@evil.example/",
    "http://127.0.0.1:80@evil.example/",
    "http://localhost@evil.example/token",
    "http://evil.example#@127.0.0.1/",
    "http://evil.example\\@127.0.0.1/",
    // User info is refused even where the host would be fine.
    "http://user:pass@127.0.0.1/",
    "http://user@localhost/",
    "https://user:pass@example.com/",
    // Other schemes.
    "ftp://127.0.0.1/",
    "file:///etc/passwd",
    "ws://127.0.0.1/",
    "wss://example.com/",
    "gopher://127.0.0.1/",
    "data:text/plain,hello",
    "javascript:alert(1)",
    // Not absolute URLs.
    "",
    "/token",
    "not a url",
    "https://",
];

#[test]
fn accepted_urls() {
    for url in ACCEPTED {
        assert!(
            check_endpoint(url).is_ok(),
            "should accept {url:?}: {:?}",
            check_endpoint(url)
        );
    }
}

#[test]
fn refused_urls_are_permanent_configuration_errors() {
    for url in REFUSED {
        let err = check_endpoint(url).expect_err(url);
        assert_eq!(err.kind(), ErrorKind::Configuration, "{url:?}: {err:?}");
        assert!(!err.is_transient(), "{url:?}");
    }
}

#[test]
fn the_plain_http_refusal_names_what_is_allowed() {
    let err = check_endpoint("http://169.254.169.253/computeMetadata/v1/").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("169.254.169.254, metadata.google.internal"),
        "{message}"
    );
    assert!(message.contains("allow_plain_http_host"), "{message}");
    assert!(!message.contains("computeMetadata"), "{message}");
}

#[tokio::test]
async fn an_allowed_host_is_reached_over_plain_http_and_others_are_not()
-> Result<(), Box<dyn std::error::Error>> {
    // The loopback fake stands for a metadata server named in GCE_METADATA_HOST; the `.invalid`
    // name can never resolve, so nothing is sent anywhere but loopback.
    let server = FakeTokenServer::start().await?;
    let port = server.addr().port();
    let transport = ReqwestTransport::builder()
        .allow_plain_http_host(format!("127.0.0.1:{port}"))
        .allow_plain_http_host("mds.invalid:8080")
        .build()?;
    assert_eq!(
        transport.plain_http_hosts().collect::<Vec<_>>(),
        [format!("127.0.0.1:{port}"), "mds.invalid:8080".to_owned()]
    );
    let request = http::Request::post(server.token_url()).body(bytes::Bytes::new())?;
    credkit_core::Transport::send(&transport, request).await?;
    assert_eq!(server.request_count(), 1);
    // Another port of the allowed name is refused before any lookup.
    let err = send_err(&transport, "http://mds.invalid:8081/computeMetadata/v1/").await;
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err:?}");
    // The allowed name itself passes the policy and fails only at resolution (`.invalid`).
    let err = send_err(&transport, "http://mds.invalid:8080/computeMetadata/v1/").await;
    assert_ne!(err.kind(), ErrorKind::Configuration, "{err:?}");
    // Without the option, the same name is refused by the policy.
    let plain = ReqwestTransport::new()?;
    let err = send_err(&plain, "http://mds.invalid:8080/computeMetadata/v1/").await;
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err:?}");
    Ok(())
}

#[test]
fn the_user_info_trick_names_the_real_host() {
    let err = check_endpoint("http://127.0.0.1@evil.example/token").unwrap_err();
    assert!(err.to_string().contains("user name or password"), "{err}");
    let err = check_endpoint("http://localhost.evil.example/token").unwrap_err();
    assert!(err.to_string().contains("localhost.evil.example"), "{err}");
    assert!(!err.to_string().contains("/token"), "{err}");
}

#[test]
fn the_parsed_url_is_the_one_checked() {
    let url = check_endpoint("HTTP://0x7f.1:8080/token").unwrap();
    assert_eq!(url.as_str(), "http://127.0.0.1:8080/token");
}

#[tokio::test]
async fn the_transport_refuses_plain_http_off_loopback_before_connecting() {
    // `.invalid` can never resolve; the refusal comes before any lookup.
    let err = send_err(
        &ReqwestTransport::new().unwrap(),
        "http://example.invalid/token",
    )
    .await;
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err:?}");
    assert!(!err.is_transient());
    assert!(err.to_string().contains("plain http"), "{err}");
}

#[tokio::test]
async fn the_transport_sends_nothing_for_a_refused_url() -> Result<(), Box<dyn std::error::Error>> {
    // A live loopback server: had the check come after connecting, it would see a request.
    let server = FakeTokenServer::start().await?;
    let port = server.addr().port();
    let transport = ReqwestTransport::new()?;
    for url in [
        format!("http://alice:hunter2@127.0.0.1:{port}/token"),
        format!("http://127.0.0.1:{port}@example.invalid/token"),
        format!("ftp://127.0.0.1:{port}/token"),
    ] {
        let err = send_err(&transport, &url).await;
        assert_eq!(err.kind(), ErrorKind::Configuration, "{url}: {err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    assert_eq!(server.request_count(), 0);
    Ok(())
}
