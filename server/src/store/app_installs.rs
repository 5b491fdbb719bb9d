//! The Teams app's installation for each linked Teams user, as the
//! endpoints keep it: `pending` until installed (retried with a growing
//! pause), then `installed` (by this service: removed with its
//! connection), `already_installed` (the user had it: left alone) or
//! `failed` (given up; a new link tries again). An attempt claims its row
//! first (a conditional update every instance sees), so two instances do
//! not install for one user at once.

use super::error::StoreFuture;

/// Not tried yet, or tried and to be tried again.
pub const PENDING: &str = "pending";
/// Installed by this service.
pub const INSTALLED: &str = "installed";
/// The user had the app already: not this service's to remove.
pub const ALREADY_INSTALLED: &str = "already_installed";
/// Given up after repeated failures.
pub const FAILED: &str = "failed";

/// An installation due: the endpoint and where to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueInstall {
    /// The environment.
    pub env: String,
    /// The `ms_teams_user` endpoint's identifier.
    pub endpoint: String,
    /// Its integration (the Teams app).
    pub integration: String,
    /// The user's object id.
    pub user_id: String,
    /// The user's tenant.
    pub tenant_id: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When it became due (the claim's check).
    pub due_at: i64,
}

/// The Teams app's installations for linked users.
pub trait AppInstalls: Send + Sync {
    /// Up to `limit` installations due at `now`: the longest waiting first,
    /// or (`newest`) those just made due first (a callback's own).
    fn due_installs<'a>(&'a self, now: i64, limit: i64, newest: bool) -> StoreFuture<'a, Vec<DueInstall>>;

    /// Claims a due installation until `until`: true for one caller only
    /// (the row is still pending and due as `due` saw it).
    fn claim_install<'a>(&'a self, due: &'a DueInstall, until: i64) -> StoreFuture<'a, bool>;

    /// Records an attempt's result: `status`, the attempts so far, and when
    /// to try again (pending only); only while the attempt's claim (until
    /// `claimed`) still holds the row.
    fn settle_install<'a>(
        &'a self,
        due: &'a DueInstall,
        claimed: i64,
        status: &'a str,
        next: Option<i64>,
    ) -> StoreFuture<'a, ()>;
}
