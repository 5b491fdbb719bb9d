//! Small, allocation-free encoders shared by URL and request builders.

use std::fmt::Write as _;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `value` percent-encoded: RFC 3986 unreserved characters pass, every
/// other byte becomes `%XX`. Spaces become `%20`, as JavaScript's
/// `encodeURIComponent` (and so Novu) writes them.
pub(crate) fn percent_encode_into(out: &mut String, value: &str) {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_unreserved(b) {
            continue;
        }
        out.push_str(ascii_run(&bytes[start..i]));
        out.push('%');
        out.push(HEX_UPPER[(b >> 4) as usize] as char);
        out.push(HEX_UPPER[(b & 0x0f) as usize] as char);
        start = i + 1;
    }
    out.push_str(ascii_run(&bytes[start..]));
}

/// A run of unreserved bytes: ASCII, so valid UTF-8 whatever surrounds it.
fn ascii_run(run: &[u8]) -> &str {
    std::str::from_utf8(run).expect("unreserved bytes are ASCII")
}

/// Appends the values joined by `sep`, each percent-encoded, the separator too.
pub(crate) fn percent_encode_joined<'a>(
    out: &mut String,
    values: impl IntoIterator<Item = &'a str>,
    sep: &str,
) {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            percent_encode_into(out, sep);
        }
        percent_encode_into(out, v);
    }
}

/// Appends `{sep}name=value` with the value percent-encoded; `sep` is `?` for
/// the first parameter and `&` after it.
pub(crate) fn push_param(out: &mut String, sep: char, name: &str, value: &str) {
    out.push(sep);
    out.push_str(name);
    out.push('=');
    percent_encode_into(out, value);
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Decodes hex (either case); `None` on odd length or a non-hex digit.
pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_encode_uri_component_for_oauth_values() {
        let mut s = String::new();
        percent_encode_into(&mut s, "chat:write,a b/é~._-");
        assert_eq!(s, "chat%3Awrite%2Ca%20b%2F%C3%A9~._-");
    }

    #[test]
    fn params_start_with_question_mark_then_ampersand() {
        let mut s = String::from("https://x.test/a");
        push_param(&mut s, '?', "a", "1");
        push_param(&mut s, '&', "b", "2 3");
        assert_eq!(s, "https://x.test/a?a=1&b=2%203");
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex_lower(&[0, 255, 16]), "00ff10");
        assert_eq!(hex_decode("00FF10"), Some(vec![0, 255, 16]));
        assert_eq!(hex_decode("0"), None);
        assert_eq!(hex_decode("zz"), None);
    }
}
