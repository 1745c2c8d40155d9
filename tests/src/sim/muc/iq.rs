//! IQs and messages of a room and of the MUC host: disco, the owner
//! configuration form, admin commands (affiliations, roles), destroy, IQs
//! between occupants (with Prosody's id mangling), private and groupchat
//! messages.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use minidom::Element;

use super::room::{Room, status};
use super::{Affiliation, MucCtx, MucService, Role, Whois};
use crate::sim::stanza::{
    NS_CLIENT, NS_DATA, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_MUC_ADMIN, NS_MUC_OWNER,
    NS_MUC_USER, NS_PING, bare, error_reply, form_field, form_value, iq_result, is_iq_request,
    may_bounce, name, normalize, resource, set_attr, split_jid,
};

impl MucService {
    /// Stanzas to the component's own JID: disco, else unhandled.
    pub(crate) fn handle_host(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element) {
        let get = stanza.name() == "iq" && stanza.attr("type") == Some("get");
        let payload = stanza.children().next();
        if get && payload.is_some_and(|p| p.is("query", NS_DISCO_INFO)) {
            let q = Element::builder("query", NS_DISCO_INFO)
                .append(
                    Element::builder("identity", NS_DISCO_INFO)
                        .attr(name("category"), "conference")
                        .attr(name("name"), self.options.name.as_str())
                        .attr(name("type"), "text"),
                )
                .append(Element::builder("feature", NS_DISCO_INFO).attr(name("var"), NS_MUC))
                .append(Element::builder("feature", NS_DISCO_INFO).attr(name("var"), NS_DISCO_INFO))
                .append(
                    Element::builder("feature", NS_DISCO_INFO).attr(name("var"), NS_DISCO_ITEMS),
                )
                .build();
            ctx.send(iq_result(stanza, Some(q)));
        } else if get && payload.is_some_and(|p| p.is("query", NS_DISCO_ITEMS)) {
            // Rooms are not public: none are listed.
            let q = Element::builder("query", NS_DISCO_ITEMS).build();
            ctx.send(iq_result(stanza, Some(q)));
        } else if may_bounce(stanza) {
            ctx.send(error_reply(
                stanza,
                "cancel",
                "service-unavailable",
                None,
                None,
            ));
        }
    }
}

/// The 8-byte tag of `jid` under `salt` (Prosody uses HMAC-SHA256; any keyed
/// hash does for routing).
fn jid_tag(salt: u64, jid: &str) -> [u8; 8] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for b in jid.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h.to_be_bytes()
}

impl Room {
    /// IQ to `room/nick`: forwarded between occupants with a mangled id
    /// (`handle_iq_to_occupant`).
    pub(crate) fn handle_iq_to_occupant(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element) {
        let from = stanza.attr("from").unwrap_or_default();
        let to = stanza.attr("to").unwrap_or_default();
        let id = stanza.attr("id").unwrap_or_default();
        let target = self.index_by_nick(to);
        if !is_iq_request(stanza) {
            // A reply: decode the id to find the original requester.
            let Some(t) = target else { return };
            let Some((from_jid, orig_id, tag)) = decode_id(id) else {
                return;
            };
            if from != from_jid && from != bare(&from_jid) {
                return;
            }
            let Some(replier) = self.index_by_real(&from_jid) else {
                return;
            };
            let requester = &self.occupants[t];
            if jid_tag(self.salt, &requester.session)[..] != tag[..] {
                return;
            }
            let mut fwd = stanza.clone();
            set_attr(&mut fwd, "from", Some(&self.occupants[replier].nick));
            set_attr(&mut fwd, "to", Some(&requester.session));
            set_attr(&mut fwd, "id", Some(&orig_id));
            ctx.send(fwd);
            return;
        }
        let Some(current) = self.index_by_real(from) else {
            ctx.send(error_reply(
                stanza,
                "cancel",
                "not-acceptable",
                Some("You are not currently connected to this chat"),
                Some(&self.jid),
            ));
            return;
        };
        let Some(t) = target else {
            ctx.send(error_reply(
                stanza,
                "cancel",
                "item-not-found",
                Some("Recipient not in room"),
                Some(&self.jid),
            ));
            return;
        };
        let current_nick = self.occupants[current].nick.clone();
        if to == current_nick
            && stanza.attr("type") == Some("get")
            && stanza.has_child("ping", NS_PING)
        {
            // XEP-0410 self-ping.
            ctx.send(iq_result(stanza, None));
            return;
        }
        let recipient = &self.occupants[t];
        let mut raw = Vec::new();
        raw.extend_from_slice(recipient.session.as_bytes());
        raw.push(0);
        raw.extend_from_slice(id.as_bytes());
        raw.push(0);
        raw.extend_from_slice(&jid_tag(self.salt, from));
        let mut fwd = stanza.clone();
        set_attr(&mut fwd, "id", Some(&BASE64.encode(raw)));
        set_attr(&mut fwd, "from", Some(&current_nick));
        set_attr(&mut fwd, "to", Some(&recipient.session));
        ctx.send(fwd);
    }

    /// IQ to the bare room JID.
    pub(crate) fn handle_iq_to_room(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element) {
        if !is_iq_request(stanza) {
            return;
        }
        let get = stanza.attr("type") == Some("get");
        let Some(query) = stanza.children().next() else {
            return;
        };
        if get && query.is("query", NS_DISCO_INFO) {
            ctx.send(iq_result(stanza, Some(self.disco_info(query.attr("node")))));
        } else if get && query.is("query", NS_DISCO_ITEMS) {
            let q = Element::builder("query", NS_DISCO_ITEMS).build();
            ctx.send(iq_result(stanza, Some(q)));
        } else if query.is("query", NS_MUC_OWNER) {
            self.handle_owner(ctx, stanza, query, get);
        } else if query.is("query", NS_MUC_ADMIN) {
            if get {
                self.handle_admin_get(ctx, stanza, query);
            } else {
                self.handle_admin_set(ctx, stanza, query);
            }
        } else {
            ctx.send(error_reply(
                stanza,
                "cancel",
                "service-unavailable",
                None,
                None,
            ));
        }
    }

    /// The room's disco#info: identity, features, and the `muc#roominfo`
    /// form with Jitsi's fields.
    fn disco_info(&self, node: Option<&str>) -> Element {
        let mut q = Element::builder("query", NS_DISCO_INFO);
        if let Some(node) = node {
            q = q.attr(name("node"), node);
            if !node.is_empty() {
                return q.build();
            }
        }
        let room_name = split_jid(&self.jid).0.unwrap_or_default();
        q = q.append(
            Element::builder("identity", NS_DISCO_INFO)
                .attr(name("category"), "conference")
                .attr(name("name"), room_name)
                .attr(name("type"), "text"),
        );
        let whois = match self.whois {
            Whois::Anyone => "muc_nonanonymous",
            Whois::Moderators => "muc_semianonymous",
        };
        for feature in [
            NS_MUC,
            "http://jabber.org/protocol/muc#stable_id",
            "http://jabber.org/protocol/muc#self-ping-optimization",
            "muc_hidden",
            "muc_temporary",
            "muc_open",
            "muc_unmoderated",
            "muc_unsecured",
            whois,
        ] {
            q = q.append(Element::builder("feature", NS_DISCO_INFO).attr(name("var"), feature));
        }
        let mut form = Element::builder("x", NS_DATA)
            .attr(name("type"), "result")
            .append(form_field(
                "FORM_TYPE",
                Some("hidden"),
                None,
                Some("http://jabber.org/protocol/muc#roominfo"),
            ))
            .append(form_field(
                "muc#roominfo_occupants",
                Some("text-single"),
                Some("Number of occupants"),
                Some(&self.occupants.len().to_string()),
            ));
        for f in self.jitsi_fields() {
            form = form.append(f);
        }
        q.append(form).build()
    }

    /// Fields Jitsi's Prosody modules add to disco#info and the config form.
    fn jitsi_fields(&self) -> Vec<Element> {
        let mut fields = vec![form_field(
            "muc#roominfo_meetingId",
            Some("text-single"),
            Some("The meeting unique id."),
            Some(&self.meeting_id),
        )];
        if self.breakout {
            // Prosody serializes boolean fields as 1/0.
            fields.push(form_field(
                "muc#roominfo_isbreakout",
                Some("boolean"),
                Some("Is this a breakout room?"),
                Some("1"),
            ));
            fields.push(form_field(
                "muc#roominfo_breakout_main_room",
                Some("text-single"),
                Some("The main room associated with this breakout room"),
                self.main_room.as_deref(),
            ));
        }
        fields
    }

    /// The owner configuration form (Prosody's layout, trimmed to the
    /// fields that matter, plus Jitsi's).
    fn config_form(&self) -> Element {
        let whois = Element::builder("field", NS_DATA)
            .attr(name("type"), "list-single")
            .attr(name("var"), "muc#roomconfig_whois")
            .attr(
                name("label"),
                "Addresses (JIDs) of room occupants may be viewed by:",
            )
            .append(option("Moderators only", "moderators"))
            .append(option("Anyone", "anyone"))
            .append(Element::builder("value", NS_DATA).append(self.whois.as_str()))
            .build();
        let mut form = Element::builder("x", NS_DATA)
            .attr(name("type"), "form")
            .append(
                Element::builder("title", NS_DATA)
                    .append(format!("Configuration for {}", self.jid)),
            )
            .append(
                Element::builder("instructions", NS_DATA)
                    .append("Complete and submit this form to configure the room."),
            )
            .append(form_field(
                "FORM_TYPE",
                Some("hidden"),
                None,
                Some("http://jabber.org/protocol/muc#roomconfig"),
            ))
            .append(form_field(
                "muc#roomconfig_roomname",
                Some("text-single"),
                Some("Title"),
                None,
            ))
            .append(form_field(
                "muc#roomconfig_persistentroom",
                Some("boolean"),
                Some("Persistent (room should remain even when it is empty)"),
                Some("0"),
            ))
            .append(form_field(
                "muc#roomconfig_publicroom",
                Some("boolean"),
                Some("Include room information in public lists"),
                Some("0"),
            ))
            .append(whois)
            .append(form_field(
                "muc#roomconfig_membersonly",
                Some("boolean"),
                Some("Only allow members to join"),
                Some("0"),
            ))
            .append(form_field(
                "muc#roomconfig_moderatedroom",
                Some("boolean"),
                Some("Moderated (require permission to speak)"),
                Some("0"),
            ));
        for f in self.jitsi_fields() {
            form = form.append(f);
        }
        Element::builder("query", NS_MUC_OWNER).append(form).build()
    }

    fn handle_owner(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element, query: &Element, get: bool) {
        let from = stanza.attr("from").unwrap_or_default();
        if self.affiliation(from) != Affiliation::Owner {
            ctx.send(error_reply(
                stanza,
                "auth",
                "forbidden",
                Some("Only owners can configure rooms"),
                None,
            ));
            return;
        }
        if get {
            ctx.send(iq_result(stanza, Some(self.config_form())));
            return;
        }
        let Some(child) = query.children().next() else {
            ctx.send(error_reply(stanza, "modify", "bad-request", None, None));
            return;
        };
        if child.name() == "destroy" {
            let new_jid = child.attr("jid").map(str::to_owned);
            let reason = child
                .children()
                .find(|c| c.name() == "reason")
                .map(|r| r.text());
            self.destroy(ctx, new_jid.as_deref(), reason.as_deref());
            ctx.send(iq_result(stanza, None));
        } else if child.is("x", NS_DATA) {
            self.process_form(ctx, stanza, child);
        } else {
            ctx.send(error_reply(
                stanza,
                "cancel",
                "service-unavailable",
                None,
                None,
            ));
        }
    }

    /// A submitted configuration form: only `muc#roomconfig_whois` has an
    /// effect; a change is announced with status 172/173.
    fn process_form(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element, form: &Element) {
        match form.attr("type") {
            Some("cancel") => {
                ctx.send(iq_result(stanza, None));
                return;
            }
            Some("submit") => {}
            _ => {
                ctx.send(error_reply(
                    stanza,
                    "cancel",
                    "bad-request",
                    Some("Not a submitted form"),
                    None,
                ));
                return;
            }
        }
        let mut announce = None;
        if form.children().next().is_some() {
            if form_value(form, "FORM_TYPE").as_deref()
                != Some("http://jabber.org/protocol/muc#roomconfig")
            {
                ctx.send(error_reply(
                    stanza,
                    "cancel",
                    "bad-request",
                    Some("Form is not of type room configuration"),
                    None,
                ));
                return;
            }
            let whois = match form_value(form, "muc#roomconfig_whois").as_deref() {
                Some("anyone") => Some(Whois::Anyone),
                Some("moderators") => Some(Whois::Moderators),
                _ => None,
            };
            if let Some(w) = whois.filter(|w| *w != self.whois) {
                self.whois = w;
                announce = Some(if w == Whois::Moderators { 173 } else { 172 });
            }
        }
        ctx.send(iq_result(stanza, None));
        if let Some(code) = announce {
            for o in &self.occupants {
                let msg = Element::builder("message", NS_CLIENT)
                    .attr(name("from"), self.jid.as_str())
                    .attr(name("to"), o.session.as_str())
                    .attr(name("type"), "groupchat")
                    .append(Element::builder("x", NS_MUC_USER).append(status(code)))
                    .build();
                ctx.send(msg);
            }
        }
    }

    /// `handle_admin_query_set_command`: affiliation or role changes.
    fn handle_admin_set(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element, query: &Element) {
        let Some(item) = query.children().next() else {
            ctx.send(error_reply(stanza, "cancel", "bad-request", None, None));
            return;
        };
        let mut jid = None;
        if let Some(raw) = item.attr("jid") {
            let Some(j) = normalize(raw) else {
                ctx.send(error_reply(stanza, "modify", "jid-malformed", None, None));
                return;
            };
            if resource(&j).is_some() {
                ctx.send(error_reply(
                    stanza,
                    "modify",
                    "jid-malformed",
                    Some("Bare JID expected, got full JID"),
                    None,
                ));
                return;
            }
            jid = Some(j);
        }
        let mut nick = item.attr("nick").map(str::to_owned);
        let affiliation = item.attr("affiliation");
        let role = item.attr("role");
        if jid.is_none() {
            if let Some(n) = &nick {
                let occupant_jid = format!("{}/{n}", self.jid);
                jid = self
                    .index_by_nick(&occupant_jid)
                    .map(|i| self.occupants[i].bare_jid.clone());
            }
        } else if role.is_some() && nick.is_none() {
            let j = jid.clone().unwrap_or_default();
            nick = self
                .occupants
                .iter()
                .find(|o| o.session == j)
                .and_then(|o| resource(&o.nick).map(str::to_owned));
        }
        let actor = stanza.attr("from").unwrap_or_default().to_owned();
        let reason = item
            .children()
            .find(|c| c.name() == "reason")
            .map(|r| r.text());
        let result = match (affiliation, role, &jid, &nick) {
            (Some(a), None, Some(j), _) => match Affiliation::parse(a) {
                Some(a) => self.set_affiliation(ctx, Some(&actor), j, a, reason.as_deref()),
                None => Err(("modify", "not-acceptable")),
            },
            (None, Some(r), _, Some(n)) => match Role::parse(r) {
                Some(r) => {
                    let occupant_jid = format!("{}/{n}", self.jid);
                    self.set_role(ctx, Some(&actor), &occupant_jid, r, reason.as_deref())
                }
                None => Err(("modify", "not-acceptable")),
            },
            _ => Err(("cancel", "bad-request")),
        };
        match result {
            Ok(()) => ctx.send(iq_result(stanza, None)),
            Err((kind, condition)) => {
                ctx.send(error_reply(stanza, kind, condition, None, None));
            }
        }
    }

    /// `handle_admin_query_get_command`: affiliation and role lists.
    fn handle_admin_get(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element, query: &Element) {
        let actor = stanza.attr("from").unwrap_or_default();
        let actor_aff = self.affiliation(actor);
        let item = query.children().next();
        let wanted_aff = item
            .and_then(|i| i.attr("affiliation"))
            .and_then(Affiliation::parse);
        let wanted_role = item.and_then(|i| i.attr("role")).and_then(Role::parse);
        let mut reply = Element::builder("query", NS_MUC_ADMIN).build();
        match (wanted_aff, wanted_role) {
            (Some(a), None) => {
                if actor_aff < Affiliation::Admin || actor_aff < a {
                    ctx.send(error_reply(stanza, "auth", "forbidden", None, None));
                    return;
                }
                for (j, _) in self.affiliations.iter().filter(|(_, x)| **x == a) {
                    reply.append_child(
                        Element::builder("item", NS_MUC_ADMIN)
                            .attr(name("affiliation"), a.as_str())
                            .attr(name("jid"), j.as_str())
                            .build(),
                    );
                }
            }
            (None, Some(r)) => {
                let actor_role = self
                    .index_by_real(actor)
                    .map(|i| self.occupants[i].role)
                    .unwrap_or(Role::None);
                if actor_role < Role::Moderator && actor_aff < Affiliation::Admin {
                    ctx.send(error_reply(stanza, "auth", "forbidden", None, None));
                    return;
                }
                for o in self.occupants.iter().filter(|o| o.role == r) {
                    reply.append_child(
                        Element::builder("item", NS_MUC_ADMIN)
                            .attr(name("affiliation"), self.affiliation(&o.bare_jid).as_str())
                            .attr(name("role"), o.role.as_str())
                            .attr(name("jid"), o.session.as_str())
                            .attr(name("nick"), resource(&o.nick).unwrap_or_default())
                            .build(),
                    );
                }
            }
            _ => {
                ctx.send(error_reply(stanza, "cancel", "bad-request", None, None));
                return;
            }
        }
        ctx.send(iq_result(stanza, Some(reply)));
    }

    /// A message to `room/nick`: a private message between occupants.
    pub(crate) fn handle_message_to_occupant(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element) {
        let from = stanza.attr("from").unwrap_or_default();
        let kind = stanza.attr("type");
        let Some(current) = self.index_by_real(from) else {
            if kind != Some("error") {
                ctx.send(error_reply(
                    stanza,
                    "cancel",
                    "not-acceptable",
                    Some("You are not currently connected to this chat"),
                    Some(&self.jid),
                ));
            }
            return;
        };
        if kind == Some("groupchat") {
            ctx.send(error_reply(
                stanza,
                "modify",
                "bad-request",
                None,
                Some(&self.jid),
            ));
            return;
        }
        if kind == Some("error") {
            return;
        }
        let to = stanza.attr("to").unwrap_or_default();
        let Some(t) = self.index_by_nick(to) else {
            ctx.send(error_reply(
                stanza,
                "cancel",
                "item-not-found",
                Some("Recipient not in room"),
                Some(&self.jid),
            ));
            return;
        };
        let mut fwd = Element::builder("message", NS_CLIENT).build();
        for ((ns, attr), value) in stanza.attrs() {
            fwd.attrs_mut()
                .insert(ns.clone(), attr.clone(), value.clone());
        }
        for c in stanza.children() {
            if !(c.is("x", NS_MUC) || c.is("x", NS_MUC_USER)) {
                fwd.append_child(c.clone());
            }
        }
        fwd.append_child(Element::builder("x", NS_MUC_USER).build());
        set_attr(&mut fwd, "from", Some(&self.occupants[current].nick));
        set_attr(&mut fwd, "to", Some(&self.occupants[t].session));
        ctx.send(fwd);
    }

    /// A message to the bare room: groupchat is broadcast, anything else is
    /// unhandled.
    pub(crate) fn handle_message_to_room(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element) {
        match stanza.attr("type") {
            Some("groupchat") => {}
            Some("error") => return,
            _ => {
                if may_bounce(stanza) && stanza.name() == "message" {
                    ctx.send(error_reply(
                        stanza,
                        "cancel",
                        "service-unavailable",
                        None,
                        None,
                    ));
                }
                return;
            }
        }
        let from = stanza.attr("from").unwrap_or_default();
        let role = self
            .index_by_real(from)
            .map(|i| self.occupants[i].role)
            .unwrap_or(Role::None);
        if role == Role::None {
            ctx.send(error_reply(
                stanza,
                "cancel",
                "not-acceptable",
                Some("You are not currently connected to this chat"),
                None,
            ));
            return;
        }
        if role <= Role::Visitor {
            ctx.send(error_reply(
                stanza,
                "auth",
                "forbidden",
                Some("You do not currently have permission to speak in this chat"),
                None,
            ));
            return;
        }
        let nick = self
            .index_by_real(from)
            .map(|i| self.occupants[i].nick.clone())
            .unwrap_or_default();
        for o in &self.occupants {
            let mut m = stanza.clone();
            set_attr(&mut m, "from", Some(&nick));
            set_attr(&mut m, "to", Some(&o.session));
            ctx.send(m);
        }
    }
}

/// An `<option label=…><value>…</value></option>` of a list field.
fn option(label: &str, value: &str) -> Element {
    Element::builder("option", NS_DATA)
        .attr(name("label"), label)
        .append(Element::builder("value", NS_DATA).append(value))
        .build()
}

/// Splits a mangled IQ id into (original requester's recipient session,
/// original id, requester tag).
fn decode_id(id: &str) -> Option<(String, String, Vec<u8>)> {
    let raw = BASE64.decode(id).ok()?;
    let first = raw.iter().position(|b| *b == 0)?;
    let second = first + 1 + raw[first + 1..].iter().position(|b| *b == 0)?;
    let jid = String::from_utf8(raw[..first].to_vec()).ok()?;
    let orig = String::from_utf8(raw[first + 1..second].to_vec()).ok()?;
    let tag = raw[second + 1..].to_vec();
    if jid.is_empty() || tag.is_empty() {
        return None;
    }
    Some((jid, orig, tag))
}
