//! Replay marks and idempotency entries in Redis, shared by every instance:
//! `SET key value NX EXAT` claims atomically, so two instances never both
//! accept one state. Records parked after a failed store are taken with
//! `GETDEL`, once. Any Redis failure is an error, never a pass. Needs Redis
//! 6.2 or later (`EXAT`, `GETDEL`).

use std::path::Path;
use std::time::Duration;

use redis::TlsCertificates;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::{Value, json};

use crate::store::{
    IDEMPOTENCY_TTL_SECS, IN_FLIGHT_TTL_SECS, Idempotency, IdempotencyEntries, ParkedRecords, ReplayMarks,
    StoreError, StoreFuture,
};

/// How long past a state's expiry its mark and parked records stay: Redis
/// counts on its own clock, and an instance whose clock is behind by less
/// than this still finds the mark of every state it would accept.
const CLOCK_MARGIN_SECS: i64 = 300;

/// Releases an idempotency key only while it is still in flight (no answer).
const ABANDON: &str = r#"
local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v)['status'] == cjson.null then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// A Redis connection (reconnecting, with timeouts), cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: not shown.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`, or `rediss://` for TLS,
    /// verified against the system's roots); keys start with `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisStore, StoreError> {
        RedisStore::connect_with(url, prefix, None).await
    }

    /// [`RedisStore::connect`], a `rediss://` server's certificate verified
    /// against the CA certificates of the PEM file `ca_file` instead.
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        ca_file: Option<&Path>,
    ) -> Result<RedisStore, StoreError> {
        // The TLS stack uses the process's crypto provider.
        crate::install_crypto_provider();
        let client = match ca_file {
            None => redis::Client::open(url),
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| StoreError::with("redis ca file", e))?;
                let certs = TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                redis::Client::build_with_tls(url, certs)
            }
        }
        .map_err(|e| StoreError::with("redis url", e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| StoreError::with("redis connect", e))?;
        Ok(RedisStore {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        for p in parts {
            k.push(':');
            k.push_str(p);
        }
        k
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ReplayMarks for RedisStore {
    fn mark_used<'a>(&'a self, replay_id: &'a [u8], expires_at: i64, now: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            // Kept past expiry by a margin on Redis's clock, which may run
            // ahead of the instance's (EXAT in the past is an error).
            let until = expires_at.max(now) + CLOCK_MARGIN_SECS;
            let set: Option<String> = redis::cmd("SET")
                .arg(self.key(&["replay", &hex(replay_id)]))
                .arg(1)
                .arg("NX")
                .arg("EXAT")
                .arg(until)
                .query_async(&mut conn)
                .await
                .map_err(|e| StoreError::with("redis replay mark", e))?;
            Ok(set.is_some())
        })
    }
}

impl ParkedRecords for RedisStore {
    fn park<'a>(&'a self, key: &'a [u8], sealed: &'a [u8], expires_at: i64, now: i64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let until = expires_at.max(now) + CLOCK_MARGIN_SECS;
            let _: () = redis::cmd("SET")
                .arg(self.key(&["parked", &hex(key)]))
                .arg(sealed)
                .arg("EXAT")
                .arg(until)
                .query_async(&mut conn)
                .await
                .map_err(|e| StoreError::with("redis park", e))?;
            Ok(())
        })
    }

    fn take_parked<'a>(&'a self, key: &'a [u8], _now: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            // GETDEL: two retries at once, one of them stores.
            redis::cmd("GETDEL")
                .arg(self.key(&["parked", &hex(key)]))
                .query_async(&mut conn)
                .await
                .map_err(|e| StoreError::with("redis take parked", e))
        })
    }
}

impl IdempotencyEntries for RedisStore {
    fn begin<'a>(
        &'a self,
        env: &'a str,
        key: &'a str,
        hash: &'a [u8],
        _now: i64,
    ) -> StoreFuture<'a, Idempotency> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let k = self.key(&["idempotency", env, &hex(key.as_bytes())]);
            let entry = json!({ "hash": hex(hash), "status": null, "body": null }).to_string();
            let claimed: Option<String> = redis::cmd("SET")
                .arg(&k)
                .arg(entry)
                .arg("NX")
                .arg("EX")
                .arg(IN_FLIGHT_TTL_SECS)
                .query_async(&mut conn)
                .await
                .map_err(|e| StoreError::with("redis idempotency", e))?;
            if claimed.is_some() {
                return Ok(Idempotency::Fresh);
            }
            let held: Option<String> = redis::cmd("GET")
                .arg(&k)
                .query_async(&mut conn)
                .await
                .map_err(|e| StoreError::with("redis idempotency", e))?;
            // Gone between the two calls (expired or abandoned): in flight elsewhere, retry later.
            let Some(held) = held else {
                return Ok(Idempotency::InFlight);
            };
            let v: Value =
                serde_json::from_str(&held).map_err(|e| StoreError::with("redis idempotency entry", e))?;
            if v["hash"].as_str() != Some(hex(hash).as_str()) {
                return Ok(Idempotency::Mismatch);
            }
            match (
                v["status"].as_u64().and_then(|s| u16::try_from(s).ok()),
                v["body"].as_str(),
            ) {
                (Some(status), Some(body)) => Ok(Idempotency::Replay {
                    status,
                    body: body.to_owned(),
                }),
                _ => Ok(Idempotency::InFlight),
            }
        })
    }

    fn finish<'a>(&'a self, env: &'a str, key: &'a str, status: u16, body: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let k = self.key(&["idempotency", env, &hex(key.as_bytes())]);
            let held: Option<String> = redis::cmd("GET")
                .arg(&k)
                .query_async(&mut conn)
                .await
                .map_err(|e| StoreError::with("redis idempotency", e))?;
            let Some(held) = held else { return Ok(()) };
            let mut v: Value =
                serde_json::from_str(&held).map_err(|e| StoreError::with("redis idempotency entry", e))?;
            v["status"] = json!(status);
            v["body"] = json!(body);
            let _: Option<String> = redis::cmd("SET")
                .arg(&k)
                .arg(v.to_string())
                .arg("XX")
                .arg("EX")
                .arg(IDEMPOTENCY_TTL_SECS)
                .query_async(&mut conn)
                .await
                .map_err(|e| StoreError::with("redis idempotency", e))?;
            Ok(())
        })
    }

    fn abandon<'a>(&'a self, env: &'a str, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let k = self.key(&["idempotency", env, &hex(key.as_bytes())]);
            let _: i64 = redis::Script::new(ABANDON)
                .key(k)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| StoreError::with("redis idempotency", e))?;
            Ok(())
        })
    }
}

impl super::Ready for RedisStore {
    fn ready(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let _: String = redis::cmd("PING")
                .query_async(&mut conn)
                .await
                .map_err(|e| StoreError::with("redis ping", e))?;
            Ok(())
        })
    }
}
