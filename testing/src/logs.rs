//! `capture_logs`: the `tracing` events code emits, as text, to assert on.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One `tracing` event caught by [`capture_logs`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogLine {
    /// Its level.
    pub level: Level,
    /// Its target (by default the module path that emitted it).
    pub target: String,
    /// Its message, then each other field as ` name=value` (values in `Debug` form), in the
    /// order they were given.
    pub text: String,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.level, self.target, self.text)
    }
}

/// Runs `f` with a `tracing` subscriber that records every event emitted on this thread, at
/// every level, and returns `f`'s result with the events in order.
///
/// For tests of what code logs: that a warning the reference prints is printed, or that no
/// secret ever reaches a log line (spans are accepted but not recorded; fields are recorded
/// as `Debug` shows them, which is where a secret would leak). Only this thread's events are
/// caught: run async code with [`block_on`](crate::block_on) inside `f`.
///
/// ```
/// use credkit_testing::capture_logs;
///
/// let ((), lines) = capture_logs(|| {
///     tracing::warn!(attempt = 2, "retrying");
/// });
/// assert_eq!(lines.len(), 1);
/// assert_eq!(lines[0].level, tracing::Level::WARN);
/// assert_eq!(lines[0].text, "retrying attempt=2");
/// ```
pub fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, Vec<LogLine>) {
    let capture = Capture::default();
    let lines = Arc::clone(&capture.lines);
    let result = tracing::subscriber::with_default(capture, f);
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(PoisonError::into_inner));
    (result, lines)
}

#[derive(Default)]
struct Capture {
    lines: Arc<Mutex<Vec<LogLine>>>,
    next_span: AtomicU64,
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = Text::default();
        event.record(&mut text);
        let metadata = event.metadata();
        let line = LogLine {
            level: *metadata.level(),
            target: metadata.target().to_owned(),
            text: match (text.message.is_empty(), text.fields.is_empty()) {
                (_, true) => text.message,
                (true, false) => text.fields.trim_start().to_owned(),
                (false, false) => text.message + &text.fields,
            },
        };
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[derive(Default)]
struct Text {
    message: String,
    fields: String,
}

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            // Writing to a String cannot fail.
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_levels_messages_and_fields_in_order() {
        let (answer, lines) = capture_logs(|| {
            tracing::debug!(source = "static token", "first");
            let span = tracing::info_span!("refresh", attempt = 1);
            let _entered = span.enter();
            tracing::error!(status = 503_u16, kind = %"transport", "second");
            tracing::info!(only = true);
            42
        });
        assert_eq!(answer, 42);
        let shown: Vec<String> = lines.iter().map(ToString::to_string).collect();
        let target = module_path!();
        assert_eq!(
            shown,
            [
                format!("DEBUG {target}: first source=\"static token\""),
                format!("ERROR {target}: second status=503 kind=transport"),
                format!("INFO {target}: only=true"),
            ]
        );
    }

    #[test]
    fn only_the_closure_is_captured() {
        tracing::warn!("before");
        let ((), lines) = capture_logs(|| {});
        assert!(lines.is_empty());
    }
}
