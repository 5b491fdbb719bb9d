//! Microsoft Teams through the Microsoft identity platform: tenant-wide
//! admin consent, then (for autoLinkUser) a delegated sign-in with PKCE.

use crate::callback::{CallbackError, CallbackParams, ProviderOutcome, UnverifiedTenant, is_guid};
use crate::config::{ClientId, ConfigError, RedirectUri};
use crate::encode::push_param;
use crate::provider::{AuthorizeRequest, Provider};
use crate::secret::Secret;
use crate::state::{Purpose, VerifiedState};

/// Microsoft's login host.
pub const MICROSOFT_LOGIN: &str = "https://login.microsoftonline.com";
/// Scope of admin consent: the app's pre-configured Graph permissions.
pub const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Scope of the delegated sign-in that identifies the user.
pub const SIGN_IN_SCOPE: &str = "openid profile User.Read";

/// The tenant segment of Microsoft URLs: `organizations`, a tenant GUID or a
/// verified domain. `common` and `consumers` are refused (admin consent needs
/// a work or school tenant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant(String);

impl Tenant {
    /// `organizations`: any work or school tenant.
    pub fn organizations() -> Self {
        Tenant("organizations".into())
    }

    /// Checks a tenant segment.
    pub fn new(value: &str) -> Result<Self, ConfigError> {
        let lower = value.to_ascii_lowercase();
        match lower.as_str() {
            "organizations" => return Ok(Tenant(lower)),
            "common" | "consumers" => return Err(ConfigError::TenantNotAllowed(value.to_owned())),
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

/// A Microsoft Entra application used for Teams.
#[derive(Clone, Debug)]
pub struct MsTeams {
    client_id: ClientId,
    client_secret: Secret,
    redirect_uri: RedirectUri,
    tenant: Tenant,
    // Both URLs up to `state=`, encoded once here rather than on every request.
    consent_prefix: String,
    sign_in_prefix: String,
}

/// What follows the state in a sign-in URL with PKCE, around the challenge.
const CHALLENGE_PARAM: &str = "&code_challenge=";
const CHALLENGE_METHOD_PARAM: &str = "&code_challenge_method=S256";

impl MsTeams {
    /// An application with its client id, client secret and redirect URI;
    /// the tenant segment is `organizations`.
    pub fn new(client_id: ClientId, client_secret: Secret, redirect_uri: RedirectUri) -> Self {
        let mut app = MsTeams {
            client_id,
            client_secret,
            redirect_uri,
            tenant: Tenant::organizations(),
            consent_prefix: String::new(),
            sign_in_prefix: String::new(),
        };
        app.write_prefixes();
        app
    }

    /// Uses another tenant segment.
    pub fn with_tenant(mut self, tenant: Tenant) -> Self {
        self.tenant = tenant;
        self.write_prefixes();
        self
    }

    fn write_prefixes(&mut self) {
        let base = format!("{MICROSOFT_LOGIN}/{}", self.tenant.as_str());
        let (client_id, redirect_uri) = (self.client_id.as_str(), self.redirect_uri.as_str());

        let mut c = base.clone() + "/v2.0/adminconsent";
        push_param(&mut c, '?', "client_id", client_id);
        push_param(&mut c, '&', "redirect_uri", redirect_uri);
        push_param(&mut c, '&', "scope", GRAPH_DEFAULT_SCOPE);
        c.push_str("&state=");
        self.consent_prefix = c;

        let mut s = base + "/oauth2/v2.0/authorize";
        push_param(&mut s, '?', "client_id", client_id);
        push_param(&mut s, '&', "response_type", "code");
        push_param(&mut s, '&', "redirect_uri", redirect_uri);
        push_param(&mut s, '&', "response_mode", "query");
        push_param(&mut s, '&', "scope", SIGN_IN_SCOPE);
        s.push_str("&state=");
        self.sign_in_prefix = s;
    }

    /// The tenant segment.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The client secret, for token requests.
    pub fn client_secret(&self) -> &Secret {
        &self.client_secret
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

    fn uses_pkce(&self, purpose: Purpose) -> bool {
        purpose == Purpose::LinkUser
    }

    fn authorize_url(&self, request: &AuthorizeRequest<'_>, out: &mut String) {
        // The state and the challenge are base64url: nothing to encode.
        match request.purpose {
            Purpose::Connect => {
                out.push_str(&self.consent_prefix);
                out.push_str(request.state);
            }
            Purpose::LinkUser => {
                out.push_str(&self.sign_in_prefix);
                out.push_str(request.state);
                if let Some(challenge) = request.pkce_challenge {
                    out.push_str(CHALLENGE_PARAM);
                    out.push_str(challenge);
                    out.push_str(CHALLENGE_METHOD_PARAM);
                }
            }
        }
    }

    fn authorize_url_len(&self, request: &AuthorizeRequest<'_>) -> usize {
        match request.purpose {
            Purpose::Connect => self.consent_prefix.len() + request.state.len(),
            Purpose::LinkUser => {
                let pkce = request.pkce_challenge.map_or(0, |c| {
                    CHALLENGE_PARAM.len() + c.len() + CHALLENGE_METHOD_PARAM.len()
                });
                self.sign_in_prefix.len() + request.state.len() + pkce
            }
        }
    }

    fn interpret(
        &self,
        purpose: Purpose,
        params: &CallbackParams<'_>,
    ) -> Result<ProviderOutcome, CallbackError> {
        // `admin_consent=True` may come with an error: the error wins.
        if let Some(error) = &params.error {
            return Err(CallbackError::from_provider(
                error,
                params.error_description.as_deref(),
            ));
        }
        match purpose {
            Purpose::Connect => {
                if params.code.is_some() {
                    return Err(CallbackError::Conflicting("a code on an admin-consent callback"));
                }
                match (params.admin_consent.as_deref(), params.tenant.as_deref()) {
                    (Some(consent), Some(tenant)) if consent.eq_ignore_ascii_case("true") => {
                        let tenant =
                            UnverifiedTenant::new(tenant).ok_or(CallbackError::Malformed("tenant"))?;
                        Ok(ProviderOutcome::AdminConsent {
                            tenant,
                            scope: params.scope.as_deref().map(str::to_owned),
                        })
                    }
                    (Some(consent), Some(_)) if !consent.eq_ignore_ascii_case("false") => {
                        Err(CallbackError::Malformed("admin_consent"))
                    }
                    _ => Err(CallbackError::MissingParameters),
                }
            }
            Purpose::LinkUser => {
                if params.admin_consent.is_some() {
                    return Err(CallbackError::Conflicting("admin_consent on a sign-in callback"));
                }
                match &params.code {
                    Some(code) if !code.is_empty() => Ok(ProviderOutcome::Code {
                        code: Secret::new(code.as_ref()),
                    }),
                    _ => Err(CallbackError::MissingParameters),
                }
            }
        }
    }

    fn follows_with_link_user(&self, state: &VerifiedState, outcome: &ProviderOutcome) -> bool {
        matches!(outcome, ProviderOutcome::AdminConsent { .. })
            && state.purpose() == Purpose::Connect
            && state.auto_link_user()
            && state.subscriber_id().is_some()
    }

    fn token_endpoint(&self) -> Option<crate::exchange::TokenEndpoint<'_>> {
        Some(crate::exchange::TokenEndpoint::Microsoft {
            client_secret: &self.client_secret,
            tenant: &self.tenant,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants() {
        assert_eq!(Tenant::new("Organizations").unwrap().as_str(), "organizations");
        assert!(Tenant::new("contoso.onmicrosoft.com").is_ok());
        assert!(Tenant::new("9188040d-6c67-4c5b-b112-36a304b66dad").is_ok());
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
