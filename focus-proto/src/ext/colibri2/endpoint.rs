//! `<endpoint/>` and what it carries: `<media/>`, the COLIBRI2
//! `<transport/>` with `<sctp/>`, `<force-mute/>`, `<capability/>` and
//! `<initial-last-n/>`; and [`ParticipantInfo`], what Jicofo builds an
//! endpoint from.
//!
//! The same [`Endpoint`] type serves requests (focus → bridge), answers
//! (`<endpoint id><transport/></endpoint>`) and the remote endpoints inside
//! a relay's `<endpoints/>`.

use minidom::Element;
use rxml::AttrMap;

use super::sources::Sources;
use super::{MAX_CAPABILITIES, MAX_MEDIA, NS_COLIBRI2, keep_other};
use crate::ext::ParseError;
use crate::ext::attrs::{Attrs, append_all, check_len, set, set_flag, set_opt, set_rest};
use crate::ext::jingle::content::{append_rtp_children, read_rtp_child};
use crate::ext::jingle::jitsi::InitialLastN;
use crate::ext::jingle::transport::NS_ICE_UDP;
use crate::ext::jingle::{Description, PayloadType, RtpHdrExt, Transport as IceTransport};
use crate::ext::muc::Role;
use crate::source::{EndpointSourceSet, MediaType};

/// A COLIBRI2 `<endpoint/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `id` (required): the participant's MUC nickname.
    pub id: String,
    /// `create`: allocate the endpoint.
    pub create: bool,
    /// `expire`: remove the endpoint (no children are sent with it).
    pub expire: bool,
    /// `stats-id`.
    pub stats_id: Option<String>,
    /// `muc-role` (Jicofo sends only `visitor`); read in any case, as
    /// Smack's `MUCRole.fromString`.
    pub muc_role: Option<Role>,
    /// `diarize`: per-endpoint diarization; written only when true.
    pub diarize: bool,
    /// `<media/>`s, in order (at most [`MAX_MEDIA`]).
    pub media: Vec<Media>,
    /// `<transport/>`; the first one if several.
    pub transport: Option<Transport>,
    /// `<sources/>`; the first one if several.
    pub sources: Option<Sources>,
    /// `<force-mute/>`; the first one if several.
    pub force_mute: Option<ForceMute>,
    /// `<capability/>`s, in order (at most [`MAX_CAPABILITIES`]).
    pub capabilities: Vec<Capability>,
    /// `<initial-last-n/>`; the first one if several.
    pub initial_last_n: Option<InitialLastN>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
    /// Children not listed above (up to [`super::MAX_OTHER`]), in order.
    pub other: Vec<Element>,
}

impl Endpoint {
    /// An endpoint with only an `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            create: false,
            expire: false,
            stats_id: None,
            muc_role: None,
            diarize: false,
            media: Vec::new(),
            transport: None,
            sources: None,
            force_mute: None,
            capabilities: Vec::new(),
            initial_last_n: None,
            extra_attrs: AttrMap::new(),
            other: Vec::new(),
        }
    }

    /// Jicofo's `ParticipantInfo.toEndpoint(create, expire)`: with
    /// `create`, `create='true'`, the `stats-id`, `diarize` when asked and
    /// the capabilities (`source-names` always, then
    /// `private-address-connectivity`, `ssrc-rewriting`, `rtp-mid-demux`
    /// as the participant has them); with `expire`, `expire='true'` and
    /// nothing else; otherwise the complete `<sources/>` (possibly empty).
    /// This is also the remote endpoint put into a relay.
    pub fn from_participant(p: &ParticipantInfo, create: bool, expire: bool) -> Self {
        let mut ep = Self::new(p.id.clone());
        if create {
            ep.create = true;
            ep.stats_id = p.stats_id.clone();
            ep.capabilities.push(Capability::SourceNames);
            if p.supports_private_addresses {
                ep.capabilities.push(Capability::PrivateAddressConnectivity);
            }
            if p.use_ssrc_rewriting {
                ep.capabilities.push(Capability::SsrcRewriting);
            }
            if p.use_rtp_mid_demux {
                ep.capabilities.push(Capability::RtpMidDemux);
            }
            ep.diarize = p.diarize;
        }
        if expire {
            ep.expire = true;
        } else {
            ep.sources = Some(Sources::from_set(&p.sources, &p.id));
        }
        ep
    }

    /// The endpoint of an allocation request (`sendAllocationRequest`):
    /// [`Endpoint::from_participant`] with `create`, plus `force-mute` when
    /// the participant starts muted, `muc-role='visitor'` for a visitor,
    /// the transport `<transport ice-controlling='true'>` (the bridge is
    /// ICE controlling) with a bare `<sctp/>` when SCTP is used, and the
    /// participant's media.
    pub fn allocation(p: &ParticipantInfo) -> Self {
        let mut ep = Self::from_participant(p, true, false);
        if p.audio_muted || p.video_muted {
            ep.force_mute = Some(ForceMute::new(p.audio_muted, p.video_muted));
        }
        if p.visitor {
            ep.muc_role = Some(Role::Visitor);
        }
        ep.transport = Some(Transport {
            ice_controlling: true,
            sctp: p.use_sctp.then(Sctp::default),
            ..Transport::default()
        });
        ep.media = p.media.clone();
        ep
    }

    /// An update (`updateParticipant`): `id`, `stats-id`, and whichever of
    /// the participant's ICE transport, complete sources and
    /// initial-last-n is given. `None` when all three are absent (Jicofo
    /// then sends nothing).
    pub fn update(
        id: impl Into<String>,
        stats_id: Option<String>,
        transport: Option<IceTransport>,
        sources: Option<&EndpointSourceSet>,
        initial_last_n: Option<i32>,
    ) -> Option<Self> {
        if transport.is_none() && sources.is_none() && initial_last_n.is_none() {
            return None;
        }
        let mut ep = Self::new(id);
        ep.stats_id = stats_id;
        ep.transport = transport.map(Transport::with_ice);
        ep.sources = sources.map(|s| Sources::from_set(s, &ep.id));
        ep.initial_last_n = initial_last_n.map(|value| InitialLastN { value });
        Some(ep)
    }

    /// An in-place ICE restart request (`restartIce`): `id`, `stats-id`
    /// and `<transport ice-restart='true'/>`.
    pub fn ice_restart(id: impl Into<String>, stats_id: Option<String>) -> Self {
        let mut ep = Self::new(id);
        ep.stats_id = stats_id;
        ep.transport = Some(Transport {
            ice_restart: true,
            ..Transport::default()
        });
        ep
    }

    /// A force-mute update (`updateForceMute`): `id` and a `<force-mute/>`
    /// (with no attributes when both are false: unmute).
    pub fn force_mute(id: impl Into<String>, audio: bool, video: bool) -> Self {
        let mut ep = Self::new(id);
        ep.force_mute = Some(ForceMute::new(audio, video));
        ep
    }

    /// `<endpoint id expire='true'/>`.
    pub fn expire(id: impl Into<String>) -> Self {
        let mut ep = Self::new(id);
        ep.expire = true;
        ep
    }

    /// The ICE-UDP transport inside the COLIBRI2 transport, if any.
    pub fn ice(&self) -> Option<&IceTransport> {
        self.transport.as_ref()?.ice.as_ref()
    }

    /// Whether a `<capability name/>` with this name is present.
    pub fn has_capability(&self, capability: &Capability) -> bool {
        self.capabilities.contains(capability)
    }

    /// Reads an `<endpoint/>`: `id` is required; `muc-role` must be a MUC
    /// role; media, transport, sources, force-mute, capabilities and
    /// initial-last-n must parse.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "endpoint", NS_COLIBRI2)?;
        let mut a = Attrs::of(el);
        let mut ep = Self::new(a.required("id")?);
        ep.create = a.flag("create");
        ep.expire = a.flag("expire");
        ep.stats_id = a.take("stats-id");
        ep.muc_role = a.parsed("muc-role", |v| Role::parse(&v.to_ascii_lowercase()))?;
        ep.diarize = a.flag("diarize");
        ep.extra_attrs = a.rest();
        for child in el.children() {
            if read_media_transport_sources(
                child,
                &mut ep.media,
                &mut ep.transport,
                &mut ep.sources,
            )? {
                continue;
            }
            if child.is("force-mute", NS_COLIBRI2) && ep.force_mute.is_none() {
                ep.force_mute = Some(ForceMute::parse(child)?);
            } else if child.is("capability", NS_COLIBRI2) {
                check_len(ep.capabilities.len(), MAX_CAPABILITIES, "capability")?;
                ep.capabilities.push(Capability::parse(child)?);
            } else if child.is("initial-last-n", NS_COLIBRI2) && ep.initial_last_n.is_none() {
                ep.initial_last_n = Some(InitialLastN::parse(child)?);
            } else {
                keep_other(&mut ep.other, child);
            }
        }
        Ok(ep)
    }

    /// The `<endpoint/>` element, children in Jitsi's order: media,
    /// transport, sources, force-mute, capabilities, initial-last-n, then
    /// the other children.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("endpoint", NS_COLIBRI2);
        set(&mut el, "id", &self.id);
        set_flag(&mut el, "create", self.create);
        set_flag(&mut el, "expire", self.expire);
        set_opt(&mut el, "stats-id", self.stats_id.as_ref());
        set_opt(&mut el, "muc-role", self.muc_role.map(|r| r.as_str()));
        set_flag(&mut el, "diarize", self.diarize);
        set_rest(&mut el, &self.extra_attrs);
        append_media_transport_sources(&mut el, &self.media, &self.transport, &self.sources);
        if let Some(force_mute) = &self.force_mute {
            el.append_child(force_mute.to_element());
        }
        for capability in &self.capabilities {
            el.append_child(capability.to_element());
        }
        if let Some(last_n) = &self.initial_last_n {
            el.append_child(last_n.to_element());
        }
        append_all(&mut el, &self.other);
        el
    }
}

/// Reads `child` into the `<media/>`s, `<transport/>` and `<sources/>`
/// that endpoints and relays both carry: media are capped at
/// [`MAX_MEDIA`], only the first transport and sources are read. `false`
/// when `child` is none of these (or a transport or sources already read),
/// for the caller to handle.
pub(super) fn read_media_transport_sources(
    child: &Element,
    media: &mut Vec<Media>,
    transport: &mut Option<Transport>,
    sources: &mut Option<Sources>,
) -> Result<bool, ParseError> {
    if child.is("media", NS_COLIBRI2) {
        check_len(media.len(), MAX_MEDIA, "media")?;
        media.push(Media::parse(child)?);
    } else if child.is("transport", NS_COLIBRI2) && transport.is_none() {
        *transport = Some(Transport::parse(child)?);
    } else if child.is("sources", NS_COLIBRI2) && sources.is_none() {
        *sources = Some(Sources::parse(child)?);
    } else {
        return Ok(false);
    }
    Ok(true)
}

/// Appends the `<media/>`s, `<transport/>` and `<sources/>` of an endpoint
/// or relay to `el`, in Jitsi's order.
pub(super) fn append_media_transport_sources(
    el: &mut Element,
    media: &[Media],
    transport: &Option<Transport>,
    sources: &Option<Sources>,
) {
    for media in media {
        el.append_child(media.to_element());
    }
    if let Some(transport) = transport {
        el.append_child(transport.to_element());
    }
    if let Some(sources) = sources {
        el.append_child(sources.to_element());
    }
}

/// What Jicofo knows about a participant when it talks to a bridge (its
/// `ParticipantInfo`): the input of [`Endpoint::from_participant`] and
/// [`Endpoint::allocation`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParticipantInfo {
    /// The endpoint id: the MUC nickname.
    pub id: String,
    /// The stats id from its presence.
    pub stats_id: Option<String>,
    /// Its current sources (complete).
    pub sources: EndpointSourceSet,
    /// Jigasi or Jibri with `use-private-address-connectivity`.
    pub supports_private_addresses: bool,
    /// Supports SSRC rewriting and `use-ssrc-rewriting` is on.
    pub use_ssrc_rewriting: bool,
    /// Supports mid demux and `use-rtp-mid-demux` is on.
    pub use_rtp_mid_demux: bool,
    /// Asked for diarization.
    pub diarize: bool,
    /// A visitor (`muc-role='visitor'`; never put into relays).
    pub visitor: bool,
    /// Starts force-muted for audio.
    pub audio_muted: bool,
    /// Starts force-muted for video.
    pub video_muted: bool,
    /// The offer has a `data` content: ask for SCTP.
    pub use_sctp: bool,
    /// The media of the offer (see [`Media::from_description`]).
    pub media: Vec<Media>,
}

/// A COLIBRI2 `<media type/>`: the payload types and header extensions of
/// one media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// `type` (required).
    pub media_type: MediaType,
    /// `<payload-type/>`s (RTP namespace), in order.
    pub payload_types: Vec<PayloadType>,
    /// `<rtp-hdrext/>`s, in order.
    pub hdrexts: Vec<RtpHdrExt>,
    /// `<extmap-allow-mixed/>` is present.
    pub extmap_allow_mixed: bool,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
    /// Other children (up to [`super::MAX_OTHER`]), in order.
    pub other: Vec<Element>,
}

impl Media {
    /// An empty media of `media_type`.
    pub fn new(media_type: MediaType) -> Self {
        Self {
            media_type,
            payload_types: Vec::new(),
            hdrexts: Vec::new(),
            extmap_allow_mixed: false,
            extra_attrs: AttrMap::new(),
            other: Vec::new(),
        }
    }

    /// What Jicofo copies from an offer's RTP description: every payload
    /// type, every header extension and `extmap-allow-mixed`. `None` for a
    /// description that is neither audio nor video (the `data` content is
    /// not converted).
    pub fn from_description(description: &Description) -> Option<Self> {
        use crate::ext::jingle::Media as JingleMedia;
        let media_type = match description.media {
            JingleMedia::Audio => MediaType::Audio,
            JingleMedia::Video => MediaType::Video,
            JingleMedia::Application => return None,
        };
        Some(Self {
            payload_types: description.payload_types.clone(),
            hdrexts: description.hdrexts.clone(),
            extmap_allow_mixed: description.extmap_allow_mixed,
            ..Self::new(media_type)
        })
    }

    /// Reads a `<media/>`: `type` (`audio`, `video`, `data`, any case) is
    /// required; payload types and header extensions must parse (the
    /// limits of [`crate::ext::jingle`] apply).
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "media", NS_COLIBRI2)?;
        let mut a = Attrs::of(el);
        let media_type = a
            .parsed("type", |v| MediaType::parse(&v.to_ascii_lowercase()))?
            .ok_or(ParseError::MissingAttribute("type"))?;
        let mut media = Self::new(media_type);
        media.extra_attrs = a.rest();
        for child in el.children() {
            if !read_rtp_child(
                child,
                &mut media.payload_types,
                &mut media.hdrexts,
                &mut media.extmap_allow_mixed,
            )? {
                keep_other(&mut media.other, child);
            }
        }
        Ok(media)
    }

    /// The `<media/>` element: payload types, header extensions,
    /// extmap-allow-mixed, then the other children.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("media", NS_COLIBRI2);
        set(&mut el, "type", self.media_type.as_str());
        set_rest(&mut el, &self.extra_attrs);
        append_rtp_children(
            &mut el,
            &self.payload_types,
            &self.hdrexts,
            self.extmap_allow_mixed,
        );
        append_all(&mut el, &self.other);
        el
    }
}

/// The COLIBRI2 `<transport/>` wrapper: the bridge's ICE role and options,
/// an ICE-UDP transport and the SCTP data channel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transport {
    /// `ice-controlling`: the bridge's ICE role.
    pub ice_controlling: bool,
    /// `use-unique-port`: a dedicated UDP port (relay initiator side).
    pub use_unique_port: bool,
    /// `ice-restart`: ask for an in-place ICE restart.
    pub ice_restart: bool,
    /// The ICE-UDP `<transport/>`; the first one if several.
    pub ice: Option<IceTransport>,
    /// `<sctp/>`; the first one if several.
    pub sctp: Option<Sctp>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
    /// Other children (up to [`super::MAX_OTHER`]), in order.
    pub other: Vec<Element>,
}

impl Transport {
    /// A wrapper around `ice` and nothing else (an update carrying a
    /// participant's transport, a relay's remote transport).
    pub fn with_ice(ice: IceTransport) -> Self {
        Self {
            ice: Some(ice),
            ..Self::default()
        }
    }

    /// Reads a COLIBRI2 `<transport/>`; the ICE-UDP transport and the
    /// `sctp` must parse.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "transport", NS_COLIBRI2)?;
        let mut a = Attrs::of(el);
        let mut t = Self {
            ice_controlling: a.flag("ice-controlling"),
            use_unique_port: a.flag("use-unique-port"),
            ice_restart: a.flag("ice-restart"),
            ..Self::default()
        };
        t.extra_attrs = a.rest();
        for child in el.children() {
            if child.is("transport", NS_ICE_UDP) && t.ice.is_none() {
                t.ice = Some(IceTransport::parse(child)?);
            } else if child.is("sctp", NS_COLIBRI2) && t.sctp.is_none() {
                t.sctp = Some(Sctp::parse(child)?);
            } else {
                keep_other(&mut t.other, child);
            }
        }
        Ok(t)
    }

    /// The `<transport/>` element: the ICE-UDP transport, then `sctp`, then
    /// the other children.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("transport", NS_COLIBRI2);
        set_flag(&mut el, "ice-controlling", self.ice_controlling);
        set_flag(&mut el, "use-unique-port", self.use_unique_port);
        set_flag(&mut el, "ice-restart", self.ice_restart);
        set_rest(&mut el, &self.extra_attrs);
        if let Some(ice) = &self.ice {
            el.append_child(ice.to_element());
        }
        if let Some(sctp) = &self.sctp {
            el.append_child(sctp.to_element());
        }
        append_all(&mut el, &self.other);
        el
    }
}

/// The SCTP role of a `<sctp/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SctpRole {
    /// `client`.
    Client,
    /// `server`.
    Server,
}

impl SctpRole {
    /// The wire value (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }

    /// Reads a wire value, in any case (Jitsi's `Role.parseString`).
    pub fn from_wire(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("client") {
            Some(Self::Client)
        } else if value.eq_ignore_ascii_case("server") {
            Some(Self::Server)
        } else {
            None
        }
    }

    /// The other role.
    pub fn opposite(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }
}

/// `<sctp port? role?/>`: the SCTP data channel over DTLS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sctp {
    /// `port` (the bridge answers 5000).
    pub port: Option<u16>,
    /// `role`.
    pub role: Option<SctpRole>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
}

impl Sctp {
    /// `<sctp role/>`.
    pub fn with_role(role: SctpRole) -> Self {
        Self {
            role: Some(role),
            ..Self::default()
        }
    }

    /// Reads a `<sctp/>`: `port` must be a port number and `role` `client`
    /// or `server` when present. Children are ignored.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "sctp", NS_COLIBRI2)?;
        let mut a = Attrs::of(el);
        Ok(Self {
            port: a.number("port")?,
            role: a.parsed("role", SctpRole::from_wire)?,
            extra_attrs: a.rest(),
        })
    }

    /// The `<sctp/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("sctp", NS_COLIBRI2);
        set_opt(&mut el, "role", self.role.map(SctpRole::as_str));
        set_opt(&mut el, "port", self.port);
        set_rest(&mut el, &self.extra_attrs);
        el
    }
}

/// `<force-mute audio? video?/>` (AV moderation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ForceMute {
    /// `audio`: written only when true.
    pub audio: bool,
    /// `video`: written only when true.
    pub video: bool,
}

impl ForceMute {
    /// Force-mute flags.
    pub fn new(audio: bool, video: bool) -> Self {
        Self { audio, video }
    }

    /// Reads a `<force-mute/>` (never fails on attributes).
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "force-mute", NS_COLIBRI2)?;
        let mut a = Attrs::of(el);
        Ok(Self {
            audio: a.flag("audio"),
            video: a.flag("video"),
        })
    }

    /// The `<force-mute/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("force-mute", NS_COLIBRI2);
        set_flag(&mut el, "audio", self.audio);
        set_flag(&mut el, "video", self.video);
        el
    }
}

/// A `<capability name/>` of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// `source-names` (mandatory for current bridges).
    SourceNames,
    /// `private-address-connectivity`.
    PrivateAddressConnectivity,
    /// `ssrc-rewriting`.
    SsrcRewriting,
    /// `rtp-mid-demux`.
    RtpMidDemux,
    /// Any other name, as received.
    Other(String),
}

impl Capability {
    /// The `name`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::SourceNames => "source-names",
            Self::PrivateAddressConnectivity => "private-address-connectivity",
            Self::SsrcRewriting => "ssrc-rewriting",
            Self::RtpMidDemux => "rtp-mid-demux",
            Self::Other(name) => name,
        }
    }

    /// The capability for a name (exact).
    pub fn from_name(name: &str) -> Self {
        match name {
            "source-names" => Self::SourceNames,
            "private-address-connectivity" => Self::PrivateAddressConnectivity,
            "ssrc-rewriting" => Self::SsrcRewriting,
            "rtp-mid-demux" => Self::RtpMidDemux,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Reads a `<capability/>`; `name` is required.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "capability", NS_COLIBRI2)?;
        Ok(Self::from_name(&Attrs::of(el).required("name")?))
    }

    /// The `<capability/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("capability", NS_COLIBRI2);
        set(&mut el, "name", self.as_str());
        el
    }
}
