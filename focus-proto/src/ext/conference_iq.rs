//! The conference request and its companions (`http://jitsi.org/protocol/focus`):
//! `<conference/>`, `<login-url/>`, `<logout/>` and `<session-invalid/>`.
//!
//! One element, `conference`, serves as request (client to focus) and
//! answer (focus to client), as in Jitsi; here they are two types,
//! [`ConferenceRequest`] and [`ConferenceAnswer`], each with a parser and a
//! writer. Empty attribute values read as absent, as Jitsi's parser does.

use jid::{BareJid, DomainPart, NodePart};
use minidom::Element;

use super::{ParseError, expect_element, java_bool, non_empty_attr, owned_attr};
use crate::xml::ncname;

/// The namespace of the focus's own IQs and extensions.
pub const NS_FOCUS: &str = "http://jitsi.org/protocol/focus";

/// `<property name=… value=…/>` of a conference request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// `name`.
    pub name: String,
    /// `value`; an empty or missing value is `None`.
    pub value: Option<String>,
}

impl Property {
    /// A property with a value.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Some(value.into()),
        }
    }
}

/// A client's `<conference/>` request (conference-iq.md section 2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConferenceRequest {
    /// `room`, unparsed (see [`parse_room_jid`]).
    pub room: Option<String>,
    /// `machine-uid`.
    pub machine_uid: Option<String>,
    /// `session-id`.
    pub session_id: Option<String>,
    /// `token` (a JWT).
    pub token: Option<String>,
    /// The `<property/>` children in order; nameless ones are dropped.
    pub properties: Vec<Property>,
}

impl ConferenceRequest {
    /// Reads the `<conference/>` element. Empty attribute values read as
    /// absent; `identity`, `vnode`, `ready`, `focusjid` and unknown children
    /// are ignored. Fails only if `conference` is not a `conference` element
    /// in [`NS_FOCUS`].
    pub fn parse(conference: &Element) -> Result<Self, ParseError> {
        expect_element(conference, "conference", NS_FOCUS)?;
        let properties = conference
            .children()
            .filter(|c| c.is("property", NS_FOCUS))
            .filter_map(|p| {
                Some(Property {
                    name: owned_attr(p, "name")?,
                    value: owned_attr(p, "value"),
                })
            })
            .collect();
        Ok(Self {
            room: owned_attr(conference, "room"),
            machine_uid: owned_attr(conference, "machine-uid"),
            session_id: owned_attr(conference, "session-id"),
            token: owned_attr(conference, "token"),
            properties,
        })
    }

    /// The `<conference/>` element, as a client sends it.
    pub fn to_element(&self) -> Element {
        let mut el = Element::builder("conference", NS_FOCUS);
        for (name, value) in [
            ("room", &self.room),
            ("session-id", &self.session_id),
            ("machine-uid", &self.machine_uid),
            ("token", &self.token),
        ] {
            if let Some(value) = value {
                el = el.attr(ncname(name), value.as_str());
            }
        }
        for p in &self.properties {
            let mut prop =
                Element::builder("property", NS_FOCUS).attr(ncname("name"), p.name.as_str());
            if let Some(value) = &p.value {
                prop = prop.attr(ncname("value"), value.as_str());
            }
            el = el.append(prop);
        }
        el.build()
    }

    /// The value of property `name`; with duplicates, the last one wins.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .rev()
            .find(|p| p.name == name)
            .and_then(|p| p.value.as_deref())
    }

    /// The client supports visitor redirection: some property is named
    /// `visitors-version`.
    pub fn visitor_supported(&self) -> bool {
        self.properties.iter().any(|p| p.name == "visitors-version")
    }

    /// The client asks to join as a visitor: some property `visitor` has
    /// exactly the value `true`.
    pub fn visitor_requested(&self) -> bool {
        self.properties
            .iter()
            .any(|p| p.name == "visitor" && p.value.as_deref() == Some("true"))
    }

    /// `startAudioMuted` as a non-negative integer; anything else is `None`.
    pub fn start_audio_muted(&self) -> Option<u32> {
        self.property("startAudioMuted")?.parse().ok()
    }

    /// `startVideoMuted` as a non-negative integer; anything else is `None`.
    pub fn start_video_muted(&self) -> Option<u32> {
        self.property("startVideoMuted")?.parse().ok()
    }

    /// `rtcstatsEnabled`, with Java's `parseBoolean` (only `true`, in any
    /// case, is true); absent or blank means the default, `true`.
    pub fn rtcstats_enabled(&self) -> bool {
        match self.property("rtcstatsEnabled") {
            Some(v) if !v.trim().is_empty() => java_bool(v),
            _ => true,
        }
    }
}

/// Why a `room` attribute is not a room JID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomJidError {
    /// No `@` at all.
    #[error("no '@' in the room JID")]
    NoAt,
    /// Nothing before the last `@`.
    #[error("empty local part")]
    EmptyLocal,
    /// The local part (before the last `@`) contains another `@`.
    #[error("local part must not contain '@'")]
    AtInLocal,
    /// The domain part carries a resource (`/…`).
    #[error("a room JID has no resource")]
    Resource,
    /// The local or domain part is not valid in a JID.
    #[error("invalid room JID: {0}")]
    Invalid(String),
}

/// Jicofo's room parsing: split at the last `@`; a local part that still
/// contains `@`, an empty one, or no `@` at all is an error; the domain must
/// be a valid JID domain without resource. Returns the (normalized) bare JID.
pub fn parse_room_jid(room: &str) -> Result<BareJid, RoomJidError> {
    let (local, domain) = room.rsplit_once('@').ok_or(RoomJidError::NoAt)?;
    if local.is_empty() {
        return Err(RoomJidError::EmptyLocal);
    }
    if local.contains('@') {
        return Err(RoomJidError::AtInLocal);
    }
    if domain.contains('/') {
        return Err(RoomJidError::Resource);
    }
    if domain.is_empty() {
        return Err(RoomJidError::Invalid("empty domain".to_owned()));
    }
    let node =
        NodePart::new(local).map_err(|e| RoomJidError::Invalid(format!("local part: {e}")))?;
    let domain =
        DomainPart::new(domain).map_err(|e| RoomJidError::Invalid(format!("domain: {e}")))?;
    Ok(BareJid::from_parts(Some(&node), &domain))
}

/// The focus's `<conference/>` answer (conference-iq.md section 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferenceAnswer {
    /// `room`: the request's room, echoed.
    pub room: String,
    /// `focusjid`: the focus account's bare JID (or the visitor node's).
    pub focus_jid: String,
    /// `session-id`, when the sender is authenticated.
    pub session_id: Option<String>,
    /// `identity`, when the sender is authenticated.
    pub identity: Option<String>,
    /// `vnode`, on a visitor redirect.
    pub vnode: Option<String>,
    /// `ready`.
    pub ready: bool,
    /// The `<property name value/>` children, in order.
    pub properties: Vec<(String, String)>,
}

impl ConferenceAnswer {
    /// The `<conference/>` element. minidom keeps attributes sorted by name,
    /// so only the property order follows Jicofo's.
    pub fn to_element(&self) -> Element {
        let mut el = Element::builder("conference", NS_FOCUS)
            .attr(ncname("room"), self.room.as_str())
            .attr(ncname("focusjid"), self.focus_jid.as_str());
        for (name, value) in [
            ("session-id", &self.session_id),
            ("identity", &self.identity),
            ("vnode", &self.vnode),
        ] {
            if let Some(value) = value {
                el = el.attr(ncname(name), value.as_str());
            }
        }
        el = el.attr(ncname("ready"), if self.ready { "true" } else { "false" });
        for (name, value) in &self.properties {
            el = el.append(
                Element::builder("property", NS_FOCUS)
                    .attr(ncname("name"), name.as_str())
                    .attr(ncname("value"), value.as_str()),
            );
        }
        el.build()
    }

    /// Reads an answer, as a client does: `room` and `focusjid` are
    /// required; `ready` is `true` in any case or false; a property's
    /// missing `name` or `value` reads as empty.
    pub fn parse(conference: &Element) -> Result<Self, ParseError> {
        expect_element(conference, "conference", NS_FOCUS)?;
        let room = conference
            .attr("room")
            .ok_or(ParseError::MissingAttribute("room"))?;
        let focus_jid = conference
            .attr("focusjid")
            .ok_or(ParseError::MissingAttribute("focusjid"))?;
        let properties = conference
            .children()
            .filter(|c| c.is("property", NS_FOCUS))
            .map(|p| {
                (
                    p.attr("name").unwrap_or_default().to_owned(),
                    p.attr("value").unwrap_or_default().to_owned(),
                )
            })
            .collect();
        Ok(Self {
            room: room.to_owned(),
            focus_jid: focus_jid.to_owned(),
            session_id: owned_attr(conference, "session-id"),
            identity: owned_attr(conference, "identity"),
            vnode: owned_attr(conference, "vnode"),
            ready: conference.attr("ready").is_some_and(java_bool),
            properties,
        })
    }

    /// The value of property `name` (the last one, with duplicates).
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `<session-invalid xmlns='http://jitsi.org/protocol/focus'/>`, the
/// application condition of an error about an unknown session.
pub fn session_invalid() -> Element {
    Element::builder("session-invalid", NS_FOCUS).build()
}

/// A `<login-url/>` request (IQ `get`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginUrlRequest {
    /// `room`, unparsed.
    pub room: Option<String>,
    /// `machine-uid`.
    pub machine_uid: Option<String>,
    /// `popup` (Java `parseBoolean`; absent is false).
    pub popup: bool,
}

impl LoginUrlRequest {
    /// Reads the `<login-url/>` element; empty attributes read as absent.
    pub fn parse(login_url: &Element) -> Result<Self, ParseError> {
        expect_element(login_url, "login-url", NS_FOCUS)?;
        Ok(Self {
            room: owned_attr(login_url, "room"),
            machine_uid: owned_attr(login_url, "machine-uid"),
            popup: non_empty_attr(login_url, "popup").is_some_and(java_bool),
        })
    }

    /// The `<login-url/>` element, as a client sends it.
    pub fn to_element(&self) -> Element {
        let mut el = Element::builder("login-url", NS_FOCUS);
        if let Some(room) = &self.room {
            el = el.attr(ncname("room"), room.as_str());
        }
        if let Some(uid) = &self.machine_uid {
            el = el.attr(ncname("machine-uid"), uid.as_str());
        }
        el.attr(ncname("popup"), if self.popup { "true" } else { "false" })
            .build()
    }
}

/// The answer to a login URL request: `<login-url url='…'/>` with the URL
/// form-encoded (Java's `URLEncoder`), or no `url` when `None` or empty.
pub fn login_url_answer(url: Option<&str>) -> Element {
    let mut el = Element::builder("login-url", NS_FOCUS);
    if let Some(url) = url.filter(|u| !u.is_empty()) {
        el = el.attr(ncname("url"), form_urlencode(url));
    }
    el.build()
}

/// The URL of a login URL answer, decoded (Java's `URLDecoder`); `None`
/// without (or with an empty) `url`. A malformed `%` escape is an error.
pub fn parse_login_url_answer(login_url: &Element) -> Result<Option<String>, ParseError> {
    expect_element(login_url, "login-url", NS_FOCUS)?;
    decoded_attr(login_url, "url")
}

/// A `<logout/>` request (IQ `set`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogoutRequest {
    /// `session-id`.
    pub session_id: Option<String>,
}

impl LogoutRequest {
    /// Reads the `<logout/>` element; an empty `session-id` reads as absent.
    pub fn parse(logout: &Element) -> Result<Self, ParseError> {
        expect_element(logout, "logout", NS_FOCUS)?;
        Ok(Self {
            session_id: owned_attr(logout, "session-id"),
        })
    }

    /// The `<logout/>` element, as a client sends it.
    pub fn to_element(&self) -> Element {
        let mut el = Element::builder("logout", NS_FOCUS);
        if let Some(id) = &self.session_id {
            el = el.attr(ncname("session-id"), id.as_str());
        }
        el.build()
    }
}

/// The answer to a logout: `<logout/>` with an optional form-encoded
/// `logout-url` (omitted when `None` or empty).
pub fn logout_answer(logout_url: Option<&str>) -> Element {
    let mut el = Element::builder("logout", NS_FOCUS);
    if let Some(url) = logout_url.filter(|u| !u.is_empty()) {
        el = el.attr(ncname("logout-url"), form_urlencode(url));
    }
    el.build()
}

/// The `logout-url` of a logout answer, decoded.
pub fn parse_logout_answer(logout: &Element) -> Result<Option<String>, ParseError> {
    expect_element(logout, "logout", NS_FOCUS)?;
    decoded_attr(logout, "logout-url")
}

fn decoded_attr(el: &Element, name: &'static str) -> Result<Option<String>, ParseError> {
    match non_empty_attr(el, name) {
        None => Ok(None),
        Some(raw) => form_urldecode(raw)
            .map(Some)
            .ok_or_else(|| ParseError::invalid_attribute(name, raw)),
    }
}

/// `application/x-www-form-urlencoded` as Java's `URLEncoder.encode(s,
/// "UTF-8")`: ASCII letters, digits and `.-*_` stay, space becomes `+`,
/// every other UTF-8 byte becomes `%XX` (upper-case hex).
pub fn form_urlencode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
    out
}

/// The inverse of [`form_urlencode`] (Java's `URLDecoder`): `+` is a space,
/// `%XX` a byte; `None` on a malformed escape. Invalid UTF-8 in the bytes
/// becomes U+FFFD.
pub fn form_urldecode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = hex_value(*bytes.get(i + 1)?)?;
                let lo = hex_value(*bytes.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
