//! What the admin command prints on stdout: [`emit`] (behind `say!`) and
//! [`say_json`], both escaping what could drive the terminal.

use std::fmt;
use std::io::Write;

use zeroize::Zeroizing;

/// Writes `args` to `out`, every line escaped with [`crate::user::for_terminal`]
/// and ended with a newline. The buffers are wiped after (a secret may be printed).
pub fn emit(out: &mut dyn Write, args: fmt::Arguments<'_>) {
    let mut text = Zeroizing::new(String::new());
    // Writing into a String cannot fail.
    let _ = fmt::Write::write_fmt(&mut *text, args);
    let mut shown = Zeroizing::new(String::with_capacity(text.len() + 1));
    for line in text.split('\n') {
        crate::user::push_for_terminal(&mut shown, line);
        shown.push('\n');
    }
    // Like println!, minus the panic: a closed stdout is not worth a backtrace.
    let _ = out.write_all(shown.as_bytes()).and_then(|()| out.flush());
}

/// Prints `value` as one line of JSON. serde_json escapes C0 controls; the rest
/// of what [`crate::user::unsafe_on_terminal`] names (DEL, C1, bidi) can only
/// be inside strings, where `\uXXXX` is the same value.
pub fn say_json(value: &serde_json::Value) {
    let text = Zeroizing::new(value.to_string());
    let mut shown = Zeroizing::new(String::with_capacity(text.len() + 1));
    for c in text.chars() {
        if crate::user::unsafe_on_terminal(c) {
            let _ = fmt::Write::write_fmt(&mut *shown, format_args!("\\u{:04x}", c as u32));
        } else {
            shown.push(c);
        }
    }
    shown.push('\n');
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(shown.as_bytes()).and_then(|()| out.flush());
}
