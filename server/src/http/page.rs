//! The small pages a browser sees (after a callback, and the demo's), their
//! one stylesheet, and HTML escaping.
//!
//! Every page carries the same inline stylesheet (`STYLE`), allowed by its
//! hash (`style_csp`) under `default-src 'none'`: nothing is loaded, no
//! script runs, and no other inline style would apply.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The stylesheet of every page: a centered card, the system's fonts,
/// light and dark after the browser's `prefers-color-scheme`, a green or
/// red accent for a success or a failure, one column on a phone.
pub(crate) const STYLE: &str = concat!(
    ":root{color-scheme:light dark;--bg:#f3f4f6;--card:#fff;--text:#111827;--muted:#4b5563;",
    "--line:#e5e7eb;--code:#f3f4f6;--accent:#4f46e5;--ok:#15803d;--fail:#b91c1c;--on:#fff}",
    "@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#1a1d23;--text:#e5e7eb;",
    "--muted:#9ca3af;--line:#2d323b;--code:#262b33;--accent:#818cf8;--ok:#4ade80;--fail:#f87171;",
    "--on:#0f1115}}",
    "*{box-sizing:border-box}",
    "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}",
    "body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;",
    "padding:24px 16px;background:var(--bg);color:var(--text);",
    "font:17px/1.55 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,",
    "\"Noto Sans\",sans-serif}",
    "main{width:100%;max-width:35rem;background:var(--card);border:1px solid var(--line);",
    "border-top:4px solid var(--accent);border-radius:14px;padding:28px 28px 24px;",
    "box-shadow:0 10px 30px rgba(0,0,0,.08);overflow-wrap:break-word}",
    ".ok main{border-top-color:var(--ok)}.fail main{border-top-color:var(--fail)}",
    ".mark{width:44px;height:44px;border-radius:50%;display:flex;align-items:center;",
    "justify-content:center;margin:0 0 16px;font-size:24px;font-weight:700;line-height:1;",
    "color:var(--on);background:var(--accent)}",
    ".ok .mark{background:var(--ok)}.fail .mark{background:var(--fail)}",
    "h1{margin:0 0 10px;font-size:1.5rem;line-height:1.25;letter-spacing:-.01em}",
    "p{margin:0 0 12px}",
    ".lead{font-size:1.0625rem}",
    ".hint{color:var(--muted)}",
    ".detail,.request{font-size:.875rem;color:var(--muted)}",
    ".request{margin:20px 0 0;padding-top:14px;border-top:1px solid var(--line)}",
    "code{font:.875em/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,\"DejaVu Sans Mono\",monospace;",
    "background:var(--code);padding:.1em .35em;border-radius:5px;overflow-wrap:anywhere}",
    "dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:8px 16px;margin:0 0 8px}",
    "dt{color:var(--muted)}dd{margin:0}",
    ".actions{display:flex;flex-wrap:wrap;gap:10px;margin-top:20px}",
    ".actions form{margin:0}",
    ".button{display:inline-block;padding:10px 18px;border:1px solid var(--accent);",
    "border-radius:9px;background:var(--accent);color:var(--on);font:inherit;font-weight:600;",
    "line-height:1.3;text-decoration:none;cursor:pointer}",
    ".button.quiet{background:transparent;color:var(--text);border-color:var(--line)}",
    ".button:hover{filter:brightness(1.08)}",
    ".button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}",
    "@media (max-width:480px){body{align-items:flex-start}main{padding:22px 18px 18px}",
    "dl{grid-template-columns:minmax(0,1fr);gap:0}dt{font-size:.875rem}dd{margin:0 0 10px}",
    ".actions,.actions form{flex-direction:column;width:100%}",
    ".button{display:block;width:100%;text-align:center}}",
);

/// `style-src 'sha256-...'`: the directive that lets [`STYLE`] apply,
/// and nothing else.
pub(crate) fn style_csp() -> &'static str {
    static DIRECTIVE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "style-src 'sha256-{}'",
            STANDARD.encode(Sha256::digest(STYLE.as_bytes()))
        )
    });
    &DIRECTIVE
}

/// The result pages' policy: nothing loaded, no script, no form, no frame,
/// only [`STYLE`].
fn result_policy() -> HeaderValue {
    static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
        let policy = format!(
            "default-src 'none'; {}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            style_csp()
        );
        HeaderValue::from_str(&policy).expect("a policy is ASCII")
    });
    POLICY.clone()
}

/// A page's accent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Tone {
    /// The demo's and the stand-ins' pages (none without feature `demo`).
    #[cfg_attr(not(feature = "demo"), allow(dead_code))]
    Plain,
    /// Connected (green, a check mark).
    Success,
    /// Refused (red, an exclamation mark).
    Failure,
}

/// A whole page: `<head>` with [`STYLE`], and `main` (already HTML,
/// whatever it shows escaped) in a card with `tone`'s accent.
pub(crate) fn document(title: &str, tone: Tone, main: &str) -> String {
    let (class, mark) = match tone {
        Tone::Plain => ("", ""),
        Tone::Success => (
            " class=\"ok\"",
            "<div class=\"mark\" aria-hidden=\"true\">&#10003;</div>",
        ),
        Tone::Failure => (
            " class=\"fail\"",
            "<div class=\"mark\" aria-hidden=\"true\">!</div>",
        ),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body{class}><main>{mark}{main}</main></body></html>",
        title = escape(title),
    )
}

/// What a result page says: a title (`id="result"`), what happened
/// (`id="message"`), what to do (`id="hint"`), and for a failure the
/// service's own message (`id="detail"`). Plain text: escaped when shown.
pub(crate) struct Page<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub hint: &'a str,
    pub detail: Option<&'a str>,
}

/// The browser's answer: a 302 to the integration's `redirectUrl` with the
/// result, or a small page (everything escaped, nothing loaded) with the
/// request id a user can quote; a 2xx status looks like a success,
/// anything else like a failure.
pub(crate) fn finish(
    target: Option<url::Url>,
    status: StatusCode,
    pairs: &[(&str, String)],
    page: &Page<'_>,
    request_id: Option<&str>,
) -> Response {
    if let Some(mut url) = target {
        url.query_pairs_mut()
            .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
        return Redirect::to(url.as_str()).into_response();
    }
    let tone = if status.is_success() {
        Tone::Success
    } else {
        Tone::Failure
    };
    let detail = page.detail.map_or_else(String::new, |d| {
        format!("<p id=\"detail\" class=\"detail\">Details: {}</p>", escape(d))
    });
    // The request id, for a user to quote to support (it names the log lines).
    let quoted = request_id.map_or_else(String::new, |id| {
        format!(
            "<p id=\"request\" class=\"request\">Request id: <code>{}</code></p>",
            escape(id)
        )
    });
    let main = format!(
        "<h1 id=\"result\">{t}</h1><p id=\"message\" class=\"lead\">{m}</p>\
         <p id=\"hint\" class=\"hint\">{h}</p>{detail}{quoted}",
        t = escape(page.title),
        m = escape(page.message),
        h = escape(page.hint),
    );
    let mut res = (status, Html(document(page.title, tone, &main))).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, result_policy());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_exactly_the_style_in_the_page() {
        let page = document("t", Tone::Plain, "");
        let inline = page
            .split("<style>")
            .nth(1)
            .and_then(|rest| rest.split("</style>").next())
            .expect("one style element");
        assert_eq!(inline, STYLE);
        let hash = STANDARD.encode(Sha256::digest(inline.as_bytes()));
        assert_eq!(style_csp(), format!("style-src 'sha256-{hash}'"));
        // No `</` in the stylesheet: it cannot end its element early.
        assert!(!STYLE.contains("</"));
        let policy = result_policy();
        let policy = policy.to_str().unwrap();
        assert!(
            policy.starts_with("default-src 'none'; style-src 'sha256-"),
            "{policy}"
        );
        assert!(!policy.contains("unsafe-inline") && !policy.contains("script-src"));
    }

    #[test]
    fn a_result_page_escapes_what_it_shows() {
        let page = Page {
            title: "<t>",
            message: "Slack workspace <b>&co</b> is connected.",
            hint: "\"h\"",
            detail: Some("<script>"),
        };
        let res = finish(None, StatusCode::OK, &[], &page, Some("<id>"));
        assert_eq!(res.status(), StatusCode::OK);
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains(style_csp()));
        let res = finish(None, StatusCode::BAD_REQUEST, &[], &page, Some("<id>"));
        let (_, body) = res.into_parts();
        let body = text_of(body);
        assert!(body.contains("class=\"fail\""), "{body}");
        for raw in ["<t>", "<b>", "<script>", "<id>", "\"h\""] {
            assert!(!body.contains(raw), "{raw} unescaped: {body}");
        }
        assert!(body.contains("Slack workspace &lt;b&gt;&amp;co&lt;/b&gt; is connected."));
    }

    fn text_of(body: axum::body::Body) -> String {
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(body, usize::MAX))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
