//! MUC presence: what the focus reads from an occupant's presence
//! ([`OccupantPresence`], muc.md section 3) and what it publishes in its own
//! ([`FocusPresence`], muc.md section 5).
//!
//! Every extension is optional: a real client sends only some of them (see
//! the captures in `testdata/`). Hostile input is bounded: see
//! [`MAX_SOURCE_INFO_BYTES`], [`MAX_SOURCE_INFO_ENTRIES`], [`MAX_TEXT_BYTES`],
//! [`MAX_STATUS_CODES`] and [`MAX_FEATURES`].

use std::collections::BTreeMap;

use jid::FullJid;
use minidom::Element;
use serde_json::{Map, Value};

use super::conference_iq::NS_FOCUS;
use super::muc::{MucItem, NS_MUC_USER};
use super::{ParseError, java_bool};
use crate::xml::ncname;
use crate::xmpp::ns;

/// XEP-0115 entity capabilities (`<c/>`).
pub const NS_CAPS: &str = "http://jabber.org/protocol/caps";
/// The shared document extension (`<etherpad/>`).
pub const NS_ETHERPAD: &str = "http://jitsi.org/jitmeet/etherpad";
/// Jitsi Meet's own namespace (`<versions/>`, `<json-message/>`).
pub const NS_JITMEET: &str = "http://jitsi.org/jitmeet";

/// A `SourceInfo` text longer than this (bytes) is [invalid](SourceInfoField::Invalid).
pub const MAX_SOURCE_INFO_BYTES: usize = 64 * 1024;
/// A `SourceInfo` with more sources than this is [invalid](SourceInfoField::Invalid).
pub const MAX_SOURCE_INFO_ENTRIES: usize = 256;
/// `stats-id`, `jitsi_participant_region`, `status`, the codec elements: a
/// text longer than this (bytes) is ignored (read as absent).
pub const MAX_TEXT_BYTES: usize = 1024;
/// Status codes kept from one presence; the rest are dropped.
pub const MAX_STATUS_CODES: usize = 16;
/// Features kept from one `<features/>`; the rest are dropped.
pub const MAX_FEATURES: usize = 256;

/// The presence `type`, as far as the focus cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresenceKind {
    /// No `type`: the occupant is (still) in the room.
    Available,
    /// `unavailable`: the occupant left (or was kicked, or the room is gone).
    Unavailable,
    /// `error`.
    Error,
}

/// The media type of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MediaType {
    /// Audio.
    Audio,
    /// Video.
    Video,
}

impl MediaType {
    /// `audio` or `video`.
    pub fn as_str(&self) -> &'static str {
        match self {
            MediaType::Audio => "audio",
            MediaType::Video => "video",
        }
    }

    /// `audio` or `video`, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("audio") {
            Some(MediaType::Audio)
        } else if s.eq_ignore_ascii_case("video") {
            Some(MediaType::Video)
        } else {
            None
        }
    }

    /// The media type encoded in a source name such as `abcd-a0` or
    /// `abcd-v1`: the character after the last `-`, unless that `-` ends
    /// the name.
    pub fn from_source_name(name: &str) -> Option<Self> {
        let (_, after) = name.rsplit_once('-')?;
        match after.chars().next()? {
            'a' => Some(MediaType::Audio),
            'v' => Some(MediaType::Video),
            _ => None,
        }
    }
}

/// One source of a [`SourceInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    /// `muted` (default `true`).
    pub muted: bool,
    /// `videoType`, normalized to `camera` or `desktop`.
    pub video_type: Option<String>,
    /// `mediaType` if given, else inferred from the source name.
    pub media_type: Option<MediaType>,
}

/// The JSON in an occupant's `<SourceInfo/>`: its sources by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceInfo {
    /// The sources, by name.
    pub sources: BTreeMap<String, SourceState>,
}

impl SourceInfo {
    /// Reads the JSON as Jicofo does: an object of objects; per source
    /// `muted` (Jackson's `asBoolean`: `true`, `"true"`, a non-zero integer;
    /// missing is `true`), `videoType` (missing or null, else `camera` or
    /// `desktop` in any case), `mediaType` (`audio`/`video` in any case, else
    /// inferred from the name). `None` for anything else, and for more than
    /// [`MAX_SOURCE_INFO_ENTRIES`] sources or [`MAX_SOURCE_INFO_BYTES`] bytes.
    pub fn parse_json(text: &str) -> Option<Self> {
        if text.len() > MAX_SOURCE_INFO_BYTES {
            return None;
        }
        let Value::Object(map) = serde_json::from_str::<Value>(text).ok()? else {
            return None;
        };
        if map.len() > MAX_SOURCE_INFO_ENTRIES {
            return None;
        }
        let mut sources = BTreeMap::new();
        for (name, source) in map {
            let Value::Object(source) = source else {
                return None;
            };
            let muted = match source.get("muted") {
                None => true,
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s.trim() == "true",
                Some(Value::Number(n)) => n
                    .as_i64()
                    .map(|i| i != 0)
                    .or_else(|| n.as_u64().map(|u| u != 0))
                    .unwrap_or(false),
                Some(_) => false,
            };
            let video_type = match source.get("videoType") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("camera") => {
                    Some("camera".to_owned())
                }
                Some(Value::String(s)) if s.eq_ignore_ascii_case("desktop") => {
                    Some("desktop".to_owned())
                }
                Some(_) => return None,
            };
            let media_type = match source.get("mediaType") {
                Some(Value::String(s)) => MediaType::parse(s),
                _ => None,
            }
            .or_else(|| MediaType::from_source_name(&name));
            sources.insert(
                name,
                SourceState {
                    muted,
                    video_type,
                    media_type,
                },
            );
        }
        Some(Self { sources })
    }

    /// The JSON, as a client writes it (with `mediaType` whenever known).
    pub fn to_json(&self) -> String {
        let map: Map<String, Value> = self
            .sources
            .iter()
            .map(|(name, s)| {
                let mut obj = Map::new();
                obj.insert("muted".into(), Value::Bool(s.muted));
                if let Some(v) = &s.video_type {
                    obj.insert("videoType".into(), Value::String(v.clone()));
                }
                if let Some(m) = s.media_type {
                    obj.insert("mediaType".into(), Value::String(m.as_str().to_owned()));
                }
                (name.clone(), Value::Object(obj))
            })
            .collect();
        Value::Object(map).to_string()
    }

    /// Some source of `media` is unmuted.
    pub fn has_unmuted(&self, media: MediaType) -> bool {
        self.sources
            .values()
            .any(|s| s.media_type == Some(media) && !s.muted)
    }
}

/// The `<SourceInfo/>` of a presence.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SourceInfoField {
    /// No `<SourceInfo/>`: the old mute elements apply.
    #[default]
    Absent,
    /// A `<SourceInfo/>` that does not parse: keep what was known.
    Invalid,
    /// A valid `<SourceInfo/>`.
    Valid(SourceInfo),
}

/// XEP-0115 capabilities: `<c hash node ver/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caps {
    /// `hash` (absent in legacy caps).
    pub hash: Option<String>,
    /// `node`.
    pub node: String,
    /// `ver`.
    pub ver: String,
}

impl Caps {
    /// `node#ver`, the key of the disco#info cache.
    pub fn node_ver(&self) -> String {
        format!("{}#{}", self.node, self.ver)
    }
}

/// What the focus reads from an occupant's MUC presence.
#[derive(Debug, Clone, PartialEq)]
pub struct OccupantPresence {
    /// The presence type.
    pub kind: PresenceKind,
    /// The `muc#user` `<item/>` (the first one).
    pub item: Option<MucItem>,
    /// The `muc#user` status codes (at most [`MAX_STATUS_CODES`]).
    pub status_codes: Vec<u16>,
    /// The `muc#user` extension has `<destroy/>`: the room is gone.
    pub destroy: bool,
    /// `<status>` text (e.g. `switch_room`).
    pub status: Option<String>,
    /// `<stats-id>`.
    pub stats_id: Option<String>,
    /// `<jitsi_participant_region>`.
    pub region: Option<String>,
    /// `<SourceInfo>`.
    pub source_info: SourceInfoField,
    /// `<audiomuted>` (Java `Boolean.valueOf`: only `true`, any case, is true).
    pub audio_muted: Option<bool>,
    /// `<videomuted>` (as `audio_muted`).
    pub video_muted: Option<bool>,
    /// The `var`s of `<features><feature var/></features>` (at most
    /// [`MAX_FEATURES`]); `None` without `<features/>`.
    pub features: Option<Vec<String>>,
    /// XEP-0115 `<c/>` (with both `node` and `ver`).
    pub caps: Option<Caps>,
    /// `<jitsi_participant_codecList>`, split at commas, trimmed, empty
    /// entries dropped (case kept).
    pub codec_list: Option<Vec<String>>,
    /// `<jitsi_participant_codecType>` (older clients).
    pub codec_type: Option<String>,
    /// `<jitsi_participant_diarize>` (Kotlin `toBoolean`).
    pub diarize: Option<bool>,
}

impl Default for OccupantPresence {
    fn default() -> Self {
        Self {
            kind: PresenceKind::Available,
            item: None,
            status_codes: Vec::new(),
            destroy: false,
            status: None,
            stats_id: None,
            region: None,
            source_info: SourceInfoField::Absent,
            audio_muted: None,
            video_muted: None,
            features: None,
            caps: None,
            codec_list: None,
            codec_type: None,
            diarize: None,
        }
    }
}

/// Element names of the plain (stanza-namespace) extensions.
mod names {
    pub(super) const STATUS: &str = "status";
    pub(super) const STATS_ID: &str = "stats-id";
    pub(super) const REGION: &str = "jitsi_participant_region";
    pub(super) const SOURCE_INFO: &str = "SourceInfo";
    pub(super) const AUDIO_MUTED: &str = "audiomuted";
    pub(super) const VIDEO_MUTED: &str = "videomuted";
    pub(super) const FEATURES: &str = "features";
    pub(super) const FEATURE: &str = "feature";
    pub(super) const CODEC_LIST: &str = "jitsi_participant_codecList";
    pub(super) const CODEC_TYPE: &str = "jitsi_participant_codecType";
    pub(super) const DIARIZE: &str = "jitsi_participant_diarize";
}

impl OccupantPresence {
    /// Reads a presence the MUC relayed. `from`/`to` are not looked at.
    /// Extensions without a namespace of their own are looked up in the
    /// presence's namespace (`jabber:client`). Fails only if `presence` is
    /// not a presence, or has a subscription `type` (`subscribe`, `probe`,
    /// …), which no MUC relays.
    pub fn parse(presence: &Element) -> Result<Self, ParseError> {
        if presence.name() != "presence" {
            return Err(ParseError::WrongElement {
                expected: "presence",
            });
        }
        let kind = match presence.attr("type") {
            None | Some("available") => PresenceKind::Available,
            Some("unavailable") => PresenceKind::Unavailable,
            Some("error") => PresenceKind::Error,
            Some(other) => return Err(ParseError::invalid_attribute("type", other)),
        };
        let stanza_ns = presence.ns();
        let child = |name: &str| presence.get_child(name, stanza_ns.as_str());
        let text = |name: &str| child(name).and_then(bounded_text);

        let mut out = Self {
            kind,
            ..Self::default()
        };
        if let Some(x) = presence.get_child("x", NS_MUC_USER) {
            out.item = x.get_child("item", NS_MUC_USER).map(MucItem::parse);
            out.status_codes = x
                .children()
                .filter(|c| c.is("status", NS_MUC_USER))
                .filter_map(|c| c.attr("code")?.parse().ok())
                .take(MAX_STATUS_CODES)
                .collect();
            out.destroy = x.has_child("destroy", NS_MUC_USER);
        }
        out.status = text(names::STATUS);
        out.stats_id = text(names::STATS_ID);
        out.region = text(names::REGION);
        out.source_info = match child(names::SOURCE_INFO) {
            None => SourceInfoField::Absent,
            Some(el) => match SourceInfo::parse_json(&el.text()) {
                Some(info) => SourceInfoField::Valid(info),
                None => SourceInfoField::Invalid,
            },
        };
        out.audio_muted = child(names::AUDIO_MUTED).map(|c| java_bool(&c.text()));
        out.video_muted = child(names::VIDEO_MUTED).map(|c| java_bool(&c.text()));
        out.features = child(names::FEATURES).map(|f| {
            f.children()
                .filter(|c| c.is(names::FEATURE, stanza_ns.as_str()))
                .filter_map(|c| c.attr("var").map(str::to_owned))
                .take(MAX_FEATURES)
                .collect()
        });
        out.caps = presence.get_child("c", NS_CAPS).and_then(|c| {
            Some(Caps {
                hash: c.attr("hash").map(str::to_owned),
                node: c.attr("node")?.to_owned(),
                ver: c.attr("ver")?.to_owned(),
            })
        });
        out.codec_list = child(names::CODEC_LIST).and_then(|c| {
            let text = c.text();
            (text.len() <= MAX_TEXT_BYTES).then(|| {
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
        });
        out.codec_type = text(names::CODEC_TYPE);
        out.diarize = child(names::DIARIZE).map(|c| java_bool(&c.text()));
        Ok(out)
    }

    /// Sends unmuted audio: from a valid `SourceInfo` (some audio source
    /// unmuted); without `SourceInfo`, from `<audiomuted>`. `None` when
    /// there is nothing to say: no `<audiomuted>` (callers read that as
    /// muted), or an invalid `SourceInfo` (callers keep what they knew).
    pub fn audio_sending(&self) -> Option<bool> {
        self.sending(MediaType::Audio, self.audio_muted)
    }

    /// Sends unmuted video; as [`audio_sending`](Self::audio_sending).
    pub fn video_sending(&self) -> Option<bool> {
        self.sending(MediaType::Video, self.video_muted)
    }

    fn sending(&self, media: MediaType, legacy_muted: Option<bool>) -> Option<bool> {
        match &self.source_info {
            SourceInfoField::Valid(info) => Some(info.has_unmuted(media)),
            SourceInfoField::Invalid => None,
            SourceInfoField::Absent => legacy_muted.map(|m| !m),
        }
    }

    /// The presence as an occupant would see it relayed, without addressing
    /// (set `from`/`to` as needed); for tests and simulated clients.
    /// [`SourceInfoField::Invalid`] is written as a `SourceInfo` that is not
    /// JSON.
    pub fn to_element(&self) -> Element {
        let plain =
            |name: &str, text: &str| Element::builder(name, ns::CLIENT).append(text).build();
        let bool_text = |b: bool| if b { "true" } else { "false" };
        let mut p = Element::builder("presence", ns::CLIENT);
        match self.kind {
            PresenceKind::Available => {}
            PresenceKind::Unavailable => p = p.attr(ncname("type"), "unavailable"),
            PresenceKind::Error => p = p.attr(ncname("type"), "error"),
        }
        if self.item.is_some() || !self.status_codes.is_empty() || self.destroy {
            let mut x = Element::builder("x", NS_MUC_USER);
            if let Some(item) = &self.item {
                x = x.append(item.to_element());
            }
            for code in &self.status_codes {
                x = x.append(
                    Element::builder("status", NS_MUC_USER).attr(ncname("code"), code.to_string()),
                );
            }
            if self.destroy {
                x = x.append(Element::builder("destroy", NS_MUC_USER));
            }
            p = p.append(x);
        }
        for (name, value) in [
            (names::STATUS, &self.status),
            (names::STATS_ID, &self.stats_id),
            (names::REGION, &self.region),
        ] {
            if let Some(v) = value {
                p = p.append(plain(name, v));
            }
        }
        match &self.source_info {
            SourceInfoField::Absent => {}
            SourceInfoField::Invalid => p = p.append(plain(names::SOURCE_INFO, "not json")),
            SourceInfoField::Valid(info) => {
                p = p.append(plain(names::SOURCE_INFO, &info.to_json()))
            }
        }
        if let Some(m) = self.audio_muted {
            p = p.append(plain(names::AUDIO_MUTED, bool_text(m)));
        }
        if let Some(m) = self.video_muted {
            p = p.append(plain(names::VIDEO_MUTED, bool_text(m)));
        }
        if let Some(features) = &self.features {
            let f = Element::builder(names::FEATURES, ns::CLIENT).append_all(features.iter().map(
                |v| Element::builder(names::FEATURE, ns::CLIENT).attr(ncname("var"), v.as_str()),
            ));
            p = p.append(f);
        }
        if let Some(caps) = &self.caps {
            let mut c = Element::builder("c", NS_CAPS);
            if let Some(hash) = &caps.hash {
                c = c.attr(ncname("hash"), hash.as_str());
            }
            c = c
                .attr(ncname("node"), caps.node.as_str())
                .attr(ncname("ver"), caps.ver.as_str());
            p = p.append(c);
        }
        if let Some(list) = &self.codec_list {
            p = p.append(plain(names::CODEC_LIST, &list.join(",")));
        }
        if let Some(codec) = &self.codec_type {
            p = p.append(plain(names::CODEC_TYPE, codec));
        }
        if let Some(d) = self.diarize {
            p = p.append(plain(names::DIARIZE, bool_text(d)));
        }
        p.build()
    }
}

/// The text of `el`, or `None` if empty or over [`MAX_TEXT_BYTES`].
fn bounded_text(el: &Element) -> Option<String> {
    let text = el.text();
    (!text.is_empty() && text.len() <= MAX_TEXT_BYTES).then_some(text)
}

/// The extensions the focus publishes in its own MUC presence (muc.md
/// section 5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FocusPresence {
    /// `<etherpad>`: the shared document name.
    pub etherpad: Option<String>,
    /// `<versions><component name='focus'>`: the focus's version.
    pub version: String,
    /// `<conference-properties>`, as `key`/`value` pairs in order.
    pub properties: Vec<(String, String)>,
    /// `<bridgeNotAvailable/>`: bridge selection failed.
    pub bridge_not_available: bool,
}

impl FocusPresence {
    /// The presence to `to` (the focus's occupant JID): etherpad, versions,
    /// conference-properties and bridgeNotAvailable, in that order; no MUC
    /// `<x/>` (this is an update, not a join).
    pub fn to_element(&self, to: &FullJid) -> Element {
        let mut p = Element::builder("presence", ns::CLIENT).attr(ncname("to"), to.as_str());
        if let Some(doc) = &self.etherpad {
            p = p.append(Element::builder("etherpad", NS_ETHERPAD).append(doc.as_str()));
        }
        p = p.append(
            Element::builder("versions", NS_JITMEET).append(
                Element::builder("component", NS_JITMEET)
                    .attr(ncname("name"), "focus")
                    .append(self.version.as_str()),
            ),
        );
        let props = Element::builder("conference-properties", NS_FOCUS).append_all(
            self.properties.iter().map(|(k, v)| {
                Element::builder("property", NS_FOCUS)
                    .attr(ncname("key"), k.as_str())
                    .attr(ncname("value"), v.as_str())
            }),
        );
        p = p.append(props);
        if self.bridge_not_available {
            p = p.append(Element::builder("bridgeNotAvailable", NS_FOCUS));
        }
        p.build()
    }

    /// Reads the focus's presence, as a client does: a missing version is
    /// empty, a property's missing `key`/`value` is empty.
    pub fn parse(presence: &Element) -> Result<Self, ParseError> {
        if presence.name() != "presence" {
            return Err(ParseError::WrongElement {
                expected: "presence",
            });
        }
        let version = presence
            .get_child("versions", NS_JITMEET)
            .and_then(|v| {
                v.children()
                    .find(|c| c.is("component", NS_JITMEET) && c.attr("name") == Some("focus"))
            })
            .map(Element::text)
            .unwrap_or_default();
        let properties = presence
            .get_child("conference-properties", NS_FOCUS)
            .map(|props| {
                props
                    .children()
                    .filter(|c| c.is("property", NS_FOCUS))
                    .map(|c| {
                        (
                            c.attr("key").unwrap_or_default().to_owned(),
                            c.attr("value").unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            etherpad: presence
                .get_child("etherpad", NS_ETHERPAD)
                .map(Element::text),
            version,
            properties,
            bridge_not_available: presence.has_child("bridgeNotAvailable", NS_FOCUS),
        })
    }

    /// The value of conference property `key`.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests;
