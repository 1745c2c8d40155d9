//! The session store and the per-request authentication step.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use jid::{BareJid, FullJid, Jid};
use tracing::{debug, info, warn};

use super::{AuthError, LoginUrlError};
use crate::config::{AuthConfig, AuthType};
use crate::rng::FocusRng;

/// How long a JWT-mode session lives without activity. Jicofo fixes it at
/// one minute whatever `authentication-lifetime` says: it only serves the
/// "log in in a popup, then get promoted" flow.
pub const JWT_SESSION_LIFETIME: Duration = Duration::from_secs(60);

/// Sessions kept per identity (bare JID). Jicofo has no limit; a user of the
/// authentication domain who sends many requests without `session-id` (each
/// creates a session) could otherwise grow the store without bound until the
/// lifetime (24 h by default) passes. Beyond this, the least recently used
/// session of that identity is dropped.
const MAX_SESSIONS_PER_IDENTITY: usize = 64;

/// A session as the rest of the focus sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session id (a random UUID), sent to the client as `session-id`.
    pub id: String,
    /// The authenticated user: the bare JID it had on the authentication
    /// domain when the session was created, sent as `identity`.
    pub identity: String,
}

#[derive(Debug, Clone)]
struct Session {
    machine_uid: String,
    identity: String,
    /// The conference the session was created for (dropped with it unless
    /// auto-login is enabled).
    room: BareJid,
    /// The full JID that last used the session.
    jid: Option<FullJid>,
    last_active: Instant,
}

impl Session {
    fn info(&self, id: &str) -> SessionInfo {
        SessionInfo {
            id: id.to_owned(),
            identity: self.identity.clone(),
        }
    }
}

/// The authentication sessions of one focus (Jicofo's
/// `XMPPDomainAuthAuthority` / `ExternalJWTAuthority`).
///
/// Sessions are kept in ordered maps so that iteration, expiry and every
/// answer are deterministic.
#[derive(Debug, Clone)]
pub struct AuthSessions {
    kind: AuthType,
    domain: Option<String>,
    lifetime: Duration,
    auto_login: bool,
    sessions: BTreeMap<String, Session>,
    /// Full JID → the session bound to it (the last one that JID used).
    by_jid: BTreeMap<FullJid, String>,
    /// (last activity, session id), oldest first, for expiry.
    by_activity: BTreeSet<(Instant, String)>,
}

impl AuthSessions {
    /// The store for `config` (`jicofo.authentication`). With `enabled =
    /// false` or type `NONE` it stays empty and every request passes.
    pub fn new(config: &AuthConfig) -> Self {
        let kind = config.effective_type();
        let (lifetime, auto_login) = match kind {
            AuthType::Jwt => (JWT_SESSION_LIFETIME, false),
            AuthType::Xmpp | AuthType::None => {
                (config.authentication_lifetime, config.enable_auto_login)
            }
        };
        let domain = config.login_url.as_deref().and_then(parse_domain);
        if kind != AuthType::None {
            match &domain {
                Some(d) => info!(
                    ?kind,
                    domain = %d,
                    ?lifetime,
                    auto_login,
                    "authentication enabled"
                ),
                None => warn!(
                    ?kind,
                    login_url = ?config.login_url,
                    "authentication enabled but login-url is not an XMPP domain: nobody can authenticate"
                ),
            }
        }
        Self {
            kind,
            domain,
            lifetime,
            auto_login,
            sessions: BTreeMap::new(),
            by_jid: BTreeMap::new(),
            by_activity: BTreeSet::new(),
        }
    }

    /// Whether an authentication authority exists (`enabled` and a type other
    /// than `NONE`). Without one there are no sessions and anyone may create
    /// rooms.
    pub fn enabled(&self) -> bool {
        self.kind != AuthType::None
    }

    /// Whether authentication is external (JWT): the answer's `externalAuth`
    /// property.
    pub fn is_external(&self) -> bool {
        self.kind == AuthType::Jwt
    }

    /// The authentication domain: `login-url` read as an XMPP domain (a
    /// legacy `XMPP:` / `EXT_JWT:` prefix is stripped). `None` when
    /// authentication is disabled or `login-url` is not a bare domain.
    pub fn auth_domain(&self) -> Option<&str> {
        if self.enabled() {
            self.domain.as_deref()
        } else {
            None
        }
    }

    /// One conference request's authentication step (conference-iq.md §5
    /// steps 1-3).
    ///
    /// `sender` is the real sender (after client-proxy unwrapping), `None`
    /// for the HTTP variant. Blank `machine_uid` / `session_id` count as
    /// absent.
    ///
    /// 1. A `session_id` must name a known session (else
    ///    [`AuthError::InvalidSession`]) created for this `machine_uid` (else
    ///    [`AuthError::MachineUidMismatch`]).
    /// 2. Without a session, a sender on the authentication domain gets a new
    ///    one (identity = its bare JID, bound to `room`); it needs a
    ///    `machine_uid` ([`AuthError::MissingMachineUid`]).
    /// 3. A session, found or created, is bound to `sender` and its activity
    ///    refreshed; it is returned for the answer's `session-id` and
    ///    `identity`. `Ok(None)`: the sender is not authenticated (which is
    ///    fine for a room that already exists).
    ///
    /// Disabled authentication always gives `Ok(None)`. Without a sender (HTTP)
    /// a valid session is refreshed but bound to no JID (Jicofo would unbind
    /// it from its previous JID; keeping the binding is harmless).
    pub fn authenticate(
        &mut self,
        now: Instant,
        rng: &mut FocusRng,
        sender: Option<&FullJid>,
        room: &BareJid,
        machine_uid: Option<&str>,
        session_id: Option<&str>,
    ) -> Result<Option<SessionInfo>, AuthError> {
        if !self.enabled() {
            return Ok(None);
        }
        let machine_uid = machine_uid.filter(|m| !is_blank(m));
        let id = match session_id.filter(|s| !is_blank(s)) {
            Some(id) => {
                let session = self.sessions.get(id).ok_or(AuthError::InvalidSession)?;
                if machine_uid != Some(session.machine_uid.as_str()) {
                    return Err(AuthError::MachineUidMismatch);
                }
                id.to_owned()
            }
            None => {
                let Some(sender) = sender.filter(|s| self.on_auth_domain(s)) else {
                    return Ok(None);
                };
                let machine_uid = machine_uid.ok_or(AuthError::MissingMachineUid)?;
                self.create(now, rng, machine_uid, sender.to_bare().to_string(), room)
            }
        };
        if let Some(sender) = sender {
            self.bind(&id, sender);
        }
        self.touch(&id, now);
        let info = self.sessions.get(&id).map(|s| s.info(&id));
        if let Some(info) = &info {
            debug!(session = %info.id, identity = %info.identity, jid = ?sender.map(|s| s.as_str()), "authenticated");
        }
        Ok(info)
    }

    /// Whether a session is bound to this full JID (it may create rooms and
    /// is granted ownership).
    pub fn is_authenticated(&self, jid: &FullJid) -> bool {
        self.by_jid.contains_key(jid)
    }

    /// The session bound to this full JID, if any.
    pub fn session_for(&self, jid: &FullJid) -> Option<SessionInfo> {
        let id = self.by_jid.get(jid)?;
        self.sessions.get(id).map(|s| s.info(id))
    }

    /// Destroys a session (the `logout` IQ). Unknown or blank ids give
    /// [`AuthError::InvalidSession`].
    pub fn logout(&mut self, session_id: &str) -> Result<(), AuthError> {
        match self.remove(session_id) {
            Some(session) => {
                info!(session = %session_id, identity = %session.identity, "logged out");
                Ok(())
            }
            None => Err(AuthError::InvalidSession),
        }
    }

    /// The answer to a `login-url` request for `room` (conference-iq.md §6).
    ///
    /// XMPP mode: `./<room local part>?login=true` (not yet URL-encoded);
    /// JWT mode and disabled authentication: `None` (the client builds its
    /// own URL). A blank or missing `machine_uid` is refused, as is a room
    /// without a local part in XMPP mode.
    pub fn login_url(
        &self,
        room: &BareJid,
        machine_uid: Option<&str>,
    ) -> Result<Option<String>, LoginUrlError> {
        if machine_uid.is_none_or(is_blank) {
            return Err(LoginUrlError::MissingMachineUid);
        }
        match self.kind {
            AuthType::Xmpp => {
                let node = room.node().ok_or(LoginUrlError::InvalidRoom)?;
                Ok(Some(format!("./{}?login=true", node.as_str())))
            }
            AuthType::Jwt | AuthType::None => Ok(None),
        }
    }

    /// The conference in `room` ended. Unless auto-login is enabled (never
    /// in JWT mode), the sessions created for it are dropped.
    pub fn conference_ended(&mut self, room: &BareJid) {
        if self.auto_login {
            return;
        }
        let ids: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.room == *room)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(session) = self.remove(&id) {
                info!(session = %id, identity = %session.identity, room = %room, "session dropped: conference ended");
            }
        }
    }

    /// Expires the sessions inactive for the session lifetime
    /// (`authentication-lifetime` in XMPP mode, [`JWT_SESSION_LIFETIME`] in
    /// JWT mode) and returns them. A session expires once its inactivity
    /// reaches the lifetime.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<SessionInfo> {
        let mut expired = Vec::new();
        while let Some((at, id)) = self.by_activity.first().cloned() {
            if now.saturating_duration_since(at) < self.lifetime {
                break;
            }
            if let Some(session) = self.remove(&id) {
                info!(session = %id, identity = %session.identity, "session expired");
                expired.push(session.info(&id));
            } else {
                // Not reachable: the index and the map change together.
                self.by_activity.remove(&(at, id));
            }
        }
        expired
    }

    /// When the next session expires (exactly; `None` without sessions, or
    /// when the lifetime is too long to represent).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (at, _) = self.by_activity.first()?;
        at.checked_add(self.lifetime)
    }

    /// The number of sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether there is no session.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    fn on_auth_domain(&self, jid: &FullJid) -> bool {
        self.domain.as_deref() == Some(jid.domain().as_str())
    }

    fn create(
        &mut self,
        now: Instant,
        rng: &mut FocusRng,
        machine_uid: &str,
        identity: String,
        room: &BareJid,
    ) -> String {
        let mut id = rng.uuid();
        while self.sessions.contains_key(&id) {
            id = rng.uuid();
        }
        self.evict_for(&identity);
        info!(session = %id, identity = %identity, room = %room, "authentication session created");
        self.sessions.insert(
            id.clone(),
            Session {
                machine_uid: machine_uid.to_owned(),
                identity,
                room: room.clone(),
                jid: None,
                last_active: now,
            },
        );
        self.by_activity.insert((now, id.clone()));
        id
    }

    /// Makes room for one more session of `identity`.
    fn evict_for(&mut self, identity: &str) {
        let mut own: Vec<(Instant, String)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.identity == identity)
            .map(|(id, s)| (s.last_active, id.clone()))
            .collect();
        if own.len() < MAX_SESSIONS_PER_IDENTITY {
            return;
        }
        own.sort();
        let excess = own.len() + 1 - MAX_SESSIONS_PER_IDENTITY;
        for (_, id) in own.into_iter().take(excess) {
            warn!(session = %id, identity = %identity, "too many sessions for one identity: dropping the oldest");
            self.remove(&id);
        }
    }

    fn bind(&mut self, id: &str, jid: &FullJid) {
        if let Some(previous) = self.by_jid.insert(jid.clone(), id.to_owned())
            && previous != id
            && let Some(other) = self.sessions.get_mut(&previous)
        {
            other.jid = None;
        }
        if let Some(session) = self.sessions.get_mut(id)
            && let Some(old) = session.jid.replace(jid.clone())
            && old != *jid
            && self.by_jid.get(&old).is_some_and(|o| o == id)
        {
            self.by_jid.remove(&old);
        }
    }

    fn touch(&mut self, id: &str, now: Instant) {
        if let Some(session) = self.sessions.get_mut(id) {
            self.by_activity
                .remove(&(session.last_active, id.to_owned()));
            // Time never runs backwards for a session.
            session.last_active = session.last_active.max(now);
            self.by_activity
                .insert((session.last_active, id.to_owned()));
        }
    }

    fn remove(&mut self, id: &str) -> Option<Session> {
        let session = self.sessions.remove(id)?;
        self.by_activity
            .remove(&(session.last_active, id.to_owned()));
        if let Some(jid) = &session.jid
            && self.by_jid.get(jid).is_some_and(|o| o == id)
        {
            self.by_jid.remove(jid);
        }
        Some(session)
    }

    /// Checks the internal indexes agree (tests only).
    #[cfg(test)]
    pub(crate) fn assert_consistent(&self) {
        assert_eq!(self.by_activity.len(), self.sessions.len());
        for (at, id) in &self.by_activity {
            assert_eq!(self.sessions[id].last_active, *at);
        }
        for (jid, id) in &self.by_jid {
            assert_eq!(self.sessions[id].jid.as_ref(), Some(jid));
        }
        for (id, s) in &self.sessions {
            if let Some(jid) = &s.jid {
                assert_eq!(self.by_jid.get(jid), Some(id));
            }
        }
    }
}

/// Jicofo's `isBlank`: empty or only whitespace.
fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

/// `login-url` as an XMPP domain (Jicofo: `JidCreate.domainBareFrom`).
fn parse_domain(login_url: &str) -> Option<String> {
    let s = login_url.trim();
    let s = s
        .strip_prefix("XMPP:")
        .or_else(|| s.strip_prefix("EXT_JWT:"))
        .unwrap_or(s);
    let jid = Jid::new(s).ok()?;
    if jid.node().is_some() || jid.resource().is_some() {
        return None;
    }
    Some(jid.domain().as_str().to_owned())
}
