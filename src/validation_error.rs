//! [`ValidationError`]: one field-level problem in a request body. The
//! identifiers, the context and the request bodies all report it, and it
//! depends on none of them.

/// One field-level problem in a request body (HTTP 422, "Validation Error").
///
/// It reaches the host inside [`crate::RequestError::Validation`].
///
/// ```
/// use channel_connect::{ConnectRequest, ConnectRequestBody, RequestError, ValidationError};
///
/// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"subscriber-123"}"#)?;
/// assert!(ConnectRequest::validate(&body).is_ok());
///
/// let body = ConnectRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":""}"#)?;
/// let refused = ConnectRequest::validate(&body).unwrap_err();
/// assert_eq!(refused, RequestError::Validation(ValidationError::SubscriberIdInvalid));
/// assert_eq!(refused.status(), 422);
/// assert_eq!(refused.to_json()["errors"][0], "subscriberId must be 1 to 255 bytes without control characters");
/// # Ok::<(), RequestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// The body is not JSON of the expected shape.
    #[error("request body is not valid JSON of the expected shape (line {line}, column {column})")]
    Body {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
    },
    /// The body is not a JSON object.
    #[error("request body must be a JSON object")]
    BodyNotObject,
    /// The body is larger than [`crate::request::MAX_BODY_BYTES`].
    #[error("request body is too large")]
    BodyTooLarge,
    /// `integrationIdentifier` is missing or blank.
    #[error("Integration identifier is required")]
    IntegrationIdentifierRequired,
    /// `integrationIdentifier` is too long or has control characters.
    #[error("integrationIdentifier must be 1 to 255 bytes without control characters")]
    IntegrationIdentifierInvalid,
    /// `subscriberId` is missing where required.
    #[error("subscriberId is required")]
    SubscriberIdRequired,
    /// `subscriberId` is empty, too long or has control characters.
    #[error("subscriberId must be 1 to 255 bytes without control characters")]
    SubscriberIdInvalid,
    /// `connectionIdentifier` breaks its rule.
    #[error("connectionIdentifier must be 1 to 100 characters of A-Z, a-z, 0-9, '.', '_' or '-'")]
    ConnectionIdentifierInvalid,
    /// `context` is an empty object.
    #[error("context must have 1 to 5 keys")]
    ContextKeyCount,
    /// `context` has more than five keys (Novu's message).
    #[error("Too many contexts: {count} provided, maximum allowed is 5")]
    TooManyContexts {
        /// How many were given.
        count: usize,
    },
    /// A context key is empty or longer than 100 bytes. (Any characters are
    /// accepted, as Novu does; the length keeps it in the state.)
    #[error("context keys must be 1 to 100 bytes")]
    ContextKeyInvalid,
    /// A context value is neither a string nor an object.
    #[error("context values must be an id string or an object with an id")]
    ContextValueInvalid,
    /// A context id breaks its rule.
    #[error("context ids must be 1 to 100 characters of A-Z, a-z, 0-9, '_' or '-'")]
    ContextIdInvalid,
    /// A context `data` is not an object.
    #[error("context data must be an object")]
    ContextDataInvalid,
    /// A context `data` is larger than 64 KiB of compact JSON (Novu's
    /// message; `kb` rounded up). The key is shown as plain text.
    #[error("Context '{key}' data is too large: {kb}KB exceeds 64KB limit")]
    ContextDataTooLarge {
        /// The context key, as plain text.
        key: String,
        /// The size in KiB, rounded up.
        kb: usize,
    },
    /// A context `data` holds a number that is not an integer within ±2^53
    /// (as JavaScript reads it: `1.0` is the integer 1): the state and the
    /// contextHash (canonical JSON) carry integers only, exactly.
    #[error("Context '{key}' data may hold only integers between -2^53 and 2^53")]
    ContextDataNumber {
        /// The context key, as plain text.
        key: String,
    },
    /// A context `data` nests deeper than
    /// [`crate::context::MAX_CONTEXT_DATA_DEPTH`] levels (`data` itself is
    /// level 1). The key is shown as plain text.
    #[error("Context '{key}' data is nested too deeply: at most 64 levels")]
    ContextDataTooDeep {
        /// The context key, as plain text.
        key: String,
    },
    /// `scope` breaks its rule.
    #[error("scope must be 1 to 50 scopes of 1 to 100 visible characters without commas")]
    ScopeInvalid,
}
