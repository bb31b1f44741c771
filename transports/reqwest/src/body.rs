//! Reading a response body under a size cap, into a buffer that is wiped when it moves.

use bytes::Bytes;
use credkit_core::Result;
use zeroize::Zeroizing;

use crate::error::{body_too_large, from_reqwest};

/// The first allocation for a body of unknown length (8 KiB); it doubles from there up to the
/// cap. Only how often the buffer grows depends on it: every old allocation is wiped.
const INITIAL_CAPACITY: usize = 8192;

/// Reads `response`'s body, failing as soon as it is known to exceed `cap` bytes: up front from
/// `Content-Length`, otherwise while counting the chunks. At most `cap` bytes are ever buffered.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
    origin: &str,
) -> Result<Bytes> {
    let declared = response.content_length();
    if declared.is_some_and(|len| len > cap as u64) {
        return Err(body_too_large(cap, origin));
    }
    let initial = declared.map_or(INITIAL_CAPACITY.min(cap), |len| {
        usize::try_from(len).unwrap_or(cap)
    });
    let mut body = CappedBuffer::new(initial, cap);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| from_reqwest(err, origin))?
    {
        if !body.extend(&chunk) {
            return Err(body_too_large(cap, origin));
        }
    }
    Ok(body.into_bytes())
}

/// A growable byte buffer with a hard cap whose every discarded allocation is zeroed.
///
/// `Vec` growth copies into a new allocation and frees the old one as it is; a response body
/// holds an access token, so growth here copies by hand and lets `Zeroizing` wipe the old one.
struct CappedBuffer {
    buf: Zeroizing<Vec<u8>>,
    cap: usize,
}

impl CappedBuffer {
    fn new(capacity: usize, cap: usize) -> Self {
        Self {
            buf: Zeroizing::new(Vec::with_capacity(capacity.min(cap))),
            cap,
        }
    }

    /// Appends `chunk`; returns `false`, appending nothing, when that would pass the cap.
    fn extend(&mut self, chunk: &[u8]) -> bool {
        let Some(needed) = self.buf.len().checked_add(chunk.len()) else {
            return false;
        };
        if needed > self.cap {
            return false;
        }
        if needed > self.buf.capacity() {
            let grown = needed
                .max(self.buf.capacity().saturating_mul(2))
                .min(self.cap);
            let mut bigger = Zeroizing::new(Vec::with_capacity(grown));
            bigger.extend_from_slice(&self.buf);
            // The old buffer is zeroed as it drops.
            self.buf = bigger;
        }
        self.buf.extend_from_slice(chunk);
        true
    }

    /// Hands the bytes over without copying, still zeroized: the `Bytes` owns the
    /// `Zeroizing` buffer, which is wiped when the last clone of the body is dropped.
    fn into_bytes(mut self) -> Bytes {
        Bytes::from_owner(Zeroizing::new(std::mem::take(&mut *self.buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_up_to_the_cap_and_no_further() {
        let mut buffer = CappedBuffer::new(2, 10);
        assert!(buffer.extend(b"abc"));
        assert!(buffer.extend(b"defgh"));
        assert!(buffer.buf.capacity() <= 10);
        assert!(buffer.extend(b"ij"));
        assert!(!buffer.extend(b"k"));
        assert_eq!(&buffer.into_bytes()[..], b"abcdefghij");
    }

    #[test]
    fn growth_is_by_hand_and_never_past_the_cap() {
        // Grown by hand, to at most the cap: `Vec`'s own growth would double to 16 here (and
        // leave the old allocation unwiped).
        let mut buffer = CappedBuffer::new(8, 10);
        assert!(buffer.extend(&[7; 9]));
        assert_eq!(buffer.buf.capacity(), 10);
        // A chunk that fits exactly does not grow the buffer.
        let mut buffer = CappedBuffer::new(8, 100);
        assert!(buffer.extend(&[7; 8]));
        assert_eq!(buffer.buf.capacity(), 8);
    }

    #[test]
    fn an_exact_fit_is_accepted_and_an_empty_body_is_empty() {
        let mut buffer = CappedBuffer::new(0, 3);
        assert!(buffer.extend(b""));
        assert!(buffer.extend(b"abc"));
        assert_eq!(&buffer.into_bytes()[..], b"abc");
        assert!(CappedBuffer::new(8, 8).into_bytes().is_empty());
    }
}
