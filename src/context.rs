//! The `context` of a request: 1 to 5 named entities, each an id with
//! optional JSON `data`, validated and borrowed from the request body.

use serde_json::{Map, Value};

use crate::ids::is_context_token;
use crate::validation_error::ValidationError;

/// Most keys a context may have.
pub const MAX_CONTEXT_KEYS: usize = 5;

/// Longest context key, in bytes.
pub const MAX_CONTEXT_KEY_BYTES: usize = 100;

/// Largest `data` object, in bytes of compact JSON.
pub const MAX_CONTEXT_DATA_BYTES: usize = 64 * 1024;

/// Deepest `data`: the object itself is level 1, each array or object in it
/// one level more (`{"a": [{}]}` has 3 levels).
pub const MAX_CONTEXT_DATA_DEPTH: usize = 64;

/// One context entry: `key: "id"` or `key: {"id": "...", "data": {...}}`.
///
/// ```
/// use channel_connect::context::{Context, ContextEntry};
/// use serde_json::json;
///
/// let body = json!({"tenant": "org-acme"});
/// let context = Context::new(body.as_object().unwrap())?;
/// let entry: &ContextEntry = context.entries().next().unwrap();
/// assert_eq!((entry.key, entry.id, entry.data), ("tenant", "org-acme", None));
///
/// // `data` is an object or nothing.
/// let body = json!({"tenant": {"id": "org-acme", "data": ["enterprise"]}});
/// assert!(Context::new(body.as_object().unwrap()).is_err());
/// # Ok::<(), channel_connect::ValidationError>(())
/// ```
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
///
/// ```
/// use channel_connect::context::Context;
/// use serde_json::json;
///
/// let body = json!({"tenant": "org-acme", "workspace": {"id": "ws-42", "data": {"seats": 250}}});
/// let context = Context::new(body.as_object().unwrap())?;
/// assert_eq!((context.len(), context.is_empty()), (2, false));
/// // A request without a context has an empty one.
/// assert!(Context::default().is_empty());
///
/// let body = json!({"tenant": {"id": "org-acme", "data": {"price": 9.99}}});
/// assert_eq!(
///     Context::new(body.as_object().unwrap()).unwrap_err().to_string(),
///     "Context 'tenant' data may hold only integers between -2^53 and 2^53"
/// );
/// # Ok::<(), channel_connect::ValidationError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Context<'a> {
    entries: [Option<ContextEntry<'a>>; MAX_CONTEXT_KEYS],
    source: Option<&'a Map<String, Value>>,
}

impl<'a> Context<'a> {
    /// Validates a context object as the API receives it.
    ///
    /// ```
    /// use channel_connect::context::Context;
    /// use channel_connect::ValidationError;
    /// use serde_json::json;
    ///
    /// // Both shapes: `key: "id"` and `key: {"id", "data"}`.
    /// let body = json!({"tenant": {"id": "org-acme", "data": {"plan": "enterprise"}}, "team": "support"});
    /// let context = Context::new(body.as_object().unwrap())?;
    /// assert_eq!(context.len(), 2);
    ///
    /// let six = json!({"a": "1", "b": "1", "c": "1", "d": "1", "e": "1", "f": "1"});
    /// assert_eq!(Context::new(six.as_object().unwrap()).unwrap_err(), ValidationError::TooManyContexts { count: 6 });
    /// let email = json!({"user": "ada@example.com"}); // ids are A-Z, a-z, 0-9, '_' or '-'
    /// assert_eq!(Context::new(email.as_object().unwrap()).unwrap_err(), ValidationError::ContextIdInvalid);
    /// # Ok::<(), ValidationError>(())
    /// ```
    pub fn new(object: &'a Map<String, Value>) -> Result<Self, ValidationError> {
        let mut context = Context::default();
        context.fill(object)?;
        Ok(context)
    }

    /// [`Context::new`] into this empty context, in place (a context is a
    /// few hundred bytes: the request that holds it does not move it).
    pub(crate) fn fill(&mut self, object: &'a Map<String, Value>) -> Result<(), ValidationError> {
        if object.is_empty() {
            return Err(ValidationError::ContextKeyCount);
        }
        if object.len() > MAX_CONTEXT_KEYS {
            return Err(ValidationError::TooManyContexts { count: object.len() });
        }
        self.source = Some(object);
        // serde_json's Map (without `preserve_order`) iterates in key order,
        // so the state encodes entries in a deterministic order.
        for (slot, (key, value)) in self.entries.iter_mut().zip(object) {
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
                match d
                    .values()
                    .map(|v| data_rule(v, 2))
                    .find(Option::is_some)
                    .flatten()
                {
                    Some(DataRule::TooDeep) => {
                        return Err(ValidationError::ContextDataTooDeep { key: shown(key) });
                    }
                    Some(DataRule::Number) => {
                        return Err(ValidationError::ContextDataNumber { key: shown(key) });
                    }
                    None => {}
                }
                // Measured as the state writes it (integers as integers).
                let len = compact_json_len(d);
                if len > MAX_CONTEXT_DATA_BYTES {
                    let kb = len.div_ceil(1024);
                    return Err(ValidationError::ContextDataTooLarge { key: shown(key), kb });
                }
            }
            *slot = Some(ContextEntry { key, id, data });
        }
        Ok(())
    }

    /// The entries, in key order.
    ///
    /// ```
    /// use channel_connect::context::Context;
    /// use serde_json::json;
    ///
    /// let body = json!({"workspace": {"id": "ws-42", "data": {"seats": 250}}, "app": "billing"});
    /// let context = Context::new(body.as_object().unwrap())?;
    /// let keys: Vec<_> = context.entries().map(|e| (e.key, e.id)).collect();
    /// assert_eq!(keys, [("app", "billing"), ("workspace", "ws-42")]); // sorted, whatever the body's order
    /// let workspace = context.entries().nth(1).unwrap();
    /// assert_eq!(workspace.data.unwrap()["seats"], 250);
    ///
    /// // An entity without an id is refused, so no entry lacks one.
    /// let body = json!({"workspace": {"data": {"seats": 250}}});
    /// assert!(Context::new(body.as_object().unwrap()).is_err());
    /// # Ok::<(), channel_connect::ValidationError>(())
    /// ```
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &ContextEntry<'a>> + '_ {
        let n = self.len();
        self.entries[..n]
            .iter()
            .map(|e| e.as_ref().expect("filled prefix"))
    }

    /// How many entries.
    ///
    /// ```
    /// use channel_connect::context::{Context, MAX_CONTEXT_KEYS};
    /// use channel_connect::ValidationError;
    /// use serde_json::json;
    ///
    /// let body = json!({"tenant": "org-acme", "team": "support"});
    /// assert_eq!(Context::new(body.as_object().unwrap())?.len(), 2);
    ///
    /// // `{}` is refused rather than read as no context.
    /// assert_eq!(Context::new(json!({}).as_object().unwrap()).unwrap_err(), ValidationError::ContextKeyCount);
    /// assert_eq!(MAX_CONTEXT_KEYS, 5);
    /// # Ok::<(), ValidationError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.entries.iter().take_while(|e| e.is_some()).count()
    }

    /// True when the request had no context.
    ///
    /// ```
    /// use channel_connect::{ConnectRequest, ConnectRequestBody, RequestError};
    ///
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// assert!(ConnectRequest::validate(&body)?.context.is_empty());
    ///
    /// // No context and no subscriber: the connection would belong to nobody.
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack"}"#)?;
    /// assert_eq!(ConnectRequest::validate(&body).unwrap_err(), RequestError::NeitherSubscriberNorContext);
    /// # Ok::<(), RequestError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries[0].is_none()
    }

    /// The context object exactly as the request sent it (for `contextHash`).
    ///
    /// ```
    /// use channel_connect::context::Context;
    /// use channel_connect::context_hash::{context_hash, verify_context_hash};
    /// use serde_json::json;
    ///
    /// let body = json!({"tenant": {"id": "org-acme", "data": {"plan": "enterprise"}}});
    /// let context = Context::new(body.as_object().unwrap())?;
    /// let source = context.source().expect("a context was sent");
    /// // The hash covers the data too, not only the ids the entries keep.
    /// let hash = context_hash(b"sk_env_2f1c9a7e04b3d8c6", source)?;
    /// assert!(verify_context_hash(&[b"sk_env_2f1c9a7e04b3d8c6"], source, &hash));
    ///
    /// // No context, nothing to hash.
    /// assert_eq!(Context::default().source(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn source(&self) -> Option<&'a Map<String, Value>> {
        self.source
    }
}

type JsonObject = Map<String, Value>;

/// Which rule of `data` a value breaks, if any.
#[derive(Clone, Copy)]
enum DataRule {
    /// Deeper than [`MAX_CONTEXT_DATA_DEPTH`].
    TooDeep,
    /// A number that is not an integer within ±2^53.
    Number,
}

/// The first rule `v`, at `level` inside `data` (`data` is level 1), breaks:
/// every number must stand for an integer within ±2^53 (`1.0` and `1e3` are
/// integers), and nothing may nest deeper than [`MAX_CONTEXT_DATA_DEPTH`].
/// (A body read by `from_json` had its literals judged as written already;
/// a `Value` built in code has no literal, only its number.)
fn data_rule(v: &Value, level: usize) -> Option<DataRule> {
    let nested = |level| (level > MAX_CONTEXT_DATA_DEPTH).then_some(DataRule::TooDeep);
    match v {
        Value::Number(n) => crate::context_hash::exact_integer(n)
            .err()
            .map(|_| DataRule::Number),
        Value::Array(items) => nested(level).or_else(|| items.iter().find_map(|i| data_rule(i, level + 1))),
        Value::Object(m) => nested(level).or_else(|| m.values().find_map(|i| data_rule(i, level + 1))),
        _ => None,
    }
}

/// A key as error messages show it (SPEC.md section 11.3): plain text, or
/// `?` when nothing is left.
pub(crate) fn shown(key: &str) -> String {
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
    // Numbers were checked first: they all serialize.
    serde_json::to_writer(&mut c, &IntegralJson(data)).map_or(usize::MAX, |()| c.0)
}

/// JSON written as serde_json writes it (compact, object keys in byte
/// order), except that every number is the integer it stands for: `1.0`,
/// `1e3` and `-0` are written `1`, `1000` and `0` (SPEC.md section 2). The
/// request's validation admits no other numbers.
pub(crate) struct IntegralJson<'a, T>(pub(crate) &'a T);

impl serde::Serialize for IntegralJson<'_, serde_json::Map<String, serde_json::Value>> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, &IntegralJson(v))?;
        }
        m.end()
    }
}

impl serde::Serialize for IntegralJson<'_, serde_json::Value> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        use serde_json::Value;
        match self.0 {
            Value::Number(n) => {
                let i = crate::context_hash::exact_integer(n).map_err(S::Error::custom)?;
                s.serialize_i64(i)
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&IntegralJson(item))?;
                }
                seq.end()
            }
            Value::Object(map) => IntegralJson(map).serialize(s),
            other => other.serialize(s),
        }
    }
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
