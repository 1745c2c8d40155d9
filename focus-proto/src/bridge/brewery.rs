//! [`Brewery`]: the focus in the bridge brewery room, the pool the room
//! shows, and the periodic health check of every bridge in it (Jicofo's
//! `BridgeMucDetector` and `JvbDoctor`; brewery.md section 2, health.md
//! section 1).
//!
//! The focus joins the room like a conference room (join, owner form,
//! `whois=anyone` submitted); a failed join is retried after the
//! connection's reply timeout. Bridge presence is read from the moment the
//! join presence is out (the MUC sends the occupants before the focus's
//! own presence). Losing the connection or the room removes every bridge;
//! without stream resumption the focus rejoins clean and the bridges come
//! back as new ones.
//!
//! Health checks: the first one `interval` after a bridge appears, then one
//! `interval` after the previous one ended. An unanswered check is sent once
//! more after `retry-delay`; a second silence marks the bridge
//! non-operational without moving anybody; an `internal-server-error` or
//! `service-unavailable` answer marks it non-operational and tells the
//! conferences to move their participants. With `use-presence`, the check
//! reads the brewery presence instead of asking.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use jid::{BareJid, FullJid};
use minidom::Element;
use tracing::{debug, info, warn};

use super::{BridgeChange, BridgeEvent, BridgeRegistry};
use crate::config::{Config, ConnectionName};
use crate::ext::brewery::{HealthCheckOutcome, health_check_request};
use crate::ext::error::StanzaError;
use crate::ext::muc;
use crate::ext::presence::{OccupantPresence, PresenceKind};
use crate::focus::{ConnId, Event, Output};
use crate::rng::FocusRng;
use crate::timers::TimerQueue;
use crate::xmpp::iq::{IqOutcome, IqTracker};

/// The focus's place in the brewery room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Membership {
    /// The connection is down.
    Offline,
    /// The join presence is out; waiting for the focus's own presence.
    Joining,
    /// In the room; the owner configuration form was requested.
    FetchingForm,
    /// The form was submitted; waiting for the answer.
    SubmittingForm,
    /// In the room and configured.
    Joined,
    /// The join failed or the room was lost; rejoining later.
    WaitingToRetry,
}

/// What an IQ of the brewery was for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum BreweryIq {
    OwnerForm,
    SubmitForm,
    Health {
        bridge: FullJid,
        /// The retry after a first timeout.
        second_chance: bool,
    },
}

/// A brewery timer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// The join must complete by then.
    JoinDeadline,
    /// Try joining again.
    Rejoin,
    /// Check this bridge.
    Health(FullJid),
    /// Send the second-chance check to this bridge.
    HealthRetry(FullJid),
}

/// What the focus lends the brewery for one call.
pub(crate) struct BreweryCtx<'a> {
    pub(crate) config: &'a Config,
    pub(crate) rng: &'a mut FocusRng,
    pub(crate) out: &'a mut VecDeque<Output>,
}

impl BreweryCtx<'_> {
    fn event(&mut self, event: BridgeEvent) {
        self.out.push_back(Output::Event(Event::Bridge(event)));
    }
}

/// The bridge brewery. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Brewery {
    /// The connection the room is on.
    conn: ConnId,
    /// The focus's occupant JID in the room.
    occupant: FullJid,
    membership: Membership,
    registry: BridgeRegistry,
    iqs: IqTracker<BreweryIq>,
    timers: TimerQueue<Timer>,
}

impl Brewery {
    /// The brewery `jicofo.bridge.brewery-jid` names, or `None` when it is
    /// unset (Jicofo: "No bridge detector configured.") or not a bare JID.
    pub(crate) fn from_config(config: &Config) -> Option<Self> {
        let Some(room) = config.bridge.brewery_jid.as_deref() else {
            warn!(
                "no bridge brewery configured (jicofo.bridge.brewery-jid): conferences get no bridge"
            );
            return None;
        };
        let room = match BareJid::new(room) {
            Ok(r) if r.node().is_some() => r,
            _ => {
                warn!(
                    brewery = room,
                    "jicofo.bridge.brewery-jid is not a room JID; no bridges"
                );
                return None;
            }
        };
        let conn = bridge_connection(config);
        let nick = &config
            .xmpp
            .connection(config.bridge.xmpp_connection_name)
            .username;
        let occupant = match room.with_resource_str(nick) {
            Ok(o) => o,
            Err(e) => {
                warn!(brewery = %room, nick, error = %e, "cannot form the brewery nickname; no bridges");
                return None;
            }
        };
        Some(Self {
            conn,
            occupant,
            membership: Membership::Offline,
            registry: BridgeRegistry::new(room),
            iqs: IqTracker::new(),
            timers: TimerQueue::new(),
        })
    }

    /// The pool.
    pub(crate) fn registry(&self) -> &BridgeRegistry {
        &self.registry
    }

    /// The pool, to record endpoints and allocation failures.
    pub(crate) fn registry_mut(&mut self) -> &mut BridgeRegistry {
        &mut self.registry
    }

    /// When [`Brewery::handle_timeout`] next has work.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        [self.timers.next(), self.iqs.next_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The brewery's connection came up: join.
    pub(crate) fn on_connected(&mut self, now: Instant, ctx: &mut BreweryCtx<'_>, conn: &ConnId) {
        if conn == &self.conn {
            self.join(now, ctx);
        }
    }

    /// A connection went down; on the brewery's, every bridge goes.
    pub(crate) fn on_disconnected(&mut self, ctx: &mut BreweryCtx<'_>, conn: &ConnId) {
        if conn != &self.conn {
            return;
        }
        self.iqs.drain_conn(conn);
        self.timers.cancel_where(|_| true);
        self.lose_room(ctx, "connection lost");
        self.membership = Membership::Offline;
    }

    /// A presence; `false` when it is not from the brewery room.
    pub(crate) fn on_presence(
        &mut self,
        now: Instant,
        ctx: &mut BreweryCtx<'_>,
        conn: &ConnId,
        presence: &Element,
    ) -> bool {
        let Some(from) = presence.attr("from").and_then(|f| FullJid::new(f).ok()) else {
            return false;
        };
        if conn != &self.conn || &from.to_bare() != self.registry.brewery() {
            return false;
        }
        if matches!(
            self.membership,
            Membership::Offline | Membership::WaitingToRetry
        ) {
            debug!(from = %from, "brewery presence while not in the room ignored");
            return true;
        }
        if from == self.occupant {
            self.on_self_presence(now, ctx, presence);
            return true;
        }
        let nick = self.occupant.resource().as_str();
        if let Some(change) = self
            .registry
            .on_presence(now, &ctx.config.bridge, nick, presence)
        {
            self.on_change(now, ctx, change);
        }
        true
    }

    /// Whether `iq` answers a request of the brewery.
    pub(crate) fn expects_reply(&self, conn: &ConnId, iq: &Element) -> bool {
        self.iqs.expects(conn, iq)
    }

    /// An IQ answer; `false` when it answers nothing the brewery asked
    /// (see [`Brewery::expects_reply`]).
    pub(crate) fn on_iq_reply(
        &mut self,
        now: Instant,
        ctx: &mut BreweryCtx<'_>,
        conn: &ConnId,
        iq: Element,
    ) -> bool {
        let Some((context, outcome)) = self.iqs.on_reply(conn, iq) else {
            return false;
        };
        self.on_iq(now, ctx, context, outcome);
        true
    }

    /// Fires what is due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant, ctx: &mut BreweryCtx<'_>) {
        while let Some(context) = self.iqs.pop_expired(now) {
            self.on_iq(now, ctx, context, IqOutcome::Timeout);
        }
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::JoinDeadline => self.join_failed(now, ctx, "no answer in time"),
                Timer::Rejoin => self.join(now, ctx),
                Timer::Health(bridge) => self.check(now, ctx, bridge, false),
                Timer::HealthRetry(bridge) => self.check(now, ctx, bridge, true),
            }
        }
    }

    /// Leaves the room, for a clean shutdown.
    pub(crate) fn shutdown(&mut self, ctx: &mut BreweryCtx<'_>) {
        if !matches!(
            self.membership,
            Membership::Offline | Membership::WaitingToRetry
        ) {
            ctx.out.push_back(Output::Send {
                conn: self.conn.clone(),
                stanza: muc::leave_presence(&self.occupant),
            });
        }
        self.timers.cancel_where(|_| true);
        self.iqs.cancel_where(|_| true);
        self.lose_room(ctx, "the focus is shutting down");
        self.membership = Membership::Offline;
    }

    fn send(&self, ctx: &mut BreweryCtx<'_>, stanza: Element) {
        ctx.out.push_back(Output::Send {
            conn: self.conn.clone(),
            stanza,
        });
    }

    fn reply_timeout(config: &Config) -> Duration {
        config
            .xmpp
            .connection(config.bridge.xmpp_connection_name)
            .reply_timeout
    }

    fn join(&mut self, now: Instant, ctx: &mut BreweryCtx<'_>) {
        info!(brewery = %self.registry.brewery(), conn = %self.conn, "joining the bridge brewery");
        self.membership = Membership::Joining;
        self.send(ctx, muc::join_presence(&self.occupant));
        self.timers
            .set(Timer::JoinDeadline, now + Self::reply_timeout(ctx.config));
    }

    /// Leaves what is left of the room and tries again after the reply
    /// timeout (Jicofo's retry).
    fn join_failed(&mut self, now: Instant, ctx: &mut BreweryCtx<'_>, why: &str) {
        warn!(brewery = %self.registry.brewery(), why, "joining the bridge brewery failed; retrying");
        self.send(ctx, muc::leave_presence(&self.occupant));
        self.iqs
            .cancel_where(|c| matches!(c, BreweryIq::OwnerForm | BreweryIq::SubmitForm));
        self.timers.cancel(&Timer::JoinDeadline);
        self.lose_room(ctx, why);
        self.membership = Membership::WaitingToRetry;
        self.timers
            .set(Timer::Rejoin, now + Self::reply_timeout(ctx.config));
    }

    /// Every bridge is removed; health checks stop.
    fn lose_room(&mut self, ctx: &mut BreweryCtx<'_>, why: &str) {
        let was_in = matches!(
            self.membership,
            Membership::Joining
                | Membership::FetchingForm
                | Membership::SubmittingForm
                | Membership::Joined
        );
        for change in self.registry.remove_all() {
            if let BridgeChange::Removed { jid, lost } = change {
                self.forget(&jid);
                ctx.event(BridgeEvent::Removed { jid, lost });
            }
        }
        if was_in {
            info!(brewery = %self.registry.brewery(), why, "out of the bridge brewery");
            ctx.event(BridgeEvent::BreweryLeft);
        }
    }

    fn on_self_presence(&mut self, now: Instant, ctx: &mut BreweryCtx<'_>, raw: &Element) {
        let presence = match OccupantPresence::parse(raw) {
            Ok(p) => p,
            Err(e) => {
                debug!(error = %e, "unreadable own brewery presence ignored");
                return;
            }
        };
        match presence.kind {
            PresenceKind::Error => {
                let why = StanzaError::from_stanza(raw)
                    .map(|e| format!("error presence: {}", e.condition.as_str()))
                    .unwrap_or_else(|| "error presence".to_owned());
                self.join_failed(now, ctx, &why);
            }
            PresenceKind::Unavailable => {
                // Kicked, or the room was destroyed.
                self.join_failed(now, ctx, "removed from the room");
            }
            PresenceKind::Available if self.membership == Membership::Joining => {
                self.membership = Membership::FetchingForm;
                let room = self.registry.brewery().clone();
                let id = self.request(now, ctx, &room, BreweryIq::OwnerForm);
                self.send(ctx, muc::owner_form_request(&room, &id));
            }
            PresenceKind::Available => {}
        }
    }

    fn request(
        &mut self,
        now: Instant,
        ctx: &mut BreweryCtx<'_>,
        to: &impl std::fmt::Display,
        context: BreweryIq,
    ) -> String {
        self.iqs.register(
            ctx.rng,
            now,
            Self::reply_timeout(ctx.config),
            self.conn.clone(),
            &to.to_string(),
            context,
        )
    }

    fn on_iq(
        &mut self,
        now: Instant,
        ctx: &mut BreweryCtx<'_>,
        context: BreweryIq,
        outcome: IqOutcome,
    ) {
        match (context, outcome) {
            (BreweryIq::OwnerForm, IqOutcome::Result(_)) => {
                self.membership = Membership::SubmittingForm;
                let room = self.registry.brewery().clone();
                let id = self.request(now, ctx, &room, BreweryIq::SubmitForm);
                self.send(ctx, muc::owner_form_submit(&room, &id));
            }
            (BreweryIq::SubmitForm, IqOutcome::Result(_)) => {
                self.membership = Membership::Joined;
                self.timers.cancel(&Timer::JoinDeadline);
                info!(
                    brewery = %self.registry.brewery(),
                    bridges = self.registry.len(),
                    "joined the bridge brewery"
                );
                ctx.event(BridgeEvent::BreweryJoined);
            }
            (BreweryIq::OwnerForm | BreweryIq::SubmitForm, IqOutcome::Error { error: e, .. }) => {
                let why = format!("room configuration refused: {}", e.condition.as_str());
                self.join_failed(now, ctx, &why);
            }
            (BreweryIq::OwnerForm | BreweryIq::SubmitForm, IqOutcome::Timeout) => {
                self.join_failed(now, ctx, "no answer to the room configuration in time");
            }
            (
                BreweryIq::Health {
                    bridge,
                    second_chance,
                },
                outcome,
            ) => {
                self.on_health_answer(now, ctx, bridge, second_chance, outcome);
            }
        }
    }

    fn on_change(&mut self, now: Instant, ctx: &mut BreweryCtx<'_>, change: BridgeChange) {
        match change {
            BridgeChange::Added(jid) => {
                let checks = &ctx.config.bridge.health_checks;
                if checks.enabled && !checks.interval.is_zero() {
                    self.timers
                        .set(Timer::Health(jid.clone()), now + checks.interval);
                }
                ctx.event(BridgeEvent::Added { jid });
            }
            BridgeChange::Updated {
                jid,
                shutting_down_started,
            } => {
                if shutting_down_started {
                    info!(bridge = %jid, "bridge is shutting down; its participants move");
                    ctx.event(BridgeEvent::ShuttingDown { jid });
                }
            }
            BridgeChange::Removed { jid, lost } => {
                self.forget(&jid);
                ctx.event(BridgeEvent::Removed { jid, lost });
            }
        }
    }

    /// Stops checking a bridge that is gone.
    fn forget(&mut self, jid: &FullJid) {
        self.timers.cancel_where(|t| match t {
            Timer::Health(b) | Timer::HealthRetry(b) => b == jid,
            Timer::JoinDeadline | Timer::Rejoin => false,
        });
        self.iqs
            .cancel_where(|c| matches!(c, BreweryIq::Health { bridge, .. } if bridge == jid));
    }

    /// Runs one health check of `bridge` (or its second chance).
    fn check(
        &mut self,
        now: Instant,
        ctx: &mut BreweryCtx<'_>,
        bridge: FullJid,
        second_chance: bool,
    ) {
        let Some(b) = self.registry.get(&bridge) else {
            return;
        };
        let checks = &ctx.config.bridge.health_checks;
        if checks.use_presence {
            let silent = now.saturating_duration_since(b.last_presence) > checks.presence_timeout;
            let verdict = if silent {
                Verdict::TimedOut
            } else if !b.healthy {
                Verdict::Failed
            } else {
                Verdict::Passed
            };
            self.conclude(now, ctx, bridge, verdict);
            return;
        }
        let id = self.request(
            now,
            ctx,
            &bridge,
            BreweryIq::Health {
                bridge: bridge.clone(),
                second_chance,
            },
        );
        debug!(bridge = %bridge, second_chance, "health check sent");
        self.send(ctx, health_check_request(&id, &bridge));
    }

    fn on_health_answer(
        &mut self,
        now: Instant,
        ctx: &mut BreweryCtx<'_>,
        bridge: FullJid,
        second_chance: bool,
        outcome: IqOutcome,
    ) {
        let verdict = match outcome {
            IqOutcome::Timeout => {
                let retry = ctx.config.bridge.health_checks.retry_delay();
                if !second_chance && !retry.is_zero() {
                    warn!(bridge = %bridge, retry_in = ?retry, "health check timed out; one more try");
                    self.timers.set(Timer::HealthRetry(bridge), now + retry);
                    return;
                }
                Verdict::TimedOut
            }
            IqOutcome::Result(_) => Verdict::Passed,
            IqOutcome::Error { error: e, .. } => match HealthCheckOutcome::from_error(e) {
                HealthCheckOutcome::Failed(e) => {
                    warn!(
                        bridge = %bridge,
                        condition = e.condition.as_str(),
                        text = ?e.text,
                        "health check failed; bridge is not operational"
                    );
                    Verdict::Failed
                }
                other => {
                    warn!(bridge = %bridge, answer = ?other, "unexpected health check answer; ignored");
                    Verdict::Unexpected
                }
            },
        };
        self.conclude(now, ctx, bridge, verdict);
    }

    /// Applies a health verdict and schedules the next check.
    fn conclude(&mut self, now: Instant, ctx: &mut BreweryCtx<'_>, jid: FullJid, verdict: Verdict) {
        let Some(bridge) = self.registry.get_mut(&jid) else {
            return;
        };
        match verdict {
            Verdict::Passed => {
                debug!(bridge = %jid, "health check passed");
                bridge.set_operational(now, true);
                ctx.event(BridgeEvent::HealthCheckPassed { jid: jid.clone() });
            }
            Verdict::Failed => {
                bridge.set_operational(now, false);
                ctx.event(BridgeEvent::HealthCheckFailed { jid: jid.clone() });
            }
            Verdict::TimedOut => {
                warn!(bridge = %jid, "health check timed out; bridge is not operational");
                bridge.set_operational(now, false);
                ctx.event(BridgeEvent::HealthCheckTimedOut { jid: jid.clone() });
            }
            Verdict::Unexpected => {}
        }
        let interval = ctx.config.bridge.health_checks.interval;
        if !interval.is_zero() {
            self.timers.set(Timer::Health(jid), now + interval);
        }
    }
}

/// A health check's conclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Passed,
    Failed,
    TimedOut,
    /// An error answer with another condition: no change.
    Unexpected,
}

/// The connection bridges are reached on: the service connection when
/// `jicofo.bridge.xmpp-connection-name` names it and it is a separate
/// login; the client connection otherwise.
pub(crate) fn bridge_connection(config: &Config) -> ConnId {
    match config.bridge.xmpp_connection_name {
        ConnectionName::Service if !config.xmpp.service_is_client() => ConnId::Service,
        _ => ConnId::Client,
    }
}

#[cfg(test)]
pub(crate) mod tests;
