//! Why a state was refused: one public message, a precise kind for logs.

use std::fmt;

/// Why a state was refused. Shown to users only as
/// "Invalid OAuth state parameter"; the kind is for logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StateErrorKind {
    /// No state, or an empty one.
    Missing,
    /// Longer than [`MAX_STATE_CHARS`].
    Oversized,
    /// Not base64url, too short, or not laid out as the format says.
    Malformed,
    /// A version byte other than 1.
    UnknownVersion,
    /// A key id not in the ring.
    UnknownKey,
    /// The MAC does not match.
    BadMac,
    /// Now is at or past issued-at + lifetime.
    Expired,
    /// Issued further in the future than the allowed skew.
    NotYetValid,
    /// Issued for another provider than the one interpreting it.
    WrongProvider,
    /// Issued for another purpose than the one expected.
    WrongPurpose,
    /// Issued for an integration this service no longer has.
    UnknownIntegration,
    /// Issued for another environment.
    WrongEnvironment,
    /// Issued for another organization.
    WrongOrganization,
    /// Bound to a browser, and the callback presented no binding.
    BindingMissing,
    /// Bound to another browser.
    BindingMismatch,
}

/// A refused state: `Display` is Novu's message, [`StateError::kind`] the cause.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Invalid OAuth state parameter")]
pub struct StateError {
    kind: StateErrorKind,
}

impl StateError {
    pub(crate) fn new(kind: StateErrorKind) -> Self {
        StateError { kind }
    }

    /// The precise cause, for logs.
    pub fn kind(&self) -> StateErrorKind {
        self.kind
    }

    /// HTTP 400.
    pub fn status(&self) -> u16 {
        400
    }
}

impl fmt::Debug for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateError({:?})", self.kind)
    }
}

impl From<StateErrorKind> for StateError {
    fn from(kind: StateErrorKind) -> Self {
        StateError { kind }
    }
}
