//! Relays between the bridges of one conference (Octo, SingleMesh:
//! every pair of bridges is connected; colibri2.md section 3.3).
//!
//! When a conference starts using a bridge while it has sessions on
//! others, each existing session creates a relay towards the new bridge
//! (it initiates) listing the new bridge's endpoints, and the new bridge
//! creates one towards each of them listing theirs. Each relay's answer
//! carries that bridge's relay transport, which is forwarded to the
//! matching relay on the other bridge (DTLS `setup` rewritten for the
//! receiving side). Endpoints added, updated (sources) or expired on one
//! bridge are mirrored into the relays of the others; a bridge that leaves
//! the conference has its relays expired on the others.
//!
//! A relay is named after the remote bridge's `relay_id`, frozen when the
//! session is created. A bridge without one never shares a conference
//! (selection refuses a second bridge then).

use std::time::Instant;

use jid::{BareJid, FullJid};
use tracing::{info, warn};

use super::Conferences;
use super::manager::{Ctx, MucIq};
use super::media::MediaIq;
use crate::ext::colibri2::{
    ConferenceModify, MeetingId, ParticipantInfo, Relay, RelaySide, relay_create_outcome,
};
use crate::source::EndpointSourceSet;
use crate::xmpp::iq::IqOutcome;

/// The mesh every SingleMesh relay belongs to.
const MESH: &str = "0";

impl Conferences {
    /// What the bridges know of `nick`: id, stats id, current sources.
    pub(crate) fn participant_info(&self, room: &BareJid, nick: &str) -> Option<ParticipantInfo> {
        let conf = self.conferences.get(room)?;
        let member = conf.members.get(nick);
        Some(ParticipantInfo {
            stats_id: member.and_then(|m| m.stats_id.clone()),
            sources: conf
                .media
                .sources
                .get(nick)
                .cloned()
                .unwrap_or_else(EndpointSourceSet::new),
            diarize: member.is_some_and(|m| m.diarize),
            ..empty_info(nick)
        })
    }

    fn relay_side(ctx: &Ctx<'_>, initiator: bool) -> RelaySide {
        RelaySide {
            initiator,
            sctp_datachannels: ctx.config.octo.sctp_datachannels,
        }
    }

    /// The conference just created a session on `new`: relays between it
    /// and every other session.
    pub(crate) fn connect_bridge(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        new: &FullJid,
    ) {
        let Some(conf) = self.conferences.get(room) else {
            return;
        };
        let Some(meeting_id) = conf.colibri_meeting_id() else {
            return;
        };
        let Some(new_relay_id) = conf.media.bridges.get(new).and_then(|s| s.relay_id.clone())
        else {
            return;
        };
        let generation = conf.generation;
        let others: Vec<(FullJid, String, Vec<String>)> = conf
            .media
            .bridges
            .iter()
            .filter(|(jid, _)| *jid != new)
            .filter_map(|(jid, s)| {
                Some((
                    jid.clone(),
                    s.relay_id.clone()?,
                    s.endpoints.iter().cloned().collect(),
                ))
            })
            .collect();
        if others.is_empty() {
            return;
        }
        let new_endpoints: Vec<String> = conf
            .media
            .bridges
            .get(new)
            .map(|s| s.endpoints.iter().cloned().collect())
            .unwrap_or_default();
        let media = Relay::media_from_config(&ctx.config.codec);
        for (other, other_relay_id, other_endpoints) in others {
            info!(conference = %room, from = %other, to = %new, "creating relays");
            // The existing session initiates, towards the new bridge.
            let infos: Vec<ParticipantInfo> = new_endpoints
                .iter()
                .filter_map(|n| self.participant_info(room, n))
                .collect();
            let relay = Relay::create(
                new_relay_id.clone(),
                Some(MESH.to_owned()),
                Self::relay_side(ctx, true),
                media.clone(),
                &infos,
            );
            self.relay_request(
                now,
                ctx,
                room,
                generation,
                &other,
                Some(new),
                ConferenceModify::relay(meeting_id.clone(), relay),
            );
            let infos: Vec<ParticipantInfo> = other_endpoints
                .iter()
                .filter_map(|n| self.participant_info(room, n))
                .collect();
            let relay = Relay::create(
                other_relay_id,
                Some(MESH.to_owned()),
                Self::relay_side(ctx, false),
                media.clone(),
                &infos,
            );
            self.relay_request(
                now,
                ctx,
                room,
                generation,
                new,
                Some(&other),
                ConferenceModify::relay(meeting_id.clone(), relay),
            );
        }
    }

    /// Sends a relay request to `bridge`; `create_towards` names the remote
    /// bridge when it creates a relay (its answer's transport goes there).
    #[allow(clippy::too_many_arguments)]
    fn relay_request(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        generation: u64,
        bridge: &FullJid,
        create_towards: Option<&FullJid>,
        request: ConferenceModify,
    ) {
        let context = match create_towards {
            Some(remote) => MucIq::Media(MediaIq::RelayCreate {
                room: room.clone(),
                generation,
                bridge: bridge.clone(),
                remote: remote.clone(),
            }),
            None => self.bridge_context(room, generation, bridge),
        };
        self.send_to_bridge(now, ctx, bridge, context, &request);
    }

    /// The answer to a relay creation on `bridge` towards `remote`: its
    /// transport goes to `remote`'s relay named after `bridge`.
    pub(crate) fn on_relay_created(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        bridge: &FullJid,
        remote: &FullJid,
        outcome: IqOutcome,
    ) {
        let answer = super::media::colibri_answer(outcome);
        let Some(conf) = self.conferences.get(room) else {
            return;
        };
        // Either session may have gone meanwhile.
        let (Some(from), Some(to)) = (
            conf.media.bridges.get(bridge),
            conf.media.bridges.get(remote),
        ) else {
            return;
        };
        let transport = match relay_create_outcome(answer.as_ref()) {
            Ok(t) => t,
            Err(failure) => {
                warn!(conference = %room, bridge = %bridge, ?failure, "relay creation failed");
                return;
            }
        };
        let (Some(relay_id), Some(meeting_id)) = (from.relay_id.clone(), conf.colibri_meeting_id())
        else {
            return;
        };
        let _ = to;
        // `remote`'s relay towards `bridge` is the non-initiating side when
        // `bridge` initiated, and the other way round.
        let remote_initiates = !self.initiated(room, bridge, remote);
        let side = Self::relay_side(ctx, remote_initiates);
        let Some(relay) = Relay::remote_transport(relay_id, side, transport) else {
            warn!(conference = %room, bridge = %bridge, "relay transport without an actpass fingerprint");
            return;
        };
        let generation = conf.generation;
        self.relay_request(
            now,
            ctx,
            room,
            generation,
            remote,
            None,
            ConferenceModify::relay(meeting_id, relay),
        );
    }

    /// Whether the session on `a` initiated its relay with `b` (the older
    /// session initiates).
    fn initiated(&self, room: &BareJid, a: &FullJid, b: &FullJid) -> bool {
        self.conferences
            .get(room)
            .and_then(|c| {
                Some((
                    c.media.bridges.get(a)?.created_seq,
                    c.media.bridges.get(b)?.created_seq,
                ))
            })
            .is_some_and(|(sa, sb)| sa < sb)
    }

    /// `nick` (on `bridge`) was added or its sources changed: the other
    /// bridges' relays towards `bridge` learn it.
    pub(crate) fn mirror_endpoint(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        bridge: &FullJid,
        nick: &str,
        create: bool,
    ) {
        let Some(info) = self.participant_info(room, nick) else {
            return;
        };
        for (other, relay_id, meeting_id, generation) in self.relay_peers(room, bridge) {
            let relay = Relay::update_endpoint(relay_id, &info, create);
            self.relay_request(
                now,
                ctx,
                room,
                generation,
                &other,
                None,
                ConferenceModify::relay(meeting_id, relay),
            );
        }
    }

    /// `nick` left `bridge`: the other bridges' relays drop it.
    pub(crate) fn mirror_expire(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        bridge: &FullJid,
        nick: &str,
    ) {
        let info = self
            .participant_info(room, nick)
            .unwrap_or_else(|| empty_info(nick));
        for (other, relay_id, meeting_id, generation) in self.relay_peers(room, bridge) {
            if let Some(relay) = Relay::expire_endpoints(relay_id, [&info]) {
                self.relay_request(
                    now,
                    ctx,
                    room,
                    generation,
                    &other,
                    None,
                    ConferenceModify::relay(meeting_id, relay),
                );
            }
        }
    }

    /// `bridge` left the conference (`relay_id` was its relay id): the
    /// others expire their relay towards it.
    pub(crate) fn disconnect_bridge(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        room: &BareJid,
        relay_id: Option<&str>,
    ) {
        let Some(relay_id) = relay_id else {
            return;
        };
        let Some(conf) = self.conferences.get(room) else {
            return;
        };
        let Some(meeting_id) = conf.colibri_meeting_id() else {
            return;
        };
        let generation = conf.generation;
        let others: Vec<FullJid> = conf.media.bridges.keys().cloned().collect();
        for other in others {
            let request = ConferenceModify::relay(meeting_id.clone(), Relay::expire(relay_id));
            self.relay_request(now, ctx, room, generation, &other, None, request);
        }
    }

    /// The other sessions of `room` with their relay towards `bridge`:
    /// (other bridge, relay id = `bridge`'s relay id, meeting id,
    /// generation).
    fn relay_peers(
        &self,
        room: &BareJid,
        bridge: &FullJid,
    ) -> Vec<(FullJid, String, MeetingId, u64)> {
        let Some(conf) = self.conferences.get(room) else {
            return Vec::new();
        };
        let (Some(relay_id), Some(meeting_id)) = (
            conf.media
                .bridges
                .get(bridge)
                .and_then(|s| s.relay_id.clone()),
            conf.colibri_meeting_id(),
        ) else {
            return Vec::new();
        };
        conf.media
            .bridges
            .keys()
            .filter(|b| *b != bridge)
            .map(|b| {
                (
                    b.clone(),
                    relay_id.clone(),
                    meeting_id.clone(),
                    conf.generation,
                )
            })
            .collect()
    }
}

/// An endpoint with only its id: no sources, no media, nothing special.
pub(super) fn empty_info(nick: &str) -> ParticipantInfo {
    ParticipantInfo {
        id: nick.to_owned(),
        stats_id: None,
        sources: EndpointSourceSet::new(),
        supports_private_addresses: false,
        use_ssrc_rewriting: false,
        use_rtp_mid_demux: false,
        diarize: false,
        visitor: false,
        audio_muted: false,
        video_muted: false,
        use_sctp: false,
        media: Vec::new(),
    }
}
