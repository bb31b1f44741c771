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
    /// With a fresh token it is the inner service's future and a few fields beside it (and the
    /// copy kept for a replay): no allocation. Waiting for a token, reading a body for
    /// [`BufferBody`](crate::BufferBody), sending a replay and driving a refresh ahead each
    /// keep their state in one box while they last, so the future a caller moves around stays
    /// small.
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

/// What a replay needs: the service the request went through (tower's clone-and-swap hands the
/// readied one to the call), and the copy to send.
struct Kept<S, B> {
    service: S,
    request: Request<B>,
}

/// A request waiting for its body to be read: its head, and how to make a body of the bytes.
struct Buffered<S, B> {
    head: Parts,
    make: fn(Bytes) -> B,
    service: S,
}

/// A request waiting for a usable token, with its copy for a replay if one was kept.
struct Pending<S, B> {
    service: S,
    request: Request<B>,
    replay: Option<Request<B>>,
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
            buffered: Option<Box<Buffered<S, B>>>,
        },
        // Waiting for a usable token, before the first send or the replay.
        Authorizing { wait: TokenWait, pending: Option<Box<Pending<S, B>>> },
        // The replay, authorized, waits for its service to be ready again.
        Readying { replay: Option<Box<Kept<S, B>>>, sent: Sent, ahead: Option<RefreshAhead> },
        // Sent; `sent` names the token it carries, for a 401.
        Calling {
            #[pin]
            future: F,
            kept: Option<Kept<S, B>>,
            sent: Sent,
            ahead: Option<RefreshAhead>,
        },
        // Answered while the refresh ahead had its grant out: that refresh finishes first.
        Finishing {
            refresh: RefreshAhead,
            output: Option<F::Output>,
            kept: Option<Kept<S, B>>,
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
                buffered: Some(Box::new(Buffered {
                    head,
                    make,
                    service,
                })),
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
            pending: Some(Box::new(Pending {
                service,
                request,
                replay,
            })),
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
        kept: replay.map(|request| Kept { service, request }),
        sent,
        ahead,
    }
}

/// A request that waited for its token, now written: sent, or (the replay) readied first.
fn waited<F: Future, S, B>(pending: Pending<S, B>, sent: Sent) -> State<F, S, B>
where
    S: Service<Request<B>, Future = F>,
{
    let Pending {
        service,
        request,
        replay,
    } = pending;
    if sent.replayed() {
        State::Readying {
            replay: Some(Box::new(Kept { service, request })),
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
    kept: Option<Kept<S, B>>,
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
            kept,
            sent,
        }),
        _ => answered(output, kept, sent, authorizer),
    }
}

/// Handles the inner service's answer as the authorizer says: returned, or replayed once with
/// a new token when a copy was kept.
fn answered<F, S, B, T, E>(
    output: Result<Response<T>, E>,
    kept: Option<Kept<S, B>>,
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
    let (Answer::Replay, Some(mut kept)) = (authorizer.answered(response.status(), sent), kept)
    else {
        return Step::Done(Ok(response));
    };
    Step::Next(
        match authorizer.authorize_replay(kept.request.headers_mut()) {
            Authorization::Ready(ready) => State::Readying {
                replay: Some(Box::new(kept)),
                sent: ready.sent,
                ahead: ready.ahead,
            },
            Authorization::Wait(wait) => {
                let Kept { service, request } = kept;
                State::Authorizing {
                    wait,
                    pending: Some(Box::new(Pending {
                        service,
                        request,
                        replay: None,
                    })),
                }
            }
            // A replay is never skipped; were it, the 401 stands.
            Authorization::Skip => return Step::Done(Ok(response)),
        },
    )
}

fn broken() -> BoxError {
    Box::new(credkit_core::Error::internal(
        "auth future polled after completion",
    ))
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
                StateProj::Buffering { body, buffered } => {
                    let bytes = ready!(body.as_mut().poll(cx))?;
                    let Some(buffered) = buffered.take() else {
                        return Poll::Ready(Err(broken()));
                    };
                    let Buffered {
                        head,
                        make,
                        service,
                    } = *buffered;
                    let request = Request::from_parts(head, make(bytes.clone()));
                    let replay = replay::copy(&request, make(bytes));
                    send(authorizer, service, request, Some(replay))
                }
                StateProj::Authorizing { wait, pending } => {
                    let token = ready!(Pin::new(wait).poll(cx)).map_err(BoxError::from)?;
                    let Some(mut pending) = pending.take() else {
                        return Poll::Ready(Err(broken()));
                    };
                    let sent = token.write(pending.request.headers_mut());
                    waited(*pending, sent)
                }
                StateProj::Readying {
                    replay,
                    sent,
                    ahead,
                } => {
                    let Some(kept) = replay.as_mut() else {
                        return Poll::Ready(Err(broken()));
                    };
                    ready!(kept.service.poll_ready(cx)).map_err(Into::into)?;
                    let Some(kept) = replay.take() else {
                        return Poll::Ready(Err(broken()));
                    };
                    let Kept {
                        mut service,
                        request,
                    } = *kept;
                    State::Calling {
                        future: service.call(request),
                        kept: None,
                        sent: *sent,
                        ahead: ahead.take(),
                    }
                }
                StateProj::Calling {
                    future,
                    kept,
                    sent,
                    ahead,
                } => {
                    if let Some(refresh) = ahead
                        && Pin::new(refresh).poll(cx).is_ready()
                    {
                        *ahead = None;
                    }
                    let output = ready!(future.poll(cx));
                    match settle(output, ahead.take(), kept.take(), *sent, authorizer) {
                        Step::Done(result) => return Poll::Ready(result),
                        Step::Next(next) => next,
                    }
                }
                StateProj::Finishing {
                    refresh,
                    output,
                    kept,
                    sent,
                } => {
                    ready!(Pin::new(refresh).poll(cx));
                    let Some(output) = output.take() else {
                        return Poll::Ready(Err(broken()));
                    };
                    match answered(output, kept.take(), *sent, authorizer) {
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
