//! The `context` of a request: 1 to 5 named entities, each an id with
//! optional JSON `data`, validated and borrowed from the request body.

use serde_json::{Map, Value};

use crate::ids::is_context_token;
use crate::validation::ValidationError;

/// Most keys a context may have.
pub const MAX_CONTEXT_KEYS: usize = 5;

/// Longest context key, in bytes.
pub const MAX_CONTEXT_KEY_BYTES: usize = 100;

/// Largest `data` object, in bytes of compact JSON.
pub const MAX_CONTEXT_DATA_BYTES: usize = 64 * 1024;

/// One context entry: `key: "id"` or `key: {"id": "...", "data": {...}}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContextEntry<'a> {
    /// The context key (for example `tenant`).
    pub key: &'a str,
    /// The entity id.
    pub id: &'a str,
    /// The entity's data object, when given.
    pub data: Option<&'a Map<String, Value>>,
}

/// A validated context: at most five entries, in key order. Empty when the
/// request had no context.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Context<'a> {
    entries: [Option<ContextEntry<'a>>; MAX_CONTEXT_KEYS],
    source: Option<&'a Map<String, Value>>,
}

impl<'a> Context<'a> {
    /// Validates a context object as the API receives it.
    pub fn new(object: &'a Map<String, Value>) -> Result<Self, ValidationError> {
        if object.is_empty() {
            return Err(ValidationError::ContextKeyCount);
        }
        if object.len() > MAX_CONTEXT_KEYS {
            return Err(ValidationError::TooManyContexts { count: object.len() });
        }
        let mut ctx = Context {
            entries: [None; MAX_CONTEXT_KEYS],
            source: Some(object),
        };
        // serde_json's Map (without `preserve_order`) iterates in key order,
        // so the state encodes entries in a deterministic order.
        for (slot, (key, value)) in ctx.entries.iter_mut().zip(object) {
            // Novu checks values, not keys: any key that fits the state.
            if key.is_empty() || key.len() > MAX_CONTEXT_KEY_BYTES {
                return Err(ValidationError::ContextKeyInvalid);
            }
            let (id, data) = match value {
                Value::String(id) => (id.as_str(), None),
                Value::Object(entity) => entity_parts(entity)?,
                _ => return Err(ValidationError::ContextValueInvalid),
            };
            if !is_context_token(id) {
                return Err(ValidationError::ContextIdInvalid);
            }
            if let Some(d) = data {
                let len = compact_json_len(d);
                if len > MAX_CONTEXT_DATA_BYTES {
                    let kb = len.div_ceil(1024);
                    return Err(ValidationError::ContextDataTooLarge { key: shown(key), kb });
                }
                if !d.values().all(exact_integers) {
                    return Err(ValidationError::ContextDataNumber { key: shown(key) });
                }
            }
            *slot = Some(ContextEntry { key, id, data });
        }
        Ok(ctx)
    }

    /// The entries, in key order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &ContextEntry<'a>> + '_ {
        let n = self.len();
        self.entries[..n]
            .iter()
            .map(|e| e.as_ref().expect("filled prefix"))
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.iter().take_while(|e| e.is_some()).count()
    }

    /// True when the request had no context.
    pub fn is_empty(&self) -> bool {
        self.entries[0].is_none()
    }

    /// The context object exactly as the request sent it (for `contextHash`).
    pub fn source(&self) -> Option<&'a Map<String, Value>> {
        self.source
    }
}

type JsonObject = Map<String, Value>;

/// True when every number in `v` stands for an integer within ±2^53, as
/// JavaScript and canonical JSON read it (`1.0` and `1e3` are integers).
fn exact_integers(v: &Value) -> bool {
    match v {
        Value::Number(n) => crate::context_hash::exact_integer(n).is_ok(),
        Value::Array(items) => items.iter().all(exact_integers),
        Value::Object(m) => m.values().all(exact_integers),
        _ => true,
    }
}

/// A key as error messages show it: plain text, or `?` when nothing is left.
fn shown(key: &str) -> String {
    crate::text::description(key).unwrap_or_else(|| "?".into())
}

fn entity_parts(entity: &JsonObject) -> Result<(&str, Option<&JsonObject>), ValidationError> {
    let id = match entity.get("id") {
        Some(Value::String(id)) => id.as_str(),
        _ => return Err(ValidationError::ContextIdInvalid),
    };
    let data = match entity.get("data") {
        None | Some(Value::Null) => None,
        Some(Value::Object(data)) => Some(data),
        Some(_) => return Err(ValidationError::ContextDataInvalid),
    };
    Ok((id, data))
}

/// Length of the compact JSON serialization, without building it.
pub(crate) fn compact_json_len(data: &Map<String, Value>) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Counter(0);
    serde_json::to_writer(&mut c, data).expect("a JSON map always serializes");
    c.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn both_shapes_and_key_order() {
        let m = obj(json!({"tenant": "org-acme", "app": {"id": "a1", "data": {"plan": "pro"}}}));
        let c = Context::new(&m).unwrap();
        let e: Vec<_> = c.entries().collect();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].key, e[0].id), ("app", "a1"));
        assert_eq!(e[0].data.unwrap()["plan"], "pro");
        assert_eq!((e[1].key, e[1].id, e[1].data), ("tenant", "org-acme", None));
    }

    #[test]
    fn rules() {
        let cases = [
            (json!({}), ValidationError::ContextKeyCount),
            (
                json!({"a":"1","b":"1","c":"1","d":"1","e":"1","f":"1"}),
                ValidationError::TooManyContexts { count: 6 },
            ),
            (json!({"": "1"}), ValidationError::ContextKeyInvalid),
            (json!({"k".repeat(101): "1"}), ValidationError::ContextKeyInvalid),
            (json!({"a": ""}), ValidationError::ContextIdInvalid),
            (json!({"a": "x".repeat(101)}), ValidationError::ContextIdInvalid),
            (json!({"a": 5}), ValidationError::ContextValueInvalid),
            (json!({"a": {"data": {}}}), ValidationError::ContextIdInvalid),
            (
                json!({"a": {"id": "x", "data": [1]}}),
                ValidationError::ContextDataInvalid,
            ),
            (
                json!({"a": {"id": "x", "data": {"k": "v".repeat(65536)}}}),
                ValidationError::ContextDataTooLarge {
                    key: "a".into(),
                    kb: 65,
                },
            ),
            (
                json!({"a": {"id": "x", "data": {"price": 9.5}}}),
                ValidationError::ContextDataNumber { key: "a".into() },
            ),
            (
                json!({"a": {"id": "x", "data": {"deep": [{"n": 9007199254740993i64}]}}}),
                ValidationError::ContextDataNumber { key: "a".into() },
            ),
        ];
        for (v, want) in cases {
            assert_eq!(Context::new(&obj(v.clone())).unwrap_err(), want, "{v}");
        }
    }

    #[test]
    fn keys_are_not_charset_checked_and_numbers_are_exact_integers() {
        let m = obj(
            json!({"é": "x", "team.name": "y", "a b <i>": {"id": "z", "data": {"n": -9007199254740991i64, "m": [0, 1]}}}),
        );
        assert_eq!(Context::new(&m).unwrap().len(), 3);
        for text in [
            r#"{"n": 1.5}"#,
            r#"{"n": 1e-7}"#,
            r#"{"n": 1e300}"#,
            r#"{"n": 18446744073709551615}"#,
        ] {
            let data: Value = serde_json::from_str(text).unwrap();
            let m = obj(json!({"k": {"id": "x", "data": data}}));
            assert!(Context::new(&m).is_err(), "{text}");
        }
        // Integral numbers written otherwise are integers, as in JavaScript.
        for text in [
            r#"{"n": -0}"#,
            r#"{"n": 1.0}"#,
            r#"{"n": 1e3}"#,
            r#"{"n": 9007199254740992}"#,
        ] {
            let data: Value = serde_json::from_str(text).unwrap();
            assert!(
                Context::new(&obj(json!({"k": {"id": "x", "data": data}}))).is_ok(),
                "{text}"
            );
        }
        // The error names the key as plain text only.
        let m = obj(json!({"<b>k</b>": {"id": "x", "data": {"n": 0.5}}}));
        assert_eq!(
            Context::new(&m).unwrap_err().to_string(),
            "Context 'k' data may hold only integers between -2^53 and 2^53"
        );
    }
}
