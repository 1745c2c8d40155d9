//! The REST API as data: a request and the focus's state in, an answer out.
//!
//! Routes, status codes and bodies follow Jicofo's (see the protocol notes);
//! the runtime only moves bytes.

use std::time::Instant;

use serde_json::json;

use crate::focus::Focus;
use crate::http::{HttpRequest, HttpResponse, Method};

/// The version string reported by `/about/version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Answers `request` from the focus's state at `now`.
pub fn route(focus: &Focus, now: Instant, request: &HttpRequest) -> HttpResponse {
    let get = matches!(request.method, Method::Get | Method::Head);
    let path = request.path.trim_end_matches('/');
    match path {
        "/about/health" | "/about/version" if !get => method_not_allowed(),
        // Served even when `jicofo.health.enabled` is false (unlike Jicofo):
        // docker-jitsi-meet's container check polls it.
        "/about/health" => focus.health(now).to_response(),
        "/about/version" => about_version(),
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

fn method_not_allowed() -> HttpResponse {
    HttpResponse::text(405, "Method Not Allowed")
}
