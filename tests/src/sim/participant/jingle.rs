//! The participant's Jingle side, as lib-jitsi-meet behaves with the focus
//! (`strophe.jingle.js`, `JingleSessionPC.ts`): every Jingle set is acked at
//! once; a `session-initiate` is answered, after a short while, with a
//! `session-accept` carrying the client's own sources, transport and the
//! offer's codecs; remote sources arrive in the offer, `source-add` and
//! `source-remove`, as XML or as Jitsi's compact JSON; `session-terminate`
//! ends the session.
//!
//! ICE (jingle.md 8): the client can ask for an in-place ICE restart
//! (`session-info` with `bridge-session ice-restart='true'`,
//! [`JingleClient::ice_restart_request`]) or send the legacy ICE-failed
//! notice ([`JingleClient::ice_failed_notice`]). A `transport-info` from the
//! focus whose transport carries `ice-generation` is applied as the bridge's
//! new transport (when newer than the one held), and answered, after the
//! offer/answer delay, with the client's own `transport-info`: fresh ICE
//! credentials tagged with the same generation.
//!
//! Written from the protocol notes, independently of the focus's own
//! Jingle and source code, so that the two check each other.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use focus_proto::rng::FocusRng;
use minidom::Element;

use crate::sim::stanza::{NS_CLIENT, NS_FOCUS, name};

/// `urn:xmpp:jingle:1`.
pub const NS_JINGLE: &str = "urn:xmpp:jingle:1";
/// The RTP description.
pub const NS_RTP: &str = "urn:xmpp:jingle:apps:rtp:1";
/// Sources and groups.
pub const NS_SSMA: &str = "urn:xmpp:jingle:apps:rtp:ssma:0";
/// ICE-UDP transport.
pub const NS_ICE_UDP: &str = "urn:xmpp:jingle:transports:ice-udp:1";
/// DTLS fingerprint.
pub const NS_DTLS: &str = "urn:xmpp:jingle:apps:dtls:0";
/// SCTP over DTLS.
pub const NS_SCTP: &str = "urn:xmpp:jingle:transports:dtls-sctp:1";
/// BUNDLE grouping.
pub const NS_GROUPING: &str = "urn:xmpp:jingle:apps:grouping:0";
/// Jitsi's `ssrc-info`, `json-message`, `bridge-session`.
pub const NS_JITMEET: &str = "http://jitsi.org/jitmeet";

/// What media a simulated client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSpec {
    /// One audio source.
    pub audio: bool,
    /// One camera source.
    pub video: bool,
    /// The camera with three simulcast layers (each with RTX); otherwise
    /// one SSRC with RTX.
    pub simulcast: bool,
    /// Answer session-initiate at all (false: ack only, never accept).
    pub accept: bool,
    /// How long applying an offer takes before the session-accept.
    pub accept_delay: Duration,
    /// Answer every `session-initiate` with an error (`bad-request`)
    /// instead of the ack, and never accept it (a client that cannot apply
    /// the offer).
    pub refuse_offer: bool,
    /// Answer every `transport-replace` with an error (`bad-request`)
    /// instead of the ack. Otherwise it is acked and ignored, as
    /// lib-jitsi-meet does.
    pub refuse_transport_replace: bool,
}

impl Default for MediaSpec {
    /// Audio and a simulcast camera; accepts after 100 ms (as measured for
    /// the captures).
    fn default() -> Self {
        Self {
            audio: true,
            video: true,
            simulcast: true,
            accept: true,
            accept_delay: Duration::from_millis(100),
            refuse_offer: false,
            refuse_transport_replace: false,
        }
    }
}

/// One of the client's own sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnSource {
    /// `audio` or `video`.
    pub media: &'static str,
    /// The SSRC.
    pub ssrc: u32,
    /// `<endpoint>-a0` / `<endpoint>-v0`.
    pub name: String,
    /// `STREAM TRACK`.
    pub msid: String,
    /// `videoType` (`camera`, `desktop`), written when set.
    pub video_type: Option<&'static str>,
}

/// The client's own sources and groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnSources {
    /// Every SSRC with its properties.
    pub sources: Vec<OwnSource>,
    /// `(semantics, ssrcs)` of the video groups.
    pub video_groups: Vec<(&'static str, Vec<u32>)>,
}

impl OwnSources {
    /// lib-jitsi-meet's sources for `endpoint` with `spec`, SSRCs from `rng`.
    pub fn generate(endpoint: &str, spec: &MediaSpec, rng: &mut FocusRng) -> Self {
        let mut ssrc = || loop {
            let s = rng.next_u64() as u32;
            if s != 0 {
                break s;
            }
        };
        let mut out = Self::default();
        if spec.audio {
            out.sources.push(OwnSource {
                media: "audio",
                ssrc: ssrc(),
                name: format!("{endpoint}-a0"),
                msid: format!("{endpoint}-audio-0-1 {endpoint}-atrack"),
                video_type: None,
            });
        }
        if spec.video {
            let layers = if spec.simulcast { 3 } else { 1 };
            let primaries: Vec<u32> = (0..layers).map(|_| ssrc()).collect();
            let rtx: Vec<u32> = (0..layers).map(|_| ssrc()).collect();
            for s in primaries.iter().chain(&rtx) {
                out.sources.push(OwnSource {
                    media: "video",
                    ssrc: *s,
                    name: format!("{endpoint}-v0"),
                    msid: format!("{endpoint}-video-0-1 {endpoint}-vtrack"),
                    video_type: None,
                });
            }
            if spec.simulcast {
                out.video_groups.push(("SIM", primaries.clone()));
            }
            for (p, r) in primaries.iter().zip(&rtx) {
                out.video_groups.push(("FID", vec![*p, *r]));
            }
        }
        out
    }

    /// A screen share of `endpoint` as lib-jitsi-meet adds it mid-call:
    /// one video source `<endpoint>-v1` with `videoType='desktop'`, its RTX,
    /// and their FID group. SSRCs from `rng`, none of `avoid`.
    pub fn screen_share(endpoint: &str, rng: &mut FocusRng, avoid: &BTreeSet<u32>) -> Self {
        let mut taken = avoid.clone();
        let mut ssrc = || loop {
            let s = rng.next_u64() as u32;
            if s != 0 && taken.insert(s) {
                break s;
            }
        };
        let (primary, rtx) = (ssrc(), ssrc());
        let sources = [primary, rtx]
            .into_iter()
            .map(|ssrc| OwnSource {
                media: "video",
                ssrc,
                name: format!("{endpoint}-v1"),
                msid: format!("{endpoint}-video-1-1 {endpoint}-dtrack"),
                video_type: Some("desktop"),
            })
            .collect();
        Self {
            sources,
            video_groups: vec![("FID", vec![primary, rtx])],
        }
    }

    /// Every own SSRC.
    pub fn ssrcs(&self) -> BTreeSet<u32> {
        self.sources.iter().map(|s| s.ssrc).collect()
    }

    /// The SSRCs another participant is told of, simulcast being stripped
    /// for receivers: every source but the simulcast layers after the
    /// first of each `SIM` group and their RTX (`FID` partners).
    pub fn receiver_view(&self) -> BTreeSet<u32> {
        let mut dropped: BTreeSet<u32> = self
            .video_groups
            .iter()
            .filter(|(semantics, _)| *semantics == "SIM")
            .flat_map(|(_, ssrcs)| ssrcs.iter().skip(1).copied())
            .collect();
        let rtx: Vec<u32> = self
            .video_groups
            .iter()
            .filter(|(semantics, ssrcs)| {
                *semantics == "FID" && ssrcs.first().is_some_and(|p| dropped.contains(p))
            })
            .flat_map(|(_, ssrcs)| ssrcs.iter().skip(1).copied())
            .collect();
        dropped.extend(rtx);
        self.ssrcs()
            .into_iter()
            .filter(|s| !dropped.contains(s))
            .collect()
    }

    /// The `<source>` elements of `media` and, for video, the groups, as a
    /// description's children.
    fn elements(&self, media: &str) -> Vec<Element> {
        let mut out = Vec::new();
        for s in self.sources.iter().filter(|s| s.media == media) {
            let mut source = Element::builder("source", NS_SSMA)
                .attr(name("name"), s.name.as_str())
                .attr(name("ssrc"), s.ssrc.to_string());
            if let Some(video_type) = s.video_type {
                source = source.attr(name("videoType"), video_type);
            }
            out.push(
                source
                    .append(
                        Element::builder("parameter", NS_SSMA)
                            .attr(name("name"), "msid")
                            .attr(name("value"), s.msid.as_str()),
                    )
                    .build(),
            );
        }
        if media == "video" {
            for (semantics, ssrcs) in &self.video_groups {
                let mut g =
                    Element::builder("ssrc-group", NS_SSMA).attr(name("semantics"), *semantics);
                for s in ssrcs {
                    g = g.append(
                        Element::builder("source", NS_SSMA).attr(name("ssrc"), s.to_string()),
                    );
                }
                out.push(g.build());
            }
        }
        out
    }
}

/// The answer to a Jingle request the client sent (its session-accept,
/// or one sent with [`Sim::send_jingle`](crate::sim::Sim::send_jingle)).
#[derive(Debug, Clone, PartialEq)]
pub struct JingleAnswer {
    /// When it arrived (time since the start).
    pub at: Duration,
    /// The request's `id`.
    pub id: String,
    /// The request's Jingle `action`.
    pub action: String,
    /// `result` or `error`.
    pub kind: String,
    /// The error's defined condition.
    pub condition: Option<String>,
    /// The error's text.
    pub text: Option<String>,
    /// The answer as received.
    pub stanza: Element,
}

impl JingleAnswer {
    /// Whether it is a `result`.
    pub fn is_result(&self) -> bool {
        self.kind == "result"
    }
}

/// What the client knows of its Jingle session with the focus.
#[derive(Debug, Clone, Default)]
pub struct JingleState {
    /// The current session's id.
    pub sid: Option<String>,
    /// Who sent the offer (the focus's occupant JID).
    pub peer: Option<String>,
    /// The session-accept went out.
    pub accepted: bool,
    /// Sessions offered so far (restarts included).
    pub offers: u32,
    /// Why the last session ended, if it did (`<reason>` child name).
    pub terminated: Option<String>,
    /// Remote sources by owner (`ssrc-info owner`, or the JSON key).
    pub remote: BTreeMap<String, BTreeSet<u32>>,
    /// The bridge's ICE ufrag the client holds: the offer's, then that of
    /// each in-place ICE restart applied.
    pub bridge_ufrag: Option<String>,
    /// The bridge's ICE password, alongside [`JingleState::bridge_ufrag`].
    pub bridge_pwd: Option<String>,
    /// The `ice-generation` of the bridge transport the client holds: 0 for
    /// the offer's, N after applying the restart transport of generation N.
    pub ice_generation: u32,
    /// `transport-info` requests received (of any session, applied or not).
    pub transport_infos: u32,
    /// Restart transports ignored because their `ice-generation` was not
    /// newer than [`JingleState::ice_generation`] (lib-jitsi-meet drops
    /// them with a warning).
    pub stale_ice_transports: u32,
    /// `bridge-session/@id` from the offer.
    pub bridge_session: Option<String>,
    /// Every Jingle action received, in order.
    pub actions: Vec<String>,
    /// Jingle stanzas that could not be understood (with why).
    pub problems: Vec<String>,
}

/// The Jingle client of one participant, sans-IO: Jingle sets go in
/// ([`JingleClient::on_jingle`]; the caller acks them), the session-accept
/// comes out when due ([`JingleClient::poll_timeout`],
/// [`JingleClient::take_due`]), and source changes of its own are built on
/// demand ([`JingleClient::add_sources`], [`JingleClient::remove_sources`]).
/// Used by the simulated participants and by the real ones of
/// [`crate::e2e::participant`].
#[derive(Debug)]
pub struct JingleClient {
    /// Its own sources (what its session-accept and source changes carry).
    pub own: OwnSources,
    /// What it knows of its session.
    pub state: JingleState,
    endpoint: String,
    spec: MediaSpec,
    ufrag: String,
    pwd: String,
    fingerprint: String,
    /// The session-accept to send, and when.
    pending_accept: Option<(Instant, Element)>,
    /// The `initiator` of the current offer.
    initiator: Option<String>,
    /// `(content name, media, data channel)` of the current offer's
    /// contents, in order.
    contents: Vec<(String, String, bool)>,
    /// The answer to an in-place ICE restart to send (a `transport-info`
    /// for that generation), and when.
    pending_transport: Option<(Instant, u32)>,
    next_id: u64,
    /// Jingle requests sent and not answered yet: id → action.
    sent: BTreeMap<String, String>,
    /// Answers to them, in order.
    pub(crate) answers: Vec<JingleAnswer>,
}

impl JingleClient {
    /// The client of `endpoint` (its MUC nickname) sending `spec`, its
    /// SSRCs, ICE credentials and fingerprint from `rng`.
    pub fn new(endpoint: &str, spec: MediaSpec, rng: &mut FocusRng) -> Self {
        let own = OwnSources::generate(endpoint, &spec, rng);
        let fingerprint = (0..32)
            .map(|_| format!("{:02X}", rng.next_u64() as u8))
            .collect::<Vec<_>>()
            .join(":");
        Self {
            own,
            state: JingleState::default(),
            endpoint: endpoint.to_owned(),
            spec,
            ufrag: rng.token(4),
            pwd: rng.token(24),
            fingerprint,
            pending_accept: None,
            initiator: None,
            contents: Vec::new(),
            pending_transport: None,
            next_id: 0,
            sent: BTreeMap::new(),
            answers: Vec::new(),
        }
    }

    /// Whether the client answers a Jingle set of `action` with an error
    /// (see [`MediaSpec::refuse_offer`] and
    /// [`MediaSpec::refuse_transport_replace`]).
    pub(crate) fn refuses(&self, action: &str) -> bool {
        match action {
            "session-initiate" => self.spec.refuse_offer,
            "transport-replace" => self.spec.refuse_transport_replace,
            _ => false,
        }
    }

    /// A Jingle IQ set carrying `jingle`, to `to`, remembered so that its
    /// answer is recorded.
    pub(crate) fn request(&mut self, to: &str, jingle: Element) -> Element {
        self.next_id += 1;
        let id = format!("jingle-{}:sendIQ", self.next_id);
        let action = jingle.attr("action").unwrap_or("").to_owned();
        self.sent.insert(id.clone(), action);
        Element::builder("iq", NS_CLIENT)
            .attr(name("to"), to)
            .attr(name("type"), "set")
            .attr(name("id"), id)
            .append(jingle)
            .build()
    }

    /// Records the answer `iq` if it answers one of its Jingle requests;
    /// whether it did.
    pub(crate) fn on_answer(&mut self, at: Duration, iq: &Element) -> bool {
        let Some(id) = iq.attr("id") else {
            return false;
        };
        let Some(action) = self.sent.remove(id) else {
            return false;
        };
        self.answers.push(JingleAnswer {
            at,
            id: id.to_owned(),
            action,
            kind: iq.attr("type").unwrap_or("").to_owned(),
            condition: crate::sim::stanza::error_condition(iq),
            text: crate::sim::stanza::error_text(iq),
            stanza: iq.clone(),
        });
        true
    }

    /// Its endpoint id.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Its current ICE credentials `(ufrag, pwd)` (rotated by each
    /// in-place ICE restart it applies).
    pub fn local_ice(&self) -> (&str, &str) {
        (&self.ufrag, &self.pwd)
    }

    /// When the pending session-accept, or the pending answer to an ICE
    /// restart, is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.pending_accept.as_ref().map(|(at, _)| *at),
            self.pending_transport.map(|(at, _)| at),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// What is due to be sent: the session-accept, else the
    /// `transport-info` answering an in-place ICE restart (one per call).
    pub fn take_due(&mut self, now: Instant) -> Option<Element> {
        if self
            .pending_accept
            .as_ref()
            .is_some_and(|(at, _)| *at <= now)
        {
            self.state.accepted = true;
            return self.pending_accept.take().map(|(_, el)| el);
        }
        if let Some((at, generation)) = self.pending_transport
            && at <= now
        {
            self.pending_transport = None;
            return self.restart_transport_info(generation);
        }
        None
    }

    /// A Jingle IQ set; the ack is the caller's. `me` is the client's
    /// full JID (the `responder`).
    pub fn on_jingle(&mut self, now: Instant, iq: &Element, jingle: &Element, me: &str) {
        let action = jingle.attr("action").unwrap_or("").to_owned();
        self.state.actions.push(action.clone());
        if action == "transport-info" {
            self.state.transport_infos += 1;
        }
        let sid = jingle.attr("sid").map(str::to_owned);
        if action != "session-initiate" && sid != self.state.sid {
            self.state
                .problems
                .push(format!("{action} for sid {sid:?}, not the current session"));
            return;
        }
        match action.as_str() {
            "session-initiate" => self.on_offer(now, iq, jingle, me),
            "source-add" => self.apply_sources(jingle, true),
            "source-remove" => self.apply_sources(jingle, false),
            "transport-info" => self.on_transport_info(now, jingle),
            "session-terminate" => {
                let reason = jingle
                    .get_child("reason", NS_JINGLE)
                    .and_then(|r| r.children().next())
                    .map(|c| c.name().to_owned())
                    .unwrap_or_else(|| "none".into());
                self.state.terminated = Some(reason);
                self.state.sid = None;
                self.pending_accept = None;
                self.pending_transport = None;
                self.state.remote.clear();
            }
            _ => {}
        }
    }

    /// Adds `added` to its own sources and returns the `source-add` that
    /// announces them to the focus (lib-jitsi-meet's, one content per
    /// media with the sources and groups in its description), or `None`
    /// (nothing changed) when there is no session or `added` is empty or
    /// reuses an own SSRC.
    pub fn add_sources(&mut self, added: OwnSources) -> Option<Element> {
        let own = self.own.ssrcs();
        if added.sources.is_empty() || added.sources.iter().any(|s| own.contains(&s.ssrc)) {
            return None;
        }
        let iq = self.source_change("source-add", &added)?;
        self.own.sources.extend(added.sources);
        self.own.video_groups.extend(added.video_groups);
        Some(iq)
    }

    /// Removes its own sources named `source_name` (and the groups among
    /// them) and returns the `source-remove` for them, or `None` (nothing
    /// changed) when there is no session or no such source.
    pub fn remove_sources(&mut self, source_name: &str) -> Option<Element> {
        let (gone, kept): (Vec<OwnSource>, Vec<OwnSource>) = self
            .own
            .sources
            .iter()
            .cloned()
            .partition(|s| s.name == source_name);
        if gone.is_empty() {
            return None;
        }
        let ssrcs: BTreeSet<u32> = gone.iter().map(|s| s.ssrc).collect();
        let (gone_groups, kept_groups) = self
            .own
            .video_groups
            .iter()
            .cloned()
            .partition(|(_, g)| g.iter().all(|s| ssrcs.contains(s)));
        let removed = OwnSources {
            sources: gone,
            video_groups: gone_groups,
        };
        let iq = self.source_change("source-remove", &removed)?;
        self.own = OwnSources {
            sources: kept,
            video_groups: kept_groups,
        };
        Some(iq)
    }

    /// Starts a screen share ([`OwnSources::screen_share`], SSRCs from
    /// `rng`): the `source-add`, or `None` without a session or when one
    /// is already shared.
    pub fn start_screen_share(&mut self, rng: &mut FocusRng) -> Option<Element> {
        let name = self.screen_share_name();
        if self.own.sources.iter().any(|s| s.name == name) {
            return None;
        }
        let share = OwnSources::screen_share(&self.endpoint, rng, &self.own.ssrcs());
        self.add_sources(share)
    }

    /// Stops the screen share: the `source-remove`, or `None` when none is
    /// shared or there is no session.
    pub fn stop_screen_share(&mut self) -> Option<Element> {
        let name = self.screen_share_name();
        self.remove_sources(&name)
    }

    /// `<endpoint>-v1`, the screen share's source name.
    pub fn screen_share_name(&self) -> String {
        format!("{}-v1", self.endpoint)
    }

    /// A `source-add` / `source-remove` IQ for `sources` to the session's
    /// peer ([`JingleClient::request`]: its answer is recorded); `None`
    /// without a session.
    fn source_change(&mut self, action: &str, sources: &OwnSources) -> Option<Element> {
        let sid = self.state.sid.clone()?;
        let peer = self.state.peer.clone()?;
        let mut jingle = Element::builder("jingle", NS_JINGLE)
            .attr(name("action"), action)
            .attr(name("sid"), sid);
        for media in ["audio", "video"] {
            let children = sources.elements(media);
            if children.is_empty() {
                continue;
            }
            let mut description =
                Element::builder("description", NS_RTP).attr(name("media"), media);
            for el in children {
                description = description.append(el);
            }
            jingle = jingle.append(
                Element::builder("content", NS_JINGLE)
                    .attr(name("creator"), "responder")
                    .attr(name("name"), media)
                    .append(description),
            );
        }
        Some(self.request(&peer, jingle.build()))
    }

    /// lib-jitsi-meet's `restartIce`: a `session-info` asking the focus for
    /// an in-place ICE restart, `<bridge-session id ice-restart='true'/>`
    /// with `bridge_session` as the id (default: the one of the current
    /// offer). `None` without a session or a bridge session id.
    pub fn ice_restart_request(&mut self, bridge_session: Option<&str>) -> Option<Element> {
        let id = bridge_session
            .map(str::to_owned)
            .or_else(|| self.state.bridge_session.clone())?;
        let bridge = Element::builder("bridge-session", NS_FOCUS)
            .attr(name("ice-restart"), "true")
            .attr(name("id"), id)
            .build();
        self.session_info(vec![bridge])
    }

    /// The legacy ICE-failed notice (lib-jitsi-meet's former
    /// `sendIceFailedNotification`): a `session-info` with
    /// `<ice-state>failed</ice-state>` and, when an id is known (or given
    /// as `bridge_session`), `<bridge-session id/>`. `None` without a
    /// session.
    pub fn ice_failed_notice(&mut self, bridge_session: Option<&str>) -> Option<Element> {
        let mut children = vec![
            Element::builder("ice-state", NS_FOCUS)
                .append("failed")
                .build(),
        ];
        let id = bridge_session
            .map(str::to_owned)
            .or_else(|| self.state.bridge_session.clone());
        if let Some(id) = id {
            children.push(
                Element::builder("bridge-session", NS_FOCUS)
                    .attr(name("id"), id)
                    .build(),
            );
        }
        self.session_info(children)
    }

    /// A `session-info` for the current session carrying `children`, to
    /// the session's peer ([`JingleClient::request`]: its answer is
    /// recorded); `None` without a session.
    fn session_info(&mut self, children: Vec<Element>) -> Option<Element> {
        let sid = self.state.sid.clone()?;
        let peer = self.state.peer.clone()?;
        let mut jingle = Element::builder("jingle", NS_JINGLE).attr(name("action"), "session-info");
        if let Some(initiator) = &self.initiator {
            jingle = jingle.attr(name("initiator"), initiator.as_str());
        }
        let mut jingle = jingle.attr(name("sid"), sid).build();
        for child in children {
            jingle.append_child(child);
        }
        Some(self.request(&peer, jingle))
    }

    /// A `transport-info` from the focus (for the current session). One
    /// whose transport carries `ice-generation` is the bridge's transport
    /// after an in-place ICE restart (strophe.jingle.js hands it to
    /// `onBridgeIceRestartTransport`): when newer than the one held it
    /// replaces the remote credentials, the client's own are rotated, and
    /// its answering `transport-info` is sent once the offer/answer cycle
    /// is done (the offer's delay). Without `ice-generation` it carries
    /// trickled candidates, which need no answer.
    fn on_transport_info(&mut self, now: Instant, jingle: &Element) {
        let Some(transport) = jingle
            .children()
            .filter(|c| c.is("content", NS_JINGLE))
            .find_map(|c| c.get_child("transport", NS_ICE_UDP))
        else {
            self.state
                .problems
                .push("transport-info without an ICE-UDP transport".into());
            return;
        };
        let Some(generation) = transport.attr("ice-generation") else {
            return;
        };
        let Some(generation) = generation.parse::<u32>().ok().filter(|g| *g > 0) else {
            self.state.problems.push(format!(
                "transport-info with an invalid ice-generation {generation:?}"
            ));
            return;
        };
        let (Some(ufrag), Some(pwd)) = (
            transport.attr("ufrag").filter(|u| !u.is_empty()),
            transport.attr("pwd").filter(|p| !p.is_empty()),
        ) else {
            self.state.problems.push(format!(
                "transport-info of ice-generation {generation} without ufrag or pwd"
            ));
            return;
        };
        if generation <= self.state.ice_generation {
            self.state.stale_ice_transports += 1;
            return;
        }
        self.state.bridge_ufrag = Some(ufrag.to_owned());
        self.state.bridge_pwd = Some(pwd.to_owned());
        self.state.ice_generation = generation;
        self.rotate_ice(generation);
        self.pending_transport = Some((now + self.spec.accept_delay, generation));
    }

    /// New local ICE credentials for `generation`, as the browser makes
    /// when answering the restarted offer: drawn from a generator seeded by
    /// the client's fingerprint and the generation, so that no other
    /// random choice changes.
    fn rotate_ice(&mut self, generation: u32) {
        let mut rng = FocusRng::from_seed(self.ice_seed(generation));
        self.ufrag = rng.token(4);
        self.pwd = rng.token(24);
    }

    fn ice_seed(&self, generation: u32) -> [u8; 32] {
        let mut seed = [0u8; 32];
        for (lane, chunk) in seed.chunks_mut(8).enumerate() {
            let mut h: u64 =
                0xcbf2_9ce4_8422_2325 ^ (lane as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            for b in self.fingerprint.bytes().chain(generation.to_be_bytes()) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            chunk.copy_from_slice(&h.to_be_bytes());
        }
        seed
    }

    /// lib-jitsi-meet's `_sendIceRestartTransportInfo`: to the session's
    /// peer, one content per media of the session (named by its media:
    /// `audio`, `video`, `application`, creator `responder`), each with
    /// the client's transport tagged `ice-generation`: `sctpmap` for the
    /// data channel, the fingerprint (`setup='active'`, as in its
    /// session-accept) and one host candidate of this generation. `None`
    /// without a session.
    fn restart_transport_info(&mut self, generation: u32) -> Option<Element> {
        let sid = self.state.sid.clone()?;
        let peer = self.state.peer.clone()?;
        let mut rng = FocusRng::from_seed(self.ice_seed(generation));
        // Past the credentials' draws: the candidate's own values.
        let _ = (rng.token(4), rng.token(24));
        let port = 10_000 + rng.next_u64() % 50_000;
        let candidate = Element::builder("candidate", NS_ICE_UDP)
            .attr(name("component"), "1")
            .attr(name("foundation"), (rng.next_u64() as u32).to_string())
            .attr(name("generation"), "0")
            .attr(name("id"), rng.token(10))
            .attr(name("ip"), format!("192.0.2.{}", 1 + rng.next_u64() % 254))
            .attr(name("network"), "1")
            .attr(name("port"), port.to_string())
            .attr(name("priority"), "2122260223")
            .attr(name("protocol"), "udp")
            .attr(name("type"), "host")
            .build();
        let mut jingle =
            Element::builder("jingle", NS_JINGLE).attr(name("action"), "transport-info");
        if let Some(initiator) = &self.initiator {
            jingle = jingle.attr(name("initiator"), initiator.as_str());
        }
        let mut jingle = jingle.attr(name("sid"), sid).build();
        let contents = if self.contents.is_empty() {
            vec![("audio".to_owned(), "audio".to_owned(), false)]
        } else {
            self.contents.clone()
        };
        for (content_name, media, data) in contents {
            let mut transport = Element::builder("transport", NS_ICE_UDP)
                .attr(name("ice-generation"), generation.to_string())
                .attr(name("pwd"), self.pwd.as_str())
                .attr(name("ufrag"), self.ufrag.as_str());
            if data {
                transport = transport.append(
                    Element::builder("sctpmap", NS_SCTP)
                        .attr(name("number"), "5000")
                        .attr(name("protocol"), "webrtc-datachannel")
                        .attr(name("streams"), "0"),
                );
            }
            let transport = transport
                .append(
                    Element::builder("fingerprint", NS_DTLS)
                        .attr(name("hash"), "sha-256")
                        .attr(name("setup"), "active")
                        .append(self.fingerprint.as_str()),
                )
                .append(candidate.clone());
            let content_name = if media.is_empty() {
                content_name
            } else {
                media
            };
            jingle.append_child(
                Element::builder("content", NS_JINGLE)
                    .attr(name("creator"), "responder")
                    .attr(name("name"), content_name)
                    .append(transport)
                    .build(),
            );
        }
        Some(self.request(&peer, jingle))
    }

    fn on_offer(&mut self, now: Instant, iq: &Element, jingle: &Element, me: &str) {
        self.state.offers += 1;
        self.state.sid = jingle.attr("sid").map(str::to_owned);
        self.state.peer = iq.attr("from").map(str::to_owned);
        self.state.accepted = false;
        self.state.terminated = None;
        self.state.remote.clear();
        let transport = jingle
            .children()
            .filter(|c| c.is("content", NS_JINGLE))
            .find_map(|c| c.get_child("transport", NS_ICE_UDP));
        self.state.bridge_ufrag = transport.and_then(|t| t.attr("ufrag")).map(str::to_owned);
        self.state.bridge_pwd = transport.and_then(|t| t.attr("pwd")).map(str::to_owned);
        self.state.ice_generation = 0;
        self.pending_transport = None;
        self.initiator = jingle.attr("initiator").map(str::to_owned);
        self.contents = jingle
            .children()
            .filter(|c| c.is("content", NS_JINGLE))
            .map(|c| {
                let data = c
                    .get_child("transport", NS_ICE_UDP)
                    .is_some_and(|t| t.has_child("sctpmap", NS_SCTP));
                let media = c
                    .get_child("description", NS_RTP)
                    .and_then(|d| d.attr("media"))
                    .unwrap_or(if data { "application" } else { "" });
                (
                    c.attr("name").unwrap_or("").to_owned(),
                    media.to_owned(),
                    data,
                )
            })
            .collect();
        self.state.bridge_session = jingle
            .get_child("bridge-session", NS_FOCUS)
            .and_then(|b| b.attr("id"))
            .map(str::to_owned);
        self.apply_sources(jingle, true);
        if !self.spec.accept || self.spec.refuse_offer {
            return;
        }
        let accept = self.session_accept(iq, jingle, me);
        self.pending_accept = Some((now + self.spec.accept_delay, accept));
    }

    /// Adds or removes the sources of a Jingle element (XML in contents,
    /// or a `json-message`).
    fn apply_sources(&mut self, jingle: &Element, add: bool) {
        let mut found: Vec<(String, u32)> = Vec::new();
        for content in jingle.children().filter(|c| c.is("content", NS_JINGLE)) {
            let descriptions = content.children().filter(|c| c.is("description", NS_RTP));
            for holder in descriptions.chain(std::iter::once(content)) {
                for source in holder.children().filter(|c| c.is("source", NS_SSMA)) {
                    let Some(ssrc) = source.attr("ssrc").and_then(|s| s.parse::<u32>().ok()) else {
                        self.state
                            .problems
                            .push("a source without a valid ssrc".into());
                        continue;
                    };
                    let owner = source
                        .get_child("ssrc-info", NS_JITMEET)
                        .and_then(|i| i.attr("owner"))
                        .map(|o| o.rsplit('/').next().unwrap_or(o).to_owned());
                    match owner {
                        Some(owner) => found.push((owner, ssrc)),
                        None => self
                            .state
                            .problems
                            .push(format!("source {ssrc} without an owner")),
                    }
                }
            }
        }
        if let Some(json) = jingle.get_child("json-message", NS_JITMEET) {
            match json_sources(&json.text()) {
                Ok(sources) => found.extend(sources),
                Err(e) => self.state.problems.push(format!("json-message: {e}")),
            }
        }
        for (owner, ssrc) in found {
            if add {
                self.state.remote.entry(owner).or_default().insert(ssrc);
            } else if let Some(set) = self.state.remote.get_mut(&owner) {
                set.remove(&ssrc);
                if set.is_empty() {
                    self.state.remote.remove(&owner);
                }
            }
        }
    }

    /// lib-jitsi-meet's answer: the offer's contents, each with the
    /// offer's codecs and header extensions, the client's sources and its
    /// transport (fingerprint `setup='active'`), BUNDLE over them.
    fn session_accept(&mut self, iq: &Element, offer: &Element, me: &str) -> Element {
        let contents: Vec<&Element> = offer
            .children()
            .filter(|c| c.is("content", NS_JINGLE))
            .collect();
        let mut group = Element::builder("group", NS_GROUPING).attr(name("semantics"), "BUNDLE");
        for c in &contents {
            group = group.append(
                Element::builder("content", NS_GROUPING)
                    .attr(name("name"), c.attr("name").unwrap_or("")),
            );
        }
        let mut jingle = Element::builder("jingle", NS_JINGLE)
            .attr(name("action"), "session-accept")
            .attr(name("initiator"), offer.attr("initiator").unwrap_or(""))
            .attr(name("responder"), me)
            .attr(name("sid"), offer.attr("sid").unwrap_or(""))
            .append(group.build());
        for c in contents {
            jingle = jingle.append(self.answer_content(c));
        }
        self.next_id += 1;
        let id = format!("accept-{}:sendIQ", self.next_id);
        self.sent.insert(id.clone(), "session-accept".into());
        Element::builder("iq", NS_CLIENT)
            .attr(name("to"), iq.attr("from").unwrap_or(""))
            .attr(name("type"), "set")
            .attr(name("id"), id)
            .append(jingle.build())
            .build()
    }

    fn answer_content(&self, offered: &Element) -> Element {
        let content_name = offered.attr("name").unwrap_or("");
        let mut content = Element::builder("content", NS_JINGLE)
            .attr(name("creator"), "responder")
            .attr(name("name"), content_name);
        // lib-jitsi-meet writes no description for the data channel.
        let description = offered
            .get_child("description", NS_RTP)
            .filter(|d| d.attr("media") != Some("application"));
        if let Some(d) = description {
            content = content.attr(name("senders"), "both");
            let media = d.attr("media").unwrap_or(content_name);
            let mut answer = Element::builder("description", NS_RTP).attr(name("media"), media);
            for pt in d.children().filter(|c| c.is("payload-type", NS_RTP)) {
                answer = answer.append(pt.clone());
            }
            for el in self.own.elements(media) {
                answer = answer.append(el);
            }
            answer = answer.append(Element::builder("rtcp-mux", NS_RTP));
            for ext in d.children().filter(|c| c.name() == "rtp-hdrext") {
                answer = answer.append(ext.clone());
            }
            content = content.append(answer);
        }
        let mut transport = Element::builder("transport", NS_ICE_UDP)
            .attr(name("pwd"), self.pwd.as_str())
            .attr(name("ufrag"), self.ufrag.as_str());
        let data = offered
            .get_child("transport", NS_ICE_UDP)
            .is_some_and(|t| t.has_child("sctpmap", NS_SCTP));
        if data {
            transport = transport.append(
                Element::builder("sctpmap", NS_SCTP)
                    .attr(name("number"), "5000")
                    .attr(name("protocol"), "webrtc-datachannel")
                    .attr(name("streams"), "0"),
            );
        }
        transport = transport.append(
            Element::builder("fingerprint", NS_DTLS)
                .attr(name("hash"), "sha-256")
                .attr(name("setup"), "active")
                .append(self.fingerprint.as_str()),
        );
        content.append(transport).build()
    }
}

/// The `(owner, ssrc)` pairs of Jitsi's compact JSON sources
/// (`{"sources":{OWNER:[VIDEO, VIDEO_GROUPS, AUDIO, (AUDIO_GROUPS)]}}`).
pub fn json_sources(text: &str) -> Result<Vec<(String, u32)>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let owners = value
        .get("sources")
        .and_then(|s| s.as_object())
        .ok_or("no sources object")?;
    let mut out = Vec::new();
    for (owner, lists) in owners {
        let lists = lists.as_array().ok_or("owner entry is not an array")?;
        for index in [0, 2] {
            let Some(list) = lists.get(index) else {
                return Err(format!("owner {owner}: element {index} missing"));
            };
            for source in list.as_array().ok_or("source list is not an array")? {
                let ssrc = source
                    .get("s")
                    .and_then(|s| s.as_u64())
                    .and_then(|s| u32::try_from(s).ok())
                    .ok_or("source without a valid s")?;
                out.push((owner.clone(), ssrc));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::stanza::xml;

    const OFFER: &str = "<iq xmlns='jabber:client' type='set' id='o1' \
        from='room@muc.meet.jitsi/focus' to='u@meet.jitsi/r'>\
        <jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s1' \
          initiator='focus@auth.meet.jitsi/focus'>\
          <content name='audio' creator='initiator' senders='both'>\
            <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>\
              <payload-type id='111' name='opus' clockrate='48000' channels='2'/>\
              <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='11' name='jvb-a0'>\
                <ssrc-info xmlns='http://jitsi.org/jitmeet' owner='jvb'/></source>\
            </description>\
            <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='bu' pwd='bp'/>\
          </content>\
          <content name='video' creator='initiator' senders='both'>\
            <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
              <payload-type id='100' name='VP8' clockrate='90000'/></description>\
            <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='bu' pwd='bp'/>\
          </content>\
          <content name='data' creator='initiator' senders='both'>\
            <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='bu' pwd='bp'>\
              <sctpmap xmlns='urn:xmpp:jingle:transports:dtls-sctp:1' number='5000' protocol='webrtc-datachannel' streams='0'/>\
            </transport>\
          </content>\
          <json-message xmlns='http://jitsi.org/jitmeet'>{\"sources\":{\"ab12\":[[{\"s\":21}],[],[{\"s\":22}]]}}</json-message>\
        </jingle></iq>";

    #[test]
    fn answers_an_offer_with_its_sources_and_tracks_remote_ones() {
        let now = Instant::now();
        let mut rng = FocusRng::from_seed([1; 32]);
        let mut client = JingleClient::new("cafe0001", MediaSpec::default(), &mut rng);
        let offer = xml(OFFER);
        let jingle = offer.get_child("jingle", NS_JINGLE).expect("jingle");
        client.on_jingle(now, &offer, jingle, "u@meet.jitsi/r");
        let remote: Vec<_> = client.state.remote.iter().collect();
        assert_eq!(remote.len(), 2, "{remote:?}");
        assert_eq!(client.state.remote["jvb"], BTreeSet::from([11]));
        assert_eq!(client.state.remote["ab12"], BTreeSet::from([21, 22]));
        assert_eq!(client.state.bridge_ufrag.as_deref(), Some("bu"));
        assert!(client.take_due(now).is_none(), "not before the delay");
        let accept = client
            .take_due(now + Duration::from_millis(100))
            .expect("accept");
        assert_eq!(accept.attr("to"), Some("room@muc.meet.jitsi/focus"));
        let j = accept.get_child("jingle", NS_JINGLE).expect("jingle");
        assert_eq!(j.attr("action"), Some("session-accept"));
        assert_eq!(j.attr("sid"), Some("s1"));
        let contents: Vec<_> = j
            .children()
            .filter(|c| c.is("content", NS_JINGLE))
            .collect();
        assert_eq!(contents.len(), 3);
        let video = contents[1].get_child("description", NS_RTP).expect("video");
        let ssrcs = video.children().filter(|c| c.is("source", NS_SSMA)).count();
        assert_eq!(ssrcs, 6, "three layers with RTX");
        let groups = video
            .children()
            .filter(|c| c.is("ssrc-group", NS_SSMA))
            .count();
        assert_eq!(groups, 4, "SIM and three FID");
        assert!(
            contents[2]
                .get_child("transport", NS_ICE_UDP)
                .is_some_and(|t| t.has_child("sctpmap", NS_SCTP))
        );
        assert!(client.state.accepted);

        // source-remove, then a stanza for another session.
        let remove = xml(
            "<iq xmlns='jabber:client' type='set' id='r1' from='room@muc.meet.jitsi/focus'>\
             <jingle xmlns='urn:xmpp:jingle:1' action='source-remove' sid='s1'>\
             <json-message xmlns='http://jitsi.org/jitmeet'>{\"sources\":{\"ab12\":[[{\"s\":21}],[],[{\"s\":22}]]}}</json-message>\
             </jingle></iq>",
        );
        let j = remove.get_child("jingle", NS_JINGLE).expect("jingle");
        client.on_jingle(now, &remove, j, "u@meet.jitsi/r");
        assert!(!client.state.remote.contains_key("ab12"));
        let stale = xml("<iq xmlns='jabber:client' type='set' id='r2'>\
             <jingle xmlns='urn:xmpp:jingle:1' action='source-add' sid='old'/></iq>");
        let j = stale.get_child("jingle", NS_JINGLE).expect("jingle");
        client.on_jingle(now, &stale, j, "u@meet.jitsi/r");
        assert_eq!(client.state.problems.len(), 1);
    }

    #[test]
    fn an_in_place_ice_restart_is_requested_applied_and_answered() {
        let now = Instant::now();
        let mut rng = FocusRng::from_seed([3; 32]);
        let mut client = JingleClient::new("cafe0003", MediaSpec::default(), &mut rng);
        assert!(client.ice_restart_request(None).is_none(), "no session");
        let offer = xml(&OFFER.replace(
            "</jingle>",
            "<bridge-session xmlns='http://jitsi.org/protocol/focus' id='bs1'/></jingle>",
        ));
        let jingle = offer.get_child("jingle", NS_JINGLE).expect("jingle");
        client.on_jingle(now, &offer, jingle, "u@meet.jitsi/r");
        assert_eq!(client.state.bridge_session.as_deref(), Some("bs1"));
        client
            .take_due(now + Duration::from_secs(1))
            .expect("accept");
        let (ufrag0, pwd0) = {
            let (u, p) = client.local_ice();
            (u.to_owned(), p.to_owned())
        };

        let request = client.ice_restart_request(None).expect("request");
        assert_eq!(request.attr("to"), Some("room@muc.meet.jitsi/focus"));
        let j = request.get_child("jingle", NS_JINGLE).expect("jingle");
        assert_eq!(j.attr("action"), Some("session-info"));
        assert_eq!(j.attr("sid"), Some("s1"));
        assert_eq!(j.attr("initiator"), Some("focus@auth.meet.jitsi/focus"));
        let b = j
            .get_child("bridge-session", NS_FOCUS)
            .expect("bridge-session");
        assert_eq!(
            (b.attr("id"), b.attr("ice-restart")),
            (Some("bs1"), Some("true"))
        );
        let stale = client.ice_restart_request(Some("old")).expect("request");
        let j = stale.get_child("jingle", NS_JINGLE).expect("jingle");
        let b = j
            .get_child("bridge-session", NS_FOCUS)
            .expect("bridge-session");
        assert_eq!(b.attr("id"), Some("old"));
        let failed = client.ice_failed_notice(None).expect("notice");
        let j = failed.get_child("jingle", NS_JINGLE).expect("jingle");
        assert_eq!(
            j.get_child("ice-state", NS_FOCUS)
                .map(Element::text)
                .as_deref(),
            Some("failed")
        );
        let b = j
            .get_child("bridge-session", NS_FOCUS)
            .expect("bridge-session");
        assert_eq!((b.attr("id"), b.attr("ice-restart")), (Some("bs1"), None));

        let info = |generation: Option<u32>, ufrag: &str| {
            let generation = generation
                .map(|g| format!(" ice-generation='{g}'"))
                .unwrap_or_default();
            xml(&format!(
                "<iq xmlns='jabber:client' type='set' id='t{ufrag}' from='room@muc.meet.jitsi/focus'>\
                 <jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='s1'>\
                 <content creator='initiator' name='audio'>\
                 <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='{ufrag}' pwd='p{ufrag}'{generation}>\
                 <candidate component='1' foundation='1' generation='0' id='c1' network='0' \
                   priority='1' protocol='udp' type='host' ip='198.51.100.1' port='10000'/>\
                 <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>AA</fingerprint>\
                 </transport></content></jingle></iq>"
            ))
        };
        // Trickled candidates: counted, nothing else.
        let trickle = info(None, "bu");
        let j = trickle.get_child("jingle", NS_JINGLE).expect("jingle");
        client.on_jingle(now, &trickle, j, "u@meet.jitsi/r");
        assert_eq!(client.state.transport_infos, 1);
        assert!(client.poll_timeout().is_none());

        let restart = info(Some(1), "nu");
        let j = restart.get_child("jingle", NS_JINGLE).expect("jingle");
        client.on_jingle(now, &restart, j, "u@meet.jitsi/r");
        assert_eq!(client.state.transport_infos, 2);
        assert_eq!(client.state.bridge_ufrag.as_deref(), Some("nu"));
        assert_eq!(client.state.bridge_pwd.as_deref(), Some("pnu"));
        assert_eq!(client.state.ice_generation, 1);
        let (ufrag1, pwd1) = client.local_ice();
        assert!(ufrag1 != ufrag0 && pwd1 != pwd0, "new credentials");
        let (ufrag1, pwd1) = (ufrag1.to_owned(), pwd1.to_owned());
        assert!(client.take_due(now).is_none(), "not before the delay");
        let answer = client
            .take_due(now + Duration::from_millis(100))
            .expect("transport-info");
        assert_eq!(answer.attr("to"), Some("room@muc.meet.jitsi/focus"));
        let j = answer.get_child("jingle", NS_JINGLE).expect("jingle");
        assert_eq!(j.attr("action"), Some("transport-info"));
        assert_eq!(j.attr("sid"), Some("s1"));
        let contents: Vec<_> = j
            .children()
            .filter(|c| c.is("content", NS_JINGLE))
            .collect();
        let names: Vec<_> = contents.iter().filter_map(|c| c.attr("name")).collect();
        assert_eq!(names, ["audio", "video", "application"]);
        for c in &contents {
            let t = c.get_child("transport", NS_ICE_UDP).expect("transport");
            assert_eq!(t.attr("ice-generation"), Some("1"));
            assert_eq!(t.attr("ufrag"), Some(ufrag1.as_str()));
            assert_eq!(t.attr("pwd"), Some(pwd1.as_str()));
            let f = t.get_child("fingerprint", NS_DTLS).expect("fingerprint");
            assert_eq!(f.attr("setup"), Some("active"));
            assert!(t.has_child("candidate", NS_ICE_UDP));
        }
        assert!(
            contents[2]
                .get_child("transport", NS_ICE_UDP)
                .is_some_and(|t| t.has_child("sctpmap", NS_SCTP))
        );

        // A duplicate of generation 1 is stale: ignored, no answer.
        client.on_jingle(now, &restart, j_of(&restart), "u@meet.jitsi/r");
        assert_eq!(client.state.stale_ice_transports, 1);
        assert_eq!(client.state.ice_generation, 1);
        assert!(client.poll_timeout().is_none());
        assert!(
            client.state.problems.is_empty(),
            "{:?}",
            client.state.problems
        );
    }

    fn j_of(iq: &Element) -> &Element {
        iq.get_child("jingle", NS_JINGLE).expect("jingle")
    }

    #[test]
    fn a_screen_share_is_added_and_removed_as_the_focus_reads_it() {
        use focus_proto::source::{
            Semantics, Ssrc, ValidatingConferenceSourceMap, VideoType, parse_jingle,
        };
        let now = Instant::now();
        let mut rng = FocusRng::from_seed([2; 32]);
        let mut client = JingleClient::new("cafe0002", MediaSpec::default(), &mut rng);
        let camera = client.own.clone();
        // Simulcast is stripped for receivers: audio, layer 1 and its RTX.
        assert_eq!(camera.receiver_view().len(), 3);
        assert!(client.start_screen_share(&mut rng).is_none(), "no session");
        let offer = xml(OFFER);
        let jingle = offer.get_child("jingle", NS_JINGLE).expect("jingle");
        client.on_jingle(now, &offer, jingle, "u@meet.jitsi/r");
        let accept = client
            .take_due(now + Duration::from_secs(1))
            .expect("accept");
        let mut focus_map = ValidatingConferenceSourceMap::new(20, 20);
        let accepted = parse_jingle(accept.get_child("jingle", NS_JINGLE).expect("jingle"))
            .expect("the focus reads the session-accept");
        focus_map.try_to_add("cafe0002", &accepted).expect("valid");

        let add = client.start_screen_share(&mut rng).expect("source-add");
        assert!(client.start_screen_share(&mut rng).is_none(), "one share");
        assert_eq!(add.attr("to"), Some("room@muc.meet.jitsi/focus"));
        let j = add.get_child("jingle", NS_JINGLE).expect("jingle");
        assert_eq!(
            (j.attr("action"), j.attr("sid")),
            (Some("source-add"), Some("s1"))
        );
        let added = parse_jingle(j).expect("the focus reads the source-add");
        assert_eq!(added.sources().len(), 2);
        assert!(added.sources().iter().all(|s| {
            s.video_type == Some(VideoType::Desktop) && s.name.as_deref() == Some("cafe0002-v1")
        }));
        assert_eq!(added.groups().len(), 1);
        assert_eq!(added.groups()[0].semantics, Semantics::Fid);
        focus_map.try_to_add("cafe0002", &added).expect("valid");
        let share: BTreeSet<u32> = client
            .own
            .ssrcs()
            .difference(&camera.ssrcs())
            .copied()
            .collect();
        assert_eq!(share.len(), 2);
        let view = client.own.receiver_view();
        assert!(share.is_subset(&view), "nothing of a share is stripped");
        assert_eq!(view.len(), 5);

        let remove = client.stop_screen_share().expect("source-remove");
        let j = remove.get_child("jingle", NS_JINGLE).expect("jingle");
        assert_eq!(j.attr("action"), Some("source-remove"));
        let removed = parse_jingle(j).expect("the focus reads the source-remove");
        let gone = focus_map
            .try_to_remove("cafe0002", &removed)
            .expect("valid");
        let gone: BTreeSet<Ssrc> = gone.sources().iter().map(|s| s.ssrc).collect();
        let expected: BTreeSet<Ssrc> = share.iter().filter_map(|s| Ssrc::new(*s)).collect();
        assert_eq!(gone, expected);
        assert_eq!(client.own, camera);
        assert!(client.stop_screen_share().is_none());
    }
}
