//! `ResponseFuture`: one request through [`Auth`](crate::Auth), and its replay after a 401.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use credkit_core::RefreshAhead;
use credkit_core::authorize::{Answer, Authorization, Authorizer, Sent, TokenWait};
use futures::future::BoxFuture;
use http::request::Parts;
use http::{Request, Response};
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
        authorizer: Authorizer,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, B>
    where
        F: Future,
    {
        // Not authorized: the inner future alone.
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
            wait: TokenWait,
            request: Option<Request<B>>,
            replay: Option<Request<B>>,
            service: Option<S>,
        },
        // The replay, authorized, waits for the service to be ready again.
        Readying {
            service: Option<S>,
            request: Option<Request<B>>,
            sent: Sent,
            ahead: Option<RefreshAhead>,
        },
        // Sent; `sent` names the token it carries, for a 401.
        Calling {
            #[pin]
            future: F,
            service: Option<S>,
            replay: Option<Request<B>>,
            sent: Sent,
            ahead: Option<RefreshAhead>,
        },
        // Answered while the refresh ahead had its grant out: that refresh finishes first.
        Finishing {
            refresh: RefreshAhead,
            output: Option<F::Output>,
            service: Option<S>,
            replay: Option<Request<B>>,
            sent: Sent,
        },
    }
}

impl<F: Future, S, B> ResponseFuture<F, S, B>
where
    S: Service<Request<B>, Future = F>,
{
    pub(crate) fn new(authorizer: Authorizer, service: S, prepared: Prepared<B>) -> Self {
        let state = match prepared {
            Prepared::Ready { request, replay } => send(&authorizer, service, request, replay),
            Prepared::Buffer { head, body, make } => State::Buffering {
                body,
                head: Some(head),
                make,
                service: Some(service),
            },
        };
        Self { state, authorizer }
    }
}

/// The first send, as the authorizer says: as it is, at once with the headers written, or
/// after waiting for a usable token.
fn send<F: Future, S, B>(
    authorizer: &Authorizer,
    mut service: S,
    mut request: Request<B>,
    replay: Option<Request<B>>,
) -> State<F, S, B>
where
    S: Service<Request<B>, Future = F>,
{
    match authorizer.authorize(&mut request) {
        Authorization::Skip => State::Direct {
            future: service.call(request),
        },
        Authorization::Ready(ready) => call(service, request, replay, ready.sent, ready.ahead),
        Authorization::Wait(wait) => State::Authorizing {
            wait,
            request: Some(request),
            replay,
            service: Some(service),
        },
    }
}

/// Sends an authorized request, keeping what a 401 needs: the service and copy for a replay,
/// if there is one.
fn call<F: Future, S, B>(
    mut service: S,
    request: Request<B>,
    replay: Option<Request<B>>,
    sent: Sent,
    ahead: Option<RefreshAhead>,
) -> State<F, S, B>
where
    S: Service<Request<B>, Future = F>,
{
    let future = service.call(request);
    State::Calling {
        future,
        service: replay.is_some().then_some(service),
        replay,
        sent,
        ahead,
    }
}

/// A request that waited for its token, now written: sent, or (the replay) readied first.
fn waited<F: Future, S, B>(
    service: S,
    request: Request<B>,
    replay: Option<Request<B>>,
    sent: Sent,
) -> State<F, S, B>
where
    S: Service<Request<B>, Future = F>,
{
    if sent.replayed() {
        State::Readying {
            service: Some(service),
            request: Some(request),
            sent,
            ahead: None,
        }
    } else {
        call(service, request, replay, sent, None)
    }
}

/// What a response means: the answer to return, or the state to go on in.
// Returned and consumed at once; boxing the state would allocate on every 401.
#[allow(clippy::large_enum_variant)]
enum Step<R, F: Future, S, B> {
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
    sent: Sent,
    authorizer: &Authorizer,
) -> Step<Response<T>, F, S, B>
where
    F: Future<Output = Result<Response<T>, E>>,
    E: Into<BoxError>,
{
    match ahead {
        Some(refresh) if refresh.must_finish() => Step::Next(State::Finishing {
            refresh,
            output: Some(output),
            service: service.take(),
            replay: replay.take(),
            sent,
        }),
        _ => answered(output, service, replay, sent, authorizer),
    }
}

/// Handles the inner service's answer as the authorizer says: returned, or replayed once with
/// a new token when a copy was kept.
fn answered<F, S, B, T, E>(
    output: Result<Response<T>, E>,
    service: &mut Option<S>,
    replay: &mut Option<Request<B>>,
    sent: Sent,
    authorizer: &Authorizer,
) -> Step<Response<T>, F, S, B>
where
    F: Future,
    E: Into<BoxError>,
{
    let response = match output {
        Ok(response) => response,
        Err(error) => return Step::Done(Err(error.into())),
    };
    let (Answer::Replay, Some(mut request), Some(service)) = (
        authorizer.answered(response.status(), sent),
        replay.take(),
        service.take(),
    ) else {
        return Step::Done(Ok(response));
    };
    Step::Next(match authorizer.authorize_replay(request.headers_mut()) {
        Authorization::Ready(ready) => State::Readying {
            service: Some(service),
            request: Some(request),
            sent: ready.sent,
            ahead: ready.ahead,
        },
        Authorization::Wait(wait) => State::Authorizing {
            wait,
            request: Some(request),
            replay: None,
            service: Some(service),
        },
        // A replay is never skipped; were it, the 401 stands.
        Authorization::Skip => return Step::Done(Ok(response)),
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
            let authorizer = &*this.authorizer;
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
                    let (Some(head), Some(service)) = (head.take(), service.take()) else {
                        return Poll::Ready(Err(broken("auth future polled after completion")));
                    };
                    let request = Request::from_parts(head, make(bytes.clone()));
                    let replay = replay::copy(&request, make(bytes));
                    send(authorizer, service, request, Some(replay))
                }
                StateProj::Authorizing {
                    wait,
                    request,
                    replay,
                    service,
                } => {
                    let token = ready!(Pin::new(wait).poll(cx)).map_err(BoxError::from)?;
                    let (Some(mut request), Some(service)) = (request.take(), service.take())
                    else {
                        return Poll::Ready(Err(broken("auth future polled after completion")));
                    };
                    let sent = token.write(request.headers_mut());
                    waited(service, request, replay.take(), sent)
                }
                StateProj::Readying {
                    service,
                    request,
                    sent,
                    ahead,
                } => {
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
                        sent: *sent,
                        ahead: ahead.take(),
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
                    match settle(output, ahead.take(), service, replay, *sent, authorizer) {
                        Step::Done(result) => return Poll::Ready(result),
                        Step::Next(next) => next,
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
                    match answered(output, service, replay, *sent, authorizer) {
                        Step::Done(result) => return Poll::Ready(result),
                        Step::Next(next) => next,
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
