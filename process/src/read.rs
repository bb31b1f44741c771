//! Reading a child's output: standard output bounded, standard error kept in part.

use futures::io::{AsyncRead, AsyncReadExt as _};
use zeroize::Zeroizing;

use crate::RunError;

/// Reads to the end; more than `limit` bytes is [`RunError::TooMuchOutput`].
pub(crate) async fn read_limited(
    reader: Option<impl AsyncRead + Unpin>,
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, RunError> {
    // Allocated once at its final size, so no reallocation leaves an unzeroized copy behind.
    let mut buf = Zeroizing::new(vec![0_u8; limit.saturating_add(1)]);
    let mut filled = 0;
    if let Some(mut reader) = reader {
        while let Some(space) = buf.get_mut(filled..).filter(|s| !s.is_empty()) {
            let n = reader.read(space).await.map_err(RunError::Io)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
    }
    if filled > limit {
        return Err(RunError::TooMuchOutput { limit });
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Reads to the end, keeping the first `kept` bytes.
pub(crate) async fn read_kept(
    reader: Option<impl AsyncRead + Unpin>,
    kept: usize,
) -> Result<Zeroizing<Vec<u8>>, RunError> {
    let mut buf = Zeroizing::new(vec![0_u8; kept]);
    let mut filled = 0;
    let Some(mut reader) = reader else {
        buf.clear();
        return Ok(buf);
    };
    let mut scratch = Zeroizing::new([0_u8; 1024]);
    loop {
        let space = match buf.get_mut(filled..) {
            Some(space) if !space.is_empty() => space,
            _ => &mut scratch[..],
        };
        let n = reader.read(space).await.map_err(RunError::Io)?;
        if n == 0 {
            break;
        }
        // Counts only what went into `buf`; what went to `scratch` is dropped.
        filled = (filled + n).min(kept);
    }
    buf.truncate(filled);
    Ok(buf)
}
