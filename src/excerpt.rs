//! Excerpts of untrusted input quoted back in errors and warnings: a message shows at most
//! [`MAX_QUOTED_CHARS`] characters of what the client sent, so a row holding a 20 MB number
//! cannot come back as a 20 MB answer (or a 20 MB log line).

use std::borrow::Cow;

/// The most characters of one piece of input a message quotes.
pub const MAX_QUOTED_CHARS: usize = 200;

/// The most characters of a whole message: its own words, a few quotes and the advice at its
/// end fit with room to spare.
pub const MAX_MESSAGE_CHARS: usize = 2_000;

/// `text` cut to [`MAX_QUOTED_CHARS`] characters, marked with `…` when cut.
pub fn excerpt(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
    }
}

/// A message that may quote input, bounded without knowing where the quotes are: every run of
/// more than [`MAX_QUOTED_CHARS`] characters without a blank is cut to an [`excerpt`], and a
/// message still over [`MAX_MESSAGE_CHARS`] keeps its start and its end (where the advice is).
pub fn bound_message(message: &str) -> Cow<'_, str> {
    let is_long = |word: &str| word.chars().nth(MAX_QUOTED_CHARS).is_some();
    let message = if message.split(char::is_whitespace).any(is_long) {
        let mut cut = String::with_capacity(MAX_MESSAGE_CHARS);
        for piece in message.split_inclusive(char::is_whitespace) {
            let word = piece.trim_end_matches(char::is_whitespace);
            cut.push_str(&excerpt(word));
            cut.push_str(&piece[word.len()..]);
        }
        Cow::Owned(cut)
    } else {
        Cow::Borrowed(message)
    };
    let chars = message.chars().count();
    if chars <= MAX_MESSAGE_CHARS {
        return message;
    }
    let head = MAX_MESSAGE_CHARS * 2 / 3;
    let tail = MAX_MESSAGE_CHARS - head;
    let start: String = message.chars().take(head).collect();
    let end: String = message.chars().skip(chars - tail).collect();
    Cow::Owned(format!(
        "{start} … ({} characters left out) … {end}",
        chars - head - tail
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(excerpt("NtfF"), "NtfF");
        let message = "line 3: \"12x\" is not a number; row skipped";
        assert!(matches!(bound_message(message), Cow::Borrowed(m) if m == message));
    }

    #[test]
    fn long_words_and_long_messages_are_cut() {
        let number = "9".repeat(20_000_000);
        let message = format!("line 2: {number:?} is not a number; row skipped");
        let bounded = bound_message(&message);
        assert!(bounded.chars().count() < 300, "{}", bounded.len());
        assert!(bounded.starts_with("line 2: \"999"));
        assert!(bounded.ends_with("is not a number; row skipped"));
        let words = "word ".repeat(100_000);
        let bounded = bound_message(&words);
        assert!(bounded.chars().count() <= MAX_MESSAGE_CHARS + 60);
        assert!(bounded.contains("characters left out"));
        let wide = "é".repeat(1_000);
        assert_eq!(excerpt(&wide).chars().count(), MAX_QUOTED_CHARS + 1);
    }
}
