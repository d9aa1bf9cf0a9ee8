//! Reading a google-authenticator file (`~/.google_authenticator`, written by
//! the `google-authenticator` tool of google-authenticator-libpam) so that
//! `twostep enroll USER --from-google-authenticator PATH` can keep the user's
//! existing authenticator entry working.
//!
//! The format (google-authenticator-libpam's FILEFORMAT): the first line is
//! the base32 secret; option lines start with `" ` followed by an upper-case
//! name and arguments (`" TOTP_AUTH`, `" WINDOW_SIZE 3`, `" RATE_LIMIT 3 30`,
//! `" DISALLOW_REUSE 5912345`, `" HOTP_COUNTER 1`, `" STEP_SIZE 30`,
//! `" TIME_SKEW 2`); every other line is an 8-digit one-time scratch code.
//! Codes are always 6 digits. Parsing is pure; [`decide`] compares the file
//! with twostep's `[totp]` settings and says what is refused and what ignored.

use std::fmt;

use zeroize::Zeroizing;

use crate::config::TotpConfig;
use crate::secret::{SecretError, TotpSecret};
use crate::user::for_terminal;

/// Largest file accepted (google-authenticator-libpam's own limit).
pub const MAX_FILE: u64 = 64 * 1024;
/// The digits google-authenticator codes always have.
const GA_DIGITS: u32 = 6;
/// google-authenticator's step when the file has no STEP_SIZE.
const GA_DEFAULT_STEP: u64 = 30;

/// What a google-authenticator file says, minus what twostep has no use for.
pub struct GaFile {
    pub secret: TotpSecret,
    /// Option names with their arguments, in file order (`("WINDOW_SIZE", "3")`).
    pub options: Vec<(String, String)>,
    /// The file's scratch codes, each once (imported as backup codes, hashed;
    /// wiped from memory when dropped).
    pub scratch_codes: Vec<Zeroizing<String>>,
}

/// Why a file cannot be migrated. Never contains the secret or a scratch code
/// (line numbers, not lines; only the STEP_SIZE argument is kept, and shown escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GaError {
    /// The file is not UTF-8.
    NotText,
    /// The first line is empty or an option line.
    NoSecretLine,
    /// The first line is not a usable base32 secret.
    BadSecret(SecretError),
    /// Line N starts with `" ` but no upper-case option name follows.
    BadOptionLine(usize),
    /// Line N is neither an option nor a scratch code.
    BadLine(usize),
    /// `" HOTP_COUNTER`: counter-based codes.
    Hotp,
    /// No `" TOTP_AUTH` line.
    NotTotp,
    /// The STEP_SIZE argument, as written, is not a number.
    BadStepSize(String),
    /// The file's step (seconds) differs from `[totp] period`.
    StepMismatch { file: u64, period: u64 },
    /// `[totp] digits` is not the 6 digits google-authenticator codes have.
    DigitsMismatch { digits: u32 },
}

impl fmt::Display for GaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GaError::NotText => f.write_str("it is not a google-authenticator file (not text)"),
            GaError::NoSecretLine => f.write_str("its first line must be the base32 secret, and it is not"),
            GaError::BadSecret(e) => write!(f, "first line: {e}"),
            GaError::BadOptionLine(n) => write!(f, "line {n} is not a valid option line (\" NAME ARGS)"),
            GaError::BadLine(n) => write!(
                f,
                "line {n} is neither an option (\" NAME) nor an 8-digit scratch code; is this a google-authenticator file?"
            ),
            GaError::Hotp => f.write_str(
                "it is set up for counter-based (HOTP) codes, which twostep does not support; enroll the user afresh with twostep enroll USER (they scan a new QR code)",
            ),
            GaError::NotTotp => f.write_str(
                "it has no \" TOTP_AUTH line, so its secret is not used for time-based codes; enroll the user afresh with twostep enroll USER",
            ),
            // From a file the user owns: shown to root, so nothing in it may drive the terminal.
            GaError::BadStepSize(v) => write!(f, "its STEP_SIZE \"{}\" is not a number", for_terminal(v)),
            GaError::StepMismatch { file, period } => write!(
                f,
                "its codes change every {file} seconds but twostep's [totp] period is {period}; set period = {file} in the [totp] section (for everyone) or enroll the user afresh"
            ),
            GaError::DigitsMismatch { digits } => write!(
                f,
                "its codes have {GA_DIGITS} digits but twostep's [totp] digits is {digits}; set digits = {GA_DIGITS} or enroll the user afresh"
            ),
        }
    }
}

impl std::error::Error for GaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GaError::BadSecret(e) => Some(e),
            _ => None,
        }
    }
}

impl GaFile {
    /// The newest time step google-authenticator recorded as used
    /// (`" DISALLOW_REUSE` lists step numbers), so the code used last before
    /// the migration cannot be used again right after it.
    pub fn last_used_step(&self) -> Option<u64> {
        self.options
            .iter()
            .filter(|(name, _)| name == "DISALLOW_REUSE")
            .flat_map(|(_, args)| args.split_whitespace().filter_map(|n| n.parse::<u64>().ok()))
            .max()
    }

    /// Parses the file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<GaFile, GaError> {
        let text = std::str::from_utf8(bytes).map_err(|_| GaError::NotText)?;
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let first = Zeroizing::new(lines.next().unwrap_or_default().to_string());
        if first.trim().is_empty() || first.starts_with('"') {
            return Err(GaError::NoSecretLine);
        }
        let secret = TotpSecret::from_base32(&first).map_err(GaError::BadSecret)?;
        let mut options = Vec::new();
        let mut scratch_codes: Vec<Zeroizing<String>> = Vec::new();
        for (i, line) in lines.enumerate() {
            let n = i + 2;
            if line.trim().is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("\" ") {
                let (name, args) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
                    return Err(GaError::BadOptionLine(n));
                }
                options.push((name.to_string(), args.trim().to_string()));
            } else if line.len() == 8 && line.bytes().all(|b| b.is_ascii_digit()) {
                let code = Zeroizing::new(line.to_string());
                if !scratch_codes.contains(&code) {
                    scratch_codes.push(code);
                }
            } else {
                return Err(GaError::BadLine(n));
            }
        }
        Ok(GaFile { secret, options, scratch_codes })
    }

    fn option(&self, name: &str) -> Option<&str> {
        self.options.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Checks that twostep can honour the file with its `[totp]` settings and
/// returns notes for the admin about what is ignored (one sentence each).
pub fn decide(file: &GaFile, totp: &TotpConfig) -> Result<Vec<String>, GaError> {
    if file.option("HOTP_COUNTER").is_some() {
        return Err(GaError::Hotp);
    }
    if file.option("TOTP_AUTH").is_none() {
        return Err(GaError::NotTotp);
    }
    let step = match file.option("STEP_SIZE") {
        None => GA_DEFAULT_STEP,
        Some(v) => v.parse::<u64>().map_err(|_| GaError::BadStepSize(v.to_string()))?,
    };
    if step != totp.period {
        return Err(GaError::StepMismatch { file: step, period: totp.period });
    }
    if totp.digits != GA_DIGITS {
        return Err(GaError::DigitsMismatch { digits: totp.digits });
    }
    let mut notes = Vec::new();
    for (name, args) in &file.options {
        // From a file the user owns: shown to root, so nothing in it may drive the terminal.
        let args = &for_terminal(args);
        let note = match name.as_str() {
            "TOTP_AUTH" | "STEP_SIZE" | "RESETTING_TIME_SKEW" => continue,
            "DISALLOW_REUSE" => continue, // carried over: see GaFile::last_used_step.
            // google-authenticator accepts (n-1)/2 steps either side: the same as twostep's skew.
            "WINDOW_SIZE" if args.parse::<u64>().is_ok_and(|n| n == 2 * u64::from(totp.skew) + 1) => continue,
            "WINDOW_SIZE" => format!(
                "WINDOW_SIZE {args} is not carried over: twostep accepts codes {} step(s) either side of now ([totp] skew).",
                totp.skew
            ),
            "RATE_LIMIT" => {
                let shown: Vec<&str> = args.split_whitespace().take(2).collect();
                format!("RATE_LIMIT {} is not carried over: twostep's [lockout] settings apply.", shown.join(" "))
            }
            "TIME_SKEW" => format!(
                "TIME_SKEW {args} (a clock drift google-authenticator learned for this phone) is not carried over; if codes are refused, check the phone's clock."
            ),
            other => format!("option {other} is not known to twostep and is ignored."),
        };
        notes.push(note);
    }
    if !file.scratch_codes.is_empty() {
        notes.push(format!(
            "The file's {} emergency scratch code(s) are kept as backup codes: each still works once at the code prompt (twostep status shows how many are left).",
            file.scratch_codes.len()
        ));
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOTP: TotpConfig = TotpConfig { digits: 6, period: 30, skew: 1 };

    fn parse(s: &str) -> Result<GaFile, GaError> {
        GaFile::parse(s.as_bytes())
    }

    #[test]
    fn the_file_google_authenticator_writes_is_read_and_its_extras_explained() {
        let f = parse(
            "YACYEMNOVS4XB3UI45KWEWROKI\n\" RATE_LIMIT 3 30 1763880000\n\" WINDOW_SIZE 17\n\" DISALLOW_REUSE 58796000\n\" TOTP_AUTH\n12345678\n87654321\n",
        )
        .unwrap();
        assert_eq!(&*f.secret.to_base32(), "YACYEMNOVS4XB3UI45KWEWROKI");
        assert_eq!(f.last_used_step(), Some(58796000));
        assert_eq!(f.scratch_codes.iter().map(|c| c.as_str()).collect::<Vec<_>>(), ["12345678", "87654321"]);
        let notes = decide(&f, &TOTP).unwrap().join("\n");
        assert!(notes.contains("WINDOW_SIZE 17") && notes.contains("1 step(s)"), "{notes}");
        let same_window = parse("JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n\" WINDOW_SIZE 3\n").unwrap();
        assert!(decide(&same_window, &TOTP).unwrap().is_empty());
        assert!(notes.contains("RATE_LIMIT 3 30 is") && !notes.contains("1763880000"), "{notes}");
        assert!(notes.contains("2 emergency scratch code(s) are kept as backup codes"), "{notes}");
        assert!(!notes.contains("12345678"), "{notes}");
    }

    #[test]
    fn a_minimal_file_with_crlf_line_ends_is_accepted_without_notes() {
        let f = parse("JBSWY3DPEHPK3PXP\r\n\" TOTP_AUTH\r\n").unwrap();
        assert!(f.scratch_codes.is_empty());
        assert!(decide(&f, &TOTP).unwrap().is_empty());
    }

    #[test]
    fn what_twostep_cannot_honour_is_refused_with_the_fix() {
        let hotp = parse("JBSWY3DPEHPK3PXP\n\" HOTP_COUNTER 1\n").unwrap();
        let e = decide(&hotp, &TOTP).unwrap_err();
        assert!(e == GaError::Hotp && e.to_string().contains("counter-based (HOTP)"), "{e}");
        let neither = parse("JBSWY3DPEHPK3PXP\n").unwrap();
        let e = decide(&neither, &TOTP).unwrap_err();
        assert!(e == GaError::NotTotp && e.to_string().contains("TOTP_AUTH"), "{e}");
        let step60 = parse("JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n\" STEP_SIZE 60\n").unwrap();
        let e = decide(&step60, &TOTP).unwrap_err();
        assert_eq!(e, GaError::StepMismatch { file: 60, period: 30 });
        assert!(e.to_string().contains("every 60 seconds") && e.to_string().contains("period = 60"), "{e}");
        assert!(decide(&step60, &TotpConfig { period: 60, ..TOTP }).is_ok());
        let plain = parse("JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n").unwrap();
        assert!(
            decide(&plain, &TotpConfig { period: 60, ..TOTP }).unwrap_err().to_string().contains("every 30 seconds")
        );
        assert!(decide(&plain, &TotpConfig { digits: 8, ..TOTP }).unwrap_err().to_string().contains("digits = 6"));
        let bad_step = parse("JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n\" STEP_SIZE 3\x1b0\n").unwrap();
        let e = decide(&bad_step, &TOTP).unwrap_err().to_string();
        assert_eq!(e, "its STEP_SIZE \"3\\u{1b}0\" is not a number");
    }

    #[test]
    fn files_that_are_not_google_authenticator_files_are_refused_without_echoing_them() {
        for bad in ["", "\n\" TOTP_AUTH\n", "\" TOTP_AUTH\n", "not base32 at all!\n", "JBSWY3DPEHPK3PXP\nhello\n"] {
            let e = parse(bad).err().unwrap_or_else(|| panic!("{bad:?} accepted")).to_string();
            assert!(!e.contains("hello") && !e.contains("JBSWY"), "{e}");
        }
        assert_eq!(GaFile::parse(b"\xff\xfe").err(), Some(GaError::NotText));
        assert_eq!(parse("JBSWY3DPEHPK3PXP\n\" lower\n").err(), Some(GaError::BadOptionLine(2)));
        assert_eq!(parse("JBSWY3DPEHPK3PXP\n\nhello\n").err(), Some(GaError::BadLine(3)));
        assert_eq!(parse("not base32 at all!\n").err(), Some(GaError::BadSecret(SecretError::NotBase32)));
    }
}
