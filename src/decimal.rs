//! Whole numbers in decimal without `core::fmt` (which costs a few hundred
//! instructions a number): for the log line and the tally a login writes.

/// The decimal digits of `value`, written into the end of `buf`.
pub fn digits(value: u64, buf: &mut [u8; 20]) -> &str {
    let mut rest = value;
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn digits_are_what_display_writes() {
        for value in [0, 1, 9, 10, 99, 100, 4_294_967_295, 1_763_880_000, u64::MAX] {
            assert_eq!(super::digits(value, &mut [0; 20]), value.to_string());
        }
    }
}
