//! RFC 6238 time-based codes: generating them, checking an answer against a
//! window of steps, and building the `otpauth://` URI that apps scan.
//!
//! HOTP (RFC 4226: HMAC-SHA1 of the step counter, dynamic truncation) is
//! computed here on a borrowed view of the secret, so the key is never copied
//! into memory that outlives the call unwiped: the HMAC pads and digests live
//! in [`Zeroizing`] buffers, and `sha1` (feature `zeroize`) wipes its state on
//! drop. What remains is what Rust gives no handle on: copies the compiler may
//! make of the hash state in stack frames (moves, registers spilled).
//! Time is always an argument (seconds since the epoch), never read here.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::config::TotpConfig;
use crate::secret::TotpSecret;

/// Longest answer we even look at; anything longer is refused before any work.
pub const MAX_ANSWER_LEN: usize = 64;

/// The result of checking an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The code matches step `step`, which was not used before.
    Valid { step: u64 },
    /// The code matches step `step`, but that step (or a later one) was already used.
    Replayed { step: u64 },
    /// The code does not match any step in the window (or is not a code at all).
    Invalid,
}

/// The code for time step `step`.
pub fn code_at_step(secret: &TotpSecret, cfg: &TotpConfig, step: u64) -> Zeroizing<String> {
    hotp(secret.expose(), step, cfg.digits)
}

/// SHA-1's block size: the HMAC key is padded (or hashed) to this.
const BLOCK: usize = 64;

/// HMAC-SHA1 (RFC 2104) under one key, the key's two padded blocks hashed
/// once: [`check`] computes several codes with the same key, and each then
/// costs two SHA-1 blocks instead of four. The states are `Sha1`s, wiped on
/// drop (clones too).
struct Keyed {
    inner: Sha1,
    outer: Sha1,
}

impl Keyed {
    fn new(key: &[u8]) -> Keyed {
        let mut pad = Zeroizing::new([0u8; BLOCK]);
        if key.len() > BLOCK {
            let mut hasher = Sha1::new();
            hasher.update(key);
            hasher.finalize_into((&mut pad[..20]).try_into().expect("20 bytes"));
        } else {
            pad[..key.len()].copy_from_slice(key);
        }
        pad.iter_mut().for_each(|b| *b ^= 0x36);
        let mut inner = Sha1::new();
        inner.update(&pad[..]);
        pad.iter_mut().for_each(|b| *b ^= 0x36 ^ 0x5c);
        let mut outer = Sha1::new();
        outer.update(&pad[..]);
        Keyed { inner, outer }
    }

    fn mac(&self, message: &[u8]) -> Zeroizing<[u8; 20]> {
        let mut inner = Zeroizing::new([0u8; 20]);
        let mut hasher = self.inner.clone();
        hasher.update(message);
        hasher.finalize_into((&mut inner[..]).try_into().expect("20 bytes"));
        let mut out = Zeroizing::new([0u8; 20]);
        let mut hasher = self.outer.clone();
        hasher.update(&inner[..]);
        hasher.finalize_into((&mut out[..]).try_into().expect("20 bytes"));
        out
    }
}

/// HMAC-SHA1 of `message` under `key`, every key-derived buffer wiped.
#[cfg(test)]
fn hmac_sha1(key: &[u8], message: &[u8]) -> Zeroizing<[u8; 20]> {
    Keyed::new(key).mac(message)
}

/// RFC 4226 HOTP: `digits` decimal digits (6 to 10) of the dynamically
/// truncated HMAC-SHA1 of the big-endian `counter`.
fn hotp(key: &[u8], counter: u64, digits: u32) -> Zeroizing<String> {
    hotp_keyed(&Keyed::new(key), counter, digits)
}

fn hotp_keyed(key: &Keyed, counter: u64, digits: u32) -> Zeroizing<String> {
    let value = hotp_value(key, counter);
    let modulus = 10u64.pow(digits);
    let mut code = Zeroizing::new(String::with_capacity(digits as usize));
    let mut rest = Zeroizing::new(*value % modulus);
    let mut place = modulus / 10;
    while place > 0 {
        code.push(char::from(b'0' + (*rest / place) as u8));
        *rest %= place;
        place /= 10;
    }
    code
}

/// The dynamically truncated HMAC-SHA1 of the big-endian `counter` (31 bits),
/// of which a code is the last digits.
fn hotp_value(key: &Keyed, counter: u64) -> Zeroizing<u64> {
    let mac = key.mac(&counter.to_be_bytes());
    let offset = usize::from(mac[19] & 0x0f);
    let mut binary = Zeroizing::new([0u8; 4]);
    binary.copy_from_slice(&mac[offset..offset + 4]);
    binary[0] &= 0x7f;
    Zeroizing::new(u64::from(u32::from_be_bytes(*binary)))
}

/// The last `code.len()` decimal digits of `value` (leading zeros kept) into
/// `code`: [`hotp_keyed`]'s code without a string to allocate.
fn write_digits(value: &u64, code: &mut [u8]) {
    let mut rest = Zeroizing::new(*value);
    for digit in code.iter_mut().rev() {
        *digit = b'0' + (*rest % 10) as u8;
        *rest /= 10;
    }
}

/// The time step that contains `now`.
pub fn step_at(cfg: &TotpConfig, now: u64) -> u64 {
    now / cfg.period
}

/// Strips the spaces people type ("123 456") and checks the answer is exactly `digits` ASCII digits.
pub fn normalize_answer(answer: &str, digits: u32) -> Option<Zeroizing<String>> {
    if answer.len() > MAX_ANSWER_LEN {
        return None;
    }
    let cleaned = Zeroizing::new(answer.chars().filter(|c| *c != ' ' && *c != '\t').collect::<String>());
    (cleaned.len() == digits as usize && cleaned.bytes().all(|b| b.is_ascii_digit())).then_some(cleaned)
}

/// Checks `answer` against every step within `skew` of `now`.
///
/// The steps are tried nearest first, the past before the future ([`nearest_first`]:
/// now, a code typed just after its step ended, a phone's clock running
/// ahead, then further), and the search ends at the first match that was not used before
/// (`last_used` is the step of the last accepted code: a match at or before
/// it is a replay). Each comparison is constant time; a wrong or replayed
/// code computes every step, so its time says nothing of the secret. A right
/// code stops early, as google-authenticator's loop does, so one typed in
/// time costs one HMAC instead of `2 * skew + 1`: the time then tells what the
/// result tells anyway (the code was right) and which step it was for, which
/// the person who typed it knew. A code that is the code of two steps of the
/// window (about one in a million) is taken for the first one tried.
pub fn check(secret: &TotpSecret, cfg: &TotpConfig, answer: &str, now: u64, last_used: Option<u64>) -> Check {
    let Some(answer) = normalize_answer(answer, cfg.digits) else {
        return Check::Invalid;
    };
    let now_step = step_at(cfg, now);
    let first = now_step.saturating_sub(u64::from(cfg.skew));
    let last = now_step.saturating_add(u64::from(cfg.skew));
    let mut replayed: Option<u64> = None;
    let key = Keyed::new(secret.expose());
    // The answer has exactly `digits` digits, so at most MAX_ANSWER_LEN.
    let mut candidate = Zeroizing::new([0u8; MAX_ANSWER_LEN]);
    let code = &mut candidate[..answer.len()];
    for step in nearest_first(now_step, cfg.skew).filter(|step| (first..=last).contains(step)) {
        write_digits(&hotp_value(&key, step), code);
        if bool::from((*code).ct_eq(answer.as_bytes())) {
            if last_used.is_none_or(|used| step > used) {
                return Check::Valid { step };
            }
            replayed = replayed.max(Some(step));
        }
    }
    match replayed {
        Some(step) => Check::Replayed { step },
        None => Check::Invalid,
    }
}

/// `now`, `now - 1`, `now + 1`, `now - 2`, … out to `skew` steps either side
/// (the ones below step 0 or beyond `u64::MAX` are left out by the caller).
fn nearest_first(now: u64, skew: u32) -> impl Iterator<Item = u64> {
    let around = (1..=u64::from(skew)).flat_map(move |d| [now.wrapping_sub(d), now.wrapping_add(d)]);
    std::iter::once(now).chain(around)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The key URI authenticator apps scan:
/// `otpauth://totp/ISSUER:USER?secret=…&issuer=ISSUER&algorithm=SHA1&digits=6&period=30`.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, user: &str, cfg: &TotpConfig) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={}&period={}",
        percent_encode(issuer),
        percent_encode(user),
        &*secret.to_base32(),
        percent_encode(issuer),
        cfg.digits,
        cfg.period
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIX: TotpConfig = TotpConfig { digits: 6, period: 30, skew: 1 };

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890")
    }

    #[test]
    fn the_candidates_check_compares_are_the_codes() {
        let key = Keyed::new(b"12345678901234567890");
        for counter in 0..40 {
            for digits in 6..=10 {
                let mut code = vec![0u8; digits];
                write_digits(&hotp_value(&key, counter), &mut code);
                assert_eq!(code, hotp_keyed(&key, counter, digits as u32).as_bytes(), "{counter} {digits}");
            }
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        let eight = TotpConfig { digits: 8, period: 30, skew: 0 };
        for (time, want) in [
            (59u64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(*code_at_step(&rfc_secret(), &eight, step_at(&eight, time)), want, "T={time}");
            assert_eq!(check(&rfc_secret(), &eight, want, time, None), Check::Valid { step: time / 30 });
        }
    }

    /// RFC 4226 Appendix D: the secret "12345678901234567890", counters 0 to 9.
    #[test]
    fn rfc4226_appendix_d_hotp_values() {
        let want = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
        for (counter, want) in want.iter().enumerate() {
            assert_eq!(*hotp(b"12345678901234567890", counter as u64, 6), *want, "counter {counter}");
        }
    }

    /// RFC 2202 HMAC-SHA1 test cases 1, 2, 6 (a key longer than a block is hashed first).
    #[test]
    fn hmac_sha1_matches_rfc2202() {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(&*hmac_sha1(&[0x0b; 20], b"Hi There")), "b617318655057264e28bc0b6fb378c8ef146be00");
        assert_eq!(
            hex(&*hmac_sha1(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hex(&*hmac_sha1(&[0xaa; 80], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
    }

    #[test]
    fn six_digit_codes_are_the_last_six_of_the_rfc_values() {
        assert_eq!(*code_at_step(&rfc_secret(), &SIX, 1111111109 / 30), "081804");
    }

    #[test]
    fn codes_within_the_skew_are_accepted_and_outside_refused() {
        let s = rfc_secret();
        let now = 1_700_000_000;
        let here = step_at(&SIX, now);
        for (delta, ok) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let step = (here as i64 + delta) as u64;
            let code = code_at_step(&s, &SIX, step);
            let got = check(&s, &SIX, &code, now, None);
            assert_eq!(matches!(got, Check::Valid { .. }), ok, "delta {delta}: {got:?}");
        }
    }

    #[test]
    fn steps_are_tried_nearest_first_the_past_before_the_future() {
        assert_eq!(nearest_first(100, 2).collect::<Vec<_>>(), [100, 99, 101, 98, 102]);
        assert_eq!(nearest_first(100, 0).collect::<Vec<_>>(), [100]);
        // At the ends of the range the steps that do not exist are filtered out by check().
        let s = rfc_secret();
        let cfg = TotpConfig { digits: 6, period: 30, skew: 2 };
        assert_eq!(check(&s, &cfg, &code_at_step(&s, &cfg, 0), 30, None), Check::Valid { step: 0 });
        assert_eq!(check(&s, &cfg, &code_at_step(&s, &cfg, 3), 30, None), Check::Valid { step: 3 });
        assert_eq!(check(&s, &cfg, &code_at_step(&s, &cfg, 4), 30, None), Check::Invalid);
    }

    #[test]
    fn a_used_step_is_a_replay() {
        let s = rfc_secret();
        let now = 1_700_000_000;
        let here = step_at(&SIX, now);
        let code = code_at_step(&s, &SIX, here);
        assert_eq!(check(&s, &SIX, &code, now, Some(here)), Check::Replayed { step: here });
        assert_eq!(check(&s, &SIX, &code, now, Some(here + 1)), Check::Replayed { step: here });
        assert_eq!(check(&s, &SIX, &code, now, Some(here - 1)), Check::Valid { step: here });
    }

    #[test]
    fn malformed_answers_are_invalid() {
        let s = rfc_secret();
        for a in ["", "12345", "1234567", "12a456", "１２３４５６", "email", &"1".repeat(10_000), "-12345"] {
            assert_eq!(check(&s, &SIX, a, 1_700_000_000, None), Check::Invalid, "{a:?}");
        }
    }

    #[test]
    fn spaces_inside_a_code_are_forgiven() {
        let s = rfc_secret();
        let code = code_at_step(&s, &SIX, step_at(&SIX, 1_700_000_000));
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(matches!(check(&s, &SIX, &spaced, 1_700_000_000, None), Check::Valid { .. }));
    }

    #[test]
    fn the_uri_has_the_issuer_label_and_parameter() {
        let s = TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
        let uri = otpauth_uri(&s, "Example School District", "bob@ad.example", &SIX);
        assert_eq!(
            *uri,
            "otpauth://totp/Example%20School%20District:bob%40ad.example?secret=JBSWY3DPEHPK3PXP&issuer=Example%20School%20District&algorithm=SHA1&digits=6&period=30"
        );
    }
}
