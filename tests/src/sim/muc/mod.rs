//! A MUC service shaped like Prosody 0.12's `mod_muc` as docker-jitsi-meet
//! configures it (`restrict_room_creation = true`, `muc_room_locking =
//! false`, `muc_room_default_public_jids = true`, non-persistent rooms in
//! memory, admins own every room), plus the form fields Jitsi's Prosody
//! modules add (`muc_meeting_id`, `muc_breakout_rooms`).
//!
//! The code follows `plugins/muc/muc.lib.lua` and `mod_muc.lua` of Prosody
//! 0.12 closely (same checks, same error conditions, same stanza order and
//! status codes); what it leaves out is listed in [`super`]'s docs.

mod iq;
mod roles;
mod room;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use focus_proto::rng::FocusRng;
use minidom::Element;

use super::stanza::{NS_MUC, error_reply, may_bounce, split_jid};

pub use room::{OccupantView, Room};

/// An occupant's affiliation, ordered by rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Affiliation {
    /// Banned.
    Outcast,
    /// No affiliation.
    None,
    /// Member.
    Member,
    /// Admin.
    Admin,
    /// Owner.
    Owner,
}

impl Affiliation {
    /// The XEP-0045 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outcast => "outcast",
            Self::None => "none",
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// Parses a XEP-0045 name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "outcast" => Self::Outcast,
            "none" => Self::None,
            "member" => Self::Member,
            "admin" => Self::Admin,
            "owner" => Self::Owner,
            _ => return None,
        })
    }
}

/// An occupant's role, ordered by rank; `None` means not in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Not in the room (left, kicked).
    None,
    /// Visitor.
    Visitor,
    /// Participant.
    Participant,
    /// Moderator.
    Moderator,
}

impl Role {
    /// The XEP-0045 name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Visitor => "visitor",
            Self::Participant => "participant",
            Self::Moderator => "moderator",
        }
    }

    /// Parses a XEP-0045 name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => Self::None,
            "visitor" => Self::Visitor,
            "participant" => Self::Participant,
            "moderator" => Self::Moderator,
            _ => return None,
        })
    }
}

macro_rules! str_like {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }
    };
}
str_like!(Affiliation);
str_like!(Role);

/// Who may see occupants' real JIDs (`muc#roomconfig_whois`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whois {
    /// Moderators only (semi-anonymous room).
    Moderators,
    /// Everyone (non-anonymous room).
    Anyone,
}

impl Whois {
    /// The form value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Moderators => "moderators",
            Self::Anyone => "anyone",
        }
    }
}

/// Settings of one MUC component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MucOptions {
    /// `restrict_room_creation = true`: only server admins create rooms.
    pub restrict_room_creation: bool,
    /// `muc_room_default_public_jids`: new rooms start with whois=anyone.
    pub public_jids: bool,
    /// A breakout-rooms component (Jitsi's `muc_breakout_rooms`): rooms
    /// report `muc#roominfo_isbreakout` and their main room.
    pub breakout: bool,
    /// The component's name in disco#info.
    pub name: String,
}

impl Default for MucOptions {
    /// As `scripts/prosody/start.sh` configures its MUC components.
    fn default() -> Self {
        Self {
            restrict_room_creation: true,
            public_jids: true,
            breakout: false,
            name: "Prosody Chatrooms".into(),
        }
    }
}

impl MucOptions {
    /// A breakout-rooms component.
    pub fn breakout() -> Self {
        Self {
            breakout: true,
            ..Self::default()
        }
    }
}

/// What the MUC needs from the server while it handles a stanza.
pub(crate) struct MucCtx<'a> {
    /// Stanzas to route (each has `from` and `to`).
    pub(crate) out: &'a mut Vec<Element>,
    /// For meeting ids and IQ-id salts.
    pub(crate) rng: &'a mut FocusRng,
    /// Bare JIDs of the server's admins (owners of every room).
    pub(crate) admins: &'a BTreeSet<String>,
}

impl MucCtx<'_> {
    fn send(&mut self, stanza: Element) {
        self.out.push(stanza);
    }

    fn is_admin(&self, jid: &str) -> bool {
        self.admins.contains(super::stanza::bare(jid))
    }
}

/// One MUC component and its rooms.
#[derive(Debug, Clone)]
pub struct MucService {
    host: String,
    options: MucOptions,
    rooms: BTreeMap<String, Room>,
    /// Breakout room → main room, as Jitsi's breakout module maps them.
    main_rooms: BTreeMap<String, String>,
}

impl MucService {
    /// A service at `host`.
    pub fn new(host: impl Into<String>, options: MucOptions) -> Self {
        Self {
            host: host.into(),
            options,
            rooms: BTreeMap::new(),
            main_rooms: BTreeMap::new(),
        }
    }

    /// The component's domain.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Its settings.
    pub fn options(&self) -> &MucOptions {
        &self.options
    }

    /// The live room `jid` (bare), if any.
    pub fn room(&self, jid: &str) -> Option<&Room> {
        self.rooms.get(jid)
    }

    /// All live rooms, by JID.
    pub fn rooms(&self) -> impl Iterator<Item = &Room> {
        self.rooms.values()
    }

    /// Records that breakout room `breakout` belongs to `main` (what Jitsi's
    /// breakout module does when a moderator adds a breakout room).
    pub fn register_breakout_room(&mut self, breakout: &str, main: &str) {
        self.main_rooms.insert(breakout.to_owned(), main.to_owned());
    }

    /// Handles a stanza addressed to this component (`from` stamped, `to`
    /// normalized).
    pub(crate) fn handle(&mut self, ctx: &mut MucCtx<'_>, stanza: Element) {
        let to = stanza.attr("to").unwrap_or_default().to_owned();
        let (node, _, resource) = split_jid(&to);
        let Some(node) = node else {
            self.handle_host(ctx, &stanza);
            return;
        };
        let room_jid = format!("{node}@{}", self.host);
        let Some(room) = self.rooms.get_mut(&room_jid) else {
            self.handle_no_room(ctx, room_jid, stanza);
            return;
        };
        match (stanza.name(), resource.is_some()) {
            ("presence", true) => room.handle_presence_to_occupant(ctx, &stanza),
            ("presence", false) => room.handle_presence_to_room(ctx, &stanza),
            ("iq", true) => room.handle_iq_to_occupant(ctx, &stanza),
            ("iq", false) => room.handle_iq_to_room(ctx, &stanza),
            ("message", true) => room.handle_message_to_occupant(ctx, &stanza),
            _ => room.handle_message_to_room(ctx, &stanza),
        }
        if room.is_finished() {
            // Non-persistent room: gone with its last occupant, or destroyed.
            self.rooms.remove(&room_jid);
        }
    }

    /// A stanza to a room that does not exist: a join presence creates it
    /// (subject to `restrict_room_creation`), anything else is answered
    /// `item-not-found`.
    fn handle_no_room(&mut self, ctx: &mut MucCtx<'_>, room_jid: String, stanza: Element) {
        let join = stanza.name() == "presence"
            && stanza.attr("type").is_none()
            && stanza.has_child("x", NS_MUC);
        if !join {
            if may_bounce(&stanza) {
                ctx.send(error_reply(
                    &stanza,
                    "cancel",
                    "item-not-found",
                    None,
                    Some(&self.host),
                ));
            }
            return;
        }
        let from = stanza.attr("from").unwrap_or_default();
        if self.options.restrict_room_creation && !ctx.is_admin(from) {
            ctx.send(error_reply(
                &stanza,
                "cancel",
                "not-allowed",
                Some("Room creation is restricted"),
                Some(&self.host),
            ));
            return;
        }
        let main_room = self.main_rooms.get(&room_jid).cloned();
        let admins = ctx.admins.clone();
        let mut room = Room::new(room_jid.clone(), &self.options, main_room, ctx.rng, admins);
        room.handle_first_presence(ctx, &stanza);
        if !room.is_finished() {
            self.rooms.insert(room_jid, room);
        }
    }

    /// Removes `room` as `destroy` would (harness use).
    pub(crate) fn destroy(
        &mut self,
        ctx: &mut MucCtx<'_>,
        room: &str,
        reason: Option<&str>,
    ) -> bool {
        match self.rooms.remove(room) {
            Some(mut r) => {
                r.destroy(ctx, None, reason);
                true
            }
            None => false,
        }
    }

    /// Kicks `nick` from `room` as the server would (no actor).
    pub(crate) fn kick(
        &mut self,
        ctx: &mut MucCtx<'_>,
        room: &str,
        nick: &str,
        reason: Option<&str>,
    ) -> bool {
        let Some(r) = self.rooms.get_mut(room) else {
            return false;
        };
        let occupant = format!("{room}/{nick}");
        let done = r.set_role(ctx, None, &occupant, Role::None, reason).is_ok();
        if r.is_finished() {
            self.rooms.remove(room);
        }
        done
    }
}
