//! The leak check the state-file and google-authenticator properties share:
//! the secret values swapped for others of the same shape ([`rotate_spans`]),
//! and no piece of them in what is said ([`assert_no_leak`]).

use super::LEAK_WINDOW;

/// `text` with every ASCII letter and digit inside `spans` replaced by the next
/// one of its kind (`A`→`B`, `Z`→`A`, `2`-`7` among themselves, `0 1 8 9` among
/// themselves), so base32 stays base32 of the same length. A span holding a
/// backslash (an escape in a basic string) is left as it is.
pub fn rotate_spans(text: &str, spans: &[(usize, usize)]) -> String {
    let mut out = text.as_bytes().to_vec();
    for &(start, end) in spans {
        if text[start..end].contains('\\') {
            continue;
        }
        for b in &mut out[start..end] {
            *b = match *b {
                b'A'..=b'Y' | b'a'..=b'y' | b'2'..=b'6' => *b + 1,
                b'Z' => b'A',
                b'z' => b'a',
                b'7' => b'2',
                b'0' => b'1',
                b'1' => b'8',
                b'8' => b'9',
                b'9' => b'0',
                other => other,
            };
        }
    }
    String::from_utf8(out).expect("only ASCII bytes were replaced by ASCII bytes")
}

/// No [`LEAK_WINDOW`]-character piece (without whitespace) of a span of `text` appears in `message`,
/// unless it also appears outside every span of `text` or in one of `allowed`.
pub(super) fn assert_no_leak(message: &str, text: &str, spans: &[(usize, usize)], allowed: &[&str]) {
    let mut outside = String::new();
    let mut last = 0;
    for &(start, end) in spans {
        outside.push_str(&text[last..start.max(last)]);
        outside.push('\0');
        last = last.max(end);
    }
    outside.push_str(&text[last..]);
    // Pieces without whitespace: base32 ignores it, and a piece that spans a
    // space could be a word of the file's shown elsewhere plus the template's space.
    for word in spans.iter().flat_map(|&(start, end)| text[start..end].split_whitespace()) {
        let word: Vec<char> = word.chars().collect();
        for piece in word.windows(LEAK_WINDOW) {
            let piece: String = piece.iter().collect();
            if message.contains(&piece) && !outside.contains(&piece) && !allowed.iter().any(|a| a.contains(&piece)) {
                panic!("the error quotes the secret-like value ({piece:?}): {message}\n input: {text:?}");
            }
        }
    }
}
