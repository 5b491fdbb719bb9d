//! `contextHash`: proof that a `context` was minted by the customer's backend.
//!
//! `contextHash = hex(HMAC-SHA256(environment secret key, canonical JSON of context))`,
//! canonical JSON as OLPC canonical JSON in `@tufjs/canonical-json`: object
//! keys sorted by UTF-16 code units, no whitespace, strings escaped only for
//! `"` and `\` (every other character, control characters included, is
//! written as is), integers only (a float has no canonical form), each
//! number read and written as JavaScript does: the nearest double, written
//! by `JSON.stringify` (`1e16` is `10000000000000000`, 2^60 is
//! `1152921504606847000`, `1e21` is `1e+21`).
//!
//! The customer's backend signs the context it puts in the request; with
//! [`crate::Integration::with_context_hmac`] on, a request whose context was
//! changed in the browser is refused:
//!
//! ```
//! use channel_connect::context_hash::context_hash;
//! use channel_connect::*;
//! use serde_json::json;
//! use time::OffsetDateTime;
//!
//! let env_secret = "nv-env-sk-7f3c9a1e2b4d6f80"; // the environment's secret key
//! # let slack = Slack::new(
//! #     ClientId::new("1234567890.1234567890")?,
//! #     Secret::new("slack-client-secret"),
//! #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
//! # );
//! let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
//!     .integration(Integration::new("slack", slack).with_context_hmac(true))
//!     .environment_secret_key(Secret::new(env_secret))
//!     .build()?;
//! # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
//!
//! // The customer's backend: sign the context, hand both to the browser.
//! let context = json!({"tenant": {"id": "org-acme", "data": {"plan": "enterprise"}}});
//! let hash = context_hash(env_secret.as_bytes(), context.as_object().unwrap())?;
//! let body = json!({"integrationIdentifier": "slack", "context": context, "contextHash": hash});
//! let body = ConnectRequestBody::from_json(body.to_string().as_bytes())?;
//! assert!(core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32]))).is_ok());
//!
//! // The browser swaps the tenant: refused.
//! let forged = json!({"integrationIdentifier": "slack", "context": {"tenant": "org-globex"}, "contextHash": hash});
//! let forged = ConnectRequestBody::from_json(forged.to_string().as_bytes())?;
//! let err = core.connect_url(&forged, &IssueParams::new(now, &Entropy([7; 32]))).unwrap_err();
//! assert_eq!((err.status(), err.to_string().as_str()), (400, "Please provide a valid context HMAC hash"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;

use hmac::{KeyInit, Mac};
use serde_json::{Map, Number, Value};

use crate::encode::{hex_decode, hex_lower};
use crate::keys::HmacSha256;

/// A value canonical JSON cannot represent.
///
/// ```
/// use channel_connect::context_hash::{CanonicalJsonError, canonical_json};
/// use serde_json::json;
///
/// let price = json!({"tenant": {"id": "org-acme", "data": {"price": 9.5}}});
/// assert_eq!(canonical_json(price.as_object().unwrap()), Err(CanonicalJsonError::NonInteger));
///
/// // 2^53 + 1: JavaScript reads it as 2^53, and so does the hash.
/// let big = json!({"tenant": {"id": "org-acme", "seats": 9_007_199_254_740_993_u64}});
/// assert_eq!(canonical_json(big.as_object().unwrap()).unwrap(), r#"{"tenant":{"id":"org-acme","seats":9007199254740992}}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalJsonError {
    /// A number that is not an integer (as JavaScript reads it).
    #[error("canonical JSON has no form for non-integer numbers")]
    NonInteger,
    /// No longer returned: an integer beyond ±2^53 is written as
    /// `@tufjs/canonical-json` writes the double JavaScript reads (SPEC.md
    /// section 11.5). Kept so that matches on it still compile.
    #[error("canonical JSON here refuses integers beyond 2^53")]
    OutOfRange,
}

/// 2^53: JavaScript numbers are exact integers up to here.
const MAX_SAFE: u64 = 1 << 53;

/// Canonical JSON of any JSON value, appended to `out`.
///
/// ```
/// use channel_connect::context_hash::canonical_json_into;
/// use serde_json::json;
///
/// let mut out = String::from("data=");
/// canonical_json_into(&json!([{"b": 2.0, "a": null}, "x\ty", true]), &mut out)?;
/// // Keys sorted, `2.0` written as the integer it is, the tab kept as is.
/// assert_eq!(out, "data=[{\"a\":null,\"b\":2},\"x\ty\",true]");
/// # Ok::<(), channel_connect::context_hash::CanonicalJsonError>(())
/// ```
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

/// Canonical JSON of a context object: what the HMAC of `contextHash` is
/// computed over.
///
/// ```
/// use channel_connect::context_hash::canonical_json;
/// use serde_json::json;
///
/// let context = json!({"tenant": {"id": "org-acme", "data": {"seats": 250, "name": "Acme Corp"}}});
/// assert_eq!(
///     canonical_json(context.as_object().unwrap())?,
///     r#"{"tenant":{"data":{"name":"Acme Corp","seats":250},"id":"org-acme"}}"#
/// );
/// # Ok::<(), channel_connect::context_hash::CanonicalJsonError>(())
/// ```
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

/// A number as `@tufjs/canonical-json` writes what `JSON.parse` made of it:
/// the nearest double (to nearest, ties to even, as a JSON literal is read),
/// refused unless it is an integer (`Number.isInteger`), then written by
/// `JSON.stringify` (ECMAScript `Number::toString`): the shortest digits
/// that read back as the same double, padded with zeros below 10^21
/// (2^60 is `1152921504606847000`), in exponent form from 10^21 up
/// (`1e+21`, `1.5e+300`); `-0` is `0`.
fn write_integer(n: &Number, out: &mut String) -> Result<(), CanonicalJsonError> {
    // Exact integers within ±2^53 are their own double: written as such.
    if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= MAX_SAFE) {
        let _ = write!(out, "{i}");
        return Ok(());
    }
    // `as` rounds to nearest, ties to even: the double JavaScript reads
    // from the same literal (serde_json reads float literals exactly so).
    let d = match (n.as_u64(), n.as_i64(), n.as_f64()) {
        (Some(u), _, _) => u as f64,
        (_, Some(i), _) => i as f64,
        (_, _, Some(f)) => f,
        _ => return Err(CanonicalJsonError::NonInteger),
    };
    if !d.is_finite() || d.fract() != 0.0 {
        return Err(CanonicalJsonError::NonInteger);
    }
    if d == 0.0 {
        out.push('0'); // `-0` too
    } else if d.abs() < 1e21 {
        // Rust writes the shortest round-trip digits, padded with zeros.
        let _ = write!(out, "{d}");
    } else {
        // `1.5e300` in Rust, `1.5e+300` in JavaScript.
        let e = format!("{d:e}");
        match e.split_once('e') {
            Some((digits, exp)) if !exp.starts_with('-') => {
                let _ = write!(out, "{digits}e+{exp}");
            }
            _ => out.push_str(&e),
        }
    }
    Ok(())
}

/// The integer a number of a context's `data` stands for (SPEC.md section
/// 11.3; not canonical JSON's rule, which writes any integral double):
/// `1.0`, `1e3` and `-0` are the integers 1, 1000 and 0; a fraction is
/// refused (`NonInteger`), and so is anything beyond ±2^53 (`OutOfRange`),
/// where JavaScript's numbers stop being exact integers. (A body's literals
/// were judged as written when it was read; this judges the number.)
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
///
/// The value below is one of the crate's test vectors, computed by Node with
/// `@tufjs/canonical-json` and `crypto.createHmac`, not by this crate:
///
/// ```
/// use channel_connect::context_hash::{CanonicalJsonError, context_hash};
/// use serde_json::json;
///
/// let context = json!({"tenant": {"id": "org-acme", "data": {"name": "Acme Corp", "plan": "enterprise", "seats": 250}}});
/// assert_eq!(
///     context_hash(b"demo-secret-key", context.as_object().unwrap())?,
///     "b30b69eba87cc0f33bb8c6fd33193d5fad91afab9bba65adf873a1a05f7c2948"
/// );
///
/// // A context with a non-integer number has no hash.
/// let context = json!({"tenant": {"id": "org-acme", "data": {"ratio": 0.5}}});
/// assert_eq!(context_hash(b"demo-secret-key", context.as_object().unwrap()), Err(CanonicalJsonError::NonInteger));
/// # Ok::<(), CanonicalJsonError>(())
/// ```
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
///
/// Several keys let the environment secret key rotate: a hash made with
/// any of them passes.
///
/// ```
/// use channel_connect::context_hash::{context_hash, verify_context_hash};
/// use serde_json::json;
///
/// let context = json!({"tenant": "org-acme"});
/// let context = context.as_object().unwrap();
/// let (old, new): (&[u8], &[u8]) = (b"env-secret-2025-rotated-out", b"env-secret-2026-current-key");
/// let hash = context_hash(old, context)?;
///
/// assert!(verify_context_hash(&[new, old], context, &hash)); // during the rotation
/// assert!(verify_context_hash(&[new, old], context, &hash.to_uppercase())); // hex in either case
/// assert!(!verify_context_hash(&[new], context, &hash)); // after it
/// assert!(!verify_context_hash(&[new, old], context, &hash[..32])); // truncated
/// # Ok::<(), channel_connect::context_hash::CanonicalJsonError>(())
/// ```
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
