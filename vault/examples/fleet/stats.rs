//! The benchmark's arithmetic: a small PRNG, a Zipf sampler, a latency histogram, the touch
//! bitmaps and the expiry windows computed from them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// xorshift64*: fast, good enough to pick users.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        // SplitMix64 of the seed: no zero state, seeds 0, 1, 2... far apart.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Self((z ^ (z >> 31)) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
}

/// Zipf over ranks `0..n`: P(k) ∝ 1 / (k + 1)^s, by inversion of the cumulative weights.
#[derive(Debug)]
pub(crate) struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    pub(crate) fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let mut cumulative = Vec::with_capacity(n);
        for k in 0..n {
            total += 1.0 / ((k + 1) as f64).powf(s);
            cumulative.push(total);
        }
        for weight in &mut cumulative {
            *weight /= total;
        }
        Self { cumulative }
    }

    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cumulative
            .partition_point(|&c| c < u)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

/// Sub-buckets per power of two (about 6 % resolution).
const SUB: u32 = 16;
const BUCKETS: usize = 64 * SUB as usize;

/// A log-linear histogram of nanoseconds.
#[derive(Clone, Debug)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
        }
    }
}

impl Histogram {
    fn bucket(nanos: u64) -> usize {
        let v = nanos.max(1);
        let exp = v.ilog2();
        let sub = if exp >= 4 {
            (v >> (exp - 4)) & u64::from(SUB - 1)
        } else {
            (v << (4 - exp)) & u64::from(SUB - 1)
        };
        (exp * SUB) as usize + sub as usize
    }

    /// The bucket's lower bound, in nanoseconds.
    fn value(bucket: usize) -> u64 {
        let (exp, sub) = (bucket as u32 / SUB, bucket as u64 % u64::from(SUB));
        if exp >= 4 {
            (u64::from(SUB) + sub) << (exp - 4)
        } else {
            (u64::from(SUB) + sub) >> (4 - exp)
        }
    }

    pub(crate) fn record(&mut self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::bucket(nanos)] += 1;
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The `q` quantile (0..=1).
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        let total = self.count();
        if total == 0 {
            return Duration::ZERO;
        }
        let rank = ((total as f64 * q).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_nanos(Self::value(bucket));
            }
        }
        Duration::ZERO
    }

    /// Non-empty buckets as `bucket:count` pairs, for the worker's report line.
    pub(crate) fn encode(&self) -> String {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(bucket, count)| format!("{bucket}:{count}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub(crate) fn decode(text: &str) -> Self {
        let mut histogram = Self::default();
        for pair in text.split(',') {
            if let Some((bucket, count)) = pair.split_once(':')
                && let (Ok(bucket), Ok(count)) = (bucket.parse::<usize>(), count.parse::<u64>())
                && bucket < BUCKETS
            {
                histogram.counts[bucket] += count;
            }
        }
        histogram
    }
}

/// The time quantum of the touch bitmaps.
pub(crate) const QUANTUM: Duration = Duration::from_millis(100);

/// Which quanta of the run each user was called in.
#[derive(Debug)]
pub(crate) struct Touches {
    words: usize,
    bits: Vec<AtomicU64>,
}

impl Touches {
    pub(crate) fn new(users: usize, run: Duration) -> Self {
        let quanta = (run.as_millis() / QUANTUM.as_millis()) as usize + 20;
        let words = quanta.div_ceil(64);
        Self {
            words,
            bits: (0..users * words).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(crate) fn touch(&self, user: usize, since_start: Duration) {
        let quantum = (since_start.as_millis() / QUANTUM.as_millis()) as usize;
        let word = (quantum / 64).min(self.words - 1);
        if let Some(bits) = self.bits.get(user * self.words + word) {
            bits.fetch_or(1 << (quantum % 64), Ordering::Relaxed);
        }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        self.bits
            .iter()
            .flat_map(|bits| bits.load(Ordering::Relaxed).to_le_bytes())
            .collect()
    }

    /// ORs in another worker's bitmap (as [`to_bytes`](Self::to_bytes) wrote it).
    pub(crate) fn merge_bytes(&self, bytes: &[u8]) {
        for (bits, chunk) in self.bits.iter().zip(bytes.chunks_exact(8)) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            bits.fetch_or(u64::from_le_bytes(word), Ordering::Relaxed);
        }
    }

    /// The number of expiry windows `user` was touched in: the fewest tokens, each fresh for
    /// `fresh_for` from the first call it serves, that cover every call (greedy: a window
    /// opens at the first call not covered by the last one). Zero for an untouched user.
    pub(crate) fn windows(&self, user: usize, fresh_for: Duration) -> u64 {
        let span = (fresh_for.as_millis() / QUANTUM.as_millis()).max(1) as usize;
        let mut windows = 0;
        let mut covered_until = 0usize;
        for word in 0..self.words {
            let mut bits = self.bits[user * self.words + word].load(Ordering::Relaxed);
            while bits != 0 {
                let quantum = word * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if windows == 0 || quantum >= covered_until {
                    windows += 1;
                    covered_until = quantum + span;
                }
            }
        }
        windows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_within_a_bucket() {
        let mut histogram = Histogram::default();
        for micros in 1..=1000 {
            histogram.record(Duration::from_micros(micros));
        }
        let p50 = histogram.quantile(0.5).as_secs_f64() * 1e6;
        assert!((470.0..=500.0).contains(&p50), "{p50}");
        let decoded = Histogram::decode(&histogram.encode());
        assert_eq!(decoded.quantile(0.99), histogram.quantile(0.99));
    }

    #[test]
    fn windows_open_at_the_first_uncovered_call() {
        let touches = Touches::new(1, Duration::from_secs(60));
        for ms in [0, 500, 1400, 1500, 2900, 3000] {
            touches.touch(0, Duration::from_millis(ms));
        }
        // Windows of 1.5 s: [0, 1.5) covers 0, 0.5, 1.4; [1.5, 3.0) covers 1.5, 2.9; 3.0.
        assert_eq!(touches.windows(0, Duration::from_millis(1500)), 3);
    }
}
