//! `contextHash`: proof that a `context` was minted by the customer's backend.
//!
//! `contextHash = hex(HMAC-SHA256(environment secret key, canonical JSON of context))`,
//! canonical JSON as OLPC canonical JSON in `@tufjs/canonical-json`: object
//! keys sorted by UTF-16 code units, no whitespace, strings escaped only for
//! `"` and `\` (every other character, control characters included, is
//! written as is), integers only (a float has no canonical form).

use std::fmt::Write as _;

use hmac::{KeyInit, Mac};
use serde_json::{Map, Number, Value};

use crate::encode::{hex_decode, hex_lower};
use crate::keys::HmacSha256;

/// A value canonical JSON cannot represent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalJsonError {
    /// A number that is not an integer.
    #[error("canonical JSON has no form for non-integer numbers")]
    NonInteger,
    /// An integer beyond ±2^53, which JavaScript (and so the customer's
    /// hash) cannot represent exactly: refused rather than silently mismatched.
    #[error("canonical JSON here refuses integers beyond 2^53")]
    OutOfRange,
}

/// 2^53: JavaScript numbers are exact integers up to here.
const MAX_SAFE: u64 = 1 << 53;

/// Canonical JSON of any JSON value, appended to `out`.
pub fn canonical_json_into(value: &Value, out: &mut String) -> Result<(), CanonicalJsonError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_integer(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json_into(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, out)?,
    }
    Ok(())
}

/// Canonical JSON of a context object.
pub fn canonical_json(context: &Map<String, Value>) -> Result<String, CanonicalJsonError> {
    let mut out = String::new();
    write_object(context, &mut out)?;
    Ok(out)
}

fn write_object(map: &Map<String, Value>, out: &mut String) -> Result<(), CanonicalJsonError> {
    let mut keys: Vec<&String> = map.keys().collect();
    // JavaScript's default sort compares UTF-16 code units, not bytes or code points.
    keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
    out.push('{');
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(k, out);
        out.push(':');
        canonical_json_into(&map[k], out)?;
    }
    out.push('}');
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn write_integer(n: &Number, out: &mut String) -> Result<(), CanonicalJsonError> {
    let _ = write!(out, "{}", exact_integer(n)?);
    Ok(())
}

/// The integer a JSON number stands for, as JavaScript reads it: `1.0`,
/// `1e3` and `-0` are the integers 1, 1000 and 0; a fraction is refused
/// (`NonInteger`), and so is anything beyond ±2^53 (`OutOfRange`), where
/// JavaScript's numbers stop being exact integers.
pub(crate) fn exact_integer(n: &Number) -> Result<i64, CanonicalJsonError> {
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE {
            return Err(CanonicalJsonError::OutOfRange);
        }
        return Ok(i);
    }
    if n.is_u64() {
        return Err(CanonicalJsonError::OutOfRange); // above i64::MAX
    }
    // `9007199254740992.0` (2^53 itself) is an integer too.
    let f = n.as_f64().ok_or(CanonicalJsonError::NonInteger)?;
    if f.fract() != 0.0 || !f.is_finite() {
        return Err(CanonicalJsonError::NonInteger);
    }
    if f.abs() > MAX_SAFE as f64 {
        return Err(CanonicalJsonError::OutOfRange);
    }
    Ok(f as i64)
}

/// `hex(HMAC-SHA256(secret_key, canonical_json(context)))`, lowercase, as the
/// customer's backend computes it.
pub fn context_hash(secret_key: &[u8], context: &Map<String, Value>) -> Result<String, CanonicalJsonError> {
    let canonical = canonical_json(context)?;
    Ok(hex_lower(&mac(secret_key, canonical.as_bytes())))
}

fn mac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(message);
    m.finalize().into_bytes().into()
}

/// Checks a presented hash (hex, either case) against every secret key,
/// comparing in constant time. False for a context with no canonical form.
pub fn verify_context_hash(secret_keys: &[&[u8]], context: &Map<String, Value>, presented_hex: &str) -> bool {
    let Some(presented) = hex_decode(presented_hex).filter(|p| p.len() == 32) else {
        return false;
    };
    let Ok(canonical) = canonical_json(context) else {
        return false;
    };
    secret_keys.iter().fold(false, |found, key| {
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        m.update(canonical.as_bytes());
        // verify_slice compares in constant time; every key is tried.
        m.verify_slice(&presented).is_ok() | found
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn canonical_form() {
        let m = map(
            json!({"b": 1, "a": {"id": "x", "data": {"q\"": "a\\b\n", "n": -3, "f": 2.0, "arr": [true, null]}}}),
        );
        assert_eq!(
            canonical_json(&m).unwrap(),
            "{\"a\":{\"data\":{\"arr\":[true,null],\"f\":2,\"n\":-3,\"q\\\"\":\"a\\\\b\n\"},\"id\":\"x\"},\"b\":1}"
        );
        assert_eq!(
            canonical_json(&map(json!({"x": 1.5}))),
            Err(CanonicalJsonError::NonInteger)
        );
    }

    #[test]
    fn utf16_order_differs_from_byte_order() {
        // U+FF61 sorts before U+1F600 by UTF-8 bytes and code points, after it
        // by UTF-16 units (0xFF61 > 0xD83D, the high surrogate).
        let m = map(json!({"\u{1F600}": 1, "\u{FF61}": 2}));
        assert_eq!(canonical_json(&m).unwrap(), "{\"\u{1F600}\":1,\"\u{FF61}\":2}");
    }

    #[test]
    fn verify_accepts_any_active_key_and_either_case() {
        let m = map(json!({"tenant": "org-acme"}));
        let h = context_hash(b"new-key", &m).unwrap();
        assert!(verify_context_hash(&[b"old-key", b"new-key"], &m, &h));
        assert!(verify_context_hash(&[b"new-key"], &m, &h.to_uppercase()));
        assert!(!verify_context_hash(&[b"old-key"], &m, &h));
        assert!(!verify_context_hash(&[b"new-key"], &m, &h[..62]));
        assert!(!verify_context_hash(&[b"new-key"], &m, "zz"));
    }
}
