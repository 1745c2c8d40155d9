//! `<relay/>`: the bridge-to-bridge link (Octo) inside one conference, and
//! the requests Jicofo sends about it.

use minidom::Element;
use rxml::AttrMap;

use super::endpoint::{
    Endpoint, Media, ParticipantInfo, Sctp, SctpRole, Transport, append_media_transport_sources,
    read_media_transport_sources,
};
use super::sources::Sources;
use super::{MAX_ENTITIES, NS_COLIBRI2, keep_other};
use crate::config::CodecConfig;
use crate::ext::ParseError;
use crate::ext::attrs::{Attrs, append_all, check_len, set, set_flag, set_opt, set_rest};
use crate::ext::jingle::offer::{
    OfferOptions, audio_hdrexts, audio_payload_types, video_hdrexts, video_payload_types,
};
use crate::ext::jingle::{Setup, Transport as IceTransport};
use crate::source::MediaType;

/// A COLIBRI2 `<relay/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// `id` (required): the remote bridge's relay id.
    pub id: String,
    /// `mesh-id` (Jicofo's single mesh is `0`), sent on create.
    pub mesh_id: Option<String>,
    /// `create`.
    pub create: bool,
    /// `expire`: remove the relay and every remote endpoint behind it.
    pub expire: bool,
    /// `<media/>`s, in order (at most [`MAX_MEDIA`](super::MAX_MEDIA)).
    pub media: Vec<Media>,
    /// `<transport/>`; the first one if several.
    pub transport: Option<Transport>,
    /// `<sources/>` (not used by Jicofo for relays); the first one if
    /// several.
    pub sources: Option<Sources>,
    /// `<endpoints/>`: the remote endpoints, `None` without the element
    /// (at most [`MAX_ENTITIES`]).
    pub endpoints: Option<Vec<Endpoint>>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
    /// Children not listed above (up to [`super::MAX_OTHER`]), in order.
    pub other: Vec<Element>,
}

/// How one side of a relay is set up (Jicofo's `Relay` roles): the side
/// whose session already existed is the initiator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelaySide {
    /// This side initiates: dedicated port, ICE controlling, DTLS
    /// `active`, SCTP client, dials the relay web socket.
    pub initiator: bool,
    /// `jicofo.octo.sctp-datachannels`: the bridges talk over SCTP rather
    /// than a relay web socket.
    pub sctp_datachannels: bool,
}

impl RelaySide {
    /// The DTLS setup this side's bridge gets for the remote transport.
    pub fn dtls_setup(self) -> Setup {
        if self.initiator {
            Setup::Active
        } else {
            Setup::Passive
        }
    }

    /// The SCTP role this side asks for, when SCTP data channels are used.
    pub fn sctp_role(self) -> Option<SctpRole> {
        self.sctp_datachannels.then_some(if self.initiator {
            SctpRole::Client
        } else {
            SctpRole::Server
        })
    }

    /// Whether the remote transport keeps its `web-socket`s: only on the
    /// initiator side and only without SCTP data channels, so that one
    /// side dials.
    pub fn keeps_web_sockets(self) -> bool {
        self.initiator && !self.sctp_datachannels
    }
}

impl Relay {
    /// A relay with only an `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            mesh_id: None,
            create: false,
            expire: false,
            media: Vec::new(),
            transport: None,
            sources: None,
            endpoints: None,
            extra_attrs: AttrMap::new(),
            other: Vec::new(),
        }
    }

    /// The relay of a create request (`buildCreateRelayRequest`):
    /// `create='true'`, `mesh-id` when given, the `media`, the transport
    /// for `side` (`use-unique-port` and `ice-controlling` on the initiator
    /// side; `<sctp role/>` with SCTP data channels) and `<endpoints/>`
    /// (possibly empty) with every participant that is not a visitor, each
    /// as a created remote endpoint.
    pub fn create(
        id: impl Into<String>,
        mesh_id: Option<String>,
        side: RelaySide,
        media: Vec<Media>,
        participants: &[ParticipantInfo],
    ) -> Self {
        let mut relay = Self::new(id);
        relay.mesh_id = mesh_id;
        relay.create = true;
        relay.media = media;
        relay.transport = Some(Transport {
            use_unique_port: side.initiator,
            ice_controlling: side.initiator,
            sctp: side.sctp_role().map(Sctp::with_role),
            ..Transport::default()
        });
        relay.endpoints = Some(
            participants
                .iter()
                .filter(|p| !p.visitor)
                .map(|p| Endpoint::from_participant(p, true, false))
                .collect(),
        );
        relay
    }

    /// The media of a relay create request, from the codec configuration
    /// with the default offer options (Jicofo's `CodecUtil`): audio then
    /// video, each with its payload types, header extensions and
    /// `extmap-allow-mixed` when configured.
    pub fn media_from_config(codec: &CodecConfig) -> Vec<Media> {
        let options = OfferOptions::default();
        let mixed = codec.rtp_extensions.extmap_allow_mixed;
        let mut audio = Media::new(MediaType::Audio);
        audio.payload_types = audio_payload_types(codec, &options);
        audio.hdrexts = audio_hdrexts(codec, &options);
        audio.extmap_allow_mixed = mixed;
        let mut video = Media::new(MediaType::Video);
        video.payload_types = video_payload_types(codec, &options);
        video.hdrexts = video_hdrexts(codec, &options);
        video.extmap_allow_mixed = mixed;
        vec![audio, video]
    }

    /// The relay that hands the other bridge's transport to this side
    /// (`Relay.setTransport`): every DTLS fingerprint gets the side's
    /// [setup](RelaySide::dtls_setup), web-sockets are dropped unless
    /// [the side keeps them](RelaySide::keeps_web_sockets). `None` when a
    /// fingerprint's setup is not `actpass` (Jicofo logs an error and sends
    /// nothing).
    pub fn remote_transport(
        id: impl Into<String>,
        side: RelaySide,
        mut transport: IceTransport,
    ) -> Option<Self> {
        for fingerprint in &mut transport.fingerprints {
            if fingerprint.setup != Some(Setup::Actpass) {
                return None;
            }
            fingerprint.setup = Some(side.dtls_setup());
        }
        if !side.keeps_web_sockets() {
            transport.web_sockets.clear();
        }
        let mut relay = Self::new(id);
        relay.transport = Some(Transport::with_ice(transport));
        Some(relay)
    }

    /// Adds (`create`) or updates one remote endpoint
    /// (`Relay.updateParticipant`): `<endpoints>` with the participant as
    /// [`Endpoint::from_participant`] makes it (create: stats-id,
    /// capabilities and sources; update: id and sources).
    pub fn update_endpoint(
        id: impl Into<String>,
        participant: &ParticipantInfo,
        create: bool,
    ) -> Self {
        let mut relay = Self::new(id);
        relay.endpoints = Some(vec![Endpoint::from_participant(participant, create, false)]);
        relay
    }

    /// Removes remote endpoints (`Relay.expireParticipants`): one
    /// `<endpoint id expire='true'/>` per participant that is not a
    /// visitor. `None` when all are visitors (nothing is sent).
    pub fn expire_endpoints<'a>(
        id: impl Into<String>,
        participants: impl IntoIterator<Item = &'a ParticipantInfo>,
    ) -> Option<Self> {
        let endpoints: Vec<Endpoint> = participants
            .into_iter()
            .filter(|p| !p.visitor)
            .map(|p| Endpoint::expire(p.id.clone()))
            .collect();
        if endpoints.is_empty() {
            return None;
        }
        let mut relay = Self::new(id);
        relay.endpoints = Some(endpoints);
        Some(relay)
    }

    /// `<relay id expire='true'/>`.
    pub fn expire(id: impl Into<String>) -> Self {
        let mut relay = Self::new(id);
        relay.expire = true;
        relay
    }

    /// The ICE-UDP transport inside the COLIBRI2 transport, if any.
    pub fn ice(&self) -> Option<&IceTransport> {
        self.transport.as_ref()?.ice.as_ref()
    }

    /// Reads a `<relay/>`: `id` is required; media, transport, sources and
    /// the remote endpoints must parse. Children of `<endpoints/>` other
    /// than endpoints are ignored.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "relay", NS_COLIBRI2)?;
        let mut a = Attrs::of(el);
        let mut relay = Self::new(a.required("id")?);
        relay.create = a.flag("create");
        relay.expire = a.flag("expire");
        relay.mesh_id = a.take("mesh-id");
        relay.extra_attrs = a.rest();
        for child in el.children() {
            if read_media_transport_sources(
                child,
                &mut relay.media,
                &mut relay.transport,
                &mut relay.sources,
            )? {
                continue;
            }
            if child.is("endpoints", NS_COLIBRI2) && relay.endpoints.is_none() {
                let mut endpoints = Vec::new();
                for ep in child.children().filter(|c| c.is("endpoint", NS_COLIBRI2)) {
                    check_len(endpoints.len(), MAX_ENTITIES, "endpoint")?;
                    endpoints.push(Endpoint::parse(ep)?);
                }
                relay.endpoints = Some(endpoints);
            } else {
                keep_other(&mut relay.other, child);
            }
        }
        Ok(relay)
    }

    /// The `<relay/>` element, children in Jitsi's order: media, transport,
    /// sources, endpoints, then the other children.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("relay", NS_COLIBRI2);
        set(&mut el, "id", &self.id);
        set_flag(&mut el, "create", self.create);
        set_flag(&mut el, "expire", self.expire);
        set_opt(&mut el, "mesh-id", self.mesh_id.as_ref());
        set_rest(&mut el, &self.extra_attrs);
        append_media_transport_sources(&mut el, &self.media, &self.transport, &self.sources);
        if let Some(endpoints) = &self.endpoints {
            let mut list = Element::bare("endpoints", NS_COLIBRI2);
            for ep in endpoints {
                list.append_child(ep.to_element());
            }
            el.append_child(list);
        }
        append_all(&mut el, &self.other);
        el
    }
}
