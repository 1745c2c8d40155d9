//! [`IqTracker`]: the IQ requests the focus has sent and is waiting on.
//!
//! Every request gets an id from the core's RNG, a deadline and a context
//! (what to do with the answer). A reply is matched by id, and only counts
//! when it comes from the entity the request went to, on the connection it
//! went out on: a result forged by anyone else is ignored. A request that is
//! not answered by its deadline comes back from [`IqTracker::pop_expired`],
//! so a timeout is handled like any other answer.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jid::Jid;
use minidom::Element;

use crate::ConnId;
use crate::ext::error::StanzaError;
use crate::rng::FocusRng;
use crate::timers::TimerQueue;

/// How an IQ request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum IqOutcome {
    /// A `result`: the whole reply IQ.
    Result(Element),
    /// An `error` (an error without a parsable condition reads as
    /// `undefined-condition`).
    Error {
        /// The stanza error, as read.
        error: StanzaError,
        /// The whole reply IQ, for application errors the stanza error
        /// does not keep (COLIBRI2's reason and endpoint id).
        iq: Element,
    },
    /// No answer by the deadline.
    Timeout,
}

#[derive(Debug, Clone)]
struct Pending<C> {
    conn: ConnId,
    to: String,
    context: C,
}

/// The requests in flight; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct IqTracker<C> {
    pending: BTreeMap<String, Pending<C>>,
    deadlines: TimerQueue<String>,
}

impl<C> Default for IqTracker<C> {
    fn default() -> Self {
        Self {
            pending: BTreeMap::new(),
            deadlines: TimerQueue::new(),
        }
    }
}

impl<C> IqTracker<C> {
    /// No requests in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a request to `to` on `conn`, answered by `now + timeout`;
    /// returns the id to put on the IQ.
    pub fn register(
        &mut self,
        rng: &mut FocusRng,
        now: Instant,
        timeout: Duration,
        conn: ConnId,
        to: &str,
        context: C,
    ) -> String {
        let mut id = rng.token(12);
        while self.pending.contains_key(&id) {
            id = rng.token(12);
        }
        self.deadlines.set(id.clone(), now + timeout);
        self.pending.insert(
            id.clone(),
            Pending {
                conn,
                to: to.to_owned(),
                context,
            },
        );
        id
    }

    /// Whether `iq` (a `result` or `error` received on `conn`) answers one
    /// of our requests: known id, same connection, from whom it was sent.
    pub fn expects(&self, conn: &ConnId, iq: &Element) -> bool {
        iq.attr("id")
            .and_then(|id| self.pending.get(id))
            .is_some_and(|p| &p.conn == conn && same_entity(iq.attr("from"), &p.to))
            && matches!(iq.attr("type"), Some("result" | "error"))
    }

    /// Matches a `result` or `error` IQ received on `conn` to its request:
    /// the request's context and how it ended (the IQ moves into the
    /// outcome), or `None` when the IQ answers nothing we asked (unknown
    /// id, wrong sender or connection; see [`IqTracker::expects`]).
    pub fn on_reply(&mut self, conn: &ConnId, iq: Element) -> Option<(C, IqOutcome)> {
        if !self.expects(conn, &iq) {
            return None;
        }
        let id = iq.attr("id")?.to_owned();
        self.deadlines.cancel(&id);
        let pending = self.pending.remove(&id)?;
        let outcome = if iq.attr("type") == Some("result") {
            IqOutcome::Result(iq)
        } else {
            IqOutcome::Error {
                error: StanzaError::from_stanza(&iq).unwrap_or_else(|| {
                    StanzaError::new(crate::ext::error::Condition::UndefinedCondition)
                }),
                iq,
            }
        };
        Some((pending.context, outcome))
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.next()
    }

    /// One request whose deadline passed at `now`, removed.
    pub fn pop_expired(&mut self, now: Instant) -> Option<C> {
        let id = self.deadlines.pop_due(now)?;
        self.pending.remove(&id).map(|p| p.context)
    }

    /// Forgets every request whose context matches `pred` (their answers
    /// will be ignored).
    pub fn cancel_where(&mut self, mut pred: impl FnMut(&C) -> bool) {
        let doomed: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| pred(&p.context))
            .map(|(id, _)| id.clone())
            .collect();
        for id in doomed {
            self.pending.remove(&id);
            self.deadlines.cancel(&id);
        }
    }

    /// Forgets every request sent on `conn` (it went down; no answer can
    /// come), returning their contexts in id order.
    pub fn drain_conn(&mut self, conn: &ConnId) -> Vec<C> {
        let ids: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| &p.conn == conn)
            .map(|(id, _)| id.clone())
            .collect();
        ids.into_iter()
            .filter_map(|id| {
                self.deadlines.cancel(&id);
                self.pending.remove(&id).map(|p| p.context)
            })
            .collect()
    }

    /// Whether some request in flight has a context matching `pred`.
    pub fn any(&self, mut pred: impl FnMut(&C) -> bool) -> bool {
        self.pending.values().any(|p| pred(&p.context))
    }

    /// How many requests are in flight.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Whether a reply's `from` names the entity the request was sent to.
fn same_entity(from: Option<&str>, to: &str) -> bool {
    let Some(from) = from else {
        return false;
    };
    match (Jid::new(from), Jid::new(to)) {
        (Ok(a), Ok(b)) => a == b,
        _ => from == to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::error::{Condition, IqKind, iq_request};
    use crate::xml::ncname;
    use crate::xmpp::ns;

    fn reply(kind: &str, id: &str, from: &str) -> Element {
        Element::builder("iq", ns::CLIENT)
            .attr(ncname("type"), kind)
            .attr(ncname("id"), id)
            .attr(ncname("from"), from)
            .build()
    }

    #[test]
    fn matches_by_id_sender_and_connection() {
        let now = Instant::now();
        let mut rng = FocusRng::from_seed([3; 32]);
        let mut t = IqTracker::new();
        let id = t.register(
            &mut rng,
            now,
            Duration::from_secs(5),
            ConnId::Client,
            "room@muc.example.com",
            "ctx",
        );
        let _ = iq_request(
            IqKind::Get,
            &id,
            "room@muc.example.com",
            Element::bare("x", "y"),
        );
        assert!(
            t.on_reply(&ConnId::Client, reply("result", &id, "evil@example.com"))
                .is_none()
        );
        assert!(
            t.on_reply(
                &ConnId::Service,
                reply("result", &id, "room@muc.example.com")
            )
            .is_none()
        );
        assert!(
            t.on_reply(
                &ConnId::Client,
                reply("result", "other", "room@muc.example.com")
            )
            .is_none()
        );
        let (ctx, outcome) = t
            .on_reply(
                &ConnId::Client,
                reply("result", &id, "Room@MUC.example.com"),
            )
            .expect("the real reply matches");
        assert_eq!(ctx, "ctx");
        assert!(matches!(outcome, IqOutcome::Result(_)));
        assert!(t.is_empty());
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn errors_and_timeouts() {
        let now = Instant::now();
        let mut rng = FocusRng::from_seed([4; 32]);
        let mut t = IqTracker::new();
        let a = t.register(
            &mut rng,
            now,
            Duration::from_secs(1),
            ConnId::Client,
            "a.example",
            1,
        );
        let _b = t.register(
            &mut rng,
            now,
            Duration::from_secs(2),
            ConnId::Client,
            "b.example",
            2,
        );
        let (ctx, outcome) = t
            .on_reply(&ConnId::Client, reply("error", &a, "a.example"))
            .expect("matched");
        assert_eq!(ctx, 1);
        assert!(
            matches!(outcome, IqOutcome::Error { error: e, .. } if e.condition == Condition::UndefinedCondition)
        );
        assert_eq!(t.pop_expired(now + Duration::from_secs(1)), None);
        assert_eq!(t.pop_expired(now + Duration::from_secs(2)), Some(2));
        assert!(t.is_empty());
    }

    #[test]
    fn drain_and_cancel() {
        let now = Instant::now();
        let mut rng = FocusRng::from_seed([5; 32]);
        let mut t = IqTracker::new();
        t.register(
            &mut rng,
            now,
            Duration::from_secs(1),
            ConnId::Client,
            "a",
            1,
        );
        t.register(
            &mut rng,
            now,
            Duration::from_secs(1),
            ConnId::Service,
            "b",
            2,
        );
        t.register(
            &mut rng,
            now,
            Duration::from_secs(1),
            ConnId::Client,
            "c",
            3,
        );
        t.cancel_where(|c| *c == 3);
        assert_eq!(t.drain_conn(&ConnId::Client), vec![1]);
        assert_eq!(t.len(), 1);
    }
}
