//! Jitsi's children of `<jingle/>` and `<content/>`: `bridge-session`,
//! `startmuted`, `json-message`, `ice-state`, `traceparent` and
//! `initial-last-n`.
//!
//! These parsers are lenient like Jitsi's providers: every attribute of
//! `bridge-session`, `startmuted` and `traceparent` is optional and only
//! `initial-last-n` can fail (its `value` must be an integer).

use minidom::Element;
use rxml::AttrMap;

use crate::ext::ParseError;
use crate::ext::attrs::{Attrs, bool_str, set, set_opt, set_rest};
use crate::ext::conference_iq::NS_FOCUS;
use crate::ext::presence::NS_JITMEET;

/// Start-muted flags in a session-initiate.
pub const NS_START_MUTED: &str = "http://jitsi.org/jitmeet/start-muted";
/// OpenTelemetry trace context.
pub const NS_OPENTELEMETRY: &str = "jitsi:opentelemetry";
/// COLIBRI2 (`initial-last-n` lives there).
pub const NS_COLIBRI2: &str = "jitsi:colibri2";

/// `<bridge-session/>` (`http://jitsi.org/protocol/focus`): which bridge
/// session a Jingle session belongs to, and the client's restart requests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BridgeSession {
    /// `id`: the focus's COLIBRI2 session id with that bridge.
    pub id: Option<String>,
    /// `region`: the bridge's region.
    pub region: Option<String>,
    /// `restart` (session-terminate asking for a re-invite), when given.
    pub restart: Option<bool>,
    /// `ice-restart` (session-info asking for an in-place ICE restart),
    /// when given.
    pub ice_restart: Option<bool>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
}

impl BridgeSession {
    /// What the focus puts into an offer: `id` and, when known, `region`.
    pub fn new(id: impl Into<String>, region: Option<String>) -> Self {
        Self {
            id: Some(id.into()),
            region,
            ..Default::default()
        }
    }

    /// Reads a `<bridge-session/>` (never fails on attributes).
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "bridge-session", NS_FOCUS)?;
        let mut a = Attrs::of(el);
        Ok(Self {
            id: a.take("id"),
            region: a.take("region"),
            restart: a.boolean("restart"),
            ice_restart: a.boolean("ice-restart"),
            extra_attrs: a.rest(),
        })
    }

    /// `restart` is `true`.
    pub fn restart_requested(&self) -> bool {
        self.restart == Some(true)
    }

    /// `ice-restart` is `true`.
    pub fn ice_restart_requested(&self) -> bool {
        self.ice_restart == Some(true)
    }

    /// The `<bridge-session/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("bridge-session", NS_FOCUS);
        set_opt(&mut el, "id", self.id.as_ref());
        set_opt(&mut el, "region", self.region.as_ref());
        set_opt(&mut el, "restart", self.restart.map(bool_str));
        set_opt(&mut el, "ice-restart", self.ice_restart.map(bool_str));
        set_rest(&mut el, &self.extra_attrs);
        el
    }
}

/// `<startmuted audio video/>` (`http://jitsi.org/jitmeet/start-muted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StartMuted {
    /// `audio` (Java `parseBoolean`; absent is false).
    pub audio: bool,
    /// `video` (Java `parseBoolean`; absent is false).
    pub video: bool,
}

impl StartMuted {
    /// Reads a `<startmuted/>` (never fails on attributes).
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "startmuted", NS_START_MUTED)?;
        let mut a = Attrs::of(el);
        Ok(Self {
            audio: a.boolean("audio").unwrap_or(false),
            video: a.boolean("video").unwrap_or(false),
        })
    }

    /// The `<startmuted/>` element, both attributes always written.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("startmuted", NS_START_MUTED);
        set(&mut el, "audio", bool_str(self.audio));
        set(&mut el, "video", bool_str(self.video));
        el
    }
}

/// `<json-message/>` (`http://jitsi.org/jitmeet`): JSON text, here
/// `{"sources":{…}}` for clients that take JSON-encoded sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonMessage {
    /// The text, unparsed.
    pub json: String,
}

impl JsonMessage {
    /// Reads a `<json-message/>`: its text.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "json-message", NS_JITMEET)?;
        Ok(Self { json: el.text() })
    }

    /// The `<json-message/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("json-message", NS_JITMEET);
        if !self.json.is_empty() {
            el.append_text(self.json.clone());
        }
        el
    }
}

/// `<ice-state/>` (`http://jitsi.org/protocol/focus`) of a legacy
/// session-info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceState {
    /// The text (`failed` matters, case-insensitive).
    pub state: String,
}

impl IceState {
    /// Reads an `<ice-state/>`: its text.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "ice-state", NS_FOCUS)?;
        Ok(Self { state: el.text() })
    }

    /// The state is `failed` (in any case, surrounding blanks ignored).
    pub fn is_failed(&self) -> bool {
        self.state.trim().eq_ignore_ascii_case("failed")
    }

    /// The `<ice-state/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("ice-state", NS_FOCUS);
        if !self.state.is_empty() {
            el.append_text(self.state.clone());
        }
        el
    }
}

/// `<traceparent/>` (`jitsi:opentelemetry`): the W3C trace context.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TraceParent {
    /// `trace_id`.
    pub trace_id: Option<String>,
    /// `parent_id`.
    pub parent_id: Option<String>,
    /// `trace_flags`.
    pub trace_flags: Option<String>,
}

impl TraceParent {
    /// Reads a `<traceparent/>` (never fails on attributes).
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "traceparent", NS_OPENTELEMETRY)?;
        let mut a = Attrs::of(el);
        Ok(Self {
            trace_id: a.take("trace_id"),
            parent_id: a.take("parent_id"),
            trace_flags: a.take("trace_flags"),
        })
    }

    /// The `<traceparent/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("traceparent", NS_OPENTELEMETRY);
        set_opt(&mut el, "trace_id", self.trace_id.as_ref());
        set_opt(&mut el, "parent_id", self.parent_id.as_ref());
        set_opt(&mut el, "trace_flags", self.trace_flags.as_ref());
        el
    }
}

/// `<initial-last-n value/>` (`jitsi:colibri2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitialLastN {
    /// `value` (−1: unlimited).
    pub value: i32,
}

impl InitialLastN {
    /// Reads an `<initial-last-n/>`; `value` must be a 32-bit integer.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "initial-last-n", NS_COLIBRI2)?;
        Ok(Self {
            value: Attrs::of(el).required_number("value")?,
        })
    }

    /// The `<initial-last-n/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("initial-last-n", NS_COLIBRI2);
        set(&mut el, "value", self.value);
        el
    }
}
