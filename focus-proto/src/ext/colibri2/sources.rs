//! `<sources/>` and `<media-source/>`: an endpoint's sources grouped by
//! source name (requests), and the bridge's feedback sources (answers).
//!
//! A `<media-source type id>` holds the Jingle `<source/>` and
//! `<ssrc-group/>` elements (`urn:xmpp:jingle:apps:rtp:ssma:0`) of one
//! signalled source name: all SSRCs of a simulcast / RTX set and their
//! groups. They are read into the source model's [`Source`] and
//! [`SsrcGroup`]; a group whose semantics the model does not know
//! (`FEC-FR`) is kept as a raw element in [`MediaSource::other`].

use minidom::Element;
use rxml::AttrMap;

use super::{MAX_MEDIA_SOURCES, MAX_SOURCES_PER_MEDIA_SOURCE, NS_COLIBRI2, keep_other};
use crate::ext::ParseError;
use crate::ext::attrs::{Attrs, append_all, check_len, set, set_flag, set_rest};
use crate::ext::jingle::content::NS_SSMA;
use crate::source::jingle::{group_element, parse_source, source_element};
use crate::source::{
    EndpointSourceSet, MediaType, Semantics, Source, Ssrc, SsrcGroup, source_name,
};

/// The owner Jicofo gives the bridge's feedback sources (`SSRC_OWNER_JVB`).
pub const FEEDBACK_OWNER: &str = "jvb";

/// A COLIBRI2 `<sources/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sources {
    /// The `<media-source/>`s, in order (at most [`MAX_MEDIA_SOURCES`]).
    pub media_sources: Vec<MediaSource>,
    /// Other children (up to [`super::MAX_OTHER`]), in order.
    pub other: Vec<Element>,
}

impl Sources {
    /// An empty `<sources/>` (what Jicofo sends for a participant without
    /// sources; the bridge then clears the endpoint's video sources).
    pub fn new() -> Self {
        Self::default()
    }

    /// Jicofo's `toColibriMediaSources`: one media source per source name,
    /// in order of first use. A source without a name goes under
    /// `ENDPOINT-a0` / `ENDPOINT-v0`; a group goes under the name of the
    /// first source of `set` that has one of its SSRCs. Groups without
    /// SSRCs are left out, and so is a group none of whose SSRCs has a
    /// source (Jicofo throws there; the source model's validation never
    /// lets such a group in). The msid is not sent.
    pub fn from_set(set: &EndpointSourceSet, endpoint_id: &str) -> Self {
        let mut media_sources: Vec<MediaSource> = Vec::new();
        fn entry(
            list: &mut Vec<MediaSource>,
            id: String,
            media_type: MediaType,
        ) -> &mut MediaSource {
            let at = match list.iter().position(|m| m.id == id) {
                Some(at) => at,
                None => {
                    list.push(MediaSource::new(media_type, id));
                    list.len() - 1
                }
            };
            &mut list[at]
        }
        for source in set.sources() {
            let id = source
                .name
                .clone()
                .unwrap_or_else(|| source_name(endpoint_id, source.media_type, 0));
            let mut source = source.clone();
            source.msid = None;
            entry(&mut media_sources, id, source.media_type)
                .sources
                .push(source);
        }
        for group in set.groups() {
            let Some(first) = set.sources().iter().find(|s| group.ssrcs.contains(&s.ssrc)) else {
                continue;
            };
            let id = first
                .name
                .clone()
                .unwrap_or_else(|| source_name(endpoint_id, group.media_type, 0));
            entry(&mut media_sources, id, group.media_type)
                .groups
                .push(group.clone());
        }
        Self {
            media_sources,
            other: Vec::new(),
        }
    }

    /// Reads a `<sources/>`: every `<media-source/>` must parse.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "sources", NS_COLIBRI2)?;
        let mut sources = Self::new();
        for child in el.children() {
            if child.is("media-source", NS_COLIBRI2) {
                check_len(
                    sources.media_sources.len(),
                    MAX_MEDIA_SOURCES,
                    "media-source",
                )?;
                sources.media_sources.push(MediaSource::parse(child)?);
            } else {
                keep_other(&mut sources.other, child);
            }
        }
        Ok(sources)
    }

    /// The `<sources/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("sources", NS_COLIBRI2);
        for ms in &self.media_sources {
            el.append_child(ms.to_element());
        }
        append_all(&mut el, &self.other);
        el
    }

    /// Every source and group as one set, each source with the media type
    /// of its media source.
    pub fn to_set(&self) -> EndpointSourceSet {
        EndpointSourceSet::from_parts(
            self.media_sources
                .iter()
                .flat_map(|m| m.sources.iter().cloned()),
            self.media_sources
                .iter()
                .flat_map(|m| m.groups.iter().cloned()),
        )
    }

    /// The bridge's feedback sources as Jicofo stores them
    /// (`parseSources`): every source with its media source's type, its
    /// `name`, no video type, and the msid `mixedmslabel mixedlabelaudio0`
    /// / `mixedmslabel mixedlabelvideo0`; the groups as they are. The
    /// owner to file them under is [`FEEDBACK_OWNER`].
    pub fn feedback_sources(&self) -> EndpointSourceSet {
        let sources = self.media_sources.iter().flat_map(|m| {
            let msid = format!("mixedmslabel mixedlabel{}0", m.media_type.as_str());
            m.sources.iter().map(move |s| Source {
                ssrc: s.ssrc,
                media_type: m.media_type,
                name: s.name.clone(),
                msid: Some(msid.clone()),
                video_type: None,
            })
        });
        let groups = self
            .media_sources
            .iter()
            .flat_map(|m| m.groups.iter().cloned());
        EndpointSourceSet::from_parts(sources, groups)
    }
}

/// A `<media-source type id synthetic?>`: the SSRCs and groups of one
/// source name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSource {
    /// `type` (required).
    pub media_type: MediaType,
    /// `id`: the source name (required).
    pub id: String,
    /// `synthetic`: a source injected by the focus (translation output);
    /// written only when true.
    pub synthetic: bool,
    /// The `<source/>`s, in order; each carries [`MediaSource::media_type`].
    pub sources: Vec<Source>,
    /// The `<ssrc-group/>`s with `SIM` or `FID` semantics, in order.
    pub groups: Vec<SsrcGroup>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
    /// Other children (groups of other semantics, unknown elements; up to
    /// [`super::MAX_OTHER`]), in order.
    pub other: Vec<Element>,
}

impl MediaSource {
    /// An empty media source.
    pub fn new(media_type: MediaType, id: impl Into<String>) -> Self {
        Self {
            media_type,
            id: id.into(),
            synthetic: false,
            sources: Vec::new(),
            groups: Vec::new(),
            extra_attrs: AttrMap::new(),
            other: Vec::new(),
        }
    }

    /// Reads a `<media-source/>`: `type` (`audio`, `video`, `data`) and `id`
    /// are required; every `<source/>` must have a valid `ssrc` (and a
    /// valid `videoType` if any), every SIM / FID group valid SSRCs.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "media-source", NS_COLIBRI2)?;
        let mut a = Attrs::of(el);
        let media_type = a
            .parsed("type", |v| MediaType::parse(&v.to_ascii_lowercase()))?
            .ok_or(ParseError::MissingAttribute("type"))?;
        let mut ms = MediaSource::new(media_type, a.required("id")?);
        ms.synthetic = a.flag("synthetic");
        ms.extra_attrs = a.rest();
        let mut count = 0;
        for child in el.children() {
            let known = child.is("source", NS_SSMA) || child.is("ssrc-group", NS_SSMA);
            if known {
                check_len(count, MAX_SOURCES_PER_MEDIA_SOURCE, "source")?;
                count += 1;
            }
            if child.is("source", NS_SSMA) {
                let source = parse_source(child, media_type)
                    .map_err(|e| ParseError::Invalid(e.to_string()))?;
                ms.sources.push(source);
            } else if child.is("ssrc-group", NS_SSMA) {
                match parse_group(child, media_type)? {
                    Some(group) => ms.groups.push(group),
                    None => keep_other(&mut ms.other, child),
                }
            } else {
                keep_other(&mut ms.other, child);
            }
        }
        Ok(ms)
    }

    /// The `<media-source/>` element: sources, then groups, then the other
    /// children. A source is written with `ssrc`, `name`, `videoType` (and
    /// its msid only if it has one, which a source built by
    /// [`Sources::from_set`] does not).
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("media-source", NS_COLIBRI2);
        set(&mut el, "type", self.media_type.as_str());
        set(&mut el, "id", &self.id);
        set_flag(&mut el, "synthetic", self.synthetic);
        set_rest(&mut el, &self.extra_attrs);
        for source in &self.sources {
            el.append_child(source_element(source, None));
        }
        for group in &self.groups {
            el.append_child(group_element(group));
        }
        append_all(&mut el, &self.other);
        el
    }
}

/// Reads an `<ssrc-group/>`: `None` when its semantics is not SIM or FID
/// (kept raw by the caller), an error when one of its SSRCs is invalid.
fn parse_group(el: &Element, media_type: MediaType) -> Result<Option<SsrcGroup>, ParseError> {
    let Some(semantics) = el.attr("semantics").and_then(Semantics::parse) else {
        return Ok(None);
    };
    let mut ssrcs = Vec::new();
    for child in el.children().filter(|c| c.is("source", NS_SSMA)) {
        check_len(
            ssrcs.len(),
            MAX_SOURCES_PER_MEDIA_SOURCE,
            "ssrc-group source",
        )?;
        let value = child.attr("ssrc").unwrap_or_default();
        let ssrc = value
            .parse::<u32>()
            .ok()
            .and_then(Ssrc::new)
            .ok_or_else(|| ParseError::invalid_attribute("ssrc", value))?;
        ssrcs.push(ssrc);
    }
    Ok(Some(SsrcGroup::new(semantics, ssrcs, media_type)))
}
