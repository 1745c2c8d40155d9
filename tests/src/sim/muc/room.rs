//! One room: occupants, joins, leaves and presence broadcast, roles and
//! affiliations (Prosody's `muc.lib.lua`, single session per occupant).

use std::collections::{BTreeMap, BTreeSet};

use focus_proto::rng::FocusRng;
use minidom::Element;

use super::{Affiliation, MucCtx, MucOptions, Role, Whois};
use crate::sim::stanza::{
    NS_CLIENT, NS_MUC, NS_MUC_USER, bare, error_reply, may_bounce, name, resource, set_attr,
    split_jid,
};

/// One occupant as the room stores it.
#[derive(Debug, Clone)]
pub(crate) struct Occupant {
    /// The occupant JID, `room@muc/nick`.
    pub(crate) nick: String,
    /// The real bare JID.
    pub(crate) bare_jid: String,
    /// The real full JID of its (only) session.
    pub(crate) session: String,
    /// `Role::None` once it left.
    pub(crate) role: Role,
    /// Its last presence, without MUC `x` children, `from` = occupant JID.
    pub(crate) presence: Element,
}

/// An occupant as tests see it.
#[derive(Debug, Clone, PartialEq)]
pub struct OccupantView {
    /// The nickname (resource of the occupant JID).
    pub nick: String,
    /// The occupant JID.
    pub occupant_jid: String,
    /// The real full JID.
    pub jid: String,
    /// Its affiliation (server admins are owners).
    pub affiliation: Affiliation,
    /// Its role.
    pub role: Role,
    /// Its last presence as stored by the room.
    pub presence: Element,
}

/// The `x` children that precede the `item`: for everyone (`base`) and,
/// when different, for the occupant itself.
#[derive(Debug, Default)]
pub(crate) struct XParts {
    pub(crate) base: Vec<Element>,
    pub(crate) self_only: Option<Vec<Element>>,
}

impl XParts {
    pub(crate) fn both(children: Vec<Element>) -> Self {
        Self {
            base: children,
            self_only: None,
        }
    }
}

/// A `<status code='…'/>` of `muc#user`.
pub(crate) fn status(code: u16) -> Element {
    Element::builder("status", NS_MUC_USER)
        .attr(name("code"), code.to_string())
        .build()
}

/// A room of the simulated MUC.
#[derive(Debug, Clone)]
pub struct Room {
    pub(crate) jid: String,
    pub(crate) whois: Whois,
    pub(crate) meeting_id: String,
    pub(crate) breakout: bool,
    pub(crate) main_room: Option<String>,
    pub(crate) affiliations: BTreeMap<String, Affiliation>,
    /// In join order.
    pub(crate) occupants: Vec<Occupant>,
    /// For mangling the ids of IQs between occupants.
    pub(crate) salt: u64,
    pub(crate) destroyed: bool,
    /// The server's admins: owners of every room.
    pub(crate) admins: BTreeSet<String>,
}

impl Room {
    pub(crate) fn new(
        jid: String,
        options: &MucOptions,
        main_room: Option<String>,
        rng: &mut FocusRng,
        admins: BTreeSet<String>,
    ) -> Self {
        Self {
            whois: if options.public_jids {
                Whois::Anyone
            } else {
                Whois::Moderators
            },
            // Jitsi's muc_meeting_id: a UUID per room.
            meeting_id: rng.uuid(),
            breakout: options.breakout,
            main_room,
            affiliations: BTreeMap::new(),
            occupants: Vec::new(),
            salt: rng.next_u64(),
            destroyed: false,
            admins,
            jid,
        }
    }

    /// The room's bare JID.
    pub fn jid(&self) -> &str {
        &self.jid
    }

    /// Who sees real JIDs.
    pub fn whois(&self) -> Whois {
        self.whois
    }

    /// The meeting id Jitsi's `muc_meeting_id` gave the room.
    pub fn meeting_id(&self) -> &str {
        &self.meeting_id
    }

    /// Whether it belongs to a breakout-rooms component.
    pub fn is_breakout(&self) -> bool {
        self.breakout
    }

    /// The main room of a breakout room, when registered.
    pub fn main_room(&self) -> Option<&str> {
        self.main_room.as_deref()
    }

    /// How many occupants are in the room.
    pub fn len(&self) -> usize {
        self.occupants.len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.occupants.is_empty()
    }

    /// The occupants in join order.
    pub fn occupants(&self) -> Vec<OccupantView> {
        self.occupants.iter().map(|o| self.view(o)).collect()
    }

    /// The occupant with nickname `nick`.
    pub fn occupant(&self, nick: &str) -> Option<OccupantView> {
        self.occupants
            .iter()
            .find(|o| resource(&o.nick) == Some(nick))
            .map(|o| self.view(o))
    }

    /// The occupant whose session is the real full JID `jid`.
    pub fn occupant_by_jid(&self, jid: &str) -> Option<OccupantView> {
        self.occupants
            .iter()
            .find(|o| o.session == jid)
            .map(|o| self.view(o))
    }

    fn view(&self, o: &Occupant) -> OccupantView {
        OccupantView {
            nick: resource(&o.nick).unwrap_or_default().to_owned(),
            occupant_jid: o.nick.clone(),
            jid: o.session.clone(),
            affiliation: self.affiliation(&o.bare_jid),
            role: o.role,
            presence: o.presence.clone(),
        }
    }

    /// True once the room is empty or destroyed: the service forgets it.
    pub(crate) fn is_finished(&self) -> bool {
        self.destroyed || self.occupants.is_empty()
    }

    /// Prosody's `get_affiliation` of `jid`, with the server's admins as
    /// owners (`component_admins_as_room_owners`).
    pub fn affiliation(&self, jid: &str) -> Affiliation {
        if self.admins.contains(bare(jid)) {
            return Affiliation::Owner;
        }
        let (_, host, _) = split_jid(jid);
        match self.affiliations.get(bare(jid)) {
            Some(a) => *a,
            None if self.affiliations.get(host) == Some(&Affiliation::Outcast) => {
                Affiliation::Outcast
            }
            None => Affiliation::None,
        }
    }

    /// `muc-get-default-role`.
    pub(crate) fn default_role(affiliation: Affiliation) -> Role {
        match affiliation {
            Affiliation::Owner | Affiliation::Admin => Role::Moderator,
            Affiliation::Member | Affiliation::None => Role::Participant,
            Affiliation::Outcast => Role::None,
        }
    }

    pub(crate) fn index_by_nick(&self, occupant_jid: &str) -> Option<usize> {
        self.occupants.iter().position(|o| o.nick == occupant_jid)
    }

    pub(crate) fn index_by_real(&self, real_jid: &str) -> Option<usize> {
        self.occupants.iter().position(|o| o.session == real_jid)
    }

    fn can_see_real_jids(&self, role: Role) -> bool {
        match self.whois {
            Whois::Anyone => true,
            Whois::Moderators => role >= Role::Moderator,
        }
    }

    /// `is_anonymous_for`: whether `jid` sees others without real JIDs.
    pub(crate) fn is_anonymous_for(&self, jid: &str) -> bool {
        if self.whois == Whois::Anyone {
            return false;
        }
        if matches!(
            self.affiliation(jid),
            Affiliation::Admin | Affiliation::Owner
        ) {
            return false;
        }
        !self
            .index_by_real(jid)
            .is_some_and(|i| self.can_see_real_jids(self.occupants[i].role))
    }

    /// Stores `stanza` as the occupant's presence: MUC `x` children removed,
    /// `from` = occupant JID, `to` = real JID.
    pub(crate) fn set_session(occupant: &mut Occupant, stanza: &Element) {
        let mut pr = Element::builder(stanza.name(), NS_CLIENT).build();
        for ((ns, attr), value) in stanza.attrs() {
            pr.attrs_mut()
                .insert(ns.clone(), attr.clone(), value.clone());
        }
        for child in stanza.children() {
            if child.is("x", NS_MUC) || child.is("x", NS_MUC_USER) {
                continue;
            }
            pr.append_child(child.clone());
        }
        set_attr(&mut pr, "from", Some(&occupant.nick));
        set_attr(&mut pr, "to", Some(&occupant.session));
        occupant.presence = pr;
    }

    /// An `<item/>` for `occupant` (`jid` only when not anonymous).
    fn item(
        &self,
        occupant: &Occupant,
        with_jid: bool,
        actor_nick: Option<&str>,
        actor_jid: Option<&str>,
        reason: Option<&str>,
    ) -> Element {
        let affiliation = self.affiliation(&occupant.bare_jid);
        let mut item = Element::builder("item", NS_MUC_USER)
            .attr(name("affiliation"), affiliation.as_str())
            .attr(name("role"), occupant.role.as_str());
        if with_jid {
            item = item.attr(name("jid"), occupant.session.as_str());
        }
        if actor_nick.is_some() || actor_jid.is_some() {
            let mut actor = Element::builder("actor", NS_MUC_USER);
            if let Some(n) = actor_nick {
                actor = actor.attr(name("nick"), n);
            }
            if let Some(j) = actor_jid {
                actor = actor.attr(name("jid"), j);
            }
            item = item.append(actor);
        }
        if let Some(r) = reason {
            item = item.append(Element::builder("reason", NS_MUC_USER).append(r));
        }
        item.build()
    }

    /// `base` plus `<x xmlns=muc#user>children item</x>`.
    fn with_x(base: &Element, children: &[Element], item: Element) -> Element {
        let mut p = base.clone();
        let mut x = Element::builder("x", NS_MUC_USER).build();
        for c in children {
            x.append_child(c.clone());
        }
        x.append_child(item);
        p.append_child(x);
        p
    }

    /// Prosody's `publicise_occupant_status`: tells every other occupant
    /// about `occupant` (with or without its real JID, as whois allows),
    /// then the occupant itself (with status 110).
    pub(crate) fn publicise(
        &self,
        ctx: &mut MucCtx<'_>,
        occupant: &Occupant,
        x: &XParts,
        actor: Option<&str>,
        reason: Option<&str>,
        prev_role: Role,
    ) {
        let base = if occupant.role != Role::None
            || occupant.presence.attr("type") == Some("unavailable")
        {
            occupant.presence.clone()
        } else {
            // Leaving without an unavailable presence of its own.
            Element::builder("presence", NS_CLIENT)
                .attr(name("from"), occupant.nick.as_str())
                .attr(name("type"), "unavailable")
                .build()
        };
        let actor_nick = actor
            .and_then(|a| self.index_by_real(a))
            .and_then(|i| resource(&self.occupants[i].nick).map(str::to_owned));
        let actor_nick = actor_nick.as_deref();
        let full = Self::with_x(
            &base,
            &x.base,
            self.item(occupant, true, actor_nick, actor, reason),
        );
        let anon = Self::with_x(
            &base,
            &x.base,
            self.item(occupant, false, actor_nick, None, reason),
        );
        let self_children = x.self_only.as_ref().unwrap_or(&x.base);
        let self_p = Self::with_x(
            &base,
            self_children,
            self.item(occupant, true, actor_nick, None, reason),
        );
        for other in &self.occupants {
            if other.nick == occupant.nick {
                continue;
            }
            let p = if self.can_see_real_jids(other.role) {
                &full
            } else if other.bare_jid == occupant.bare_jid {
                &self_p
            } else {
                &anon
            };
            if occupant.role != Role::None {
                let mut p = p.clone();
                set_attr(&mut p, "to", Some(&other.session));
                ctx.send(p);
            } else if prev_role != Role::None {
                let mut p = p.clone();
                set_attr(&mut p, "type", Some("unavailable"));
                set_attr(&mut p, "to", Some(&other.session));
                ctx.send(p);
            }
        }
        let mut own = self_p;
        if let Some(x) = own.children_mut().filter(|c| c.is("x", NS_MUC_USER)).last() {
            x.append_child(status(110));
        }
        set_attr(&mut own, "to", Some(&occupant.session));
        ctx.send(own);
    }

    /// `send_occupant_list`: everyone's presence to `to` (a real full JID),
    /// except its own.
    pub(crate) fn send_occupant_list(
        &self,
        ctx: &mut MucCtx<'_>,
        to: &str,
        skip_bare: Option<&str>,
    ) {
        let anonymous = self.is_anonymous_for(to);
        for o in &self.occupants {
            if o.session == to || skip_bare == Some(o.bare_jid.as_str()) {
                continue;
            }
            let own = bare(to) == o.bare_jid;
            let item = self.item(o, !anonymous || own, None, None, None);
            let mut p = Self::with_x(&o.presence, &[], item);
            set_attr(&mut p, "to", Some(to));
            ctx.send(p);
        }
    }

    /// The first presence to a new room: the creator becomes owner and gets
    /// status 201 (and 100 in a non-anonymous room).
    pub(crate) fn handle_first_presence(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element) {
        let real = stanza.attr("from").unwrap_or_default().to_owned();
        // muc-room-pre-create: the creator owns the room.
        self.affiliations
            .insert(bare(&real).to_owned(), Affiliation::Owner);
        let to = stanza.attr("to").unwrap_or_default();
        if !self.pre_join_ok(ctx, stanza, to) {
            self.destroyed = true;
            return;
        }
        let mut occupant = self.new_occupant(&real, to);
        Self::set_session(&mut occupant, stanza);
        let mut x = vec![status(201)];
        if self.whois == Whois::Anyone {
            x.push(status(100));
        }
        self.occupants.push(occupant.clone());
        self.publicise(ctx, &occupant, &XParts::both(x), None, None, Role::None);
    }

    fn new_occupant(&self, real: &str, occupant_jid: &str) -> Occupant {
        let affiliation = self.affiliation(real);
        Occupant {
            nick: occupant_jid.to_owned(),
            bare_jid: bare(real).to_owned(),
            session: real.to_owned(),
            role: Self::default_role(affiliation),
            presence: Element::builder("presence", NS_CLIENT).build(),
        }
    }

    /// `muc-occupant-pre-join` checks: banned users and blank nicknames.
    fn pre_join_ok(&self, ctx: &mut MucCtx<'_>, stanza: &Element, occupant_jid: &str) -> bool {
        let real = stanza.attr("from").unwrap_or_default();
        if self.affiliation(real) == Affiliation::Outcast {
            ctx.send(error_reply(
                stanza,
                "auth",
                "forbidden",
                None,
                Some(&self.jid),
            ));
            return false;
        }
        let nick = resource(occupant_jid).unwrap_or_default();
        if nick.trim().is_empty() {
            ctx.send(error_reply(
                stanza,
                "modify",
                "not-allowed",
                Some("Invisible Nicknames are forbidden"),
                Some(&self.jid),
            ));
            return false;
        }
        true
    }

    /// Presence to the bare room JID: treated as sent to the sender's
    /// current nickname (a Prosody compatibility hack), else unhandled.
    pub(crate) fn handle_presence_to_room(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element) {
        let from = stanza.attr("from").unwrap_or_default();
        match self.index_by_real(from) {
            Some(i) => {
                let mut redirected = stanza.clone();
                let nick = self.occupants[i].nick.clone();
                set_attr(&mut redirected, "to", Some(&nick));
                self.handle_presence_to_occupant(ctx, &redirected);
            }
            None if may_bounce(stanza) => {
                ctx.send(error_reply(
                    stanza,
                    "cancel",
                    "service-unavailable",
                    None,
                    None,
                ));
            }
            None => {}
        }
    }

    /// Presence to `room/nick`: join, update, leave (`handle_normal_presence`).
    pub(crate) fn handle_presence_to_occupant(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element) {
        let real = stanza.attr("from").unwrap_or_default().to_owned();
        let to = stanza.attr("to").unwrap_or_default().to_owned();
        let kind = stanza.attr("type");
        let orig = self.index_by_real(&real);
        let muc_x = stanza.has_child("x", NS_MUC);
        match kind {
            None | Some("unavailable") => {}
            Some("error") => {
                // handle_kickable: an occupant bouncing presence is removed.
                if let Some(i) = orig {
                    self.kick_for_error(ctx, i, stanza);
                }
                return;
            }
            // Probes are not simulated; other types are bad requests.
            Some("probe") | Some("result") | Some("visible") | Some("invisible") => return,
            Some(_) => {
                ctx.send(error_reply(
                    stanza,
                    "modify",
                    "bad-request",
                    None,
                    Some(&self.jid),
                ));
                return;
            }
        }
        if orig.is_none() && !muc_x && kind.is_none() {
            ctx.send(error_reply(
                stanza,
                "cancel",
                "item-not-found",
                Some("You are not currently connected to this chat"),
                Some(&self.jid),
            ));
            return;
        }
        match (orig, kind) {
            (None, Some(_)) => {} // unavailable from someone not in the room
            (Some(i), Some(_)) => self.leave(ctx, i, stanza),
            (Some(i), None) if self.occupants[i].nick == to => self.update(ctx, i, stanza, muc_x),
            (Some(_), None) => {
                // Nickname changes are not simulated.
                ctx.send(error_reply(
                    stanza,
                    "modify",
                    "not-acceptable",
                    Some("Nickname changes are not supported by the simulation"),
                    Some(&self.jid),
                ));
            }
            (None, None) => self.join(ctx, stanza, &real, &to),
        }
    }

    fn join(&mut self, ctx: &mut MucCtx<'_>, stanza: &Element, real: &str, to: &str) {
        if self.index_by_nick(to).is_some() {
            // Another session holds this nickname. Prosody would make a
            // second session of the same bare JID share it; the simulation
            // refuses both cases with a conflict.
            ctx.send(error_reply(
                stanza,
                "cancel",
                "conflict",
                None,
                Some(&self.jid),
            ));
            return;
        }
        if !self.pre_join_ok(ctx, stanza, to) {
            return;
        }
        let mut occupant = self.new_occupant(real, to);
        Self::set_session(&mut occupant, stanza);
        self.occupants.push(occupant.clone());
        self.send_occupant_list(ctx, real, None);
        let mut own = Vec::new();
        if self.whois == Whois::Anyone {
            own.push(status(100));
        }
        let x = XParts {
            base: Vec::new(),
            self_only: Some(own),
        };
        self.publicise(ctx, &occupant, &x, None, None, Role::None);
    }

    fn update(&mut self, ctx: &mut MucCtx<'_>, i: usize, stanza: &Element, muc_x: bool) {
        Self::set_session(&mut self.occupants[i], stanza);
        let occupant = self.occupants[i].clone();
        if muc_x {
            // A join presence from an occupant: resynchronize it.
            self.send_occupant_list(ctx, &occupant.session, None);
        }
        let prev = occupant.role;
        self.publicise(ctx, &occupant, &XParts::default(), None, None, prev);
    }

    fn leave(&mut self, ctx: &mut MucCtx<'_>, i: usize, stanza: &Element) {
        let mut occupant = self.occupants.remove(i);
        let prev = occupant.role;
        occupant.role = Role::None;
        Self::set_session(&mut occupant, stanza);
        self.publicise(ctx, &occupant, &XParts::default(), None, None, prev);
    }

    fn kick_for_error(&mut self, ctx: &mut MucCtx<'_>, i: usize, stanza: &Element) {
        let condition = crate::sim::stanza::error_condition(stanza)
            .map(|c| c.replace('-', " "))
            .unwrap_or_else(|| "presence error".into());
        let mut occupant = self.occupants.remove(i);
        let prev = occupant.role;
        occupant.role = Role::None;
        let unavailable = Element::builder("presence", NS_CLIENT)
            .attr(name("type"), "unavailable")
            .append(Element::builder("status", NS_CLIENT).append(format!("Kicked: {condition}")))
            .build();
        Self::set_session(&mut occupant, &unavailable);
        self.publicise(
            ctx,
            &occupant,
            &XParts::both(vec![status(333)]),
            None,
            None,
            prev,
        );
    }
}
