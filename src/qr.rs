//! QR codes drawn with Unicode block characters, for the admin command and
//! for enrollment at login (sent as PAM text, so plain characters only).
//! Two modules per character cell vertically keeps an otpauth URI under 60
//! columns, readable in an 80-column SSH session.
#![forbid(unsafe_code)]

use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};

/// Renders `text` as a QR code of block characters (light modules drawn solid,
/// which scans on the usual dark terminal background), with a quiet zone.
pub fn terminal(text: &str) -> Result<String, String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L)
        .map_err(|e| format!("cannot draw a QR code: {e}"))?;
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
}
