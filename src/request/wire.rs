//! The request bodies read from JSON text in one pass (SPEC.md sections 11.1
//! to 11.3).
//!
//! Every member is read in full, ignored ones included: their strings are
//! decoded (UTF-8, no lone surrogate), their numbers must be within the range
//! of a double, and they nest within the parser's limit, so the whole body is
//! held to the same JSON rules wherever a value sits, at no more cost than
//! skipping it (nothing ignored is kept or allocated).
//!
//! A context entity's `data` is read from its text: its numbers are judged by
//! the literal as written (an integer from -2^53 to 2^53 exactly:
//! `9007199254740993.0` and `1e-400` are not, whatever a double makes of
//! them), and its nesting depth is counted, before the text is parsed.

use std::cell::Cell;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{ConnectRequestBody, LinkUserRequestBody};
use crate::context::{MAX_CONTEXT_DATA_DEPTH, shown};
use crate::validation_error::ValidationError;

/// Where a refusal of section 11.3 found while reading is kept, so that
/// [`ConnectRequestBody::from_json`] returns it typed (the reader itself can
/// only stop with a parser error).
pub(super) type Refusal = Cell<Option<ValidationError>>;

/// Reads a body, keeping a field refusal found on the way in `refusal`.
pub(super) fn read_body<'de, T: BodyFields, D: Deserializer<'de>>(
    d: D,
    refusal: &Refusal,
) -> Result<T, D::Error> {
    d.deserialize_map(BodyVisitor::<T> {
        refusal,
        body: std::marker::PhantomData,
    })
}

/// The members a body type knows, by their JSON names.
pub(super) trait BodyFields: Default {
    /// The known member names; their index is passed to `read`.
    const NAMES: &'static [&'static str];
    /// Reads the value of known member `index` into the body.
    fn read<'de, A: MapAccess<'de>>(
        &mut self,
        index: usize,
        map: &mut A,
        refusal: &Refusal,
    ) -> Result<(), A::Error>;
}

/// `BodyFields` for a body: the five members both bodies share, at indexes
/// 0 to 4, then its own, each read as its type deserializes.
macro_rules! body_fields {
    ($body:ty, [$($name:literal => $field:ident),+]) => {
        impl BodyFields for $body {
            const NAMES: &'static [&'static str] = &[
                "integrationIdentifier",
                "subscriberId",
                "connectionIdentifier",
                "context",
                "contextHash",
                $($name),+
            ];

            fn read<'de, A: MapAccess<'de>>(&mut self, index: usize, map: &mut A, refusal: &Refusal) -> Result<(), A::Error> {
                match index {
                    0 => self.integration_identifier = map.next_value()?,
                    1 => self.subscriber_id = map.next_value()?,
                    2 => self.connection_identifier = map.next_value()?,
                    3 => self.context = map.next_value_seed(ContextSeed { refusal })?,
                    4 => self.context_hash = map.next_value()?,
                    // The body's own members, 5 onwards, in the order listed.
                    i => {
                        let mut k = 4;
                        $(
                            k += 1;
                            if i == k {
                                self.$field = map.next_value()?;
                            }
                        )+
                    }
                }
                Ok(())
            }
        }
    };
}

body_fields!(ConnectRequestBody, ["scope" => scope, "connectionMode" => connection_mode, "autoLinkUser" => auto_link_user]);
body_fields!(LinkUserRequestBody, ["userScope" => user_scope]);

struct BodyVisitor<'r, T> {
    refusal: &'r Refusal,
    body: std::marker::PhantomData<T>,
}

impl<'de, T: BodyFields> Visitor<'de> for BodyVisitor<'_, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut body = T::default();
        let mut seen = 0u32;
        while let Some(name) = map.next_key_seed(MemberName(T::NAMES))? {
            match name {
                Some(i) => {
                    if seen & (1 << i) != 0 {
                        return Err(de::Error::duplicate_field(T::NAMES[i]));
                    }
                    seen |= 1 << i;
                    body.read(i, &mut map, self.refusal)?;
                }
                // Unknown: read in full, held to the same rules, dropped.
                None => map.next_value::<Checked>().map(drop)?,
            }
        }
        Ok(body)
    }
}

/// A member name: the index of a known one, `None` for any other (decoded
/// and checked like every string, never copied).
struct MemberName(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for MemberName {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MemberName {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|n| *n == name))
    }
}

/// Any JSON value, read in full and dropped: what an ignored member holds.
/// Reading it is what makes it obey JSON: strings decoded (valid UTF-8, no
/// lone surrogate escape), numbers within the range of a double, nesting
/// within the parser's limit.
pub(super) struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Checked)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_none<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Checked, D::Error> {
        Checked::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
}

/// `context`: absent or `null`, or an object read entity by entity.
struct ContextSeed<'r> {
    refusal: &'r Refusal,
}

impl<'de> DeserializeSeed<'de> for ContextSeed<'_> {
    type Value = Option<Map<String, Value>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ContextSeed<'_> {
    type Value = Option<Map<String, Value>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a context object")
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut context = Map::new();
        // A refusal belongs to the value a key keeps: the last one (11.2).
        let mut refused: Vec<(String, ValidationError)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let (value, refusal) = map.next_value_seed(EntitySeed { key: &key })?;
            refused.retain(|(k, _)| *k != key);
            if let Some(r) = refusal {
                refused.push((key.clone(), r));
            }
            context.insert(key, value);
        }
        match refused.into_iter().next() {
            Some((_, r)) => {
                let message = r.to_string();
                self.refusal.set(Some(r));
                Err(de::Error::custom(message))
            }
            None => Ok(Some(context)),
        }
    }
}

/// One context value: an id string, or an entity object whose `data` is
/// read from its text. Any other value is kept for [`crate::context`] to
/// refuse.
struct EntitySeed<'k> {
    key: &'k str,
}

impl<'de> DeserializeSeed<'de> for EntitySeed<'_> {
    type Value = (Value, Option<ValidationError>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntitySeed<'_> {
    type Value = (Value, Option<ValidationError>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a context value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok((Value::Bool(v), None))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok((v.into(), None))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok((v.into(), None))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok((v.into(), None))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok((Value::String(v.to_owned()), None))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok((Value::String(v), None))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok((Value::Null, None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok((Value::Array(items), None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entity = Map::new();
        let mut data: Option<Box<RawValue>> = None;
        while let Some(name) = map.next_key::<String>()? {
            if name == "data" {
                // The last `data` is the one kept (11.2).
                data = Some(map.next_value()?);
            } else {
                let value: Value = map.next_value()?;
                entity.insert(name, value);
            }
        }
        let mut refusal = None;
        if let Some(raw) = data {
            let (value, r) = read_data(raw.get(), self.key).map_err(de::Error::custom)?;
            entity.insert("data".to_owned(), value);
            refusal = r;
        }
        Ok((Value::Object(entity), refusal))
    }
}

/// An entity's `data` from its text: the value, and the refusal of section
/// 11.3 its literals or its depth call for. An error is a JSON refusal of
/// section 11.1 (a number beyond a double, a lone surrogate).
fn read_data(text: &str, key: &str) -> Result<(Value, Option<ValidationError>), serde_json::Error> {
    // Only an object is data; anything else is refused by its type later,
    // whatever it holds.
    let scan = if text.starts_with('{') {
        scan_data(text)
    } else {
        Scan::Fine
    };
    if scan == Scan::TooDeep {
        let refusal = ValidationError::ContextDataTooDeep { key: shown(key) };
        return Ok((Value::Null, Some(refusal)));
    }
    let value: Value = serde_json::from_str(text)?;
    let refusal =
        (scan == Scan::NotAnExactInteger).then(|| ValidationError::ContextDataNumber { key: shown(key) });
    Ok((value, refusal))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    Fine,
    /// Deeper than [`MAX_CONTEXT_DATA_DEPTH`] levels.
    TooDeep,
    /// A number literal whose exact value is not an integer from -2^53 to 2^53.
    NotAnExactInteger,
}

/// One linear pass over the text of a `data` object (JSON the parser has
/// already delimited): its depth, and every number literal (in `data`, every
/// number is a value: keys are strings).
fn scan_data(text: &str) -> Scan {
    let b = text.as_bytes();
    let (mut i, mut depth, mut scan) = (0, 0usize, Scan::Fine);
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => {
                i += 1;
                while let Some(&s) = b.get(i) {
                    match s {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_CONTEXT_DATA_DEPTH {
                    return Scan::TooDeep;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                let start = i;
                while b
                    .get(i + 1)
                    .is_some_and(|d| matches!(d, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
                {
                    i += 1;
                }
                if !exact_integer_literal(&b[start..=i]) {
                    scan = Scan::NotAnExactInteger;
                }
            }
            _ => {}
        }
        i += 1;
    }
    scan
}

/// True when a JSON number literal's exact decimal value is an integer from
/// -2^53 to 2^53: `1.0`, `1e3`, `-0`, `100e-2` are; `0.5`, `1e-400`,
/// `9007199254740993`, `9007199254740993.0` are not.
pub(crate) fn exact_integer_literal(literal: &[u8]) -> bool {
    let unsigned = literal.strip_prefix(b"-").unwrap_or(literal);
    let shape_ok = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    let (mantissa, exponent) = match unsigned.iter().position(|c| matches!(c, b'e' | b'E')) {
        Some(p) => (&unsigned[..p], &unsigned[p + 1..]),
        None => (unsigned, &b""[..]),
    };
    let (int, frac) = match mantissa.iter().position(|&c| c == b'.') {
        Some(p) => (&mantissa[..p], &mantissa[p + 1..]),
        None => (mantissa, &b""[..]),
    };
    // The exponent, saturated: beyond a billion the answer no longer changes.
    let (negative_exp, exp_digits) = match exponent.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, exponent),
    };
    // Not a number literal at all (the parser delimited it, so never here).
    if int.is_empty() || !shape_ok(int) || !shape_ok(frac) || !shape_ok(exp_digits) {
        return false;
    }
    let mut exp: i64 = 0;
    for d in exp_digits {
        exp = (exp * 10 + i64::from(d.wrapping_sub(b'0'))).min(1_000_000_000);
    }
    if negative_exp {
        exp = -exp;
    }
    // The significant digits, from the first non-zero digit to the last.
    let digit = |k: usize| {
        if k < int.len() {
            int[k]
        } else {
            frac[k - int.len()]
        }
    };
    let count = int.len() + frac.len();
    let Some(first) = (0..count).find(|&k| digit(k) != b'0') else {
        return true; // zero, `-0` and `0e999` included
    };
    let last = (first..count).rev().find(|&k| digit(k) != b'0').unwrap_or(first);
    // The value is sig * 10^shift, with sig the digits first..=last.
    let shift = exp + (int.len() as i64 - 1 - last as i64);
    let sig_len = (last - first + 1) as i64;
    if shift < 0 || sig_len + shift > 16 {
        return false; // a fraction, or 17 digits and more (beyond 2^53)
    }
    let mut value: u64 = 0;
    for k in first..=last {
        value = value * 10 + u64::from(digit(k) - b'0');
    }
    value *= 10u64.pow(shift as u32);
    value <= 1 << 53
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_judged_exactly() {
        for ok in [
            "0",
            "-0",
            "-0.0",
            "1.0",
            "1e3",
            "1E3",
            "2.0e1",
            "100e-2",
            "0e999999999999999999",
            "9007199254740992",
            "-9007199254740992",
            "9007199254740992.000",
            "9.007199254740992e15",
            "0.0000000000000000001e19",
        ] {
            assert!(exact_integer_literal(ok.as_bytes()), "{ok}");
        }
        for no in [
            "0.5",
            "1e-7",
            "1e-400",
            "1e300",
            "1e400",
            "9007199254740993",
            "9007199254740993.0",
            "-9007199254740993",
            "1.0000000000000001",
            "18446744073709551616",
            "10000000000000000",
            "1e999999999999999999999",
        ] {
            assert!(!exact_integer_literal(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn data_depth_and_strings() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n - 1), "]".repeat(n - 1));
        let data = |n: usize| format!(r#"{{"a":{}}}"#, nested(n));
        assert_eq!(scan_data(&data(MAX_CONTEXT_DATA_DEPTH)), Scan::Fine);
        assert_eq!(scan_data(&data(MAX_CONTEXT_DATA_DEPTH + 1)), Scan::TooDeep);
        // Brackets and digits inside strings are text.
        assert_eq!(scan_data(r#"{"[[[": "0.5 \" [ 1e-400"}"#), Scan::Fine);
        assert_eq!(
            scan_data(r#"{"a": [1, 2.0, {"b": 1e-400}]}"#),
            Scan::NotAnExactInteger
        );
    }
}
