//! `GET /metrics`: the focus's state as Jicofo's Prometheus metrics
//! (metrics.md): the `jitsi_jicofo_` namespace, counters with `_total`, the
//! bridge families labelled `jvb` with the bridge's nickname.
//!
//! Every metric is computed from the focus's state when asked
//! ([`Sample::collect`]), so there is nothing to keep in step and no
//! periodic updater: what Jicofo refreshes every `update-interval` is
//! current here at every scrape. The same samples give the OpenMetrics
//! text (through `prometheus-client`) and Jicofo's JSON form (for
//! `Accept: application/json`).

use std::collections::BTreeSet;
use std::time::Instant;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use serde_json::{Map, Value, json};

use crate::focus::{Focus, HealthStatus};
use crate::rest::VERSION;

/// The namespace of every metric.
pub const NAMESPACE: &str = "jitsi_jicofo";

/// What a sample measures.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// Only goes up (exposed with `_total`).
    Counter(u64),
    /// Goes up and down.
    Gauge(i64),
    /// Per bridge nickname (`jvb` label).
    PerBridge(Vec<(String, i64)>),
    /// A counter per bridge nickname (`jvb` label, exposed with `_total`).
    PerBridgeCounter(Vec<(String, u64)>),
    /// A constant label (`_info`).
    Info(&'static str, String),
}

/// One metric: its name without namespace, its help, its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The registered name (no namespace, no `_total`).
    pub name: std::borrow::Cow<'static, str>,
    /// The help text.
    pub help: &'static str,
    /// The value.
    pub value: MetricValue,
}

impl Sample {
    fn new(
        name: impl Into<std::borrow::Cow<'static, str>>,
        help: &'static str,
        value: MetricValue,
    ) -> Self {
        Self {
            name: name.into(),
            help,
            value,
        }
    }

    /// Every metric the focus has, from its state at `now`.
    pub fn collect(focus: &Focus, now: Instant) -> Vec<Sample> {
        use MetricValue::{Counter, Gauge, Info, PerBridge, PerBridgeCounter};
        let counters = focus.conferences().stats();
        let sizes: Vec<i64> = focus
            .conferences()
            .iter()
            .map(|c| c.member_count() as i64)
            .collect();
        let (operational, total) = focus.bridge_counts(now);
        let bridges: Vec<_> = focus.bridges().into_iter().flat_map(|r| r.iter()).collect();
        let versions: BTreeSet<String> = bridges.iter().filter_map(|b| b.full_version()).collect();
        let healthy = focus.health(now) == HealthStatus::Healthy;
        let jingle = focus.conferences().jingle_stats();
        let mut samples = vec![
            Sample::new(
                "healthy",
                "Whether the last self-check passed.",
                Gauge(i64::from(healthy)),
            ),
            Sample::new(
                "version",
                "The focus's version.",
                Info("version", VERSION.to_owned()),
            ),
            Sample::new(
                "xmpp_disconnects",
                "Times an XMPP connection was lost.",
                Counter(focus.xmpp_disconnects()),
            ),
            Sample::new(
                "conferences",
                "Current conferences.",
                Gauge(sizes.len() as i64),
            ),
            Sample::new(
                "conferences_created",
                "Conferences created since the start.",
                Counter(counters.conferences_created),
            ),
            Sample::new(
                "participants_current",
                "Current participants.",
                Gauge(sizes.iter().sum()),
            ),
            Sample::new(
                "participants",
                "Participants that joined since the start.",
                Counter(counters.participants_joined),
            ),
            Sample::new(
                "largest_conference",
                "Participants in the largest conference.",
                Gauge(sizes.iter().copied().max().unwrap_or(0)),
            ),
            Sample::new(
                "participants_pairs",
                "Sum over conferences of the square of their size.",
                Gauge(sizes.iter().map(|n| n * n).sum()),
            ),
            Sample::new(
                "conference_requests",
                "Conference requests received.",
                Counter(counters.conference_requests),
            ),
            Sample::new(
                "conference_requests_new",
                "Conference requests for rooms without a conference.",
                Counter(counters.conference_requests_new),
            ),
            Sample::new(
                "bridge_selector_bridge_count",
                "Bridges in the brewery.",
                Gauge(total as i64),
            ),
            Sample::new(
                "bridge_selector_bridge_count_operational",
                "Operational bridges not shutting down.",
                Gauge(operational as i64),
            ),
            Sample::new(
                "bridge_selector_bridge_count_in_shutdown",
                "Bridges in graceful shutdown.",
                Gauge(bridges.iter().filter(|b| b.graceful_shutdown).count() as i64),
            ),
            Sample::new(
                "bridge_selector_lost_bridges",
                "Bridges that left without announcing a shutdown.",
                Counter(focus.bridges().map_or(0, |r| r.lost_bridges)),
            ),
            Sample::new(
                "bridge_selector_bridge_version_count",
                "Distinct bridge versions.",
                Gauge(versions.len() as i64),
            ),
            Sample::new(
                "bridge_endpoints",
                "Endpoints this focus allocated on the bridge.",
                PerBridge(
                    bridges
                        .iter()
                        .map(|b| (b.name().to_owned(), i64::from(b.endpoints)))
                        .collect(),
                ),
            ),
            Sample::new(
                "bridge_failing_ice",
                "Whether the bridge is in the failing-ICE state.",
                PerBridge(
                    bridges
                        .iter()
                        .map(|b| (b.name().to_owned(), i64::from(b.is_failing_ice(now))))
                        .collect(),
                ),
            ),
            Sample::new(
                "bridge_restart_requests",
                "ICE-failed notices and full restart requests of participants on the bridge.",
                PerBridgeCounter(
                    bridges
                        .iter()
                        .map(|b| (b.name().to_owned(), b.restart_requests))
                        .collect(),
                ),
            ),
            Sample::new(
                "participants_moved",
                "Participants invited again elsewhere (bridge failures, moves).",
                Counter(counters.participants_moved),
            ),
            Sample::new(
                "bridges_removed",
                "Bridges removed from a conference after a failure.",
                Counter(counters.bridges_removed),
            ),
            Sample::new(
                "participants_ice_failed",
                "Participants that reported an ICE failure.",
                Counter(counters.participants_ice_failed),
            ),
            Sample::new(
                "participants_restart_requested",
                "Session restarts participants asked for with session-terminate.",
                Counter(counters.participants_restart_requested),
            ),
            Sample::new(
                "ice_restarts_requested",
                "In-place ICE restarts requested by participants.",
                Counter(counters.ice_restarts_requested),
            ),
            Sample::new(
                "ice_restarts_relayed",
                "In-place ICE restarts whose new bridge transport was signaled to the participant.",
                Counter(counters.ice_restarts_relayed),
            ),
            Sample::new(
                "ice_restarts_not_needed",
                "In-place ICE restarts for which the bridge kept its transport.",
                Counter(counters.ice_restarts_not_needed),
            ),
            Sample::new(
                "ice_restarts_failed",
                "In-place ICE restarts refused or not completed.",
                Counter(counters.ice_restarts_failed),
            ),
        ];
        // Jingle counters appear with the first stanza of their action,
        // as Jicofo registers them lazily.
        for (direction, counts) in [("sent", &jingle.sent), ("received", &jingle.received)] {
            for (action, n) in counts {
                let name = format!("jingle_{}_{direction}", action.to_lowercase());
                samples.push(Sample::new(name, "Jingle IQs by action.", Counter(*n)));
            }
        }
        samples
    }
}

/// The OpenMetrics text exposition of `samples`.
pub fn to_text(samples: &[Sample]) -> String {
    let mut registry = Registry::with_prefix(NAMESPACE);
    for s in samples {
        match &s.value {
            MetricValue::Counter(v) => {
                registry.register(s.name.as_ref(), s.help, ConstCounter::new(*v))
            }
            MetricValue::Gauge(v) => {
                registry.register(s.name.as_ref(), s.help, ConstGauge::new(*v))
            }
            MetricValue::Info(label, v) => {
                registry.register(
                    s.name.as_ref(),
                    s.help,
                    Info::new(vec![(*label, v.clone())]),
                );
            }
            MetricValue::PerBridge(values) => {
                let family = Family::<Vec<(&'static str, String)>, Gauge>::default();
                for (jvb, v) in values {
                    family.get_or_create(&vec![("jvb", jvb.clone())]).set(*v);
                }
                registry.register(s.name.as_ref(), s.help, family);
            }
            MetricValue::PerBridgeCounter(values) => {
                let family = Family::<Vec<(&'static str, String)>, Counter>::default();
                for (jvb, v) in values {
                    family.get_or_create(&vec![("jvb", jvb.clone())]).inc_by(*v);
                }
                registry.register(s.name.as_ref(), s.help, family);
            }
        }
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

/// The Prometheus text format 0.0.4 of `samples` (what Jicofo's
/// simpleclient writes for `Accept: text/plain`).
pub fn to_prometheus_text(samples: &[Sample]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for s in samples {
        let name = format!("{NAMESPACE}_{}", s.name);
        let (name, kind) = match &s.value {
            MetricValue::Counter(_) | MetricValue::PerBridgeCounter(_) => {
                (format!("{name}_total"), "counter")
            }
            MetricValue::Info(..) => (format!("{name}_info"), "gauge"),
            MetricValue::Gauge(_) | MetricValue::PerBridge(_) => (name, "gauge"),
        };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {name} {}", s.help);
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = match &s.value {
            MetricValue::Counter(v) => writeln!(out, "{name} {v}.0"),
            MetricValue::Gauge(v) => writeln!(out, "{name} {v}.0"),
            MetricValue::Info(label, v) => {
                writeln!(out, "{name}{{{label}=\"{}\"}} 1.0", escape_label(v))
            }
            MetricValue::PerBridge(values) => write_per_bridge(&mut out, &name, values),
            MetricValue::PerBridgeCounter(values) => write_per_bridge(&mut out, &name, values),
        };
    }
    out
}

/// One line per bridge of a `jvb`-labelled family.
fn write_per_bridge<T: std::fmt::Display>(
    out: &mut String,
    name: &str,
    values: &[(String, T)],
) -> std::fmt::Result {
    use std::fmt::Write;
    for (jvb, v) in values {
        writeln!(out, "{name}{{jvb=\"{}\"}} {v}.0", escape_label(jvb))?;
    }
    Ok(())
}

/// A label value with `\`, `"` and newlines escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The formats of `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0.0 (the default).
    OpenMetrics,
    /// Prometheus text 0.0.4.
    PrometheusText,
    /// Jicofo's flat JSON.
    Json,
}

impl Format {
    /// The format an `Accept` header asks for: its media ranges by
    /// descending `q` (ties in order), the first one that starts like a
    /// known format; OpenMetrics otherwise.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let mut ranges: Vec<(f32, usize, &str)> = accept
            .unwrap_or("")
            .split(',')
            .enumerate()
            .map(|(i, range)| {
                let mut parts = range.split(';');
                let media = parts.next().unwrap_or("").trim();
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .filter(|q| q.is_finite())
                    .unwrap_or(1.0);
                (q, i, media)
            })
            .collect();
        ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranges
            .iter()
            .find_map(|(_, _, media)| {
                if media.starts_with("application/openmetrics-text") {
                    Some(Self::OpenMetrics)
                } else if media.starts_with("text/plain") {
                    Some(Self::PrometheusText)
                } else if media.starts_with("application/json") {
                    Some(Self::Json)
                } else {
                    None
                }
            })
            .unwrap_or(Self::OpenMetrics)
    }
}

/// Jicofo's JSON form: registered names without namespace, counters with
/// `_total`, per-bridge families as an object keyed by nickname.
pub fn to_json(samples: &[Sample]) -> Value {
    let mut out = Map::new();
    for s in samples {
        let (name, value) = match &s.value {
            MetricValue::Counter(v) => (format!("{}_total", s.name), json!(v)),
            MetricValue::Gauge(v) => (s.name.to_string(), json!(v)),
            MetricValue::Info(_, v) => (s.name.to_string(), json!(v)),
            MetricValue::PerBridge(values) => (
                s.name.to_string(),
                Value::Object(values.iter().map(|(k, v)| (k.clone(), json!(v))).collect()),
            ),
            MetricValue::PerBridgeCounter(values) => (
                format!("{}_total", s.name),
                Value::Object(values.iter().map(|(k, v)| (k.clone(), json!(v))).collect()),
            ),
        };
        out.insert(name, value);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests;
