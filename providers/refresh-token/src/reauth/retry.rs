//! Retries of the reauth API's requests that cannot ask the user again: `sessions:start`, sent
//! before any challenge, and a `:continue` whose answer is already in hand, sent again as it
//! is. A prompt or a challenge handler never runs twice: one refresh asks the user at most once
//! per challenge the API sends.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::BuildHasher;

use credkit_core::{Clock, Result, RetryPolicy};

/// Runs `attempt` until it succeeds, fails permanently, or `policy` has no attempt left, waiting
/// between attempts through `clock`. The last failure is returned as it is. `request` names the
/// request in the debug log (never a URL or a body).
pub(crate) async fn with_retries<T, F, Fut>(
    clock: &dyn Clock,
    policy: &RetryPolicy,
    request: &'static str,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut sent: u32 = 1;
    loop {
        match attempt().await {
            Err(err) if err.is_transient() && sent < policy.max_attempts() => {
                let wait = policy.wait_before(sent, &err, unit_random());
                tracing::debug!(
                    request,
                    attempt = sent,
                    kind = %err.kind(),
                    status = err.http_status(),
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "transient failure of a reauth request; sending it again"
                );
                clock.sleep(wait).await;
                sent += 1;
            }
            result => return result,
        }
    }
}

/// A uniformly distributed number in `0.0..1.0` for the jitter of a wait, from the standard
/// library's randomly keyed hasher (each `RandomState` gets fresh keys).
fn unit_random() -> f64 {
    let bits = RandomState::new().hash_one(0_u8);
    // The top 53 bits fill an f64 mantissa exactly.
    #[allow(clippy::cast_precision_loss)]
    let unit = (bits >> 11) as f64 / (1_u64 << 53) as f64;
    unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_random_is_in_range_and_varies() {
        let draws: Vec<f64> = (0..64).map(|_| unit_random()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)), "{draws:?}");
        assert!(draws.windows(2).any(|w| (w[0] - w[1]).abs() > f64::EPSILON));
    }

    #[test]
    fn the_policy_is_the_reference_s() {
        let policy = crate::reauth::ReauthSettings::default().retry;
        assert_eq!(policy.max_attempts(), 3);
        assert_eq!(policy.nominal_wait(1), std::time::Duration::from_secs(1));
        assert_eq!(policy.nominal_wait(2), std::time::Duration::from_secs(2));
    }
}
