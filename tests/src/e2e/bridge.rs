//! `bridge-emulator` child processes: emulated Jitsi Videobridges logged
//! in to a test [`Prosody`] as its `jvb` account.
//!
//! ```no_run
//! use std::time::Duration;
//! use focus_tests::e2e::*;
//! use focus_tests::emulator::BridgeOptions;
//!
//! let prosody = Prosody::start(ProsodyOptions::default());
//! let mut opts = BridgeOptions::new(&brewery_jid(&prosody), "jvb-a");
//! opts.region = Some("eu-west".into());
//! let mut jvb = BridgeEmulatorProcess::spawn(&prosody, &opts);
//! assert!(jvb.wait_ready(Duration::from_secs(30)), "{}", jvb.logs());
//! jvb.control("drain on");
//! jvb.quit();
//! ```

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::emulator::BridgeOptions;

use super::Prosody;
use super::child::{ChildProcess, cargo_build};

/// The line the emulator prints on stdout once it is in the brewery.
pub const READY_LINE: &str = "bridge-emulator ready";

/// How long [`BridgeEmulatorProcess::quit`] waits for the exit.
const QUIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The bridge brewery of `prosody`: `jvbbrewery@internal-muc.<domain>`.
pub fn brewery_jid(prosody: &Prosody) -> String {
    format!("jvbbrewery@{}", prosody.internal_muc_domain())
}

/// The path of the `bridge-emulator` binary in the target directory the
/// tests were built in (same conventions as [`super::focus_binary`]).
///
/// The first call in a process runs `cargo build -p focus-tests --bin
/// bridge-emulator` (with `$CARGO` when set), a no-op when it is up to
/// date. With `FOCUS_E2E_NO_BUILD=1` nothing is built and the binary must
/// exist.
pub fn bridge_emulator_binary() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(build_emulator)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"))
        .clone()
}

fn build_emulator() -> Result<PathBuf, String> {
    cargo_build(
        &["-p", "focus-tests", "--bin", "bridge-emulator"],
        &["bridge-emulator"],
        "the bridge emulator",
    )
    .map(|dir| dir.join("bridge-emulator"))
}

/// The command-line arguments that make `bridge-emulator` run as `opts`
/// against `prosody` (without `--exit-on-eof`).
pub fn bridge_emulator_args(prosody: &Prosody, opts: &BridgeOptions) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--port".into(),
        prosody.xmpp_port().to_string(),
        "--ca-cert".into(),
        prosody.ca_cert().to_string_lossy().into_owned(),
        "--domain".into(),
        prosody.auth_domain().into(),
        "--user".into(),
        "jvb".into(),
        "--password".into(),
        prosody.jvb_password().into(),
        "--brewery".into(),
        opts.brewery.clone(),
        "--nick".into(),
        opts.nick.clone(),
        "--version".into(),
        opts.version.clone(),
        "--stats-interval-ms".into(),
        opts.stats_interval.as_millis().to_string(),
        "--seed".into(),
        opts.seed.to_string(),
        "--media-port".into(),
        opts.media_port.to_string(),
        "--web-socket-base".into(),
        opts.web_socket_base
            .clone()
            .unwrap_or_else(|| "none".into()),
    ];
    let optional = [
        ("--region", opts.region.clone()),
        ("--relay-id", opts.relay_id.clone()),
        ("--release", opts.release.clone()),
        ("--stress", opts.stress.map(|s| s.to_string())),
    ];
    for (flag, value) in optional {
        if let Some(value) = value {
            args.push(flag.into());
            args.push(value);
        }
    }
    for (flag, on) in [
        ("--drain", opts.drain),
        ("--unhealthy", opts.unhealthy),
        ("--unresponsive", opts.unresponsive),
    ] {
        if on {
            args.push(flag.into());
        }
    }
    args
}

/// A running `bridge-emulator`. Its stdout and stderr lines are collected;
/// control commands go to its stdin; it is killed on drop (and its output
/// printed then if the test is panicking).
pub struct BridgeEmulatorProcess {
    child: ChildProcess,
    nick: String,
    occupant: String,
}

impl BridgeEmulatorProcess {
    /// Starts `bridge-emulator` as `opts` (brewery, nickname, region,
    /// relay id, version, stress, drain, interval, seed, unhealthy,
    /// unresponsive) logged in to `prosody` as `jvb`. It leaves cleanly
    /// when its stdin closes (`--exit-on-eof`), so it does not outlive the
    /// test. Use [`BridgeEmulatorProcess::wait_ready`] before relying on
    /// it.
    pub fn spawn(prosody: &Prosody, opts: &BridgeOptions) -> Self {
        Self::spawn_with_args(prosody, opts, &[])
    }

    /// [`BridgeEmulatorProcess::spawn`] with more arguments (they come
    /// last, so they override).
    pub fn spawn_with_args(prosody: &Prosody, opts: &BridgeOptions, extra: &[&str]) -> Self {
        let binary = bridge_emulator_binary();
        let mut cmd = Command::new(&binary);
        cmd.args(bridge_emulator_args(prosody, opts))
            .arg("--exit-on-eof")
            .args(extra)
            .env_remove("JVB_AUTH_PASSWORD")
            .stdin(Stdio::piped());
        let label = format!("bridge-emulator {}", opts.nick);
        BridgeEmulatorProcess {
            child: ChildProcess::spawn(&mut cmd, &binary, label),
            nick: opts.nick.clone(),
            occupant: format!("{}/{}", opts.brewery, opts.nick),
        }
    }

    /// Its nickname (the bridge id).
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// Its occupant JID in the brewery (what the focus addresses).
    pub fn occupant_jid(&self) -> &str {
        &self.occupant
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Waits until it has joined the brewery (printed [`READY_LINE`]);
    /// false after `timeout` or as soon as it has exited without.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        self.wait_for_log(READY_LINE, timeout)
    }

    /// Everything it wrote so far, one line each.
    pub fn logs(&self) -> String {
        self.child.logs()
    }

    /// How many lines so far contain `needle`.
    pub fn count_log(&self, needle: &str) -> usize {
        self.child.count_log(needle)
    }

    /// Waits until a line contains `needle`; false after `timeout`, or as
    /// soon as the process has ended without writing it.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_for_log_count(needle, 1, timeout)
    }

    /// Waits until `count` lines contain `needle`.
    pub fn wait_for_log_count(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        self.child.wait_for_log_count(needle, count, timeout)
    }

    /// Sends one control line (`drain on`, `healthy off`, `unresponsive
    /// on`, `stress 0.7`, `graceful-shutdown`, `shutting-down`...), and
    /// waits (up to 10 s) until the emulator logged it as applied. Returns
    /// whether it did.
    pub fn control(&mut self, command: &str) -> bool {
        let needle = format!("control applied: {}", command.trim());
        let before = self.count_log(&needle);
        if !self.send_line(command) {
            return false;
        }
        self.wait_for_log_count(&needle, before + 1, Duration::from_secs(10))
    }

    /// Writes `line` to its stdin; false when it has gone.
    pub fn send_line(&mut self, line: &str) -> bool {
        self.child.send_line(line)
    }

    /// Crashes it: SIGKILL, no goodbye (Prosody then removes it from the
    /// brewery when it notices the closed connection).
    pub fn crash(&mut self) {
        self.kill();
    }

    /// Tells it to leave the brewery and exit (`quit`), and waits for the
    /// exit (30 s; killed and panics otherwise).
    pub fn quit(&mut self) -> ExitStatus {
        self.send_line("quit");
        self.child.close_stdin();
        let nick = &self.nick;
        self.child.expect_exit(QUIT_TIMEOUT, || {
            format!("bridge-emulator {nick} did not quit within {QUIT_TIMEOUT:?}")
        })
    }

    /// Waits up to `timeout` for it to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.child.wait_exit(timeout)
    }

    /// The exit status, if it has exited (then its output is complete).
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_exit_status()
    }

    /// Kills it (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        self.child.kill();
    }
}
