//! What every records engine stores the same way: a row's public JSON
//! (credentials removed) beside its full record sealed with
//! XChaCha20-Poly1305, bound to the row; the natural keys a re-install is
//! recognized by; and Novu-shaped identifiers.

use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use channel_connect::records::{ChannelConnectionRecord, ChannelEndpointRecord, StoredRecords};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::store::StoreError;

/// Seals records and makes identifiers (cheap to clone).
#[derive(Clone)]
pub struct Sealer {
    cipher: Arc<XChaCha20Poly1305>,
    entropy: fn(&mut [u8]),
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer { .. }")
    }
}

/// A row ready to write: identifier, natural key, public JSON, sealed record.
#[derive(Debug)]
pub struct Row {
    /// The identifier (kept from an existing row, else the record's or a new one).
    pub identifier: String,
    /// What a re-install is recognized by.
    pub natural_key: Vec<u8>,
    /// The record without credentials, as the list endpoints answer it.
    pub public_json: String,
    /// The full record, sealed and bound to this row.
    pub sealed: Vec<u8>,
    /// Its context's `type:id` keys ([`crate::store::context_keys`]).
    pub context_keys: String,
    /// A connection's: when its tokens expire, if they can be refreshed
    /// ([`crate::store::refreshable_until`]).
    pub refreshable_until: Option<i64>,
}

impl Sealer {
    /// A sealer with a 32-byte key; `entropy` fills nonces and identifiers.
    pub fn new(key: &[u8; 32], entropy: fn(&mut [u8])) -> Sealer {
        Sealer {
            cipher: Arc::new(XChaCha20Poly1305::new(&(*key).into())),
            entropy,
        }
    }

    /// One callback's records, sealed and bound to `key` (see
    /// [`crate::store::ParkedRecords::park`]).
    pub fn seal_parked(&self, key: &[u8], records: &StoredRecords) -> Result<Vec<u8>, StoreError> {
        let plain = serde_json::to_string(records).map_err(|e| StoreError::with("encode", e))?;
        self.seal(&plain, &[&b"parked\0"[..], key].concat())
    }

    /// Opens records sealed by [`Sealer::seal_parked`] under the same `key`.
    pub fn open_parked(&self, key: &[u8], sealed: &[u8]) -> Result<StoredRecords, StoreError> {
        let plain = self.open(sealed, &[&b"parked\0"[..], key].concat())?;
        serde_json::from_str(&plain).map_err(|e| StoreError::with("decode", e))
    }

    /// The connection's natural key: integration, workspace, owner, context.
    pub fn connection_key(c: &ChannelConnectionRecord) -> Result<Vec<u8>, StoreError> {
        Ok(digest(&[
            c.integration_identifier.as_bytes(),
            c.workspace.id.as_bytes(),
            c.subscriber_id.as_deref().unwrap_or("").as_bytes(),
            &serde_json::to_vec(&c.context).map_err(|e| StoreError::with("encode", e))?,
        ]))
    }

    /// The connection's row under `identifier` (an existing row's, or its own).
    pub fn connection_row(
        &self,
        env: &str,
        c: &ChannelConnectionRecord,
        identifier: &str,
    ) -> Result<Row, StoreError> {
        let mut record = c.clone();
        record.identifier = identifier.to_owned();
        let (public_json, sealed) = self.split(&record, "connection", env, identifier, |v| {
            v.remove("auth");
        })?;
        Ok(Row {
            identifier: identifier.to_owned(),
            natural_key: Sealer::connection_key(c)?,
            public_json,
            sealed,
            context_keys: crate::store::context_keys(&c.context),
            refreshable_until: crate::store::refreshable_until(c),
        })
    }

    /// The endpoint's natural key: integration, subscriber, connection, type, public fields.
    pub fn endpoint_key(e: &ChannelEndpointRecord) -> Result<Vec<u8>, StoreError> {
        let public_fields = public_endpoint_fields(e.endpoint.fields());
        Ok(digest(&[
            e.integration_identifier.as_bytes(),
            e.subscriber_id.as_bytes(),
            e.connection_identifier.as_deref().unwrap_or("").as_bytes(),
            e.endpoint.kind().as_bytes(),
            &serde_json::to_vec(&public_fields).map_err(|e| StoreError::with("encode", e))?,
        ]))
    }

    /// The endpoint's row under `existing`'s identifier, or a new `chendp_` one.
    pub fn endpoint_row(
        &self,
        env: &str,
        e: &ChannelEndpointRecord,
        existing: Option<String>,
    ) -> Result<Row, StoreError> {
        let identifier = existing.unwrap_or_else(|| self.new_identifier("chendp_"));
        let (public, sealed) = self.split(e, "endpoint", env, &identifier, |v| {
            if let Some(Value::Object(fields)) = v.get_mut("endpoint") {
                *fields = public_endpoint_fields(fields);
            }
            // The identifier is the server's, so it goes in the public JSON too.
            v.insert("identifier".into(), Value::String(identifier.clone()));
        })?;
        Ok(Row {
            natural_key: Sealer::endpoint_key(e)?,
            identifier,
            public_json: public,
            sealed,
            context_keys: crate::store::context_keys(&e.context),
            refreshable_until: None,
        })
    }

    /// The public JSON (credentials removed by `strip`) and the sealed full record.
    fn split<T: serde::Serialize>(
        &self,
        record: &T,
        table: &str,
        env: &str,
        identifier: &str,
        strip: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<(String, Vec<u8>), StoreError> {
        let full = serde_json::to_value(record).map_err(|e| StoreError::with("encode", e))?;
        let Value::Object(mut public) = full.clone() else {
            return Err(StoreError::new("encode"));
        };
        strip(&mut public);
        let sealed = self.seal(&full.to_string(), &aad(table, env, identifier))?;
        Ok((Value::Object(public).to_string(), sealed))
    }

    fn seal(&self, plain: &str, aad: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; 24];
        (self.entropy)(&mut nonce);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad,
        };
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .map_err(|e| StoreError::with("seal", e))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// Opens a connection's sealed record (for the host's own use: never for an API answer).
    pub fn open_connection(
        &self,
        env: &str,
        identifier: &str,
        sealed: &[u8],
    ) -> Result<ChannelConnectionRecord, StoreError> {
        let plain = self.open(sealed, &aad("connection", env, identifier))?;
        serde_json::from_str(&plain).map_err(|e| StoreError::with("decode", e))
    }

    fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<String, StoreError> {
        if sealed.len() < 24 {
            return Err(StoreError::new("unseal"));
        }
        let (nonce, body) = sealed.split_at(24);
        let nonce = XNonce::try_from(nonce).map_err(|e| StoreError::with("unseal", e))?;
        let plain = self
            .cipher
            .decrypt(&nonce, Payload { msg: body, aad })
            .map_err(|e| StoreError::with("unseal", e))?;
        String::from_utf8(plain).map_err(|e| StoreError::with("unseal", e))
    }

    /// A new `prefix` + 12 characters identifier (Novu's shape).
    pub fn new_identifier(&self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut bytes = [0u8; 12];
        (self.entropy)(&mut bytes);
        let tail: String = bytes
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % 36] as char)
            .collect();
        format!("{prefix}{tail}")
    }
}

/// The endpoint as stored beside `stored`, the identifier the connection
/// was saved under: a re-install keeps an older one, and the user link must
/// name that.
pub fn relinked(e: &ChannelEndpointRecord, stored: Option<&str>) -> ChannelEndpointRecord {
    let mut e = e.clone();
    if let (Some(_), Some(id)) = (&e.connection_identifier, stored) {
        e.connection_identifier = Some(id.to_owned());
    }
    e
}

/// Binds a sealed value to its row: a sealed token moved to another row does not open.
fn aad(table: &str, env: &str, identifier: &str) -> Vec<u8> {
    [
        table.as_bytes(),
        &[0],
        env.as_bytes(),
        &[0],
        identifier.as_bytes(),
    ]
    .concat()
}

fn digest(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    h.finalize().to_vec()
}

/// An endpoint's fields without the credentials (`url`, `*token`, `*secret`).
fn public_endpoint_fields(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !(k == "url" || k.ends_with("token") || k.ends_with("secret"))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
