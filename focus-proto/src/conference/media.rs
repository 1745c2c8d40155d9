//! Media for a conference: each participant's bridge endpoint (COLIBRI2)
//! and Jingle session, and the conference's validated source map.
//!
//! Once `min-participants` members are present every member is invited,
//! and each later member on joining (jingle.md section 2):
//!
//! 1. its client's features are discovered (disco#info to its occupant
//!    JID; on failure Jicofo's fallback, audio, video and SCTP);
//! 2. a bridge is selected ([`BridgeSelector`]) and an endpoint allocated
//!    on it (`conference-modify`, with `create='true'` on a bridge the
//!    conference does not use yet);
//! 3. the offer is built from `jicofo.codec`, the bridge's transport, and
//!    the sources of the others and of the bridge (`jvb`), as compact JSON
//!    for clients that take it, and sent as `session-initiate`.
//!
//! The participant's `session-accept` and `source-add` / `source-remove`
//! are validated against the conference source map (sources.md); what is
//! accepted goes to the bridge (the endpoint's complete set) and to every
//! other participant (`source-add` / `source-remove`, sent at once or when
//! their own session becomes active). A member that leaves has its
//! endpoint expired (the bridge conference when it was the last), and its
//! sources dropped without signaling: the others learn it from the MUC.
//!
//! Not yet: relays between bridges (a conference stays on one bridge:
//! selection is given the conference's bridge), `source-signaling-delays`
//! (changes are sent at once), re-invites after a bridge failure,
//! transport-replace, ICE restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use jid::{BareJid, FullJid, Jid};
use minidom::Element;
use tracing::{debug, info, warn};

use super::manager::{Ctx, MucIq, TimerKind};
use super::{ConferenceEvent, Conferences};
use crate::bridge::brewery::bridge_connection;
use crate::bridge::{BridgeSelector, ConferenceBridge, ParticipantProperties};
use crate::config::ReinviteMethod;
use crate::ext::colibri2::{
    AllocationFailure, Answer, BridgeMark, ConferenceModify, Media as ColibriMedia,
    ParticipantInfo, RequestFailure, allocation_outcome, request_outcome,
};
use crate::ext::error::{Condition, IqKind, StanzaError, iq_error, iq_request, iq_result};
use crate::ext::jingle::offer::{
    ClientFeatures, OfferExtensions, OfferOptions, offer_contents, session_initiate,
    transport_replace,
};
use crate::ext::jingle::{
    Action, BridgeSession as JingleBridgeSession, Content, Jingle, JsonMessage, ReasonCondition,
    StartMuted, Transport, TransportParts,
};
use crate::focus::{ConnId, Output};
use crate::source::jingle::{NS_JITMEET, group_element, map_to_contents, source_element};
use crate::source::json::{json_message_text, map_to_compact_json};
use crate::source::{
    ConferenceSourceMap, EndpointSourceSet, JVB_OWNER, ReceiverFilter, SourceDiff, SourceSignaling,
    ValidatingConferenceSourceMap, parse_jingle,
};
use crate::xml::ncname;
use crate::xmpp::iq::IqOutcome;
use crate::xmpp::ns;

/// Earlier session ids remembered per participant.
const MAX_OLD_SIDS: usize = 4;

/// Clients that take sources as compact JSON.
const FEATURE_JSON_SOURCES: &str = "http://jitsi.org/json-encoded-sources";
/// Clients that get their remote sources from the bridge.
const FEATURE_SSRC_REWRITING: &str = "http://jitsi.org/ssrc-rewriting-1";

/// A participant's Jingle session as the focus sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// Its client's features are being discovered.
    Discovering,
    /// Its endpoint is being allocated on a bridge.
    Allocating,
    /// The offer went out; waiting for session-accept.
    Pending,
    /// Accepted.
    Active,
    /// Ended (terminated, failed, or its session-accept was refused).
    Ended,
    /// No bridge could be selected or allocated; invited again later.
    Failed,
}

/// One participant's media.
#[derive(Debug, Clone)]
pub struct ParticipantMedia {
    /// Where it is in the invite and session.
    pub state: SessionState,
    /// The current Jingle session id.
    pub sid: Option<String>,
    /// Its bridge.
    pub bridge: Option<FullJid>,
    /// Its client's features.
    pub features: ClientFeatures,
    /// Sources to it go as compact JSON.
    pub json_sources: bool,
    /// It gets other endpoints' sources from the bridge (SSRC rewriting).
    pub ssrc_rewriting: bool,
    /// The offer's options.
    pub options: OfferOptions,
    /// Invited again (bridge move, restart) rather than on joining: the
    /// room's start-muted policy no longer applies.
    pub reinvited: bool,
    /// Earlier session ids (newest last, a few kept): late requests for
    /// them get "no longer active" rather than "unknown".
    old_sids: Vec<String>,
    /// When its accepted restart requests came (for the rate limit).
    restart_requests: Vec<Instant>,
    /// When its accepted in-place ICE restart requests came (a budget of
    /// their own).
    ice_restart_requests: Vec<Instant>,
    /// The `ice-generation` of the bridge transport last relayed to it
    /// after an in-place ICE restart (of its current endpoint).
    last_relayed_ice_generation: Option<u32>,
    /// A re-invite with `ReplaceTransport` is under way: its live session
    /// (this was its state) gets the new offer as a `transport-replace`.
    replacing: Option<SessionState>,
    signaling: SourceSignaling,
}

impl ParticipantMedia {
    /// The current session id becomes an old one.
    fn retire_sid(&mut self) {
        if let Some(old) = self.sid.take() {
            if self.old_sids.len() >= MAX_OLD_SIDS {
                self.old_sids.remove(0);
            }
            self.old_sids.push(old);
        }
    }

    fn new() -> Self {
        Self {
            state: SessionState::Discovering,
            sid: None,
            bridge: None,
            features: ClientFeatures::discovery_failed(),
            json_sources: false,
            ssrc_rewriting: false,
            options: OfferOptions::default(),
            reinvited: false,
            old_sids: Vec::new(),
            restart_requests: Vec::new(),
            ice_restart_requests: Vec::new(),
            last_relayed_ice_generation: None,
            replacing: None,
            signaling: SourceSignaling::new(ReceiverFilter::default()),
        }
    }
}

/// The conference on one bridge.
#[derive(Debug, Clone)]
pub struct BridgeSession {
    /// Random id, sent to clients in `bridge-session`.
    pub id: String,
    /// Endpoints allocated (or being allocated) on it.
    pub endpoints: BTreeSet<String>,
    /// The bridge's own sources (owner `jvb`), from the creating answer.
    pub feedback: EndpointSourceSet,
    /// The bridge's relay id when the session was created (its relays on
    /// the other bridges are named after it).
    pub relay_id: Option<String>,
    /// Creation order within the conference (the older session initiates
    /// a relay).
    pub(crate) created_seq: u64,
}

/// Which restart-request budget a request draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RestartKind {
    /// session-terminate with `restart='true'`.
    Full,
    /// session-info with `ice-restart='true'`.
    IceInPlace,
}

/// Media state of one conference.
#[derive(Debug, Clone)]
pub struct ConferenceMedia {
    /// Participants by endpoint id.
    pub participants: BTreeMap<String, ParticipantMedia>,
    /// Bridge sessions by bridge.
    pub bridges: BTreeMap<FullJid, BridgeSession>,
    /// Every participant's validated sources.
    pub sources: ValidatingConferenceSourceMap,
    next_session_seq: u64,
}

impl ConferenceMedia {
    pub(crate) fn new(config: &crate::config::Config) -> Self {
        let c = &config.conference;
        Self {
            participants: BTreeMap::new(),
            bridges: BTreeMap::new(),
            sources: ValidatingConferenceSourceMap::new(
                c.max_ssrcs_per_user as usize,
                c.max_ssrc_groups_per_user as usize,
            ),
            next_session_seq: 0,
        }
    }
}

/// What a media request of a conference was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MediaIq {
    /// disco#info to a participant.
    Discover {
        room: BareJid,
        generation: u64,
        nick: String,
    },
    /// An endpoint allocation.
    Allocate {
        room: BareJid,
        generation: u64,
        nick: String,
        bridge: FullJid,
        /// SCTP was asked for.
        sctp: bool,
    },
    /// A session-initiate, or a transport-replace (`replace`).
    Offer {
        room: BareJid,
        generation: u64,
        nick: String,
        sid: String,
        replace: bool,
    },
    /// A fire-and-forget bridge request, sent while the conference's
    /// session on the bridge was `session` (`None`: none, as for the
    /// expire of a removed session).
    Bridge {
        room: BareJid,
        generation: u64,
        bridge: FullJid,
        session: Option<String>,
    },
    /// An in-place ICE restart of `nick`'s endpoint, asked while its
    /// bridge session was `session`.
    IceRestart {
        room: BareJid,
        generation: u64,
        nick: String,
        bridge: FullJid,
        session: Option<String>,
    },
    /// A relay creation on `bridge` towards `remote`.
    RelayCreate {
        room: BareJid,
        generation: u64,
        bridge: FullJid,
        remote: FullJid,
    },
}

impl MediaIq {
    pub(crate) fn room(&self) -> &BareJid {
        match self {
            Self::Discover { room, .. }
            | Self::Allocate { room, .. }
            | Self::Offer { room, .. }
            | Self::Bridge { room, .. }
            | Self::IceRestart { room, .. }
            | Self::RelayCreate { room, .. } => room,
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        match self {
            Self::Discover { generation, .. }
            | Self::Allocate { generation, .. }
            | Self::Offer { generation, .. }
            | Self::Bridge { generation, .. }
            | Self::IceRestart { generation, .. }
            | Self::RelayCreate { generation, .. } => *generation,
        }
    }
}

/// A Jingle error answer.
fn jingle_error(iq: &Element, condition: Condition, text: Option<&str>) -> Element {
    let mut error = StanzaError::new(condition);
    if let Some(text) = text {
        error = error.with_text(text);
    }
    iq_error(iq, &error, None)
}

/// A bridge's answer as COLIBRI2 reads it (an error with its COLIBRI2
/// reason and endpoint id); `None` for a timeout.
pub(super) fn colibri_answer(outcome: IqOutcome) -> Option<Answer> {
    match outcome {
        // A result that does not read counts as one of the wrong type.
        IqOutcome::Result(iq) => Some(Answer::parse(&iq).unwrap_or(Answer::WrongResult)),
        IqOutcome::Error { iq, .. } => Some(Answer::Error(
            crate::ext::colibri2::BridgeError::from_iq(&iq),
        )),
        IqOutcome::Timeout => None,
    }
}

/// A `bad-request` answer with `why` as its text.
fn bad_request(iq: &Element, why: &impl std::fmt::Display) -> Element {
    jingle_error(iq, Condition::BadRequest, Some(&why.to_string()))
}

/// The 64 random bits of a Jingle sid, in base 32 (Jicofo's form).
fn new_sid(ctx: &mut Ctx<'_>) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut n = ctx.rng.next_u64();
    let mut out = Vec::with_capacity(13);
    loop {
        out.push(ALPHABET[(n % 32) as usize]);
        n /= 32;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

impl Conferences {
    /// Publishes the conference's bridge count in the focus's presence
    /// (`bridge-count` conference property) when it changed.
    fn sync_bridge_count(&mut self, ctx: &mut Ctx<'_>, room: &BareJid) {
        let Some(count) = self.conferences.get(room).map(|c| c.media.bridges.len()) else {
            return;
        };
        self.update_focus_presence(ctx, room, |p| {
            let value = count.to_string();
            match p.properties.iter_mut().find(|(k, _)| k == "bridge-count") {
                Some((_, v)) => *v = value,
                None if count > 0 => p.properties.push(("bridge-count".to_owned(), value)),
                None => {}
            }
        });
    }

    /// Invites every member that has no media yet (media just became
    /// ready, or a bridge appeared). One whose ReplaceTransport re-invite
    /// found no bridge still has its session: it is offered a
    /// `transport-replace` there, as Jicofo does.
    pub(crate) fn invite_all(&mut self, now: Instant, ctx: &mut Ctx<'_>, room: &BareJid) {
        let Some(conf) = self.conferences.get(room) else {
            return;
        };
        let nicks: Vec<(String, Option<SessionState>)> = conf
            .members
            .keys()
            .filter_map(|n| match conf.media.participants.get(n) {
                None => Some((n.clone(), None)),
                Some(p) if p.state == SessionState::Failed => {
                    let replacing = p.replacing.clone().filter(|_| p.sid.is_some());
                    Some((n.clone(), replacing))
                }
                Some(_) => None,
            })
            .collect();
        for (nick, replacing) in nicks {
            match replacing {
                Some(state) => self.reinvite(now, ctx, room, &nick, Some(state)),
                None => self.invite(now, ctx, room, &nick),
            }
        }
    }

    /// Starts inviting `nick`: feature discovery first.
    pub(crate) fn invite(&mut self, now: Instant, ctx: &mut Ctx<'_>, room: &BareJid, nick: &str) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        if !conf.media_ready || !conf.members.contains_key(nick) {
            return;
        }
        conf.media
            .participants
            .insert(nick.to_owned(), ParticipantMedia::new());
        let generation = conf.generation;
        let Ok(occupant) = room.with_resource_str(nick) else {
            return;
        };
        let context = MucIq::Media(MediaIq::Discover {
            room: room.clone(),
            generation,
            nick: nick.to_owned(),
        });
        let id = self.iqs.register(
            ctx.rng,
            now,
            ctx.config.xmpp.client.reply_timeout,
            ConnId::Client,
            occupant.as_str(),
            context,
        );
        let query = Element::builder("query", ns::DISCO_INFO).build();
        ctx.send(iq_request(IqKind::Get, &id, occupant.as_str(), query));
    }

    /// An answer to one of the media requests.
    pub(crate) fn on_media_iq(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        context: MediaIq,
        outcome: IqOutcome,
    ) {
        match context {
            MediaIq::Discover { room, nick, .. } => {
                let features: Vec<String> = match &outcome {
                    IqOutcome::Result(iq) => iq
                        .get_child("query", ns::DISCO_INFO)
                        .into_iter()
                        .flat_map(|q| q.children())
                        .filter(|c| c.is("feature", ns::DISCO_INFO))
                        .filter_map(|c| c.attr("var"))
                        .map(str::to_owned)
                        .collect(),
                    other => {
                        debug!(conference = %room, endpoint = %nick, ?other, "feature discovery failed; defaults");
                        Vec::new()
                    }
                };
                self.on_features(now, ctx, &room, &nick, &features);
            }
            MediaIq::Allocate {
                room,
                nick,
                bridge,
                sctp,
                ..
            } => {
                let answer = colibri_answer(outcome);
                self.on_allocated(now, ctx, &room, &nick, &bridge, sctp, answer.as_ref());
            }
            MediaIq::Offer {
                room,
                nick,
                sid,
                replace,
                ..
            } => {
                // No answer to a session-initiate counts as an ack (clients
                // may be slow); a transport-replace needs its result.
                let action = if replace {
                    "transport-replace"
                } else {
                    "session-initiate"
                };
                let failed = match &outcome {
                    IqOutcome::Result(_) => None,
                    IqOutcome::Error { error, .. } => Some(error.condition.as_str()),
                    IqOutcome::Timeout => replace.then_some("timeout"),
                };
                let current = self
                    .conferences
                    .get(&room)
                    .and_then(|c| c.media.participants.get(&nick))
                    .is_some_and(|p| p.sid.as_deref() == Some(sid.as_str()));
                if let Some(condition) = failed.filter(|_| current) {
                    warn!(conference = %room, endpoint = %nick, condition, action, "offer refused");
                    let reason = (ReasonCondition::GeneralError, "jingle session failed");
                    self.terminate(now, ctx, &room, &nick, &sid, Some(reason));
                }
            }
            MediaIq::RelayCreate {
                room,
                bridge,
                remote,
                ..
            } => self.on_relay_created(now, ctx, &room, &bridge, &remote, outcome),
            MediaIq::IceRestart {
                room,
                nick,
                bridge,
                session,
                ..
            } => {
                self.on_ice_restarted(now, ctx, &room, &nick, &bridge, session.as_deref(), outcome)
            }
            MediaIq::Bridge {
                room,
                bridge,
                session,
                ..
            } => self.on_bridge_answer(now, ctx, &room, &bridge, session.as_deref(), outcome),
        }
    }

    fn on_features(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        features: &[String],
    ) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let Some(p) = conf.media.participants.get_mut(nick) else {
            return;
        };
        let c = &ctx.config.conference;
        p.features = if features.is_empty() {
            ClientFeatures::discovery_failed()
        } else {
            ClientFeatures::from_disco(features.iter().map(String::as_str))
        };
        let has = |f: &str| features.iter().any(|x| x == f);
        p.json_sources = c.use_json_encoded_sources && has(FEATURE_JSON_SOURCES);
        let mut options = OfferOptions::for_client(&p.features);
        options.sctp &= ctx.config.sctp.enabled;
        p.options = options;
        p.ssrc_rewriting = c.use_ssrc_rewriting && has(FEATURE_SSRC_REWRITING);
        p.signaling = SourceSignaling::new(ReceiverFilter {
            audio: options.audio,
            video: options.video,
            strip_simulcast: c.strip_simulcast,
            ssrc_rewriting: p.ssrc_rewriting,
        });
        p.state = SessionState::Allocating;
        self.allocate(now, ctx, room, nick);
    }

    /// Selects a bridge and asks it for an endpoint.
    fn allocate(&mut self, now: Instant, ctx: &mut Ctx<'_>, room: &BareJid, nick: &str) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let Some(member) = conf.members.get(nick) else {
            return;
        };
        let Some(registry) = ctx.bridges.as_deref_mut() else {
            warn!(conference = %room, endpoint = nick, "no bridge brewery configured: no media");
            if let Some(p) = conf.media.participants.get_mut(nick) {
                p.state = SessionState::Failed;
            }
            return;
        };
        let selector = match BridgeSelector::new(ctx.config) {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "bridge selection is misconfigured");
                return;
            }
        };
        let in_use: Vec<ConferenceBridge<'_>> = conf
            .media
            .bridges
            .iter()
            .map(|(jid, s)| ConferenceBridge::new(jid, s.endpoints.len() as u32))
            .collect();
        let participant = ParticipantProperties {
            region: member.region.as_deref(),
            visitor: false,
        };
        let selected = selector.select(registry.iter(), &in_use, &participant, None, now);
        let bridge = match selected {
            Ok(s) => s.bridge.jid.clone(),
            Err(e) => {
                warn!(conference = %room, endpoint = nick, error = %e, "no bridge for the participant");
                if let Some(p) = conf.media.participants.get_mut(nick) {
                    p.state = SessionState::Failed;
                }
                self.update_focus_presence(ctx, room, |p| p.bridge_not_available = true);
                return;
            }
        };
        self.update_focus_presence(ctx, room, |p| p.bridge_not_available = false);
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let Some(member) = conf.members.get(nick) else {
            return;
        };
        let Some(registry) = ctx.bridges.as_deref_mut() else {
            return;
        };
        if let Some(b) = registry.get_mut(&bridge) {
            b.endpoint_added(now);
        }
        let Some(meeting_id) = conf.colibri_meeting_id() else {
            return;
        };
        let Some(p) = conf.media.participants.get_mut(nick) else {
            return;
        };
        p.bridge = Some(bridge.clone());
        let options = p.options;
        let ssrc_rewriting = p.ssrc_rewriting;
        let media: Vec<ColibriMedia> =
            crate::ext::jingle::offer::media_contents(ctx.config, &options)
                .iter()
                .filter_map(|c| c.description.as_ref())
                .filter_map(ColibriMedia::from_description)
                .collect();
        let info = ParticipantInfo {
            stats_id: member.stats_id.clone(),
            use_ssrc_rewriting: ssrc_rewriting,
            diarize: member.diarize,
            use_sctp: options.sctp,
            media,
            // Kept across a ReplaceTransport re-invite, else none yet.
            sources: conf.media.sources.get(nick).cloned().unwrap_or_default(),
            ..super::relays::empty_info(nick)
        };
        let first = !conf.media.bridges.contains_key(&bridge);
        let relay_id = registry.get(&bridge).and_then(|b| b.relay_id.clone());
        let seq = conf.media.next_session_seq;
        conf.media.next_session_seq += 1;
        let session = conf
            .media
            .bridges
            .entry(bridge.clone())
            .or_insert_with(|| BridgeSession {
                id: ctx.rng.token(12),
                endpoints: BTreeSet::new(),
                feedback: EndpointSourceSet::new(),
                relay_id,
                created_seq: seq,
            });
        session.endpoints.insert(nick.to_owned());
        let request = if first {
            ConferenceModify::create_conference(
                meeting_id,
                room.to_string(),
                conf.props.rtcstats_enabled,
                &info,
                Vec::new(),
            )
        } else {
            ConferenceModify::allocate(meeting_id, &info)
        };
        info!(conference = %room, endpoint = nick, bridge = %bridge, create = first, "allocating an endpoint");
        let context = MucIq::Media(MediaIq::Allocate {
            room: room.clone(),
            generation: conf.generation,
            nick: nick.to_owned(),
            bridge: bridge.clone(),
            sctp: options.sctp,
        });
        self.send_to_bridge(now, ctx, &bridge, context, &request);
        if first {
            self.connect_bridge(now, ctx, room, &bridge);
            self.sync_bridge_count(ctx, room);
        } else {
            self.mirror_endpoint(now, ctx, room, &bridge, nick, true);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_allocated(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        bridge: &FullJid,
        sctp: bool,
        answer: Option<&Answer>,
    ) {
        let outcome = allocation_outcome(answer, nick, sctp);
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let allocated = match outcome {
            Ok(a) => a,
            Err(failure) => {
                let mark = match failure {
                    AllocationFailure::FailParticipant { mark } => mark,
                    AllocationFailure::RemoveSession { mark } => mark,
                    _ => None,
                };
                warn!(conference = %room, endpoint = nick, bridge = %bridge, ?failure, "allocation failed");
                if let Some(b) = ctx.bridges.as_deref_mut().and_then(|r| r.get_mut(bridge)) {
                    match mark {
                        Some(BridgeMark::NonOperational) => b.set_operational(now, false),
                        Some(BridgeMark::GracefulShutdown) => b.graceful_shutdown = true,
                        None => {}
                    }
                    b.endpoint_removed();
                }
                if let Some(session) = conf.media.bridges.get_mut(bridge) {
                    session.endpoints.remove(nick);
                    if session.endpoints.is_empty() {
                        conf.media.bridges.remove(bridge);
                    }
                }
                if let Some(p) = conf.media.participants.get_mut(nick) {
                    p.state = SessionState::Failed;
                    p.bridge = None;
                }
                self.sync_bridge_count(ctx, room);
                return;
            }
        };
        let Some(session) = conf.media.bridges.get_mut(bridge) else {
            return;
        };
        if session.feedback.is_empty() && !allocated.feedback_sources.is_empty() {
            session.feedback = allocated.feedback_sources.clone();
        }
        let session_id = session.id.clone();
        let feedback = session.feedback.clone();
        let region = ctx
            .bridges
            .as_deref()
            .and_then(|r| r.get(bridge))
            .and_then(|b| b.region.clone());
        let start_muted = start_muted(ctx, conf, nick);
        let mut offered = conf.media.sources.map().clone();
        offered.add(JVB_OWNER, &feedback);
        let Some(p) = conf.media.participants.get_mut(nick) else {
            return;
        };
        if p.state != SessionState::Allocating {
            return;
        }
        let transport: Transport = allocated.transport.clone();
        let mut contents = match offer_contents(
            ctx.config,
            &p.options,
            &transport,
            allocated.sctp_port,
        ) {
            Ok(c) => c,
            Err(e) => {
                warn!(conference = %room, endpoint = nick, error = %e, "cannot build the offer");
                p.state = SessionState::Failed;
                return;
            }
        };
        // Its own sources never; only the bridge's with SSRC rewriting.
        let visible = ReceiverFilter {
            strip_simulcast: false,
            ssrc_rewriting: p.ssrc_rewriting,
            ..ReceiverFilter::default()
        }
        .apply(nick, &offered);
        let to_offer = p.signaling.reset(&visible);
        let mut extensions = OfferExtensions {
            bridge_session: JingleBridgeSession {
                id: Some(session_id),
                region,
                ..JingleBridgeSession::default()
            },
            start_muted,
            ..OfferExtensions::default()
        };
        if p.json_sources {
            extensions.json_message = Some(JsonMessage::sources(&map_to_compact_json(&to_offer)));
        } else {
            add_sources_to_contents(&mut contents, &to_offer);
        }
        let initiator = ctx
            .client_jid
            .cloned()
            .map(Jid::from)
            .unwrap_or_else(|| Jid::from(conf.focus_occupant.clone()));
        // ReplaceTransport: the live session gets the offer in place.
        let replacing = p.replacing.take().zip(p.sid.clone());
        let replace = replacing.is_some();
        let (jingle, sid, action) = match replacing {
            Some((state, sid)) => {
                p.state = state;
                let jingle = transport_replace(&sid, initiator, contents, &extensions);
                (jingle, sid, "transport-replace")
            }
            None => {
                let sid = new_sid(ctx);
                p.retire_sid();
                p.sid = Some(sid.clone());
                p.state = SessionState::Pending;
                let jingle = session_initiate(&sid, initiator, contents, &extensions);
                (jingle, sid, "session-initiate")
            }
        };
        let Ok(occupant) = room.with_resource_str(nick) else {
            return;
        };
        let context = MucIq::Media(MediaIq::Offer {
            room: room.clone(),
            generation: conf.generation,
            nick: nick.to_owned(),
            sid: sid.clone(),
            replace,
        });
        let id = self.iqs.register(
            ctx.rng,
            now,
            ctx.config.xmpp.client.reply_timeout,
            ConnId::Client,
            occupant.as_str(),
            context,
        );
        info!(conference = %room, endpoint = nick, bridge = %bridge, sid = %sid, action, "offer");
        self.jingle_stats.count_sent(action);
        ctx.send(iq_request(
            IqKind::Set,
            &id,
            occupant.as_str(),
            jingle.to_element(),
        ));
        ctx.event(ConferenceEvent::Invited {
            room: room.clone(),
            endpoint: nick.to_owned(),
            bridge: bridge.clone(),
        });
    }

    /// A Jingle IQ from an occupant of `room`. Always answers.
    pub(crate) fn on_jingle(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        iq: &Element,
        jingle: &Element,
    ) {
        let from = iq.attr("from").and_then(|f| FullJid::new(f).ok());
        let Some(from) = from else {
            ctx.send(jingle_error(iq, Condition::BadRequest, None));
            return;
        };
        let room = from.to_bare();
        let nick = from.resource().as_str().to_owned();
        let sid = jingle.attr("sid").unwrap_or("");
        let participant = self
            .conferences
            .get(&room)
            .and_then(|c| c.media.participants.get(&nick));
        let current = participant
            .filter(|p| p.sid.as_deref() == Some(sid))
            .map(|p| p.state.clone());
        let Some(state) = current else {
            let replaced = participant.is_some_and(|p| p.old_sids.iter().any(|o| o == sid));
            let answer = match (replaced, jingle.attr("action")) {
                (true, Some("session-accept")) => {
                    jingle_error(iq, Condition::Gone, Some("session has been replaced"))
                }
                (true, _) => jingle_error(
                    iq,
                    Condition::ItemNotFound,
                    Some("jingle session no longer active"),
                ),
                (false, _) => {
                    debug!(from = %from, sid, "Jingle for an unknown session");
                    jingle_error(iq, Condition::BadRequest, None)
                }
            };
            ctx.send(answer);
            return;
        };
        let Some(action) = jingle.attr("action") else {
            ctx.send(jingle_error(
                iq,
                Condition::BadRequest,
                Some("Missing 'action'"),
            ));
            return;
        };
        self.jingle_stats.count_received(action);
        if state == SessionState::Ended {
            ctx.send(jingle_error(iq, Condition::Gone, Some("session ended")));
            return;
        }
        match Action::from_wire(action) {
            Some(Action::SessionAccept) => {
                self.on_accept(now, ctx, &room, &nick, iq, jingle, true);
            }
            Some(Action::TransportAccept) => {
                self.on_accept(now, ctx, &room, &nick, iq, jingle, false);
            }
            Some(a) if a.is_source_add() => self.on_source_add(now, ctx, &room, &nick, iq, jingle),
            Some(a) if a.is_source_remove() => {
                self.on_source_remove(now, ctx, &room, &nick, iq, jingle)
            }
            Some(Action::SessionTerminate) => {
                self.on_terminate(now, ctx, &room, &nick, iq, jingle);
            }
            Some(Action::TransportInfo) => {
                let transport = TransportParts::parse(jingle)
                    .ok()
                    .and_then(|parts| parts.transport);
                match transport {
                    Some(t) => {
                        ctx.send(iq_result(iq, None));
                        self.update_bridge(now, ctx, &room, &nick, Some(t), false, None);
                    }
                    None => ctx.send(jingle_error(
                        iq,
                        Condition::BadRequest,
                        Some("missing transport"),
                    )),
                }
            }
            Some(Action::SessionInfo) => self.on_session_info(now, ctx, &room, &nick, iq, jingle),
            Some(Action::TransportReject) => {
                warn!(conference = %room, endpoint = %nick, "transport-reject: the participant keeps its transport");
                ctx.send(iq_result(iq, None));
            }
            _ => ctx.send(jingle_error(
                iq,
                Condition::FeatureNotImplemented,
                Some("Unsupported 'action'"),
            )),
        }
    }

    /// session-terminate from the participant: its bridge session must be
    /// the current one; it is terminated (without a session-terminate back)
    /// and, when it asks for a restart, invited again.
    fn on_terminate(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        iq: &Element,
        jingle: &Element,
    ) {
        let parsed = Jingle::parse(jingle).ok();
        let claimed = parsed
            .as_ref()
            .and_then(|j| j.bridge_session.as_ref())
            .and_then(|b| b.id.clone());
        let restart = parsed
            .as_ref()
            .and_then(|j| j.bridge_session.as_ref())
            .is_some_and(|b| b.restart == Some(true));
        if !self.conferences.contains_key(room) {
            return;
        }
        if restart {
            self.stats_mut().participants_restart_requested += 1;
        }
        // Jicofo checks the rate limit first: a request for a stale
        // session uses up budget too.
        let limited = restart && !self.accept_restart(now, ctx, room, nick, RestartKind::Full);
        if claimed != self.current_bridge_session(room, nick) {
            let text = format!(
                "{} is not a currently active session",
                claimed.as_deref().unwrap_or("null")
            );
            // The Jingle session ends whatever; the endpoint stays.
            if let Some(p) = self
                .conferences
                .get_mut(room)
                .and_then(|c| c.media.participants.get_mut(nick))
            {
                p.state = SessionState::Ended;
            }
            ctx.send(jingle_error(iq, Condition::ItemNotFound, Some(&text)));
            return;
        }
        if restart && !limited {
            self.count_restart_against_bridge(now, ctx, room, nick);
        }
        if limited {
            ctx.send(jingle_error(
                iq,
                Condition::ResourceConstraint,
                Some("rate-limited"),
            ));
        } else {
            ctx.send(iq_result(iq, None));
        }
        info!(conference = %room, endpoint = nick, restart, limited, "session terminated by the participant");
        let sid = jingle.attr("sid").unwrap_or("").to_owned();
        self.terminate(now, ctx, room, nick, &sid, None);
        if restart && !limited {
            self.reinvite(now, ctx, room, nick, None);
        }
    }

    /// Whether a restart request of `kind` from `nick` passes
    /// `restart-request-rate-limits` (at least `min-interval` after the last
    /// accepted one, at most `max-requests` per `interval`; each kind has
    /// its own budget); counts it if so.
    fn accept_restart(
        &mut self,
        now: Instant,
        ctx: &Ctx<'_>,
        room: &BareJid,
        nick: &str,
        kind: RestartKind,
    ) -> bool {
        let limits = &ctx.config.conference.restart_request_rate_limits;
        let Some(p) = self
            .conferences
            .get_mut(room)
            .and_then(|c| c.media.participants.get_mut(nick))
        else {
            return false;
        };
        let accepted = match kind {
            RestartKind::Full => &mut p.restart_requests,
            RestartKind::IceInPlace => &mut p.ice_restart_requests,
        };
        accepted.retain(|at| now.saturating_duration_since(*at) < limits.interval);
        let too_soon = accepted
            .last()
            .is_some_and(|at| now.saturating_duration_since(*at) < limits.min_interval);
        if too_soon || accepted.len() >= limits.max_requests as usize {
            return false;
        }
        accepted.push(now);
        true
    }

    /// The id of the conference's session on `bridge` (`bridge-session
    /// id` in the offers), if it has one there.
    fn bridge_session_id(&self, room: &BareJid, bridge: &FullJid) -> Option<&str> {
        let conf = self.conferences.get(room)?;
        conf.media.bridges.get(bridge).map(|s| s.id.as_str())
    }

    /// The id of `nick`'s current bridge session, if it has an endpoint.
    fn current_bridge_session(&self, room: &BareJid, nick: &str) -> Option<String> {
        let conf = self.conferences.get(room)?;
        let bridge = conf.media.participants.get(nick)?.bridge.as_ref()?;
        self.bridge_session_id(room, bridge).map(str::to_owned)
    }

    /// session-info from the participant (jingle.md section 8): an
    /// in-place ICE restart request, or the legacy ICE-failed notice,
    /// which moves the participant when it names its current bridge
    /// session. Anything else is answered `result` and ignored.
    fn on_session_info(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        iq: &Element,
        jingle: &Element,
    ) {
        let parsed = match Jingle::parse(jingle) {
            Ok(parsed) => parsed,
            Err(e) => {
                ctx.send(bad_request(iq, &e));
                return;
            }
        };
        let claimed = parsed.bridge_session.as_ref().and_then(|b| b.id.clone());
        if parsed
            .bridge_session
            .as_ref()
            .is_some_and(|b| b.ice_restart_requested())
        {
            self.on_ice_restart_request(now, ctx, room, nick, iq, claimed);
            return;
        }
        ctx.send(iq_result(iq, None));
        if !parsed.ice_state.as_ref().is_some_and(|s| s.is_failed()) {
            debug!(conference = %room, endpoint = nick, "session-info without an ICE failure: ignored");
            return;
        }
        self.stats_mut().participants_ice_failed += 1;
        if claimed != self.current_bridge_session(room, nick) {
            info!(conference = %room, endpoint = nick, bridge_session = ?claimed, "ICE failure for another bridge session: ignored");
            return;
        }
        info!(conference = %room, endpoint = nick, "ICE failed: inviting the participant again");
        self.count_restart_against_bridge(now, ctx, room, nick);
        self.restart_participant(now, ctx, room, nick);
    }

    /// A participant's ICE-failed notice or full restart request counts
    /// against its bridge (`ice-failure-detection`; in-place ICE restarts
    /// do not).
    fn count_restart_against_bridge(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
    ) {
        let bridge = self
            .conferences
            .get(room)
            .and_then(|c| c.media.participants.get(nick))
            .and_then(|p| p.bridge.as_ref());
        let config = &ctx.config.bridge;
        if let Some(b) = bridge
            .zip(ctx.bridges.as_deref_mut())
            .and_then(|(jid, r)| r.get_mut(jid))
        {
            b.endpoint_requested_restart(
                now,
                &config.ice_failure_detection,
                config.stress_threshold,
            );
        }
    }

    /// An in-place ICE restart request: refused when disabled, rate-limited
    /// or for another bridge session; otherwise accepted and the bridge is
    /// asked for a new ICE agent (its answer goes on in
    /// [`Self::on_ice_restarted`]).
    fn on_ice_restart_request(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        iq: &Element,
        claimed: Option<String>,
    ) {
        self.stats_mut().ice_restarts_requested += 1;
        let refusal = if !ctx.config.conference.enable_ice_restart {
            Some((
                Condition::FeatureNotImplemented,
                "in-place ICE restart is disabled".to_owned(),
            ))
        } else if !self.accept_restart(now, ctx, room, nick, RestartKind::IceInPlace) {
            Some((Condition::ResourceConstraint, "rate-limited".to_owned()))
        } else if claimed != self.current_bridge_session(room, nick) {
            let id = claimed.as_deref().unwrap_or("null");
            Some((
                Condition::ItemNotFound,
                format!("{id} is not a currently active session"),
            ))
        } else {
            None
        };
        if let Some((condition, text)) = refusal {
            info!(conference = %room, endpoint = nick, %text, "ICE restart refused");
            self.stats_mut().ice_restarts_failed += 1;
            ctx.send(jingle_error(iq, condition, Some(&text)));
            return;
        }
        ctx.send(iq_result(iq, None));
        let Some(conf) = self.conferences.get(room) else {
            return;
        };
        let bridge = conf
            .media
            .participants
            .get(nick)
            .and_then(|p| p.bridge.clone());
        let (Some(bridge), Some(meeting_id)) = (bridge, conf.colibri_meeting_id()) else {
            // The same (absent) session: there is no endpoint to restart.
            info!(conference = %room, endpoint = nick, "ICE restart for a participant without an endpoint");
            self.stats_mut().ice_restarts_failed += 1;
            return;
        };
        info!(conference = %room, endpoint = nick, bridge = %bridge, "ICE restart: asking the bridge");
        let stats_id = conf.members.get(nick).and_then(|m| m.stats_id.clone());
        let request = ConferenceModify::ice_restart(meeting_id, nick, stats_id);
        let context = MucIq::Media(MediaIq::IceRestart {
            room: room.clone(),
            generation: conf.generation,
            nick: nick.to_owned(),
            bridge: bridge.clone(),
            session: claimed,
        });
        self.send_to_bridge(now, ctx, &bridge, context, &request);
    }

    /// The bridge's answer to an ICE restart: a transport with a new
    /// `ice-generation` goes to the participant in a transport-info (unless
    /// an equal or newer one already went); one without a generation means
    /// the bridge kept its transport; none means it declined, and the
    /// participant is invited again. Errors are those of any bridge
    /// request.
    #[allow(clippy::too_many_arguments)]
    fn on_ice_restarted(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        bridge: &FullJid,
        session: Option<&str>,
        outcome: IqOutcome,
    ) {
        let answer = colibri_answer(outcome);
        let modified = match request_outcome(answer.as_ref()) {
            Ok(modified) => modified,
            Err(failure) => {
                self.on_bridge_failure(now, ctx, room, bridge, session, failure);
                return;
            }
        };
        let transport = modified
            .endpoint(nick)
            .and_then(|e| e.transport.as_ref())
            .and_then(|t| t.ice.as_ref())
            .cloned();
        if session.is_none() || self.current_bridge_session(room, nick).as_deref() != session {
            info!(conference = %room, endpoint = nick, "ICE restart answered for an earlier session: ignored");
            self.stats_mut().ice_restarts_failed += 1;
            return;
        }
        let Some(transport) = transport else {
            warn!(conference = %room, endpoint = nick, bridge = %bridge, "the bridge did not restart ICE: inviting the participant again");
            self.stats_mut().ice_restarts_failed += 1;
            self.restart_participant(now, ctx, room, nick);
            return;
        };
        let Some(generation) = transport.ice_generation else {
            info!(conference = %room, endpoint = nick, "ICE restart: the bridge kept its transport");
            self.stats_mut().ice_restarts_not_needed += 1;
            return;
        };
        let Some(p) = self
            .conferences
            .get_mut(room)
            .and_then(|c| c.media.participants.get_mut(nick))
        else {
            return;
        };
        if p.last_relayed_ice_generation
            .is_some_and(|last| generation <= last)
        {
            info!(conference = %room, endpoint = nick, generation, "ICE restart: stale transport dropped");
            self.stats_mut().ice_restarts_failed += 1;
            return;
        }
        p.last_relayed_ice_generation = Some(generation);
        let sid = p
            .sid
            .clone()
            .filter(|_| matches!(p.state, SessionState::Pending | SessionState::Active));
        let (Some(sid), Ok(occupant)) = (sid, room.with_resource_str(nick)) else {
            info!(conference = %room, endpoint = nick, "ICE restart: no Jingle session to signal it on");
            self.stats_mut().ice_restarts_failed += 1;
            return;
        };
        info!(conference = %room, endpoint = nick, generation, "ICE restart: relaying the bridge's transport");
        let jingle = Jingle::transport_info(sid, &transport);
        self.jingle_stats.count_sent("transport-info");
        self.stats_mut().ice_restarts_relayed += 1;
        let id = ctx.rng.token(10);
        ctx.send(iq_request(
            IqKind::Set,
            &id,
            occupant.as_str(),
            jingle.to_element(),
        ));
    }

    /// Moves `nick` to whatever bridge selection gives now. With
    /// `RestartJingle` (the default) its sources go (signaled to the
    /// others), its session is terminated with `success` / `moving` and a
    /// new one offered; with `ReplaceTransport` a live session and its
    /// sources stay, only the endpoint moves and the session gets a
    /// `transport-replace`.
    pub(crate) fn restart_participant(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
    ) {
        let Some(p) = self
            .conferences
            .get(room)
            .and_then(|c| c.media.participants.get(nick))
        else {
            return;
        };
        let sid = p.sid.clone().unwrap_or_default();
        let state = p.state.clone();
        let live = matches!(state, SessionState::Pending | SessionState::Active);
        info!(conference = %room, endpoint = nick, "moving the participant to another bridge session");
        self.stats_mut().participants_moved += 1;
        if live && ctx.config.conference.reinvite_method == ReinviteMethod::ReplaceTransport {
            // The session and the sources stay; only the endpoint moves.
            self.release_endpoint(now, ctx, room, nick);
            self.reinvite(now, ctx, room, nick, Some(state));
            return;
        }
        let reason = live.then_some((ReasonCondition::Success, "moving"));
        self.terminate(now, ctx, room, nick, &sid, reason);
        self.reinvite(now, ctx, room, nick, None);
    }

    /// Allocates and offers again with the features already known: in a
    /// new session, or in its live session (which was in state
    /// `replacing`) with a `transport-replace`.
    fn reinvite(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        replacing: Option<SessionState>,
    ) {
        let Some(p) = self
            .conferences
            .get_mut(room)
            .and_then(|c| c.media.participants.get_mut(nick))
        else {
            return;
        };
        p.state = SessionState::Allocating;
        p.reinvited = true;
        p.last_relayed_ice_generation = None;
        if replacing.is_none() {
            p.retire_sid();
        }
        p.replacing = replacing;
        self.allocate(now, ctx, room, nick);
    }

    /// A change in the bridge pool: conferences move their participants off
    /// a bridge that left, failed its health check or is shutting down, and
    /// invite the participants that found no bridge when one appears.
    pub(crate) fn on_bridge_event(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        event: &crate::bridge::BridgeEvent,
    ) {
        use crate::bridge::BridgeEvent;
        let (bridge, expire) = match event {
            BridgeEvent::Added { .. } => {
                let rooms: Vec<BareJid> = self
                    .conferences
                    .values()
                    .filter(|c| c.media_ready)
                    .map(|c| c.room.clone())
                    .collect();
                for room in rooms {
                    self.invite_all(now, ctx, &room);
                }
                return;
            }
            BridgeEvent::Removed { jid, .. } => (jid, false),
            BridgeEvent::HealthCheckFailed { jid } | BridgeEvent::ShuttingDown { jid } => {
                (jid, true)
            }
            _ => return,
        };
        let rooms: Vec<BareJid> = self
            .conferences
            .values()
            .filter(|c| c.media.bridges.contains_key(bridge))
            .map(|c| c.room.clone())
            .collect();
        for room in rooms {
            warn!(conference = %room, bridge = %bridge, ?event, "bridge lost: moving its participants");
            self.remove_bridge_session(now, ctx, &room, bridge, expire);
        }
    }

    /// Removes the conference's session on `bridge` (expiring it there
    /// when `expire`), its relays on the other bridges, and moves its
    /// participants (Jicofo's `removeSession` and `bridgeRemoved`).
    fn remove_bridge_session(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        bridge: &FullJid,
        expire: bool,
    ) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let Some(session) = conf.media.bridges.remove(bridge) else {
            return;
        };
        let generation = conf.generation;
        let meeting_id = conf.colibri_meeting_id();
        for nick in &session.endpoints {
            if let Some(p) = conf.media.participants.get_mut(nick) {
                // The endpoint is gone with the session.
                p.bridge = None;
            }
        }
        if expire && let Some(meeting_id) = meeting_id {
            let request = ConferenceModify::expire_conference(meeting_id);
            self.bridge_request(now, ctx, room, generation, bridge, &request);
        }
        self.disconnect_bridge(now, ctx, room, session.relay_id.as_deref());
        if let Some(b) = ctx.bridges.as_deref_mut().and_then(|r| r.get_mut(bridge)) {
            for _ in &session.endpoints {
                b.endpoint_removed();
            }
        }
        for nick in &session.endpoints {
            self.restart_participant(now, ctx, room, nick);
        }
        self.stats_mut().bridges_removed += 1;
        self.sync_bridge_count(ctx, room);
    }

    /// The bridge does not know `nick`'s endpoint (an `unknown-endpoint`
    /// error to an update): it is dropped from the session without an
    /// expire and the participant is invited again (Jicofo's
    /// `endpointFailed`). The session goes if nobody is left on it.
    fn endpoint_failed(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        bridge: &FullJid,
        nick: &str,
    ) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let Some(p) = conf
            .media
            .participants
            .get_mut(nick)
            .filter(|p| p.bridge.as_ref() == Some(bridge))
        else {
            debug!(conference = %room, bridge = %bridge, endpoint = nick, "unknown-endpoint for an endpoint not on that bridge: ignored");
            return;
        };
        warn!(conference = %room, bridge = %bridge, endpoint = nick, "the bridge lost the endpoint: inviting the participant again");
        p.bridge = None;
        if let Some(session) = conf.media.bridges.get_mut(bridge) {
            session.endpoints.remove(nick);
        }
        self.mirror_expire(now, ctx, room, bridge, nick);
        if let Some(b) = ctx.bridges.as_deref_mut().and_then(|r| r.get_mut(bridge)) {
            b.endpoint_removed();
        }
        self.restart_participant(now, ctx, room, nick);
        let empty = self
            .conferences
            .get(room)
            .and_then(|c| c.media.bridges.get(bridge))
            .is_some_and(|s| s.endpoints.is_empty());
        if empty {
            self.remove_bridge_session(now, ctx, room, bridge, true);
        }
    }

    /// The answer to a fire-and-forget request to `bridge`, sent while the
    /// conference's session there was `session`: errors are handled as
    /// Jicofo does (an unknown endpoint is invited again, anything else
    /// fails the session); a timeout is only logged.
    fn on_bridge_answer(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        bridge: &FullJid,
        session: Option<&str>,
        outcome: IqOutcome,
    ) {
        let answer = colibri_answer(outcome);
        if let Err(failure) = request_outcome(answer.as_ref()) {
            self.on_bridge_failure(now, ctx, room, bridge, session, failure);
        }
    }

    /// A fire-and-forget request to `bridge` failed: a timeout is only
    /// logged; an unknown endpoint is invited again; anything else fails
    /// the session. Nothing happens when the failure is about an earlier
    /// session than the conference's current one there.
    fn on_bridge_failure(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        bridge: &FullJid,
        session: Option<&str>,
        failure: RequestFailure,
    ) {
        if failure == RequestFailure::Ignore {
            info!(conference = %room, bridge = %bridge, "bridge request timed out; ignored");
            return;
        }
        if session.is_none() || session != self.bridge_session_id(room, bridge) {
            debug!(conference = %room, bridge = %bridge, ?failure, "failure of an earlier session on the bridge: ignored");
            return;
        }
        warn!(conference = %room, bridge = %bridge, %failure, "bridge request failed");
        match failure {
            RequestFailure::EndpointFailed { endpoint_id } => {
                self.endpoint_failed(now, ctx, room, bridge, &endpoint_id);
            }
            RequestFailure::SessionFailed | RequestFailure::Ignore => {
                self.remove_bridge_session(now, ctx, room, bridge, true);
            }
        }
    }

    /// A session-accept (`session`), or a transport-accept answering a
    /// transport-replace: the sources are validated and added, the
    /// transport goes to the bridge and the sources to the others. Only a
    /// session-accept changes the session's state (active, or ended when
    /// refused).
    #[allow(clippy::too_many_arguments)]
    fn on_accept(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        iq: &Element,
        jingle: &Element,
        session: bool,
    ) {
        let action = if session {
            "session-accept"
        } else {
            "transport-accept"
        };
        let parsed = TransportParts::parse(jingle);
        let sources = parse_jingle(jingle);
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let Some(p) = conf.media.participants.get_mut(nick) else {
            return;
        };
        if session {
            p.state = SessionState::Active;
        }
        let refused = match (parsed, sources) {
            (Ok(j), Ok(s)) => match conf.media.sources.try_to_add(nick, &s) {
                Ok(accepted) => Ok((j, accepted)),
                Err(e) => {
                    warn!(conference = %room, endpoint = nick, error = %e, action, "sources refused");
                    Err(bad_request(iq, &e))
                }
            },
            (_, Err(e)) => Err(bad_request(iq, &e)),
            (Err(e), _) => Err(bad_request(iq, &e)),
        };
        let (parsed, accepted) = match refused {
            Ok(ok) => ok,
            Err(answer) => {
                if session {
                    p.state = SessionState::Ended;
                }
                ctx.send(answer);
                return;
            }
        };
        info!(conference = %room, endpoint = nick, sources = accepted.sources().len(), action, "accepted");
        let TransportParts {
            mut transport,
            initial_last_n: last_n,
        } = parsed;
        if let Some(t) = &mut transport {
            t.rtcp_mux = true;
        }
        self.update_bridge(now, ctx, room, nick, transport, true, last_n);
        self.propagate(now, ctx, room, nick, &accepted);
        self.flush_signaling(ctx, room, nick);
        ctx.send(iq_result(iq, None));
        if session {
            ctx.event(ConferenceEvent::SessionAccepted {
                room: room.clone(),
                endpoint: nick.to_owned(),
            });
        }
    }

    fn on_source_add(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        iq: &Element,
        jingle: &Element,
    ) {
        let sources = match parse_jingle(jingle) {
            Ok(s) => s,
            Err(e) => {
                ctx.send(bad_request(iq, &e));
                return;
            }
        };
        if sources.is_empty() {
            ctx.send(iq_result(iq, None));
            return;
        }
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let c = &ctx.config.conference;
        let (audio, video) = conf.sender_counts();
        let mut over = String::new();
        if sources.has_audio() && audio >= c.max_audio_senders as usize {
            over.push_str("audio ");
        }
        if sources.has_video() && video >= c.max_video_senders as usize {
            over.push_str("video");
        }
        if !over.is_empty() {
            let text = format!("Sender count exceeded for: {over}");
            ctx.send(jingle_error(iq, Condition::ResourceConstraint, Some(&text)));
            return;
        }
        match conf.media.sources.try_to_add(nick, &sources) {
            Ok(accepted) => {
                self.update_bridge(now, ctx, room, nick, None, true, None);
                self.propagate(now, ctx, room, nick, &accepted);
                ctx.send(iq_result(iq, None));
            }
            Err(e) => ctx.send(bad_request(iq, &e)),
        }
    }

    fn on_source_remove(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        iq: &Element,
        jingle: &Element,
    ) {
        let sources = match parse_jingle(jingle) {
            Ok(s) => s,
            Err(e) => {
                ctx.send(bad_request(iq, &e));
                return;
            }
        };
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        match conf.media.sources.try_to_remove(nick, &sources) {
            Ok(removed) => {
                if !removed.is_empty() {
                    self.update_bridge(now, ctx, room, nick, None, true, None);
                    self.propagate(now, ctx, room, nick, &removed);
                }
                ctx.send(iq_result(iq, None));
            }
            Err(e) => ctx.send(bad_request(iq, &e)),
        }
    }

    /// Sends the participant's endpoint update (transport and/or its
    /// complete sources) to its bridge.
    #[allow(clippy::too_many_arguments)]
    fn update_bridge(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        transport: Option<Transport>,
        with_sources: bool,
        initial_last_n: Option<i32>,
    ) {
        let Some(conf) = self.conferences.get(room) else {
            return;
        };
        let Some(bridge) = conf
            .media
            .participants
            .get(nick)
            .and_then(|p| p.bridge.clone())
        else {
            return;
        };
        let Some(meeting_id) = conf.colibri_meeting_id() else {
            return;
        };
        let empty = EndpointSourceSet::new();
        let sources = with_sources.then(|| conf.media.sources.get(nick).unwrap_or(&empty));
        let stats_id = conf.members.get(nick).and_then(|m| m.stats_id.clone());
        let Some(request) = ConferenceModify::update_endpoint(
            meeting_id,
            nick,
            stats_id,
            transport,
            sources,
            initial_last_n,
        ) else {
            return;
        };
        let generation = conf.generation;
        self.bridge_request(now, ctx, room, generation, &bridge, &request);
        if with_sources {
            self.mirror_endpoint(now, ctx, room, &bridge, nick, false);
        }
    }

    fn bridge_request(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        generation: u64,
        bridge: &FullJid,
        request: &ConferenceModify,
    ) {
        let context = self.bridge_context(room, generation, bridge);
        self.send_to_bridge(now, ctx, bridge, context, request);
    }

    /// The context of a fire-and-forget request to `bridge`: the
    /// conference's session there now, whose failure an error answer
    /// reports.
    pub(super) fn bridge_context(
        &self,
        room: &BareJid,
        generation: u64,
        bridge: &FullJid,
    ) -> MucIq {
        let session = self.bridge_session_id(room, bridge).map(str::to_owned);
        MucIq::Media(MediaIq::Bridge {
            room: room.clone(),
            generation,
            bridge: bridge.clone(),
            session,
        })
    }

    /// Sends `request` to `bridge` on the bridges' connection, answered
    /// within that connection's reply timeout, tracked as `context`.
    pub(super) fn send_to_bridge(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        bridge: &FullJid,
        context: MucIq,
        request: &ConferenceModify,
    ) {
        let conn = bridge_connection(ctx.config);
        let timeout = ctx
            .config
            .xmpp
            .connection(ctx.config.bridge.xmpp_connection_name)
            .reply_timeout;
        let id = self.iqs.register(
            ctx.rng,
            now,
            timeout,
            conn.clone(),
            bridge.as_str(),
            context,
        );
        ctx.out.push_back(Output::Send {
            conn,
            stanza: request.to_iq(&id, bridge.as_str()),
        });
    }

    /// `owner`'s sources changed (`set` added or removed): every other
    /// participant is sent the difference, now or after the signaling
    /// delay.
    fn propagate(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        owner: &str,
        set: &EndpointSourceSet,
    ) {
        if set.is_empty() {
            return;
        }
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        // Each receiver's flush compares what it was sent with the
        // conference as it is then: a change undone within the delay is
        // never signaled.
        let others: Vec<String> = conf
            .media
            .participants
            .keys()
            .filter(|n| n.as_str() != owner)
            .cloned()
            .collect();
        // `source-signaling-delays`: by the number of participants with
        // media, the largest configured size not above it.
        let size = conf
            .media
            .participants
            .values()
            .filter(|p| matches!(p.state, SessionState::Pending | SessionState::Active))
            .count();
        let delay = ctx.config.conference.source_signaling_delay(size);
        for other in others {
            if delay.is_zero() {
                self.flush_signaling(ctx, room, &other);
            } else {
                let key = (room.clone(), TimerKind::SourceSignaling(other));
                if self.timers.get(&key).is_none() {
                    self.timers.set(key, now + delay);
                }
            }
        }
    }

    /// Sends `nick` what its signaling state has pending, if its session
    /// is active.
    pub(super) fn flush_signaling(&mut self, ctx: &mut Ctx<'_>, room: &BareJid, nick: &str) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let Some(p) = conf.media.participants.get_mut(nick) else {
            return;
        };
        if p.state != SessionState::Active {
            return;
        }
        let Some(sid) = p.sid.clone() else {
            return;
        };
        let desired = desired_for(&conf.media, nick);
        let Some(p) = conf.media.participants.get_mut(nick) else {
            return;
        };
        let SourceDiff { to_remove, to_add } = p.signaling.update_to(&desired);
        if to_remove.is_empty() && to_add.is_empty() {
            return;
        }
        if p.ssrc_rewriting {
            // The bridge tells it who sends what.
            return;
        }
        let json = p.json_sources;
        let Ok(occupant) = room.with_resource_str(nick) else {
            return;
        };
        for (action, map) in [
            (Action::SourceRemove, to_remove),
            (Action::SourceAdd, to_add),
        ] {
            if map.is_empty() {
                continue;
            }
            let mut jingle = Element::builder("jingle", crate::ext::jingle::NS_JINGLE)
                .attr(ncname("action"), action.as_str())
                .attr(ncname("sid"), sid.as_str())
                .build();
            if json {
                jingle.append_child(
                    Element::builder("json-message", NS_JITMEET)
                        .append(json_message_text(&map))
                        .build(),
                );
            } else {
                for content in map_to_contents(&map) {
                    jingle.append_child(content);
                }
            }
            let id = ctx.rng.token(10);
            debug!(conference = %room, endpoint = nick, action = action.as_str(), "source signaling");
            self.jingle_stats.count_sent(action.as_str());
            ctx.send(iq_request(IqKind::Set, &id, occupant.as_str(), jingle));
        }
    }

    /// Ends `nick`'s session: `send` sends session-terminate (the focus
    /// ends it); its endpoint is expired and its sources removed (and
    /// signaled to the others).
    fn terminate(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        sid: &str,
        send: Option<(ReasonCondition, &str)>,
    ) {
        // jingle.md section 9: the others are told first, then the
        // participant.
        let removed = self.remove_participant_media(now, ctx, room, nick);
        if let Some(removed) = removed {
            self.propagate(now, ctx, room, nick, &removed);
        }
        if let Some((condition, text)) = send
            && let Ok(occupant) = room.with_resource_str(nick)
        {
            let jingle = Jingle::session_terminate(sid, condition, Some(text));
            self.jingle_stats.count_sent("session-terminate");
            let id = ctx.rng.token(10);
            ctx.send(iq_request(
                IqKind::Set,
                &id,
                occupant.as_str(),
                jingle.to_element(),
            ));
        }
        if let Some(p) = self
            .conferences
            .get_mut(room)
            .and_then(|c| c.media.participants.get_mut(nick))
        {
            p.state = SessionState::Ended;
        }
    }

    /// A member left the room: its media goes; the others learn it from
    /// the MUC, so nothing is signaled to them.
    pub(crate) fn member_left_media(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
    ) {
        let removed = self.remove_participant_media(now, ctx, room, nick);
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        conf.media.participants.remove(nick);
        if let Some(removed) = removed {
            let change = ConferenceSourceMap::single(nick, removed);
            for p in conf.media.participants.values_mut() {
                p.signaling.forget(&change);
            }
        }
    }

    /// Expires `nick`'s endpoint (the bridge conference, when it was the
    /// last) and removes its sources; returns them.
    fn remove_participant_media(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
    ) -> Option<EndpointSourceSet> {
        let removed = self
            .conferences
            .get_mut(room)?
            .media
            .sources
            .remove_owner(nick);
        self.release_endpoint(now, ctx, room, nick);
        removed
    }

    /// Expires `nick`'s endpoint on its bridge (the bridge conference, when
    /// it was the last) and forgets it there; its sources stay.
    fn release_endpoint(&mut self, now: Instant, ctx: &mut Ctx<'_>, room: &BareJid, nick: &str) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let bridge = conf
            .media
            .participants
            .get_mut(nick)
            .and_then(|p| p.bridge.take());
        let meeting_id = conf.colibri_meeting_id();
        let generation = conf.generation;
        if let (Some(bridge), Some(meeting_id)) = (bridge, meeting_id)
            && let Some(session) = conf.media.bridges.get_mut(&bridge)
        {
            session.endpoints.remove(nick);
            let mut gone_relay = None;
            let request = if session.endpoints.is_empty() {
                gone_relay = Some(session.relay_id.clone());
                conf.media.bridges.remove(&bridge);
                info!(conference = %room, bridge = %bridge, "last endpoint on the bridge: conference expired");
                Some(ConferenceModify::expire_conference(meeting_id))
            } else {
                ConferenceModify::expire_endpoints(meeting_id, [nick])
            };
            match gone_relay {
                Some(relay_id) => self.disconnect_bridge(now, ctx, room, relay_id.as_deref()),
                None => self.mirror_expire(now, ctx, room, &bridge, nick),
            }
            if let Some(b) = ctx.bridges.as_deref_mut().and_then(|r| r.get_mut(&bridge)) {
                b.endpoint_removed();
            }
            if let Some(request) = request {
                self.bridge_request(now, ctx, room, generation, &bridge, &request);
            }
            self.sync_bridge_count(ctx, room);
        }
    }

    /// `single-participant-timeout`: the lone participant's session ends
    /// (`expired`, "Idle session timeout") and the bridge conferences go.
    pub(crate) fn idle_timeout_media(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
    ) {
        let live = self
            .conferences
            .get(room)
            .and_then(|c| c.media.participants.get(nick))
            .filter(|p| matches!(p.state, SessionState::Pending | SessionState::Active))
            .and_then(|p| p.sid.clone());
        if let Some(sid) = live {
            let reason = (ReasonCondition::Expired, "Idle session timeout");
            self.terminate(now, ctx, room, nick, &sid, Some(reason));
        }
        self.expire_all_media(now, ctx, room);
    }

    /// The conference ends: every bridge conference is expired.
    pub(crate) fn expire_all_media(&mut self, now: Instant, ctx: &mut Ctx<'_>, room: &BareJid) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let Some(meeting_id) = conf.colibri_meeting_id() else {
            return;
        };
        let generation = conf.generation;
        let sessions = std::mem::take(&mut conf.media.bridges);
        conf.media.participants.clear();
        for (bridge, session) in sessions {
            if let Some(b) = ctx.bridges.as_deref_mut().and_then(|r| r.get_mut(&bridge)) {
                for _ in &session.endpoints {
                    b.endpoint_removed();
                }
            }
            let request = ConferenceModify::expire_conference(meeting_id.clone());
            self.bridge_request(now, ctx, room, generation, &bridge, &request);
        }
    }
}

/// What `nick` should know now: every other participant's sources, and
/// its bridge's own (`jvb`).
fn desired_for(media: &ConferenceMedia, nick: &str) -> ConferenceSourceMap {
    let mut desired = media.sources.map().clone();
    desired.remove_owner(nick);
    if let Some(feedback) = media
        .participants
        .get(nick)
        .and_then(|p| p.bridge.as_ref())
        .and_then(|b| media.bridges.get(b))
        .map(|s| &s.feedback)
    {
        desired.add(JVB_OWNER, feedback);
    }
    desired
}

/// Jicofo's start-muted rule for `nick`'s offer (moderation.md section 3):
/// the room metadata's `startMuted` for a participant that just joined, or
/// more participants than `min(max-senders, startAudioMuted / startVideoMuted)`.
fn start_muted(ctx: &Ctx<'_>, conf: &super::Conference, nick: &str) -> StartMuted {
    let just_joined = conf
        .media
        .participants
        .get(nick)
        .is_some_and(|p| !p.reinvited);
    let count = conf.media.participants.len();
    let limit = |max: u32, start: Option<u32>| start.map_or(max, |s| s.min(max)) as usize;
    let c = &ctx.config.conference;
    let metadata = conf.metadata.as_ref();
    StartMuted {
        audio: (just_joined && metadata.and_then(|m| m.start_muted_audio) == Some(true))
            || count > limit(c.max_audio_senders, conf.props.start_audio_muted),
        video: (just_joined && metadata.and_then(|m| m.start_muted_video) == Some(true))
            || count > limit(c.max_video_senders, conf.props.start_video_muted),
    }
}

/// Adds `map`'s sources (with their owners) to the offer's descriptions of
/// the matching media.
fn add_sources_to_contents(contents: &mut [Content], map: &ConferenceSourceMap) {
    for (owner, set) in map.iter() {
        for source in set.sources() {
            if let Some(d) = contents
                .iter_mut()
                .filter_map(|c| c.description.as_mut())
                .find(|d| d.media.as_str() == source.media_type.as_str())
            {
                d.other.push(source_element(source, Some(owner)));
            }
        }
        for group in set.groups() {
            if let Some(d) = contents
                .iter_mut()
                .filter_map(|c| c.description.as_mut())
                .find(|d| d.media.as_str() == group.media_type.as_str())
            {
                d.other.push(group_element(group));
            }
        }
    }
}
