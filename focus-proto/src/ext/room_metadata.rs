//! Room metadata: the `json-message` that Prosody's `room_metadata`
//! component sends the focus whenever a room's metadata changes.
//!
//! ```xml
//! <message from='metadata.example.com' to='focus@auth.example.com/focus'>
//!   <json-message xmlns='http://jitsi.org/jitmeet' room='standup@conference.example.com'>
//!     {"type":"room_metadata","metadata":{"startMuted":{"audio":true}, …}}
//!   </json-message>
//! </message>
//! ```
//!
//! Only the fields the focus uses are read; unknown ones are ignored. A
//! message of another `type`, invalid JSON or a field of the wrong type is
//! an error (the message is dropped), as in Jicofo.

use minidom::Element;
use serde_json::{Map, Value};

use super::ParseError;

/// The namespace of `json-message`.
pub const NS_JITMEET: &str = "http://jitsi.org/jitmeet";
/// The largest JSON text read, in bytes.
pub const MAX_JSON_LEN: usize = 64 * 1024;
/// The most ids read from `moderators` or `participants`.
pub const MAX_IDS: usize = 1024;

/// The metadata fields the focus uses; `None` where the message has none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomMetadata {
    /// `visitors.live`: the room is live for visitors.
    pub visitors_live: Option<bool>,
    /// `startMuted.audio`.
    pub start_muted_audio: Option<bool>,
    /// `startMuted.video`.
    pub start_muted_video: Option<bool>,
    /// `moderators`: user or group ids allowed in the main room.
    pub moderators: Option<Vec<String>>,
    /// `participants`: user or group ids allowed in the main room.
    pub participants: Option<Vec<String>>,
    /// `recording.isTranscribingEnabled`.
    pub transcribing_enabled: Option<bool>,
    /// `asyncTranscription`.
    pub async_transcription: Option<bool>,
    /// `participantsSoftLimit`.
    pub participants_soft_limit: Option<i64>,
    /// `visitorsEnabled`.
    pub visitors_enabled: Option<bool>,
    /// `lobbyEnabled`.
    pub lobby_enabled: Option<bool>,
}

impl RoomMetadata {
    /// Whether transcription is on: both `recording.isTranscribingEnabled`
    /// and `asyncTranscription` are true.
    pub fn transcription(&self) -> bool {
        self.transcribing_enabled == Some(true) && self.async_transcription == Some(true)
    }
}

/// One metadata message: for which room, and the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomMetadataMessage {
    /// The `room` attribute (the room's bare JID, as sent).
    pub room: String,
    /// The metadata.
    pub metadata: RoomMetadata,
}

impl RoomMetadataMessage {
    /// Reads a `<message>` carrying a `json-message`.
    pub fn parse(message: &Element) -> Result<Self, ParseError> {
        let json = message
            .get_child("json-message", NS_JITMEET)
            .ok_or(ParseError::MissingChild("json-message"))?;
        let room = json
            .attr("room")
            .filter(|r| !r.is_empty())
            .ok_or(ParseError::MissingAttribute("room"))?
            .to_owned();
        let text = json.text();
        if text.len() > MAX_JSON_LEN {
            return Err(ParseError::Invalid("room metadata JSON too large".into()));
        }
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| ParseError::Invalid(format!("room metadata JSON: {e}")))?;
        let Value::Object(top) = value else {
            return Err(ParseError::Invalid("room metadata is not an object".into()));
        };
        if top.get("type").and_then(Value::as_str) != Some("room_metadata") {
            return Err(ParseError::Invalid("not a room_metadata message".into()));
        }
        let metadata = match top.get("metadata") {
            None | Some(Value::Null) => RoomMetadata::default(),
            Some(Value::Object(m)) => read_metadata(m)?,
            Some(_) => return Err(ParseError::Invalid("metadata is not an object".into())),
        };
        Ok(Self { room, metadata })
    }

    /// The message as the component sends it (for tests and simulations).
    pub fn to_element(&self, from: &str, to: &str) -> Element {
        let mut m = Map::new();
        let put_bool = |m: &mut Map<String, Value>, k: &str, v: Option<bool>| {
            if let Some(v) = v {
                m.insert(k.into(), Value::Bool(v));
            }
        };
        let md = &self.metadata;
        if let Some(live) = md.visitors_live {
            m.insert("visitors".into(), serde_json::json!({ "live": live }));
        }
        if md.start_muted_audio.is_some() || md.start_muted_video.is_some() {
            let mut sm = Map::new();
            put_bool(&mut sm, "audio", md.start_muted_audio);
            put_bool(&mut sm, "video", md.start_muted_video);
            m.insert("startMuted".into(), Value::Object(sm));
        }
        for (k, v) in [
            ("moderators", &md.moderators),
            ("participants", &md.participants),
        ] {
            if let Some(ids) = v {
                m.insert(k.into(), serde_json::json!(ids));
            }
        }
        if let Some(t) = md.transcribing_enabled {
            m.insert(
                "recording".into(),
                serde_json::json!({ "isTranscribingEnabled": t }),
            );
        }
        put_bool(&mut m, "asyncTranscription", md.async_transcription);
        if let Some(n) = md.participants_soft_limit {
            m.insert("participantsSoftLimit".into(), Value::from(n));
        }
        put_bool(&mut m, "visitorsEnabled", md.visitors_enabled);
        put_bool(&mut m, "lobbyEnabled", md.lobby_enabled);
        let text = serde_json::json!({ "type": "room_metadata", "metadata": Value::Object(m) });
        Element::builder("message", crate::xmpp::ns::CLIENT)
            .attr(crate::xml::ncname("from"), from)
            .attr(crate::xml::ncname("to"), to)
            .append(
                Element::builder("json-message", NS_JITMEET)
                    .attr(crate::xml::ncname("room"), self.room.as_str())
                    .append(text.to_string()),
            )
            .build()
    }
}

fn read_metadata(m: &Map<String, Value>) -> Result<RoomMetadata, ParseError> {
    let field = |k: &str| m.get(k).filter(|v| !v.is_null());
    let boolean = |v: Option<&Value>, name: &str| -> Result<Option<bool>, ParseError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ParseError::Invalid(format!("{name} is not a boolean"))),
        }
    };
    let object = |k: &str| -> Result<Option<&Map<String, Value>>, ParseError> {
        match field(k) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(_) => Err(ParseError::Invalid(format!("{k} is not an object"))),
        }
    };
    let ids = |k: &str| -> Result<Option<Vec<String>>, ParseError> {
        match field(k) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(
                items
                    .iter()
                    .take(MAX_IDS)
                    .map(|v| match v {
                        Value::String(s) => Ok(s.clone()),
                        _ => Err(ParseError::Invalid(format!("{k} holds a non-string"))),
                    })
                    .collect::<Result<_, _>>()?,
            )),
            Some(_) => Err(ParseError::Invalid(format!("{k} is not a list"))),
        }
    };
    let visitors = object("visitors")?;
    let start_muted = object("startMuted")?;
    let recording = object("recording")?;
    let participants_soft_limit = match field("participantsSoftLimit") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .filter(|n| i32::try_from(*n).is_ok())
                .ok_or_else(|| ParseError::Invalid("participantsSoftLimit is not an int".into()))?,
        ),
    };
    Ok(RoomMetadata {
        visitors_live: boolean(visitors.and_then(|v| v.get("live")), "visitors.live")?,
        start_muted_audio: boolean(start_muted.and_then(|v| v.get("audio")), "startMuted.audio")?,
        start_muted_video: boolean(start_muted.and_then(|v| v.get("video")), "startMuted.video")?,
        moderators: ids("moderators")?,
        participants: ids("participants")?,
        transcribing_enabled: boolean(
            recording.and_then(|v| v.get("isTranscribingEnabled")),
            "recording.isTranscribingEnabled",
        )?,
        async_transcription: boolean(field("asyncTranscription"), "asyncTranscription")?,
        participants_soft_limit,
        visitors_enabled: boolean(field("visitorsEnabled"), "visitorsEnabled")?,
        lobby_enabled: boolean(field("lobbyEnabled"), "lobbyEnabled")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = r#"<message xmlns='jabber:client' from='metadata.example.com' to='focus@auth.example.com/focus'>
  <json-message xmlns='http://jitsi.org/jitmeet' room='standup@conference.example.com'>
    {"type":"room_metadata","metadata":{"startMuted":{"audio":true,"video":false},
     "visitors":{"live":true},"moderators":["user-1"],"participants":["user-2"],
     "participantsSoftLimit":30,"visitorsEnabled":true,"lobbyEnabled":false,
     "recording":{"isTranscribingEnabled":false},"asyncTranscription":false,"unknown":{"x":1}}}
  </json-message>
</message>"#;

    #[test]
    fn parses_the_documented_message() {
        let el: Element = EXAMPLE.parse().expect("xml");
        let m = RoomMetadataMessage::parse(&el).expect("parses");
        assert_eq!(m.room, "standup@conference.example.com");
        let md = m.metadata;
        assert_eq!(md.start_muted_audio, Some(true));
        assert_eq!(md.start_muted_video, Some(false));
        assert_eq!(md.visitors_live, Some(true));
        assert_eq!(md.moderators, Some(vec!["user-1".to_owned()]));
        assert_eq!(md.participants, Some(vec!["user-2".to_owned()]));
        assert_eq!(md.participants_soft_limit, Some(30));
        assert_eq!(md.visitors_enabled, Some(true));
        assert_eq!(md.lobby_enabled, Some(false));
        assert!(!md.transcription());
    }

    #[test]
    fn rejects_what_jicofo_rejects() {
        for json in [
            "not json",
            "[]",
            r#"{"type":"av_moderation"}"#,
            r#"{"metadata":{}}"#,
            r#"{"type":"room_metadata","metadata":{"lobbyEnabled":"yes"}}"#,
            r#"{"type":"room_metadata","metadata":{"moderators":[1]}}"#,
            r#"{"type":"room_metadata","metadata":{"participantsSoftLimit":1e20}}"#,
            r#"{"type":"room_metadata","metadata":7}"#,
        ] {
            let el = Element::builder("message", crate::xmpp::ns::CLIENT)
                .append(
                    Element::builder("json-message", NS_JITMEET)
                        .attr(crate::xml::ncname("room"), "r@m")
                        .append(json),
                )
                .build();
            assert!(RoomMetadataMessage::parse(&el).is_err(), "{json}");
        }
        let no_child = Element::builder("message", crate::xmpp::ns::CLIENT).build();
        assert!(RoomMetadataMessage::parse(&no_child).is_err());
    }

    fn arb_metadata() -> impl Strategy<Value = RoomMetadata> {
        let b = || proptest::option::of(any::<bool>());
        let ids = || proptest::option::of(proptest::collection::vec("[a-z0-9-]{0,12}", 0..4));
        (
            (b(), b(), b(), ids(), ids()),
            (b(), b(), proptest::option::of(-1000i64..1000), b(), b()),
        )
            .prop_map(|((live, a, v, mods, parts), (t, at, limit, ve, lobby))| {
                RoomMetadata {
                    visitors_live: live,
                    start_muted_audio: a,
                    start_muted_video: v,
                    moderators: mods,
                    participants: parts,
                    transcribing_enabled: t,
                    async_transcription: at,
                    participants_soft_limit: limit,
                    visitors_enabled: ve,
                    lobby_enabled: lobby,
                }
            })
    }

    proptest! {
        #[test]
        fn round_trips(md in arb_metadata(), room in "[a-z]{1,8}@muc\\.example\\.com") {
            let msg = RoomMetadataMessage { room, metadata: md };
            let el = msg.to_element("metadata.example.com", "focus@auth.example.com/focus");
            prop_assert_eq!(RoomMetadataMessage::parse(&el).expect("parses"), msg);
        }

        #[test]
        fn never_panics(text in ".{0,200}") {
            let el = Element::builder("message", crate::xmpp::ns::CLIENT)
                .append(Element::builder("json-message", NS_JITMEET).attr(crate::xml::ncname("room"), "r@m").append(text))
                .build();
            let _ = RoomMetadataMessage::parse(&el);
        }
    }
}
