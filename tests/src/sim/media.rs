//! Scenario helpers for conferences with media: participants that send
//! crafted Jingle requests on their session (bad input, out-of-order
//! actions), with the focus's answers recorded
//! ([`Participant::jingle_answers`](super::Participant::jingle_answers)).

use minidom::Element;

use super::{ParticipantId, Sim};

impl Sim {
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
        let at = self.clock.elapsed();
        let action = jingle.attr("action").unwrap_or("").to_owned();
        self.trace.note(
            at,
            format!("harness: participant #{} sends Jingle {action}", id.0),
        );
        let iq_id = self.participants[id.0].send_jingle(to, jingle);
        self.drain_participant(id.0);
        iq_id
    }
}
