//! The conference MUC (XEP-0045) as the focus uses it: joining and leaving,
//! the owner configuration form, affiliation grants, and the roles of
//! occupants (muc.md sections 2 to 4).

use jid::{BareJid, FullJid, Jid};
use minidom::Element;

use super::error::{IqKind, iq_request};
use super::{ParseError, java_bool, owned_attr};
use crate::xml::ncname;
use crate::xmpp::ns;

/// XEP-0045: the join element `<x/>`.
pub const NS_MUC: &str = "http://jabber.org/protocol/muc";
/// XEP-0045: occupant information in presence (`<x><item/><status/></x>`).
pub const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";
/// XEP-0045: owner queries (room configuration, destroy).
pub const NS_MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
/// XEP-0045: admin queries (affiliation and role changes).
pub const NS_MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
/// XEP-0004 data forms.
pub const NS_DATA_FORMS: &str = "jabber:x:data";
/// The `FORM_TYPE` of a room configuration form.
pub const FORM_TYPE_ROOMCONFIG: &str = "http://jabber.org/protocol/muc#roomconfig";

/// A long-lived MUC affiliation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Affiliation {
    /// `owner`
    Owner,
    /// `admin`
    Admin,
    /// `member`
    Member,
    /// `outcast`
    Outcast,
    /// `none`
    None,
}

impl Affiliation {
    /// The attribute value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Affiliation::Owner => "owner",
            Affiliation::Admin => "admin",
            Affiliation::Member => "member",
            Affiliation::Outcast => "outcast",
            Affiliation::None => "none",
        }
    }

    /// Reads an attribute value (exact).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "owner" => Affiliation::Owner,
            "admin" => Affiliation::Admin,
            "member" => Affiliation::Member,
            "outcast" => Affiliation::Outcast,
            "none" => Affiliation::None,
            _ => return None,
        })
    }
}

/// A MUC role (per visit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `moderator`
    Moderator,
    /// `participant`
    Participant,
    /// `visitor`
    Visitor,
    /// `none`
    None,
}

impl Role {
    /// The attribute value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Moderator => "moderator",
            Role::Participant => "participant",
            Role::Visitor => "visitor",
            Role::None => "none",
        }
    }

    /// Reads an attribute value (exact).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "moderator" => Role::Moderator,
            "participant" => Role::Participant,
            "visitor" => Role::Visitor,
            "none" => Role::None,
            _ => return None,
        })
    }
}

/// Jicofo's view of an occupant's rights, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberRole {
    /// May only watch.
    Visitor,
    /// May send.
    Participant,
    /// May moderate.
    Moderator,
    /// Owns the room.
    Owner,
}

impl MemberRole {
    /// Affiliation `owner` is [`Owner`](MemberRole::Owner), `admin` is
    /// [`Moderator`](MemberRole::Moderator); otherwise role `moderator` is
    /// Moderator, `participant` Participant and anything else Visitor.
    pub fn from_muc(affiliation: Affiliation, role: Role) -> Self {
        match (affiliation, role) {
            (Affiliation::Owner, _) => MemberRole::Owner,
            (Affiliation::Admin, _) => MemberRole::Moderator,
            (_, Role::Moderator) => MemberRole::Moderator,
            (_, Role::Participant) => MemberRole::Participant,
            _ => MemberRole::Visitor,
        }
    }

    /// Owner or moderator.
    pub fn has_moderator_rights(self) -> bool {
        self >= MemberRole::Moderator
    }
}

/// The `<item/>` of an occupant's `muc#user` presence extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MucItem {
    /// `affiliation`; missing or unknown reads as `none`.
    pub affiliation: Affiliation,
    /// `role`; missing or unknown reads as `none`.
    pub role: Role,
    /// `jid`: the occupant's real JID (full, or bare if the server says so);
    /// `None` when absent or not a valid JID.
    pub jid: Option<Jid>,
    /// `nick`.
    pub nick: Option<String>,
}

impl MucItem {
    /// Reads an `<item/>` (its name and namespace are not checked).
    pub fn parse(item: &Element) -> Self {
        Self {
            affiliation: item
                .attr("affiliation")
                .and_then(Affiliation::parse)
                .unwrap_or(Affiliation::None),
            role: item
                .attr("role")
                .and_then(Role::parse)
                .unwrap_or(Role::None),
            jid: item.attr("jid").and_then(|j| Jid::new(j).ok()),
            nick: owned_attr(item, "nick"),
        }
    }

    /// The `<item/>` in `muc#user`, as a MUC service writes it.
    pub fn to_element(&self) -> Element {
        let mut item = Element::builder("item", NS_MUC_USER)
            .attr(ncname("affiliation"), self.affiliation.as_str())
            .attr(ncname("role"), self.role.as_str());
        if let Some(jid) = &self.jid {
            item = item.attr(ncname("jid"), jid.as_str());
        }
        if let Some(nick) = &self.nick {
            item = item.attr(ncname("nick"), nick.as_str());
        }
        item.build()
    }
}

/// The join presence: `<presence to='room/nick'><x xmlns=muc/></presence>`.
pub fn join_presence(occupant: &FullJid) -> Element {
    Element::builder("presence", ns::CLIENT)
        .attr(ncname("to"), occupant.as_str())
        .append(Element::builder("x", NS_MUC))
        .build()
}

/// The leave presence: `<presence to='room/nick' type='unavailable'/>`.
pub fn leave_presence(occupant: &FullJid) -> Element {
    Element::builder("presence", ns::CLIENT)
        .attr(ncname("to"), occupant.as_str())
        .attr(ncname("type"), "unavailable")
        .build()
}

/// Asks for the room's configuration form: an IQ `get` with an empty
/// `muc#owner` query.
pub fn owner_form_request(room: &BareJid, id: &str) -> Element {
    iq_request(
        IqKind::Get,
        id,
        room.as_str(),
        Element::builder("query", NS_MUC_OWNER).build(),
    )
}

/// What the focus reads from the room configuration form (muc.md section 2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomConfigForm {
    /// `muc#roominfo_meetingId`; blank is `None`.
    pub meeting_id: Option<String>,
    /// `muc#roominfo_isbreakout`.
    pub is_breakout: bool,
    /// `muc#roominfo_breakout_main_room`, only for a breakout room; blank is
    /// `None`.
    pub breakout_main_room: Option<String>,
    /// `muc#roominfo_conference_presets_service_enabled`.
    pub presets_service_enabled: bool,
}

/// The data form field names read into [`RoomConfigForm`].
pub mod fields {
    /// The meeting id (Prosody module `muc_meeting_id`).
    pub const MEETING_ID: &str = "muc#roominfo_meetingId";
    /// Whether the room is a breakout room.
    pub const IS_BREAKOUT: &str = "muc#roominfo_isbreakout";
    /// A breakout room's main room.
    pub const BREAKOUT_MAIN_ROOM: &str = "muc#roominfo_breakout_main_room";
    /// Whether to wait for room metadata before counting the room joined.
    pub const PRESETS_SERVICE_ENABLED: &str = "muc#roominfo_conference_presets_service_enabled";
    /// Who may see occupants' real JIDs.
    pub const WHOIS: &str = "muc#roomconfig_whois";
}

/// Reads the configuration form from the IQ result answering
/// [`owner_form_request`]: `iq/query(muc#owner)/x(jabber:x:data)` fields.
/// Blank strings are `None`; booleans are `true` (any case) or `1`.
pub fn parse_owner_form(iq_result: &Element) -> Result<RoomConfigForm, ParseError> {
    if iq_result.name() != "iq" {
        return Err(ParseError::WrongElement { expected: "iq" });
    }
    let query = iq_result
        .get_child("query", NS_MUC_OWNER)
        .ok_or(ParseError::MissingChild("query"))?;
    let form = query
        .get_child("x", NS_DATA_FORMS)
        .ok_or(ParseError::MissingChild("x"))?;
    let value = |var: &str| -> Option<String> {
        let field = form
            .children()
            .find(|f| f.is("field", NS_DATA_FORMS) && f.attr("var") == Some(var))?;
        let value = field.get_child("value", NS_DATA_FORMS)?.text();
        (!value.trim().is_empty()).then_some(value)
    };
    let flag = |var: &str| value(var).is_some_and(|v| java_bool(v.trim()) || v.trim() == "1");
    let is_breakout = flag(fields::IS_BREAKOUT);
    Ok(RoomConfigForm {
        meeting_id: value(fields::MEETING_ID),
        is_breakout,
        breakout_main_room: if is_breakout {
            value(fields::BREAKOUT_MAIN_ROOM)
        } else {
            None
        },
        presets_service_enabled: flag(fields::PRESETS_SERVICE_ENABLED),
    })
}

/// A `<field var=…><value>…</value></field>`, with an optional `type`.
fn form_field(var: &str, kind: Option<&str>, value: &str) -> Element {
    let mut field = Element::builder("field", NS_DATA_FORMS).attr(ncname("var"), var);
    if let Some(kind) = kind {
        field = field.attr(ncname("type"), kind);
    }
    field
        .append(Element::builder("value", NS_DATA_FORMS).append(value))
        .build()
}

/// Submits the room configuration: a `submit` form with only `FORM_TYPE`
/// (`muc#roomconfig`) and `muc#roomconfig_whois` = `anyone`, so the room is
/// non-anonymous.
pub fn owner_form_submit(room: &BareJid, id: &str) -> Element {
    let form = Element::builder("x", NS_DATA_FORMS)
        .attr(ncname("type"), "submit")
        .append(form_field(
            "FORM_TYPE",
            Some("hidden"),
            FORM_TYPE_ROOMCONFIG,
        ))
        .append(form_field(fields::WHOIS, None, "anyone"));
    iq_request(
        IqKind::Set,
        id,
        room.as_str(),
        Element::builder("query", NS_MUC_OWNER).append(form).build(),
    )
}

/// Grants `affiliation` to the real JID `jid`: an IQ `set` with a
/// `muc#admin` `<item affiliation=… jid=…/>`.
pub fn grant_affiliation(
    room: &BareJid,
    id: &str,
    jid: &BareJid,
    affiliation: Affiliation,
) -> Element {
    let item = Element::builder("item", NS_MUC_ADMIN)
        .attr(ncname("affiliation"), affiliation.as_str())
        .attr(ncname("jid"), jid.as_str());
    iq_request(
        IqKind::Set,
        id,
        room.as_str(),
        Element::builder("query", NS_MUC_ADMIN).append(item).build(),
    )
}

#[cfg(test)]
mod tests;
