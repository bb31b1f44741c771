//! Token-state boundaries, read from a `FakeClock` (spec section 3).

use std::time::Duration;

use credkit_core::{AccessToken, Clock, REFRESH_THRESHOLD, TokenState};
use credkit_testing::FakeClock;

#[test]
fn boundaries_as_the_reference() {
    let clock = FakeClock::new();
    let expiry = clock.now() + time::Duration::hours(1);
    let token = AccessToken::new("t").with_expiry(expiry);
    let stale_point = expiry - time::Duration::seconds(225);

    clock.set(stale_point - time::Duration::seconds(1));
    assert_eq!(TokenState::of(Some(&token), &clock), TokenState::Fresh);
    clock.set(stale_point);
    assert_eq!(TokenState::of(Some(&token), &clock), TokenState::Stale);
    clock.set(expiry);
    assert_eq!(TokenState::of(Some(&token), &clock), TokenState::Invalid);
    assert_eq!(TokenState::of(None, &clock), TokenState::Invalid);
    let forever = AccessToken::new("t");
    clock.advance(Duration::from_secs(100 * 365 * 86_400));
    assert_eq!(TokenState::of(Some(&forever), &clock), TokenState::Fresh);
}

#[test]
fn reference_live_check_226_and_224_seconds() {
    let clock = FakeClock::new();
    let at = |secs| AccessToken::new("t").with_expiry(clock.now() + time::Duration::seconds(secs));
    assert_eq!(TokenState::of(Some(&at(226)), &clock), TokenState::Fresh);
    assert_eq!(TokenState::of(Some(&at(224)), &clock), TokenState::Stale);
    assert_eq!(TokenState::of(Some(&at(-1)), &clock), TokenState::Invalid);
}

#[test]
fn known_lifetime_scales_the_threshold() {
    let clock = FakeClock::new();
    let five_minutes = AccessToken::new("t").with_lifetime(clock.now(), Duration::from_secs(300));
    assert_eq!(
        five_minutes.state(clock.now(), REFRESH_THRESHOLD),
        TokenState::Fresh
    );
    clock.advance(Duration::from_secs(224));
    assert_eq!(
        five_minutes.state(clock.now(), REFRESH_THRESHOLD),
        TokenState::Fresh
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        five_minutes.state(clock.now(), REFRESH_THRESHOLD),
        TokenState::Stale
    );

    let one_hour = AccessToken::new("t").with_lifetime(clock.now(), Duration::from_secs(3600));
    clock.advance(Duration::from_secs(3600 - 225));
    assert_eq!(
        one_hour.state(clock.now(), REFRESH_THRESHOLD),
        TokenState::Stale
    );
}
