//! What the demo shows: its steps, for a person or as JSON.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::Value;

/// The width of a step's title line.
const WIDTH: usize = 78;

/// One fact a step found, in both forms.
#[derive(Debug)]
pub(crate) struct Fact {
    key: &'static str,
    label: &'static str,
    human: String,
    json: Value,
}

impl Fact {
    /// A fact with its text for a person and its value for JSON.
    pub(crate) fn new(
        key: &'static str,
        label: &'static str,
        human: impl Into<String>,
        json: impl Into<Value>,
    ) -> Self {
        Self {
            key,
            label,
            human: human.into(),
            json: json.into(),
        }
    }

    /// A count, grouped by thousands for a person.
    pub(crate) fn count(key: &'static str, label: &'static str, n: u64) -> Self {
        Self::new(key, label, grouped(n), n)
    }

    /// A yes-or-no fact.
    pub(crate) fn yes_no(key: &'static str, label: &'static str, yes: bool) -> Self {
        Self::new(key, label, if yes { "yes" } else { "no" }, yes)
    }

    /// A fact that is text in both forms.
    pub(crate) fn text(key: &'static str, label: &'static str, text: impl Into<String>) -> Self {
        let text = text.into();
        Self::new(key, label, text.clone(), text)
    }
}

/// One step of the demo.
#[derive(Debug)]
pub(crate) struct Step {
    /// A short name for scripts, such as `single_flight`.
    pub(crate) key: &'static str,
    /// The title for a person.
    pub(crate) title: &'static str,
    /// One line saying what happens and why.
    pub(crate) explanation: String,
    /// How long the step took.
    pub(crate) elapsed: Duration,
    /// What it found.
    pub(crate) facts: Vec<Fact>,
}

impl Step {
    /// The step as text: a title line with the timing on the right, the explanation wrapped,
    /// the facts one a line.
    pub(crate) fn human(&self, number: usize, of: usize) -> String {
        let head = format!("[{number}/{of}] {} ", self.title);
        let time = format!(" {}", duration(self.elapsed));
        let dots = WIDTH.saturating_sub(head.chars().count() + time.chars().count());
        let mut text = format!("{head}{}{time}\n", ".".repeat(dots.max(1)));
        for line in wrap(&self.explanation, WIDTH - INDENT.len()) {
            let _ = writeln!(text, "{INDENT}{line}");
        }
        for fact in &self.facts {
            let _ = writeln!(text, "{INDENT}- {}: {}", fact.label, fact.human);
        }
        text
    }

    /// The step for the JSON document.
    pub(crate) fn json(&self, number: usize) -> StepJson<'_> {
        StepJson {
            step: number,
            name: self.key,
            title: self.title,
            explanation: &self.explanation,
            millis: millis(self.elapsed),
            facts: Facts(&self.facts),
        }
    }
}

/// A step as JSON, its fields in this order.
#[derive(Debug, Serialize)]
pub(crate) struct StepJson<'a> {
    step: usize,
    name: &'static str,
    title: &'static str,
    explanation: &'a str,
    millis: f64,
    facts: Facts<'a>,
}

/// The facts as one JSON object, in the order the step found them.
#[derive(Debug)]
pub(crate) struct Facts<'a>(&'a [Fact]);

impl Serialize for Facts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for fact in self.0 {
            map.serialize_entry(fact.key, &fact.json)?;
        }
        map.end()
    }
}

/// How far the lines under a step's title are indented.
const INDENT: &str = "      ";

/// `text` in lines of at most `width` characters, broken at spaces (a longer word gets a line
/// of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `d` in milliseconds, to the microsecond, for JSON.
pub(crate) fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `d` for a person: microseconds, milliseconds or seconds.
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1e-3 {
        format!("{:.0} µs", secs * 1e6)
    } else if secs < 0.1 {
        format!("{:.1} ms", secs * 1e3)
    } else if secs < 1.0 {
        format!("{:.0} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

/// `n` with thousands separated by commas: `1,000,000`.
pub(crate) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            text.push(',');
        }
        text.push(c);
    }
    text
}

/// A rate for a person: `16.4 million/s` or `812,345/s`.
pub(crate) fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.1} million/s", per_second / 1e6)
    } else {
        // Rounded and non-negative, so the conversion loses nothing that matters.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = per_second.max(0.0).round() as u64;
        format!("{}/s", grouped(whole))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_000_000), "1,000,000");
        assert_eq!(grouped(12_345_678), "12,345,678");
        assert_eq!(rate(16_400_000.0), "16.4 million/s");
        assert_eq!(rate(812_345.4), "812,345/s");
        assert_eq!(duration(Duration::from_micros(420)), "420 µs");
        assert_eq!(duration(Duration::from_micros(4_150)), "4.2 ms");
        assert_eq!(duration(Duration::from_micros(207_123)), "207 ms");
        assert_eq!(duration(Duration::from_millis(2_500)), "2.50 s");
        assert!((millis(Duration::from_micros(4_150)) - 4.15).abs() < 1e-9);
    }

    #[test]
    fn a_step_as_text_and_json() {
        let step = Step {
            key: "first_refresh",
            title: "First refresh",
            explanation: "why".to_owned(),
            elapsed: Duration::from_millis(3),
            facts: vec![
                Fact::count("requests", "requests", 1),
                Fact::yes_no("ok", "ok", true),
            ],
        };
        let text = step.human(1, 6);
        let first = text.lines().next().unwrap();
        assert!(first.starts_with("[1/6] First refresh ..."));
        assert!(first.ends_with(" 3.0 ms"));
        assert_eq!(first.chars().count(), WIDTH);
        assert!(text.contains("      - requests: 1\n      - ok: yes\n"));
        let json = serde_json::to_value(step.json(1)).unwrap();
        assert_eq!(json["name"], "first_refresh");
        assert_eq!(json["facts"]["requests"], 1);
        assert_eq!(json["facts"]["ok"], true);
        let text = serde_json::to_string(&step.json(1)).unwrap();
        assert!(text.starts_with(r#"{"step":1,"name":"first_refresh","#));
        assert!(text.ends_with(r#""facts":{"requests":1,"ok":true}}"#));
    }

    #[test]
    fn explanations_wrap_at_spaces() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("a verylongword b", 4), ["a", "verylongword", "b"]);
        assert!(wrap("", 10).is_empty());
    }
}
