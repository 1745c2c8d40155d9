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

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::emulator::BridgeOptions;

use super::{Prosody, workspace_root};

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

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// `debug`, `release` or a custom profile: where the running test
/// executable lives (`<target>/<profile>/deps/<exe>`).
fn profile_dir_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let deps = exe.parent()?;
            if deps.file_name()? != "deps" {
                return None;
            }
            Some(deps.parent()?.file_name()?.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "debug".into())
}

fn build_emulator() -> Result<PathBuf, String> {
    let profile = profile_dir_name();
    let binary = target_dir().join(&profile).join("bridge-emulator");
    if super::env_flag("FOCUS_E2E_NO_BUILD") {
        return if binary.is_file() {
            Ok(binary)
        } else {
            Err(format!(
                "FOCUS_E2E_NO_BUILD is set but {} does not exist",
                binary.display()
            ))
        };
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace_root())
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .args(["-p", "focus-tests", "--bin", "bridge-emulator"])
        .stdin(Stdio::null());
    // As for the focus binaries: the variables cargo gives a running test
    // would make build scripts rerun and rebuild half the tree.
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("CARGO_PKG_")
            || key_text.starts_with("CARGO_BIN_EXE_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&key_text.as_ref())
        {
            cmd.env_remove(&key);
        }
    }
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    eprintln!("e2e: building the bridge emulator: {cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
    if !out.status.success() {
        return Err(format!(
            "building the bridge emulator failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "cargo build succeeded but {} does not exist",
            binary.display()
        ))
    }
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

/// Output lines of the child, shared with the pipe readers.
#[derive(Default)]
struct Output {
    state: Mutex<OutputState>,
    changed: Condvar,
}

#[derive(Default)]
struct OutputState {
    /// stdout and stderr lines, interleaved as they came.
    lines: Vec<String>,
    open_pipes: usize,
}

impl Output {
    fn lock(&self) -> MutexGuard<'_, OutputState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running `bridge-emulator`. Its stdout and stderr lines are collected;
/// control commands go to its stdin; it is killed on drop (and its output
/// printed then if the test is panicking).
pub struct BridgeEmulatorProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    nick: String,
    occupant: String,
    output: Arc<Output>,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
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
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let output = Arc::new(Output::default());
        let pipes: Vec<Box<dyn Read + Send>> = vec![
            Box::new(child.stdout.take().expect("piped stdout")),
            Box::new(child.stderr.take().expect("piped stderr")),
        ];
        output.lock().open_pipes = pipes.len();
        let readers = pipes
            .into_iter()
            .map(|pipe| {
                let output = Arc::clone(&output);
                std::thread::spawn(move || read_lines(pipe, &output))
            })
            .collect();
        BridgeEmulatorProcess {
            stdin: child.stdin.take(),
            child,
            nick: opts.nick.clone(),
            occupant: format!("{}/{}", opts.brewery, opts.nick),
            output,
            readers,
            exit: None,
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
        self.child.id()
    }

    /// Waits until it has joined the brewery (printed [`READY_LINE`]);
    /// false after `timeout` or as soon as it has exited without.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        self.wait_for_log(READY_LINE, timeout)
    }

    /// Everything it wrote so far, one line each.
    pub fn logs(&self) -> String {
        self.output.lock().lines.join("\n")
    }

    /// How many lines so far contain `needle`.
    pub fn count_log(&self, needle: &str) -> usize {
        self.output
            .lock()
            .lines
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until a line contains `needle`; false after `timeout`, or as
    /// soon as the process has ended without writing it.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_for_log_count(needle, 1, timeout)
    }

    /// Waits until `count` lines contain `needle`.
    pub fn wait_for_log_count(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.output.lock();
        loop {
            if state.lines.iter().filter(|l| l.contains(needle)).count() >= count {
                return true;
            }
            let now = Instant::now();
            if state.open_pipes == 0 || now >= deadline {
                return false;
            }
            state = self
                .output
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
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
        let Some(stdin) = self.stdin.as_mut() else {
            return false;
        };
        writeln!(stdin, "{}", line.trim())
            .and_then(|()| stdin.flush())
            .is_ok()
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
        self.stdin = None;
        match self.wait_exit(QUIT_TIMEOUT) {
            Some(status) => status,
            None => {
                self.kill();
                panic!(
                    "bridge-emulator {} did not quit within {QUIT_TIMEOUT:?}; output:\n{}",
                    self.nick,
                    self.logs()
                );
            }
        }
    }

    /// Waits up to `timeout` for it to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The exit status, if it has exited (then its output is complete).
    pub fn try_exit_status(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
            if self.exit.is_some() {
                self.join_readers();
            }
        }
        self.exit
    }

    /// Kills it (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
            self.join_readers();
        }
        self.stdin = None;
    }

    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for BridgeEmulatorProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- output of bridge-emulator {} ----\n{}\n---- end ----",
                self.nick,
                self.logs()
            );
        }
    }
}

fn read_lines(pipe: Box<dyn Read + Send>, output: &Output) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']).to_owned();
                output.lock().lines.push(text);
                output.changed.notify_all();
            }
        }
    }
    output.lock().open_pipes -= 1;
    output.changed.notify_all();
}
