//! `<content/>` and the RTP `<description/>` (XEP-0167) with payload types,
//! their parameters and RTCP feedback (XEP-0293), header extensions
//! (XEP-0294) and `extmap-allow-mixed`.
//!
//! Sources (`<source/>`, `<ssrc-group/>`, XEP-0339) are not modelled here:
//! they stay raw elements in [`Description::other`] (and
//! [`Content::other`] when a client puts them directly under the content),
//! for the source model in [`crate::source`] to read.

use minidom::Element;
use rxml::AttrMap;

use super::jitsi::{InitialLastN, NS_COLIBRI2};
use super::transport::{NS_ICE_UDP, Transport};
use super::{
    MAX_CONTENT_CHILDREN, MAX_DESCRIPTION_OTHER, MAX_HDREXTS, MAX_PAYLOAD_TYPE_CHILDREN,
    MAX_PAYLOAD_TYPES, NS_JINGLE,
};
use crate::ext::ParseError;
use crate::ext::attrs::{Attrs, append_all, check_len, set, set_opt, set_rest};

/// XEP-0167 RTP description (also `payload-type`, `parameter`, `rtcp-mux`).
pub const NS_RTP: &str = "urn:xmpp:jingle:apps:rtp:1";
/// XEP-0293 RTCP feedback.
pub const NS_RTCP_FB: &str = "urn:xmpp:jingle:apps:rtp:rtcp-fb:0";
/// XEP-0294 RTP header extensions (also `extmap-allow-mixed`).
pub const NS_RTP_HDREXT: &str = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0";
/// XEP-0339 source-specific media attributes (`source`, `ssrc-group`).
pub const NS_SSMA: &str = "urn:xmpp:jingle:apps:rtp:ssma:0";

/// `creator` of a content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Creator {
    /// `initiator`.
    Initiator,
    /// `responder`.
    Responder,
}

impl Creator {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initiator => "initiator",
            Self::Responder => "responder",
        }
    }

    fn from_wire(value: &str) -> Option<Self> {
        match value {
            "initiator" => Some(Self::Initiator),
            "responder" => Some(Self::Responder),
            _ => None,
        }
    }
}

/// `senders` of a content (or of a header extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Senders {
    /// `both`.
    Both,
    /// `initiator`.
    Initiator,
    /// `responder`.
    Responder,
    /// `none`.
    None,
}

impl Senders {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Both => "both",
            Self::Initiator => "initiator",
            Self::Responder => "responder",
            Self::None => "none",
        }
    }

    fn from_wire(value: &str) -> Option<Self> {
        Some(match value {
            "both" => Self::Both,
            "initiator" => Self::Initiator,
            "responder" => Self::Responder,
            "none" => Self::None,
            _ => return None,
        })
    }
}

/// A Jingle `<content/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// `name` (`audio`, `video`, `data` for Jitsi).
    pub name: String,
    /// `creator`; clients omit it in source-add/-remove and transport-info.
    pub creator: Option<Creator>,
    /// `senders`; absent means `both`.
    pub senders: Option<Senders>,
    /// `disposition`.
    pub disposition: Option<String>,
    /// `<initial-last-n/>` (`jitsi:colibri2`), which lib-jitsi-meet puts
    /// into the `video` content of its session-accept.
    pub initial_last_n: Option<InitialLastN>,
    /// The RTP `<description/>`; the first one if several.
    pub description: Option<Description>,
    /// The ICE-UDP `<transport/>`; the first one if several.
    pub transport: Option<Transport>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
    /// Children not listed above, in order (sources put directly under the
    /// content, other transports and descriptions, unknown elements).
    pub other: Vec<Element>,
}

impl Content {
    /// A content with only a name and a creator.
    pub fn new(name: impl Into<String>, creator: Creator) -> Self {
        Self {
            name: name.into(),
            creator: Some(creator),
            senders: None,
            disposition: None,
            initial_last_n: None,
            description: None,
            transport: None,
            extra_attrs: AttrMap::new(),
            other: Vec::new(),
        }
    }

    /// Reads a `<content/>` (Jingle namespace). `name` is required; a known
    /// attribute with an unknown value, or a malformed description,
    /// transport or initial-last-n, is an error.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "content", NS_JINGLE)?;
        let mut a = Attrs::of(el);
        let mut content = Content {
            name: a.required("name")?,
            creator: a.parsed("creator", Creator::from_wire)?,
            senders: a.parsed("senders", Senders::from_wire)?,
            disposition: a.take("disposition"),
            initial_last_n: None,
            description: None,
            transport: None,
            extra_attrs: a.rest(),
            other: Vec::new(),
        };
        for (i, child) in el.children().enumerate() {
            check_len(i, MAX_CONTENT_CHILDREN, "content child")?;
            if child.is("description", NS_RTP) && content.description.is_none() {
                content.description = Some(Description::parse(child)?);
            } else if child.is("transport", NS_ICE_UDP) && content.transport.is_none() {
                content.transport = Some(Transport::parse(child)?);
            } else if child.is("initial-last-n", NS_COLIBRI2) && content.initial_last_n.is_none() {
                content.initial_last_n = Some(InitialLastN::parse(child)?);
            } else {
                content.other.push(child.clone());
            }
        }
        Ok(content)
    }

    /// The `<content/>` element: initial-last-n, description, transport,
    /// then the other children.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("content", NS_JINGLE);
        set_opt(&mut el, "creator", self.creator.map(Creator::as_str));
        set_opt(&mut el, "disposition", self.disposition.as_ref());
        set(&mut el, "name", &self.name);
        set_opt(&mut el, "senders", self.senders.map(Senders::as_str));
        set_rest(&mut el, &self.extra_attrs);
        if let Some(last_n) = &self.initial_last_n {
            el.append_child(last_n.to_element());
        }
        if let Some(description) = &self.description {
            el.append_child(description.to_element());
        }
        if let Some(transport) = &self.transport {
            el.append_child(transport.to_element());
        }
        append_all(&mut el, &self.other);
        el
    }
}

/// The `media` of an RTP description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Media {
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// `application` (the data channel).
    Application,
}

impl Media {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Application => "application",
        }
    }

    /// Reads a wire value (exact, lower case).
    pub fn from_wire(value: &str) -> Option<Self> {
        Some(match value {
            "audio" => Self::Audio,
            "video" => Self::Video,
            "application" => Self::Application,
            _ => return None,
        })
    }
}

/// Reads `child` into the payload types, header extensions and
/// `extmap-allow-mixed` that an RTP `<description/>` and a COLIBRI2
/// `<media/>` both carry (at most [`MAX_PAYLOAD_TYPES`] and
/// [`MAX_HDREXTS`]). `false` when `child` is none of these (or a repeated
/// `extmap-allow-mixed`), for the caller to handle.
pub(crate) fn read_rtp_child(
    child: &Element,
    payload_types: &mut Vec<PayloadType>,
    hdrexts: &mut Vec<RtpHdrExt>,
    extmap_allow_mixed: &mut bool,
) -> Result<bool, ParseError> {
    if child.is("payload-type", NS_RTP) {
        check_len(payload_types.len(), MAX_PAYLOAD_TYPES, "payload-type")?;
        payload_types.push(PayloadType::parse(child)?);
    } else if child.is("rtp-hdrext", NS_RTP_HDREXT) {
        check_len(hdrexts.len(), MAX_HDREXTS, "rtp-hdrext")?;
        hdrexts.push(RtpHdrExt::parse(child)?);
    } else if child.is("extmap-allow-mixed", NS_RTP_HDREXT) && !*extmap_allow_mixed {
        *extmap_allow_mixed = true;
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// Appends payload types, header extensions and `extmap-allow-mixed` (when
/// set) to `el`, in Jitsi's order.
pub(crate) fn append_rtp_children(
    el: &mut Element,
    payload_types: &[PayloadType],
    hdrexts: &[RtpHdrExt],
    extmap_allow_mixed: bool,
) {
    for pt in payload_types {
        el.append_child(pt.to_element());
    }
    for ext in hdrexts {
        el.append_child(ext.to_element());
    }
    if extmap_allow_mixed {
        el.append_child(Element::bare("extmap-allow-mixed", NS_RTP_HDREXT));
    }
}

/// An RTP `<description/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// `media` (required; an unknown value is an error, as it makes
    /// Jicofo's source parsing fail).
    pub media: Media,
    /// `ssrc` (legacy, single-source descriptions), as received.
    pub ssrc: Option<String>,
    /// `maxptime` (the focus sends 60 for audio).
    pub maxptime: Option<u32>,
    /// `<payload-type/>`s, in order (at most [`MAX_PAYLOAD_TYPES`]).
    pub payload_types: Vec<PayloadType>,
    /// `<rtp-hdrext/>`s, in order (at most [`MAX_HDREXTS`]).
    pub hdrexts: Vec<RtpHdrExt>,
    /// `<extmap-allow-mixed/>` is present.
    pub extmap_allow_mixed: bool,
    /// `<rtcp-mux/>` (RTP namespace) is present.
    pub rtcp_mux: bool,
    /// Every other child in document order: `<source/>` and `<ssrc-group/>`
    /// ([`NS_SSMA`]), description-level `<rtcp-fb/>`, unknown elements (at
    /// most [`MAX_DESCRIPTION_OTHER`]).
    pub other: Vec<Element>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
}

impl Description {
    /// An empty description for `media`.
    pub fn new(media: Media) -> Self {
        Self {
            media,
            ssrc: None,
            maxptime: None,
            payload_types: Vec::new(),
            hdrexts: Vec::new(),
            extmap_allow_mixed: false,
            rtcp_mux: false,
            other: Vec::new(),
            extra_attrs: AttrMap::new(),
        }
    }

    /// Reads a `<description/>` in [`NS_RTP`].
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "description", NS_RTP)?;
        let mut a = Attrs::of(el);
        let media = a
            .parsed("media", Media::from_wire)?
            .ok_or(ParseError::MissingAttribute("media"))?;
        let mut d = Description::new(media);
        d.ssrc = a.take("ssrc");
        d.maxptime = a.number("maxptime")?;
        d.extra_attrs = a.rest();
        for child in el.children() {
            if read_rtp_child(
                child,
                &mut d.payload_types,
                &mut d.hdrexts,
                &mut d.extmap_allow_mixed,
            )? {
                continue;
            }
            if child.is("rtcp-mux", NS_RTP) && !d.rtcp_mux {
                d.rtcp_mux = true;
            } else {
                check_len(d.other.len(), MAX_DESCRIPTION_OTHER, "description child")?;
                d.other.push(child.clone());
            }
        }
        Ok(d)
    }

    /// The `<description/>` element in Jitsi's order: payload types, header
    /// extensions, extmap-allow-mixed, rtcp-mux, then the other children.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("description", NS_RTP);
        set(&mut el, "media", self.media.as_str());
        set_opt(&mut el, "ssrc", self.ssrc.as_ref());
        set_opt(&mut el, "maxptime", self.maxptime);
        set_rest(&mut el, &self.extra_attrs);
        append_rtp_children(
            &mut el,
            &self.payload_types,
            &self.hdrexts,
            self.extmap_allow_mixed,
        );
        if self.rtcp_mux {
            el.append_child(Element::bare("rtcp-mux", NS_RTP));
        }
        append_all(&mut el, &self.other);
        el
    }

    /// The `<source/>` and `<ssrc-group/>` children ([`NS_SSMA`]), in order.
    pub fn sources(&self) -> impl Iterator<Item = &Element> {
        self.other
            .iter()
            .filter(|c| c.is("source", NS_SSMA) || c.is("ssrc-group", NS_SSMA))
    }
}

/// A `<payload-type/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadType {
    /// `id`: the RTP payload type, 0–127.
    pub id: u8,
    /// `name` (encoding name: `opus`, `VP8`, `rtx`, …).
    pub name: Option<String>,
    /// `clockrate`.
    pub clockrate: Option<u32>,
    /// `channels`.
    pub channels: Option<u16>,
    /// The `<parameter/>` and `<rtcp-fb/>` children and unknown ones, in
    /// document order (Jitsi writes them in the order they were added).
    pub children: Vec<PayloadTypeChild>,
    /// Attributes not listed above (`ptime`, `maxptime`, …), kept.
    pub extra_attrs: AttrMap,
}

/// One child of a [`PayloadType`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadTypeChild {
    /// `<parameter/>` (an fmtp item).
    Parameter(Parameter),
    /// `<rtcp-fb/>`.
    RtcpFb(RtcpFb),
    /// Anything else, kept as received.
    Other(Element),
}

impl PayloadType {
    /// A payload type with `id`, `name` and `clockrate` and no children.
    pub fn new(id: u8, name: &str, clockrate: u32) -> Self {
        Self {
            id,
            name: Some(name.to_owned()),
            clockrate: Some(clockrate),
            channels: None,
            children: Vec::new(),
            extra_attrs: AttrMap::new(),
        }
    }

    /// Appends a `<parameter name value/>`.
    pub fn with_parameter(mut self, name: Option<&str>, value: &str) -> Self {
        self.children.push(PayloadTypeChild::Parameter(Parameter {
            name: name.map(str::to_owned),
            value: Some(value.to_owned()),
        }));
        self
    }

    /// Appends a `<rtcp-fb type subtype/>`.
    pub fn with_rtcp_fb(mut self, kind: &str, subtype: Option<&str>) -> Self {
        self.children
            .push(PayloadTypeChild::RtcpFb(RtcpFb::new(kind, subtype)));
        self
    }

    /// Reads a `<payload-type/>`: `id` (0–127) is required.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "payload-type", NS_RTP)?;
        let mut a = Attrs::of(el);
        let id: u8 = a.required_number("id")?;
        if id > 127 {
            return Err(ParseError::invalid_attribute("id", &id.to_string()));
        }
        let mut pt = PayloadType {
            id,
            name: a.take("name"),
            clockrate: a.number("clockrate")?,
            channels: a.number("channels")?,
            children: Vec::new(),
            extra_attrs: a.rest(),
        };
        for child in el.children() {
            check_len(
                pt.children.len(),
                MAX_PAYLOAD_TYPE_CHILDREN,
                "payload-type child",
            )?;
            pt.children.push(if child.is("parameter", NS_RTP) {
                PayloadTypeChild::Parameter(Parameter::parse(child)?)
            } else if child.is("rtcp-fb", NS_RTCP_FB) {
                PayloadTypeChild::RtcpFb(RtcpFb::parse(child)?)
            } else {
                PayloadTypeChild::Other(child.clone())
            });
        }
        Ok(pt)
    }

    /// The `<payload-type/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("payload-type", NS_RTP);
        set(&mut el, "id", self.id);
        set_opt(&mut el, "name", self.name.as_ref());
        set_opt(&mut el, "clockrate", self.clockrate);
        set_opt(&mut el, "channels", self.channels);
        set_rest(&mut el, &self.extra_attrs);
        for child in &self.children {
            el.append_child(match child {
                PayloadTypeChild::Parameter(p) => p.to_element(),
                PayloadTypeChild::RtcpFb(fb) => fb.to_element(),
                PayloadTypeChild::Other(other) => other.clone(),
            });
        }
        el
    }

    /// The parameters, in order.
    pub fn parameters(&self) -> impl Iterator<Item = &Parameter> {
        self.children.iter().filter_map(|c| match c {
            PayloadTypeChild::Parameter(p) => Some(p),
            _ => None,
        })
    }

    /// The RTCP feedback types, in order.
    pub fn rtcp_fbs(&self) -> impl Iterator<Item = &RtcpFb> {
        self.children.iter().filter_map(|c| match c {
            PayloadTypeChild::RtcpFb(fb) => Some(fb),
            _ => None,
        })
    }
}

/// A `<parameter/>` of a payload type. Both attributes are optional: Jicofo
/// writes RED's `111/111` without a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// `name`.
    pub name: Option<String>,
    /// `value`.
    pub value: Option<String>,
}

impl Parameter {
    /// Reads a `<parameter/>` (never fails on attributes). Unknown
    /// attributes and children are dropped.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "parameter", NS_RTP)?;
        let mut a = Attrs::of(el);
        Ok(Parameter {
            name: a.take("name"),
            value: a.take("value"),
        })
    }

    /// The `<parameter/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("parameter", NS_RTP);
        set_opt(&mut el, "name", self.name.as_ref());
        set_opt(&mut el, "value", self.value.as_ref());
        el
    }
}

/// A `<rtcp-fb/>` (XEP-0293).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpFb {
    /// `type` (`nack`, `ccm`, `goog-remb`, `transport-cc`, …).
    pub kind: String,
    /// `subtype` (`pli`, `fir`, …).
    pub subtype: Option<String>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
}

impl RtcpFb {
    /// A feedback type.
    pub fn new(kind: &str, subtype: Option<&str>) -> Self {
        Self {
            kind: kind.to_owned(),
            subtype: subtype.map(str::to_owned),
            extra_attrs: AttrMap::new(),
        }
    }

    /// Reads a `<rtcp-fb/>`; `type` is required.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "rtcp-fb", NS_RTCP_FB)?;
        let mut a = Attrs::of(el);
        Ok(RtcpFb {
            kind: a.required("type")?,
            subtype: a.take("subtype"),
            extra_attrs: a.rest(),
        })
    }

    /// The `<rtcp-fb/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("rtcp-fb", NS_RTCP_FB);
        set(&mut el, "type", &self.kind);
        set_opt(&mut el, "subtype", self.subtype.as_ref());
        set_rest(&mut el, &self.extra_attrs);
        el
    }
}

/// A `<rtp-hdrext/>` (XEP-0294).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpHdrExt {
    /// `id` (1–255).
    pub id: u8,
    /// `uri`.
    pub uri: String,
    /// `senders`, when given.
    pub senders: Option<Senders>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
    /// Children (an `attributes` parameter), kept as received; only the
    /// first four are read.
    pub children: Vec<Element>,
}

impl RtpHdrExt {
    /// A header extension with `id` and `uri`.
    pub fn new(id: u8, uri: &str) -> Self {
        Self {
            id,
            uri: uri.to_owned(),
            senders: None,
            extra_attrs: AttrMap::new(),
            children: Vec::new(),
        }
    }

    /// Reads a `<rtp-hdrext/>`; `id` (1–255) and `uri` are required.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "rtp-hdrext", NS_RTP_HDREXT)?;
        let mut a = Attrs::of(el);
        let id: u8 = a.required_number("id")?;
        if id == 0 {
            return Err(ParseError::invalid_attribute("id", "0"));
        }
        let ext = RtpHdrExt {
            id,
            uri: a.required("uri")?,
            senders: a.parsed("senders", Senders::from_wire)?,
            extra_attrs: a.rest(),
            children: el.children().take(4).cloned().collect(),
        };
        Ok(ext)
    }

    /// The `<rtp-hdrext/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("rtp-hdrext", NS_RTP_HDREXT);
        set(&mut el, "id", self.id);
        set(&mut el, "uri", &self.uri);
        set_opt(&mut el, "senders", self.senders.map(Senders::as_str));
        set_rest(&mut el, &self.extra_attrs);
        append_all(&mut el, &self.children);
        el
    }
}
