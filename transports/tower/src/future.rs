//! `ResponseFuture`: one request through [`Auth`](crate::Auth), and its replay after a 401.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use credkit_core::{Credentials, RefreshAhead, TokenState};
use futures::future::BoxFuture;
use http::header::AUTHORIZATION;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::BoxError;
use crate::replay::{self, sealed::Prepared};

pin_project! {
    /// The response future of [`Auth`](crate::Auth).
    ///
    /// With a fresh token it is the inner service's future and a few fields beside it: no
    /// allocation. Waiting for a token, reading a body for [`BufferBody`](crate::BufferBody)
    /// and driving a refresh ahead each hold one boxed future while they last.
    ///
    /// A refresh ahead it drives (a stale token, credentials without a spawner) is dropped when
    /// the response comes first, unless its grant is out: then the response waits for the
    /// grant's answer (one round trip to the token endpoint), which may rotate the refresh
    /// token, so that no refresh is left half done holding the storage's lease.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, S, B>
    where
        F: Future,
    {
        #[pin]
        state: State<F, S, B>,
        credentials: Option<Credentials>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, B>
    where
        F: Future,
    {
        // Not authorized by this layer: the inner future alone.
        Direct { #[pin] future: F },
        // Reading the body, for a replay.
        Buffering {
            body: BoxFuture<'static, Result<Bytes, BoxError>>,
            head: Option<Parts>,
            make: fn(Bytes) -> B,
            service: Option<S>,
        },
        // Waiting for a usable token, before the first send or the replay.
        Authorizing {
            headers: BoxFuture<'static, credkit_core::Result<HeaderMap>>,
            request: Option<Request<B>>,
            replay: Option<Request<B>>,
            service: Option<S>,
            replaying: bool,
        },
        // The replay waits for the service to be ready again.
        Readying { service: Option<S>, request: Option<Request<B>> },
        // Sent; `sent` is the authorization value, to drop on a 401.
        Calling {
            #[pin]
            future: F,
            service: Option<S>,
            replay: Option<Request<B>>,
            sent: Option<HeaderValue>,
            ahead: Option<RefreshAhead>,
        },
        // Answered while the refresh ahead had its grant out: that refresh finishes first.
        Finishing {
            refresh: RefreshAhead,
            output: Option<F::Output>,
            service: Option<S>,
            replay: Option<Request<B>>,
            sent: Option<HeaderValue>,
        },
    }
}

impl<F: Future, S, B> ResponseFuture<F, S, B> {
    pub(crate) fn direct(future: F) -> Self {
        Self {
            state: State::Direct { future },
            credentials: None,
        }
    }
}

impl<F: Future, S, B> ResponseFuture<F, S, B>
where
    S: Service<Request<B>, Future = F>,
{
    pub(crate) fn new(credentials: Credentials, service: S, prepared: Prepared<B>) -> Self {
        let state = match prepared {
            Prepared::Ready { request, replay } => send(&credentials, service, request, replay),
            Prepared::Buffer { head, body, make } => State::Buffering {
                body,
                head: Some(head),
                make,
                service: Some(service),
            },
        };
        Self {
            state,
            credentials: Some(credentials),
        }
    }
}

/// The first send: with the cached token at once when it is fresh or stale (a stale one also
/// starts the refresh ahead), or after waiting for a usable one.
fn send<F: Future, S, B>(
    credentials: &Credentials,
    service: S,
    mut request: Request<B>,
    replay: Option<Request<B>>,
) -> State<F, S, B>
where
    S: Service<Request<B>, Future = F>,
{
    match credentials.apply(request.headers_mut()) {
        Ok(state) => {
            let ahead = if state == TokenState::Stale {
                credentials.refresh_ahead()
            } else {
                None
            };
            call(service, request, replay, ahead)
        }
        Err(_) => State::Authorizing {
            headers: usable_headers(credentials),
            request: Some(request),
            replay,
            service: Some(service),
            replaying: false,
        },
    }
}

/// Sends an authorized request, keeping what a 401 needs: the value sent, and the service and
/// copy for a replay if there is one.
fn call<F: Future, S, B>(
    mut service: S,
    request: Request<B>,
    replay: Option<Request<B>>,
    ahead: Option<RefreshAhead>,
) -> State<F, S, B>
where
    S: Service<Request<B>, Future = F>,
{
    let sent = request.headers().get(AUTHORIZATION).cloned();
    let future = service.call(request);
    State::Calling {
        future,
        service: replay.is_some().then_some(service),
        replay,
        sent,
        ahead,
    }
}

/// Waits for a usable token (joining the one refresh) and returns its headers.
fn usable_headers(
    credentials: &Credentials,
) -> BoxFuture<'static, credkit_core::Result<HeaderMap>> {
    let credentials = credentials.clone();
    Box::pin(async move { credentials.headers().await })
}

/// What a response means: the answer to return, or the state to go on in.
// Returned and consumed at once; boxing the state would allocate on every 401.
#[allow(clippy::large_enum_variant)]
enum Answer<R, F: Future, S, B> {
    Done(Result<R, BoxError>),
    Next(State<F, S, B>),
}

/// The inner service answered: if the refresh ahead beside it has its grant out, that refresh
/// finishes first (its answer may rotate the refresh token); otherwise it is dropped, which
/// loses nothing, and the answer is handled.
fn settle<F, S, B, T, E>(
    output: Result<Response<T>, E>,
    ahead: Option<RefreshAhead>,
    service: &mut Option<S>,
    replay: &mut Option<Request<B>>,
    sent: &mut Option<HeaderValue>,
    credentials: Option<&Credentials>,
) -> Answer<Response<T>, F, S, B>
where
    F: Future<Output = Result<Response<T>, E>>,
    E: Into<BoxError>,
{
    match ahead {
        Some(refresh) if refresh.must_finish() => Answer::Next(State::Finishing {
            refresh,
            output: Some(output),
            service: service.take(),
            replay: replay.take(),
            sent: sent.take(),
        }),
        _ => answered(output, service, replay, sent, credentials),
    }
}

/// Handles the inner service's answer: anything but a 401 is returned; a 401 drops the token
/// that was sent (the first of many such requests does) and replays the request once if it can.
fn answered<F, S, B, T, E>(
    output: Result<Response<T>, E>,
    service: &mut Option<S>,
    replay: &mut Option<Request<B>>,
    sent: &mut Option<HeaderValue>,
    credentials: Option<&Credentials>,
) -> Answer<Response<T>, F, S, B>
where
    F: Future,
    E: Into<BoxError>,
{
    let response = match output {
        Ok(response) => response,
        Err(error) => return Answer::Done(Err(error.into())),
    };
    if response.status() != StatusCode::UNAUTHORIZED {
        return Answer::Done(Ok(response));
    }
    let (Some(sent), Some(credentials)) = (sent.take(), credentials) else {
        return Answer::Done(Ok(response));
    };
    // Only the first of many requests rejected with this token drops it.
    credentials.invalidate_if(&sent);
    let (Some(replay), Some(service)) = (replay.take(), service.take()) else {
        return Answer::Done(Ok(response));
    };
    Answer::Next(State::Authorizing {
        headers: usable_headers(credentials),
        request: Some(replay),
        replay: None,
        service: Some(service),
        replaying: true,
    })
}

fn broken(what: &str) -> BoxError {
    Box::new(credkit_core::Error::internal(what))
}

impl<F, S, B, ResBody, E> Future for ResponseFuture<F, S, B>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    S: Service<Request<B>, Future = F, Response = Response<ResBody>, Error = E>,
    E: Into<BoxError>,
{
    type Output = Result<Response<ResBody>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let this = self.as_mut().project();
            let mut state = this.state;
            let next = match state.as_mut().project() {
                StateProj::Direct { future } => return future.poll(cx).map_err(Into::into),
                StateProj::Buffering {
                    body,
                    head,
                    make,
                    service,
                } => {
                    let bytes = ready!(body.as_mut().poll(cx))?;
                    let (Some(head), Some(service), Some(credentials)) =
                        (head.take(), service.take(), this.credentials.as_ref())
                    else {
                        return Poll::Ready(Err(broken("auth future polled after completion")));
                    };
                    let request = Request::from_parts(head, make(bytes.clone()));
                    let replay = replay::copy(&request, make(bytes));
                    send(credentials, service, request, Some(replay))
                }
                StateProj::Authorizing {
                    headers,
                    request,
                    replay,
                    service,
                    replaying,
                } => {
                    let values = ready!(headers.as_mut().poll(cx)).map_err(BoxError::from)?;
                    let (Some(mut request), Some(service)) = (request.take(), service.take())
                    else {
                        return Poll::Ready(Err(broken("auth future polled after completion")));
                    };
                    for (name, value) in &values {
                        request.headers_mut().insert(name.clone(), value.clone());
                    }
                    if *replaying {
                        State::Readying {
                            service: Some(service),
                            request: Some(request),
                        }
                    } else {
                        call(service, request, replay.take(), None)
                    }
                }
                StateProj::Readying { service, request } => {
                    let Some(ready_service) = service.as_mut() else {
                        return Poll::Ready(Err(broken("auth future polled after completion")));
                    };
                    ready!(ready_service.poll_ready(cx)).map_err(Into::into)?;
                    let (Some(mut service), Some(request)) = (service.take(), request.take())
                    else {
                        return Poll::Ready(Err(broken("auth future polled after completion")));
                    };
                    State::Calling {
                        future: service.call(request),
                        service: None,
                        replay: None,
                        sent: None,
                        ahead: None,
                    }
                }
                StateProj::Calling {
                    future,
                    service,
                    replay,
                    sent,
                    ahead,
                } => {
                    if let Some(refresh) = ahead
                        && Pin::new(refresh).poll(cx).is_ready()
                    {
                        *ahead = None;
                    }
                    let output = ready!(future.poll(cx));
                    let credentials = this.credentials.as_ref();
                    match settle(output, ahead.take(), service, replay, sent, credentials) {
                        Answer::Done(result) => return Poll::Ready(result),
                        Answer::Next(next) => next,
                    }
                }
                StateProj::Finishing {
                    refresh,
                    output,
                    service,
                    replay,
                    sent,
                } => {
                    ready!(Pin::new(refresh).poll(cx));
                    let Some(output) = output.take() else {
                        return Poll::Ready(Err(broken("auth future polled after completion")));
                    };
                    match answered(output, service, replay, sent, this.credentials.as_ref()) {
                        Answer::Done(result) => return Poll::Ready(result),
                        Answer::Next(next) => next,
                    }
                }
            };
            state.set(next);
        }
    }
}

impl<F: Future, S, B> fmt::Debug for ResponseFuture<F, S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Direct { .. } => "direct",
            State::Buffering { .. } => "buffering",
            State::Authorizing { .. } => "authorizing",
            State::Readying { .. } => "readying",
            State::Calling { .. } => "calling",
            State::Finishing { .. } => "finishing",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
