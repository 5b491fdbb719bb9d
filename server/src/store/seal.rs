//! What every records engine stores the same way: a row's public JSON
//! (credentials removed) beside its full record sealed with
//! XChaCha20-Poly1305, bound to the row; the natural keys a re-install is
//! recognized by; and Novu-shaped identifiers.
//!
//! A sealed value names the token key it was sealed under, in the value
//! itself: `ccseal1`, the key id (one byte), the nonce (24 bytes), the
//! ciphertext; the 8-byte header is authenticated with the row's binding.
//! Key 0 is the key of values without a header (the format from before
//! key ids, which `tokenKeyHex` still writes): such a value is the nonce
//! then the ciphertext, opened with key 0.
//!
//! Why in the value and not in a column: every write (a save, an API
//! write, a refresh, a parked record in Redis) already goes through
//! [`Sealer`], so the key id cannot disagree with the bytes it describes,
//! and an instance of an earlier release writing the older format during
//! an upgrade is read correctly too. `rekey` finds the rows under another
//! key by comparing the header in SQL, walking each table in primary-key
//! order, so a run that stops resumes without any state of its own
//! ([`crate::store::rekey`]). An older value whose random nonce happens to
//! start with the magic (odds 2^-56) still opens: key 0 is tried when the
//! key its bytes name does not open it.

use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use channel_connect::records::{ChannelConnectionRecord, ChannelEndpointRecord, StoredRecords};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::store::StoreError;

/// What starts a value sealed under a key id (then the id, one byte).
pub const MAGIC: &[u8; 7] = b"ccseal1";
/// The magic and the key id.
const HEADER: usize = MAGIC.len() + 1;
const NONCE: usize = 24;

/// The token keys that seal records at rest: the active one seals, and a
/// value names the key that opens it (cheap to clone; `Debug` shows ids
/// only). Key 0 opens the values without a key id (see the module's
/// documentation) and, when active, seals in that older format.
#[derive(Clone)]
pub struct TokenKeys {
    active: u8,
    keys: Arc<[(u8, XChaCha20Poly1305)]>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("active", &self.active)
            .field("ids", &self.ids())
            .finish()
    }
}

/// A key id given twice in one ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyIdTaken(pub u8);

impl std::fmt::Display for KeyIdTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "token key id {} is listed twice", self.0)
    }
}

impl std::error::Error for KeyIdTaken {}

/// A value names a key the ring does not have.
#[derive(Debug)]
struct NotInRing(u8);

impl std::fmt::Display for NotInRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            0 => f.write_str(
                "sealed without a key id (token key 0, tokenKeyHex's), which the token keys do not include",
            ),
            id => write!(
                f,
                "sealed under token key {id}, which the token keys do not include"
            ),
        }
    }
}

impl std::error::Error for NotInRing {}

impl TokenKeys {
    /// A ring of one key, `id`, active.
    pub fn new(id: u8, key: &[u8; 32]) -> TokenKeys {
        TokenKeys {
            active: id,
            keys: Arc::new([(id, XChaCha20Poly1305::new(&(*key).into()))]),
        }
    }

    /// The ring with `key` as well, for opening what it sealed.
    pub fn with_reader(self, id: u8, key: &[u8; 32]) -> Result<TokenKeys, KeyIdTaken> {
        if self.cipher(id).is_some() {
            return Err(KeyIdTaken(id));
        }
        let mut keys = self.keys.to_vec();
        keys.push((id, XChaCha20Poly1305::new(&(*key).into())));
        Ok(TokenKeys {
            active: self.active,
            keys: keys.into(),
        })
    }

    /// The id of the key that seals.
    pub fn active(&self) -> u8 {
        self.active
    }

    /// Every key's id, the active one's included.
    pub fn ids(&self) -> Vec<u8> {
        self.keys.iter().map(|(id, _)| *id).collect()
    }

    fn cipher(&self, id: u8) -> Option<&XChaCha20Poly1305> {
        self.keys.iter().find(|(k, _)| *k == id).map(|(_, c)| c)
    }
}

/// One key, `tokenKeyHex`'s: id 0, the format from before key ids.
impl From<&[u8; 32]> for TokenKeys {
    fn from(key: &[u8; 32]) -> TokenKeys {
        TokenKeys::new(0, key)
    }
}

impl From<&TokenKeys> for TokenKeys {
    fn from(keys: &TokenKeys) -> TokenKeys {
        keys.clone()
    }
}

/// The key id a sealed value names (0 for a value without a header).
pub fn key_id(sealed: &[u8]) -> u8 {
    headed(sealed).map_or(0, |(id, _)| id)
}

/// The key id and the rest, for a value that starts with a header.
fn headed(sealed: &[u8]) -> Option<(u8, &[u8])> {
    let rest = sealed.strip_prefix(MAGIC.as_slice())?;
    let (id, body) = rest.split_first()?;
    Some((*id, body))
}

/// The records a sealed value can hold, by the table it is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sealed {
    /// A connection row's record.
    Connection,
    /// An endpoint row's record.
    Endpoint,
}

impl Sealed {
    fn table(self) -> &'static str {
        match self {
            Sealed::Connection => "connection",
            Sealed::Endpoint => "endpoint",
        }
    }
}

/// Seals records and makes identifiers (cheap to clone).
#[derive(Clone)]
pub struct Sealer {
    keys: TokenKeys,
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
    /// An endpoint's: the Teams app's installation to make for its user
    /// ([`crate::store::app_installs`]), for a linked Teams user.
    pub app_install: Option<&'static str>,
}

impl Sealer {
    /// A sealer with token keys (a ring, or one key: see [`TokenKeys`]);
    /// `entropy` fills nonces and identifiers.
    pub fn new(keys: impl Into<TokenKeys>, entropy: fn(&mut [u8])) -> Sealer {
        Sealer {
            keys: keys.into(),
            entropy,
        }
    }

    /// The id of the key new values are sealed under.
    pub fn active_key(&self) -> u8 {
        self.keys.active
    }

    /// `sealed`, bound to `kind`'s row `identifier`, sealed again under the
    /// active key (the same record: for `rekey`).
    pub fn reseal(
        &self,
        kind: Sealed,
        env: &str,
        identifier: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let aad = aad(kind.table(), env, identifier);
        let plain = self.open(sealed, &aad)?;
        self.seal(&plain, &aad)
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
        let expiry = crate::store::AuthExpiry::of(c);
        let (public_json, sealed) = self.split(&record, Sealed::Connection, env, identifier, |v| {
            v.remove("auth");
            expiry.write_into(v);
        })?;
        Ok(Row {
            identifier: identifier.to_owned(),
            natural_key: Sealer::connection_key(c)?,
            public_json,
            sealed,
            context_keys: crate::store::context_keys(&c.context),
            refreshable_until: crate::store::refreshable_until(c),
            app_install: None,
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
        let (public, sealed) = self.split(e, Sealed::Endpoint, env, &identifier, |v| {
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
            app_install: (e.endpoint.kind() == "ms_teams_user")
                .then_some(crate::store::app_installs::PENDING),
        })
    }

    /// The public JSON (credentials removed by `strip`) and the sealed full record.
    fn split<T: serde::Serialize>(
        &self,
        record: &T,
        kind: Sealed,
        env: &str,
        identifier: &str,
        strip: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<(String, Vec<u8>), StoreError> {
        let full = serde_json::to_value(record).map_err(|e| StoreError::with("encode", e))?;
        let Value::Object(mut public) = full.clone() else {
            return Err(StoreError::new("encode"));
        };
        strip(&mut public);
        let sealed = self.seal(&full.to_string(), &aad(kind.table(), env, identifier))?;
        Ok((Value::Object(public).to_string(), sealed))
    }

    /// Under the active key: with its header, or in the older format for key 0.
    fn seal(&self, plain: &str, aad: &[u8]) -> Result<Vec<u8>, StoreError> {
        let id = self.keys.active;
        let cipher = self.keys.cipher(id).ok_or(StoreError::new("seal"))?;
        let header = header(id);
        let mut nonce = [0u8; NONCE];
        (self.entropy)(&mut nonce);
        let bound = [aad, &header].concat();
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: &bound,
        };
        let sealed = cipher
            .encrypt(&XNonce::from(nonce), payload)
            .map_err(|e| StoreError::with("seal", e))?;
        Ok([&header, nonce.as_slice(), &sealed].concat())
    }

    /// Opens a connection's sealed record (for the host's own use: never for an API answer).
    pub fn open_connection(
        &self,
        env: &str,
        identifier: &str,
        sealed: &[u8],
    ) -> Result<ChannelConnectionRecord, StoreError> {
        let plain = self.open(sealed, &aad(Sealed::Connection.table(), env, identifier))?;
        serde_json::from_str(&plain).map_err(|e| StoreError::with("decode", e))
    }

    /// Opens an endpoint's sealed record, its credentials included (a
    /// webhook's URL: for the host's own use, never for an API answer).
    pub fn open_endpoint(
        &self,
        env: &str,
        identifier: &str,
        sealed: &[u8],
    ) -> Result<ChannelEndpointRecord, StoreError> {
        let plain = self.open(sealed, &aad(Sealed::Endpoint.table(), env, identifier))?;
        serde_json::from_str(&plain).map_err(|e| StoreError::with("decode", e))
    }

    /// Under the key the value names.
    fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<String, StoreError> {
        let plain = match headed(sealed) {
            Some((id, body)) => {
                let bound = [aad, &sealed[..HEADER]].concat();
                self.open_under(id, body, &bound)
                    // An older value whose random nonce starts like a header
                    // (odds 2^-56): its own key's error is the one to tell.
                    .or_else(|e| self.open_under(0, sealed, aad).map_err(|_| e))?
            }
            None => self.open_under(0, sealed, aad)?,
        };
        String::from_utf8(plain).map_err(|e| StoreError::with("unseal", e))
    }

    fn open_under(&self, id: u8, body: &[u8], aad: &[u8]) -> Result<Vec<u8>, StoreError> {
        let cipher = self
            .keys
            .cipher(id)
            .ok_or_else(|| StoreError::with("unseal", NotInRing(id)))?;
        if body.len() < NONCE {
            return Err(StoreError::new("unseal"));
        }
        let (nonce, body) = body.split_at(NONCE);
        let nonce = XNonce::try_from(nonce).map_err(|e| StoreError::with("unseal", e))?;
        cipher
            .decrypt(&nonce, Payload { msg: body, aad })
            .map_err(|e| StoreError::with("unseal", e))
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

/// The header of a value sealed under `id`: none for key 0 (the older format).
fn header(id: u8) -> Vec<u8> {
    match id {
        0 => Vec::new(),
        id => [MAGIC.as_slice(), &[id]].concat(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: [u8; 32] = [1; 32];
    const TWO: [u8; 32] = [2; 32];

    fn sealer(keys: TokenKeys) -> Sealer {
        Sealer::new(keys, crate::os_entropy)
    }

    #[test]
    fn key_zero_writes_the_format_from_before_key_ids() {
        let sealed = sealer(TokenKeys::from(&ONE)).seal("record", b"row").unwrap();
        assert_eq!(sealed.len(), NONCE + "record".len() + 16, "no header");
        assert_eq!(key_id(&sealed), 0);
        let ring = TokenKeys::new(2, &TWO).with_reader(0, &ONE).unwrap();
        assert_eq!(sealer(ring.clone()).open(&sealed, b"row").unwrap(), "record");
        // A row as the release before key ids wrote it: nonce, then ciphertext.
        let nonce = [5u8; NONCE];
        let payload = Payload {
            msg: b"old record".as_slice(),
            aad: b"row",
        };
        let body = XChaCha20Poly1305::new(&ONE.into())
            .encrypt(&XNonce::from(nonce), payload)
            .unwrap();
        let old_row = [nonce.as_slice(), &body].concat();
        assert_eq!(sealer(ring).open(&old_row, b"row").unwrap(), "old record");
    }

    #[test]
    fn a_value_names_its_key_and_opens_under_it_only() {
        let new = TokenKeys::new(2, &TWO).with_reader(1, &ONE).unwrap();
        let sealed = sealer(new).seal("record", b"row").unwrap();
        assert_eq!(&sealed[..HEADER], b"ccseal1\x02");
        assert_eq!(key_id(&sealed), 2);
        let old = TokenKeys::new(1, &ONE).with_reader(2, &TWO).unwrap();
        assert_eq!(sealer(old).open(&sealed, b"row").unwrap(), "record");
        assert!(
            sealer(TokenKeys::new(2, &TWO))
                .open(&sealed, b"other row")
                .is_err()
        );
        let err = sealer(TokenKeys::new(1, &ONE)).open(&sealed, b"row").unwrap_err();
        assert!(err.to_string().contains("token key 2"), "{err}");
        // The header is authenticated: another id does not open it either.
        let mut moved = sealed.clone();
        moved[MAGIC.len()] = 1;
        assert!(
            sealer(TokenKeys::new(1, &TWO).with_reader(2, &TWO).unwrap())
                .open(&moved, b"row")
                .is_err()
        );
    }

    #[test]
    fn an_older_value_whose_nonce_looks_like_a_header_still_opens() {
        fn header_like(bytes: &mut [u8]) {
            bytes.fill(7);
            bytes[..MAGIC.len()].copy_from_slice(MAGIC);
        }
        let sealed = Sealer::new(&ONE, header_like).seal("record", b"row").unwrap();
        assert_eq!(key_id(&sealed), 7, "it reads as key 7's");
        assert_eq!(
            sealer(TokenKeys::from(&ONE)).open(&sealed, b"row").unwrap(),
            "record"
        );
        let err = sealer(TokenKeys::new(1, &TWO)).open(&sealed, b"row").unwrap_err();
        assert!(
            err.to_string().contains("token key 7"),
            "the header's key is named: {err}"
        );
    }

    #[test]
    fn a_value_without_a_key_id_needs_key_zero() {
        let sealed = sealer(TokenKeys::from(&ONE)).seal("record", b"row").unwrap();
        let err = sealer(TokenKeys::new(1, &ONE)).open(&sealed, b"row").unwrap_err();
        assert!(err.to_string().contains("without a key id"), "{err}");
        assert!(
            sealer(TokenKeys::from(&ONE)).open(&sealed[..10], b"row").is_err(),
            "short"
        );
    }

    #[test]
    fn reseal_moves_a_value_to_the_active_key() {
        let old = sealer(TokenKeys::from(&ONE));
        let sealed = old.seal("{}", &aad("endpoint", "env", "e1")).unwrap();
        let new = sealer(TokenKeys::new(3, &TWO).with_reader(0, &ONE).unwrap());
        let again = new.reseal(Sealed::Endpoint, "env", "e1", &sealed).unwrap();
        assert_eq!(key_id(&again), 3);
        assert!(
            new.reseal(Sealed::Connection, "env", "e1", &sealed).is_err(),
            "bound to its table"
        );
        let only_new = sealer(TokenKeys::new(3, &TWO));
        assert_eq!(
            only_new.open(&again, &aad("endpoint", "env", "e1")).unwrap(),
            "{}"
        );
    }

    #[test]
    fn a_ring_lists_each_id_once_and_shows_no_key() {
        let ring = TokenKeys::new(1, &[0xab; 32]).with_reader(2, &TWO).unwrap();
        assert_eq!(ring.clone().with_reader(2, &ONE).unwrap_err(), KeyIdTaken(2));
        assert_eq!((ring.active(), ring.ids()), (1, vec![1, 2]));
        let shown = format!("{ring:?}");
        assert_eq!(shown, "TokenKeys { active: 1, ids: [1, 2] }");
    }
}
