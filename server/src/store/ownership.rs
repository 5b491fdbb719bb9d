//! Who a stored connection belongs to, and so what may be written over it
//! (only a re-install of it, by the same owner, for the same integration, in
//! the same workspace) and who may link a user to it (a subscriber of its
//! owner: the same context, and in `subscriber` mode the same subscriber).
//!
//! A connect names its `connectionIdentifier`, and whoever finishes the
//! flow chooses the workspace; without this rule a connect naming another
//! owner's connection would replace its workspace, owner and token while
//! the old connection's user endpoints stayed linked to it. The same rule
//! is checked when the URL is issued (with the workspace pinned) and again
//! when the callback saves, in the save's transaction.

use std::collections::BTreeMap;

use channel_connect::VerifiedState;
use channel_connect::records::{ChannelConnectionRecord, ChannelEndpointRecord};

/// Why a connection may not be written over a stored one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// The stored connection belongs to another integration.
    Integration,
    /// It belongs to another subscriber or context.
    Owner,
    /// It is in another workspace (Slack team, Teams tenant).
    Workspace,
    /// One already exists under that identifier, or reaches that target.
    Exists,
    /// The connection a link names is gone.
    Gone,
}

impl Conflict {
    /// What the caller or the browser is told (no identifier, no value).
    pub fn message(self) -> &'static str {
        match self {
            Conflict::Integration => "The connection belongs to another integration",
            Conflict::Owner => "The connection belongs to another subscriber or context",
            Conflict::Exists => "One already exists with that identifier, or for that target",
            Conflict::Gone => "The connection this link names no longer exists",
            Conflict::Workspace => {
                "The connection is in another workspace: reconnect it in its own workspace, or create a new connection"
            }
        }
    }
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// The context's keys and ids (its data may change).
fn context_ids(c: &ChannelConnectionRecord) -> BTreeMap<&str, &str> {
    c.context
        .iter()
        .map(|(k, v)| (k.as_str(), v.id.as_str()))
        .collect()
}

/// `Ok` when `new` is a re-install of `stored`: same integration, same
/// owner (the subscriber of a subscriber-mode connection, and the context's
/// keys and ids; context data may change), same workspace.
pub fn check(stored: &ChannelConnectionRecord, new: &ChannelConnectionRecord) -> Result<(), Conflict> {
    if stored.integration_identifier != new.integration_identifier {
        return Err(Conflict::Integration);
    }
    if stored.subscriber_id != new.subscriber_id || context_ids(stored) != context_ids(new) {
        return Err(Conflict::Owner);
    }
    if stored.workspace.id != new.workspace.id {
        return Err(Conflict::Workspace);
    }
    Ok(())
}

/// `Ok` when the user link `state` may attach to `stored`: same
/// integration, same context keys and ids, and for a connection of one
/// subscriber, that subscriber.
pub fn check_link(stored: &ChannelConnectionRecord, state: &VerifiedState) -> Result<(), Conflict> {
    let ids = state.context().map(|e| (e.key, e.id)).collect();
    linkable(stored, state.integration_identifier(), state.subscriber_id(), ids)
}

/// Where an endpoint about to be linked is known to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place<'a> {
    /// The flow was pinned to this workspace when issued (the connection's).
    Pinned(&'a str),
    /// The flow was issued before its connection existed: the provider's
    /// answer must say the workspace (a Teams user's `tenantId`); an answer
    /// that does not (a Slack user's) is refused.
    Answered,
    /// The API key holder says so (an endpoint created through the API).
    Asserted,
}

/// `Ok` when endpoint `e` may be stored linked to `stored` (the link rule
/// of [`check_link`], checked again where the endpoint is written) and
/// `stored` is in the workspace `place` says.
pub fn check_endpoint(
    stored: &ChannelConnectionRecord,
    e: &ChannelEndpointRecord,
    place: Place<'_>,
) -> Result<(), Conflict> {
    let ids = e
        .context
        .iter()
        .map(|(k, v)| (k.as_str(), v.id.as_str()))
        .collect();
    linkable(stored, &e.integration_identifier, Some(&e.subscriber_id), ids)?;
    let workspace = match place {
        Place::Pinned(w) => Some(w),
        Place::Answered => e.endpoint.get("tenantId").or(e.endpoint.get("teamId")),
        Place::Asserted => return Ok(()),
    };
    if workspace != Some(stored.workspace.id.as_str()) {
        return Err(Conflict::Workspace);
    }
    Ok(())
}

/// [`check_endpoint`] against a stored row's public JSON; `None` (no such
/// connection) is [`Conflict::Gone`].
pub fn check_endpoint_public(
    stored_public: Option<&str>,
    e: &ChannelEndpointRecord,
    pin: Option<&str>,
) -> Result<(), Conflict> {
    let stored = stored_public.ok_or(Conflict::Gone)?;
    let place = pin.map_or(Place::Answered, Place::Pinned);
    match serde_json::from_str::<ChannelConnectionRecord>(stored) {
        Ok(stored) => check_endpoint(&stored, e, place),
        Err(_) => Err(Conflict::Owner),
    }
}

fn linkable(
    stored: &ChannelConnectionRecord,
    integration: &str,
    subscriber: Option<&str>,
    ids: BTreeMap<&str, &str>,
) -> Result<(), Conflict> {
    if stored.integration_identifier != integration {
        return Err(Conflict::Integration);
    }
    let same_subscriber = stored
        .subscriber_id
        .as_deref()
        .is_none_or(|owner| subscriber == Some(owner));
    if ids != context_ids(stored) || !same_subscriber {
        return Err(Conflict::Owner);
    }
    Ok(())
}

/// [`check`] against a stored row's public JSON (what every engine keeps
/// beside the sealed record).
pub fn check_public(stored_public: &str, new: &ChannelConnectionRecord) -> Result<(), Conflict> {
    match serde_json::from_str::<ChannelConnectionRecord>(stored_public) {
        Ok(stored) => check(&stored, new),
        // A row this server cannot read is no row to overwrite.
        Err(_) => Err(Conflict::Owner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: serde_json::Value) -> ChannelConnectionRecord {
        let mut base = json!({
            "identifier": "c1", "integrationIdentifier": "slack", "providerId": "slack",
            "subscriberId": "s1", "context": {"org": {"id": "acme", "data": {"plan": "pro"}}},
            "workspace": {"id": "T1"}
        });
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn only_a_reinstall_may_overwrite() {
        let stored = record(json!({}));
        assert_eq!(check(&stored, &record(json!({}))), Ok(()));
        // Context data may change; the owner is the same.
        let data = record(json!({"context": {"org": {"id": "acme", "data": {"plan": "free"}}}}));
        assert_eq!(check(&stored, &data), Ok(()));
        let cases = [
            (json!({"integrationIdentifier": "slack-2"}), Conflict::Integration),
            (json!({"subscriberId": "s2"}), Conflict::Owner),
            (json!({"subscriberId": null}), Conflict::Owner),
            (json!({"context": {"org": {"id": "evil"}}}), Conflict::Owner),
            (json!({"context": {"team": {"id": "acme"}}}), Conflict::Owner),
            (json!({"context": {}}), Conflict::Owner),
            (json!({"workspace": {"id": "T2"}}), Conflict::Workspace),
        ];
        for (change, conflict) in cases {
            assert_eq!(check(&stored, &record(change.clone())), Err(conflict), "{change}");
        }
        assert_eq!(check_public("{}", &stored), Err(Conflict::Owner));
    }
}
