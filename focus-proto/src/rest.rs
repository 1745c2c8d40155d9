//! The REST API as data: a request and the focus's state in, an answer out.
//!
//! Routes, status codes and bodies follow Jicofo's (see the protocol notes);
//! the runtime only moves bytes.

use std::time::Instant;

use serde_json::json;

use crate::bridge::Bridge;
use crate::conference::Conference;
use crate::config::Config;
use crate::focus::Focus;
use crate::http::{HttpRequest, HttpResponse, Method};

/// The version string reported by `/about/version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Answers `request` from the focus's state at `now`.
pub fn route(focus: &Focus, now: Instant, request: &HttpRequest) -> HttpResponse {
    let get = matches!(request.method, Method::Get | Method::Head);
    let path = request.path.trim_end_matches('/');
    match path {
        "/about/health" | "/about/version" | "/debug" | "/stats" | "/metrics" if !get => {
            method_not_allowed()
        }
        // Served even when `jicofo.health.enabled` is false (unlike Jicofo):
        // docker-jitsi-meet's container check polls it.
        "/about/health" => focus.health(now).to_response(),
        "/about/version" => about_version(),
        "/debug" if focus.config().rest.debug.enabled => debug(focus, now),
        "/debug/conferences" if focus.config().rest.debug.enabled => {
            let rooms: Vec<String> = focus
                .conferences()
                .iter()
                .map(|c| c.room.to_string())
                .collect();
            HttpResponse::json(200, &json!(rooms))
        }
        "/debug/conferences-full" if focus.config().rest.debug.enabled => {
            let all: serde_json::Map<String, serde_json::Value> = focus
                .conferences()
                .iter()
                .map(|c| (c.room.to_string(), conference_debug(focus, c, now)))
                .collect();
            HttpResponse::json(200, &serde_json::Value::Object(all))
        }
        p if p.starts_with("/debug/conference/") && focus.config().rest.debug.enabled => {
            let room = &p["/debug/conference/".len()..];
            match jid::BareJid::new(room) {
                Ok(room) => match focus.conferences().get(&room) {
                    Some(c) => HttpResponse::json(200, &conference_debug(focus, c, now)),
                    None => HttpResponse::json(200, &json!({})),
                },
                Err(_) => HttpResponse::text(400, "Bad request: Invalid conference ID"),
            }
        }
        "/stats" => stats(focus, now),
        "/metrics" if focus.config().rest.prometheus.enabled => metrics(focus, now, request),
        _ => HttpResponse::not_found(),
    }
}

fn about_version() -> HttpResponse {
    let os = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS X",
        "windows" => "Windows",
        other => other,
    };
    HttpResponse::json(
        200,
        &json!({ "name": "JiCoFo", "version": VERSION, "os": os }),
    )
}

/// `GET /stats`: Jicofo's flat statistics object, with the parts this
/// focus has (conferences, participants, the bridge pool, health).
fn stats(focus: &Focus, now: Instant) -> HttpResponse {
    let counters = focus.conferences().stats();
    let sizes: Vec<usize> = focus
        .conferences()
        .iter()
        .map(|c| c.member_count())
        .collect();
    let (operational, total) = focus.bridge_counts(now);
    let registry = focus.bridges();
    let versions: std::collections::BTreeSet<String> = registry
        .into_iter()
        .flat_map(|r| r.iter())
        .filter_map(|b| b.full_version())
        .collect();
    let mut body = json!({
        "total_participants": counters.participants_joined,
        "total_conferences_created": counters.conferences_created,
        "conferences": sizes.len(),
        "participants": sizes.iter().sum::<usize>(),
        "largest_conference": sizes.iter().max().copied().unwrap_or(0),
        "endpoint_pairs": sizes.iter().map(|n| n * n).sum::<usize>(),
        "bridge_selector": {
            "bridge_count": total,
            "operational_bridge_count": operational,
            "in_shutdown_bridge_count": registry
                .into_iter()
                .flat_map(|r| r.iter())
                .filter(|b| b.graceful_shutdown)
                .count(),
            "lost_bridges": registry.map_or(0, |r| r.lost_bridges),
            "bridge_version_count": versions.len(),
        },
        "bridge_failures": {
            "participants_moved": counters.participants_moved,
            "bridges_removed": counters.bridges_removed,
        },
        "participant_notifications": {
            "ice_failed": counters.participants_ice_failed,
            "request_restart": counters.participants_restart_requested,
        },
        "jingle": {
            "sent": focus.conferences().jingle_stats().sent,
            "received": focus.conferences().jingle_stats().received,
        },
        "version": VERSION,
    });
    if focus.config().health.enabled {
        let health = focus.health(now);
        let (healthy, message) = match &health {
            crate::focus::HealthStatus::Healthy => (true, None),
            crate::focus::HealthStatus::SoftFailure(m)
            | crate::focus::HealthStatus::HardFailure(m) => (false, Some(m.clone())),
        };
        body["healthy"] = json!(healthy);
        body["health"] = json!({
            "success": healthy,
            "hardFailure": !matches!(health, crate::focus::HealthStatus::SoftFailure(_)),
            "responseCode": null,
            "sticky": false,
            "message": message,
        });
    }
    HttpResponse::json(200, &body)
}

/// `GET /metrics`, in the format the `Accept` header negotiates.
fn metrics(focus: &Focus, now: Instant, request: &HttpRequest) -> HttpResponse {
    use crate::metrics::{Format, Sample, to_json, to_prometheus_text, to_text};
    let samples = Sample::collect(focus, now);
    let (content_type, body) = match Format::negotiate(request.header("accept")) {
        Format::Json => return HttpResponse::json(200, &to_json(&samples)),
        Format::PrometheusText => (
            "text/plain; version=0.0.4; charset=utf-8",
            to_prometheus_text(&samples),
        ),
        Format::OpenMetrics => (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            to_text(&samples),
        ),
    };
    HttpResponse {
        status: 200,
        content_type,
        body: body.into_bytes(),
    }
}

/// `GET /debug`: the conferences with their member counts and the bridge
/// pool as Jicofo's selector describes it (kebab-case bridge fields;
/// unknown strings as `"null"`).
fn debug(focus: &Focus, now: Instant) -> HttpResponse {
    let config = focus.config();
    let conferences: serde_json::Map<String, serde_json::Value> = focus
        .conferences()
        .iter()
        .map(|c| (c.room.to_string(), json!(c.member_count())))
        .collect();
    let bridges: serde_json::Map<String, serde_json::Value> = focus
        .bridges()
        .into_iter()
        .flat_map(|r| r.iter())
        .map(|b| (b.jid.to_string(), bridge_debug(b, config, now)))
        .collect();
    HttpResponse::json(
        200,
        &json!({
            "focus_manager": conferences,
            "bridge_selector": {
                "strategy": format!("{:?}", config.bridge.selection_strategy),
                "bridge": bridges,
            },
        }),
    )
}

/// One conference's debug state: the room, its members, and its media
/// (Jicofo's `colibri_session_manager`: participants and bridge sessions).
fn conference_debug(focus: &Focus, c: &Conference, now: Instant) -> serde_json::Value {
    let config = focus.config();
    let participants: serde_json::Map<String, serde_json::Value> = c
        .media
        .participants
        .iter()
        .map(|(nick, p)| {
            let member = c.members.get(nick);
            let sources = c.media.sources.get(nick);
            (
                nick.clone(),
                json!({
                    "id": nick,
                    "stats_id": member.and_then(|m| m.stats_id.clone()),
                    "bridge": p.bridge.as_ref().map(|b| b.resource().as_str().to_owned()),
                    "session": format!("{:?}", p.state),
                    "sid": p.sid,
                    "sources": sources.map(|s| s.sources().iter().map(|x| x.ssrc.get()).collect::<Vec<_>>()),
                    "json_sources": p.json_sources,
                }),
            )
        })
        .collect();
    let sessions: serde_json::Map<String, serde_json::Value> = c
        .media
        .bridges
        .iter()
        .map(|(jid, s)| {
            let bridge = focus
                .bridges()
                .and_then(|r| r.get(jid))
                .map(|b| bridge_debug(b, config, now));
            let relays: Vec<&str> = c
                .media
                .bridges
                .iter()
                .filter(|(other, _)| *other != jid)
                .filter_map(|(_, o)| o.relay_id.as_deref())
                .collect();
            (
                jid.resource().as_str().to_owned(),
                json!({
                    "bridge": bridge,
                    "id": s.id,
                    "relay_id": s.relay_id,
                    "relays": relays,
                    "feedback_sources": s.feedback.sources().iter().map(|x| x.ssrc.get()).collect::<Vec<_>>(),
                    "participants": s.endpoints,
                }),
            )
        })
        .collect();
    let members: Vec<&str> = c.members.keys().map(String::as_str).collect();
    json!({
        "name": c.room.to_string(),
        "meeting_id": c.meeting_id,
        "members": members,
        "media_ready": c.media_ready,
        "colibri_session_manager": {
            "participants": participants,
            "sessions": sessions,
        },
    })
}

fn bridge_debug(b: &Bridge, config: &Config, now: Instant) -> serde_json::Value {
    let bc = &config.bridge;
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "null".to_owned());
    json!({
        "corrected-stress": b.corrected_stress(now, bc.participant_rampup_interval),
        "drain": b.draining,
        "endpoints": b.endpoints,
        "endpoint-restart-requests": b.recent_restart_requests(now, bc.ice_failure_detection.interval),
        "failing-ice": b.is_failing_ice(now),
        "graceful-shutdown": b.graceful_shutdown,
        "healthy": b.healthy,
        "operational": b.is_operational(now, bc.failure_reset_threshold),
        "overloaded": b.is_overloaded(now, bc.participant_rampup_interval, bc.stress_threshold),
        "region": text(&b.region),
        "relay-id": text(&b.relay_id),
        "release": text(&b.release),
        "shutting-down": b.shutting_down,
        "stress": b.stress_level,
        "version": text(&b.version),
    })
}

fn method_not_allowed() -> HttpResponse {
    HttpResponse::text(405, "Method Not Allowed")
}
