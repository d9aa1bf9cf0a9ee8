//! Answers typed at the code prompt ([`answer`]): only an answer that
//! normalizes to the code counts, for the app's codes and the sent ones.

use crate::config::TotpConfig;
use crate::{email_code, totp};

/// The secret the answer properties check against (RFC 6238's test key).
const ANSWER_SECRET: &[u8] = b"12345678901234567890";

/// One answer at one moment, with a valid `[totp]` setting.
#[derive(Debug, Clone)]
pub struct AnswerCase {
    pub cfg: TotpConfig,
    pub now: u64,
    pub last_used: Option<u64>,
    pub answer: String,
}

impl AnswerCase {
    /// Splits fuzz bytes: digits, period, skew, now, last used step, then the answer.
    pub fn from_bytes(data: &[u8]) -> Option<AnswerCase> {
        let (head, rest) = data.split_at_checked(20)?;
        let cfg = TotpConfig {
            digits: 6 + u32::from(head[0] % 3),
            period: 10 + u64::from(u16::from_le_bytes([head[1], head[2]]) % 291),
            skew: u32::from(head[3] % 11),
        };
        let now = u64::from_le_bytes(head[4..12].try_into().ok()?);
        let last = u64::from_le_bytes(head[12..20].try_into().ok()?);
        let last_used = (last % 3 != 0).then(|| totp::step_at(&cfg, now).wrapping_add(last % 5).wrapping_sub(2));
        let answer = std::str::from_utf8(rest).ok()?.to_string();
        Some(AnswerCase { cfg, now, last_used, answer })
    }
}

/// `normalize_answer` gives exactly `digits` ASCII digits, the answer without
/// its spaces and tabs, or nothing; `totp::check` and `email_code::check` never
/// accept an answer that does not normalize to the code; and the answer made
/// from this one by writing the right code into its digits is accepted exactly
/// when it normalizes.
pub fn answer(case: &AnswerCase) {
    let AnswerCase { cfg, now, last_used, answer } = case;
    let (cfg, now, last_used) = (*cfg, *now, *last_used);
    let digits = cfg.digits;
    let normalized = totp::normalize_answer(answer, digits);
    let stripped: String = answer.chars().filter(|c| *c != ' ' && *c != '\t').collect();
    let expect_some = answer.len() <= totp::MAX_ANSWER_LEN
        && stripped.len() == digits as usize
        && stripped.bytes().all(|b| b.is_ascii_digit());
    assert_eq!(normalized.as_deref().map(String::as_str), expect_some.then_some(stripped.as_str()), "{answer:?}");

    let secret = crate::secret::TotpSecret::from_bytes(ANSWER_SECRET);
    let got = totp::check(&secret, &cfg, answer, now, last_used);
    match &normalized {
        None => assert_eq!(got, totp::Check::Invalid, "{answer:?}"),
        Some(n) => assert_eq!(got, totp::check(&secret, &cfg, n, now, last_used), "{answer:?} vs {:?}", n.as_str()),
    }

    // The right code written into the answer's digits, in order.
    let step = totp::step_at(&cfg, now);
    let code = totp::code_at_step(&secret, &cfg, step);
    let with_code = fill_digits(answer, &code);
    let got = totp::check(&secret, &cfg, &with_code, now, last_used);
    if totp::normalize_answer(&with_code, digits).is_some_and(|n| *n == *code) {
        match last_used {
            Some(used) if step <= used => {
                assert!(matches!(got, totp::Check::Replayed { .. } | totp::Check::Valid { .. }), "{got:?}")
            }
            _ => assert!(matches!(got, totp::Check::Valid { .. }), "{with_code:?} at {now}: {got:?}"),
        }
    } else {
        assert_eq!(got, totp::Check::Invalid, "{with_code:?}");
    }

    let sent = "31415926"[..digits as usize].to_string();
    let Ok(sealed) = email_code::seal(&sent, 1000, 600) else {
        return; // no randomness for the salt: nothing to check against
    };
    let at = 1000 + now % 1200;
    for a in [answer.as_str(), &fill_digits(answer, &sent)] {
        let got = email_code::check(&sealed, a, digits, at);
        let want = match totp::normalize_answer(a, digits) {
            Some(n) if *n == sent && at < sealed.expires_at => email_code::CodeCheck::Valid,
            Some(n) if *n == sent => email_code::CodeCheck::Expired,
            _ => email_code::CodeCheck::Wrong,
        };
        assert_eq!(got, want, "{a:?} at {at}");
    }
}

/// `answer` with its ASCII digits replaced, in order, by those of `code`
/// (digits beyond the code's length stay).
fn fill_digits(answer: &str, code: &str) -> String {
    let mut code = code.chars();
    answer.chars().map(|c| if c.is_ascii_digit() { code.next().unwrap_or(c) } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::properties::names::user_names_from_bytes;
    use crate::properties::proptest_config;

    fn answers() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{6,8}",
            "[0-9 \t]{0,14}",
            "[0-9a-z ]{0,10}",
            "[0-9]{3} [0-9]{3}",
            any::<String>(),
            "[0-9]{60,70}",
            "[0-9\u{ff10}-\u{ff19}]{6}",
        ]
    }

    fn answer_cases() -> impl Strategy<Value = AnswerCase> {
        (
            6u32..=8,
            10u64..=300,
            0u32..=10,
            any::<u64>(),
            prop_oneof![Just(0u64), 1_700_000_000u64..1_800_000_000],
            0u8..6,
            answers(),
        )
            .prop_map(|(digits, period, skew, any_now, real_now, last, answer)| {
                let cfg = TotpConfig { digits, period, skew };
                let now = if real_now == 0 { any_now } else { real_now };
                let last_used =
                    (last < 5).then(|| totp::step_at(&cfg, now).wrapping_add(u64::from(last)).wrapping_sub(2));
                AnswerCase { cfg, now, last_used, answer }
            })
    }

    proptest! {
        #![proptest_config(proptest_config())]

        #[test]
        fn answers_count_only_when_they_normalize_to_the_code(case in answer_cases()) {
            answer(&case);
        }
    }

    #[test]
    fn the_fuzz_input_splitters_take_any_bytes() {
        user_names_from_bytes(b"alice\0ALICE");
        user_names_from_bytes(b"\xff");
        let mut bytes = vec![0u8; 20];
        bytes.extend_from_slice(b"123 456");
        let case = AnswerCase::from_bytes(&bytes).unwrap();
        assert_eq!((case.cfg.digits, case.cfg.period, case.cfg.skew, case.now), (6, 10, 0, 0));
        answer(&case);
        assert!(AnswerCase::from_bytes(&bytes[..19]).is_none());
    }
}
