//! The loopback redirect listener (RFC 8252 section 7.3): a socket on 127.0.0.1 that waits for
//! the browser to bring the authorization response back.
//!
//! It needs no async runtime: one thread accepts connections, and each connection (at most
//! [`MAX_CONNECTIONS`] at once: browsers open spare ones that never send anything) is read on
//! a thread of its own, with read and write timeouts. The first request that is the redirect
//! ends the wait, and is handed to the awaiting future through a channel; the page the browser
//! is shown waits for the code exchange, so it tells the truth. Dropping the [`Listener`]
//! stops the accept thread (woken by a connection of its own) and closes the socket.

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use credkit_core::Result;
use credkit_core::endpoint::is_loopback_host;
use futures::channel::oneshot;
use secrecy::SecretString;

use crate::error;
use crate::redirect::{self, MAX_TARGET_BYTES, Outcome, Page};

/// The most connections read at once.
pub(crate) const MAX_CONNECTIONS: usize = 16;

/// How long a connection may take to send its request, and to take its page.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection that brought the code waits for the exchange's outcome before it
/// shows the "finished" page.
const EXCHANGE_WAIT: Duration = Duration::from_secs(120);

/// The most a request head may hold.
const MAX_HEAD_BYTES: usize = MAX_TARGET_BYTES + 8 * 1024;

/// The redirect, as the awaiting future receives it.
pub(crate) enum Arrival {
    /// The code; the page waits for the exchange's outcome on `page`, and `written` fires
    /// once the browser has it.
    Code {
        code: SecretString,
        page: SyncSender<Page>,
        written: oneshot::Receiver<()>,
    },
    /// The login failed; the browser already has its page.
    Failed(credkit_core::Error),
}

/// A listening loopback socket and its accept thread.
#[derive(Debug)]
pub(crate) struct Listener {
    local: SocketAddr,
    shared: Arc<Shared>,
    accepting: Option<thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    path: String,
    state: String,
    stop: AtomicBool,
    open: AtomicUsize,
    sender: Mutex<Option<oneshot::Sender<Arrival>>>,
}

impl Listener {
    /// Listens on `addr` for the redirect to `path` carrying `state`.
    ///
    /// # Errors
    ///
    /// A configuration error naming the address when it is in use or cannot be bound.
    pub(crate) fn bind(
        addr: SocketAddr,
        path: String,
        state: String,
    ) -> Result<(Self, oneshot::Receiver<Arrival>)> {
        let socket = TcpListener::bind(addr).map_err(|err| error::cannot_listen(addr, &err))?;
        let local = socket
            .local_addr()
            .map_err(|err| error::cannot_listen(addr, &err))?;
        let (sender, receiver) = oneshot::channel();
        let shared = Arc::new(Shared {
            path,
            state,
            stop: AtomicBool::new(false),
            open: AtomicUsize::new(0),
            sender: Mutex::new(Some(sender)),
        });
        let serving = Arc::clone(&shared);
        let accepting = thread::Builder::new()
            .name("credkit-login-listener".to_owned())
            .spawn(move || accept(&socket, &serving))
            .map_err(|err| error::cannot_listen(addr, &err))?;
        Ok((
            Self {
                local,
                shared,
                accepting: Some(accepting),
            },
            receiver,
        ))
    }

    /// The address it listens on (with the port the system chose).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        // Wakes the accept thread, which sees the flag and returns, closing the socket; joined,
        // so the port is closed when the drop returns (it takes that thread one accept).
        // Should the connection fail, the thread ends at the next connection anyone makes.
        let woken = TcpStream::connect_timeout(&self.local, Duration::from_secs(1)).is_ok();
        if let Some(accepting) = self.accepting.take().filter(|_| woken) {
            let _ = accepting.join();
        }
    }
}

fn accept(socket: &TcpListener, shared: &Arc<Shared>) {
    for stream in socket.incoming() {
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let Ok(stream) = stream else {
            // Out of file descriptors, say: give the system a moment rather than spin.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        if shared.open.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            shared.open.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let connection = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("credkit-login-connection".to_owned())
            .spawn(move || {
                serve(stream, &connection);
                connection.open.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            shared.open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Reads one request and answers it.
fn serve(mut stream: TcpStream, shared: &Shared) {
    // Setting a timeout fails only for a zero duration.
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let target = match read_request(&mut stream) {
        Ok(Some(Request::Get(target))) => target,
        Ok(Some(Request::Refused)) => {
            let _ = write_page(&mut stream, Page::BadRequest);
            return;
        }
        // Closed without a request (a browser's spare connection), or a read error.
        Ok(None) | Err(_) => return,
    };
    let outcome = redirect::judge(&target, &shared.path, &shared.state);
    if matches!(outcome, Outcome::Elsewhere) {
        let _ = write_page(&mut stream, Page::NotFound);
        return;
    }
    // The first redirect wins; any later request is told the login is over.
    let sender = shared
        .sender
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let Some(sender) = sender else {
        let _ = write_page(&mut stream, Page::Finished);
        return;
    };
    match outcome {
        Outcome::Code(code) => {
            let (page_tx, page_rx) = mpsc::sync_channel(1);
            let (written_tx, written_rx) = oneshot::channel();
            let arrival = Arrival::Code {
                code,
                page: page_tx,
                written: written_rx,
            };
            if sender.send(arrival).is_err() {
                let _ = write_page(&mut stream, Page::Finished);
                return;
            }
            let page = match page_rx.recv_timeout(EXCHANGE_WAIT) {
                Ok(page) => page,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => Page::Finished,
            };
            let _ = write_page(&mut stream, page);
            let _ = written_tx.send(());
        }
        Outcome::Failed(err, page) => {
            // The page first: the caller may end the process as soon as it has the error.
            let _ = write_page(&mut stream, page);
            let _ = sender.send(Arrival::Failed(err));
        }
        Outcome::Elsewhere => {}
    }
}

/// A request head, read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// A GET of this target, from a loopback `Host`.
    Get(String),
    /// Another method, another `Host`, a target too long, or a head that is not HTTP.
    Refused,
}

/// Reads a request head; `None` when the connection closes before one arrives.
fn read_request(stream: &mut TcpStream) -> io::Result<Option<Request>> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0_u8; 1024];
    loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(chunk.get(..read).unwrap_or_default());
        if let Some(request) = parse_head(&buffer) {
            return Ok(Some(request));
        }
    }
}

/// What the bytes read so far make: `None` while the head is incomplete (and under
/// [`MAX_HEAD_BYTES`]); a GET of a target from a loopback `Host`; or a refusal.
pub(crate) fn parse_head(buffer: &[u8]) -> Option<Request> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buffer) {
        Ok(httparse::Status::Complete(_)) => Some(judge_head(&request)),
        Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD_BYTES => None,
        Ok(httparse::Status::Partial) | Err(_) => Some(Request::Refused),
    }
}

fn judge_head(request: &httparse::Request<'_, '_>) -> Request {
    let (Some("GET"), Some(target)) = (request.method, request.path) else {
        return Request::Refused;
    };
    if target.len() > MAX_TARGET_BYTES || !target.starts_with('/') {
        return Request::Refused;
    }
    // A page elsewhere that resolves its own name to 127.0.0.1 (DNS rebinding) sends its own
    // name as the Host: only loopback names are served.
    let host_ok = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("host"))
        .is_none_or(|h| {
            std::str::from_utf8(h.value)
                .ok()
                .and_then(|host| url::Url::parse(&format!("http://{host}/")).ok())
                .is_some_and(|url| url.host_str().is_some_and(is_loopback_host))
        });
    if host_ok {
        Request::Get(target.to_owned())
    } else {
        Request::Refused
    }
}

fn write_page(stream: &mut TcpStream, page: Page) -> io::Result<()> {
    let (status, _, _) = page.parts();
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let body = page.html();
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Cache-Control: no-store\r\n\
         Referrer-Policy: no-referrer\r\n\
         X-Content-Type-Options: nosniff\r\n\
         X-Frame-Options: DENY\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()?;
    stream.shutdown(Shutdown::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Option<Request> {
        parse_head(text.as_bytes())
    }

    #[test]
    fn a_get_from_a_loopback_host_is_served() {
        for host in [
            "127.0.0.1:4242",
            "localhost:4242",
            "[::1]:4242",
            "LOCALHOST",
        ] {
            assert_eq!(
                head(&format!("GET /?code=c HTTP/1.1\r\nHost: {host}\r\n\r\n")),
                Some(Request::Get("/?code=c".to_owned())),
                "{host}"
            );
        }
        // HTTP/1.0 without a Host is a loopback client too.
        assert_eq!(
            head("GET / HTTP/1.0\r\n\r\n"),
            Some(Request::Get("/".to_owned()))
        );
    }

    #[test]
    fn an_incomplete_head_waits_until_the_limit() {
        assert_eq!(head("GET / HTTP/1.1\r\nHost: 127.0.0.1"), None);
        assert_eq!(head(""), None);
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(head(&long), Some(Request::Refused));
        let just_under = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD_BYTES - 30));
        assert_eq!(head(&just_under), None);
    }

    #[test]
    fn a_head_of_up_to_sixteen_kib_is_read_and_a_target_of_up_to_eight() {
        // A browser's head with a long query and its usual headers.
        let target = format!("/?state=s&code={}", "c".repeat(8_000));
        let headers = format!("X-Browser-Header: {}\r\n", "h".repeat(230)).repeat(20);
        let text = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n");
        assert!(text.len() > 12 * 1024 && text.len() < 16 * 1024);
        assert!(
            head(&text) == Some(Request::Get(target)),
            "a long head is refused"
        );
        // At the limit exactly, an unfinished head is refused.
        let partial = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(16 * 1024));
        assert_eq!(head(&partial[..MAX_HEAD_BYTES]), Some(Request::Refused));
        assert_eq!(head(&partial[..MAX_HEAD_BYTES - 1]), None);
        assert_eq!(MAX_HEAD_BYTES, 16 * 1024);
        assert_eq!(MAX_TARGET_BYTES, 8 * 1024);
    }

    #[test]
    fn other_methods_hosts_and_targets_are_refused() {
        for text in [
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: 127.0.0.1.evil.example\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: \u{ff}\r\n\r\n",
            "GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "GET * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "HELLO\r\n\r\n",
        ] {
            assert_eq!(head(text), Some(Request::Refused), "{text:?}");
        }
        let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_TARGET_BYTES));
        assert_eq!(head(&long_target), Some(Request::Refused));
        let max_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_TARGET_BYTES - 1));
        assert!(matches!(head(&max_target), Some(Request::Get(_))));
    }
}
