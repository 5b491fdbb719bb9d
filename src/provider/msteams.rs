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
}

impl MsTeams {
    /// An application with its client id, client secret and redirect URI;
    /// the tenant segment is `organizations`.
    pub fn new(client_id: ClientId, client_secret: Secret, redirect_uri: RedirectUri) -> Self {
        MsTeams {
            client_id,
            client_secret,
            redirect_uri,
            tenant: Tenant::organizations(),
        }
    }

    /// Uses another tenant segment.
    pub fn with_tenant(mut self, tenant: Tenant) -> Self {
        self.tenant = tenant;
        self
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
        out.push_str(MICROSOFT_LOGIN);
        out.push('/');
        out.push_str(self.tenant.as_str());
        match request.purpose {
            Purpose::Connect => {
                out.push_str("/v2.0/adminconsent");
                push_param(out, '?', "client_id", self.client_id.as_str());
                push_param(out, '&', "redirect_uri", self.redirect_uri.as_str());
                push_param(out, '&', "scope", GRAPH_DEFAULT_SCOPE);
                push_param(out, '&', "state", request.state);
            }
            Purpose::LinkUser => {
                out.push_str("/oauth2/v2.0/authorize");
                push_param(out, '?', "client_id", self.client_id.as_str());
                push_param(out, '&', "response_type", "code");
                push_param(out, '&', "redirect_uri", self.redirect_uri.as_str());
                push_param(out, '&', "response_mode", "query");
                push_param(out, '&', "scope", SIGN_IN_SCOPE);
                push_param(out, '&', "state", request.state);
                if let Some(challenge) = request.pkce_challenge {
                    push_param(out, '&', "code_challenge", challenge);
                    push_param(out, '&', "code_challenge_method", "S256");
                }
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
