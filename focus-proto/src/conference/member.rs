//! [`Member`]: one occupant of a conference room, as its presence shows it.

use jid::FullJid;

use crate::ext::muc::MemberRole;
use crate::ext::presence::{OccupantPresence, SourceInfoField};

/// The features that mark a member as a Jitsi service, honoured only from
/// trusted domains (`jicofo.xmpp.trusted-domains`).
const FEATURE_JIBRI: &str = "http://jitsi.org/protocol/jibri";
const FEATURE_JIGASI: &str = "http://jitsi.org/protocol/jigasi";
const FEATURE_TRANSCRIBER: &str = "http://jitsi.org/protocol/transcriber";

/// One occupant of the room other than the focus. Its endpoint id is its
/// nickname.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The occupant nickname, which is also the endpoint id.
    pub nick: String,
    /// The real JID, when the room shows it.
    pub real_jid: Option<FullJid>,
    /// Role in the room, from affiliation and role.
    pub role: MemberRole,
    /// Join order within the conference (the owner election picks the
    /// earliest).
    pub join_seq: u64,
    /// `stats-id`, passed to the bridge.
    pub stats_id: Option<String>,
    /// `jitsi_participant_region`, for bridge selection.
    pub region: Option<String>,
    /// A Jibri (recorder), from a trusted domain.
    pub is_jibri: bool,
    /// A Jigasi (SIP gateway), from a trusted domain.
    pub is_jigasi: bool,
    /// A transcriber, from a trusted domain.
    pub is_transcriber: bool,
    /// Sends unmuted audio, per its presence.
    pub audio_sending: bool,
    /// Sends unmuted video, per its presence.
    pub video_sending: bool,
    /// Codec preference (`jitsi_participant_codecList`, lower-cased, `vp8`
    /// appended if missing), or the older single `codecType`.
    pub codecs: Option<Vec<String>>,
    /// `jitsi_participant_diarize`.
    pub diarize: bool,
    /// Presence `status` text (`switch_room` when moving to a breakout room).
    pub status: Option<String>,
}

/// What changed in an update of a member's presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemberChange {
    /// The role changed.
    pub role: bool,
    /// Audio or video sending changed.
    pub senders: bool,
}

impl Member {
    /// A member from its first available presence.
    pub fn new(
        nick: String,
        join_seq: u64,
        presence: &OccupantPresence,
        trusted_domains: &[String],
    ) -> Self {
        let mut member = Self {
            nick,
            real_jid: None,
            role: MemberRole::Visitor,
            join_seq,
            stats_id: None,
            region: None,
            is_jibri: false,
            is_jigasi: false,
            is_transcriber: false,
            audio_sending: false,
            video_sending: false,
            codecs: None,
            diarize: false,
            status: None,
        };
        member.role = role_of(presence);
        member.update(presence, trusted_domains);
        member
    }

    /// Applies a later available presence; what changed.
    pub fn update(
        &mut self,
        presence: &OccupantPresence,
        trusted_domains: &[String],
    ) -> MemberChange {
        let mut change = MemberChange::default();
        let role = role_of(presence);
        if role != self.role {
            // A member cannot move between visitor and participant in place
            // (Jicofo ignores it too: visitors are handled elsewhere).
            if (role == MemberRole::Visitor) != (self.role == MemberRole::Visitor) {
                tracing::warn!(
                    endpoint = %self.nick,
                    from = ?self.role,
                    to = ?role,
                    "ignoring a change between visitor and participant"
                );
            } else {
                self.role = role;
                change.role = true;
            }
        }
        if let Some(jid) = presence
            .item
            .as_ref()
            .and_then(|i| i.jid.clone())
            .and_then(|j| j.try_into_full().ok())
        {
            self.real_jid = Some(jid);
        }
        if presence.stats_id.is_some() {
            self.stats_id.clone_from(&presence.stats_id);
        }
        if presence.region.is_some() {
            self.region.clone_from(&presence.region);
        }
        let trusted = self.real_jid.as_ref().is_some_and(|jid| {
            let domain = jid.domain().as_str();
            trusted_domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(domain))
        });
        let features = presence.features.as_deref().unwrap_or_default();
        let has = |f: &str| trusted && features.iter().any(|x| x == f);
        self.is_jibri = has(FEATURE_JIBRI);
        self.is_jigasi = has(FEATURE_JIGASI);
        self.is_transcriber = has(FEATURE_TRANSCRIBER);

        let (audio, video) = match &presence.source_info {
            // Invalid JSON keeps what we knew.
            SourceInfoField::Invalid => (self.audio_sending, self.video_sending),
            _ => (
                presence.audio_sending().unwrap_or(false),
                presence.video_sending().unwrap_or(false),
            ),
        };
        if (audio, video) != (self.audio_sending, self.video_sending) {
            change.senders = true;
        }
        self.audio_sending = audio;
        self.video_sending = video;

        if let Some(list) = &presence.codec_list {
            let mut codecs: Vec<String> = list.iter().map(|c| c.to_ascii_lowercase()).collect();
            if !codecs.iter().any(|c| c == "vp8") {
                codecs.push("vp8".to_owned());
            }
            self.codecs = Some(codecs);
        } else if let Some(codec) = &presence.codec_type {
            self.codecs = Some(vec![codec.to_ascii_lowercase()]);
        }
        if let Some(diarize) = presence.diarize {
            self.diarize = diarize;
        }
        self.status.clone_from(&presence.status);
        change
    }

    /// Whether the member is a Jitsi service (Jibri or Jigasi), which is
    /// never elected owner.
    pub fn is_service(&self) -> bool {
        self.is_jibri || self.is_jigasi
    }
}

fn role_of(presence: &OccupantPresence) -> MemberRole {
    match &presence.item {
        Some(item) => MemberRole::from_muc(item.affiliation, item.role),
        None => MemberRole::Visitor,
    }
}
