//! Provider text made safe to show: error codes and descriptions come from
//! the network (a callback's query, a token endpoint's body), so they reach
//! `Display`, error JSON and logs only bounded and stripped.

/// Longest error description kept, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 256;

/// A provider error code kept for messages: 1 to 64 characters of
/// `[a-z0-9_]` (the shape of OAuth, Slack and Microsoft error codes), else
/// `unrecognized`, so no arbitrary input (a token, markup) reaches a message.
pub(crate) fn error_code(raw: Option<&str>) -> String {
    match raw {
        Some(s)
            if (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            s.to_owned()
        }
        _ => "unrecognized".to_owned(),
    }
}

/// An error description reduced to plain text: markup (`<...>`) removed,
/// control characters (C0, DEL, C1) and the HTML-special `"'&` turned into
/// spaces, runs of whitespace collapsed, cut to [`MAX_DESCRIPTION_BYTES`] at
/// a character boundary. `None` when nothing is left.
pub(crate) fn description(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len().min(MAX_DESCRIPTION_BYTES));
    let mut in_tag = false;
    let mut space = false;
    for c in raw.chars() {
        let c = match c {
            '<' => {
                in_tag = true;
                continue;
            }
            '>' if in_tag => {
                in_tag = false;
                ' '
            }
            _ if in_tag => continue,
            '>' | '"' | '\'' | '&' => ' ',
            c if c.is_control() || c.is_whitespace() => ' ',
            c => c,
        };
        if c == ' ' {
            space = !out.is_empty();
            continue;
        }
        let needed = c.len_utf8() + usize::from(space);
        if out.len() + needed > MAX_DESCRIPTION_BYTES {
            break;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    (!out.is_empty()).then_some(out)
}

/// The body of every error answer: `{"statusCode": N, "message": "..."}`.
pub(crate) fn error_body(status: u16, message: &str) -> serde_json::Value {
    serde_json::json!({ "statusCode": status, "message": message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_their_shape_or_become_unrecognized() {
        assert_eq!(error_code(Some("access_denied")), "access_denied");
        for bad in [
            "",
            "Access_Denied",
            "<script>",
            "a b",
            "xoxb-1-Token",
            &"a".repeat(65),
        ] {
            assert_eq!(error_code(Some(bad)), "unrecognized", "{bad}");
        }
        assert_eq!(error_code(None), "unrecognized");
    }

    #[test]
    fn descriptions_lose_markup_controls_and_length() {
        assert_eq!(
            description("AADSTS65004: User declined.\r\nTrace ID: 1\u{85}x").as_deref(),
            Some("AADSTS65004: User declined. Trace ID: 1 x")
        );
        assert_eq!(
            description("<script>alert('x')</script>hi & \"bye\"").as_deref(),
            Some("alert( x ) hi bye")
        );
        assert_eq!(description("<b unclosed"), None);
        assert_eq!(description(" \t\n"), None);
        let long = description(&"é".repeat(400)).unwrap();
        assert!(long.len() <= MAX_DESCRIPTION_BYTES && long.chars().all(|c| c == 'é'));
    }
}
