//! Small, allocation-free encoders shared by URL and request builders.

use std::fmt::Write as _;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// `%00%01...%FF`: the escape of byte `b` is `PERCENT_ESCAPES[3 * b..3 * b + 3]`.
const PERCENT_ESCAPES: &str = match std::str::from_utf8(&PERCENT_ESCAPE_BYTES) {
    Ok(s) => s,
    Err(_) => panic!("ASCII"),
};

const PERCENT_ESCAPE_BYTES: [u8; 768] = {
    let mut t = [0u8; 768];
    let mut b = 0;
    while b < 256 {
        t[3 * b] = b'%';
        t[3 * b + 1] = HEX_UPPER[b >> 4];
        t[3 * b + 2] = HEX_UPPER[b & 0x0f];
        b += 1;
    }
    t
};

/// RFC 3986 unreserved bytes: `A-Z a-z 0-9 - . _ ~`.
const UNRESERVED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
        b += 1;
    }
    t
};

/// Appends `value` percent-encoded: RFC 3986 unreserved characters pass, every
/// other byte becomes `%XX`. Spaces become `%20`, as JavaScript's
/// `encodeURIComponent` (and so Novu) writes them.
pub(crate) fn percent_encode_into(out: &mut String, value: &str) {
    let mut start = 0;
    for (i, &b) in value.as_bytes().iter().enumerate() {
        if UNRESERVED[usize::from(b)] {
            continue;
        }
        // A non-empty run of unreserved bytes is ASCII, so it starts and ends
        // on character boundaries; `get` only returns `None` for an empty
        // range that starts inside a multi-byte character.
        if let Some(run) = value.get(start..i) {
            out.push_str(run);
        }
        let e = 3 * usize::from(b);
        out.push_str(&PERCENT_ESCAPES[e..e + 3]);
        start = i + 1;
    }
    if let Some(run) = value.get(start..) {
        out.push_str(run);
    }
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

/// `{sep}name=value`, percent-encoded, as a new string (for prefixes built
/// once at configuration time).
pub(crate) fn param(sep: char, name: &str, value: &str) -> String {
    let mut s = String::with_capacity(name.len() + 2 + 3 * value.len());
    push_param(&mut s, sep, name, value);
    s
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The value of one hex digit (either case).
pub(crate) fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex (either case); `None` on odd length or a non-hex digit.
pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
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
        let mut s = String::new();
        percent_encode_into(&mut s, "éa€😀b");
        assert_eq!(s, "%C3%A9a%E2%82%AC%F0%9F%98%80b");
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
