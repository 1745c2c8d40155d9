//! End-to-end harness: a real Prosody started from `scripts/prosody`, the
//! focus binaries as child processes, and a tiny HTTP client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether the end-to-end tests can run here. Without Prosody they are
/// skipped, unless `FOCUS_E2E_REQUIRED` is set (CI), where that is a failure.
pub fn prosody_available() -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v prosody && command -v prosodyctl && command -v openssl"])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !found && std::env::var_os("FOCUS_E2E_REQUIRED").is_some() {
        panic!("prosody is not installed but FOCUS_E2E_REQUIRED is set (run scripts/install-deps.sh)");
    }
    if !found {
        eprintln!("skipping: prosody not installed (scripts/install-deps.sh installs it)");
    }
    found
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A Prosody shaped like docker-jitsi-meet, stopped on drop.
pub struct Prosody {
    /// Its directory (config, certificates, log).
    pub dir: PathBuf,
    /// The c2s port.
    pub xmpp_port: u16,
    http_port: u16,
    /// The CA certificate clients must trust.
    pub ca_cert: PathBuf,
    /// The focus account's password.
    pub focus_password: String,
    /// The bridge account's password.
    pub jvb_password: String,
}

impl Prosody {
    /// Starts one on free ports in a fresh temporary directory.
    pub fn start() -> Prosody {
        let dir = std::env::temp_dir().join(format!("focus-e2e-{}-{}", std::process::id(), free_port()));
        let mut p = Prosody {
            dir,
            xmpp_port: free_port(),
            http_port: free_port(),
            ca_cert: PathBuf::new(),
            focus_password: String::new(),
            jvb_password: String::new(),
        };
        p.launch();
        p
    }

    fn launch(&mut self) {
        let out = Command::new(workspace().join("scripts/prosody/start.sh"))
            .arg(&self.dir)
            .env("XMPP_PORT", self.xmpp_port.to_string())
            .env("HTTP_PORT", self.http_port.to_string())
            .env("COMPONENT_PORT", free_port().to_string())
            .output()
            .expect("run scripts/prosody/start.sh");
        assert!(out.status.success(), "prosody failed to start: {}", String::from_utf8_lossy(&out.stderr));
        let vars = String::from_utf8_lossy(&out.stdout);
        let var = |key: &str| {
            vars.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .map(|v| v.trim_matches('\'').to_owned())
                .unwrap_or_else(|| panic!("{key} missing from start.sh output"))
        };
        self.ca_cert = PathBuf::from(var("PROSODY_CA_CERT"));
        self.focus_password = var("JICOFO_AUTH_PASSWORD");
        self.jvb_password = var("JVB_AUTH_PASSWORD");
    }

    /// Stops it and starts it again on the same ports and directory.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn stop(&self) {
        let _ = Command::new(workspace().join("scripts/prosody/stop.sh")).arg(&self.dir).status();
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Which binary to run.
#[derive(Debug, Clone, Copy)]
pub enum Runtime {
    /// `focus` (runtime-tokio).
    Tokio,
    /// `focus-async-std` (runtime-async-std).
    AsyncStd,
}

/// The path of a focus binary, building both once if missing.
pub fn focus_binary(rt: Runtime) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let name = match rt {
        Runtime::Tokio => "focus",
        Runtime::AsyncStd => "focus-async-std",
    };
    let path = target.join("debug").join(name);
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace())
            .args(["build", "-p", "runtime-tokio", "-p", "runtime-async-std", "--bins"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the focus binaries failed");
    });
    path
}

/// A jicofo.conf for `prosody` with the REST API on `rest_port`; `extra` is
/// appended inside `jicofo { xmpp { client { … } } }`.
pub fn jicofo_conf(prosody: &Prosody, rest_port: u16, password: &str, extra_client: &str) -> String {
    format!(
        r#"jicofo {{
  xmpp {{
    client {{
      hostname = "127.0.0.1"
      port = "{port}"
      domain = "auth.meet.jitsi"
      xmpp-domain = "meet.jitsi"
      username = "focus"
      password = "{password}"
      client-proxy = "focus.meet.jitsi"
      conference-muc-jid = "muc.meet.jitsi"
      {extra_client}
    }}
    trusted-domains = [ ]
  }}
  bridge {{ brewery-jid = "jvbbrewery@internal-muc.meet.jitsi" }}
  rest {{ port = {rest_port} }}
}}
include "custom-jicofo.conf"
"#,
        port = prosody.xmpp_port
    )
}

/// A running focus process; killed on drop.
pub struct FocusProcess {
    child: Child,
    logs: Arc<Mutex<String>>,
    /// The REST port.
    pub rest_port: u16,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl FocusProcess {
    /// Writes `config` to a file and starts `rt`'s binary with it.
    pub fn spawn(rt: Runtime, config: &str, rest_port: u16, env: &[(&str, &Path)]) -> FocusProcess {
        let dir = std::env::temp_dir().join(format!("focus-proc-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let conf = dir.join("jicofo.conf");
        std::fs::write(&conf, config).expect("write config");
        let mut cmd = Command::new(focus_binary(rt));
        cmd.arg("--config").arg(&conf).env("RUST_LOG", "info").env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn focus");
        let logs = Arc::new(Mutex::new(String::new()));
        let pipes: [Box<dyn Read + Send>; 2] = [
            Box::new(child.stdout.take().expect("stdout")),
            Box::new(child.stderr.take().expect("stderr")),
        ];
        for pipe in pipes {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut l = logs.lock().unwrap_or_else(|e| e.into_inner());
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        FocusProcess { child, logs, rest_port, _dir: TempDir(dir) }
    }

    /// Everything logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until `needle` has been logged `count` times.
    pub fn wait_for_log(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.logs().matches(needle).count() >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// `GET path` on the REST API: status and body.
    pub fn http_get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.rest_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let status = out.split(' ').nth(1)?.parse().ok()?;
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Some((status, body))
    }

    /// Polls `path` until it answers `status`.
    pub fn wait_for_status(&self, path: &str, status: u16, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.http_get(path).is_some_and(|(s, _)| s == status) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self, timeout: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.wait(timeout)
    }

    /// Waits for the process to exit by itself.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for FocusProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
