//! The simulated XMPP server, laid out like docker-jitsi-meet's Prosody
//! (`scripts/prosody/start.sh`): virtual hosts `meet.jitsi` (anonymous
//! clients) and `auth.meet.jitsi` (the focus), MUC components, and the
//! `client_proxy` component `focus.meet.jitsi` in front of
//! `focus@auth.meet.jitsi`.
//!
//! Routing follows Prosody's `stanza_router` and `mod_iq`/`mod_presence`/
//! `mod_message`: `from` is stamped on everything a session sends, IQs to
//! absent full JIDs are answered `service-unavailable`, remote domains get
//! `not-allowed`, directed presence is tracked per session so that an
//! unavailable broadcast or a closed session leaves every room.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use focus_proto::rng::FocusRng;
use minidom::Element;

use super::muc::{MucCtx, MucOptions, MucService, Room};
use super::stanza::{
    NS_CLIENT, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_ROSTER, bare, error_reply, iq_result,
    is_iq_request, may_bounce, name, normalize, set_attr, split_jid,
};

/// Identifies one login (XMPP session) on the simulated server. A
/// reconnection is a new session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u32);

/// One session as the server sees it.
#[derive(Debug, Clone)]
pub struct Session {
    id: SessionId,
    jid: String,
    open: bool,
    /// Sent available presence (without `to`) and not unavailable since.
    available: bool,
    priority: i32,
    /// Where it sent directed presence (MUC occupant JIDs, mostly).
    directed: BTreeSet<String>,
}

impl Session {
    /// Its id.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// Its full JID.
    pub fn jid(&self) -> &str {
        &self.jid
    }

    /// Whether it is still connected.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Whether it is available (sent initial presence).
    pub fn is_available(&self) -> bool {
        self.available
    }

    /// Where it sent directed presence.
    pub fn directed(&self) -> impl Iterator<Item = &str> {
        self.directed.iter().map(String::as_str)
    }
}

/// The layout of the simulated server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The main domain (`meet.jitsi`).
    pub domain: String,
    /// Virtual hosts clients may log in to.
    pub hosts: Vec<String>,
    /// Server admins (bare JIDs): owners of every room, may create rooms.
    pub admins: Vec<String>,
    /// `(component domain, target bare JID)` of the `client_proxy`.
    pub client_proxy: Option<(String, String)>,
    /// MUC components.
    pub mucs: Vec<(String, MucOptions)>,
}

impl Default for ServerConfig {
    /// docker-jitsi-meet's layout on `meet.jitsi`.
    fn default() -> Self {
        Self {
            domain: "meet.jitsi".into(),
            hosts: vec!["meet.jitsi".into(), "auth.meet.jitsi".into()],
            admins: vec!["focus@auth.meet.jitsi".into(), "jvb@auth.meet.jitsi".into()],
            client_proxy: Some(("focus.meet.jitsi".into(), "focus@auth.meet.jitsi".into())),
            mucs: vec![
                ("muc.meet.jitsi".into(), MucOptions::default()),
                ("internal-muc.meet.jitsi".into(), MucOptions::default()),
            ],
        }
    }
}

/// What handling something produced: stanzas for sessions, and sessions
/// the server closed (stream errors).
#[derive(Debug, Default)]
pub(crate) struct Routed {
    pub(crate) deliveries: Vec<(SessionId, Element)>,
    pub(crate) closed: Vec<(SessionId, String)>,
}

/// Most stanzas one routing may generate before it is considered a loop.
const ROUTING_LIMIT: usize = 1_000_000;

/// The server.
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    admins: BTreeSet<String>,
    sessions: BTreeMap<SessionId, Session>,
    by_jid: BTreeMap<String, SessionId>,
    mucs: BTreeMap<String, MucService>,
    rng: FocusRng,
    next_id: u32,
}

impl Server {
    /// A server with `config`; `seed` makes its meeting ids.
    pub fn new(config: ServerConfig, seed: [u8; 32]) -> Self {
        let mucs = config
            .mucs
            .iter()
            .map(|(host, opts)| (host.clone(), MucService::new(host.clone(), opts.clone())))
            .collect();
        Self {
            admins: config.admins.iter().cloned().collect(),
            config,
            sessions: BTreeMap::new(),
            by_jid: BTreeMap::new(),
            mucs,
            rng: FocusRng::from_seed(seed),
            next_id: 1,
        }
    }

    /// The layout.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// A session by id (open or closed).
    pub fn session(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// The open session bound to the full JID `jid`.
    pub fn session_by_jid(&self, jid: &str) -> Option<&Session> {
        self.by_jid.get(jid).and_then(|id| self.sessions.get(id))
    }

    /// The MUC component at `host`.
    pub fn muc(&self, host: &str) -> Option<&MucService> {
        self.mucs.get(host)
    }

    /// The MUC component at `host`, to change it.
    pub fn muc_mut(&mut self, host: &str) -> Option<&mut MucService> {
        self.mucs.get_mut(host)
    }

    /// The live room with bare JID `jid`.
    pub fn room(&self, jid: &str) -> Option<&Room> {
        let (_, host, _) = split_jid(jid);
        self.mucs.get(host).and_then(|m| m.room(jid))
    }

    /// Whether `domain` is a virtual host of this server.
    pub fn is_host(&self, domain: &str) -> bool {
        self.config.hosts.iter().any(|h| h == domain)
    }

    /// Binds a new session to `jid`. An open session with the same full JID
    /// is closed first (Prosody's default resource conflict policy); it is
    /// reported in [`Routed::closed`].
    pub(crate) fn open_session(&mut self, jid: &str) -> (SessionId, Routed) {
        let mut routed = Routed::default();
        if let Some(old) = self.by_jid.get(jid).copied() {
            let closed = self.close_session(old, Some("Replaced by new connection"));
            routed.deliveries.extend(closed.deliveries);
            routed
                .closed
                .push((old, "conflict: replaced by new connection".into()));
        }
        let id = SessionId(self.next_id);
        self.next_id += 1;
        self.sessions.insert(
            id,
            Session {
                id,
                jid: jid.to_owned(),
                open: true,
                available: false,
                priority: 0,
                directed: BTreeSet::new(),
            },
        );
        self.by_jid.insert(jid.to_owned(), id);
        (id, routed)
    }

    /// Closes session `id` (`error` as Prosody's disconnect reason): it
    /// leaves every room it sent directed presence to.
    pub(crate) fn close_session(&mut self, id: SessionId, error: Option<&str>) -> Routed {
        let mut routed = Routed::default();
        let Some(s) = self.sessions.get_mut(&id).filter(|s| s.open) else {
            return routed;
        };
        s.open = false;
        s.available = false;
        let jid = s.jid.clone();
        let directed = std::mem::take(&mut s.directed);
        self.by_jid.remove(&jid);
        let mut queue = VecDeque::new();
        for target in directed {
            let mut p = Element::builder("presence", NS_CLIENT)
                .attr(name("from"), jid.as_str())
                .attr(name("to"), target.as_str())
                .attr(name("type"), "unavailable");
            if let Some(e) = error {
                p = p.append(
                    Element::builder("status", NS_CLIENT).append(format!("Disconnected: {e}")),
                );
            }
            queue.push_back(p.build());
        }
        self.route(queue, &mut routed);
        routed
    }

    /// Handles a stanza that session `from` sent.
    pub(crate) fn handle(&mut self, from: SessionId, mut stanza: Element) -> Routed {
        let mut routed = Routed::default();
        let Some(session) = self.sessions.get(&from).filter(|s| s.open) else {
            return routed;
        };
        let jid = session.jid.clone();
        if !stanza.has_ns(NS_CLIENT) || !matches!(stanza.name(), "iq" | "message" | "presence") {
            // Prosody closes the stream on anything else.
            let closed = self.close_session(from, Some("unsupported-stanza-type"));
            routed.deliveries.extend(closed.deliveries);
            routed.closed.push((from, "unsupported-stanza-type".into()));
            return routed;
        }
        set_attr(&mut stanza, "from", Some(&jid));
        if stanza.name() == "iq" {
            let kind = stanza.attr("type");
            let problem = if !matches!(kind, Some("get" | "set" | "result" | "error")) {
                Some("Invalid IQ type")
            } else if stanza.attr("id").is_none() {
                Some("Missing required 'id' attribute")
            } else if is_iq_request(&stanza) && stanza.children().count() != 1 {
                Some("Incorrect number of children for IQ stanza")
            } else {
                None
            };
            if let Some(text) = problem {
                let reply = error_reply(&stanza, "modify", "bad-request", Some(text), None);
                routed.deliveries.push((from, reply));
                return routed;
            }
        }
        let to = match stanza.attr("to") {
            None => None,
            Some(raw) => match normalize(raw) {
                Some(n) => Some(n),
                None => {
                    if may_bounce(&stanza) {
                        let text = format!("The destination address is invalid: {raw}");
                        let reply =
                            error_reply(&stanza, "modify", "jid-malformed", Some(&text), None);
                        routed.deliveries.push((from, reply));
                    }
                    return routed;
                }
            },
        };
        let to = to.filter(|t| t != bare(&jid));
        let Some(to) = to else {
            self.handle_to_self(from, stanza, &mut routed);
            return routed;
        };
        set_attr(&mut stanza, "to", Some(&to));
        if stanza.name() == "presence" {
            self.track_directed(from, &to, stanza.attr("type"));
        }
        self.route(VecDeque::from([stanza]), &mut routed);
        routed
    }

    /// `mod_presence`'s outbound handler: directed presence bookkeeping.
    fn track_directed(&mut self, from: SessionId, to: &str, kind: Option<&str>) {
        let Some(s) = self.sessions.get_mut(&from) else {
            return;
        };
        match kind {
            None => {
                s.directed.insert(to.to_owned());
            }
            Some("unavailable") | Some("error") => {
                s.directed.remove(to);
            }
            _ => {}
        }
    }

    /// Stanzas without `to` (or to the sender's own bare JID).
    fn handle_to_self(&mut self, from: SessionId, stanza: Element, routed: &mut Routed) {
        match stanza.name() {
            "presence" => self.broadcast_presence(from, stanza, routed),
            "iq" if is_iq_request(&stanza) => {
                let get = stanza.attr("type") == Some("get");
                let payload = stanza.children().next();
                let answer = match payload {
                    Some(p) if get && p.is("query", NS_ROSTER) => {
                        iq_result(&stanza, Some(Element::builder("query", NS_ROSTER).build()))
                    }
                    Some(p) if get && p.is("ping", NS_PING) => iq_result(&stanza, None),
                    Some(p) if get && p.is("query", NS_DISCO_INFO) => {
                        let q = Element::builder("query", NS_DISCO_INFO)
                            .append(
                                Element::builder("identity", NS_DISCO_INFO)
                                    .attr(name("category"), "account")
                                    .attr(name("type"), "registered"),
                            )
                            .build();
                        iq_result(&stanza, Some(q))
                    }
                    _ => error_reply(&stanza, "cancel", "service-unavailable", None, None),
                };
                routed.deliveries.push((from, answer));
            }
            _ => {}
        }
    }

    /// Presence without `to`: availability; unavailable also goes to every
    /// directed-presence target (this is how a client leaves its rooms).
    fn broadcast_presence(&mut self, from: SessionId, stanza: Element, routed: &mut Routed) {
        let Some(s) = self.sessions.get_mut(&from) else {
            return;
        };
        match stanza.attr("type") {
            None => {
                s.available = true;
                s.priority = stanza
                    .get_child("priority", NS_CLIENT)
                    .and_then(|p| p.text().trim().parse().ok())
                    .unwrap_or(0);
            }
            Some("unavailable") => {
                s.available = false;
                let directed = std::mem::take(&mut s.directed);
                let queue = directed
                    .into_iter()
                    .map(|target| {
                        let mut p = stanza.clone();
                        set_attr(&mut p, "to", Some(&target));
                        p
                    })
                    .collect();
                self.route(queue, routed);
            }
            _ => {}
        }
    }

    /// Routes stanzas (each with `from` and normalized `to`) and everything
    /// they cause, until nothing is left.
    fn route(&mut self, mut queue: VecDeque<Element>, routed: &mut Routed) {
        let mut count = 0usize;
        while let Some(stanza) = queue.pop_front() {
            count += 1;
            assert!(
                count < ROUTING_LIMIT,
                "simulated server: routing loop (over {ROUTING_LIMIT} stanzas from one input)"
            );
            self.route_one(stanza, &mut queue, routed);
        }
    }

    fn route_one(&mut self, stanza: Element, queue: &mut VecDeque<Element>, routed: &mut Routed) {
        let to = stanza.attr("to").unwrap_or_default().to_owned();
        let (node, domain, res) = split_jid(&to);
        if self.is_host(domain) {
            match (node, res) {
                (None, _) => self.deliver_to_host(domain, &stanza, queue),
                (Some(_), Some(_)) => match self.by_jid.get(&to) {
                    Some(id) => routed.deliveries.push((*id, stanza)),
                    None => self.deliver_to_absent_full(stanza, queue, routed),
                },
                (Some(_), None) => self.deliver_to_bare(stanza, queue, routed),
            }
        } else if self
            .config
            .client_proxy
            .as_ref()
            .is_some_and(|(host, _)| host == domain)
        {
            self.deliver_to_proxy(stanza, queue);
        } else if let Some(muc) = self.mucs.get_mut(domain) {
            let mut out = Vec::new();
            let mut ctx = MucCtx {
                out: &mut out,
                rng: &mut self.rng,
                admins: &self.admins,
            };
            muc.handle(&mut ctx, stanza);
            queue.extend(out);
        } else if may_bounce(&stanza) {
            queue.push_back(error_reply(
                &stanza,
                "cancel",
                "not-allowed",
                Some("Communication with remote domains is not enabled"),
                None,
            ));
        }
    }

    /// A stanza to a virtual host: ping, disco, version; else unhandled.
    fn deliver_to_host(&mut self, domain: &str, stanza: &Element, queue: &mut VecDeque<Element>) {
        if !is_iq_request(stanza) {
            return;
        }
        let get = stanza.attr("type") == Some("get");
        let payload = stanza.children().next();
        let answer = match payload {
            Some(p) if get && p.is("ping", NS_PING) => iq_result(stanza, None),
            Some(p) if get && p.is("query", NS_DISCO_INFO) => {
                let mut q = Element::builder("query", NS_DISCO_INFO);
                if let Some(node) = p.attr("node") {
                    q = q.attr(name("node"), node);
                }
                q = q.append(
                    Element::builder("identity", NS_DISCO_INFO)
                        .attr(name("category"), "server")
                        .attr(name("name"), "Prosody")
                        .attr(name("type"), "im"),
                );
                for f in [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, "jabber:iq:version"] {
                    q = q.append(Element::builder("feature", NS_DISCO_INFO).attr(name("var"), f));
                }
                iq_result(stanza, Some(q.build()))
            }
            Some(p) if get && p.is("query", NS_DISCO_ITEMS) => {
                // Components that are subdomains of this host.
                let suffix = format!(".{domain}");
                let mut components: Vec<&str> = self.mucs.keys().map(String::as_str).collect();
                if let Some((proxy, _)) = &self.config.client_proxy {
                    components.push(proxy);
                }
                components.sort_unstable();
                let mut q = Element::builder("query", NS_DISCO_ITEMS);
                for c in components.into_iter().filter(|c| c.ends_with(&suffix)) {
                    q = q.append(Element::builder("item", NS_DISCO_ITEMS).attr(name("jid"), c));
                }
                iq_result(stanza, Some(q.build()))
            }
            Some(p) if get && p.is("query", "jabber:iq:version") => {
                let q = Element::builder("query", "jabber:iq:version")
                    .append(Element::builder("name", "jabber:iq:version").append("Prosody"))
                    .append(Element::builder("version", "jabber:iq:version").append("0.12.3"))
                    .build();
                iq_result(stanza, Some(q))
            }
            _ => error_reply(stanza, "cancel", "service-unavailable", None, None),
        };
        queue.push_back(answer);
    }

    /// A stanza to a full JID with no session: IQ requests bounce
    /// (`mod_iq`), messages fall back to the bare JID, presence is dropped.
    fn deliver_to_absent_full(
        &mut self,
        stanza: Element,
        queue: &mut VecDeque<Element>,
        routed: &mut Routed,
    ) {
        match stanza.name() {
            "iq" if is_iq_request(&stanza) => {
                queue.push_back(error_reply(
                    &stanza,
                    "cancel",
                    "service-unavailable",
                    None,
                    None,
                ));
            }
            "message" => self.deliver_to_bare(stanza, queue, routed),
            _ => {}
        }
    }

    /// A stanza to another user's bare JID (no rosters, no offline storage).
    fn deliver_to_bare(
        &mut self,
        stanza: Element,
        queue: &mut VecDeque<Element>,
        routed: &mut Routed,
    ) {
        match stanza.name() {
            "iq" if is_iq_request(&stanza) => {
                queue.push_back(error_reply(
                    &stanza,
                    "cancel",
                    "service-unavailable",
                    None,
                    None,
                ));
            }
            "message" => {
                let kind = stanza.attr("type").unwrap_or("normal");
                if !matches!(kind, "normal" | "chat") {
                    return;
                }
                let target = bare(stanza.attr("to").unwrap_or_default()).to_owned();
                match self.best_resource(&target) {
                    Some(id) => routed.deliveries.push((id, stanza)),
                    None => queue.push_back(error_reply(
                        &stanza,
                        "cancel",
                        "service-unavailable",
                        None,
                        None,
                    )),
                }
            }
            _ => {}
        }
    }

    /// The available session of `bare_jid` with the highest non-negative
    /// priority (ties: the oldest session).
    fn best_resource(&self, bare_jid: &str) -> Option<SessionId> {
        let mut best: Option<&Session> = None;
        for s in self.sessions.values() {
            if s.open
                && s.available
                && s.priority >= 0
                && bare(&s.jid) == bare_jid
                && best.is_none_or(|b| s.priority > b.priority)
            {
                best = Some(s);
            }
        }
        best.map(|s| s.id)
    }

    /// The `client_proxy` component (this project's `mod_client_proxy`).
    fn deliver_to_proxy(&mut self, stanza: Element, queue: &mut VecDeque<Element>) {
        let Some((host, target)) = self.config.client_proxy.clone() else {
            return;
        };
        let to = stanza.attr("to").unwrap_or_default().to_owned();
        let (node, _, res) = split_jid(&to);
        if node.is_some() || stanza.name() != "iq" {
            if may_bounce(&stanza) {
                queue.push_back(error_reply(
                    &stanza,
                    "cancel",
                    "service-unavailable",
                    None,
                    None,
                ));
            }
            return;
        }
        let request = is_iq_request(&stanza);
        match res {
            None if request => {
                let sender = stanza.attr("from").unwrap_or_default().to_owned();
                match self.best_resource(&target) {
                    None => queue.push_back(error_reply(
                        &stanza,
                        "cancel",
                        "service-unavailable",
                        Some("The focus is not connected"),
                        None,
                    )),
                    Some(id) => {
                        let target_full = self
                            .sessions
                            .get(&id)
                            .map(|s| s.jid.clone())
                            .unwrap_or_default();
                        let mut fwd = stanza;
                        set_attr(&mut fwd, "from", Some(&format!("{host}/{sender}")));
                        set_attr(&mut fwd, "to", Some(&target_full));
                        queue.push_back(fwd);
                    }
                }
            }
            None => {}
            Some(original) if !request => {
                // Only the target may answer through the proxy.
                if bare(stanza.attr("from").unwrap_or_default()) != target {
                    return;
                }
                let original = original.to_owned();
                let mut back = stanza;
                set_attr(&mut back, "from", Some(&host));
                set_attr(&mut back, "to", Some(&original));
                queue.push_back(back);
            }
            Some(_) => {
                queue.push_back(error_reply(
                    &stanza,
                    "cancel",
                    "feature-not-implemented",
                    None,
                    None,
                ));
            }
        }
    }

    /// Kicks `nick` from `room` (status 307), as a server-side action.
    pub(crate) fn kick(&mut self, room: &str, nick: &str, reason: Option<&str>) -> (bool, Routed) {
        self.with_muc(room, |muc, ctx| muc.kick(ctx, room, nick, reason))
    }

    /// Destroys `room`: every occupant gets an unavailable with `<destroy/>`.
    pub(crate) fn destroy_room(&mut self, room: &str, reason: Option<&str>) -> (bool, Routed) {
        self.with_muc(room, |muc, ctx| muc.destroy(ctx, room, reason))
    }

    fn with_muc(
        &mut self,
        room: &str,
        f: impl FnOnce(&mut MucService, &mut MucCtx<'_>) -> bool,
    ) -> (bool, Routed) {
        let mut routed = Routed::default();
        let (_, host, _) = split_jid(room);
        let Some(muc) = self.mucs.get_mut(host) else {
            return (false, routed);
        };
        let mut out = Vec::new();
        let mut ctx = MucCtx {
            out: &mut out,
            rng: &mut self.rng,
            admins: &self.admins,
        };
        let done = f(muc, &mut ctx);
        self.route(out.into(), &mut routed);
        (done, routed)
    }
}
