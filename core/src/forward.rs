//! `forward_impls!`: the `&T`, `Box<T>` and `Arc<T>` impls of a trait, written once.

/// Implements a trait for `&T`, `Box<T>` and `Arc<T>` wherever `T: Trait + ?Sized`, each
/// method forwarding to `(**self)`.
///
/// So a reference, a box or an `Arc` of an implementation is one too, `Arc<dyn Trait>`
/// included: a builder that takes `impl Trait + 'static` accepts the `Arc<dyn Trait>` a caller
/// already shares. Every credkit trait gets its forwarding impls from this macro, and a plugin
/// crate can use it for traits of its own.
///
/// The input repeats the trait's method signatures:
///
/// - **Every method, the provided ones too.** A method left out is not forwarded: the
///   wrapper runs the trait's default instead of the wrapped value's own version. clippy's
///   `missing_trait_methods` lint is denied on the impls this macro writes, which catches an
///   omission in credkit-core itself; clippy does not lint what another crate's macro wrote,
///   so elsewhere the check is a test that calls every method through a wrapper.
/// - **`&self` receivers only**, with any arguments (`name: Type`), and an optional return
///   type. Methods that take `self`, `&mut self` or `self: Box<Self>` cannot forward through
///   a shared reference or an `Arc`, so a trait with one is not a candidate.
/// - **Attributes** on a method (`#[inline]`, doc comments) are copied onto each forwarding
///   method.
/// - **`async fn`** methods of an `#[async_trait]` trait: put `#[async_trait]` (or
///   `#[async_trait(?Send)]`) before `trait`, as on the trait itself. The macro names
///   async-trait through credkit-core, so the calling crate need not depend on it for the
///   impls.
///
/// # Examples
///
/// A synchronous trait with a provided method:
///
/// ```
/// use std::sync::Arc;
///
/// pub trait Greeter: Send + Sync {
///     fn name(&self) -> String;
///
///     #[inline]
///     fn greeting(&self, punctuation: char) -> String {
///         format!("Hello, {}{punctuation}", self.name())
///     }
/// }
///
/// credkit_core::forward_impls! {
///     trait Greeter {
///         fn name(&self) -> String;
///         #[inline]
///         fn greeting(&self, punctuation: char) -> String;
///     }
/// }
///
/// struct Loud;
///
/// impl Greeter for Loud {
///     fn name(&self) -> String {
///         "world".to_owned()
///     }
///     fn greeting(&self, punctuation: char) -> String {
///         format!("HELLO, WORLD{punctuation}")
///     }
/// }
///
/// let shared: Arc<dyn Greeter> = Arc::new(Loud);
/// let boxed: Box<dyn Greeter> = Box::new(Loud);
/// assert_eq!(shared.greeting('!'), "HELLO, WORLD!"); // Loud's own, not the default
/// assert_eq!((&boxed).greeting('?'), "HELLO, WORLD?");
///
/// fn takes(greeter: impl Greeter + 'static) -> String {
///     greeter.name()
/// }
/// assert_eq!(takes(Arc::clone(&shared)), "world");
/// ```
///
/// An `#[async_trait]` trait, mixing `async fn` and `fn`:
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use credkit_core::Result;
///
/// #[async_trait]
/// pub trait Directory: Send + Sync {
///     async fn lookup(&self, user: &str, domain: &str) -> Result<Option<String>>;
///
///     fn is_cached(&self) -> bool {
///         false
///     }
/// }
///
/// credkit_core::forward_impls! {
///     #[async_trait]
///     trait Directory {
///         async fn lookup(&self, user: &str, domain: &str) -> Result<Option<String>>;
///         fn is_cached(&self) -> bool;
///     }
/// }
///
/// struct Fixed;
///
/// #[async_trait]
/// impl Directory for Fixed {
///     async fn lookup(&self, user: &str, domain: &str) -> Result<Option<String>> {
///         Ok(Some(format!("{user}@{domain}")))
///     }
///     fn is_cached(&self) -> bool {
///         true
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let directory: Arc<dyn Directory> = Arc::new(Fixed);
/// assert_eq!(directory.lookup("ada", "example.com").await?.as_deref(), Some("ada@example.com"));
/// assert!(directory.is_cached());
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[macro_export]
macro_rules! forward_impls {
    // Entry: an `#[async_trait]` trait.
    (
        #[async_trait $(($($async_args:tt)*))?]
        trait $trait:path { $($methods:tt)* }
    ) => {
        $crate::forward_impls!(
            @munch
            [#[$crate::__private::async_trait $(($($async_args)*))?]]
            [$trait]
            []
            $($methods)*
        );
    };
    // Entry: a trait of plain `fn`s.
    (trait $trait:path { $($methods:tt)* }) => {
        $crate::forward_impls!(@munch [] [$trait] [] $($methods)*);
    };

    // One `async fn` forwarded, with `.await`.
    (
        @munch [$($attr:tt)*] [$trait:path] [$($done:tt)*]
        $(#[$meta:meta])*
        async fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) $(-> $ret:ty)?;
        $($rest:tt)*
    ) => {
        $crate::forward_impls!(
            @munch [$($attr)*] [$trait]
            [
                $($done)*
                $(#[$meta])*
                async fn $name(&self $(, $arg: $ty)*) $(-> $ret)? {
                    (**self).$name($($arg),*).await
                }
            ]
            $($rest)*
        );
    };
    // One `fn` forwarded.
    (
        @munch [$($attr:tt)*] [$trait:path] [$($done:tt)*]
        $(#[$meta:meta])*
        fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) $(-> $ret:ty)?;
        $($rest:tt)*
    ) => {
        $crate::forward_impls!(
            @munch [$($attr)*] [$trait]
            [
                $($done)*
                $(#[$meta])*
                fn $name(&self $(, $arg: $ty)*) $(-> $ret)? {
                    (**self).$name($($arg),*)
                }
            ]
            $($rest)*
        );
    };
    // Every method forwarded: the three impls, each complete before an attribute macro
    // (async-trait) reads it.
    (@munch [$($attr:tt)*] [$trait:path] [$($done:tt)*]) => {
        $($attr)*
        #[deny(clippy::missing_trait_methods)]
        impl<T: $trait + ?Sized> $trait for &T {
            $($done)*
        }

        $($attr)*
        #[deny(clippy::missing_trait_methods)]
        impl<T: $trait + ?Sized> $trait for ::std::boxed::Box<T> {
            $($done)*
        }

        $($attr)*
        #[deny(clippy::missing_trait_methods)]
        impl<T: $trait + ?Sized> $trait for ::std::sync::Arc<T> {
            $($done)*
        }
    };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;

    // A trait of both kinds of method, provided ones among them, and an implementation that
    // overrides every one: the forwarding impls must reach the overrides.
    #[async_trait]
    trait Both: Send + Sync {
        async fn fetch(&self, a: u32, b: &str) -> String;
        async fn provided_async(&self) -> u32 {
            0
        }
        fn plain(&self) -> u32;
        #[inline]
        fn provided(&self, x: u32) -> u32 {
            x
        }
    }

    crate::forward_impls! {
        #[async_trait]
        trait Both {
            async fn fetch(&self, a: u32, b: &str) -> String;
            async fn provided_async(&self) -> u32;
            fn plain(&self) -> u32;
            #[inline]
            fn provided(&self, x: u32) -> u32;
        }
    }

    struct Own;

    #[async_trait]
    impl Both for Own {
        async fn fetch(&self, a: u32, b: &str) -> String {
            format!("{a}{b}")
        }
        async fn provided_async(&self) -> u32 {
            7
        }
        fn plain(&self) -> u32 {
            1
        }
        fn provided(&self, x: u32) -> u32 {
            x + 100
        }
    }

    fn check(value: &(impl Both + ?Sized)) {
        futures::executor::block_on(async {
            assert_eq!(value.fetch(4, "2").await, "42");
            assert_eq!(value.provided_async().await, 7);
        });
        assert_eq!(value.plain(), 1);
        assert_eq!(value.provided(1), 101);
    }

    #[test]
    fn references_boxes_and_arcs_reach_the_implementation() {
        let own = Own;
        check(&&own);
        check(&Box::new(Own));
        check(&Arc::new(Own));
        let shared: Arc<dyn Both> = Arc::new(Own);
        check(&shared);
        check(&&shared);
        let boxed: Box<dyn Both> = Box::new(Own);
        check(&boxed);
        check(&Arc::new(boxed));
    }

    // A trait of plain `fn`s, none of them returning anything.
    trait Sync0: Send + Sync {
        fn touch(&self, counter: &std::sync::atomic::AtomicU32);
    }

    crate::forward_impls! {
        trait Sync0 {
            fn touch(&self, counter: &std::sync::atomic::AtomicU32,);
        }
    }

    impl Sync0 for Own {
        fn touch(&self, counter: &std::sync::atomic::AtomicU32) {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn a_plain_trait_forwards() {
        let counter = std::sync::atomic::AtomicU32::new(0);
        let own = Own;
        Sync0::touch(&&own, &counter);
        Box::new(Own).touch(&counter);
        Arc::new(Own).touch(&counter);
        let shared: Arc<dyn Sync0> = Arc::new(Own);
        shared.touch(&counter);
        assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), 4);
    }
}
