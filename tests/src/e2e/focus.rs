//! The focus binaries as child processes.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{HttpResponse, http_get, keep_dirs, workspace_root};

/// Which binary: the same focus on either executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// `focus` (crate `runtime-tokio`).
    Tokio,
    /// `focus-async-std` (crate `runtime-async-std`).
    AsyncStd,
}

impl Runtime {
    /// Both runtimes.
    pub const ALL: [Runtime; 2] = [Runtime::Tokio, Runtime::AsyncStd];

    /// The binary's file name.
    pub fn binary_name(self) -> &'static str {
        match self {
            Runtime::Tokio => "focus",
            Runtime::AsyncStd => "focus-async-std",
        }
    }
}

/// The path of `rt`'s binary in the target directory the tests were built
/// in (`CARGO_TARGET_DIR`, else `<workspace>/target`; same profile as the
/// test executable).
///
/// The first call in a process runs `cargo build -p runtime-tokio -p
/// runtime-async-std --bins` (with `$CARGO` when set), so the tests never run
/// stale binaries; it is a no-op when they are up to date. With
/// `FOCUS_E2E_NO_BUILD=1` nothing is built and the binaries must exist.
pub fn focus_binary(rt: Runtime) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(build_binaries)
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    dir.join(rt.binary_name())
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// `debug`, `release` or a custom profile's directory: where the running
/// test executable lives (`<target>/<profile>/deps/<exe>`).
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

fn build_binaries() -> Result<PathBuf, String> {
    let profile = profile_dir_name();
    let dir = target_dir().join(&profile);
    let missing = || {
        Runtime::ALL
            .iter()
            .map(|rt| dir.join(rt.binary_name()))
            .filter(|p| !p.is_file())
            .collect::<Vec<_>>()
    };
    if std::env::var_os("FOCUS_E2E_NO_BUILD").is_some_and(|v| !v.is_empty() && v != "0") {
        let missing = missing();
        return if missing.is_empty() {
            Ok(dir)
        } else {
            Err(format!(
                "FOCUS_E2E_NO_BUILD is set but {missing:?} do not exist"
            ))
        };
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace_root())
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .args(["-p", "runtime-tokio", "-p", "runtime-async-std", "--bins"])
        .stdin(Stdio::null());
    // Cargo gives a running test its package's variables; build scripts
    // that watch them (ring's watches CARGO_MANIFEST_DIR and CARGO_PKG_*)
    // would rerun and rebuild half the tree, twice: here and in the next
    // plain `cargo build`.
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("CARGO_PKG_")
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
    eprintln!("e2e: building the focus binaries: {cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
    if !out.status.success() {
        return Err(format!(
            "building the focus binaries failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let missing = missing();
    if missing.is_empty() {
        Ok(dir)
    } else {
        Err(format!(
            "cargo build succeeded but {missing:?} do not exist"
        ))
    }
}

/// Log lines of a child, shared with the threads that read its pipes.
#[derive(Default)]
struct LogBuffer {
    state: Mutex<LogState>,
    changed: Condvar,
}

#[derive(Default)]
struct LogState {
    lines: Vec<String>,
    /// Pipes still open; 0 once the process (and its output) has ended.
    open_pipes: usize,
}

impl LogBuffer {
    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running focus binary with its own config file. Its stdout and stderr
/// lines are collected (see [`FocusProcess::logs`]); it is killed on drop,
/// and its output is printed then if the test is panicking.
pub struct FocusProcess {
    child: Child,
    name: String,
    temp: Option<tempfile::TempDir>,
    config_path: PathBuf,
    rest_port: u16,
    log: Arc<LogBuffer>,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

/// No extra environment, for [`FocusProcess::spawn`].
pub const NO_ENV: [(&str, Option<&str>); 0] = [];

/// How long [`FocusProcess::terminate`] waits for the exit.
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(30);

impl FocusProcess {
    /// Writes `config_text` to `jicofo.conf` in a new temporary directory
    /// and starts `binary --config <that file>`.
    ///
    /// The child's environment is the test's, except: `RUST_LOG` is `info`
    /// (or `FOCUS_E2E_RUST_LOG`), and `SSL_CERT_FILE` / `SSL_CERT_DIR` are
    /// removed, so trust comes from the system store only. Then `extra_env`
    /// applies: `(name, Some(value))` sets, `(name, None)` removes.
    ///
    /// The REST port (for [`FocusProcess::http_get`]) is read from the
    /// config text (`jicofo.rest.port`, 8888 when absent).
    pub fn spawn<K, V>(
        binary: impl AsRef<Path>,
        config_text: &str,
        extra_env: impl IntoIterator<Item = (K, Option<V>)>,
    ) -> FocusProcess
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let binary = binary.as_ref();
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "focus".into());
        let mut temp = tempfile::Builder::new()
            .prefix("focus-e2e-conf.")
            .tempdir()
            .expect("create a temporary directory for jicofo.conf");
        if keep_dirs() {
            temp.disable_cleanup(true);
        }
        let config_path = temp.path().join("jicofo.conf");
        std::fs::write(&config_path, config_text).expect("write jicofo.conf");
        let rest_port = rest_port_in(config_text).unwrap_or(8888);

        let mut cmd = Command::new(binary);
        cmd.arg("--config")
            .arg(&config_path)
            .env(
                "RUST_LOG",
                std::env::var("FOCUS_E2E_RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in extra_env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));

        let log = Arc::new(LogBuffer::default());
        let pipes: Vec<Box<dyn Read + Send>> = vec![
            Box::new(child.stdout.take().expect("piped stdout")),
            Box::new(child.stderr.take().expect("piped stderr")),
        ];
        log.lock().open_pipes = pipes.len();
        let readers = pipes
            .into_iter()
            .map(|pipe| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || read_lines(pipe, &log))
            })
            .collect();
        FocusProcess {
            child,
            name,
            temp: Some(temp),
            config_path,
            rest_port,
            log,
            readers,
            exit: None,
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The config file it was started with.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The REST port [`FocusProcess::http_get`] talks to.
    pub fn rest_port(&self) -> u16 {
        self.rest_port
    }

    /// Everything it wrote to stdout and stderr so far, one line each.
    pub fn logs(&self) -> String {
        self.log.lock().lines.join("\n")
    }

    /// How many lines so far contain `needle`.
    pub fn count_log(&self, needle: &str) -> usize {
        self.log
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

    /// Waits until `count` lines contain `needle`; false after `timeout`,
    /// or as soon as the process has ended with fewer.
    pub fn wait_for_log_count(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.log.lock();
        loop {
            if state.lines.iter().filter(|l| l.contains(needle)).count() >= count {
                return true;
            }
            let now = Instant::now();
            if state.open_pipes == 0 || now >= deadline {
                return false;
            }
            state = self
                .log
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// `GET path` on the REST port: (status, body). Errors when nothing
    /// answers within 10 s.
    pub fn http_get(&self, path: &str) -> std::io::Result<(u16, String)> {
        self.http_get_full(path).map(|r| (r.status, r.body))
    }

    /// `GET path` on the REST port, with the headers.
    pub fn http_get_full(&self, path: &str) -> std::io::Result<HttpResponse> {
        http_get(self.rest_port, path, Duration::from_secs(10))
    }

    /// Polls `GET path` until it answers `status`; false after `timeout` or
    /// when the process has exited.
    pub fn wait_for_http_status(&mut self, path: &str, status: u16, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if matches!(self.http_get(path), Ok((s, _)) if s == status) {
                return true;
            }
            if Instant::now() >= deadline || self.try_exit_status().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        if self.exit.is_none() {
            let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
            // SAFETY: kill(2) has no memory-safety preconditions; the child
            // is not reaped yet (no exit status seen), so the pid is its own.
            unsafe { libc::kill(pid, signal) };
        }
    }

    /// Sends SIGTERM and waits for the exit (30 s); panics, with the logs,
    /// when it does not exit in time (it is killed then).
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        match self.wait_exit(TERMINATE_TIMEOUT) {
            Some(status) => status,
            None => {
                self.kill();
                panic!(
                    "{} did not exit within {TERMINATE_TIMEOUT:?} of SIGTERM; output:\n{}",
                    self.name,
                    self.logs()
                );
            }
        }
    }

    /// Waits up to `timeout` for the process to exit by itself; its status,
    /// with all its output collected.
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
    }

    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for FocusProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- output of {} (config {}) ----\n{}\n---- end ----",
                self.name,
                self.config_path.display(),
                self.logs()
            );
            if let Some(temp) = self.temp.as_mut() {
                temp.disable_cleanup(true);
            }
        }
    }
}

fn read_lines(pipe: Box<dyn Read + Send>, log: &LogBuffer) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']).to_owned();
                log.lock().lines.push(text);
                log.changed.notify_all();
            }
        }
    }
    log.lock().open_pipes -= 1;
    log.changed.notify_all();
}

/// `jicofo.rest.port` in a HOCON text laid out as [`super::jicofo_conf`]
/// writes it (one `key {`, `}` or `key = value` per line), or written as a
/// dotted key.
fn rest_port_in(config: &str) -> Option<u16> {
    let mut path: Vec<String> = Vec::new();
    let mut port = None;
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        if line == "}" {
            path.pop();
            continue;
        }
        if let Some(key) = line.strip_suffix('{') {
            let key = key.trim().trim_end_matches(['=', ':']).trim();
            path.extend(key.split('.').map(str::to_owned));
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        let mut full = path.clone();
        full.extend(key.trim().split('.').map(str::to_owned));
        if full == ["jicofo", "rest", "port"] {
            port = value.trim().trim_matches('"').parse().ok();
        }
    }
    port
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rest_port() {
        let nested = "jicofo {\n  xmpp {\n    client {\n      port = 5222\n    }\n  }\n  rest {\n    port = 9123\n  }\n}\n";
        assert_eq!(rest_port_in(nested), Some(9123));
        assert_eq!(rest_port_in("jicofo.rest.port = \"7000\"\n"), Some(7000));
        assert_eq!(
            rest_port_in("jicofo {\n  rest.port = 7001\n}\n"),
            Some(7001)
        );
        assert_eq!(rest_port_in("jicofo { }"), None);
    }

    #[test]
    fn profile_dir_is_where_the_test_runs() {
        // Unit tests run from <target>/<profile>/deps/.
        let name = profile_dir_name();
        assert!(!name.is_empty());
        assert_ne!(name, "deps");
    }
}
