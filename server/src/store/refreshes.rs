//! Keeping a connection's tokens fresh: the lease that lets one refresher
//! at a time (across every instance sharing the store) spend a connection's
//! single-use refresh token, and the write that ends it.
//!
//! The lease is a pair of columns on the connection's row, taken by one
//! conditional `UPDATE`: the same statement on SQLite and PostgreSQL, so a
//! lease taken by one instance is seen by every other. It runs out on its
//! own (a refresher that died frees it), and the write that ends it stores
//! the new tokens only when the row still holds the refresh token that was
//! spent (a re-install meanwhile wins).

use channel_connect::records::{AuthRecord, ChannelConnectionRecord};
use channel_connect::secret::RefreshToken;

use super::error::StoreFuture;

/// A connection's tokens and what the store knows of their life.
#[derive(Debug)]
pub struct Tokens {
    /// The full record, tokens included.
    pub record: ChannelConnectionRecord,
    /// Why the connection must be connected again, when it must (a refresh
    /// token Slack refused, tokens revoked): its tokens do not work.
    pub reconnect: Option<String>,
    /// Until when another refresher holds the lease (Unix seconds), if one does.
    pub leased_until: Option<i64>,
    /// Whether this service obtained the tokens (an OAuth callback), not
    /// the API's caller: only those does it revoke.
    pub minted: bool,
}

/// What taking the lease found.
#[derive(Debug)]
pub enum Lease {
    /// Taken: the tokens as they are under it.
    Taken(Tokens),
    /// Another refresher holds it: the tokens as they are now.
    Held(Tokens),
}

/// How a lease ends.
#[derive(Clone, Debug)]
pub enum Renewal {
    /// New tokens, written only if the row still holds `spent`.
    Refreshed {
        /// The refresh token the refresh used.
        spent: RefreshToken,
        /// The new `auth` (access and refresh token in one write).
        auth: AuthRecord,
    },
    /// The refresh token was refused: the connection needs connecting
    /// again, for this reason (if the row still holds `spent`).
    Reconnect {
        /// The refresh token the refresh used.
        spent: RefreshToken,
        /// A short machine-readable reason (`invalid_refresh_token`).
        reason: String,
    },
    /// Nothing to do (another refresher was first): the lease is freed.
    Unchanged,
    /// Nothing learned (the provider could not be reached): the tokens stay
    /// as they are and the lease is kept until this time (Unix seconds), so
    /// neither the sweep nor a reader tries again before it.
    RetryAfter(i64),
}

/// Connections' token refreshes.
pub trait Refreshes: Send + Sync {
    /// A connection's tokens and their state; `None` when there is no such connection.
    fn tokens<'a>(&'a self, env: &'a str, identifier: &'a str) -> StoreFuture<'a, Option<Tokens>>;

    /// Takes the refresh lease for `holder` until `until` (Unix seconds)
    /// when nobody holds one that runs past `now`; `None` when there is no
    /// such connection.
    fn lease<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
        holder: &'a str,
        now: i64,
        until: i64,
    ) -> StoreFuture<'a, Option<Lease>>;

    /// Ends a lease as `renewal` says, in one transaction; whether new
    /// tokens or a mark were written. Those are written whenever the row
    /// still holds the spent refresh token, whoever holds the lease by then
    /// (a refresh Slack answered must not be lost to a lease that ran
    /// out), and end any lease; `Unchanged` and `RetryAfter` touch only
    /// `holder`'s own lease.
    fn release<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
        holder: &'a str,
        renewal: Renewal,
        now: i64,
    ) -> StoreFuture<'a, bool>;

    /// Marks a connection as needing connecting again (its tokens were
    /// revoked at the provider); whether there was such a connection.
    fn mark_reconnect<'a>(
        &'a self,
        env: &'a str,
        identifier: &'a str,
        reason: &'a str,
        now: i64,
    ) -> StoreFuture<'a, bool>;

    /// Up to `limit` connections, of every environment, whose tokens
    /// expire before `before`, can be refreshed, and are leased by nobody
    /// at `now`: `(environment, identifier)`, soonest first.
    fn expiring<'a>(&'a self, before: i64, now: i64, limit: i64) -> StoreFuture<'a, Vec<(String, String)>>;
}

/// When a record's tokens expire, if they can be refreshed (the column the
/// sweep reads).
pub fn refreshable_until(record: &ChannelConnectionRecord) -> Option<i64> {
    let auth = record.auth.as_ref()?;
    auth.refresh_token.as_ref()?;
    Some(auth.expires_at?.unix_timestamp())
}

/// What ending a lease writes to the row.
#[derive(Debug)]
pub enum Change<'a> {
    /// The record with its new `auth`, to seal in place of the old.
    Renewed(Box<ChannelConnectionRecord>),
    /// The reason the connection must be connected again.
    Reconnect(&'a str),
}

/// What `renewal` writes to a row holding `record`: nothing when it is
/// [`Renewal::Unchanged`], or when the row no longer holds the refresh token
/// that was spent (a re-install replaced the tokens meanwhile).
pub fn change(mut record: ChannelConnectionRecord, renewal: &Renewal) -> Option<Change<'_>> {
    let held = record.auth.as_ref().and_then(|a| a.refresh_token.as_ref());
    match renewal {
        Renewal::Refreshed { spent, auth } if held == Some(spent) => {
            record.auth = Some(auth.clone());
            Some(Change::Renewed(Box::new(record)))
        }
        Renewal::Reconnect { spent, reason } if held == Some(spent) => Some(Change::Reconnect(reason)),
        _ => None,
    }
}
