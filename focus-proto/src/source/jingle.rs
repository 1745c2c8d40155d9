//! Sources in Jingle `<content>` elements (sources.md section 2): parsing
//! what a participant signals, writing what a receiver gets.

use minidom::Element;

use super::group::{Semantics, SsrcGroup};
use super::map::ConferenceSourceMap;
use super::set::EndpointSourceSet;
use super::source::{MediaType, Source, Ssrc, VideoType};
use crate::xml::ncname;

/// `urn:xmpp:jingle:1`: `<jingle>` and `<content>`.
pub const NS_JINGLE: &str = "urn:xmpp:jingle:1";
/// `urn:xmpp:jingle:apps:rtp:1`: `<description>` and `<parameter>`.
pub const NS_RTP: &str = "urn:xmpp:jingle:apps:rtp:1";
/// `urn:xmpp:jingle:apps:rtp:ssma:0`: `<source>` and `<ssrc-group>`.
pub const NS_SSMA: &str = "urn:xmpp:jingle:apps:rtp:ssma:0";
/// `http://jitsi.org/jitmeet`: `<ssrc-info owner>`.
pub const NS_JITMEET: &str = "http://jitsi.org/jitmeet";

/// Most `<source>` elements read from one request (counted before repeats
/// collapse). Far above any sane `max-ssrcs-per-user` (default 20): a set
/// this large is rejected anyway, this only bounds the work on hostile input.
pub const MAX_PARSED_SOURCES: usize = 1000;
/// Most `<ssrc-group>` elements read from one request.
pub const MAX_PARSED_GROUPS: usize = 1000;
/// Most `<source>` children of all `<ssrc-group>`s of one request together.
pub const MAX_PARSED_GROUP_SSRCS: usize = 4000;

/// Longest value quoted back in a [`SourceParseError`].
const QUOTE_MAX: usize = 64;

/// Why the sources of a request could not be read. The caller answers
/// `bad-request` (Jicofo throws and sends no answer at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceParseError {
    /// The media type (`description/@media`, else `content/@name`) is
    /// missing or not `audio`, `video` or `data`.
    #[error("{0} is not a currently supported MediaType")]
    UnknownMediaType(String),
    /// An `ssrc` is a number outside `1 ..= 2^32-1`; a missing one reads as
    /// `-1`, as in Jicofo. Same text as validation rule 1.
    #[error("Invalid SSRC: {0}.")]
    InvalidSsrc(i64),
    /// An `ssrc` is not a number.
    #[error("For input string: \"{0}\"")]
    SsrcNotANumber(String),
    /// A `videoType` other than `camera` or `desktop` (any case).
    #[error("Invalid VideoType: {0}")]
    InvalidVideoType(String),
    /// An `ssrc-group` semantics other than `SIM` or `FID` (any case).
    #[error("Invalid ssrc-group semantics: {0}")]
    InvalidSemantics(String),
    /// More `<source>` elements than [`MAX_PARSED_SOURCES`].
    #[error("Too many sources (more than {0}).")]
    TooManySources(usize),
    /// More `<ssrc-group>` elements than [`MAX_PARSED_GROUPS`].
    #[error("Too many ssrc-groups (more than {0}).")]
    TooManyGroups(usize),
    /// More grouped SSRCs than [`MAX_PARSED_GROUP_SSRCS`].
    #[error("Too many SSRCs in ssrc-groups (more than {0}).")]
    TooManyGroupSsrcs(usize),
}

/// At most [`QUOTE_MAX`] characters of `value`, with `…` when cut.
fn quote(value: &str) -> String {
    match value.char_indices().nth(QUOTE_MAX) {
        Some((at, _)) => format!("{}…", value.get(..at).unwrap_or_default()),
        None => value.to_owned(),
    }
}

/// Java's `Long.parseLong`: an optional sign and decimal digits.
fn parse_long(value: &str) -> Option<i64> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// The `ssrc` attribute of a `<source>` (missing reads as `-1`).
fn parse_ssrc(el: &Element) -> Result<Ssrc, SourceParseError> {
    let value = match el.attr("ssrc") {
        None => -1,
        Some(text) => {
            parse_long(text).ok_or_else(|| SourceParseError::SsrcNotANumber(quote(text)))?
        }
    };
    Ssrc::from_i64(value).ok_or(SourceParseError::InvalidSsrc(value))
}

/// Counts parsed elements against the limits.
#[derive(Default)]
struct Budget {
    sources: usize,
    groups: usize,
    group_ssrcs: usize,
}

impl Budget {
    fn source(&mut self) -> Result<(), SourceParseError> {
        self.sources += 1;
        if self.sources > MAX_PARSED_SOURCES {
            return Err(SourceParseError::TooManySources(MAX_PARSED_SOURCES));
        }
        Ok(())
    }

    fn group(&mut self) -> Result<(), SourceParseError> {
        self.groups += 1;
        if self.groups > MAX_PARSED_GROUPS {
            return Err(SourceParseError::TooManyGroups(MAX_PARSED_GROUPS));
        }
        Ok(())
    }

    fn group_ssrc(&mut self) -> Result<(), SourceParseError> {
        self.group_ssrcs += 1;
        if self.group_ssrcs > MAX_PARSED_GROUP_SSRCS {
            return Err(SourceParseError::TooManyGroupSsrcs(MAX_PARSED_GROUP_SSRCS));
        }
        Ok(())
    }
}

/// Reads one `<source>` element of `media_type`.
pub fn parse_source(el: &Element, media_type: MediaType) -> Result<Source, SourceParseError> {
    let ssrc = parse_ssrc(el)?;
    // The first parameter named msid decides, even when it has no value.
    let msid = el
        .children()
        .find(|p| {
            (p.is("parameter", NS_RTP) || p.is("parameter", NS_SSMA))
                && p.attr("name") == Some("msid")
        })
        .and_then(|p| p.attr("value"))
        .map(str::to_owned);
    let video_type = match el.attr("videoType") {
        None => None,
        Some(v) => {
            Some(VideoType::parse(v).ok_or_else(|| SourceParseError::InvalidVideoType(quote(v)))?)
        }
    };
    Ok(Source {
        ssrc,
        media_type,
        name: el.attr("name").map(str::to_owned),
        msid,
        video_type,
    })
}

/// Reads one `<ssrc-group>` element of `media_type`.
fn parse_group(
    el: &Element,
    media_type: MediaType,
    budget: &mut Budget,
) -> Result<SsrcGroup, SourceParseError> {
    let semantics_text = el.attr("semantics").unwrap_or("null");
    let semantics = Semantics::parse(semantics_text)
        .ok_or_else(|| SourceParseError::InvalidSemantics(quote(semantics_text)))?;
    let mut ssrcs = Vec::new();
    for child in el.children().filter(|c| c.is("source", NS_SSMA)) {
        budget.group_ssrc()?;
        ssrcs.push(parse_ssrc(child)?);
    }
    Ok(SsrcGroup::new(semantics, ssrcs, media_type))
}

/// Reads the sources of Jingle `<content>` elements, as Jicofo's
/// `EndpointSourceSet.fromJingle` does:
///
/// * the media type is `description/@media` when there is an RTP
///   `<description>`, else `content/@name`; it must be `audio`, `video` or
///   `data` even when the content has no sources;
/// * `<source>`s are read from the description and directly under the
///   content, `<ssrc-group>`s only from the description;
/// * the `msid` is the first `<parameter name='msid'>` (in the RTP or, as
///   when the `parameter` has no `xmlns` of its own, the ssma namespace);
/// * identical sources and groups collapse.
///
/// The elements passed are taken as contents whatever their name; see
/// [`parse_jingle`] to read a whole `<jingle>`.
pub fn parse_contents<'a>(
    contents: impl IntoIterator<Item = &'a Element>,
) -> Result<EndpointSourceSet, SourceParseError> {
    let mut budget = Budget::default();
    let mut sources = Vec::new();
    let mut groups = Vec::new();
    for content in contents {
        let description = content.get_child("description", NS_RTP);
        // A content without sources has nothing to read, whatever its
        // media (Jicofo would still choke on an unknown one, e.g. a data
        // content with `media='application'`).
        let holds_sources = |el: &Element| {
            el.children()
                .any(|c| c.is("source", NS_SSMA) || c.is("ssrc-group", NS_SSMA))
        };
        if !holds_sources(content) && !description.is_some_and(holds_sources) {
            continue;
        }
        let media_text = match description {
            Some(d) => d.attr("media"),
            None => content.attr("name"),
        };
        let media_type = media_text.and_then(MediaType::parse).ok_or_else(|| {
            SourceParseError::UnknownMediaType(quote(media_text.unwrap_or("null")))
        })?;
        if let Some(description) = description {
            for child in description.children() {
                if child.is("source", NS_SSMA) {
                    budget.source()?;
                    sources.push(parse_source(child, media_type)?);
                } else if child.is("ssrc-group", NS_SSMA) {
                    budget.group()?;
                    groups.push(parse_group(child, media_type, &mut budget)?);
                }
            }
        }
        for child in content.children().filter(|c| c.is("source", NS_SSMA)) {
            budget.source()?;
            sources.push(parse_source(child, media_type)?);
        }
    }
    Ok(EndpointSourceSet::from_parts(sources, groups))
}

/// Reads the sources of the `<content>` children of a `<jingle>` element
/// (see [`parse_contents`]).
pub fn parse_jingle(jingle: &Element) -> Result<EndpointSourceSet, SourceParseError> {
    parse_contents(jingle.children().filter(|c| c.is("content", NS_JINGLE)))
}

/// A `<source>` element for a receiver: `ssrc`, `name`, `videoType`, an
/// `<ssrc-info owner>` when `owner` is given and the msid `<parameter>`.
pub fn source_element(source: &Source, owner: Option<&str>) -> Element {
    let mut el = Element::builder("source", NS_SSMA).attr(ncname("ssrc"), source.ssrc.to_string());
    if let Some(name) = &source.name {
        el = el.attr(ncname("name"), name.as_str());
    }
    if let Some(video_type) = source.video_type {
        el = el.attr(ncname("videoType"), video_type.as_str());
    }
    if let Some(owner) = owner {
        el = el.append(
            Element::builder("ssrc-info", NS_JITMEET)
                .attr(ncname("owner"), owner)
                .build(),
        );
    }
    if let Some(msid) = &source.msid {
        el = el.append(
            Element::builder("parameter", NS_RTP)
                .attr(ncname("name"), "msid")
                .attr(ncname("value"), msid.as_str())
                .build(),
        );
    }
    el.build()
}

/// An `<ssrc-group semantics>` element with a `<source ssrc>` per SSRC.
pub fn group_element(group: &SsrcGroup) -> Element {
    Element::builder("ssrc-group", NS_SSMA)
        .attr(ncname("semantics"), group.semantics.as_str())
        .append_all(group.ssrcs.iter().map(|ssrc| {
            Element::builder("source", NS_SSMA)
                .attr(ncname("ssrc"), ssrc.to_string())
                .build()
        }))
        .build()
}

/// A new `<content name><description media/></content>` for `media_type`
/// (no `creator`, no `senders`, as Jicofo writes them).
fn new_content(media_type: MediaType) -> Element {
    Element::builder("content", NS_JINGLE)
        .attr(ncname("name"), media_type.as_str())
        .append(
            Element::builder("description", NS_RTP)
                .attr(ncname("media"), media_type.as_str())
                .build(),
        )
        .build()
}

/// Appends `el` to the RTP description of `content`, adding the
/// description (with `media` = the content name) when missing.
fn append_to_description(content: &mut Element, el: Element) {
    if let Some(description) = content.get_child_mut("description", NS_RTP) {
        description.append_child(el);
        return;
    }
    let mut description = Element::builder("description", NS_RTP);
    if let Some(name) = content.attr("name") {
        description = description.attr(ncname("media"), name.to_owned());
    }
    content.append_child(description.append(el).build());
}

/// Appends `el` to the description of the content of `media_type` among
/// `contents` (by content name), creating the content at the end if needed.
fn push_to(contents: &mut Vec<Element>, media_type: MediaType, el: Element) {
    match contents
        .iter_mut()
        .find(|c| c.attr("name") == Some(media_type.as_str()))
    {
        Some(content) => append_to_description(content, el),
        None => {
            let mut content = new_content(media_type);
            append_to_description(&mut content, el);
            contents.push(content);
        }
    }
}

/// The sources of `map` as new `<content>` elements for a receiver
/// (source-add, source-remove): per owner its sources then its groups, one
/// content per media type in order of first use.
pub fn map_to_contents(map: &ConferenceSourceMap) -> Vec<Element> {
    let mut contents = Vec::new();
    for (owner, set) in map.iter() {
        append_set(&mut contents, Some(owner), set);
    }
    contents
}

/// The sources of one set as new `<content>` elements (see
/// [`map_to_contents`]), with `ssrc-info` when `owner` is given.
pub fn set_to_contents(set: &EndpointSourceSet, owner: Option<&str>) -> Vec<Element> {
    let mut contents = Vec::new();
    append_set(&mut contents, owner, set);
    contents
}

fn append_set(contents: &mut Vec<Element>, owner: Option<&str>, set: &EndpointSourceSet) {
    for source in set.sources() {
        push_to(contents, source.media_type, source_element(source, owner));
    }
    for group in set.groups() {
        push_to(contents, group.media_type, group_element(group));
    }
}

/// Adds one owner's audio and video sources and groups to the existing
/// descriptions of an offer's `contents` (matched by content name), adding
/// a description or a content where missing. Data sources are left out.
pub fn insert_into_offer(contents: &mut Vec<Element>, owner: &str, set: &EndpointSourceSet) {
    for media_type in [MediaType::Audio, MediaType::Video] {
        for source in set.sources().iter().filter(|s| s.media_type == media_type) {
            push_to(contents, media_type, source_element(source, Some(owner)));
        }
        for group in set.groups().iter().filter(|g| g.media_type == media_type) {
            push_to(contents, media_type, group_element(group));
        }
    }
}

/// Adds every owner's audio and video sources to an offer's `contents` in
/// Jicofo's order (all audio sources, audio groups, video sources, video
/// groups). Unlike Jicofo, contents other than audio and video (`data`)
/// are kept.
pub fn insert_map_into_offer(contents: &mut Vec<Element>, map: &ConferenceSourceMap) {
    for media_type in [MediaType::Audio, MediaType::Video] {
        for (owner, set) in map.iter() {
            for source in set.sources().iter().filter(|s| s.media_type == media_type) {
                push_to(contents, media_type, source_element(source, Some(owner)));
            }
        }
        for (_, set) in map.iter() {
            for group in set.groups().iter().filter(|g| g.media_type == media_type) {
                push_to(contents, media_type, group_element(group));
            }
        }
    }
}
