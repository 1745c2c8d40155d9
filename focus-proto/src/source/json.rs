//! The compact JSON encoding of sources (sources.md section 2), carried in
//! `<json-message xmlns='http://jitsi.org/jitmeet'>`.
//!
//! ```text
//! {"sources": { OWNER: [ VIDEO_SOURCES, VIDEO_GROUPS, AUDIO_SOURCES (, AUDIO_GROUPS) ] } }
//! source = {"s": SSRC, "n": NAME?, "m": MSID?, "v": "d" (desktop only)}
//! group  = ["s" | "f", SSRC, ...]
//! ```
//!
//! Unlike Jicofo, strings are escaped. Only audio and video are encoded.

use minidom::Element;
use serde_json::Value;

use super::group::{Semantics, SsrcGroup};
use super::jingle::NS_JITMEET;
use super::map::ConferenceSourceMap;
use super::set::EndpointSourceSet;
use super::source::{MediaType, Source, Ssrc, VideoType};

/// `s` as a JSON string literal, escaped.
fn push_string(out: &mut String, s: &str) {
    // Serialising a `str` cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
}

fn push_source(out: &mut String, source: &Source) {
    out.push_str("{\"s\":");
    out.push_str(&source.ssrc.to_string());
    if let Some(name) = &source.name {
        out.push_str(",\"n\":");
        push_string(out, name);
    }
    if let Some(msid) = &source.msid {
        out.push_str(",\"m\":");
        push_string(out, msid);
    }
    if source.video_type == Some(VideoType::Desktop) {
        out.push_str(",\"v\":\"d\"");
    }
    out.push('}');
}

fn push_group(out: &mut String, group: &SsrcGroup) {
    out.push_str("[\"");
    out.push_str(group.semantics.json_letter());
    out.push('"');
    for ssrc in &group.ssrcs {
        out.push(',');
        out.push_str(&ssrc.to_string());
    }
    out.push(']');
}

fn push_list<T>(
    out: &mut String,
    items: impl Iterator<Item = T>,
    mut push: impl FnMut(&mut String, T),
) {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push(out, item);
    }
    out.push(']');
}

/// One set as compact JSON: `[video sources, video groups, audio sources]`
/// plus `audio groups` when there are any.
pub fn set_to_compact_json(set: &EndpointSourceSet) -> String {
    let mut out = String::new();
    push_set(&mut out, set);
    out
}

fn push_set(out: &mut String, set: &EndpointSourceSet) {
    let sources = |media| set.sources().iter().filter(move |s| s.media_type == media);
    let groups = |media| set.groups().iter().filter(move |g| g.media_type == media);
    out.push('[');
    push_list(out, sources(MediaType::Video), push_source);
    out.push(',');
    push_list(out, groups(MediaType::Video), push_group);
    out.push(',');
    push_list(out, sources(MediaType::Audio), push_source);
    if groups(MediaType::Audio).next().is_some() {
        out.push(',');
        push_list(out, groups(MediaType::Audio), push_group);
    }
    out.push(']');
}

/// A map as compact JSON: `{"owner": set, ...}`, by owner.
pub fn map_to_compact_json(map: &ConferenceSourceMap) -> String {
    let mut out = String::from("{");
    for (i, (owner, set)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, owner);
        out.push(':');
        push_set(&mut out, set);
    }
    out.push('}');
    out
}

/// The text of a `<json-message>`: `{"sources":{...}}`.
pub fn json_message_text(map: &ConferenceSourceMap) -> String {
    format!("{{\"sources\":{}}}", map_to_compact_json(map))
}

/// `<json-message xmlns='http://jitsi.org/jitmeet'>{"sources":...}</json-message>`.
pub fn json_message_element(map: &ConferenceSourceMap) -> Element {
    Element::builder("json-message", NS_JITMEET)
        .append(json_message_text(map))
        .build()
}

/// Why a compact JSON text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonSourcesError {
    /// Not JSON at all.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// JSON, but not the shape of the compact encoding.
    #[error("unexpected JSON shape: {0}")]
    Shape(&'static str),
    /// An SSRC outside `1 ..= 2^32-1`.
    #[error("invalid SSRC in JSON")]
    InvalidSsrc,
    /// A group semantics other than `s` or `f`.
    #[error("unknown group semantics in JSON")]
    UnknownSemantics,
}

fn read_ssrc(value: &Value) -> Result<Ssrc, JsonSourcesError> {
    let n = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok(),
        _ => None,
    };
    n.and_then(Ssrc::from_i64)
        .ok_or(JsonSourcesError::InvalidSsrc)
}

fn read_string(value: Option<&Value>) -> Result<Option<String>, JsonSourcesError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JsonSourcesError::Shape("name and msid must be strings")),
    }
}

/// Whether a JSON value is "truthy" as JavaScript sees it.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn read_source(value: &Value, media_type: MediaType) -> Result<Source, JsonSourcesError> {
    let Value::Object(obj) = value else {
        return Err(JsonSourcesError::Shape("a source must be an object"));
    };
    let ssrc = read_ssrc(
        obj.get("s")
            .ok_or(JsonSourcesError::Shape("a source needs \"s\""))?,
    )?;
    // As the client: a video source is a camera unless "v" says otherwise.
    let video_type = match media_type {
        MediaType::Video if obj.get("v").is_some_and(truthy) => Some(VideoType::Desktop),
        MediaType::Video => Some(VideoType::Camera),
        _ => None,
    };
    Ok(Source {
        ssrc,
        media_type,
        name: read_string(obj.get("n"))?,
        msid: read_string(obj.get("m"))?,
        video_type,
    })
}

fn read_group(value: &Value, media_type: MediaType) -> Result<SsrcGroup, JsonSourcesError> {
    let Value::Array(items) = value else {
        return Err(JsonSourcesError::Shape("a group must be an array"));
    };
    let (first, ssrcs) = items
        .split_first()
        .ok_or(JsonSourcesError::Shape("a group needs semantics"))?;
    let semantics = match first.as_str() {
        Some("s") => Semantics::Sim,
        Some("f") => Semantics::Fid,
        _ => return Err(JsonSourcesError::UnknownSemantics),
    };
    let ssrcs = ssrcs.iter().map(read_ssrc).collect::<Result<_, _>>()?;
    Ok(SsrcGroup::new(semantics, ssrcs, media_type))
}

fn read_array(value: Option<&Value>) -> Result<&[Value], JsonSourcesError> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(JsonSourcesError::Shape("expected an array")),
    }
}

/// Reads one set from its compact JSON value (missing trailing elements
/// read as empty). Video sources without `"v"` read as cameras, as the
/// client reads them.
pub fn set_from_compact_json(value: &Value) -> Result<EndpointSourceSet, JsonSourcesError> {
    let Value::Array(parts) = value else {
        return Err(JsonSourcesError::Shape("a set must be an array"));
    };
    let mut sources = Vec::new();
    let mut groups = Vec::new();
    for v in read_array(parts.first())? {
        sources.push(read_source(v, MediaType::Video)?);
    }
    for v in read_array(parts.get(1))? {
        groups.push(read_group(v, MediaType::Video)?);
    }
    for v in read_array(parts.get(2))? {
        sources.push(read_source(v, MediaType::Audio)?);
    }
    for v in read_array(parts.get(3))? {
        groups.push(read_group(v, MediaType::Audio)?);
    }
    Ok(EndpointSourceSet::from_parts(sources, groups))
}

/// Reads a `<json-message>` text, `{"sources":{OWNER: set, ...}}`, as the
/// client does; `Ok(None)` when it has no `sources` (another kind of
/// message).
pub fn parse_json_message(text: &str) -> Result<Option<ConferenceSourceMap>, JsonSourcesError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| JsonSourcesError::Syntax(e.to_string()))?;
    let Some(sources) = value.get("sources") else {
        return Ok(None);
    };
    let Value::Object(owners) = sources else {
        return Err(JsonSourcesError::Shape("\"sources\" must be an object"));
    };
    let mut map = ConferenceSourceMap::new();
    for (owner, set) in owners {
        map.add(owner.clone(), &set_from_compact_json(set)?);
    }
    Ok(Some(map))
}
