//! QR codes of room links: for the terminal at start-up and as SVG for the web page, drawn by the
//! `qrcode` crate inside this binary (nothing is fetched at run time).

use qrcode::QrCode;
use qrcode::render::{svg, unicode};

/// A QR code as Unicode half blocks, for a terminal.
pub fn terminal(text: &str) -> String {
    match QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<unicode::Dense1x2>()
            .dark_color(unicode::Dense1x2::Light)
            .light_color(unicode::Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

/// A QR code as an SVG document, or `None` when the text is too long for a QR code.
pub fn svg(text: &str) -> Option<String> {
    let code = QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}
