//! Callback parameters, the outcomes a provider can report, and callback errors.
//!
//! (Most of this file's length is the runnable examples in its doc comments;
//! the code, tests included, is about 300 lines.)

use std::borrow::Cow;

use crate::encode::nibble as hex;
use crate::state::StateError;
use crate::text;

/// Largest callback query accepted, in bytes.
pub const MAX_CALLBACK_BYTES: usize = 8 * 1024;

/// The parameters of a provider's redirect back, percent-decoded. Unknown
/// parameters are ignored; a known one given twice is refused.
///
/// ```
/// use channel_connect::CallbackParams;
///
/// // Microsoft's redirect back after an admin consent.
/// let params = CallbackParams::parse(
///     "https://api.example.com/v1/integrations/chat/oauth/callback?admin_consent=True\
///      &tenant=72f988bf-86f1-41af-91ab-2d7cd011db47&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&state=AQEB",
/// )?;
/// assert_eq!(params.admin_consent.as_deref(), Some("True"));
/// assert_eq!(params.tenant.as_deref(), Some("72f988bf-86f1-41af-91ab-2d7cd011db47"));
/// assert_eq!(params.scope.as_deref(), Some("https://graph.microsoft.com/.default"));
/// assert!(params.code.is_none());
///
/// // `Debug` never shows a code.
/// let params = CallbackParams::parse("code=4724.demo-code&state=AQEB")?;
/// assert!(!format!("{params:?}").contains("4724.demo-code"));
/// # Ok::<(), channel_connect::CallbackError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CallbackParams<'a> {
    /// `state`.
    pub state: Option<Cow<'a, str>>,
    /// `code`.
    pub code: Option<Cow<'a, str>>,
    /// `error`.
    pub error: Option<Cow<'a, str>>,
    /// `error_description`.
    pub error_description: Option<Cow<'a, str>>,
    /// `admin_consent` (Microsoft).
    pub admin_consent: Option<Cow<'a, str>>,
    /// `tenant` (Microsoft).
    pub tenant: Option<Cow<'a, str>>,
    /// `scope`.
    pub scope: Option<Cow<'a, str>>,
}

impl std::fmt::Debug for CallbackParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The code is a credential until it is exchanged.
        f.debug_struct("CallbackParams")
            .field("state", &self.state)
            .field("code", &self.code.as_ref().map(|_| "[redacted]"))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .field("admin_consent", &self.admin_consent)
            .field("tenant", &self.tenant)
            .field("scope", &self.scope)
            .finish()
    }
}

impl<'a> CallbackParams<'a> {
    /// Parses a full callback URL, a path with a query, or a raw query string
    /// (with or without the leading `?`). A fragment is dropped.
    ///
    /// ```
    /// use channel_connect::{CallbackError, CallbackParams};
    ///
    /// // The full URL, the path and query, or the query alone: the same parameters.
    /// for input in [
    ///     "https://api.example.com/v1/integrations/chat/oauth/callback?code=4724.demo-code&state=AQEB",
    ///     "/v1/integrations/chat/oauth/callback?code=4724.demo-code&state=AQEB",
    ///     "?code=4724.demo-code&state=AQEB",
    ///     "code=4724.demo-code&state=AQEB",
    /// ] {
    ///     let params = CallbackParams::parse(input)?;
    ///     assert_eq!((params.code.as_deref(), params.state.as_deref()), (Some("4724.demo-code"), Some("AQEB")));
    /// }
    ///
    /// // A second state, even spelled `%73tate`, is an attack, not a choice.
    /// assert_eq!(
    ///     CallbackParams::parse("code=4724.demo-code&state=AQEB&%73tate=AQEC").unwrap_err(),
    ///     CallbackError::DuplicateParameter("state")
    /// );
    /// assert_eq!(CallbackParams::parse(&"a".repeat(9000)).unwrap_err(), CallbackError::TooLarge);
    /// # Ok::<(), CallbackError>(())
    /// ```
    pub fn parse(input: &'a str) -> Result<Self, CallbackError> {
        // A URL's `?` comes before the first `=`, `&` or `#`; looking only
        // there keeps a `?` inside a value (and the long state) out of it.
        let first = input
            .bytes()
            .position(|c| matches!(c, b'?' | b'=' | b'&' | b'#'))
            .unwrap_or(input.len());
        let query = if input.as_bytes().get(first) == Some(&b'?') {
            &input[first + 1..]
        } else {
            // No `?` first: a raw query, unless it looks like a URL or a
            // path, whose query (if any) follows its first `?` before a
            // `#` (a path may hold `=` or `&`: `/cb;v=1?state=...`).
            let head = &input.as_bytes()[..first];
            let url_or_path = head.starts_with(b"/") || head.windows(3).any(|w| w == b"://");
            if url_or_path {
                let end = input.find('#').unwrap_or(input.len());
                input[..end].find('?').map_or("", |q| &input[q + 1..])
            } else {
                input
            }
        };
        // The limit is the query's own: not the scheme, host, path or `?`
        // before it, nor a fragment after it.
        if query.len() > MAX_CALLBACK_BYTES && query.find('#').unwrap_or(query.len()) > MAX_CALLBACK_BYTES {
            return Err(CallbackError::TooLarge);
        }
        // One pass from delimiter to delimiter; every index it slices at is
        // an ASCII byte, so every slice is a `&str` without re-validation.
        let b = query.as_bytes();
        let mut p = CallbackParams::default();
        let (mut start, mut eq, mut encoded) = (0, None, false);
        let mut i = next_delimiter(b, 0);
        loop {
            let c = b.get(i).copied().unwrap_or(b'&');
            match c {
                b'=' if eq.is_none() => eq = Some(i),
                b'%' | b'+' => encoded = true,
                b'&' | b'#' => {
                    let (name, value) = match eq {
                        Some(e) => (&query[start..e], &query[e + 1..i]),
                        None => (&query[start..i], ""),
                    };
                    p.set(name, value, encoded)?;
                    if c == b'#' || i >= b.len() {
                        return Ok(p);
                    }
                    (start, eq, encoded) = (i + 1, None, false);
                }
                _ => {}
            }
            i = next_delimiter(b, i + 1);
        }
    }

    fn set(&mut self, name: &str, value: &'a str, encoded: bool) -> Result<(), CallbackError> {
        // Names are form-encoded like values: `%73tate` is `state`, so a
        // second state spelled that way is a duplicate, not an unknown name.
        let decoded;
        let name = if encoded && name.bytes().any(|b| b == b'%' || b == b'+') {
            match form_decode(name) {
                Some(n) => {
                    decoded = n;
                    decoded.as_ref()
                }
                None => return Ok(()),
            }
        } else {
            name
        };
        let (slot, name) = match name {
            "state" => (&mut self.state, "state"),
            "code" => (&mut self.code, "code"),
            "error" => (&mut self.error, "error"),
            "error_description" => (&mut self.error_description, "error_description"),
            "admin_consent" => (&mut self.admin_consent, "admin_consent"),
            "tenant" => (&mut self.tenant, "tenant"),
            "scope" => (&mut self.scope, "scope"),
            _ => return Ok(()),
        };
        if slot.is_some() {
            return Err(CallbackError::DuplicateParameter(name));
        }
        let value = if encoded {
            form_decode(value)
        } else {
            Some(Cow::Borrowed(value))
        };
        *slot = Some(value.ok_or(CallbackError::Encoding(name))?);
        Ok(())
    }
}

/// Index of the first `&`, `=`, `%`, `+` or `#` at or after `from` (or the
/// length). Whole 16-byte blocks are tested with a byte accumulator and no
/// early exit, which the compiler vectorizes: a 200-character state takes a
/// dozen block tests instead of 200 branches.
fn next_delimiter(b: &[u8], from: usize) -> usize {
    let special = |c: u8| (c == b'&') | (c == b'=') | (c == b'%') | (c == b'+') | (c == b'#');
    // `#` to `+` (0x23 to 0x2B) is one range, which no base64url character
    // falls in: two comparisons a byte find every candidate.
    let candidate = |c: u8| (c.wrapping_sub(b'#') <= b'+' - b'#') | (c == b'=');
    let mut i = from;
    while let Some(block) = b.get(i..i + 16) {
        if block.iter().fold(false, |acc, &c| acc | candidate(c)) {
            break;
        }
        i += 16;
    }
    b.get(i..)
        .and_then(|rest| rest.iter().position(|&c| special(c)))
        .map_or(b.len(), |p| i + p)
}

/// `application/x-www-form-urlencoded` value decoding: `+` is a space, `%XX`
/// a byte; a `%` not followed by two hex digits stays as it is. `None` when
/// the bytes are not UTF-8.
fn form_decode(v: &str) -> Option<Cow<'_, str>> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && hex(b[i + 1]).is_some() && hex(b[i + 2]).is_some() => {
                out.push(hex(b[i + 1])? << 4 | hex(b[i + 2])?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// An authorization code to exchange (one of the role types of
/// [`crate::secret`]). `Debug` hides it.
pub use crate::secret::AuthorizationCode;

/// A tenant id as the admin-consent callback reported it. Microsoft: anyone
/// can send this value, so it is never trusted: it only names the tenant in
/// which the proof sign-in (a connect-proof state) must then succeed.
///
/// ```
/// use channel_connect::UnverifiedTenant;
/// use channel_connect::provider::msteams::CONSUMER_TENANT;
///
/// let claimed = UnverifiedTenant::new("72f988bf-86f1-41af-91ab-2d7cd011db47").expect("a tenant GUID");
/// assert_eq!(serde_json::to_value(&claimed)?, "72f988bf-86f1-41af-91ab-2d7cd011db47");
///
/// // Personal accounts have no organization to consent for.
/// assert_eq!(UnverifiedTenant::new(CONSUMER_TENANT), None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UnverifiedTenant(pub(crate) String);

impl UnverifiedTenant {
    /// The claimed tenant id (lowercase GUID). Not proof of anything.
    ///
    /// ```
    /// # use channel_connect::*;
    /// # use time::{Duration, OffsetDateTime};
    /// # let teams = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("msteams", teams))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"msteams","context":{"tenant":"org-acme"}}"#)?;
    /// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
    /// # let state = issued.state().unwrap();
    /// let query = format!("admin_consent=True&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47&state={state}");
    /// let consent = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now + Duration::seconds(30)))?;
    /// let ProviderOutcome::AdminConsent { tenant, .. } = &consent.outcome else { panic!("an admin consent") };
    /// // Only where the proof sign-in must happen; the connection waits for its id_token.
    /// assert!(consent.next.unwrap().url.contains(&format!("/{}/oauth2/v2.0/authorize?", tenant.claimed())));
    ///
    /// // A tenant that is not a GUID is refused before anything is claimed.
    /// let query = format!("admin_consent=True&tenant=contoso.onmicrosoft.com&state={state}");
    /// let refused = core.verify_callback(&CallbackParams::parse(&query)?, &VerifyParams::at(now)).unwrap_err();
    /// assert_eq!(refused, CallbackError::Malformed("tenant"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn claimed(&self) -> &str {
        &self.0
    }
}

/// What a provider's successful callback says.
///
/// ```
/// # use channel_connect::*;
/// # use time::{Duration, OffsetDateTime};
/// # let redirect = RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?;
/// # let slack = Slack::new(ClientId::new("1234567890.1234567890")?, Secret::new("slack-client-secret"), redirect.clone());
/// # let teams = MsTeams::new(ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?, Secret::new("teams-client-secret"), redirect);
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("slack", slack))
/// #     .integration(Integration::new("msteams", teams))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let state_for = |integration: &str| -> Result<String, Box<dyn std::error::Error>> {
/// #     let body = ConnectRequestBody::from_json(format!(r#"{{"integrationIdentifier":"{integration}","subscriberId":"subscriber-123"}}"#).as_bytes())?;
/// #     Ok(core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?.state().unwrap().to_owned())
/// # };
/// # let verify = VerifyParams::at(now + Duration::seconds(30));
/// // Slack: a code, which serializes without its value.
/// let query = format!("code=4724.demo-code&state={}", state_for("slack")?);
/// let install = core.verify_callback(&CallbackParams::parse(&query)?, &verify)?;
/// assert!(matches!(&install.outcome, ProviderOutcome::Code { code } if code.expose() == "4724.demo-code"));
/// assert_eq!(serde_json::to_value(&install.outcome)?, serde_json::json!({"type": "code"}));
///
/// // Microsoft: an admin consent for a tenant, as claimed.
/// let query = format!("admin_consent=True&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47&state={}", state_for("msteams")?);
/// let consent = core.verify_callback(&CallbackParams::parse(&query)?, &verify)?;
/// assert_eq!(
///     serde_json::to_value(&consent.outcome)?,
///     serde_json::json!({"type": "adminConsent", "unverifiedTenant": "72f988bf-86f1-41af-91ab-2d7cd011db47", "scope": null})
/// );
///
/// // A code on an admin-consent callback is no outcome at all.
/// let query = format!("admin_consent=True&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47&code=x&state={}", state_for("msteams")?);
/// let refused = core.verify_callback(&CallbackParams::parse(&query)?, &verify).unwrap_err();
/// assert!(matches!(refused, CallbackError::Conflicting(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderOutcome<'a> {
    /// A code to exchange (Slack install or sign-in, Microsoft delegated sign-in).
    Code {
        /// The code (single-use, short-lived), borrowed from the query.
        code: AuthorizationCode<'a>,
    },
    /// Microsoft admin consent was granted for a tenant.
    AdminConsent {
        /// The tenant as claimed by the callback.
        tenant: UnverifiedTenant,
        /// The `scope` parameter, when sent.
        scope: Option<String>,
    },
}

/// `{"type": "code"}` (the code itself is never serialized: it is a
/// credential until exchanged) or `{"type": "adminConsent",
/// "unverifiedTenant": ..., "scope": ...}`.
impl serde::Serialize for ProviderOutcome<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        match self {
            ProviderOutcome::Code { .. } => m.serialize_entry("type", "code")?,
            ProviderOutcome::AdminConsent { tenant, scope } => {
                m.serialize_entry("type", "adminConsent")?;
                m.serialize_entry("unverifiedTenant", tenant.claimed())?;
                m.serialize_entry("scope", scope)?;
            }
        }
        m.end()
    }
}

impl ProviderOutcome<'_> {
    /// The same outcome, owning its code.
    pub fn into_owned(self) -> ProviderOutcome<'static> {
        match self {
            ProviderOutcome::Code { code } => ProviderOutcome::Code {
                code: code.into_owned(),
            },
            ProviderOutcome::AdminConsent { tenant, scope } => {
                ProviderOutcome::AdminConsent { tenant, scope }
            }
        }
    }
}

/// The two flows a callback's parameters mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// A code on a Microsoft admin-consent callback.
    #[error("a code on an admin-consent callback")]
    CodeOnAdminConsent,
    /// `admin_consent` or `tenant` on a sign-in callback.
    #[error("admin_consent on a sign-in callback")]
    AdminConsentOnSignIn,
    /// Microsoft's admin-consent parameters on a Slack callback.
    #[error("Microsoft admin-consent parameters on a Slack callback")]
    MicrosoftOnSlack,
}

/// Why a callback gives nothing to act on. Every variant is a refusal.
///
/// Answer the browser with [`CallbackError::to_json`]; log the variant.
///
/// ```
/// # use channel_connect::*;
/// # use time::{Duration, OffsetDateTime};
/// # let teams = MsTeams::new(
/// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
/// #     Secret::new("teams-client-secret"),
/// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// # );
/// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
/// #     .integration(Integration::new("msteams", teams))
/// #     .build()?;
/// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
/// # let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"msteams","context":{"tenant":"org-acme"}}"#)?;
/// # let issued = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?;
/// # let state = issued.state().unwrap();
/// let verify = |query: &str| -> Result<VerifiedCallback<'static>, CallbackError> {
///     let params = CallbackParams::parse(query)?;
///     Ok(core.verify_callback(&params, &VerifyParams::at(now + Duration::seconds(30)))?.into_owned())
/// };
/// assert!(verify(&format!("admin_consent=True&tenant=72f988bf-86f1-41af-91ab-2d7cd011db47&state={state}")).is_ok());
///
/// // The admin declined; the description comes back as plain text, for logs.
/// let declined = verify(&format!(
///     "error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent+to+access+the+app.%0D%0ATrace+ID%3A+5a1b&state={state}"
/// ))
/// .unwrap_err();
/// let CallbackError::Denied { description, .. } = &declined else { panic!("{declined:?}") };
/// assert_eq!(description.as_deref(), Some("AADSTS65004: User declined to consent to access the app. Trace ID: 5a1b"));
/// // A personal account's tenant has no organization to connect.
/// let consumer = format!("admin_consent=True&tenant={}&state={state}", channel_connect::provider::msteams::CONSUMER_TENANT);
/// assert_eq!(verify(&consumer).unwrap_err(), CallbackError::TenantNotAllowed);
/// // Neither a code nor a consent.
/// assert_eq!(verify(&format!("state={state}")).unwrap_err(), CallbackError::MissingParameters);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The state is missing, forged, expired or otherwise refused.
    #[error(transparent)]
    State(#[from] StateError),
    /// The query is larger than [`MAX_CALLBACK_BYTES`].
    #[error("callback query is larger than 8 KiB")]
    TooLarge,
    /// A known parameter appears twice (an attack, not a choice).
    #[error("callback parameter `{0}` appears more than once")]
    DuplicateParameter(&'static str),
    /// A parameter is not UTF-8 once decoded.
    #[error("callback parameter `{0}` is not valid UTF-8")]
    Encoding(&'static str),
    /// A parameter has a shape the provider never sends.
    #[error("callback parameter `{0}` is malformed")]
    Malformed(&'static str),
    /// The callback names the Microsoft consumer tenant, which can grant no
    /// admin consent.
    #[error("the consumer tenant cannot connect Teams")]
    TenantNotAllowed,
    /// The callback names another workspace than the one the state is
    /// restricted to.
    #[error("the callback names another workspace than the state expects")]
    WorkspaceMismatch,
    /// No state: an install started outside this service (Slack App
    /// Directory, org-wide install) or a state-less error callback. Never a
    /// success; answered like every state refusal (Novu's message), the
    /// variant telling logs why.
    #[error("Invalid OAuth state parameter")]
    Unsolicited {
        /// The callback carried a code.
        has_code: bool,
        /// The provider's `error`, when any (bounded as in [`CallbackError::Provider`]).
        error: Option<String>,
    },
    /// The user (or admin) declined.
    #[error("the authorization was declined ({error})")]
    Denied {
        /// The provider's `error` (`access_denied`).
        error: String,
        /// Its `error_description` as plain text (see [`CallbackError::Provider`]).
        description: Option<String>,
    },
    /// Any other provider error.
    #[error("the provider answered with an error ({error})")]
    Provider {
        /// The provider's `error`: 1 to 64 characters of `[a-z0-9_]`, else
        /// `unrecognized` (it came from the query string).
        error: String,
        /// Its `error_description` as plain text: markup and control
        /// characters removed, at most 256 bytes. For logs.
        description: Option<String>,
    },
    /// Neither a code nor an admin-consent pair.
    #[error("Missing required OAuth parameters: code or tenant")]
    MissingParameters,
    /// Parameters of two different flows together (an admin-consent callback
    /// with a code, a sign-in callback with `admin_consent`).
    #[error("callback mixes parameters of two flows: {0}")]
    Conflicting(Conflict),
}

impl CallbackError {
    /// HTTP status to answer the browser with (400 for all).
    ///
    /// ```
    /// use channel_connect::{CallbackError, CallbackParams};
    ///
    /// let duplicated = CallbackParams::parse("code=a&code=b").unwrap_err();
    /// assert_eq!(duplicated.status(), 400);
    /// // A refusal of the user's own choice is no server error either.
    /// let declined = CallbackError::Denied { error: "access_denied".into(), description: None };
    /// assert_eq!(declined.status(), 400);
    /// ```
    pub fn status(&self) -> u16 {
        400
    }

    /// `{"statusCode": 400, "message": "..."}`, the shape of every error body.
    ///
    /// ```
    /// use channel_connect::{CallbackError, CallbackParams};
    /// use serde_json::json;
    ///
    /// let refused = CallbackParams::parse("code=4724.demo-code&state=AQEB&state=AQEC").unwrap_err();
    /// assert_eq!(
    ///     refused.to_json(),
    ///     json!({"statusCode": 400, "message": "callback parameter `state` appears more than once"})
    /// );
    ///
    /// // A state-less callback (an App Directory install) answers Novu's state message.
    /// let unsolicited = CallbackError::Unsolicited { has_code: true, error: None };
    /// assert_eq!(unsolicited.to_json(), json!({"statusCode": 400, "message": "Invalid OAuth state parameter"}));
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        text::error_body(self.status(), &self.to_string())
    }

    /// Builds `Denied` for `access_denied`, else `Provider`, from the
    /// query's text made safe to show.
    pub(crate) fn from_provider(error: &str, description: Option<&str>) -> Self {
        let error = text::error_code(Some(error));
        let description = description.and_then(text::description);
        if error == "access_denied" {
            CallbackError::Denied { error, description }
        } else {
            CallbackError::Provider { error, description }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every delimiter at every offset of inputs across the block edges,
    /// among its neighbours in the byte order and bytes a borrow could
    /// confuse: the same index as a plain scan.
    #[test]
    fn next_delimiter_matches_a_plain_scan() {
        let plain = |b: &[u8], from: usize| {
            (from..b.len())
                .find(|&i| matches!(b[i], b'&' | b'=' | b'%' | b'+' | b'#'))
                .unwrap_or(b.len())
        };
        let fillers = [
            b'A', b'"', b'$', b'\'', b'*', b',', b'<', b'>', 0x00, 0x01, 0xA5, 0xFF,
        ];
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 215] {
            for filler in fillers {
                let base = vec![filler; len];
                assert_eq!(next_delimiter(&base, 0), plain(&base, 0));
                for at in 0..len {
                    for d in [b'&', b'=', b'%', b'+', b'#'] {
                        let mut b = base.clone();
                        b[at] = d;
                        if at + 1 < len {
                            b[at + 1] = d ^ 1; // a neighbour one bit away
                        }
                        for from in [0, at.saturating_sub(1), at, at + 1] {
                            assert_eq!(
                                next_delimiter(&b, from),
                                plain(&b, from),
                                "{len} {filler} {at} {d} {from}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn parses_urls_paths_and_queries() {
        for input in [
            "https://api.example.com/cb?code=a%2Bb+c&state=xyz&foo=1#frag",
            "/cb?code=a%2Bb+c&state=xyz&foo=1",
            "?code=a%2Bb+c&state=xyz",
            "code=a%2Bb+c&state=xyz",
        ] {
            let p = CallbackParams::parse(input).unwrap();
            assert_eq!(p.code.as_deref(), Some("a+b c"), "{input}");
            assert_eq!(p.state.as_deref(), Some("xyz"));
            assert!(matches!(p.state, Some(Cow::Borrowed(_))));
        }
        assert_eq!(
            CallbackParams::parse("https://x.test/cb").unwrap(),
            CallbackParams::default()
        );
    }

    #[test]
    fn duplicates_size_and_encoding() {
        assert_eq!(
            CallbackParams::parse("state=a&state=b").unwrap_err(),
            CallbackError::DuplicateParameter("state")
        );
        assert!(CallbackParams::parse("x=1&x=2").is_ok());
        assert_eq!(
            CallbackParams::parse(&"a".repeat(MAX_CALLBACK_BYTES + 1)).unwrap_err(),
            CallbackError::TooLarge
        );
        assert_eq!(
            CallbackParams::parse("code=%ff").unwrap_err(),
            CallbackError::Encoding("code")
        );
        assert_eq!(
            CallbackParams::parse("code=%zz%4").unwrap().code.as_deref(),
            Some("%zz%4")
        );
    }

    #[test]
    fn debug_hides_the_code() {
        let p = CallbackParams::parse("code=xoxcode-secret").unwrap();
        assert!(!format!("{p:?}").contains("xoxcode-secret"));
    }

    #[test]
    fn encoded_names_are_matched_decoded() {
        let p = CallbackParams::parse("%73tate=a&c%6Fde=b").unwrap();
        assert_eq!((p.state.as_deref(), p.code.as_deref()), (Some("a"), Some("b")));
        for q in ["state=a&%73tate=b", "code=x&%63ode=y", "%73tate=a&st%61te=b"] {
            assert!(matches!(
                CallbackParams::parse(q),
                Err(CallbackError::DuplicateParameter(_))
            ));
        }
        assert_eq!(CallbackParams::parse("%ff=1").unwrap(), CallbackParams::default());
    }

    #[test]
    fn provider_text_is_made_safe() {
        let e = CallbackError::from_provider("<img src=x>", Some("<script>x</script>\r\nbad"));
        let CallbackError::Provider { error, description } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(error, "unrecognized");
        assert!(!description.as_deref().unwrap().contains('<'));
        assert!(!e.to_string().contains('<'));
    }
}
