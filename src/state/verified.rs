//! A verified state: every accessor reads the authenticated bytes; its
//! serialization; and the connect-proof state that continues it.

use std::fmt;

use time::OffsetDateTime;

use super::bytes::StateBytes;
use super::open::{Layout, RawEntries};
use super::seal::SealedState;
use super::*;
use crate::keys::{KeyId, SigningKey};

/// A state whose MAC, time window and binding checked out. Every accessor
/// reads the authenticated bytes.
///
/// Act on these facts, never on the callback's query: the state says who
/// started the flow, for which subscriber, context and connection.
///
/// ```
/// # use channel_connect::*;
/// # use time::{Duration, OffsetDateTime};
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// let body = ConnectRequestBody::from_json(
///     br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123","context":{"tenant":"org-acme"},"connectionMode":"shared"}"#,
/// )?;
/// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
/// let verified = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(20)))?;
///
/// let state = &verified.state;
/// assert_eq!((state.provider(), state.purpose()), ("slack", Purpose::Connect));
/// assert_eq!(state.environment_id(), "6615c4b2e0f3a1b2c3d4e5f6");
/// assert_eq!(state.subscriber_id(), Some("subscriber-123"));
/// assert_eq!(state.connection_mode(), ConnectionMode::Shared);
/// assert_eq!(state.connection_identifier(), issued.connection_identifier());
/// assert_eq!(state.expires_at(), now + Duration::minutes(5));
/// assert!(!state.auto_link_user()); // shared mode: not unless asked
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct VerifiedState {
    bytes: StateBytes,
    layout: Layout,
}

/// A context entry read from a verified state; `data` is its compact JSON.
///
/// ```
/// # use channel_connect::*;
/// # use time::{Duration, OffsetDateTime};
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// let body = ConnectRequestBody::from_json(
///     br#"{"integrationIdentifier":"slack","context":{"tenant":{"id":"org-acme","data":{"plan":"enterprise"}},"app":"billing"}}"#,
/// )?;
/// let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
/// let entries: Vec<_> = state.context().collect();
/// assert_eq!((entries[0].key, entries[0].id, entries[0].data), ("app", "billing", None));
/// assert_eq!((entries[1].key, entries[1].id), ("tenant", "org-acme"));
/// assert_eq!(entries[1].data, Some(r#"{"plan":"enterprise"}"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateContextEntry<'a> {
    /// Context key.
    pub key: &'a str,
    /// Entity id.
    pub id: &'a str,
    /// The data object as compact JSON, when given.
    pub data: Option<&'a str>,
}

/// The stable id of one state (its nonce), for replay refusal.
///
/// Keep each id until the state's [`VerifiedState::expires_at`] and refuse
/// it the second time (a Redis `SET ... NX EXAT`, a unique row):
///
/// ```
/// use std::collections::HashSet;
/// # use channel_connect::*;
/// # use time::{Duration, OffsetDateTime};
/// # let slack = Slack::new(
/// #     ClientId::new("1234567890.1234567890")?,
/// #     Secret::new("slack-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// # let query = format!("code=4724.demo-code&state={}", issued.state().unwrap());
/// let mut seen = HashSet::new(); // your store, with expiry
/// let params = CallbackParams::parse(&query)?;
/// let first = core.verify_callback(&params, &VerifyParams::at(now + Duration::seconds(20)))?;
/// assert!(seen.insert(first.state.replay_id().to_string())); // first use: go on
///
/// // The same callback again (a reload, a replayed URL): the MAC is valid, the id is not new.
/// let again = core.verify_callback(&params, &VerifyParams::at(now + Duration::seconds(25)))?;
/// assert!(!seen.insert(again.state.replay_id().to_string())); // answer 400 Invalid OAuth state parameter
/// assert_eq!(again.state.replay_id().to_string().len(), 32); // 16 bytes, hex
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplayId(pub [u8; NONCE_LEN]);

impl fmt::Display for ReplayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for ReplayId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayId({self})")
    }
}

impl VerifiedState {
    /// An empty state, filled by opening: with room for the bytes `token`
    /// decodes to, or none (inline, no allocation) when opening will refuse
    /// it by its length alone, so a huge token costs no memory before the
    /// refusal.
    pub(crate) fn for_token(token: &str) -> Self {
        let room = match token.len() {
            n if n > MAX_STATE_CHARS => 0,
            n => base64::decoded_len_estimate(n),
        };
        VerifiedState {
            bytes: StateBytes::with_capacity(room),
            layout: Layout::default(),
        }
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The label prefix and the first `body_len` bytes: the MAC input.
    pub(super) fn mac_input(&self, body_len: usize) -> &[u8] {
        self.bytes.mac_input(body_len)
    }

    pub(super) fn bytes_mut(&mut self) -> &mut StateBytes {
        &mut self.bytes
    }

    pub(super) fn set_layout(&mut self, layout: Layout) {
        self.layout = layout;
    }

    fn str_at(&self, (s, e): (usize, usize)) -> &str {
        std::str::from_utf8(&self.bytes[s..e]).expect("checked at parse")
    }

    /// The string field starting at `start` (0: the state has none).
    fn field(&self, start: u16) -> Option<(usize, usize)> {
        let s = usize::from(start);
        (s != 0).then(|| (s, s + usize::from(self.bytes[s - 1])))
    }

    fn bytes_at(&self, start: u16) -> &[u8] {
        self.field(start).map_or(&[], |(s, e)| &self.bytes[s..e])
    }

    fn str_field(&self, start: u16) -> Option<&str> {
        self.field(start).map(|r| self.str_at(r))
    }

    /// The provider, integration, environment and organization as bytes,
    /// for the comparisons of the hot path (no UTF-8 check needed to compare).
    pub(crate) fn route_bytes(&self) -> [&[u8]; 4] {
        let l = &self.layout;
        [
            self.bytes_at(l.provider),
            self.bytes_at(l.integration),
            self.bytes_at(l.environment),
            self.bytes_at(l.organization),
        ]
    }

    fn flag(&self, f: u8) -> bool {
        self.bytes[2] & f != 0
    }

    /// The key id that sealed this state.
    pub fn key_id(&self) -> KeyId {
        KeyId(self.bytes[1])
    }

    /// Provider id.
    pub fn provider(&self) -> &str {
        self.str_field(self.layout.provider).unwrap_or_default()
    }

    /// Connect, link-user or connect-proof.
    pub fn purpose(&self) -> Purpose {
        if self.flag(FLAG_LINK_USER) {
            Purpose::LinkUser
        } else if self.flag(FLAG_PROOF) {
            Purpose::ConnectProof
        } else {
            Purpose::Connect
        }
    }

    /// Integration identifier.
    pub fn integration_identifier(&self) -> &str {
        self.str_field(self.layout.integration).unwrap_or_default()
    }

    /// Environment id.
    pub fn environment_id(&self) -> &str {
        self.str_field(self.layout.environment).unwrap_or_default()
    }

    /// Organization id.
    pub fn organization_id(&self) -> &str {
        self.str_field(self.layout.organization).unwrap_or_default()
    }

    /// Subscriber id, when any.
    pub fn subscriber_id(&self) -> Option<&str> {
        self.str_field(self.layout.subscriber)
    }

    /// Connection identifier, when any.
    pub fn connection_identifier(&self) -> Option<&str> {
        self.str_field(self.layout.connection)
    }

    /// The workspace the flow is restricted to, sealed at issue (a Slack
    /// team, a Teams tenant) or, in a connect-proof state, the tenant the
    /// admin consent claimed. The provider's answer must name this one.
    ///
    /// ```
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// // Linking to a connection of team T9TK3CUKW: the host seals its workspace.
    /// let issue = IssueParams::new(now, &Entropy([7; 32])).with_workspace("T9TK3CUKW");
    /// let issued = core.link_user_url(&body, &issue)?;
    /// let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
    /// assert_eq!(state.workspace(), Some("T9TK3CUKW"));
    ///
    /// // Without one, any workspace may answer.
    /// let issued = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// assert_eq!(core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?.workspace(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn workspace(&self) -> Option<&str> {
        self.str_field(self.layout.workspace)
    }

    /// True when the flow also links the subscriber's own user: a link-user
    /// state, or a state with autoLinkUser and a subscriber.
    pub fn links_user(&self) -> bool {
        self.purpose() == Purpose::LinkUser || (self.auto_link_user() && self.subscriber_id().is_some())
    }

    /// Connection mode.
    pub fn connection_mode(&self) -> ConnectionMode {
        if self.flag(FLAG_SHARED) {
            ConnectionMode::Shared
        } else {
            ConnectionMode::Subscriber
        }
    }

    /// autoLinkUser as issued.
    pub fn auto_link_user(&self) -> bool {
        self.flag(FLAG_AUTO_LINK)
    }

    /// Context entries, in key order.
    pub fn context(&self) -> impl Iterator<Item = StateContextEntry<'_>> + '_ {
        RawEntries::new(&self.bytes, &self.layout).map(|e| StateContextEntry {
            key: self.str_at(e.key),
            id: self.str_at(e.id),
            data: e.data.map(|d| self.str_at(d)),
        })
    }

    pub(super) fn issued_at_unix(&self) -> u64 {
        u64::from_be_bytes(self.bytes[3..11].try_into().expect("fixed header"))
    }

    pub(crate) fn lifetime_secs(&self) -> u16 {
        u16::from_be_bytes([self.bytes[11], self.bytes[12]])
    }

    /// When it was issued.
    pub fn issued_at(&self) -> OffsetDateTime {
        unix_to_datetime(self.issued_at_unix())
    }

    /// When it stops opening (exclusive).
    pub fn expires_at(&self) -> OffsetDateTime {
        unix_to_datetime(
            self.issued_at_unix()
                .saturating_add(u64::from(self.lifetime_secs())),
        )
    }

    /// The nonce: refuse a second callback with the same id until [`Self::expires_at`].
    ///
    /// [`ReplayId`] shows a store doing it.
    ///
    /// ```
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let slack = Slack::new(
    /// #     ClientId::new("1234567890.1234567890")?,
    /// #     Secret::new("slack-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("slack", slack))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// let state = core.platform().open_state(issued.state().unwrap(), &VerifyParams::at(now))?;
    /// // SET channel-connect:replay:<id> 1 NX EXAT <expiry>
    /// let key = format!("channel-connect:replay:{}", state.replay_id());
    /// let exat = state.expires_at().unix_timestamp();
    /// assert_eq!(key.len(), "channel-connect:replay:".len() + 32);
    /// assert_eq!(exat, 1_767_225_900);
    /// // Two issues draw two nonces.
    /// # let other = core.connect_url(&body, &IssueParams::new(now, &Entropy([8; 32])))?;
    /// let other = core.platform().open_state(other.state().unwrap(), &VerifyParams::at(now))?;
    /// assert_ne!(state.replay_id(), other.replay_id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replay_id(&self) -> ReplayId {
        let mut n = [0; NONCE_LEN];
        n.copy_from_slice(self.nonce());
        ReplayId(n)
    }

    pub(crate) fn nonce(&self) -> &[u8] {
        &self.bytes[13..13 + NONCE_LEN]
    }

    /// True when the state is bound to a browser.
    pub fn is_bound(&self) -> bool {
        self.layout.binding != 0
    }

    pub(super) fn binding_tag(&self) -> Option<&[u8]> {
        let s = usize::from(self.layout.binding);
        (s != 0).then(|| &self.bytes[s..s + BINDING_LEN])
    }

    /// The connect-proof state that continues this connect state (SPEC.md
    /// section 7): the same claims, flags `PROOF` and `WORKSPACE`, issued at
    /// `max(now, issued_at)` and expiring when this state does, with a nonce
    /// derived from this one (so no entropy is needed), sealed under `key`.
    /// `workspace` is inserted unless the state already carries one. The
    /// refusal says why: not a connect state, a workspace outside the
    /// format, a parent already expired at `now`, or no room left.
    pub(crate) fn reseal_proof(
        &self,
        now: i64,
        workspace: &str,
        key: &SigningKey,
        out: &mut SealedState,
    ) -> Result<[u8; NONCE_LEN], StateErrorKind> {
        if self.purpose() != Purpose::Connect {
            return Err(StateErrorKind::WrongPurpose);
        }
        if !is_workspace(workspace.as_bytes()) {
            return Err(StateErrorKind::Malformed);
        }
        let parent_issued = self.issued_at_unix();
        let expires = parent_issued.saturating_add(u64::from(self.lifetime_secs()));
        let issued_at = u64::try_from(now).unwrap_or(0).max(parent_issued);
        // At most the parent's lifetime; 0 only if the parent has expired.
        let lifetime = u16::try_from(expires.saturating_sub(issued_at)).unwrap_or(u16::MAX);
        if lifetime == 0 {
            return Err(StateErrorKind::Expired);
        }
        // The workspace goes just before the context count.
        let (insert_at, insert) = match self.layout.workspace {
            0 => (usize::from(self.layout.context) - 1, workspace.as_bytes()),
            _ => (self.bytes.len(), &[][..]),
        };
        let extra = if insert.is_empty() { 0 } else { 1 + insert.len() };
        let body_len = self.bytes.len() + extra;
        if body_len + TAG_LEN > MAX_STATE_BYTES {
            return Err(StateErrorKind::Oversized);
        }
        let raw = out.body_buf();
        raw[..insert_at].copy_from_slice(&self.bytes[..insert_at]);
        if extra > 0 {
            raw[insert_at] = insert.len() as u8;
            raw[insert_at + 1..insert_at + extra].copy_from_slice(insert);
        }
        raw[insert_at + extra..body_len].copy_from_slice(&self.bytes[insert_at..]);
        raw[1] = key.id().0;
        raw[2] |= FLAG_PROOF | FLAG_WORKSPACE;
        raw[3..11].copy_from_slice(&issued_at.to_be_bytes());
        raw[11..13].copy_from_slice(&lifetime.to_be_bytes());
        let derived = key.derive(FOLLOW_UP_NONCE_LABEL, &[self.nonce()]);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&derived[..NONCE_LEN]);
        raw[13..13 + NONCE_LEN].copy_from_slice(&nonce);
        out.finish(key, body_len).map_err(|_| StateErrorKind::Oversized)?;
        Ok(nonce)
    }
}

/// Unix seconds as a time, saturating at the largest time `time` represents
/// (a verified state is never that far out: it would not have opened).
pub(crate) fn unix_to_datetime(secs: u64) -> OffsetDateTime {
    i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or_else(|| time::PrimitiveDateTime::MAX.assume_utc())
}

/// camelCase JSON of the facts (`provider`, `purpose`,
/// `integrationIdentifier`, `environmentId`, `organizationId`,
/// `subscriberId`, `connectionIdentifier`, `workspace`, `connectionMode`,
/// `autoLinkUser`, `context`, `issuedAt`, `expiresAt`, `replayId`); the
/// context as the request gave it (`key: "id"` or `key: {id, data}`).
impl serde::Serialize for VerifiedState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Ctx<'a>(&'a VerifiedState);
        impl serde::Serialize for Ctx<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(None)?;
                for e in self.0.context() {
                    match e.data.map(serde_json::from_str::<serde_json::Value>) {
                        Some(Ok(data)) => {
                            m.serialize_entry(e.key, &serde_json::json!({"id": e.id, "data": data}))?
                        }
                        _ => m.serialize_entry(e.key, e.id)?,
                    }
                }
                m.end()
            }
        }
        let mut st = s.serialize_struct("VerifiedState", 14)?;
        st.serialize_field("provider", self.provider())?;
        st.serialize_field("purpose", &self.purpose())?;
        st.serialize_field("integrationIdentifier", self.integration_identifier())?;
        st.serialize_field("environmentId", self.environment_id())?;
        st.serialize_field("organizationId", self.organization_id())?;
        st.serialize_field("subscriberId", &self.subscriber_id())?;
        st.serialize_field("connectionIdentifier", &self.connection_identifier())?;
        st.serialize_field("workspace", &self.workspace())?;
        st.serialize_field("connectionMode", &self.connection_mode())?;
        st.serialize_field("autoLinkUser", &self.auto_link_user())?;
        st.serialize_field("context", &Ctx(self))?;
        st.serialize_field("issuedAt", &crate::rfc3339::write(self.issued_at()))?;
        st.serialize_field("expiresAt", &crate::rfc3339::write(self.expires_at()))?;
        st.serialize_field("replayId", &self.replay_id().to_string())?;
        st.end()
    }
}

impl fmt::Debug for VerifiedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedState")
            .field("provider", &self.provider())
            .field("purpose", &self.purpose())
            .field("integration", &self.integration_identifier())
            .field("environment", &self.environment_id())
            .field("organization", &self.organization_id())
            .field("subscriber", &self.subscriber_id())
            .field("connection", &self.connection_identifier())
            .field("workspace", &self.workspace())
            .field("mode", &self.connection_mode())
            .field("auto_link_user", &self.auto_link_user())
            .field("context", &self.context().collect::<Vec<_>>())
            .field("issued_at", &self.issued_at_unix())
            .field("replay_id", &self.replay_id())
            .finish()
    }
}
