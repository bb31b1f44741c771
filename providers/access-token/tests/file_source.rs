//! `TokenFileSource` over real files, with a `FakeClock`: a rewritten file noticed at the
//! re-read deadline or at once after a 401, an expired token refused and a new one taken,
//! a token response saved as it came, and every refusal typed, with the file named and the
//! content never quoted.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use credkit_access_token::{DEFAULT_REREAD_INTERVAL, MAX_FILE_SIZE, Refusal, TokenFileSource};
use credkit_core::{Clock, Credentials, ErrorKind, MIN_RETRY_INTERVAL, TokenSource, TokenState};
use credkit_testing::FakeClock;
use futures::executor::block_on;
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

struct Setup {
    _dir: tempfile::TempDir,
    path: PathBuf,
    clock: FakeClock,
}

fn setup(content: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, content).unwrap();
    Setup {
        _dir: dir,
        path,
        clock: FakeClock::new(),
    }
}

impl Setup {
    fn source(&self) -> TokenFileSource {
        TokenFileSource::builder(&self.path)
            .with_clock(self.clock.clone())
            .build()
            .unwrap()
    }

    fn credentials(&self) -> Credentials {
        Credentials::builder(self.source())
            .with_clock(self.clock.clone())
            .build()
            .unwrap()
    }

    fn write(&self, content: &str) {
        std::fs::write(&self.path, content).unwrap();
    }

    /// Sets the file's modification time to the fake clock's `at`.
    fn touch(&self, at: OffsetDateTime) {
        let file = std::fs::File::options()
            .write(true)
            .open(&self.path)
            .unwrap();
        file.set_modified(SystemTime::from(at)).unwrap();
    }
}

fn json(token: &str, expiry: OffsetDateTime) -> String {
    format!(
        r#"{{"access_token": "{token}", "expiry": "{}"}}"#,
        expiry.format(&Rfc3339).unwrap()
    )
}

fn current(credentials: &Credentials) -> String {
    let token = block_on(credentials.access_token()).unwrap();
    token.secret().expose_secret().to_owned()
}

#[test]
fn a_rewritten_file_is_read_at_the_reread_deadline() {
    let setup = setup("ya29.one\n");
    let credentials = setup.credentials();
    assert_eq!(current(&credentials), "ya29.one");
    let start = setup.clock.now();
    assert_eq!(credentials.expiry(), Some(start + DEFAULT_REREAD_INTERVAL));

    setup.write("ya29.two\n");
    // Fresh for three quarters of the interval: the cached token, the file unread.
    setup.clock.advance(Duration::from_secs(44));
    assert_eq!(current(&credentials), "ya29.one");
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    // Then stale: the file is read again.
    setup.clock.advance(Duration::from_secs(2));
    assert_eq!(current(&credentials), "ya29.two");
    assert_eq!(
        credentials.expiry(),
        Some(setup.clock.now() + DEFAULT_REREAD_INTERVAL)
    );
}

#[test]
fn the_reread_interval_is_configurable() {
    let setup = setup("ya29.one");
    let source = TokenFileSource::builder(&setup.path)
        .with_clock(setup.clock.clone())
        .with_reread_interval(Duration::from_secs(8))
        .build()
        .unwrap();
    let token = block_on(source.fetch_token()).unwrap();
    assert_eq!(
        token.expiry(),
        Some(setup.clock.now() + Duration::from_secs(8))
    );
    assert_eq!(token.issued_at(), Some(setup.clock.now()));
}

#[test]
fn a_401_reads_the_file_again_at_once() {
    let setup = setup("ya29.rejected");
    let credentials = setup.credentials();
    let sent = block_on(credentials.access_token()).unwrap();
    setup.write("ya29.replacement");
    // Still fresh: without the 401, the cached token.
    assert_eq!(current(&credentials), "ya29.rejected");
    assert!(credentials.invalidate_if(&*sent));
    assert_eq!(current(&credentials), "ya29.replacement");
    // A second 401 for the token already replaced drops nothing.
    assert!(!credentials.invalidate_if(&*sent));
}

#[test]
fn an_expired_token_is_refused_until_a_new_one_is_written() {
    let setup = setup("");
    let start = setup.clock.now();
    setup.write(&json("ya29.hour", start + Duration::from_secs(3600)));
    let credentials = setup.credentials();
    assert_eq!(current(&credentials), "ya29.hour");
    assert_eq!(
        credentials.expiry(),
        Some(start + Duration::from_secs(3600))
    );

    // The hour is over and nobody wrote a new token.
    setup.clock.advance(Duration::from_secs(3600));
    let err = block_on(credentials.access_token()).unwrap_err();
    assert_eq!(Refusal::of(&err), Some(Refusal::Expired));
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(!err.is_transient());
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "the access token in {} expired at 2026-01-01T01:00:00Z; write a new token to the file",
            setup.path.display()
        )),
        "{message}"
    );
    assert!(!message.contains("ya29.hour"), "{message}");
    assert_eq!(credentials.token_state(), TokenState::Invalid);

    // A new token is written: taken once the failure's retry interval is over.
    setup.write(&json(
        "ya29.next",
        setup.clock.now() + Duration::from_secs(3600),
    ));
    setup.clock.advance(MIN_RETRY_INTERVAL);
    assert_eq!(current(&credentials), "ya29.next");
}

#[test]
fn a_token_response_saved_as_it_came_counts_from_the_files_time() {
    let setup = setup(r#"{"access_token":"ya29.resp","expires_in":3599,"token_type":"Bearer"}"#);
    let written = setup.clock.now() - Duration::from_secs(600);
    setup.touch(written);
    let token = block_on(setup.source().fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.resp");
    assert_eq!(token.expiry(), Some(written + Duration::from_secs(3599)));
    assert_eq!(token.issued_at(), Some(written));

    // Written an hour ago: already expired.
    setup.touch(setup.clock.now() - Duration::from_secs(3599));
    let err = block_on(setup.source().fetch_token()).unwrap_err();
    assert_eq!(Refusal::of(&err), Some(Refusal::Expired));
}

#[test]
fn credkits_own_token_file_is_read() {
    // What `credkit token --output-file F` writes: the token alone, no newline.
    let setup = setup("");
    let dir = setup.path.parent().unwrap();
    let token_file = credkit_helpers_format(dir);
    let source = TokenFileSource::builder(&token_file)
        .with_clock(setup.clock.clone())
        .build()
        .unwrap();
    assert_eq!(
        block_on(source.fetch_token())
            .unwrap()
            .secret()
            .expose_secret(),
        "ya29.written-by-credkit"
    );
}

/// A file as credkit-helpers' `TokenFile::write_token` leaves it (its format, without the
/// dependency): the bare token, no newline, mode 0600.
fn credkit_helpers_format(dir: &Path) -> PathBuf {
    let path = dir.join("credkit-token");
    std::fs::write(&path, "ya29.written-by-credkit").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

#[test]
fn the_quota_project_goes_on_every_token() {
    let setup = setup("ya29.q");
    let source = TokenFileSource::builder(&setup.path)
        .with_quota_project("billing-project")
        .build()
        .unwrap();
    assert_eq!(source.quota_project(), Some("billing-project"));
    let token = block_on(source.fetch_token()).unwrap();
    assert_eq!(token.quota_project(), Some("billing-project"));
    let credentials = Credentials::new(source);
    let headers = block_on(credentials.headers()).unwrap();
    assert_eq!(headers["x-goog-user-project"], "billing-project");

    let none = TokenFileSource::builder(&setup.path)
        .with_quota_project("")
        .build()
        .unwrap();
    assert_eq!(none.quota_project(), None);
    assert_eq!(block_on(none.fetch_token()).unwrap().quota_project(), None);
}

#[test]
fn every_refusal_of_content_is_typed_and_never_quotes_it() {
    let cases: [(&str, Refusal, ErrorKind, bool); 9] = [
        ("", Refusal::Empty, ErrorKind::InvalidResponse, true),
        ("\n  \n", Refusal::Empty, ErrorKind::InvalidResponse, true),
        (
            "ya29.secret-a\nya29.secret-b\n",
            Refusal::ControlCharacter,
            ErrorKind::InvalidResponse,
            false,
        ),
        (
            "ya29.secret-é",
            Refusal::NotAscii,
            ErrorKind::InvalidResponse,
            false,
        ),
        (
            r#"{"access_token": "ya29.secret-cut"#,
            Refusal::Truncated,
            ErrorKind::InvalidResponse,
            true,
        ),
        (
            r#"{"access_token": ["ya29.secret-x"]}"#,
            Refusal::Malformed,
            ErrorKind::InvalidResponse,
            false,
        ),
        (
            r#"{"refresh_token": "ya29.secret-r"}"#,
            Refusal::NoToken,
            ErrorKind::InvalidResponse,
            false,
        ),
        (
            r#"{"access_token": "ya29.secret-e", "expiry": "soon"}"#,
            Refusal::BadExpiry,
            ErrorKind::InvalidResponse,
            false,
        ),
        (
            r#"{"access_token": "ya29.secret-o", "expiry": "2025-01-01T00:00:00Z"}"#,
            Refusal::Expired,
            ErrorKind::Configuration,
            false,
        ),
    ];
    for (content, refusal, kind, transient) in cases {
        let setup = setup(content);
        let err = block_on(setup.source().fetch_token()).unwrap_err();
        assert_eq!(Refusal::of(&err), Some(refusal), "{content:?}: {err}");
        assert_eq!(err.kind(), kind, "{content:?}");
        assert_eq!(err.is_transient(), transient, "{content:?}");
        assert!(!err.is_not_configured(), "{content:?}");
        let message = err.to_string();
        assert!(
            message.contains(&setup.path.display().to_string()),
            "{message}"
        );
        assert!(!message.contains("secret"), "{message}");
        assert!(!format!("{err:?}").contains("secret"), "{err:?}");
    }
}

#[test]
fn content_refusals_say_what_to_write() {
    let setup = setup("");
    let err = block_on(setup.source().fetch_token()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the access token file {} holds no usable access token: the token is empty; write a token to it",
            setup.path.display()
        )
    );
    setup.write("{}");
    let err = block_on(setup.source().fetch_token()).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "the JSON document has no access_token; write a bare token, or a JSON document with access_token and an RFC 3339 expiry (or expires_in)"
        ),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_a_configuration_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent");
    let err = block_on(TokenFileSource::new(&path).fetch_token()).unwrap_err();
    assert_eq!(Refusal::of(&err), Some(Refusal::Missing));
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(!err.is_transient());
    assert_eq!(
        err.to_string(),
        format!(
            "the access token file {} does not exist; write a token to it",
            path.display()
        )
    );
}

#[test]
fn a_directory_is_not_a_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = block_on(TokenFileSource::new(dir.path()).fetch_token()).unwrap_err();
    assert_eq!(Refusal::of(&err), Some(Refusal::Unreadable));
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("is not a regular file"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let err = block_on(TokenFileSource::new(&fifo).fetch_token()).unwrap_err();
    assert_eq!(Refusal::of(&err), Some(Refusal::Unreadable));
}

#[cfg(unix)]
#[test]
fn a_file_in_a_folder_that_is_a_file_cannot_be_read() {
    let setup = setup("ya29.x");
    let below = setup.path.join("token");
    let err = block_on(TokenFileSource::new(&below).fetch_token()).unwrap_err();
    assert_eq!(Refusal::of(&err), Some(Refusal::Unreadable));
    assert_eq!(err.kind(), ErrorKind::Configuration);
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "the access token file {} cannot be read (",
            below.display()
        )),
        "{message}"
    );
    assert!(
        message.ends_with("); make it readable by this user"),
        "{message}"
    );
}

#[test]
fn the_size_limit_is_exact() {
    let size = usize::try_from(MAX_FILE_SIZE).unwrap();
    let setup = setup(&"a".repeat(size));
    let token = block_on(setup.source().fetch_token()).unwrap();
    assert_eq!(token.secret().expose_secret().len(), size);

    setup.write(&"a".repeat(size + 1));
    let err = block_on(setup.source().fetch_token()).unwrap_err();
    assert_eq!(Refusal::of(&err), Some(Refusal::TooLarge));
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(
        err.to_string().contains("is larger than 65536 bytes"),
        "{err}"
    );
}

#[test]
fn building_checks_the_path_and_the_interval() {
    let err = TokenFileSource::builder("").build().unwrap_err();
    assert!(err.is_invalid_value());
    assert!(err.to_string().contains("path is empty"), "{err}");
    let err = TokenFileSource::builder("/t")
        .with_reread_interval(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(err.is_invalid_value());
    assert!(
        err.to_string().contains("re-read interval is zero"),
        "{err}"
    );
    let ok = TokenFileSource::builder("/t")
        .with_reread_interval(Duration::from_nanos(1))
        .build()
        .unwrap();
    assert_eq!(ok.reread_interval(), Duration::from_nanos(1));
}

#[test]
fn defaults_names_and_debug() {
    let source = TokenFileSource::new("/run/secrets/token");
    assert_eq!(source.path(), Path::new("/run/secrets/token"));
    assert_eq!(source.reread_interval(), DEFAULT_REREAD_INTERVAL);
    assert_eq!(DEFAULT_REREAD_INTERVAL, Duration::from_secs(60));
    assert_eq!(source.quota_project(), None);
    assert_eq!(source.name(), "access token file");
    let debug = format!("{source:?}");
    assert!(debug.starts_with("TokenFileSource {"), "{debug}");
    assert!(
        debug.contains("/run/secrets/token") && debug.contains("60s"),
        "{debug}"
    );
    let builder = TokenFileSource::builder("/b").with_quota_project("qp");
    let debug = format!("{builder:?}");
    assert!(debug.starts_with("TokenFileSourceBuilder {"), "{debug}");
    assert!(debug.contains("\"/b\"") && debug.contains("qp"), "{debug}");
}

#[test]
fn a_fetched_tokens_debug_never_shows_it() {
    let setup = setup("ya29.never-shown");
    let token = block_on(setup.source().fetch_token()).unwrap();
    assert!(!format!("{token:?}").contains("never-shown"));
    let credentials = setup.credentials();
    let _ = block_on(credentials.access_token()).unwrap();
    assert!(!format!("{credentials:?}").contains("never-shown"));
}
