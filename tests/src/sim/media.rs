//! Scenario helpers for conferences with media: participants that send
//! crafted Jingle requests on their session (bad input, out-of-order
//! actions), with the focus's answers recorded
//! ([`Participant::jingle_answers`](super::Participant::jingle_answers)).

use std::time::Duration;

use focus_proto::Event;
use focus_proto::bridge::BridgeEvent;
use focus_proto::conference::media::SessionState;
use jid::BareJid;
use minidom::Element;

use super::{BREWERY_JID, BridgeId, BridgeOptions, JingleAnswer, ParticipantId, Sim};

impl Sim {
    /// Runs until `pred` holds, at most `limit` of virtual time.
    ///
    /// # Panics
    ///
    /// When it does not, saying that `what` did not happen, with the trace.
    pub fn wait_for(&mut self, what: &str, limit: Duration, pred: impl FnMut(&Sim) -> bool) {
        let ok = self.run_until(pred, limit);
        assert!(ok, "{what} did not happen:\n{}", self.trace_text());
    }

    /// Adds bridge `nick` to the brewery (emulator seeded with `seed`) and
    /// runs until the focus has added it to its pool.
    ///
    /// # Panics
    ///
    /// When the focus does not see it within 10 s.
    pub fn add_ready_bridge(&mut self, nick: &str, seed: u64) -> BridgeId {
        let added = |sim: &Sim| {
            sim.events()
                .iter()
                .filter(|(_, e)| matches!(e, Event::Bridge(BridgeEvent::Added { .. })))
                .count()
        };
        let before = added(self);
        let mut options = BridgeOptions::new(BREWERY_JID, nick);
        options.seed = seed;
        let bridge = self.add_bridge(options);
        self.wait_for("the bridge joins", Duration::from_secs(10), |s| {
            added(s) > before
        });
        bridge
    }

    /// Participant `id` sends `jingle` ([`Sim::send_jingle`]); runs until
    /// the focus answers, then a second more, and returns the answer.
    ///
    /// # Panics
    ///
    /// When no answer comes within 5 s.
    pub fn ask_jingle(&mut self, id: ParticipantId, jingle: Element) -> JingleAnswer {
        let iq_id = self.send_jingle(id, jingle);
        self.wait_for("the answer", Duration::from_secs(5), |s| {
            s.participant(id).jingle_answer(&iq_id).is_some()
        });
        let answer = self.participant(id).jingle_answer(&iq_id).cloned();
        self.run_for(Duration::from_secs(1));
        answer.expect("answered")
    }

    /// The focus's Jingle session state for participant `id` in `room`
    /// (`None` when the focus has no media for it there).
    pub fn media_state(&self, room: &BareJid, id: ParticipantId) -> Option<SessionState> {
        let nick = self.participant(id).nick();
        self.focus()
            .conferences()
            .get(room)?
            .media
            .participants
            .get(nick)
            .map(|m| m.state.clone())
    }

    /// Participant `id` sends a Jingle IQ set carrying `jingle` (a
    /// `<jingle xmlns='urn:xmpp:jingle:1'/>` element) to the sender of its
    /// current offer, or to `room/focus` when it has none; returns the IQ's
    /// id. The answer shows in
    /// [`Participant::jingle_answer`](super::Participant::jingle_answer).
    pub fn send_jingle(&mut self, id: ParticipantId, jingle: Element) -> String {
        self.send_jingle_to(id, None, jingle)
    }

    /// [`Sim::send_jingle`] to `to` (any JID: another occupant, the focus's
    /// real JID...) when given.
    pub fn send_jingle_to(
        &mut self,
        id: ParticipantId,
        to: Option<&str>,
        jingle: Element,
    ) -> String {
        let action = jingle.attr("action").unwrap_or("").to_owned();
        self.participant_sends(id, &format!("sends Jingle {action}"), |p| {
            p.send_jingle(to, jingle)
        })
    }
}
