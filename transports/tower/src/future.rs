//! `ResponseFuture`: one request through [`Auth`](crate::Auth), and its replay after a 401.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use credkit_core::{Credentials, TokenState};
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
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, S, B> {
        #[pin]
        state: State<F, S, B>,
        credentials: Option<Credentials>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, B> {
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
            ahead: Option<BoxFuture<'static, ()>>,
        },
    }
}

impl<F, S, B> ResponseFuture<F, S, B> {
    pub(crate) fn direct(future: F) -> Self {
        Self {
            state: State::Direct { future },
            credentials: None,
        }
    }
}

impl<F, S, B> ResponseFuture<F, S, B>
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
fn send<F, S, B>(
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
            let ahead = (state == TokenState::Stale).then(|| refresh_ahead(credentials));
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
fn call<F, S, B>(
    mut service: S,
    request: Request<B>,
    replay: Option<Request<B>>,
    ahead: Option<BoxFuture<'static, ()>>,
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

/// Drives the refresh of a stale token alongside the request, for credentials without a
/// spawner; with one, or when another request drives it, this ends at once. Dropping it when
/// the response comes first cancels nothing: the next request takes the refresh over.
fn refresh_ahead(credentials: &Credentials) -> BoxFuture<'static, ()> {
    let credentials = credentials.clone();
    Box::pin(async move {
        // A failed refresh ahead keeps the cached token; the credentials report and pace it.
        let _ = credentials.before_request(&mut HeaderMap::new()).await;
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
                        && refresh.as_mut().poll(cx).is_ready()
                    {
                        *ahead = None;
                    }
                    let response = ready!(future.poll(cx)).map_err(Into::into)?;
                    if response.status() != StatusCode::UNAUTHORIZED {
                        return Poll::Ready(Ok(response));
                    }
                    let (Some(sent), Some(credentials)) = (sent.take(), this.credentials.as_ref())
                    else {
                        return Poll::Ready(Ok(response));
                    };
                    // Only the first of many requests rejected with this token drops it.
                    credentials.invalidate_if(&sent);
                    let (Some(replay), Some(service)) = (replay.take(), service.take()) else {
                        return Poll::Ready(Ok(response));
                    };
                    State::Authorizing {
                        headers: usable_headers(credentials),
                        request: Some(replay),
                        replay: None,
                        service: Some(service),
                        replaying: true,
                    }
                }
            };
            state.set(next);
        }
    }
}

impl<F, S, B> fmt::Debug for ResponseFuture<F, S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Direct { .. } => "direct",
            State::Buffering { .. } => "buffering",
            State::Authorizing { .. } => "authorizing",
            State::Readying { .. } => "readying",
            State::Calling { .. } => "calling",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
