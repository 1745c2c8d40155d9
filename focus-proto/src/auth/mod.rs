//! Authentication sessions, as Jicofo keeps them (conference-iq.md §5-6).
//!
//! With `jicofo.authentication` set to `XMPP` or `JWT`, a user who sends a
//! conference request from the *authentication domain* (`login-url` taken as
//! an XMPP domain) gets a session: a random id bound to the user's bare JID
//! (the identity), the machine it logged in from (`machine-uid`) and the room
//! it was created for. The client may later present `session-id` +
//! `machine-uid` from another JID (typically a guest, after reconnecting) and
//! is then recognised as the same user. A session is bound to the full JID
//! that last used it; that binding decides who may create rooms and who is
//! granted ownership.
//!
//! Everything here is deterministic: sessions live in ordered maps, ids come
//! from the caller's [`FocusRng`](crate::rng::FocusRng) and time from `now`
//! arguments.
//!
//! - [`AuthSessions`]: the session store and the per-request decision.
//! - [`jwt_ids`]: the user and group ids of a JWT, read without validation.

mod jwt;
mod sessions;
#[cfg(test)]
mod tests;

pub use jwt::{JwtIds, MAX_TOKEN_LEN, jwt_ids};
pub use sessions::{AuthSessions, JWT_SESSION_LIFETIME, SessionInfo};

/// Why a conference request (or a logout) was refused by the
/// authentication step. Each maps to a `not-acceptable` error whose text is
/// this error's `Display` (as Jicofo words it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The `session-id` is unknown (expired, logged out or never issued).
    /// Answered with the `<session-invalid/>` application condition.
    #[error("invalid session")]
    InvalidSession,
    /// The session exists but was created for another `machine-uid` (or the
    /// request has none).
    #[error("machine UID mismatch or empty")]
    MachineUidMismatch,
    /// A new session would be created but the request has no `machine-uid`.
    #[error("Missing mandatory attribute 'machine-uid'")]
    MissingMachineUid,
}

/// Why a `login-url` request was refused (answered with `bad-request` and
/// this error's `Display` as text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginUrlError {
    /// No (or a blank) `machine-uid`.
    #[error("missing mandatory attribute 'machineUID'")]
    MissingMachineUid,
    /// The room JID has no local part, so no URL can name it.
    #[error("room JID has no local part")]
    InvalidRoom,
}
