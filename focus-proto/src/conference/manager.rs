//! [`Conferences`]: every conference, its timers and its MUC requests.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

use jid::{BareJid, FullJid};
use minidom::Element;
use tracing::{debug, info, warn};

use super::media::{ConferenceMedia, MediaIq};
use super::request::Waiter;
use super::{
    Conference, ConferenceEvent, ConferenceProps, EndReason, JoinState, LeaveReason, Member,
    OwnerChoice,
};
use crate::auth::AuthSessions;
use crate::bridge::BridgeRegistry;
use crate::config::Config;
use crate::ext::muc::{self, Affiliation, MemberRole};
use crate::ext::presence::{FocusPresence, OccupantPresence, PresenceKind};
use crate::ext::room_metadata::RoomMetadataMessage;
use crate::focus::{ConnId, Event, Output};
use crate::rest::VERSION;
use crate::rng::FocusRng;
use crate::timers::TimerQueue;
use crate::xmpp::iq::{IqOutcome, IqTracker};

/// MUC status code: the occupant was kicked.
const STATUS_KICKED: u16 = 307;
/// The presence status a member sends when it moves to a breakout room.
const STATUS_SWITCH_ROOM: &str = "switch_room";

/// Jingle IQs sent and received, by Jicofo's action enum name
/// (`SESSION_INITIATE`, `SOURCEADD`, ...), for `/stats` and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JingleStats {
    /// Sent by the focus.
    pub sent: BTreeMap<&'static str, u64>,
    /// Received from participants.
    pub received: BTreeMap<&'static str, u64>,
}

impl JingleStats {
    /// Jicofo's enum name of a wire action (`source-add` → `SOURCEADD`).
    pub fn enum_name(action: &str) -> &'static str {
        match action {
            "session-initiate" => "SESSION_INITIATE",
            "session-accept" => "SESSION_ACCEPT",
            "session-terminate" => "SESSION_TERMINATE",
            "session-info" => "SESSION_INFO",
            "transport-info" => "TRANSPORT_INFO",
            "transport-replace" => "TRANSPORT_REPLACE",
            "transport-accept" => "TRANSPORT_ACCEPT",
            "transport-reject" => "TRANSPORT_REJECT",
            "source-add" => "SOURCEADD",
            "source-remove" => "SOURCEREMOVE",
            "addsource" => "ADDSOURCE",
            "removesource" => "REMOVESOURCE",
            "content-accept" => "CONTENT_ACCEPT",
            "content-add" => "CONTENT_ADD",
            "content-modify" => "CONTENT_MODIFY",
            "content-reject" => "CONTENT_REJECT",
            "content-remove" => "CONTENT_REMOVE",
            "description-info" => "DESCRIPTION_INFO",
            "security-info" => "SECURITY_INFO",
            _ => "OTHER",
        }
    }

    pub(crate) fn count_sent(&mut self, action: &str) {
        *self.sent.entry(Self::enum_name(action)).or_default() += 1;
    }

    pub(crate) fn count_received(&mut self, action: &str) {
        *self.received.entry(Self::enum_name(action)).or_default() += 1;
    }
}

/// Counters for `/stats` and metrics (Jicofo's names in the comments).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConferenceStats {
    /// Conference requests received (`conference_requests`).
    pub conference_requests: u64,
    /// Requests that created a conference (`conference_requests_new`).
    pub conference_requests_new: u64,
    /// Requests answered with an error.
    pub conference_requests_failed: u64,
    /// Conferences created (`conferences_created`).
    pub conferences_created: u64,
    /// Conferences ended.
    pub conferences_ended: u64,
    /// Members that joined a conference (`participants`).
    pub participants_joined: u64,
    /// Members that left a conference.
    pub participants_left: u64,
    /// Ownership grants sent.
    pub owner_grants: u64,
    /// Participants re-invited elsewhere (`participants_moved`).
    pub participants_moved: u64,
    /// Bridges removed from a conference after a failure
    /// (`bridges_removed`).
    pub bridges_removed: u64,
    /// ICE failures reported by participants (`participants_ice_failed`).
    pub participants_ice_failed: u64,
    /// Session restarts asked for with session-terminate
    /// (`participants_restart_requested`).
    pub participants_restart_requested: u64,
    /// In-place ICE restarts asked for (`ice_restarts_requested`).
    pub ice_restarts_requested: u64,
    /// In-place ICE restarts whose new bridge transport went to the
    /// participant (`ice_restarts_relayed`).
    pub ice_restarts_relayed: u64,
    /// In-place ICE restarts where the bridge kept its transport
    /// (`ice_restarts_not_needed`).
    pub ice_restarts_not_needed: u64,
    /// In-place ICE restarts refused or not completed
    /// (`ice_restarts_failed`).
    pub ice_restarts_failed: u64,
}

/// What the core lends the conference code for one call.
pub(crate) struct Ctx<'a> {
    pub(crate) config: &'a Config,
    pub(crate) rng: &'a mut FocusRng,
    pub(crate) out: &'a mut VecDeque<Output>,
    pub(crate) auth: &'a mut AuthSessions,
    /// The bridge pool, when a brewery is configured.
    pub(crate) bridges: Option<&'a mut BridgeRegistry>,
    /// The focus's full JID on the client connection (Jingle `initiator`).
    pub(crate) client_jid: Option<&'a FullJid>,
}

impl Ctx<'_> {
    pub(crate) fn send(&mut self, stanza: Element) {
        self.out.push_back(Output::Send {
            conn: ConnId::Client,
            stanza,
        });
    }

    pub(crate) fn event(&mut self, event: ConferenceEvent) {
        self.out.push_back(Output::Event(Event::Conference(event)));
    }
}

/// A conference timer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum TimerKind {
    /// The focus's own join must complete (reply-timeout).
    Join,
    /// `initial-timeout`: somebody must join.
    Initial,
    /// `single-participant-timeout`.
    SingleParticipant,
    /// The longest wait for the first room metadata.
    Metadata,
    /// Batched source signaling to this participant is due.
    SourceSignaling(String),
}

type TimerKey = (BareJid, TimerKind);

/// What a MUC request of the focus was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MucIq {
    OwnerForm {
        room: BareJid,
        generation: u64,
    },
    SubmitForm {
        room: BareJid,
        generation: u64,
    },
    Grant {
        room: BareJid,
        generation: u64,
        nick: String,
    },
    /// A media request (see [`super::media`]).
    Media(MediaIq),
}

impl MucIq {
    fn room(&self) -> &BareJid {
        match self {
            Self::OwnerForm { room, .. }
            | Self::SubmitForm { room, .. }
            | Self::Grant { room, .. } => room,
            Self::Media(m) => m.room(),
        }
    }

    fn generation(&self) -> u64 {
        match self {
            Self::OwnerForm { generation, .. }
            | Self::SubmitForm { generation, .. }
            | Self::Grant { generation, .. } => *generation,
            Self::Media(m) => m.generation(),
        }
    }
}

/// The result of [`Conferences::ensure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ensured {
    /// Created now; the focus is joining.
    Created,
    /// Existed, the focus is still joining.
    Joining,
    /// Existed and is joined.
    Joined,
}

/// All conferences; see the [module docs](super).
#[derive(Debug, Default)]
pub struct Conferences {
    /// The `room_metadata` component's address, once discovered.
    pub(crate) room_metadata_component: Option<String>,
    /// The `breakout_rooms` component's address (its MUC domain), once
    /// discovered: requests for its rooms skip authentication.
    pub(crate) breakout_component: Option<String>,
    pub(super) conferences: BTreeMap<BareJid, Conference>,
    meeting_ids: BTreeMap<String, BareJid>,
    waiters: BTreeMap<BareJid, Vec<Waiter>>,
    pub(super) timers: TimerQueue<TimerKey>,
    pub(super) iqs: IqTracker<MucIq>,
    /// Members whose ownership grant is in flight or done, per room.
    granted: BTreeMap<BareJid, BTreeSet<String>>,
    next_generation: u64,
    stats: ConferenceStats,
    pub(super) jingle_stats: JingleStats,
}

impl Conferences {
    /// No conferences.
    pub fn new() -> Self {
        Self::default()
    }

    /// A conference by room.
    pub fn get(&self, room: &BareJid) -> Option<&Conference> {
        self.conferences.get(room)
    }

    /// Every conference, by room.
    pub fn iter(&self) -> impl Iterator<Item = &Conference> {
        self.conferences.values()
    }

    /// How many conferences exist.
    pub fn len(&self) -> usize {
        self.conferences.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.conferences.is_empty()
    }

    /// The counters.
    pub fn stats(&self) -> ConferenceStats {
        self.stats
    }

    /// Jingle IQs sent and received.
    pub fn jingle_stats(&self) -> &JingleStats {
        &self.jingle_stats
    }

    pub(crate) fn stats_mut(&mut self) -> &mut ConferenceStats {
        &mut self.stats
    }

    /// How many pending timers and requests there are (tests check nothing
    /// leaks once every conference ended).
    pub fn pending_work(&self) -> usize {
        self.timers.len()
            + self.iqs.len()
            + self.waiters.len()
            + self.granted.len()
            + self.meeting_ids.len()
    }

    /// When [`Conferences::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timers.next(), self.iqs.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Conferences `creator` created that nobody joined yet.
    pub(crate) fn unjoined_created_by(&self, creator: &str) -> usize {
        self.conferences
            .values()
            .filter(|c| c.creator.as_deref() == Some(creator))
            .count()
    }

    /// Makes sure a conference exists for `room`: creates it (and starts
    /// joining) if needed, or re-arms a pending `initial-timeout`.
    pub(crate) fn ensure(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        props: ConferenceProps,
        creator: Option<String>,
    ) -> Ensured {
        let initial = ctx.config.conference.initial_timeout;
        if let Some(conf) = self.conferences.get(room) {
            let key = (room.clone(), TimerKind::Initial);
            if self.timers.get(&key).is_some() {
                self.timers.set(key, now + initial);
            }
            return if conf.is_joined() {
                Ensured::Joined
            } else {
                Ensured::Joining
            };
        }
        let nick = ctx.config.xmpp.client.username.as_str();
        let occupant = match room.with_resource_str(nick) {
            Ok(o) => o,
            Err(e) => {
                // The nickname comes from the config and was validated; a
                // room that cannot take it cannot be joined.
                warn!(conference = %room, error = %e, "cannot form the focus's occupant JID");
                return Ensured::Joining;
            }
        };
        self.next_generation += 1;
        let conf = Conference::new(
            room.clone(),
            occupant.clone(),
            self.next_generation,
            ConferenceMedia::new(ctx.config),
            props,
            creator,
            now,
        );
        self.conferences.insert(room.clone(), conf);
        self.stats.conferences_created += 1;
        info!(conference = %room, "conference created, joining the room");
        ctx.send(muc::join_presence(&occupant));
        self.timers.set(
            (room.clone(), TimerKind::Join),
            now + ctx.config.xmpp.client.reply_timeout,
        );
        self.timers
            .set((room.clone(), TimerKind::Initial), now + initial);
        ctx.event(ConferenceEvent::Created { room: room.clone() });
        Ensured::Created
    }

    /// Registers a MUC request to `room` (answered within reply-timeout);
    /// the id to send it with.
    fn muc_request(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        context: MucIq,
    ) -> String {
        self.iqs.register(
            ctx.rng,
            now,
            ctx.config.xmpp.client.reply_timeout,
            ConnId::Client,
            room.as_str(),
            context,
        )
    }

    /// Queues a request to answer when the join of `room` ends.
    pub(crate) fn add_waiter(&mut self, room: &BareJid, waiter: Waiter) {
        self.waiters.entry(room.clone()).or_default().push(waiter);
    }

    /// A presence on the client connection; ignored unless it comes from
    /// an occupant of a conference room.
    pub(crate) fn on_presence(&mut self, now: Instant, ctx: &mut Ctx<'_>, presence: &Element) {
        let Some(from) = presence.attr("from").and_then(|f| FullJid::new(f).ok()) else {
            return;
        };
        let room = from.to_bare();
        let Some(conf) = self.conferences.get(&room) else {
            debug!(from = %from, "presence from outside any conference ignored");
            return;
        };
        let parsed = match OccupantPresence::parse(presence) {
            Ok(p) => p,
            Err(e) => {
                debug!(conference = %room, from = %from, error = %e, "unreadable presence ignored");
                return;
            }
        };
        if from == conf.focus_occupant {
            self.on_self_presence(now, ctx, &room, &parsed, presence);
        } else {
            self.on_member_presence(now, ctx, &room, from.resource().as_str(), &parsed);
        }
    }

    fn on_self_presence(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        p: &OccupantPresence,
        raw: &Element,
    ) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        match p.kind {
            PresenceKind::Error => {
                let why = crate::ext::error::StanzaError::from_stanza(raw)
                    .map(|e| e.condition.as_str().to_owned())
                    .unwrap_or_else(|| "error presence".to_owned());
                if conf.state == JoinState::Joined {
                    warn!(conference = %room, error = %why, "error presence for the focus ignored");
                } else {
                    self.stop(now, ctx, room, EndReason::JoinFailed(why), false);
                }
            }
            PresenceKind::Unavailable => {
                let why = if p.destroy {
                    "the room was destroyed".to_owned()
                } else if p.status_codes.contains(&STATUS_KICKED) {
                    "the focus was kicked".to_owned()
                } else {
                    "the focus left the room".to_owned()
                };
                self.stop(now, ctx, room, EndReason::RemovedFromRoom(why), false);
            }
            PresenceKind::Available => {
                let role = p
                    .item
                    .as_ref()
                    .map(|i| MemberRole::from_muc(i.affiliation, i.role))
                    .unwrap_or(MemberRole::Visitor);
                if role != MemberRole::Owner {
                    warn!(conference = %room, ?role, "owner privileges are required");
                    let reason = if conf.state == JoinState::Joined {
                        EndReason::RemovedFromRoom("owner privileges are required".to_owned())
                    } else {
                        EndReason::JoinFailed("owner privileges are required".to_owned())
                    };
                    self.stop(now, ctx, room, reason, true);
                    return;
                }
                if conf.state == JoinState::Joining {
                    conf.state = JoinState::FetchingForm;
                    let context = MucIq::OwnerForm {
                        room: room.clone(),
                        generation: conf.generation,
                    };
                    let id = self.muc_request(now, ctx, room, context);
                    ctx.send(muc::owner_form_request(room, &id));
                }
            }
        }
    }

    fn on_member_presence(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        nick: &str,
        p: &OccupantPresence,
    ) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        match p.kind {
            PresenceKind::Error => {
                debug!(conference = %room, endpoint = nick, "error presence from an occupant ignored");
            }
            PresenceKind::Unavailable => {
                let Some(member) = conf.members.remove(nick) else {
                    return;
                };
                let reason = if p.status_codes.contains(&STATUS_KICKED) {
                    LeaveReason::Kicked
                } else {
                    LeaveReason::Left
                };
                info!(conference = %room, endpoint = nick, ?reason, "member left");
                self.stats.participants_left += 1;
                if let Some(granted) = self.granted.get_mut(room) {
                    granted.remove(nick);
                }
                if conf.elected_owner.as_deref() == Some(nick) {
                    conf.elected_owner = None;
                }
                ctx.event(ConferenceEvent::MemberLeft {
                    room: room.clone(),
                    endpoint: nick.to_owned(),
                    reason,
                });
                let switching = p.status.as_deref() == Some(STATUS_SWITCH_ROOM)
                    || member.status.as_deref() == Some(STATUS_SWITCH_ROOM);
                self.member_left_media(now, ctx, room, nick);
                self.after_leave(now, ctx, room, switching);
            }
            PresenceKind::Available => {
                let trusted = &ctx.config.xmpp.trusted_domains;
                if let Some(member) = conf.members.get_mut(nick) {
                    let change = member.update(p, trusted);
                    if change.role {
                        debug!(conference = %room, endpoint = nick, role = ?member.role, "member role changed");
                        self.manage_roles(now, ctx, room);
                    }
                    return;
                }
                let seq = conf.next_seq();
                let member = Member::new(nick.to_owned(), seq, p, trusted);
                info!(
                    conference = %room,
                    endpoint = nick,
                    role = ?member.role,
                    real_jid = ?member.real_jid.as_ref().map(|j| j.to_string()),
                    "member joined"
                );
                conf.members.insert(nick.to_owned(), member);
                self.stats.participants_joined += 1;
                ctx.event(ConferenceEvent::MemberJoined {
                    room: room.clone(),
                    endpoint: nick.to_owned(),
                });
                self.after_join(now, ctx, room);
            }
        }
    }

    /// Changes the focus's own presence in `room` and sends it again if
    /// that changed anything (muc.md section 5: updates re-send the whole
    /// presence).
    pub(super) fn update_focus_presence(
        &mut self,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        change: impl FnOnce(&mut FocusPresence),
    ) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let Some(presence) = conf.focus_presence.as_mut() else {
            return;
        };
        let before = presence.clone();
        change(presence);
        if *presence != before {
            ctx.send(presence.to_element(&conf.focus_occupant));
        }
    }

    /// Lifecycle after a member joined.
    fn after_join(&mut self, now: Instant, ctx: &mut Ctx<'_>, room: &BareJid) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        conf.ever_joined = true;
        conf.creator = None;
        self.timers.cancel(&(room.clone(), TimerKind::Initial));
        if conf.member_count() > 1 {
            self.timers
                .cancel(&(room.clone(), TimerKind::SingleParticipant));
        }
        if conf.is_joined() {
            self.check_media(now, ctx, room);
            self.manage_roles(now, ctx, room);
        }
    }

    /// Lifecycle after a member left.
    fn after_leave(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        switching_room: bool,
    ) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        let count = conf.member_count();
        let joined = conf.is_joined();
        if count == 1 && joined && conf.media_ready {
            self.timers.set(
                (room.clone(), TimerKind::SingleParticipant),
                now + ctx.config.conference.single_participant_timeout,
            );
        } else if count == 0 {
            // No participant: the bridge sessions go (media is torn down).
            conf.media_ready = false;
            self.timers
                .cancel(&(room.clone(), TimerKind::SingleParticipant));
        }
        if count == 0 {
            if joined {
                self.maybe_stop(now, ctx, room, switching_room);
            } else {
                // Our own join is still completing: give the room the usual
                // time for somebody to come.
                self.timers.set(
                    (room.clone(), TimerKind::Initial),
                    now + ctx.config.conference.initial_timeout,
                );
            }
            return;
        }
        if joined {
            self.manage_roles(now, ctx, room);
        }
    }

    /// Stops a conference whose room is empty, unless it has breakout rooms
    /// or its last member is only moving to one (then `initial-timeout`
    /// decides).
    fn maybe_stop(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        switching_room: bool,
    ) {
        if self
            .conferences
            .get(room)
            .is_none_or(|c| c.member_count() > 0)
        {
            return;
        }
        if self.has_breakout_rooms(room) {
            info!(conference = %room, "breakout rooms still present, not stopping");
        } else if switching_room {
            info!(conference = %room, "last member moving to a breakout room, not stopping");
            self.timers.set(
                (room.clone(), TimerKind::Initial),
                now + ctx.config.conference.initial_timeout,
            );
        } else {
            self.stop(now, ctx, room, EndReason::LastMemberLeft, true);
        }
    }

    /// Whether some conference is a breakout room of `room`.
    fn has_breakout_rooms(&self, room: &BareJid) -> bool {
        self.conferences.values().any(|c| {
            c.breakout_main_room
                .as_deref()
                .and_then(|m| BareJid::new(m).ok())
                .is_some_and(|m| &m == room)
        })
    }

    /// Media is set up once `min-participants` members are present.
    fn check_media(&mut self, now: Instant, ctx: &mut Ctx<'_>, room: &BareJid) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        // Transcription starts media without waiting for min-participants.
        let min = if conf.transcription() {
            1
        } else {
            ctx.config.conference.min_participants.max(1) as usize
        };
        if !conf.media_ready && conf.member_count() >= min {
            conf.media_ready = true;
            info!(conference = %room, members = conf.member_count(), "min-participants reached");
            ctx.event(ConferenceEvent::MediaReady { room: room.clone() });
        }
        if conf.media_ready {
            self.invite_all(now, ctx, room);
        }
    }

    /// Grants ownership per the configured policy: every authenticated
    /// member when authentication is on, else one elected owner
    /// (`enable-auto-owner`, not in breakout rooms).
    fn manage_roles(&mut self, now: Instant, ctx: &mut Ctx<'_>, room: &BareJid) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        if !conf.is_joined() {
            return;
        }
        let mut grants = Vec::new();
        if ctx.auth.enabled() {
            for m in conf.members.values() {
                let authenticated = m
                    .real_jid
                    .as_ref()
                    .is_some_and(|j| ctx.auth.is_authenticated(j));
                if authenticated && m.role != MemberRole::Owner {
                    grants.push(m.nick.clone());
                }
            }
        } else if ctx.config.conference.enable_auto_owner && !conf.is_breakout {
            if conf
                .elected_owner
                .as_ref()
                .is_some_and(|n| conf.members.contains_key(n))
            {
                return;
            }
            conf.elected_owner = match conf.owner_candidate() {
                OwnerChoice::Existing(nick) => Some(nick),
                OwnerChoice::Grant(nick) => {
                    grants.push(nick.clone());
                    Some(nick)
                }
                OwnerChoice::Nobody => None,
            };
        }
        for nick in grants {
            self.grant_owner(now, ctx, room, &nick);
        }
    }

    fn grant_owner(&mut self, now: Instant, ctx: &mut Ctx<'_>, room: &BareJid, nick: &str) {
        let Some(conf) = self.conferences.get(room) else {
            return;
        };
        let Some(jid) = conf.members.get(nick).and_then(|m| m.real_jid.as_ref()) else {
            debug!(conference = %room, endpoint = nick, "no real JID: ownership not granted");
            return;
        };
        let granted = self.granted.entry(room.clone()).or_default();
        if !granted.insert(nick.to_owned()) {
            return;
        }
        let bare = jid.to_bare();
        let context = MucIq::Grant {
            room: room.clone(),
            generation: conf.generation,
            nick: nick.to_owned(),
        };
        let id = self.muc_request(now, ctx, room, context);
        info!(conference = %room, endpoint = nick, jid = %bare, "granting ownership");
        ctx.send(muc::grant_affiliation(room, &id, &bare, Affiliation::Owner));
        self.stats.owner_grants += 1;
        ctx.event(ConferenceEvent::OwnerGranted {
            room: room.clone(),
            endpoint: nick.to_owned(),
        });
    }

    /// A member's real JID `jid` authenticated (conference request with a
    /// session): make it owner wherever it is a member.
    pub(crate) fn authenticated(&mut self, now: Instant, ctx: &mut Ctx<'_>, jid: &FullJid) {
        let rooms: Vec<BareJid> = self
            .conferences
            .values()
            .filter(|c| c.members.values().any(|m| m.real_jid.as_ref() == Some(jid)))
            .map(|c| c.room.clone())
            .collect();
        for room in rooms {
            self.manage_roles(now, ctx, &room);
        }
    }

    /// A `message` on the client connection: room metadata from the
    /// discovered `room_metadata` component is applied; anything else is
    /// ignored.
    pub(crate) fn on_message(&mut self, now: Instant, ctx: &mut Ctx<'_>, message: &Element) {
        let (Some(from), Some(component)) = (message.attr("from"), &self.room_metadata_component)
        else {
            return;
        };
        if !from.eq_ignore_ascii_case(component) {
            return;
        }
        let parsed = match RoomMetadataMessage::parse(message) {
            Ok(m) => m,
            Err(e) => {
                info!(error = %e, "room metadata message dropped");
                return;
            }
        };
        let Ok(room) = BareJid::new(&parsed.room) else {
            info!(room = %parsed.room, "room metadata for an invalid room dropped");
            return;
        };
        let Some(conf) = self.conferences.get_mut(&room) else {
            info!(conference = %room, "room metadata for an unknown conference dropped");
            return;
        };
        debug!(conference = %room, metadata = ?parsed.metadata, "room metadata");
        conf.metadata = Some(parsed.metadata);
        if conf.state == JoinState::WaitingForMetadata {
            self.on_joined(now, ctx, &room);
        } else if conf.is_joined() {
            self.check_media(now, ctx, &room);
        }
    }

    /// An IQ `result` or `error` on the client connection; whether it
    /// answered one of our MUC requests.
    pub(crate) fn on_iq_reply(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        conn: &ConnId,
        iq: Element,
    ) -> bool {
        let Some((context, outcome)) = self.iqs.on_reply(conn, iq) else {
            return false;
        };
        self.on_muc_iq(now, ctx, context, outcome);
        true
    }

    fn on_muc_iq(&mut self, now: Instant, ctx: &mut Ctx<'_>, context: MucIq, outcome: IqOutcome) {
        let room = context.room().clone();
        let Some(conf) = self.conferences.get_mut(&room) else {
            return;
        };
        if conf.generation != context.generation() {
            return;
        }
        let context = match context {
            MucIq::Media(media) => {
                self.on_media_iq(now, ctx, media, outcome);
                return;
            }
            other => other,
        };
        match (context, outcome) {
            (MucIq::OwnerForm { .. }, IqOutcome::Result(reply)) => {
                let form = match muc::parse_owner_form(&reply) {
                    Ok(f) => f,
                    Err(e) => {
                        warn!(conference = %room, error = %e, "unreadable room configuration form; using defaults");
                        Default::default()
                    }
                };
                let meeting_id = form.meeting_id.unwrap_or_else(|| ctx.rng.uuid());
                if self
                    .meeting_ids
                    .get(&meeting_id)
                    .is_some_and(|r| r != &room)
                {
                    let why = format!("meeting id {meeting_id} is already in use");
                    self.stop(now, ctx, &room, EndReason::JoinFailed(why), true);
                    return;
                }
                self.meeting_ids.insert(meeting_id.clone(), room.clone());
                conf.meeting_id = Some(meeting_id);
                conf.is_breakout = form.is_breakout;
                conf.presets_service = form.presets_service_enabled;
                conf.breakout_main_room = form.breakout_main_room;
                conf.state = JoinState::SubmittingForm;
                let context = MucIq::SubmitForm {
                    room: room.clone(),
                    generation: conf.generation,
                };
                let id = self.muc_request(now, ctx, &room, context);
                ctx.send(muc::owner_form_submit(&room, &id));
            }
            (MucIq::SubmitForm { .. }, IqOutcome::Result(_)) => {
                if conf.presets_service && conf.metadata.is_none() {
                    debug!(conference = %room, "waiting for the room metadata");
                    conf.state = JoinState::WaitingForMetadata;
                    self.timers.set(
                        (room.clone(), TimerKind::Metadata),
                        now + super::METADATA_WAIT,
                    );
                } else {
                    self.on_joined(now, ctx, &room);
                }
            }
            (
                MucIq::OwnerForm { .. } | MucIq::SubmitForm { .. },
                IqOutcome::Error { error: e, .. },
            ) => {
                let why = format!("room configuration refused: {}", e.condition.as_str());
                self.stop(now, ctx, &room, EndReason::JoinFailed(why), true);
            }
            (MucIq::OwnerForm { .. } | MucIq::SubmitForm { .. }, IqOutcome::Timeout) => {
                let why = "no answer to the room configuration in time".to_owned();
                self.stop(now, ctx, &room, EndReason::JoinFailed(why), true);
            }
            (MucIq::Grant { nick, .. }, IqOutcome::Result(_)) => {
                debug!(conference = %room, endpoint = %nick, "ownership granted");
            }
            (MucIq::Media(_), _) => {}
            (MucIq::Grant { nick, .. }, outcome) => {
                // Jicofo only logs these; a later election may try again.
                warn!(conference = %room, endpoint = %nick, ?outcome, "ownership grant failed");
                if let Some(granted) = self.granted.get_mut(&room) {
                    granted.remove(&nick);
                }
                if conf.elected_owner.as_deref() == Some(nick.as_str()) {
                    conf.elected_owner = None;
                }
            }
        }
    }

    fn on_joined(&mut self, now: Instant, ctx: &mut Ctx<'_>, room: &BareJid) {
        let Some(conf) = self.conferences.get_mut(room) else {
            return;
        };
        conf.state = JoinState::Joined;
        self.timers.cancel(&(room.clone(), TimerKind::Join));
        self.timers.cancel(&(room.clone(), TimerKind::Metadata));
        let meeting_id = conf.meeting_id.clone().unwrap_or_default();
        info!(conference = %room, meeting_id = %meeting_id, "joined the room as owner");
        let etherpad = if ctx.config.conference.shared_document.use_random_name {
            ctx.rng.token(32)
        } else {
            room.node()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default()
        };
        let mut properties = vec![("support-terminate-restart".to_owned(), "true".to_owned())];
        if ctx.config.visitors.enabled {
            properties.push(("visitors-enabled".to_owned(), "true".to_owned()));
        }
        let presence = FocusPresence {
            etherpad: Some(etherpad),
            version: VERSION.to_owned(),
            properties,
            bridge_not_available: false,
        };
        ctx.send(presence.to_element(&conf.focus_occupant));
        conf.focus_presence = Some(presence);
        ctx.event(ConferenceEvent::Joined {
            room: room.clone(),
            meeting_id,
        });
        for waiter in self.waiters.remove(room).unwrap_or_default() {
            waiter.answer(ctx.out, Ok(true));
        }
        let count = conf.member_count();
        if count > 0 {
            self.check_media(now, ctx, room);
            self.manage_roles(now, ctx, room);
        }
    }

    /// Fires every conference timer and MUC request deadline due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        while let Some(context) = self.iqs.pop_expired(now) {
            self.on_muc_iq(now, ctx, context, IqOutcome::Timeout);
        }
        while let Some((room, kind)) = self.timers.pop_due(now) {
            let Some(conf) = self.conferences.get_mut(&room) else {
                continue;
            };
            match kind {
                TimerKind::Join => {
                    if !conf.is_joined() {
                        let why = "the room did not answer the join in time".to_owned();
                        self.stop(now, ctx, &room, EndReason::JoinFailed(why), true);
                    }
                }
                TimerKind::Initial => {
                    if conf.member_count() == 0 && !self.has_breakout_rooms(&room) {
                        info!(conference = %room, "initial-timeout: nobody joined");
                        self.stop(now, ctx, &room, EndReason::InitialTimeout, true);
                    }
                }
                TimerKind::SourceSignaling(nick) => {
                    self.flush_signaling(ctx, &room, &nick);
                }
                TimerKind::Metadata => {
                    if conf.state == JoinState::WaitingForMetadata {
                        warn!(conference = %room, "no room metadata in time; going on without");
                        self.on_joined(now, ctx, &room);
                    }
                }
                TimerKind::SingleParticipant => {
                    if conf.member_count() == 1 {
                        let endpoint = conf.members.keys().next().cloned().unwrap_or_default();
                        info!(conference = %room, endpoint = %endpoint, "single-participant-timeout");
                        conf.media_ready = false;
                        self.idle_timeout_media(now, ctx, &room, &endpoint);
                        ctx.event(ConferenceEvent::SingleParticipantTimeout {
                            room: room.clone(),
                            endpoint,
                        });
                    }
                }
            }
        }
    }

    /// The client connection went down: every conference ends at once
    /// (no stream resumption; clients send new requests).
    pub(crate) fn connection_lost(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        let rooms: Vec<BareJid> = self.conferences.keys().cloned().collect();
        for room in rooms {
            self.stop(now, ctx, &room, EndReason::ConnectionLost, false);
        }
    }

    /// Leaves every room (shutdown).
    pub(crate) fn shutdown(&mut self, now: Instant, ctx: &mut Ctx<'_>) {
        let rooms: Vec<BareJid> = self.conferences.keys().cloned().collect();
        for room in rooms {
            self.stop(now, ctx, &room, EndReason::Shutdown, true);
        }
    }

    /// Ends a conference and drops all its state; `leave` sends the
    /// unavailable presence (also when the join never completed, so the
    /// room is not leaked).
    fn stop(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        reason: EndReason,
        leave: bool,
    ) {
        self.expire_all_media(now, ctx, room);
        let Some(conf) = self.conferences.remove(room) else {
            return;
        };
        if matches!(
            reason,
            EndReason::JoinFailed(_) | EndReason::RemovedFromRoom(_)
        ) {
            warn!(conference = %room, %reason, "conference ended");
        } else {
            info!(conference = %room, %reason, "conference ended");
        }
        if leave {
            ctx.send(muc::leave_presence(&conf.focus_occupant));
        }
        self.timers.cancel_where(|(r, _)| r == room);
        self.iqs.cancel_where(|c| c.room() == room);
        self.granted.remove(room);
        if let Some(id) = &conf.meeting_id
            && self.meeting_ids.get(id) == Some(room)
        {
            self.meeting_ids.remove(id);
        }
        let failure = match &reason {
            EndReason::JoinFailed(why) => why.clone(),
            other => other.to_string(),
        };
        for waiter in self.waiters.remove(room).unwrap_or_default() {
            waiter.answer(ctx.out, Err(failure.clone()));
        }
        ctx.auth.conference_ended(room);
        self.stats.conferences_ended += 1;
        ctx.event(ConferenceEvent::Ended {
            room: room.clone(),
            reason,
        });
        // A breakout room ended: its main room may be empty too.
        if let Some(main) = conf
            .breakout_main_room
            .as_deref()
            .and_then(|m| BareJid::new(m).ok())
            && self.conferences.get(&main).is_some_and(|c| c.is_joined())
        {
            self.maybe_stop(now, ctx, &main, false);
        }
    }
}
