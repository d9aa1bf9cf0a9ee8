//! QR codes drawn with Unicode block characters, for the admin command and
//! for enrollment at login (sent as PAM text, so plain characters only), and
//! as SVG files for printed enrollment sheets (`twostep enroll --qr-svg DIR`).
//! Two modules per character cell vertically keeps an otpauth URI under 60
//! columns, readable in an 80-column SSH session.
//!
//! A QR code is dark modules on a light quiet zone. A terminal draws a glyph's
//! ink in its foreground colour and the rest of the cell in its background
//! colour, and which of the two is light depends on the terminal's theme: plain
//! characters can be right for dark backgrounds or for light ones, never both
//! (an inverted code does not scan with every app). [`Style::Ansi`] therefore
//! sets the colours itself (black ink on a white cell, SGR 30;47: palette
//! entries 0 and 7 are dark and light in every common theme), so the code
//! carries its own light border on any background; [`Style::Dark`] and
//! [`Style::Light`] are the plain forms for text that cannot carry escape
//! sequences (PAM messages: OpenSSH's client shows them as `\033`).

use std::fmt;

use qrcode::render::unicode::Dense1x2;
use qrcode::{Color, EcLevel, QrCode};

/// Why `text` has no QR code (too long for the largest one, in practice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QrError(qrcode::types::QrError);

impl fmt::Display for QrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot draw a QR code: {}", self.0)
    }
}

impl std::error::Error for QrError {}

/// How a terminal QR code is drawn (`twostep enroll --qr-style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Style {
    /// Colours set with escape sequences: scans on dark and light backgrounds.
    Ansi,
    /// Plain characters for a dark background (light modules drawn as ink).
    Dark,
    /// Plain characters for a light background (dark modules drawn as ink).
    Light,
}

/// The quiet zone the standard asks for, in modules.
const QUIET: usize = 4;
/// Black ink on a white cell; reset at the end of every line so nothing bleeds.
const SGR_ON: &str = "\x1b[30;47m";
const SGR_OFF: &str = "\x1b[0m";

fn code(text: &str) -> Result<QrCode, QrError> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).map_err(QrError)
}

/// Renders `text` as plain block characters for a dark terminal background
/// ([`Style::Dark`]), with a quiet zone: the form PAM messages use.
pub fn terminal(text: &str) -> Result<String, QrError> {
    terminal_styled(text, Style::Dark)
}

/// Renders `text` as block characters in `style`, with a quiet zone.
pub fn terminal_styled(text: &str, style: Style) -> Result<String, QrError> {
    let code = code(text)?;
    Ok(match style {
        Style::Dark => {
            code.render::<Dense1x2>().dark_color(Dense1x2::Light).light_color(Dense1x2::Dark).quiet_zone(true).build()
        }
        Style::Light => code.render::<Dense1x2>().quiet_zone(true).build(),
        Style::Ansi => ansi(&code),
    })
}

/// Dark modules as ink on explicitly white cells, one SGR pair per line.
fn ansi(code: &QrCode) -> String {
    let n = code.width();
    let colors = code.to_colors();
    let side = n + 2 * QUIET;
    let dark = |x: usize, y: usize| {
        (QUIET..QUIET + n).contains(&x)
            && (QUIET..QUIET + n).contains(&y)
            && colors[(y - QUIET) * n + (x - QUIET)] == Color::Dark
    };
    let mut out = String::new();
    for y in (0..side).step_by(2) {
        out.push_str(SGR_ON);
        for x in 0..side {
            // An odd last row gets a light lower half: half a module more border.
            out.push(match (dark(x, y), y + 1 < side && dark(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push_str(SGR_OFF);
        out.push('\n');
    }
    out.pop();
    out
}

/// `text` as a standalone SVG image (black on white, quiet zone included), to print.
pub fn svg(text: &str) -> Result<String, QrError> {
    use qrcode::render::svg;
    Ok(code(text)?
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "otpauth://totp/Example%20School%20District:first.last%40district.example.org?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Example%20School%20District&algorithm=SHA1&digits=6&period=30";

    #[test]
    fn an_otpauth_uri_fits_an_80_column_terminal_in_every_style() {
        for style in [Style::Ansi, Style::Dark, Style::Light] {
            let qr = terminal_styled(URI, style).unwrap();
            let widest = qr.lines().map(|l| l.replace(SGR_ON, "").replace(SGR_OFF, "").chars().count()).max();
            assert!(widest.unwrap() <= 80, "{style:?}: {widest:?} columns");
            assert!(qr.lines().count() <= 40);
            assert!(qr.contains('█'));
        }
        assert_eq!(terminal(URI).unwrap(), terminal_styled(URI, Style::Dark).unwrap());
        assert!(!terminal(URI).unwrap().contains('\x1b'), "PAM text carries no escape sequences");
    }

    #[test]
    fn text_too_long_for_any_qr_code_is_an_error_that_says_so() {
        let e = terminal(&"x".repeat(8000)).unwrap_err();
        assert!(e.to_string().starts_with("cannot draw a QR code: "), "{e}");
    }

    /// A terminal theme: its default colours and its palette entries 0 (black) and 7 (white).
    #[derive(Debug, Clone, Copy)]
    struct Theme {
        fg: u8,
        bg: u8,
        black: u8,
        white: u8,
    }

    const DARK_THEME: Theme = Theme { fg: 210, bg: 35, black: 0, white: 200 };
    const LIGHT_THEME: Theme = Theme { fg: 25, bg: 250, black: 40, white: 215 };

    /// What a terminal with `theme` shows for `text`: each character cell one
    /// module wide and two high (upper and lower half), `scale` pixels a module,
    /// inside a border of the terminal's own background. Understands the SGR
    /// sequences [`ansi`] writes (30, 47, 0) and no others (a test failure, not a guess).
    fn screen(text: &str, theme: Theme, scale: usize) -> (usize, usize, Vec<u8>) {
        let margin = 6;
        let rows: Vec<Vec<(char, u8, u8)>> = text
            .lines()
            .map(|line| {
                let (mut fg, mut bg) = (theme.fg, theme.bg);
                let mut cells = Vec::new();
                let mut rest = line;
                while let Some(c) = rest.chars().next() {
                    if c == '\x1b' {
                        let end = rest.find('m').expect("an SGR sequence");
                        for p in rest[2..end].split(';') {
                            match p {
                                "0" => (fg, bg) = (theme.fg, theme.bg),
                                "30" => fg = theme.black,
                                "47" => bg = theme.white,
                                other => panic!("SGR {other} not modelled"),
                            }
                        }
                        rest = &rest[end + 1..];
                    } else {
                        cells.push((c, fg, bg));
                        rest = &rest[c.len_utf8()..];
                    }
                }
                cells
            })
            .collect();
        let cols = rows.iter().map(Vec::len).max().unwrap();
        let (w, h) = ((cols + 2 * margin) * scale, (2 * rows.len() + 2 * margin) * scale);
        let mut px = vec![theme.bg; w * h];
        for (r, row) in rows.iter().enumerate() {
            for (c, &(ch, fg, bg)) in row.iter().enumerate() {
                let (upper, lower) = match ch {
                    '█' => (fg, fg),
                    '▀' => (fg, bg),
                    '▄' => (bg, fg),
                    ' ' => (bg, bg),
                    other => panic!("character {other:?} not modelled"),
                };
                for (half, value) in [(0, upper), (1, lower)] {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            let y = (margin + 2 * r + half) * scale + dy;
                            px[y * w + (margin + c) * scale + dx] = value;
                        }
                    }
                }
            }
        }
        (w, h, px)
    }

    /// What a QR decoder (rqrr) reads from the screen, if anything.
    fn scan(text: &str, theme: Theme) -> Option<String> {
        let (w, h, px) = screen(text, theme, 4);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| px[y * w + x]);
        img.detect_grids().iter().find_map(|g| g.decode().ok()).map(|(_, content)| content)
    }

    #[test]
    fn the_coloured_code_scans_on_dark_and_on_light_terminal_backgrounds() {
        let qr = terminal_styled(URI, Style::Ansi).unwrap();
        assert_eq!(scan(&qr, DARK_THEME).as_deref(), Some(URI), "dark background");
        assert_eq!(scan(&qr, LIGHT_THEME).as_deref(), Some(URI), "light background");
    }

    #[test]
    fn each_plain_code_scans_on_its_own_background_and_not_on_the_other() {
        let dark = terminal_styled(URI, Style::Dark).unwrap();
        let light = terminal_styled(URI, Style::Light).unwrap();
        assert_eq!(scan(&dark, DARK_THEME).as_deref(), Some(URI));
        assert_eq!(scan(&light, LIGHT_THEME).as_deref(), Some(URI));
        // The reason for the coloured form: the decoder refuses an inverted code.
        assert_eq!(scan(&dark, LIGHT_THEME), None);
        assert_eq!(scan(&light, DARK_THEME), None);
    }

    #[test]
    fn the_svg_is_a_black_on_white_image_of_the_code() {
        let svg = svg(URI).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
        assert!(svg.contains("#000000") && svg.contains("#ffffff"));
        assert!(!svg.contains("JBSWY3DP"), "the secret is only in the code, not in the text");
    }
}
