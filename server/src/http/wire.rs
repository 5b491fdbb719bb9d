//! Novu's wire shapes for stored rows: the connection and endpoint objects
//! its SDKs validate (`GetChannelConnectionResponseDto`,
//! `GetChannelEndpointResponseDto`), never with a credential.

use serde_json::{Map, Value, json};

use crate::config::Environment;
use crate::http::novu_errors::iso_8601;
use crate::store::{ConnectionRow, EndpointRow, context_key_list};

/// What `auth.accessToken` answers: the SDKs require a string there, and no
/// answer of this API carries a usable token.
pub const REDACTED: &str = "[redacted]";

/// A connection as Novu answers it.
pub fn connection(row: &ConnectionRow) -> Value {
    let c = &row.connection;
    let mut workspace = Map::new();
    workspace.insert("id".into(), Value::String(c.workspace.id.clone()));
    if let Some(name) = &c.workspace.name {
        workspace.insert("name".into(), Value::String(name.clone()));
    }
    if let Some(Value::String(bot)) = c.workspace.details.get("botUserId") {
        workspace.insert("botUserId".into(), Value::String(bot.clone()));
    }
    let mut out = json!({
        "identifier": c.identifier,
        "channel": "chat",
        "providerId": c.provider_id,
        "integrationIdentifier": c.integration_identifier,
        "subscriberId": c.subscriber_id,
        "connectionMode": if c.subscriber_id.is_some() { "subscriber" } else { "shared" },
        "contextKeys": context_key_list(&c.context),
        "workspace": workspace,
        "auth": auth(row),
        "createdAt": time(row.created_at),
        "updatedAt": time(row.updated_at),
    });
    // Not in Novu's shape: whether the tokens still work (a refresh token
    // or the tokens refused at the provider: connect again).
    match &row.reconnect {
        None => out["status"] = json!("active"),
        Some(reason) => {
            out["status"] = json!("needs_reconnection");
            out["statusReason"] = json!(reason);
        }
    }
    out
}

/// `auth`: the token redacted; when they are known, when the access and
/// refresh tokens expire (not secrets, and in Novu's shape).
fn auth(row: &ConnectionRow) -> Value {
    let mut auth = json!({ "accessToken": REDACTED });
    let e = row.auth_expiry;
    for (key, t) in [
        ("expiresAt", e.expires_at),
        ("refreshTokenExpiresAt", e.refresh_token_expires_at),
    ] {
        if let Some(t) = t {
            auth[key] = Value::String(time(t));
        }
    }
    auth
}

/// An endpoint as Novu answers it (`providerId` from the integration's
/// provider in `env`, null when the integration is gone).
pub fn endpoint(row: &EndpointRow, env: &Environment) -> Value {
    let e = &row.endpoint;
    let mut target = e.endpoint.fields().clone();
    // A webhook's URL is its credential: sealed, and answered redacted
    // (the SDKs' webhook shape has a `url`).
    if e.endpoint.kind() == "webhook" {
        target.insert("url".into(), Value::String(REDACTED.into()));
    }
    let mut out = json!({
        "identifier": row.identifier,
        "channel": "chat",
        "providerId": env.providers.get(&e.integration_identifier),
        "integrationIdentifier": e.integration_identifier,
        "connectionIdentifier": e.connection_identifier,
        "subscriberId": e.subscriber_id,
        "contextKeys": context_key_list(&e.context),
        "type": e.endpoint.kind(),
        "endpoint": target,
        "createdAt": time(row.created_at),
        "updatedAt": time(row.updated_at),
    });
    // Not in Novu's shape: a linked Teams user's app installation
    // (`pending`, `installed`, `already_installed`, `failed`).
    if let Some(status) = &row.app_install {
        out["appInstallation"] = json!(status);
    }
    out
}

fn time(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    iso_8601(t)
}
