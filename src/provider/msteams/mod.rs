//! Microsoft Teams through the Microsoft identity platform: tenant-wide
//! admin consent
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-admin-consent>),
//! then a delegated OpenID Connect sign-in with PKCE
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow>)
//! that proves the tenant and may link the user. The token endpoint is in
//! [`token`]; Microsoft Graph's Teams app installation in [`graph`].
//!
//! (Most of this file's length is the runnable examples in its doc comments;
//! the code, tests included, is about 400 lines.)

use std::borrow::Cow;

use time::OffsetDateTime;

use crate::callback::{CallbackError, CallbackParams, Conflict, ProviderOutcome, UnverifiedTenant};
use crate::config::{BaseUrl, ClientId, ConfigError, RedirectUri};
use crate::encode::push_param;
use crate::exchange::{Exchange, ExchangeError, FlowMismatch};
use crate::http::{HttpRequest, HttpResponse};
use crate::provider::{AuthorizeRequest, Provider};
use crate::records::StoredRecords;
use crate::request::{RequestError, WorkspaceRefusal};
use crate::secret::{AuthorizationCode, ClientSecret};
use crate::state::{Purpose, VerifiedState};

pub mod graph;
pub mod token;

/// Microsoft's global authority (login host).
pub const MICROSOFT_LOGIN: &str = "https://login.microsoftonline.com";
/// Microsoft Graph, global service.
pub const GRAPH: &str = "https://graph.microsoft.com";
/// Authority of Microsoft's US Government cloud.
pub const US_GOVERNMENT_LOGIN: &str = "https://login.microsoftonline.us";
/// Graph of Microsoft's US Government cloud.
pub const US_GOVERNMENT_GRAPH: &str = "https://graph.microsoft.us";
/// Authority of Microsoft Azure operated by 21Vianet (China).
pub const CHINA_LOGIN: &str = "https://login.chinacloudapi.cn";
/// Graph of Microsoft Azure operated by 21Vianet (China).
pub const CHINA_GRAPH: &str = "https://microsoftgraph.chinacloudapi.cn";
/// Scope of the delegated sign-in that identifies the user (global Graph).
pub const SIGN_IN_SCOPE: &str = "openid profile User.Read";

/// The tenant segment of Microsoft URLs: `organizations`, a tenant GUID or a
/// verified domain. `common`, `consumers` and the consumer tenant's GUID are
/// refused (admin consent needs a work or school tenant).
///
/// ```
/// use channel_connect::{ConfigError, Tenant};
///
/// assert_eq!(Tenant::new("72F988BF-86F1-41AF-91AB-2D7CD011DB47")?.as_str(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
/// assert_eq!(Tenant::new("contoso.onmicrosoft.com")?.as_str(), "contoso.onmicrosoft.com");
/// assert_eq!(Tenant::organizations().as_str(), "organizations");
/// assert!(matches!(Tenant::new("consumers"), Err(ConfigError::TenantNotAllowed(_))));
/// # Ok::<(), ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant(String);

impl Tenant {
    /// `organizations`: any work or school tenant. The default of
    /// [`MsTeams::new`]: a multi-tenant app, consented to by each customer.
    ///
    /// ```
    /// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret, Tenant};
    ///
    /// # let app = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// assert_eq!(app.tenant(), &Tenant::organizations());
    /// # Ok::<(), channel_connect::ConfigError>(())
    /// ```
    pub fn organizations() -> Self {
        Tenant("organizations".into())
    }

    /// Checks a tenant segment; GUIDs and domains are lower-cased.
    ///
    /// ```
    /// use channel_connect::{ConfigError, Tenant};
    ///
    /// assert!(Tenant::new("72f988bf-86f1-41af-91ab-2d7cd011db47").is_ok());
    /// // `common` admits personal accounts, which cannot consent for an organization.
    /// assert_eq!(Tenant::new("common"), Err(ConfigError::TenantNotAllowed("common".into())));
    /// // Neither a GUID, a domain nor `organizations`.
    /// assert_eq!(Tenant::new("Contoso Ltd"), Err(ConfigError::Tenant));
    /// assert_eq!(Tenant::new("https://login.microsoftonline.com/contoso.com"), Err(ConfigError::Tenant));
    /// ```
    pub fn new(value: &str) -> Result<Self, ConfigError> {
        let lower = value.to_ascii_lowercase();
        match lower.as_str() {
            "organizations" => return Ok(Tenant(lower)),
            "common" | "consumers" => return Err(ConfigError::TenantNotAllowed(value.to_owned())),
            _ if is_consumer_tenant(&lower) => return Err(ConfigError::TenantNotAllowed(value.to_owned())),
            _ => {}
        }
        if is_guid(&lower) || is_domain(&lower) {
            Ok(Tenant(lower))
        } else {
            Err(ConfigError::Tenant)
        }
    }

    /// The segment.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A DNS name with at least two labels of `[a-z0-9-]`, none starting or ending with `-`.
pub(crate) fn is_domain(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Directory role template ids of the roles that can grant tenant-wide
/// admin consent (Microsoft Entra built-in roles): Global Administrator,
/// Privileged Role Administrator, Cloud Application Administrator,
/// Application Administrator. An `id_token` lists the signer's roles in
/// `wids` when the app registration asks for them.
pub const ADMIN_ROLE_TEMPLATE_IDS: [&str; 4] = [
    "62e90394-69f5-4237-9190-012177145e10",
    "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "158c047a-c907-4556-b7ef-446551a6b5f7",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
];

/// The Microsoft consumer tenant (personal accounts): it can grant no admin
/// consent and has no Teams organization, so it is refused wherever a tenant
/// is expected.
pub const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// True for the consumer tenant, in any case.
pub(crate) fn is_consumer_tenant(s: &str) -> bool {
    s.eq_ignore_ascii_case(CONSUMER_TENANT)
}

/// True for `8-4-4-4-12` hex digits.
pub(crate) fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A tenant as an admin-consent callback claims it (the type is the
/// callback's; its rules are Microsoft's, so they live here).
impl UnverifiedTenant {
    /// Accepts a tenant GUID (the only shape Microsoft sends here), except
    /// the consumer tenant, which has no organization to consent for.
    ///
    /// ```
    /// use channel_connect::UnverifiedTenant;
    ///
    /// let tenant = UnverifiedTenant::new("72F988BF-86F1-41AF-91AB-2D7CD011DB47").unwrap();
    /// assert_eq!(tenant.claimed(), "72f988bf-86f1-41af-91ab-2d7cd011db47"); // lower case
    ///
    /// // A domain name is a valid tenant elsewhere, never in this callback.
    /// assert_eq!(UnverifiedTenant::new("contoso.onmicrosoft.com"), None);
    /// assert_eq!(UnverifiedTenant::new("72f988bf-86f1-41af-91ab-2d7cd011db4"), None);
    /// ```
    pub fn new(value: &str) -> Option<Self> {
        (is_guid(value) && !is_consumer_tenant(value)).then(|| UnverifiedTenant(value.to_ascii_lowercase()))
    }
}

/// Scope of the connect-proof sign-in when it links no user.
pub const PROOF_SCOPE: &str = "openid profile";

/// A Microsoft Entra application used for Teams.
///
/// A Teams connect takes two redirects:
///
/// 1. the admin consent (`/{tenant}/v2.0/adminconsent`); its callback names a
///    tenant that anyone could have written, so it yields no connection;
/// 2. a delegated OpenID Connect sign-in with PKCE in that tenant
///    (`/{tenant-guid}/oauth2/v2.0/authorize`, `openid profile`, plus
///    `User.Read` when the subscriber is linked too), whose state seals the
///    claimed tenant. Its token response yields the connection only when the
///    `id_token`'s `tid` is that tenant.
///
/// [`MsTeams::require_admin_role`] also asks that the signer holds a role
/// that can grant admin consent. National clouds take
/// [`MsTeams::with_authority`] and [`MsTeams::with_graph`].
///
/// ```
/// use channel_connect::{BaseUrl, ClientId, MsTeams, RedirectUri, Secret};
/// use channel_connect::provider::msteams::{US_GOVERNMENT_GRAPH, US_GOVERNMENT_LOGIN};
///
/// let app = MsTeams::new(
///     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
///     Secret::new("teams-client-secret"),
///     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
/// )
/// .with_authority(BaseUrl::new(US_GOVERNMENT_LOGIN)?)
/// .with_graph(BaseUrl::new(US_GOVERNMENT_GRAPH)?)
/// .require_admin_role();
/// assert_eq!(app.graph_default_scope(), "https://graph.microsoft.us/.default");
/// # Ok::<(), channel_connect::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct MsTeams {
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect_uri: RedirectUri,
    tenant: Tenant,
    authority: BaseUrl,
    graph: BaseUrl,
    require_admin_role: bool,
    // What follows `/{tenant}` up to `state=`, encoded once per configuration
    // rather than on every request.
    consent_suffix: String,
    sign_in_suffix: String,
    proof_suffix: String,
    /// The whole admin-consent URL up to `state=` on the configured tenant
    /// segment (every connect that names no workspace): one copy per URL.
    consent_prefix: String,
}

/// What follows the state in a sign-in URL with PKCE, around the challenge.
const CHALLENGE_PARAM: &str = "&code_challenge=";
const CHALLENGE_METHOD_PARAM: &str = "&code_challenge_method=S256";

impl MsTeams {
    /// An application with its client id, client secret and redirect URI;
    /// the tenant segment is `organizations`, the cloud the global one.
    ///
    /// The values come from the app registration in the Microsoft Entra
    /// admin center: "Application (client) ID", a client secret
    /// (Certificates & secrets), and a Web redirect URI (Authentication).
    ///
    /// ```
    /// use channel_connect::*;
    /// use time::OffsetDateTime;
    ///
    /// let teams = MsTeams::new(
    ///     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    ///     Secret::new("teams-client-secret"),
    ///     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// );
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("msteams", teams))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"msteams","context":{"tenant":"org-acme"}}"#)?;
    /// let url = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?.url;
    /// assert!(url.starts_with(
    ///     "https://login.microsoftonline.com/organizations/v2.0/adminconsent?client_id=6731de76-14a6-49ae-97bc-6eba6914391e&redirect_uri="
    /// ));
    /// assert!(url.contains("&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&state="));
    ///
    /// // A Teams workspace is a tenant GUID: a Slack team id is refused.
    /// let err = core.connect_url(&body, &IssueParams::new(now, &Entropy([7; 32])).with_workspace("T9TK3CUKW")).unwrap_err();
    /// assert_eq!(err.status(), 400);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        client_id: ClientId,
        client_secret: impl Into<ClientSecret>,
        redirect_uri: RedirectUri,
    ) -> Self {
        let mut app = MsTeams {
            client_id,
            client_secret: client_secret.into(),
            redirect_uri,
            tenant: Tenant::organizations(),
            authority: BaseUrl::from_static(MICROSOFT_LOGIN),
            graph: BaseUrl::from_static(GRAPH),
            require_admin_role: false,
            consent_suffix: String::new(),
            sign_in_suffix: String::new(),
            proof_suffix: String::new(),
            consent_prefix: String::new(),
        };
        app.write_suffixes();
        app
    }

    fn write_suffixes(&mut self) {
        let (client, redirect) = (self.client_id.as_str(), self.redirect_uri.as_str());
        let mut consent = "/v2.0/adminconsent".to_owned();
        push_param(&mut consent, '?', "client_id", client);
        push_param(&mut consent, '&', "redirect_uri", redirect);
        push_param(&mut consent, '&', "scope", &self.graph_default_scope());
        consent.push_str("&state=");
        let sign_in = |scope: &str| {
            let mut s = "/oauth2/v2.0/authorize".to_owned();
            push_param(&mut s, '?', "client_id", client);
            push_param(&mut s, '&', "response_type", "code");
            push_param(&mut s, '&', "redirect_uri", redirect);
            push_param(&mut s, '&', "response_mode", "query");
            push_param(&mut s, '&', "scope", scope);
            s.push_str("&state=");
            s
        };
        self.sign_in_suffix = sign_in(&self.sign_in_scope(true));
        self.proof_suffix = sign_in(&self.sign_in_scope(false));
        self.consent_prefix = format!("{}/{}{consent}", self.authority.as_str(), self.tenant.as_str());
        self.consent_suffix = consent;
    }

    /// Uses another tenant segment. A tenant GUID also restricts every
    /// state to that tenant (it is sealed as the workspace).
    ///
    /// ```
    /// use channel_connect::*;
    /// use time::OffsetDateTime;
    ///
    /// # let app = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// // A single-tenant deployment: only Contoso.
    /// let contoso = app.with_tenant(Tenant::new("72f988bf-86f1-41af-91ab-2d7cd011db47")?);
    /// # let core = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5f6", "6615c4b2e0f3a1b2c3d4e5f7", KeyRing::new(SigningKey::new(KeyId(1), &[0x5a; 32])?))
    /// #     .integration(Integration::new("msteams", contoso))
    /// #     .build()?;
    /// # let now = OffsetDateTime::from_unix_timestamp(1_767_225_600)?;
    /// let body = LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"subscriber-123"}"#)?;
    /// let url = core.link_user_url(&body, &IssueParams::new(now, &Entropy([7; 32])))?.url;
    /// assert!(url.starts_with("https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/authorize?"));
    ///
    /// // Linking the user to a connection of another tenant contradicts the restriction.
    /// let other = IssueParams::new(now, &Entropy([7; 32])).with_workspace("f8cdef31-a31e-4b4a-93e4-5f571e91255a");
    /// assert!(matches!(core.link_user_url(&body, &other), Err(RequestError::InvalidWorkspace(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_tenant(mut self, tenant: Tenant) -> Self {
        self.tenant = tenant;
        self.write_suffixes();
        self
    }

    /// Uses another authority (login host): a national cloud
    /// ([`US_GOVERNMENT_LOGIN`], [`CHINA_LOGIN`]) or a local stand-in. The
    /// `id_token` issuer is then checked against it.
    ///
    /// ```
    /// use channel_connect::provider::msteams::{US_GOVERNMENT_LOGIN, token};
    /// use channel_connect::{BaseUrl, ClientId, MsTeams, RedirectUri, Secret, Tenant};
    ///
    /// # let app = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// let gov = app.with_authority(BaseUrl::new(US_GOVERNMENT_LOGIN)?);
    /// let tenant = Tenant::new("72f988bf-86f1-41af-91ab-2d7cd011db47")?;
    /// assert_eq!(
    ///     token::app_only_token_request(&gov, &tenant).url(),
    ///     "https://login.microsoftonline.us/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token"
    /// );
    /// # Ok::<(), channel_connect::ConfigError>(())
    /// ```
    pub fn with_authority(mut self, authority: BaseUrl) -> Self {
        self.authority = authority;
        self.write_suffixes();
        self
    }

    /// Uses another Microsoft Graph ([`US_GOVERNMENT_GRAPH`],
    /// [`CHINA_GRAPH`], a stand-in): the admin-consent and app-only scopes
    /// (`{graph}/.default`), the sign-in's `User.Read`, and the Teams app
    /// installation calls follow it.
    ///
    /// ```
    /// use channel_connect::provider::msteams::CHINA_GRAPH;
    /// use channel_connect::{BaseUrl, ClientId, MsTeams, RedirectUri, Secret};
    ///
    /// # let app = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// let china = app.with_graph(BaseUrl::new(CHINA_GRAPH)?);
    /// assert_eq!(china.graph_default_scope(), "https://microsoftgraph.chinacloudapi.cn/.default");
    /// assert_eq!(china.sign_in_scope(true), "openid profile https://microsoftgraph.chinacloudapi.cn/User.Read");
    /// # Ok::<(), channel_connect::ConfigError>(())
    /// ```
    pub fn with_graph(mut self, graph: BaseUrl) -> Self {
        self.graph = graph;
        self.write_suffixes();
        self
    }

    /// Requires that whoever signs in to prove a connect's tenant holds a
    /// role that can grant admin consent ([`ADMIN_ROLE_TEMPLATE_IDS`] in the
    /// `id_token`'s `wids`).
    ///
    /// Without it, any member of the tenant, a guest account included, can
    /// complete the proof and so attach the tenant to the context they
    /// started the flow with. With it, only an administrator can; but
    /// Microsoft sends `wids` only when the app registration's manifest asks
    /// for it (`groupMembershipClaims` `DirectoryRole` or `All`), and a
    /// proof without `wids` is then refused.
    ///
    /// [`token::check_admin_role`] shows the check.
    ///
    /// ```
    /// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret};
    ///
    /// # let app = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// assert!(!app.requires_admin_role()); // any member of the tenant can prove it
    /// let strict = app.require_admin_role();
    /// assert!(strict.requires_admin_role());
    /// # Ok::<(), channel_connect::ConfigError>(())
    /// ```
    pub fn require_admin_role(mut self) -> Self {
        self.require_admin_role = true;
        self
    }

    /// True when [`MsTeams::require_admin_role`] is on.
    pub fn requires_admin_role(&self) -> bool {
        self.require_admin_role
    }

    /// The tenant segment.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The authority (login host).
    pub fn authority(&self) -> &BaseUrl {
        &self.authority
    }

    /// Microsoft Graph's base URL.
    pub fn graph(&self) -> &BaseUrl {
        &self.graph
    }

    /// `{graph}/.default`: the app's configured Graph permissions
    /// (Microsoft: "The /.default scope").
    ///
    /// ```
    /// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret};
    ///
    /// # let app = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// assert_eq!(app.graph_default_scope(), "https://graph.microsoft.com/.default");
    /// # Ok::<(), channel_connect::ConfigError>(())
    /// ```
    pub fn graph_default_scope(&self) -> String {
        format!("{}/.default", self.graph)
    }

    /// The delegated sign-in's scope: `openid profile`, plus `User.Read`
    /// when the user is linked (fully qualified off the global Graph).
    ///
    /// ```
    /// use channel_connect::{ClientId, MsTeams, RedirectUri, Secret};
    ///
    /// # let app = MsTeams::new(
    /// #     ClientId::new("6731de76-14a6-49ae-97bc-6eba6914391e")?,
    /// #     Secret::new("teams-client-secret"),
    /// #     RedirectUri::new("https://api.example.com/v1/integrations/chat/oauth/callback")?,
    /// # );
    /// assert_eq!(app.sign_in_scope(false), "openid profile"); // proves the tenant, reads nothing
    /// assert_eq!(app.sign_in_scope(true), "openid profile User.Read"); // also identifies the user
    /// # Ok::<(), channel_connect::ConfigError>(())
    /// ```
    pub fn sign_in_scope(&self, links_user: bool) -> String {
        match (links_user, self.graph.as_str() == GRAPH) {
            (false, _) => PROOF_SCOPE.to_owned(),
            (true, true) => SIGN_IN_SCOPE.to_owned(),
            (true, false) => format!("{PROOF_SCOPE} {}/User.Read", self.graph),
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The redirect URI.
    pub fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    /// The client secret, for token requests.
    pub fn client_secret(&self) -> &ClientSecret {
        &self.client_secret
    }

    /// The configured tenant when it names one tenant (a GUID).
    fn configured_tenant_id(&self) -> Option<&str> {
        is_guid(self.tenant.as_str()).then_some(self.tenant.as_str())
    }

    /// The tenant segment a state's sign-in runs in: its sealed workspace,
    /// else the configured segment.
    fn sign_in_tenant(&self, state: &VerifiedState) -> Result<Tenant, ExchangeError> {
        match state.workspace() {
            Some(w) => Tenant::new(w).map_err(|_| ExchangeError::WrongFlow(FlowMismatch::NoTenant)),
            None if state.purpose() == Purpose::ConnectProof => {
                Err(ExchangeError::WrongFlow(FlowMismatch::NoTenant))
            }
            None => Ok(self.tenant.clone()),
        }
    }

    /// The suffix after `/{tenant}` and the tenant segment of a request.
    fn url_parts<'r>(&'r self, request: &AuthorizeRequest<'r>) -> (&'r str, &'r str) {
        let tenant = request.workspace.unwrap_or(self.tenant.as_str());
        let suffix = match request.purpose {
            Purpose::Connect => &self.consent_suffix,
            Purpose::LinkUser => &self.sign_in_suffix,
            Purpose::ConnectProof if request.links_user => &self.sign_in_suffix,
            Purpose::ConnectProof => &self.proof_suffix,
        };
        (tenant, suffix)
    }
}

impl Provider for MsTeams {
    fn id(&self) -> &str {
        "msteams"
    }

    fn display_name(&self) -> &str {
        "MS Teams"
    }

    fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    fn restrict_workspace<'a>(
        &'a self,
        expected: Option<&'a str>,
    ) -> Result<Option<Cow<'a, str>>, RequestError> {
        let configured = self.configured_tenant_id();
        let Some(expected) = expected else {
            return Ok(configured.map(Cow::Borrowed));
        };
        if !is_guid(expected) || is_consumer_tenant(expected) {
            return Err(RequestError::InvalidWorkspace(WorkspaceRefusal::NotATenant));
        }
        if configured.is_some_and(|c| !c.eq_ignore_ascii_case(expected)) {
            return Err(RequestError::InvalidWorkspace(
                WorkspaceRefusal::OtherThanConfigured,
            ));
        }
        Ok(Some(Cow::Owned(expected.to_ascii_lowercase())))
    }

    fn uses_pkce(&self, purpose: Purpose) -> bool {
        purpose != Purpose::Connect
    }

    fn authorize_url(&self, request: &AuthorizeRequest<'_>, out: &mut String) {
        // Tenant segments (GUIDs, domains, `organizations`), the state and
        // the challenge are all unreserved characters: nothing to encode.
        if request.purpose == Purpose::Connect && request.workspace.is_none() {
            out.push_str(&self.consent_prefix);
        } else {
            let (tenant, suffix) = self.url_parts(request);
            out.push_str(self.authority.as_str());
            out.push('/');
            out.push_str(tenant);
            out.push_str(suffix);
        }
        out.push_str(request.state);
        if let (true, Some(challenge)) = (request.purpose != Purpose::Connect, request.pkce_challenge) {
            out.push_str(CHALLENGE_PARAM);
            out.push_str(challenge);
            out.push_str(CHALLENGE_METHOD_PARAM);
        }
    }

    fn authorize_url_len(&self, request: &AuthorizeRequest<'_>) -> usize {
        let (tenant, suffix) = self.url_parts(request);
        let pkce = match (request.purpose, request.pkce_challenge) {
            (Purpose::Connect, _) | (_, None) => 0,
            (_, Some(c)) => CHALLENGE_PARAM.len() + c.len() + CHALLENGE_METHOD_PARAM.len(),
        };
        self.authority.as_str().len() + 1 + tenant.len() + suffix.len() + request.state.len() + pkce
    }

    fn interpret<'q>(
        &self,
        state: &VerifiedState,
        params: &CallbackParams<'q>,
    ) -> Result<ProviderOutcome<'q>, CallbackError> {
        // `admin_consent=True` may come with an error: the error wins.
        if let Some(error) = &params.error {
            return Err(CallbackError::from_provider(
                error,
                params.error_description.as_deref(),
            ));
        }
        if state.purpose() != Purpose::Connect {
            if params.admin_consent.is_some() || params.tenant.is_some() {
                return Err(CallbackError::Conflicting(Conflict::AdminConsentOnSignIn));
            }
            return match &params.code {
                Some(code) if !code.is_empty() => Ok(ProviderOutcome::Code {
                    code: AuthorizationCode::new(code.clone()),
                }),
                _ => Err(CallbackError::MissingParameters),
            };
        }
        // A connect state expects the admin-consent callback only (SPEC.md
        // section 7): a code, even empty and without `admin_consent`, is
        // another flow's answer.
        if params.code.is_some() {
            return Err(CallbackError::Conflicting(Conflict::CodeOnAdminConsent));
        }
        // Microsoft writes `True`; a declined consent comes as `error`, so
        // any other value (`False` included) is no answer of its.
        match params.admin_consent.as_deref() {
            Some(consent) if consent.eq_ignore_ascii_case("true") => {}
            Some(_) => return Err(CallbackError::Malformed("admin_consent")),
            None => return Err(CallbackError::MissingParameters),
        }
        let Some(tenant) = params.tenant.as_deref() else {
            return Err(CallbackError::MissingParameters);
        };
        if is_consumer_tenant(tenant) {
            return Err(CallbackError::TenantNotAllowed);
        }
        let tenant = UnverifiedTenant::new(tenant).ok_or(CallbackError::Malformed("tenant"))?;
        if state
            .workspace()
            .is_some_and(|w| !w.eq_ignore_ascii_case(tenant.claimed()))
        {
            return Err(CallbackError::WorkspaceMismatch);
        }
        Ok(ProviderOutcome::AdminConsent {
            tenant,
            scope: params.scope.as_deref().map(str::to_owned),
        })
    }

    fn proof_workspace<'o>(
        &self,
        state: &VerifiedState,
        outcome: &'o ProviderOutcome<'_>,
    ) -> Option<&'o str> {
        match outcome {
            ProviderOutcome::AdminConsent { tenant, .. } if state.purpose() == Purpose::Connect => {
                Some(tenant.claimed())
            }
            _ => None,
        }
    }

    fn proof_workspace_len(&self) -> Option<usize> {
        Some(36)
    }

    fn token_request(&self, exchange: &Exchange<'_>) -> Result<Option<HttpRequest>, ExchangeError> {
        let state = exchange.state;
        if state.purpose() == Purpose::Connect {
            // An admin consent proves nothing: its proof sign-in follows.
            return Ok(None);
        }
        let code = exchange
            .code()
            .ok_or(ExchangeError::WrongFlow(FlowMismatch::NoCode))?;
        let verifier = exchange
            .pkce_verifier
            .ok_or(ExchangeError::WrongFlow(FlowMismatch::NoPkceVerifier))?;
        let tenant = self.sign_in_tenant(state)?;
        let scope = self.sign_in_scope(state.purpose() == Purpose::LinkUser || state.links_user());
        Ok(Some(token::delegated_token_request(
            self, &tenant, &scope, code, verifier,
        )))
    }

    fn records(
        &self,
        exchange: &Exchange<'_>,
        response: &HttpResponse<'_>,
        now: OffsetDateTime,
    ) -> Result<StoredRecords, ExchangeError> {
        let state = exchange.state;
        if state.purpose() == Purpose::Connect {
            return Err(ExchangeError::WrongFlow(FlowMismatch::AdminConsentProvesNothing));
        }
        let tenant = self.sign_in_tenant(state)?;
        let sign_in = token::parse_delegated_response(self, response, &tenant, now)?;
        let proof = state.purpose() == Purpose::ConnectProof;
        if proof && self.require_admin_role {
            token::check_admin_role(&sign_in.claims)?;
        }
        let mut records = StoredRecords::default();
        if proof {
            records.connection = Some(token::connection_record(state, &sign_in)?);
        }
        if state.links_user() {
            records.endpoints.push(token::user_record(state, &sign_in)?);
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_must_be_an_organization_guid() {
        assert_eq!(
            UnverifiedTenant::new("72F988BF-86F1-41AF-91AB-2D7CD011DB47")
                .unwrap()
                .claimed(),
            "72f988bf-86f1-41af-91ab-2d7cd011db47"
        );
        assert!(UnverifiedTenant::new("contoso.com").is_none());
        assert!(UnverifiedTenant::new("9188040D-6C67-4C5B-B112-36A304B66DAD").is_none());
    }

    #[test]
    fn tenants() {
        assert_eq!(Tenant::new("Organizations").unwrap().as_str(), "organizations");
        assert!(Tenant::new("contoso.onmicrosoft.com").is_ok());
        assert!(Tenant::new("72f988bf-86f1-41af-91ab-2d7cd011db47").is_ok());
        assert!(matches!(
            Tenant::new("9188040D-6c67-4c5b-b112-36a304b66dad"),
            Err(ConfigError::TenantNotAllowed(_))
        ));
        assert!(matches!(
            Tenant::new("common"),
            Err(ConfigError::TenantNotAllowed(_))
        ));
        assert!(matches!(
            Tenant::new("consumers"),
            Err(ConfigError::TenantNotAllowed(_))
        ));
        assert_eq!(Tenant::new("not a tenant"), Err(ConfigError::Tenant));
        assert_eq!(Tenant::new("-bad.com"), Err(ConfigError::Tenant));
    }
}
