//! QR codes of room links: for the terminal at start-up and as SVG for the web page, drawn by the
//! `qrcode` crate inside this binary (nothing is fetched at run time).

use crate::body::reply;
use axum::http::Uri;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use qrcode::QrCode;
use qrcode::render::{svg, unicode};
use room::http::{HttpResponse, no_sniffing, parse_query, respond, text_response};

/// `GET /qr.svg?text=<url>`: the room link as a QR code for the page (drawn here, nothing is
/// fetched from elsewhere).
pub(crate) async fn qr_svg(uri: Uri) -> Response {
    let query = parse_query(uri.query().unwrap_or(""));
    let text = query
        .iter()
        .find(|(k, _)| k == "text")
        .map(|(_, v)| v.as_str());
    reply(qr_response(text, svg))
}

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

/// Longest text `/qr.svg` encodes: room links are short; this bounds the work per request.
pub const QR_MAX_TEXT: usize = 512;

/// `GET /qr.svg?text=<url>` answer: the SVG `draw` makes of `text` (which returns `None` when
/// the text does not fit in a QR code), or 400 naming what is wrong with `text`. The picture of
/// a text never changes, so it may be cached for a day.
pub fn qr_response(text: Option<&str>, draw: impl FnOnce(&str) -> Option<String>) -> HttpResponse {
    let bad = |why: String| text_response(StatusCode::BAD_REQUEST, format!("{why}\n"));
    let text = match text {
        None | Some("") => return bad("missing text".to_owned()),
        Some(t) if t.len() > QR_MAX_TEXT => {
            return bad(format!("text longer than {QR_MAX_TEXT} bytes"));
        }
        Some(t) => t,
    };
    let Some(svg) = draw(text) else {
        return bad("text does not fit in a QR code".to_owned());
    };
    let mut res = respond(StatusCode::OK, "image/svg+xml", svg);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    no_sniffing(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_answers_name_what_is_wrong_with_the_text() {
        let drawn = |t: &str| (t.len() < 100).then(|| format!("<svg>{t}</svg>"));
        let long = "a".repeat(QR_MAX_TEXT + 1);
        let fits_no_code = "a".repeat(QR_MAX_TEXT);
        for (text, status, body) in [
            (None, 400, "missing text\n"),
            (Some(""), 400, "missing text\n"),
            (Some(long.as_str()), 400, "text longer than 512 bytes\n"),
            (
                Some(fits_no_code.as_str()),
                400,
                "text does not fit in a QR code\n",
            ),
            (Some("https://h/r/1"), 200, "<svg>https://h/r/1</svg>"),
        ] {
            let res = qr_response(text, drawn);
            assert_eq!((res.status().as_u16(), res.body().as_str()), (status, body));
        }
        let ok = qr_response(Some("x"), drawn);
        assert_eq!(ok.headers()[header::CONTENT_TYPE], "image/svg+xml");
        assert_eq!(ok.headers()[header::CACHE_CONTROL], "public, max-age=86400");
        assert_eq!(ok.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}
