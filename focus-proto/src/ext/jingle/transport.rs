//! The ICE-UDP transport (XEP-0176, `urn:xmpp:jingle:transports:ice-udp:1`)
//! with the DTLS fingerprint (XEP-0320), Jitsi's colibri `web-socket` and
//! the DTLS-SCTP `sctpmap`.
//!
//! The same element travels in Jingle (focus ↔ participant) and inside
//! COLIBRI2 `<transport/>` (focus ↔ bridge), so nothing here assumes either.
//! Children are written in the order Jitsi's `IceUdpTransportPacketExtension`
//! writes them: everything else first (web-socket, rtcp-mux, fingerprint,
//! sctpmap, unknown, in that order here), candidates last.

use minidom::Element;
use rxml::AttrMap;

use super::{MAX_CANDIDATES, MAX_TRANSPORT_CHILDREN};
use crate::ext::ParseError;
use crate::ext::attrs::{Attrs, append_all, bool_str, check_len, set, set_opt, set_rest};
use crate::ext::brewery::NS_COLIBRI;

/// XEP-0176 ICE-UDP transport.
pub const NS_ICE_UDP: &str = "urn:xmpp:jingle:transports:ice-udp:1";
/// XEP-0320 DTLS fingerprint.
pub const NS_DTLS: &str = "urn:xmpp:jingle:apps:dtls:0";
/// The `sctpmap` of the (old) DTLS-SCTP transport draft.
pub const NS_DTLS_SCTP: &str = "urn:xmpp:jingle:transports:dtls-sctp:1";

/// An ICE-UDP `<transport/>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transport {
    /// `ufrag`: the ICE username fragment.
    pub ufrag: Option<String>,
    /// `pwd`: the ICE password.
    pub pwd: Option<String>,
    /// `ice-generation`: set by a bridge (and echoed by the client) after an
    /// in-place ICE restart.
    pub ice_generation: Option<u32>,
    /// `<candidate/>`s, in order (at most [`MAX_CANDIDATES`]).
    pub candidates: Vec<Candidate>,
    /// `<fingerprint/>`s (DTLS), in order.
    pub fingerprints: Vec<Fingerprint>,
    /// `<web-socket/>`s (colibri bridge channel), in order.
    pub web_sockets: Vec<WebSocket>,
    /// `<rtcp-mux/>` in the ICE-UDP namespace is present.
    pub rtcp_mux: bool,
    /// `<sctpmap/>` (only in the `data` content); the first one if several.
    pub sctpmap: Option<SctpMap>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
    /// Children not listed above (including `remote-candidate`), in order.
    pub other: Vec<Element>,
}

impl Transport {
    /// Reads an ICE-UDP `<transport/>`. Every attribute and child is
    /// optional; a malformed candidate, fingerprint, web-socket or sctpmap
    /// fails it, as do more than [`MAX_CANDIDATES`] candidates or
    /// [`MAX_TRANSPORT_CHILDREN`] other children.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "transport", NS_ICE_UDP)?;
        let mut attrs = Attrs::of(el);
        let mut transport = Transport {
            ufrag: attrs.take("ufrag"),
            pwd: attrs.take("pwd"),
            ice_generation: attrs.number("ice-generation")?,
            ..Default::default()
        };
        transport.extra_attrs = attrs.rest();
        let mut others = 0;
        for child in el.children() {
            if child.is("candidate", NS_ICE_UDP) {
                check_len(transport.candidates.len(), MAX_CANDIDATES, "candidate")?;
                transport.candidates.push(Candidate::parse(child)?);
                continue;
            }
            check_len(others, MAX_TRANSPORT_CHILDREN, "transport child")?;
            others += 1;
            if child.is("fingerprint", NS_DTLS) {
                transport.fingerprints.push(Fingerprint::parse(child)?);
            } else if child.is("web-socket", NS_COLIBRI) {
                transport.web_sockets.push(WebSocket::parse(child)?);
            } else if child.is("rtcp-mux", NS_ICE_UDP) && !transport.rtcp_mux {
                transport.rtcp_mux = true;
            } else if child.is("sctpmap", NS_DTLS_SCTP) && transport.sctpmap.is_none() {
                transport.sctpmap = Some(SctpMap::parse(child)?);
            } else {
                transport.other.push(child.clone());
            }
        }
        Ok(transport)
    }

    /// The `<transport/>` element: attributes, then web-sockets, rtcp-mux,
    /// fingerprints, sctpmap, other children and candidates last (Jitsi's
    /// order).
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("transport", NS_ICE_UDP);
        set_opt(&mut el, "ufrag", self.ufrag.as_ref());
        set_opt(&mut el, "pwd", self.pwd.as_ref());
        set_opt(&mut el, "ice-generation", self.ice_generation);
        set_rest(&mut el, &self.extra_attrs);
        for ws in &self.web_sockets {
            el.append_child(ws.to_element());
        }
        if self.rtcp_mux {
            el.append_child(Element::bare("rtcp-mux", NS_ICE_UDP));
        }
        for fp in &self.fingerprints {
            el.append_child(fp.to_element());
        }
        if let Some(sctpmap) = &self.sctpmap {
            el.append_child(sctpmap.to_element());
        }
        append_all(&mut el, &self.other);
        for candidate in &self.candidates {
            el.append_child(candidate.to_element());
        }
        el
    }

    /// The copy of a bridge's transport that the focus puts into an offer
    /// or a transport-info (Jicofo's `cloneTransportAndCandidates(src, true)`):
    /// every attribute and candidate, each web-socket with only its `url`,
    /// `rtcp-mux` if present, and each fingerprint with `required` and
    /// `cryptex` always written (`false` unless set). The sctpmap and
    /// unknown children are not copied.
    pub fn offer_copy(&self) -> Transport {
        Transport {
            ufrag: self.ufrag.clone(),
            pwd: self.pwd.clone(),
            ice_generation: self.ice_generation,
            candidates: self.candidates.clone(),
            fingerprints: self
                .fingerprints
                .iter()
                .map(|fp| Fingerprint {
                    required: Some(fp.required.unwrap_or(false)),
                    cryptex: Some(fp.cryptex.unwrap_or(false)),
                    extra_attrs: AttrMap::new(),
                    ..fp.clone()
                })
                .collect(),
            web_sockets: self
                .web_sockets
                .iter()
                .map(|ws| WebSocket {
                    url: ws.url.clone(),
                    active: None,
                    extra_attrs: AttrMap::new(),
                })
                .collect(),
            rtcp_mux: self.rtcp_mux,
            sctpmap: None,
            extra_attrs: self.extra_attrs.clone(),
            other: Vec::new(),
        }
    }
}

/// The `type` of an ICE candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandidateType {
    /// `host`.
    Host,
    /// `srflx`: server reflexive.
    Srflx,
    /// `prflx`: peer reflexive.
    Prflx,
    /// `relay`: via a TURN server.
    Relay,
    /// `local` (legacy Jitsi value).
    Local,
    /// `stun` (legacy Jitsi value).
    Stun,
}

impl CandidateType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Srflx => "srflx",
            Self::Prflx => "prflx",
            Self::Relay => "relay",
            Self::Local => "local",
            Self::Stun => "stun",
        }
    }

    /// Reads a wire value (exact, lower case, as Jitsi's `valueOf`).
    pub fn from_wire(value: &str) -> Option<Self> {
        Some(match value {
            "host" => Self::Host,
            "srflx" => Self::Srflx,
            "prflx" => Self::Prflx,
            "relay" => Self::Relay,
            "local" => Self::Local,
            "stun" => Self::Stun,
            _ => return None,
        })
    }
}

/// An ICE-UDP `<candidate/>`.
///
/// `ip` stays a string: browsers send mDNS host names (`….local`) there.
/// Children of a candidate are ignored (Jitsi drops them too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `component` (1 = RTP, 2 = RTCP).
    pub component: u16,
    /// `foundation`.
    pub foundation: String,
    /// `generation` (optional: Firefox-derived candidates may omit it).
    pub generation: Option<u32>,
    /// `id`.
    pub id: Option<String>,
    /// `ip`: an address or a host name.
    pub ip: String,
    /// `network`.
    pub network: Option<u32>,
    /// `port`.
    pub port: u16,
    /// `priority`.
    pub priority: u32,
    /// `protocol` (`udp`, `tcp`, …), as received.
    pub protocol: String,
    /// `type`.
    pub kind: CandidateType,
    /// `rel-addr`: the related address of a reflexive or relayed candidate.
    pub rel_addr: Option<String>,
    /// `rel-port`.
    pub rel_port: Option<u16>,
    /// `tcptype` (`active`, `passive`, `so`) of a TCP candidate.
    pub tcptype: Option<String>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
}

impl Candidate {
    /// Reads a `<candidate/>`. Required: `component`, `foundation`, `ip`,
    /// `port`, `priority`, `protocol`, `type`; numbers must parse.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "candidate", NS_ICE_UDP)?;
        let mut a = Attrs::of(el);
        Ok(Candidate {
            component: a.required_number("component")?,
            foundation: a.required("foundation")?,
            generation: a.number("generation")?,
            id: a.take("id"),
            ip: a.required("ip")?,
            network: a.number("network")?,
            port: a.required_number("port")?,
            priority: a.required_number("priority")?,
            protocol: a.required("protocol")?,
            kind: a
                .parsed("type", CandidateType::from_wire)?
                .ok_or(ParseError::MissingAttribute("type"))?,
            rel_addr: a.take("rel-addr"),
            rel_port: a.number("rel-port")?,
            tcptype: a.take("tcptype"),
            extra_attrs: a.rest(),
        })
    }

    /// The `<candidate/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("candidate", NS_ICE_UDP);
        set(&mut el, "component", self.component);
        set(&mut el, "foundation", &self.foundation);
        set_opt(&mut el, "generation", self.generation);
        set_opt(&mut el, "id", self.id.as_ref());
        set(&mut el, "ip", &self.ip);
        set_opt(&mut el, "network", self.network);
        set(&mut el, "port", self.port);
        set(&mut el, "priority", self.priority);
        set(&mut el, "protocol", &self.protocol);
        set(&mut el, "type", self.kind.as_str());
        set_opt(&mut el, "rel-addr", self.rel_addr.as_ref());
        set_opt(&mut el, "rel-port", self.rel_port);
        set_opt(&mut el, "tcptype", self.tcptype.as_ref());
        set_rest(&mut el, &self.extra_attrs);
        el
    }
}

/// The DTLS `setup` role (RFC 4145).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    /// `actpass`: either role (an offer).
    Actpass,
    /// `active`: the DTLS client.
    Active,
    /// `passive`: the DTLS server.
    Passive,
    /// `holdconn`.
    Holdconn,
}

impl Setup {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Actpass => "actpass",
            Self::Active => "active",
            Self::Passive => "passive",
            Self::Holdconn => "holdconn",
        }
    }

    /// Reads a wire value (exact).
    pub fn from_wire(value: &str) -> Option<Self> {
        Some(match value {
            "actpass" => Self::Actpass,
            "active" => Self::Active,
            "passive" => Self::Passive,
            "holdconn" => Self::Holdconn,
            _ => return None,
        })
    }
}

/// A DTLS `<fingerprint/>` (`urn:xmpp:jingle:apps:dtls:0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// `hash`: the hash function (`sha-256`, …).
    pub hash: String,
    /// `setup`, when given.
    pub setup: Option<Setup>,
    /// `required`, when given (read as Java's `parseBoolean`).
    pub required: Option<bool>,
    /// `cryptex` (RFC 9335 header encryption), when given.
    pub cryptex: Option<bool>,
    /// The text: the fingerprint itself (`AB:CD:…`), as received.
    pub value: String,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
}

impl Fingerprint {
    /// Reads a `<fingerprint/>`; `hash` is required, an unknown `setup`
    /// value is an error.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "fingerprint", NS_DTLS)?;
        let mut a = Attrs::of(el);
        Ok(Fingerprint {
            hash: a.required("hash")?,
            setup: a.parsed("setup", Setup::from_wire)?,
            required: a.boolean("required"),
            cryptex: a.boolean("cryptex"),
            value: el.text(),
            extra_attrs: a.rest(),
        })
    }

    /// The `<fingerprint/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("fingerprint", NS_DTLS);
        set(&mut el, "hash", &self.hash);
        set_opt(&mut el, "required", self.required.map(bool_str));
        set_opt(&mut el, "setup", self.setup.map(Setup::as_str));
        set_opt(&mut el, "cryptex", self.cryptex.map(bool_str));
        set_rest(&mut el, &self.extra_attrs);
        if !self.value.is_empty() {
            el.append_text(self.value.clone());
        }
        el
    }
}

/// Jitsi's `<web-socket/>` (`http://jitsi.org/protocol/colibri`): the URL
/// of the bridge channel (or of a relay's web socket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocket {
    /// `url`.
    pub url: String,
    /// `active`, when given (relays).
    pub active: Option<bool>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
}

impl WebSocket {
    /// A web-socket with only a `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            active: None,
            extra_attrs: AttrMap::new(),
        }
    }

    /// Reads a `<web-socket/>`; `url` is required.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "web-socket", NS_COLIBRI)?;
        let mut a = Attrs::of(el);
        Ok(WebSocket {
            url: a.required("url")?,
            active: a.boolean("active"),
            extra_attrs: a.rest(),
        })
    }

    /// The `<web-socket/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("web-socket", NS_COLIBRI);
        set(&mut el, "url", &self.url);
        set_opt(&mut el, "active", self.active.map(bool_str));
        set_rest(&mut el, &self.extra_attrs);
        el
    }
}

/// `<sctpmap/>` (`urn:xmpp:jingle:transports:dtls-sctp:1`): the SCTP port
/// of the data channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SctpMap {
    /// `number`: the SCTP port.
    pub number: u16,
    /// `protocol` (`webrtc-datachannel`).
    pub protocol: Option<String>,
    /// `streams` (clients send `0`, the focus `1024`).
    pub streams: Option<u32>,
    /// Attributes not listed above, kept as received.
    pub extra_attrs: AttrMap,
}

impl SctpMap {
    /// The protocol of WebRTC data channels.
    pub const WEBRTC_DATACHANNEL: &'static str = "webrtc-datachannel";

    /// What the focus offers: `number=port`, `protocol='webrtc-datachannel'`,
    /// `streams='1024'`.
    pub fn webrtc(port: u16) -> Self {
        Self {
            number: port,
            protocol: Some(Self::WEBRTC_DATACHANNEL.to_owned()),
            streams: Some(1024),
            extra_attrs: AttrMap::new(),
        }
    }

    /// Reads a `<sctpmap/>`; `number` is required.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "sctpmap", NS_DTLS_SCTP)?;
        let mut a = Attrs::of(el);
        Ok(SctpMap {
            number: a.required_number("number")?,
            protocol: a.take("protocol"),
            streams: a.number("streams")?,
            extra_attrs: a.rest(),
        })
    }

    /// The `<sctpmap/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("sctpmap", NS_DTLS_SCTP);
        set(&mut el, "number", self.number);
        set_opt(&mut el, "protocol", self.protocol.as_ref());
        set_opt(&mut el, "streams", self.streams);
        set_rest(&mut el, &self.extra_attrs);
        el
    }
}
