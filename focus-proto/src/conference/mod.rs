//! Conferences: one per MUC room the focus runs.
//!
//! * [`Conference`] is one room's state: how far the focus's join got, the
//!   members, the owner the focus elected, and the conference's settings
//!   from the request that created it.
//! * [`Conferences`] owns them all, with their timers and the MUC requests
//!   in flight, and implements the rules: joining as owner, granting
//!   ownership, `initial-timeout`, `single-participant-timeout`,
//!   `min-participants`, and the end of a conference.
//! * [`request`] answers conference requests (XMPP and REST) on top of it.

pub(crate) mod manager;
pub mod media;
pub mod member;
mod relays;
pub mod request;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Instant;

use jid::{BareJid, FullJid};

pub use manager::{ConferenceStats, Conferences};
pub use member::Member;

use crate::ext::muc::MemberRole;
use crate::ext::room_metadata::RoomMetadata;

/// How far the focus's own join of the room got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinState {
    /// Join presence sent; waiting for the room's self-presence.
    Joining,
    /// In the room as owner; waiting for the owner configuration form.
    FetchingForm,
    /// The configuration (`whois = anyone`) was submitted; waiting for the
    /// room to accept it.
    SubmittingForm,
    /// The room uses the conference presets service: waiting (at most
    /// [`METADATA_WAIT`]) for its first room-metadata message.
    WaitingForMetadata,
    /// Joined and configured: requests are answered `ready`.
    Joined,
}

/// How long a join waits for the first room metadata when the room's form
/// says `muc#roominfo_conference_presets_service_enabled` (Jicofo's 10 s).
pub const METADATA_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why a conference ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// Nobody joined within `initial-timeout`.
    InitialTimeout,
    /// The last member left.
    LastMemberLeft,
    /// The focus could not join the room as owner.
    JoinFailed(String),
    /// The focus lost owner rights, was kicked, or the room was destroyed.
    RemovedFromRoom(String),
    /// The client XMPP connection was lost.
    ConnectionLost,
    /// The focus is shutting down.
    Shutdown,
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InitialTimeout => f.write_str("nobody joined before initial-timeout"),
            Self::LastMemberLeft => f.write_str("the last member left"),
            Self::JoinFailed(why) => write!(f, "joining the room failed: {why}"),
            Self::RemovedFromRoom(why) => write!(f, "removed from the room: {why}"),
            Self::ConnectionLost => f.write_str("the XMPP connection was lost"),
            Self::Shutdown => f.write_str("shutting down"),
        }
    }
}

/// Why a member left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// Unavailable presence.
    Left,
    /// Kicked (status 307).
    Kicked,
}

/// Observable happenings of conferences, for metrics, logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConferenceEvent {
    /// A conference request created a conference; the focus is joining.
    Created {
        /// The room.
        room: BareJid,
    },
    /// The focus joined and configured the room.
    Joined {
        /// The room.
        room: BareJid,
        /// The meeting id (from the room, or generated).
        meeting_id: String,
    },
    /// The conference ended and all its state is gone.
    Ended {
        /// The room.
        room: BareJid,
        /// Why.
        reason: EndReason,
    },
    /// A member joined the room.
    MemberJoined {
        /// The room.
        room: BareJid,
        /// Its endpoint id (nickname).
        endpoint: String,
    },
    /// A member left the room.
    MemberLeft {
        /// The room.
        room: BareJid,
        /// Its endpoint id.
        endpoint: String,
        /// How.
        reason: LeaveReason,
    },
    /// The focus asked the room to make a member owner.
    OwnerGranted {
        /// The room.
        room: BareJid,
        /// The endpoint id.
        endpoint: String,
    },
    /// `min-participants` members are present: media may be set up.
    MediaReady {
        /// The room.
        room: BareJid,
    },
    /// A participant was sent a session-initiate.
    Invited {
        /// The room.
        room: BareJid,
        /// The endpoint id.
        endpoint: String,
        /// Its bridge.
        bridge: FullJid,
    },
    /// A participant's session-accept was accepted.
    SessionAccepted {
        /// The room.
        room: BareJid,
        /// The endpoint id.
        endpoint: String,
    },
    /// `single-participant-timeout` fired: the lone participant's media is
    /// torn down (it stays in the room).
    SingleParticipantTimeout {
        /// The room.
        room: BareJid,
        /// The lone participant.
        endpoint: String,
    },
}

/// Settings a conference keeps from the request that created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConferenceProps {
    /// `startAudioMuted`.
    pub start_audio_muted: Option<u32>,
    /// `startVideoMuted`.
    pub start_video_muted: Option<u32>,
    /// `rtcstatsEnabled` (default true).
    pub rtcstats_enabled: bool,
}

/// One conference. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Conference {
    /// The MUC room.
    pub room: BareJid,
    /// Distinguishes this conference from an earlier one in the same room,
    /// so late answers to the earlier one are not applied to it.
    pub(crate) generation: u64,
    /// The focus's occupant JID (`room/focus`).
    pub focus_occupant: FullJid,
    /// How far the join got.
    pub state: JoinState,
    /// The meeting id, once the room's form was read.
    pub meeting_id: Option<String>,
    /// Whether the room is a breakout room (from its form).
    pub is_breakout: bool,
    /// The main room of a breakout room.
    pub breakout_main_room: Option<String>,
    /// Settings from the creating request.
    pub props: ConferenceProps,
    /// The latest room metadata, if the `room_metadata` component sent any.
    pub metadata: Option<RoomMetadata>,
    /// Whether the room's form asked to wait for room metadata.
    pub(crate) presets_service: bool,
    /// Members by nickname.
    pub members: BTreeMap<String, Member>,
    /// The member the focus made owner (auto-owner).
    pub elected_owner: Option<String>,
    /// Whether media is set up (`min-participants` reached).
    pub media_ready: bool,
    /// Bridge sessions, Jingle sessions and sources.
    pub media: media::ConferenceMedia,
    /// The focus's own presence in the room, once joined.
    pub(crate) focus_presence: Option<crate::ext::presence::FocusPresence>,
    /// Who asked for the conference first, while nobody has joined yet
    /// (the per-requester flood limit counts these).
    pub(crate) creator: Option<String>,
    /// Whether anybody ever joined.
    pub ever_joined: bool,
    /// When it was created.
    pub created_at: Instant,
    next_join_seq: u64,
}

impl Conference {
    pub(crate) fn new(
        room: BareJid,
        focus_occupant: FullJid,
        generation: u64,
        media: media::ConferenceMedia,
        props: ConferenceProps,
        creator: Option<String>,
        now: Instant,
    ) -> Self {
        Self {
            room,
            generation,
            focus_occupant,
            state: JoinState::Joining,
            meeting_id: None,
            is_breakout: false,
            breakout_main_room: None,
            props,
            metadata: None,
            presets_service: false,
            members: BTreeMap::new(),
            elected_owner: None,
            media_ready: false,
            media,
            focus_presence: None,
            creator,
            ever_joined: false,
            created_at: now,
            next_join_seq: 0,
        }
    }

    /// The meeting id as COLIBRI2 takes it, once the room's form was read.
    pub(crate) fn colibri_meeting_id(&self) -> Option<crate::ext::colibri2::MeetingId> {
        self.meeting_id
            .clone()
            .and_then(|m| crate::ext::colibri2::MeetingId::new(m).ok())
    }

    /// Whether the focus has joined and configured the room.
    pub fn is_joined(&self) -> bool {
        self.state == JoinState::Joined
    }

    /// Whether room metadata switched transcription on (then media starts
    /// with one participant).
    pub fn transcription(&self) -> bool {
        self.metadata
            .as_ref()
            .is_some_and(RoomMetadata::transcription)
    }

    /// The members that count as participants: everyone but the focus.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// A member by endpoint id.
    pub fn member(&self, endpoint: &str) -> Option<&Member> {
        self.members.get(endpoint)
    }

    /// Members in join order.
    pub fn members_by_join(&self) -> Vec<&Member> {
        let mut all: Vec<&Member> = self.members.values().collect();
        all.sort_by_key(|m| m.join_seq);
        all
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        let seq = self.next_join_seq;
        self.next_join_seq += 1;
        seq
    }

    /// How many members have moderator rights.
    pub fn moderator_count(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.role.has_moderator_rights())
            .count()
    }

    /// How many members send audio / video.
    pub fn sender_counts(&self) -> (usize, usize) {
        let audio = self.members.values().filter(|m| m.audio_sending).count();
        let video = self.members.values().filter(|m| m.video_sending).count();
        (audio, video)
    }

    /// The member auto-owner elects now: an existing owner that is not a
    /// service, else the earliest-joined member that is neither a service
    /// nor a visitor and whose real JID is known.
    pub(crate) fn owner_candidate(&self) -> OwnerChoice {
        let by_join = self.members_by_join();
        if let Some(m) = by_join
            .iter()
            .find(|m| !m.is_service() && m.role == MemberRole::Owner)
        {
            return OwnerChoice::Existing(m.nick.clone());
        }
        match by_join
            .iter()
            .find(|m| !m.is_service() && m.role != MemberRole::Visitor && m.real_jid.is_some())
        {
            Some(m) => OwnerChoice::Grant(m.nick.clone()),
            None => OwnerChoice::Nobody,
        }
    }
}

/// The outcome of an owner election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OwnerChoice {
    /// This member already is owner.
    Existing(String),
    /// Grant ownership to this member.
    Grant(String),
    /// Nobody can be owner.
    Nobody,
}
