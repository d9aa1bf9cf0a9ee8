//! QR codes drawn with Unicode block characters, for the admin command and
//! for enrollment at login (sent as PAM text, so plain characters only).
//! Two modules per character cell vertically keeps an otpauth URI under 60
//! columns, readable in an 80-column SSH session.

use std::fmt;

use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};

/// Why `text` has no QR code (too long for the largest one, in practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QrError(qrcode::types::QrError);

impl fmt::Display for QrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot draw a QR code: {}", self.0)
    }
}

impl std::error::Error for QrError {}

/// Renders `text` as a QR code of block characters (light modules drawn solid,
/// which scans on the usual dark terminal background), with a quiet zone.
pub fn terminal(text: &str) -> Result<String, QrError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).map_err(QrError)?;
    Ok(code.render::<Dense1x2>().dark_color(Dense1x2::Light).light_color(Dense1x2::Dark).quiet_zone(true).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_otpauth_uri_fits_an_80_column_terminal() {
        let uri = "otpauth://totp/Example%20School%20District:first.last%40district.example.org?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Example%20School%20District&algorithm=SHA1&digits=6&period=30";
        let qr = terminal(uri).unwrap();
        let widest = qr.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest <= 80, "{widest} columns");
        assert!(qr.lines().count() <= 40);
        assert!(qr.contains('█'));
    }

    #[test]
    fn text_too_long_for_any_qr_code_is_an_error_that_says_so() {
        let e = terminal(&"x".repeat(8000)).unwrap_err();
        assert!(e.to_string().starts_with("cannot draw a QR code: "), "{e}");
    }
}
