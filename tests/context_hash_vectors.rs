//! The crate's contextHash against vectors produced outside it by
//! `@tufjs/canonical-json` and Node's HMAC (tests/vectors/context_hash.gen.mjs).

use channel_connect::context_hash::{CanonicalJsonError, canonical_json, context_hash, verify_context_hash};
use serde_json::{Map, Value};

const VECTORS: &str = include_str!("vectors/context_hash.json");

fn file() -> Value {
    serde_json::from_str(VECTORS).expect("context_hash.json is JSON")
}

fn str_field<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string in {v}"))
}

fn object(v: &Value) -> Map<String, Value> {
    v.as_object()
        .unwrap_or_else(|| panic!("{v} is an object"))
        .clone()
}

/// The context exactly as Node parsed it: the shared raw text.
fn context_of(v: &Value) -> Map<String, Value> {
    serde_json::from_str(str_field(v, "contextJson")).expect("contextJson parses")
}

/// One hex digit changed, same length and case.
fn flip_digit(hex: &str, at: usize) -> String {
    let mut bytes = hex.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn file_has_the_promised_coverage() {
    let f = file();
    assert!(str_field(&f, "package").starts_with("@tufjs/canonical-json@"));
    let vectors = f["vectors"].as_array().unwrap();
    let refused = f["notCanonicalizable"].as_array().unwrap();
    assert!(vectors.len() >= 12, "{} vectors", vectors.len());
    assert!(refused.len() >= 3, "{} refused", refused.len());
    let mut keys: Vec<&str> = vectors.iter().map(|v| str_field(v, "secretKey")).collect();
    keys.sort_unstable();
    keys.dedup();
    assert!(keys.len() >= 2, "secret keys: {keys:?}");
}

#[test]
fn canonical_json_matches_tufjs() {
    for v in file()["vectors"].as_array().unwrap() {
        let name = str_field(v, "name");
        let expected = str_field(v, "canonical");
        let ctx = context_of(v);
        assert_eq!(
            canonical_json(&ctx).as_deref(),
            Ok(expected),
            "{name}: from contextJson"
        );
        // The re-serialised `context` is the same value to JavaScript, so it
        // must have the same canonical form here too.
        let reread = object(&v["context"]);
        assert_eq!(
            canonical_json(&reread).as_deref(),
            Ok(expected),
            "{name}: from context"
        );
    }
}

#[test]
fn context_hash_matches_node_hmac() {
    for v in file()["vectors"].as_array().unwrap() {
        let name = str_field(v, "name");
        let key = str_field(v, "secretKey").as_bytes();
        let expected = str_field(v, "contextHash");
        assert_eq!(expected.len(), 64, "{name}");
        assert_eq!(
            expected,
            expected.to_ascii_lowercase(),
            "{name}: file holds lowercase hex"
        );
        assert_eq!(
            context_hash(key, &context_of(v)).as_deref(),
            Ok(expected),
            "{name}"
        );
    }
}

#[test]
fn verify_accepts_the_vector_and_rejects_near_misses() {
    let f = file();
    let vectors = f["vectors"].as_array().unwrap();
    for v in vectors {
        let name = str_field(v, "name");
        let key = str_field(v, "secretKey").as_bytes();
        let hash = str_field(v, "contextHash");
        let ctx = context_of(v);
        // Some other secret key from the file, plus one that is in none.
        let other = vectors
            .iter()
            .map(|w| str_field(w, "secretKey").as_bytes())
            .find(|k| *k != key)
            .expect("a second secret key");

        assert!(verify_context_hash(&[key], &ctx, hash), "{name}: lowercase");
        assert!(
            verify_context_hash(&[key], &ctx, &hash.to_ascii_uppercase()),
            "{name}: uppercase"
        );
        assert!(
            verify_context_hash(&[other, key], &ctx, hash),
            "{name}: key among several"
        );

        assert!(
            !verify_context_hash(&[other], &ctx, hash),
            "{name}: another file key"
        );
        assert!(
            !verify_context_hash(&[b"not-the-environment-key"], &ctx, hash),
            "{name}: unknown key"
        );
        assert!(!verify_context_hash(&[], &ctx, hash), "{name}: no keys");
        for at in [0, 31, 63] {
            let changed = flip_digit(hash, at);
            assert!(
                !verify_context_hash(&[key], &ctx, &changed),
                "{name}: digit {at} changed"
            );
        }
    }
}

#[test]
fn not_canonicalizable_contexts_are_refused() {
    let f = file();
    let refused = f["notCanonicalizable"].as_array().unwrap();
    // A well-formed hash to present: the first vector's, valid for its own context.
    let some_hash = str_field(&f["vectors"][0], "contextHash");
    for v in refused {
        let name = str_field(v, "name");
        assert_eq!(v["canonical"], Value::Null, "{name}");
        assert_eq!(v["error"], Value::Bool(true), "{name}");
        let key = str_field(v, "secretKey").as_bytes();
        for ctx in [context_of(v), object(&v["context"])] {
            assert_eq!(
                canonical_json(&ctx),
                Err(CanonicalJsonError::NonInteger),
                "{name}"
            );
            assert_eq!(
                context_hash(key, &ctx),
                Err(CanonicalJsonError::NonInteger),
                "{name}"
            );
            assert!(!verify_context_hash(&[key], &ctx, some_hash), "{name}");
        }
    }
}

/// SPEC.md section 11.5 end to end: a request whose context holds integers
/// beyond 2^53 outside `data` (`1e16`, 2^60), and literals JavaScript rounds
/// (`1e-400`), is accepted with the hash Node computed over what
/// `@tufjs/canonical-json` writes, and refused with any other.
#[test]
fn a_request_carrying_numbers_javascript_rounds_is_accepted_with_the_tufjs_hash() {
    use channel_connect::*;
    use time::OffsetDateTime;

    let f = file();
    for name in [
        "integers-beyond-2-53-outside-data",
        "literals-javascript-rounds-to-integers",
    ] {
        let v = f["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("the file has {name}"));
        let key = str_field(v, "secretKey");
        let slack = Slack::new(
            ClientId::new("1234567890.1234567890").unwrap(),
            Secret::new("slack-client-secret"),
            RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback").unwrap(),
        );
        let core = ChannelConnect::builder(
            "6615c4b2e0f3a1b2c3d4e5f6",
            "6615c4b2e0f3a1b2c3d4e5f7",
            KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32]).unwrap()),
        )
        .integration(Integration::new("slack", slack).with_context_hmac(true))
        .environment_secret_key(Secret::new(key))
        .build()
        .unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        let entropy = Entropy([7; 32]);
        let request = |hash: &str| {
            // The context exactly as Node read it: the shared raw text.
            let body = format!(
                r#"{{"integrationIdentifier":"slack","context":{},"contextHash":"{hash}"}}"#,
                str_field(v, "contextJson")
            );
            ConnectRequestBody::from_json(body.as_bytes())
                .and_then(|body| core.connect_url(&body, &IssueParams::new(now, &entropy)))
        };
        let hash = str_field(v, "contextHash");
        assert!(request(hash).is_ok(), "{name}: {:?}", request(hash).err());
        assert_eq!(
            request(&flip_digit(hash, 7)).unwrap_err(),
            RequestError::ContextHashInvalid,
            "{name}"
        );
    }
}
