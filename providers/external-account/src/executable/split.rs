//! Splitting the configured command line into words, as the reference's `shlex.split` does
//! (Python's POSIX mode, comments off): no shell is involved, and nothing is expanded.

/// Why a command line cannot be split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// A quote is opened and never closed: Python's "No closing quotation".
    NoClosingQuotation,
    /// The line ends with a lone backslash: Python's "No escaped character".
    NoEscapedCharacter,
}

impl SplitError {
    /// Python's message.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::NoClosingQuotation => "No closing quotation",
            Self::NoEscapedCharacter => "No escaped character",
        }
    }
}

/// Where the splitter is: Python's `shlex` states.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between words (`' '`).
    Between,
    /// In a word (`'a'`).
    Word,
    /// In single (`'`) or double (`"`) quotes.
    Quoted(char),
    /// Just after a backslash, to go back to the state it was met in.
    Escaped(Escaped),
}

/// Where a backslash was met.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escaped {
    /// Outside quotes: it escapes any character.
    Word,
    /// In double quotes: it escapes only `"` and `\`, and is kept before anything else.
    DoubleQuoted,
}

/// The words of `line`, by Python's `shlex.split(line)`:
///
/// - words are separated by spaces, tabs, carriage returns and line feeds;
/// - single quotes keep everything up to the next single quote as is;
/// - double quotes keep everything up to the next unescaped double quote, where a backslash
///   escapes only `"` and `\` (before any other character it stays);
/// - outside quotes a backslash makes the next character literal, whatever it is;
/// - quotes may start or end anywhere in a word (`a"b c"d` is one word, `ab cd`), and an empty
///   pair of quotes is an empty word;
/// - `#`, `$`, `~`, `*`, `|`, `;`, `<`, `>` are ordinary characters.
pub(crate) fn split(line: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    // Whether the current word had quotes: then it is a word even if empty.
    let mut quoted = false;
    let mut state = State::Between;
    for c in line.chars() {
        state = match state {
            State::Between | State::Word if is_whitespace(c) => {
                if state == State::Word || quoted {
                    words.push(std::mem::take(&mut word));
                    quoted = false;
                }
                State::Between
            }
            State::Between | State::Word => match c {
                '\\' => State::Escaped(Escaped::Word),
                '\'' | '"' => {
                    quoted = true;
                    State::Quoted(c)
                }
                _ => {
                    word.push(c);
                    State::Word
                }
            },
            State::Quoted(quote) if c == quote => State::Word,
            State::Quoted('"') if c == '\\' => State::Escaped(Escaped::DoubleQuoted),
            State::Quoted(quote) => {
                word.push(c);
                State::Quoted(quote)
            }
            State::Escaped(Escaped::Word) => {
                word.push(c);
                State::Word
            }
            State::Escaped(Escaped::DoubleQuoted) => {
                if c != '"' && c != '\\' {
                    word.push('\\');
                }
                word.push(c);
                State::Quoted('"')
            }
        };
    }
    match state {
        State::Quoted(_) => Err(SplitError::NoClosingQuotation),
        State::Escaped(_) => Err(SplitError::NoEscapedCharacter),
        State::Word => {
            words.push(word);
            Ok(words)
        }
        State::Between => {
            if quoted {
                words.push(word);
            }
            Ok(words)
        }
    }
}

/// Python's `shlex` whitespace.
fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

#[cfg(test)]
mod tests {
    use super::{SplitError, split};

    fn words(line: &str) -> Vec<String> {
        split(line).unwrap_or_else(|e| unreachable!("{line:?}: {}", e.message()))
    }

    #[test]
    fn words_are_split_on_whitespace_only() {
        assert_eq!(
            words("  /bin/helper --a=1\t--b \r\n c  "),
            ["/bin/helper", "--a=1", "--b", "c"]
        );
        assert!(words("").is_empty());
        assert!(words(" \t\n").is_empty());
        assert_eq!(
            words("a#b # $HOME ~ * | ; < > &"),
            ["a#b", "#", "$HOME", "~", "*", "|", ";", "<", ">", "&"]
        );
    }

    #[test]
    fn quotes_are_python_s_posix_quotes() {
        assert_eq!(words(r#"'a b' "c d""#), ["a b", "c d"]);
        assert_eq!(words(r#"a"b c"d"#), ["ab cd"]);
        assert_eq!(words(r#"'' "" x''"#), ["", "", "x"]);
        assert_eq!(
            words(r#"'a\b' "a\b" "a\"b" "a\\b" 'it''s'"#),
            [r"a\b", r"a\b", r#"a"b"#, r"a\b", "its"]
        );
        assert_eq!(words(r#"a\ b \'x \" \\"#), ["a b", "'x", "\"", "\\"]);
        assert_eq!(words("\"a\\\nb\" c\\\nd"), ["a\\\nb", "c\nd"]);
        assert_eq!(words("'x\ny'"), ["x\ny"]);
    }

    #[test]
    fn unclosed_quotes_and_trailing_backslashes_are_python_s_errors() {
        assert_eq!(split("'a"), Err(SplitError::NoClosingQuotation));
        assert_eq!(split("a \"b"), Err(SplitError::NoClosingQuotation));
        assert_eq!(split("\"a\\\""), Err(SplitError::NoClosingQuotation));
        assert_eq!(split("a\\"), Err(SplitError::NoEscapedCharacter));
        assert_eq!(split("\"a\\"), Err(SplitError::NoEscapedCharacter));
        assert_eq!(
            SplitError::NoClosingQuotation.message(),
            "No closing quotation"
        );
        assert_eq!(
            SplitError::NoEscapedCharacter.message(),
            "No escaped character"
        );
    }
}
