//! The small pages a browser sees after a callback, and HTML escaping.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// The browser's answer: a 302 to the integration's `redirectUrl` with the
/// result, or a small page (everything escaped, nothing loaded).
pub(crate) fn finish(
    target: Option<url::Url>,
    status: StatusCode,
    pairs: &[(&str, String)],
    title: &str,
    message: &str,
    request_id: Option<&str>,
) -> Response {
    if let Some(mut url) = target {
        url.query_pairs_mut()
            .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
        return Redirect::to(url.as_str()).into_response();
    }
    // The request id, for a user to quote to support (it names the log lines).
    let quoted = request_id.map_or_else(String::new, |id| {
        format!("<p id=\"request\">Request id: <code>{}</code></p>", escape(id))
    });
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1 id=\"result\">{t}</h1><p id=\"message\">{m}</p>{quoted}</body></html>",
        t = escape(title),
        m = escape(message)
    );
    let mut res = (status, Html(page)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

/// HTML-escapes text for an element or an attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
