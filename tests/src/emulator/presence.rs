//! The brewery presence: the `<stats xmlns='http://jitsi.org/protocol/colibri'>`
//! a bridge republishes in its MUC presence (brewery.md §1.2–1.4).

use std::time::Duration;

use minidom::Element;

use super::xml::{Attr, NS_CLIENT, NS_COLIBRI, NS_MUC, elem};

/// What goes into one stats presence.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsSnapshot {
    /// `stress_level`.
    pub stress_level: f64,
    /// `average_participant_stress`.
    pub average_participant_stress: f64,
    /// `region`, only when configured.
    pub region: Option<String>,
    /// `relay_id`, only when configured.
    pub relay_id: Option<String>,
    /// `version`.
    pub version: String,
    /// `release`, only when configured.
    pub release: Option<String>,
    /// `graceful_shutdown`.
    pub graceful_shutdown: bool,
    /// `shutting_down`.
    pub shutting_down: bool,
    /// `drain`.
    pub drain: bool,
    /// `healthy`.
    pub healthy: bool,
    /// `conferences`.
    pub conferences: usize,
    /// `participants`: local endpoints that are not visitors.
    pub participants: usize,
    /// `visitors`: local visitor endpoints.
    pub visitors: usize,
    /// `local_endpoints`: every local endpoint.
    pub local_endpoints: usize,
    /// `octo_endpoints`: remote endpoints behind relays.
    pub octo_endpoints: usize,
    /// `endpoints`: local and remote.
    pub endpoints: usize,
    /// `octo_conferences`: conferences with at least one relay.
    pub octo_conferences: usize,
    /// `total_relays`: relays now.
    pub relays: usize,
    /// `largest_conference`: local endpoints of the largest conference.
    pub largest_conference: usize,
    /// `total_conferences_created`.
    pub total_conferences_created: u64,
    /// `total_conferences_completed`.
    pub total_conferences_completed: u64,
    /// `total_participants`: endpoints ever created.
    pub total_participants: u64,
    /// Time since the emulator was created (for `current_timestamp`).
    pub uptime: Duration,
}

/// Milliseconds since the Unix epoch of 2026-01-01T00:00:00Z: the
/// emulator's clock starts there, so timestamps are deterministic.
const EPOCH_MS: u64 = 1_767_225_600_000;

/// `yyyy-MM-dd HH:mm:ss.SSS` (UTC) of `ms` since the Unix epoch.
pub(crate) fn format_timestamp(ms: u64) -> String {
    let days = ms / 86_400_000;
    let in_day = ms % 86_400_000;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// algorithm, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A double as the bridge writes it: short, no float noise
/// (`0.3`, not `0.30000000000000004`).
pub(crate) fn format_double(v: f64) -> String {
    if !v.is_finite() {
        return "0.0".to_owned();
    }
    let text = format!("{v:.6}");
    let text = text.trim_end_matches('0');
    if text.ends_with('.') {
        format!("{text}0")
    } else {
        text.to_owned()
    }
}

/// The `<stats/>` element of `s`.
pub(crate) fn stats_element(s: &StatsSnapshot) -> Element {
    let mut stats: Vec<(&str, String)> = vec![
        ("stress_level", format_double(s.stress_level)),
        (
            "average_participant_stress",
            format_double(s.average_participant_stress),
        ),
    ];
    if let Some(region) = &s.region {
        stats.push(("region", region.clone()));
    }
    if let Some(relay_id) = &s.relay_id {
        stats.push(("relay_id", relay_id.clone()));
    }
    stats.push(("version", s.version.clone()));
    if let Some(release) = &s.release {
        stats.push(("release", release.clone()));
    }
    let flag = |b: bool| if b { "true" } else { "false" }.to_owned();
    stats.extend([
        ("graceful_shutdown", flag(s.graceful_shutdown)),
        ("shutting_down", flag(s.shutting_down)),
        ("drain", flag(s.drain)),
        ("healthy", flag(s.healthy)),
        ("colibri2", flag(true)),
        ("conferences", s.conferences.to_string()),
        ("participants", s.participants.to_string()),
        ("visitors", s.visitors.to_string()),
        ("local_endpoints", s.local_endpoints.to_string()),
        ("octo_endpoints", s.octo_endpoints.to_string()),
        ("endpoints", s.endpoints.to_string()),
        ("octo_conferences", s.octo_conferences.to_string()),
        ("total_relays", s.relays.to_string()),
        ("largest_conference", s.largest_conference.to_string()),
        (
            "total_conferences_created",
            s.total_conferences_created.to_string(),
        ),
        (
            "total_conferences_completed",
            s.total_conferences_completed.to_string(),
        ),
        ("total_participants", s.total_participants.to_string()),
        ("bit_rate_download", "0".to_owned()),
        ("bit_rate_upload", "0".to_owned()),
        ("packet_rate_download", "0".to_owned()),
        ("packet_rate_upload", "0".to_owned()),
        ("mucs_configured", "1".to_owned()),
        ("mucs_joined", "1".to_owned()),
        ("muc_clients_configured", "1".to_owned()),
        ("muc_clients_connected", "1".to_owned()),
        (
            "current_timestamp",
            format_timestamp(
                EPOCH_MS
                    .saturating_add(u64::try_from(s.uptime.as_millis()).unwrap_or(u64::MAX / 2)),
            ),
        ),
    ]);
    stats_of(stats.iter().map(|(name, value)| (*name, value.as_str())))
}

/// `<stats/>` with one `<stat/>` per (name, value), in order.
fn stats_of<'a>(stats: impl IntoIterator<Item = (&'a str, &'a str)>) -> Element {
    let mut el = elem("stats", NS_COLIBRI);
    for (name, value) in stats {
        el = el.append(elem("stat", NS_COLIBRI).at("name", name).at("value", value));
    }
    el.build()
}

/// The stats presence to `occupant`; `join` adds the MUC join element.
pub(crate) fn stats_presence(occupant: &str, join: bool, s: &StatsSnapshot) -> Element {
    presence_to(occupant, join, stats_element(s))
}

/// A stats presence to `occupant` with exactly `stats` (name, value): any
/// names and values, even ones no bridge sends, for playing a bridge the
/// emulator does not model. Built as an element, not parsed, so values may
/// be longer than the XML parser allows. `join` adds the MUC join element.
pub fn presence_with_stats(occupant: &str, join: bool, stats: &[(&str, &str)]) -> Element {
    presence_to(occupant, join, stats_of(stats.iter().copied()))
}

/// A presence to `occupant` carrying `stats`, with the MUC join element
/// when `join`.
fn presence_to(occupant: &str, join: bool, stats: Element) -> Element {
    let mut p = elem("presence", NS_CLIENT).at("to", occupant);
    if join {
        p = p.append(elem("x", NS_MUC));
    }
    p.append(stats).build()
}

/// The unavailable presence that leaves the brewery.
pub(crate) fn leave_presence(occupant: &str) -> Element {
    elem("presence", NS_CLIENT)
        .at("to", occupant)
        .at("type", "unavailable")
        .build()
}
