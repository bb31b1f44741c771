//! The `Spawner` trait: background work without knowing the runtime; `IntoSpawner`, what
//! [`CredentialsBuilder::with_spawner`](crate::CredentialsBuilder::with_spawner) takes (a
//! spawner or a closure); `spawn_fn`, a closure made a spawner.

use std::fmt;

use futures::future::BoxFuture;

/// Runs a future in the background, on whatever runtime the application uses.
///
/// The caching layer uses it to refresh a stale token ahead of its expiry without making any
/// caller wait. A closure over the runtime's spawn function is all it takes:
/// [`CredentialsBuilder::with_spawner`](crate::CredentialsBuilder::with_spawner) takes one as it
/// is (`.with_spawner(move |f| { handle.spawn(f); })`), and [`spawn_fn`] makes one a `Spawner`
/// anywhere else. credkit itself never depends on a runtime; `credkit_tokio::TokioSpawner` is
/// the ready-made one for tokio.
///
/// References, boxes and `Arc`s of a spawner are spawners too, so an `Arc<dyn Spawner>` held
/// elsewhere can be given to `with_spawner` as it is.
///
/// # Contract
///
/// - Run the future to completion, or drop it if the runtime is shutting down; dropping it is
///   safe and leaves the caching layer usable (the next caller drives the refresh instead).
/// - Do not block the caller: return once the future is queued.
///
/// # Examples
///
/// A spawner of one's own, on any executor:
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use futures::future::BoxFuture;
/// use credkit_core::Spawner;
///
/// // Queues futures for a test to run later.
/// #[derive(Default)]
/// struct Queue(Mutex<Vec<BoxFuture<'static, ()>>>);
///
/// impl Spawner for Queue {
///     fn spawn(&self, future: BoxFuture<'static, ()>) {
///         self.0.lock().unwrap().push(future);
///     }
/// }
///
/// let queue = Arc::new(Queue::default());
/// let spawner: Arc<dyn Spawner> = queue.clone();
/// spawner.spawn(Box::pin(async {}));
/// assert_eq!(queue.0.lock().unwrap().len(), 1);
/// ```
pub trait Spawner: Send + Sync {
    /// Runs `future` in the background.
    fn spawn(&self, future: BoxFuture<'static, ()>);
}

crate::forward_impls! {
    trait Spawner {
        fn spawn(&self, future: BoxFuture<'static, ()>);
    }
}

/// A [`Spawner`] made of a closure by [`spawn_fn`].
#[derive(Clone)]
pub struct SpawnFn<F> {
    f: F,
}

/// Makes a closure that takes a `BoxFuture<'static, ()>` a [`Spawner`].
///
/// [`CredentialsBuilder::with_spawner`](crate::CredentialsBuilder::with_spawner) does this
/// itself; use it where a `Spawner` is wanted as such (an `Arc<dyn Spawner>` to share, say).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use futures::future::BoxFuture;
/// use credkit_core::{Spawner, spawn_fn};
///
/// let queue: Arc<Mutex<Vec<BoxFuture<'static, ()>>>> = Arc::default();
/// let q = Arc::clone(&queue);
/// let spawner: Arc<dyn Spawner> = Arc::new(spawn_fn(move |f| q.lock().unwrap().push(f)));
///
/// spawner.spawn(Box::pin(async {}));
/// assert_eq!(queue.lock().unwrap().len(), 1);
/// ```
pub fn spawn_fn<F>(f: F) -> SpawnFn<F>
where
    F: Fn(BoxFuture<'static, ()>) + Send + Sync,
{
    SpawnFn { f }
}

impl<F> Spawner for SpawnFn<F>
where
    F: Fn(BoxFuture<'static, ()>) + Send + Sync,
{
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        (self.f)(future);
    }
}

impl<F> fmt::Debug for SpawnFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnFn").finish_non_exhaustive()
    }
}

/// What [`CredentialsBuilder::with_spawner`](crate::CredentialsBuilder::with_spawner) takes:
/// any [`Spawner`] (`Arc<dyn Spawner>`, `Box<dyn Spawner>` and `&'static S` included), or a
/// closure `Fn(BoxFuture<'static, ()>) + Send + Sync`, made a spawner by [`spawn_fn`].
///
/// `Marker` tells the two apart ([`IsSpawner`] or [`IsClosure`]); the compiler infers it, so
/// callers never write it. A closure cannot be a `Spawner` itself: the blanket impl that would
/// make it one overlaps with the `&T` and `Box<T>` impls (a reference to a closure, and a box
/// of one, are closures too).
///
/// Sealed: the two impls below are the only ones.
///
/// ```
/// use std::sync::Arc;
/// use futures::future::BoxFuture;
/// use credkit_core::{AccessToken, Credentials, Spawner, StaticSource, spawn_fn};
///
/// let run_here = |future: BoxFuture<'static, ()>| futures::executor::block_on(future);
/// let shared: Arc<dyn Spawner> = Arc::new(spawn_fn(run_here));
///
/// // A closure, and a spawner shared as `Arc<dyn Spawner>`: both go in as they are.
/// for builder in [
///     Credentials::builder(StaticSource::new(AccessToken::new("ya29.t"))).with_spawner(run_here),
///     Credentials::builder(StaticSource::new(AccessToken::new("ya29.t"))).with_spawner(shared),
/// ] {
///     builder.build()?;
/// }
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
pub trait IntoSpawner<Marker>: sealed::Sealed<Marker> {
    /// The spawner this becomes.
    type Output: Spawner + 'static;

    /// Makes `self` a [`Spawner`].
    fn into_spawner(self) -> Self::Output;
}

/// The [`IntoSpawner`] marker of a value that is a [`Spawner`] already.
#[derive(Debug)]
pub struct IsSpawner(());

/// The [`IntoSpawner`] marker of a closure `Fn(BoxFuture<'static, ()>) + Send + Sync`.
#[derive(Debug)]
pub struct IsClosure(());

impl<S: Spawner + 'static> IntoSpawner<IsSpawner> for S {
    type Output = S;

    fn into_spawner(self) -> S {
        self
    }
}

impl<F> IntoSpawner<IsClosure> for F
where
    F: Fn(BoxFuture<'static, ()>) + Send + Sync + 'static,
{
    type Output = SpawnFn<F>;

    fn into_spawner(self) -> SpawnFn<F> {
        spawn_fn(self)
    }
}

mod sealed {
    use futures::future::BoxFuture;

    use super::{IsClosure, IsSpawner, Spawner};

    pub trait Sealed<Marker> {}

    impl<S: Spawner + 'static> Sealed<IsSpawner> for S {}

    impl<F> Sealed<IsClosure> for F where F: Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {}
}
