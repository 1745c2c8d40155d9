//! The focus binaries as child processes.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::child::{ChildProcess, cargo_build};
use super::{HttpResponse, http_get, keep_dirs};

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

fn build_binaries() -> Result<PathBuf, String> {
    cargo_build(
        &["-p", "runtime-tokio", "-p", "runtime-async-std", "--bins"],
        &Runtime::ALL.map(Runtime::binary_name),
        "the focus binaries",
    )
}

/// A running focus binary with its own config file. Its stdout and stderr
/// lines are collected (see [`FocusProcess::logs`]); it is killed on drop,
/// and its output is printed then if the test is panicking.
pub struct FocusProcess {
    child: ChildProcess,
    name: String,
    temp: Option<tempfile::TempDir>,
    config_path: PathBuf,
    rest_port: u16,
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
            .stdin(Stdio::null());
        for (key, value) in extra_env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        let label = format!("{name} (config {})", config_path.display());
        let child = ChildProcess::spawn(&mut cmd, binary, label);
        FocusProcess {
            child,
            name,
            temp: Some(temp),
            config_path,
            rest_port,
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.pid()
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

    /// Waits until `count` lines contain `needle`; false after `timeout`,
    /// or as soon as the process has ended with fewer.
    pub fn wait_for_log_count(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        self.child.wait_for_log_count(needle, count, timeout)
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
        self.child.signal(signal);
    }

    /// Sends SIGTERM and waits for the exit (30 s); panics, with the logs,
    /// when it does not exit in time (it is killed then).
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        let name = &self.name;
        self.child.expect_exit(TERMINATE_TIMEOUT, || {
            format!("{name} did not exit within {TERMINATE_TIMEOUT:?} of SIGTERM")
        })
    }

    /// Waits up to `timeout` for the process to exit by itself; its status,
    /// with all its output collected.
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

impl Drop for FocusProcess {
    /// Keeps the config directory when the test is panicking (the child,
    /// dropped next, prints its output naming the config file).
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(temp) = self.temp.as_mut()
        {
            temp.disable_cleanup(true);
        }
    }
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
}
