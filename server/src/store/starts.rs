//! Start links (browser binding): the provider URL and the cookie a
//! first-party start URL hands out, once.

use super::error::StoreFuture;

/// What a start link leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartLink {
    /// The provider's authorize URL.
    pub url: String,
    /// The binding cookie's value to set on the way.
    pub cookie: String,
}

/// Start links, each taken once before it expires.
pub trait StartLinks: Send + Sync {
    /// Keeps a start link under `id` until `expires_at`.
    fn save_start<'a>(&'a self, id: &'a str, link: &'a StartLink, expires_at: i64) -> StoreFuture<'a, ()>;
    /// Takes the start link `id` once.
    fn take_start<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, Option<StartLink>>;
}
