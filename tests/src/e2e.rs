//! End-to-end harness: a real Prosody from `scripts/prosody/`, the focus
//! binaries as child processes, their logs, and a tiny HTTP client for the
//! REST API.
//!
//! ```no_run
//! use std::time::Duration;
//! use focus_tests::e2e::*;
//!
//! if !e2e_enabled() {
//!     return;
//! }
//! let prosody = Prosody::start(ProsodyOptions::default());
//! let rest = free_port();
//! let conf = jicofo_conf(&prosody, rest, &[]);
//! let mut focus = FocusProcess::spawn(
//!     focus_binary(Runtime::Tokio),
//!     &conf,
//!     [("SSL_CERT_FILE", Some(prosody.ca_cert()))],
//! );
//! assert!(focus.wait_for_log("XMPP connection ready", Duration::from_secs(30)));
//! assert_eq!(focus.http_get("/about/health").unwrap().0, 200);
//! assert!(focus.terminate().success());
//! ```
//!
//! Real conference participants (conference request, MUC join, Jingle
//! with media) are in [`participant`].
//!
//! Environment: `FOCUS_E2E_REQUIRED=1` turns a missing Prosody into a
//! failure instead of a skip (CI); `FOCUS_E2E_KEEP=1` keeps the temporary
//! directories; `FOCUS_E2E_RUST_LOG` sets the focus's `RUST_LOG` (default
//! `info`); `FOCUS_E2E_PROSODY_LOG_LEVEL=debug` logs every stanza in
//! Prosody's log; `FOCUS_E2E_NO_BUILD=1` uses the binaries as they are.

pub mod bridge;
mod child;
mod conf;
mod focus;
mod http;
pub mod participant;
mod ports;
mod prosody;

use std::path::{Path, PathBuf};

pub use bridge::{
    BridgeEmulatorProcess, brewery_jid, bridge_emulator_args, bridge_emulator_binary,
};
pub use conf::{hocon_string, jicofo_conf};
pub use focus::{FocusProcess, NO_ENV, Runtime, focus_binary};
pub use http::{HttpResponse, http_get, http_post_json, http_request};
pub use participant::{BridgeStatus, MediaParticipant, MediaView, bridge_status};
pub use ports::{free_port, free_ports};
pub use prosody::{FocusMode, Prosody, ProsodyOptions, parse_vars};

/// Declares the test functions `name`s of the calling file (each takes a
/// [`Runtime`]) once per runtime, as `#[test]`s `tokio::<name>` and
/// `async_std::<name>`.
///
/// ```ignore
/// fn answers_an_xmpp_ping(rt: Runtime) { /* ... */ }
///
/// focus_tests::on_both_runtimes!(answers_an_xmpp_ping);
/// ```
#[macro_export]
macro_rules! on_both_runtimes {
    ($($name:ident),* $(,)?) => {
        mod tokio {
            $(#[test] fn $name() { super::$name($crate::e2e::Runtime::Tokio) })*
        }
        mod async_std {
            $(#[test] fn $name() { super::$name($crate::e2e::Runtime::AsyncStd) })*
        }
    };
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_owned()
}

fn env_flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

fn keep_dirs() -> bool {
    env_flag("FOCUS_E2E_KEEP")
}

/// Whether the end-to-end tests can run: `prosody`, `prosodyctl` and
/// `openssl` are on `PATH`. When they are not, prints why and returns false
/// (the test should return early, skipped), or panics when
/// `FOCUS_E2E_REQUIRED` is set, as in CI.
pub fn e2e_enabled() -> bool {
    let missing: Vec<&str> = ["prosody", "prosodyctl", "openssl"]
        .into_iter()
        .filter(|tool| !on_path(tool))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "{} not installed (scripts/install-deps.sh installs them)",
        missing.join(", ")
    );
    if env_flag("FOCUS_E2E_REQUIRED") {
        panic!("FOCUS_E2E_REQUIRED is set but {why}");
    }
    eprintln!("skipping end-to-end test: {why}");
    false
}

fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(tool))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}
