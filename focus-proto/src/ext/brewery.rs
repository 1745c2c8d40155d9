//! Bridge breweries: the stats a Jitsi Videobridge (or Jigasi) publishes in
//! its brewery MUC presence ([`BridgeStats`], brewery.md section 1) and the
//! bridge health check IQ (health.md section 1.2).
//!
//! Hostile input is bounded: at most [`MAX_STATS`] `<stat/>` children are
//! read, text values longer than [`MAX_STAT_BYTES`] are read as absent,
//! non-finite or negative doubles and negative or non-numeric counts are read
//! as absent, and unknown stats are kept only up to [`MAX_STATS`].

use jid::FullJid;
use minidom::Element;

use super::error::{Condition, ErrorType, IqKind, StanzaError, iq_error, iq_request, iq_result};
use super::{ParseError, java_bool};
use crate::xml::ncname;
use crate::xmpp::ns;

/// COLIBRI stats (`<stats/>`, `<stat/>`).
pub const NS_COLIBRI: &str = "http://jitsi.org/protocol/colibri";
/// The bridge health check (`<healthcheck/>`).
pub const NS_HEALTHCHECK: &str = "http://jitsi.org/protocol/healthcheck";
/// `<stat/>` children read from one `<stats/>`; the rest are ignored.
pub const MAX_STATS: usize = 256;
/// A stat name or value longer than this (bytes) is ignored (read as absent).
pub const MAX_STAT_BYTES: usize = 1024;

/// The stat names the focus (or the bridge emulator) knows.
pub mod names {
    /// Load, a double (0..1, may exceed 1).
    pub const STRESS_LEVEL: &str = "stress_level";
    /// Stress added per newly allocated endpoint, a double.
    pub const AVERAGE_PARTICIPANT_STRESS: &str = "average_participant_stress";
    /// Region, a string.
    pub const REGION: &str = "region";
    /// Octo relay id, a string.
    pub const RELAY_ID: &str = "relay_id";
    /// Version, a string.
    pub const VERSION: &str = "version";
    /// Release, a string (full version is `VERSION-RELEASE`).
    pub const RELEASE: &str = "release";
    /// Graceful shutdown, a boolean.
    pub const GRACEFUL_SHUTDOWN: &str = "graceful_shutdown";
    /// Final shutdown phase, a boolean.
    pub const SHUTTING_DOWN: &str = "shutting_down";
    /// Drain mode, a boolean.
    pub const DRAIN: &str = "drain";
    /// The bridge's own health, a boolean.
    pub const HEALTHY: &str = "healthy";
    /// Participants, a count.
    pub const PARTICIPANTS: &str = "participants";
    /// Endpoints, a count.
    pub const ENDPOINTS: &str = "endpoints";
    /// Conferences, a count.
    pub const CONFERENCES: &str = "conferences";
    /// Visitors, a count.
    pub const VISITORS: &str = "visitors";
    /// Publication time (`yyyy-MM-dd HH:mm:ss.SSS`, UTC), a string.
    pub const CURRENT_TIMESTAMP: &str = "current_timestamp";
    /// Jigasi: SIP gateway role, a boolean.
    pub const SUPPORTS_SIP: &str = "supports_sip";
    /// Jigasi: transcriber role, a boolean.
    pub const SUPPORTS_TRANSCRIPTION: &str = "supports_transcription";

    /// Every name with a typed field in [`BridgeStats`](super::BridgeStats).
    pub const KNOWN: [&str; 17] = [
        STRESS_LEVEL,
        AVERAGE_PARTICIPANT_STRESS,
        REGION,
        RELAY_ID,
        VERSION,
        RELEASE,
        GRACEFUL_SHUTDOWN,
        SHUTTING_DOWN,
        DRAIN,
        HEALTHY,
        PARTICIPANTS,
        ENDPOINTS,
        CONFERENCES,
        VISITORS,
        CURRENT_TIMESTAMP,
        SUPPORTS_SIP,
        SUPPORTS_TRANSCRIPTION,
    ];
}

/// What one bridge's (or Jigasi's) brewery presence says: the stats of its
/// `<stats xmlns='http://jitsi.org/protocol/colibri'/>`. A field is `None`
/// when the stat is absent or does not parse; keeping the previous value
/// (and Jicofo's initial values, e.g. `drain` initially true) is the
/// caller's business.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BridgeStats {
    /// `stress_level`: finite and not negative.
    pub stress_level: Option<f64>,
    /// `average_participant_stress`: finite and not negative.
    pub average_participant_stress: Option<f64>,
    /// `region`.
    pub region: Option<String>,
    /// `relay_id`: the Octo relay id.
    pub relay_id: Option<String>,
    /// `version`.
    pub version: Option<String>,
    /// `release`.
    pub release: Option<String>,
    /// `graceful_shutdown` (Java `parseBoolean`: `true` in any case).
    pub graceful_shutdown: Option<bool>,
    /// `shutting_down` (as `graceful_shutdown`).
    pub shutting_down: Option<bool>,
    /// `drain` (as `graceful_shutdown`).
    pub drain: Option<bool>,
    /// `healthy` (as `graceful_shutdown`).
    pub healthy: Option<bool>,
    /// `participants`.
    pub participants: Option<u32>,
    /// `endpoints`.
    pub endpoints: Option<u32>,
    /// `conferences`.
    pub conferences: Option<u32>,
    /// `visitors`.
    pub visitors: Option<u32>,
    /// `current_timestamp`, as sent.
    pub current_timestamp: Option<String>,
    /// `supports_sip` (Jigasi).
    pub supports_sip: Option<bool>,
    /// `supports_transcription` (Jigasi).
    pub supports_transcription: Option<bool>,
    /// The other stats as `(name, value)`, in order, first of each name,
    /// names and values at most [`MAX_STAT_BYTES`].
    pub other: Vec<(String, String)>,
    /// Typed stats that were present but unusable (read as absent), by
    /// name: the caller may distrust the whole presence. Never written.
    pub rejected: Vec<&'static str>,
}

impl BridgeStats {
    /// Reads the `<stats/>` of a brewery presence. Fails if `presence` is
    /// not a presence or has no `<stats/>` (such a presence is ignored: the
    /// instance keeps its previous status). `type`, `from` and other
    /// extensions are not looked at.
    pub fn parse(presence: &Element) -> Result<Self, ParseError> {
        if presence.name() != "presence" {
            return Err(ParseError::WrongElement {
                expected: "presence",
            });
        }
        let stats = presence
            .get_child("stats", NS_COLIBRI)
            .ok_or(ParseError::MissingChild("stats"))?;
        Ok(Self::from_stats(stats))
    }

    /// Reads a `<stats/>` element itself (its name is not checked): the
    /// first [`MAX_STATS`] `<stat/>` children; for a name given twice the
    /// first wins.
    pub fn from_stats(stats: &Element) -> Self {
        let mut out = Self::default();
        let mut seen: Vec<&str> = Vec::new();
        for stat in stats
            .children()
            .filter(|c| c.is("stat", NS_COLIBRI))
            .take(MAX_STATS)
        {
            let (Some(name), Some(value)) = (stat.attr("name"), stat.attr("value")) else {
                continue;
            };
            if name.len() > MAX_STAT_BYTES || seen.contains(&name) {
                continue;
            }
            seen.push(name);
            out.set(name, value);
        }
        out
    }

    /// Records one stat (the first of its name).
    fn set(&mut self, name: &str, value: &str) {
        self.set_typed(name, value);
        if let Some(known) = names::KNOWN.iter().find(|k| **k == name)
            && self.is_absent(known)
        {
            self.rejected.push(known);
        }
    }

    /// Whether the typed stat `name` is absent.
    fn is_absent(&self, name: &str) -> bool {
        match name {
            names::STRESS_LEVEL => self.stress_level.is_none(),
            names::AVERAGE_PARTICIPANT_STRESS => self.average_participant_stress.is_none(),
            names::REGION => self.region.is_none(),
            names::RELAY_ID => self.relay_id.is_none(),
            names::VERSION => self.version.is_none(),
            names::RELEASE => self.release.is_none(),
            names::PARTICIPANTS => self.participants.is_none(),
            names::ENDPOINTS => self.endpoints.is_none(),
            names::CONFERENCES => self.conferences.is_none(),
            names::VISITORS => self.visitors.is_none(),
            names::CURRENT_TIMESTAMP => self.current_timestamp.is_none(),
            // Booleans always read as something.
            _ => false,
        }
    }

    fn set_typed(&mut self, name: &str, value: &str) {
        match name {
            names::STRESS_LEVEL => self.stress_level = parse_double(value),
            names::AVERAGE_PARTICIPANT_STRESS => {
                self.average_participant_stress = parse_double(value)
            }
            names::REGION => self.region = bounded(value),
            names::RELAY_ID => self.relay_id = bounded(value),
            names::VERSION => self.version = bounded(value),
            names::RELEASE => self.release = bounded(value),
            names::GRACEFUL_SHUTDOWN => self.graceful_shutdown = Some(java_bool(value)),
            names::SHUTTING_DOWN => self.shutting_down = Some(java_bool(value)),
            names::DRAIN => self.drain = Some(java_bool(value)),
            names::HEALTHY => self.healthy = Some(java_bool(value)),
            names::PARTICIPANTS => self.participants = parse_count(value),
            names::ENDPOINTS => self.endpoints = parse_count(value),
            names::CONFERENCES => self.conferences = parse_count(value),
            names::VISITORS => self.visitors = parse_count(value),
            names::CURRENT_TIMESTAMP => self.current_timestamp = bounded(value),
            names::SUPPORTS_SIP => self.supports_sip = Some(java_bool(value)),
            names::SUPPORTS_TRANSCRIPTION => self.supports_transcription = Some(java_bool(value)),
            _ => {
                if value.len() <= MAX_STAT_BYTES && self.other.len() < MAX_STATS {
                    self.other.push((name.to_owned(), value.to_owned()));
                }
            }
        }
    }

    /// The full version as Jicofo compares it: `VERSION-RELEASE`, or
    /// `VERSION` without a release; `None` without a version.
    pub fn full_version(&self) -> Option<String> {
        let version = self.version.as_deref()?;
        Some(match &self.release {
            Some(release) => format!("{version}-{release}"),
            None => version.to_owned(),
        })
    }

    /// The `<stats/>` element as a bridge writes it (for the bridge
    /// emulator): the typed stats in [`names::KNOWN`] order, then
    /// [`other`](Self::other) (entries named like a typed stat are skipped).
    pub fn to_element(&self) -> Element {
        let text = |v: &Option<String>| v.clone();
        let num = |v: Option<u32>| v.map(|n| n.to_string());
        let double = |v: Option<f64>| v.map(|d| d.to_string());
        let flag = |v: Option<bool>| v.map(|b| if b { "true" } else { "false" }.to_owned());
        let typed: [(&str, Option<String>); 17] = [
            (names::STRESS_LEVEL, double(self.stress_level)),
            (
                names::AVERAGE_PARTICIPANT_STRESS,
                double(self.average_participant_stress),
            ),
            (names::REGION, text(&self.region)),
            (names::RELAY_ID, text(&self.relay_id)),
            (names::VERSION, text(&self.version)),
            (names::RELEASE, text(&self.release)),
            (names::GRACEFUL_SHUTDOWN, flag(self.graceful_shutdown)),
            (names::SHUTTING_DOWN, flag(self.shutting_down)),
            (names::DRAIN, flag(self.drain)),
            (names::HEALTHY, flag(self.healthy)),
            (names::PARTICIPANTS, num(self.participants)),
            (names::ENDPOINTS, num(self.endpoints)),
            (names::CONFERENCES, num(self.conferences)),
            (names::VISITORS, num(self.visitors)),
            (names::CURRENT_TIMESTAMP, text(&self.current_timestamp)),
            (names::SUPPORTS_SIP, flag(self.supports_sip)),
            (
                names::SUPPORTS_TRANSCRIPTION,
                flag(self.supports_transcription),
            ),
        ];
        let typed = typed
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_owned(), value?)));
        let other = self
            .other
            .iter()
            .filter(|(name, _)| !names::KNOWN.contains(&name.as_str()))
            .cloned();
        Element::builder("stats", NS_COLIBRI)
            .append_all(typed.chain(other).map(|(name, value)| {
                Element::builder("stat", NS_COLIBRI)
                    .attr(ncname("name"), name)
                    .attr(ncname("value"), value)
            }))
            .build()
    }
}

/// A double as Java's `Double.parseDouble` reads it (surrounding whitespace
/// allowed), kept only if finite and not negative; `-0` reads as `0`.
fn parse_double(value: &str) -> Option<f64> {
    if value.len() > MAX_STAT_BYTES {
        return None;
    }
    let d: f64 = value.trim().parse().ok()?;
    (d.is_finite() && d >= 0.0).then_some(d + 0.0)
}

/// A count: a decimal integer (surrounding whitespace allowed) from 0 to
/// `u32::MAX`.
fn parse_count(value: &str) -> Option<u32> {
    if value.len() > MAX_STAT_BYTES {
        return None;
    }
    value.trim().parse().ok()
}

/// `value` if not empty and at most [`MAX_STAT_BYTES`].
fn bounded(value: &str) -> Option<String> {
    (!value.is_empty() && value.len() <= MAX_STAT_BYTES).then(|| value.to_owned())
}

/// The presence a bridge sends to its brewery room (for the bridge
/// emulator): addressed `to` its occupant JID, with the stats inside, as
/// JVB's `MucPublisher` republishes it. Join the room first with
/// [`join_presence`](super::muc::join_presence).
pub fn bridge_presence(occupant: &FullJid, stats: &BridgeStats) -> Element {
    Element::builder("presence", ns::CLIENT)
        .attr(ncname("to"), occupant.as_str())
        .append(stats.to_element())
        .build()
}

/// The health check request to a bridge (its brewery occupant JID):
/// `<iq type='get'><healthcheck/></iq>`.
pub fn health_check_request(id: &str, bridge: &FullJid) -> Element {
    iq_request(
        IqKind::Get,
        id,
        bridge.as_str(),
        Element::builder("healthcheck", NS_HEALTHCHECK).build(),
    )
}

/// Whether `iq` is a health check request (a `get` with `<healthcheck/>`),
/// for the bridge emulator.
pub fn is_health_check_request(iq: &Element) -> bool {
    iq.name() == "iq"
        && iq.attr("type") == Some("get")
        && iq.has_child("healthcheck", NS_HEALTHCHECK)
}

/// The bridge's answer to a health check `request` (for the bridge
/// emulator): `result` when `failure` is `None`, else an
/// `internal-server-error` of type `wait` with `failure` as its text, as
/// JVB answers when its own check failed.
pub fn health_check_answer(request: &Element, failure: Option<&str>) -> Element {
    match failure {
        None => iq_result(request, None),
        Some(text) => {
            let error = StanzaError::new(Condition::InternalServerError)
                .with_kind(ErrorType::Wait)
                .with_text(text);
            iq_error(request, &error, None)
        }
    }
}

/// What the answer to a health check says (health.md section 1.3; a
/// timeout is the caller's business).
#[derive(Debug, Clone, PartialEq)]
pub enum HealthCheckOutcome {
    /// `result`: the bridge is healthy.
    Passed,
    /// An error with `internal-server-error` or `service-unavailable`: the
    /// bridge failed; its participants are moved.
    Failed(StanzaError),
    /// An error with another condition: logged, no state change.
    Unexpected(StanzaError),
}

impl HealthCheckOutcome {
    /// Reads the answer to a health check: a `result` passes (its payload is
    /// not looked at); an `error` is classified by its condition (an error
    /// without `<error/>` reads as `undefined-condition`). Fails if `iq` is
    /// not an IQ answer.
    pub fn parse(iq: &Element) -> Result<Self, ParseError> {
        if iq.name() != "iq" {
            return Err(ParseError::WrongElement { expected: "iq" });
        }
        match iq.attr("type") {
            Some("result") => Ok(HealthCheckOutcome::Passed),
            Some("error") => {
                let error = StanzaError::from_stanza(iq)
                    .unwrap_or_else(|| StanzaError::new(Condition::UndefinedCondition));
                Ok(Self::from_error(error))
            }
            Some(other) => Err(ParseError::invalid_attribute("type", other)),
            None => Err(ParseError::MissingAttribute("type")),
        }
    }

    /// Classifies an error answer by its condition.
    pub fn from_error(error: StanzaError) -> Self {
        match error.condition {
            Condition::InternalServerError | Condition::ServiceUnavailable => Self::Failed(error),
            _ => Self::Unexpected(error),
        }
    }

    /// The bridge must be marked non-operational and its participants moved.
    pub fn is_failure(&self) -> bool {
        matches!(self, HealthCheckOutcome::Failed(_))
    }
}

#[cfg(test)]
mod tests;
