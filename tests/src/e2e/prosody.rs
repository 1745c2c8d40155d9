//! A real Prosody for one test, from `scripts/prosody/start.sh`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{free_ports, keep_dirs, workspace_root};

/// How the focus reaches Prosody (`FOCUS_MODE` of `start.sh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FocusMode {
    /// `focus@auth.<domain>` logs in as a client, behind the
    /// `focus.<domain>` client proxy (docker-jitsi-meet's layout).
    #[default]
    Client,
    /// `focus.<domain>` is an external component (XEP-0114).
    Component,
}

/// What to start: the knobs of `scripts/prosody/start.sh`.
#[derive(Debug, Clone)]
pub struct ProsodyOptions {
    /// The XMPP domain; `auth.`, `muc.`, `internal-muc.` and `focus.`
    /// hosts derive from it.
    pub domain: String,
    /// Password of `focus@auth.<domain>`.
    pub focus_password: String,
    /// Password of `jvb@auth.<domain>`.
    pub jvb_password: String,
    /// More accounts on `auth.<domain>`: (user, password).
    pub extra_users: Vec<(String, String)>,
    /// Client (with the client proxy) or component.
    pub focus_mode: FocusMode,
    /// The secret of the `focus.<domain>` component in component mode.
    pub focus_component_secret: String,
    /// More external components: (host, secret).
    pub ext_components: Vec<(String, String)>,
    /// Whether c2s requires TLS before authentication.
    pub require_encryption: bool,
    /// A c2s rate limit such as `10kb/s` (focus and jvb are exempt).
    pub rate_limit: Option<String>,
    /// Prosody's log level; `FOCUS_E2E_PROSODY_LOG_LEVEL` or `info` when
    /// `None` (`debug` logs every stanza).
    pub log_level: Option<String>,
}

impl Default for ProsodyOptions {
    fn default() -> Self {
        Self {
            domain: "meet.jitsi".into(),
            focus_password: "focuspass".into(),
            jvb_password: "jvbpass".into(),
            extra_users: Vec::new(),
            focus_mode: FocusMode::Client,
            focus_component_secret: "focussecret".into(),
            ext_components: Vec::new(),
            require_encryption: true,
            rate_limit: None,
            log_level: None,
        }
    }
}

/// A running Prosody on loopback ports of its own, in a temporary
/// directory of its own. Stopped (and its directory removed) on drop; when
/// the test is panicking, the end of its log is printed first.
///
/// Set `FOCUS_E2E_KEEP=1` to keep the directories of every test.
pub struct Prosody {
    dir: PathBuf,
    temp: Option<tempfile::TempDir>,
    env: Vec<(String, String)>,
    vars: BTreeMap<String, String>,
    running: bool,
    kept: bool,
}

/// How many times a start is tried with fresh ports when one was taken in
/// the meantime.
const START_ATTEMPTS: usize = 4;

impl Prosody {
    /// Starts a Prosody with `opts` on free loopback ports. Panics, with
    /// the script's diagnostics, when it cannot start.
    pub fn start(opts: ProsodyOptions) -> Prosody {
        let temp = tempfile::Builder::new()
            .prefix("focus-e2e-prosody.")
            .tempdir()
            .expect("create a temporary directory for Prosody");
        let dir = temp.path().to_owned();
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let [xmpp, http, component] = free_ports::<3>();
            let env = script_env(&opts, xmpp, http, component);
            match run_start(&dir, &env) {
                Ok(vars) => {
                    let mut prosody = Prosody {
                        dir,
                        temp: Some(temp),
                        env,
                        vars,
                        running: true,
                        kept: false,
                    };
                    if keep_dirs() {
                        prosody.keep();
                    }
                    return prosody;
                }
                Err(e) if e.contains("already in use") => last_error = e,
                Err(e) => panic!("Prosody did not start:\n{e}"),
            }
        }
        panic!("Prosody did not start ({START_ATTEMPTS} tries with fresh ports):\n{last_error}");
    }

    /// Stops Prosody and starts it again on the same ports, in the same
    /// directory, with the same CA and accounts.
    pub fn restart(&mut self) {
        self.stop();
        self.vars = run_start(&self.dir, &self.env)
            .unwrap_or_else(|e| panic!("Prosody did not start again:\n{e}"));
        self.running = true;
    }

    /// Stops Prosody (SIGTERM, then SIGKILL after 10 s). Its directory stays
    /// until the value is dropped.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let out = Command::new("bash")
            .arg(workspace_root().join("scripts/prosody/stop.sh"))
            .arg(&self.dir)
            .stdin(Stdio::null())
            .output();
        let stopped = out.as_ref().is_ok_and(|o| o.status.success());
        if !stopped {
            // Last resort, by its pid only.
            if let Ok(pid) = self.var("PROSODY_PID").parse::<i32>() {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            eprintln!("prosody: stop.sh failed ({out:?}); sent SIGKILL");
        }
    }

    /// Whether it was started and not stopped since.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Keeps the directory after drop (and prints where it is then).
    pub fn keep(&mut self) {
        if let Some(temp) = self.temp.as_mut() {
            temp.disable_cleanup(true);
        }
        self.kept = true;
    }

    /// A `KEY=value` of the start script's output, e.g. `PROSODY_LOG`.
    /// Panics when absent.
    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("start.sh printed no {key}"))
    }

    /// Every `KEY=value` the start script printed.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    fn port(&self, key: &str) -> u16 {
        self.var(key)
            .parse()
            .unwrap_or_else(|_| panic!("{key} is not a port"))
    }

    /// The c2s port (STARTTLS) on 127.0.0.1.
    pub fn xmpp_port(&self) -> u16 {
        self.port("XMPP_PORT")
    }

    /// The BOSH/websocket port on 127.0.0.1.
    pub fn http_port(&self) -> u16 {
        self.port("HTTP_PORT")
    }

    /// The XEP-0114 component port, when a component is configured.
    pub fn component_port(&self) -> Option<u16> {
        self.vars
            .contains_key("COMPONENT_PORT")
            .then(|| self.port("COMPONENT_PORT"))
    }

    /// The PEM file of the throwaway CA that signed the server certificate.
    pub fn ca_cert(&self) -> PathBuf {
        PathBuf::from(self.var("PROSODY_CA_CERT"))
    }

    /// Prosody's pid.
    pub fn pid(&self) -> u32 {
        self.var("PROSODY_PID").parse().expect("PROSODY_PID")
    }

    /// The run directory (config, certs, data, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `meet.jitsi`.
    pub fn domain(&self) -> &str {
        self.var("XMPP_DOMAIN")
    }

    /// `auth.meet.jitsi`.
    pub fn auth_domain(&self) -> &str {
        self.var("XMPP_AUTH_DOMAIN")
    }

    /// `muc.meet.jitsi`.
    pub fn muc_domain(&self) -> &str {
        self.var("XMPP_MUC_DOMAIN")
    }

    /// `internal-muc.meet.jitsi`.
    pub fn internal_muc_domain(&self) -> &str {
        self.var("XMPP_INTERNAL_MUC_DOMAIN")
    }

    /// `focus.meet.jitsi`.
    pub fn focus_domain(&self) -> &str {
        self.var("FOCUS_DOMAIN")
    }

    /// `focus@auth.meet.jitsi`.
    pub fn focus_jid(&self) -> &str {
        self.var("FOCUS_JID")
    }

    /// The focus account's password.
    pub fn focus_password(&self) -> &str {
        self.var("JICOFO_AUTH_PASSWORD")
    }

    /// `jvb@auth.meet.jitsi`.
    pub fn jvb_jid(&self) -> &str {
        self.var("JVB_JID")
    }

    /// The jvb account's password.
    pub fn jvb_password(&self) -> &str {
        self.var("JVB_AUTH_PASSWORD")
    }

    /// Prosody's log so far (empty when unreadable).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prosody.log")).unwrap_or_default()
    }
}

impl Drop for Prosody {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(80)..];
            eprintln!(
                "---- end of Prosody's log ({}) ----\n{}\n---- end ----",
                self.dir.join("prosody.log").display(),
                tail.join("\n")
            );
            self.keep();
        }
        if self.kept {
            eprintln!("prosody: kept {}", self.dir.display());
        }
    }
}

fn script_env(
    opts: &ProsodyOptions,
    xmpp: u16,
    http: u16,
    component: u16,
) -> Vec<(String, String)> {
    let pairs = |list: &[(String, String)]| {
        list.iter()
            .map(|(a, b)| format!("{a}:{b}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let log_level = opts
        .log_level
        .clone()
        .or_else(|| std::env::var("FOCUS_E2E_PROSODY_LOG_LEVEL").ok())
        .unwrap_or_else(|| "info".into());
    let mode = match opts.focus_mode {
        FocusMode::Client => "client",
        FocusMode::Component => "component",
    };
    [
        ("XMPP_PORT", xmpp.to_string()),
        ("HTTP_PORT", http.to_string()),
        ("COMPONENT_PORT", component.to_string()),
        ("XMPP_DOMAIN", opts.domain.clone()),
        ("JICOFO_AUTH_PASSWORD", opts.focus_password.clone()),
        ("JVB_AUTH_PASSWORD", opts.jvb_password.clone()),
        ("EXTRA_USERS", pairs(&opts.extra_users)),
        ("FOCUS_MODE", mode.into()),
        (
            "FOCUS_COMPONENT_SECRET",
            opts.focus_component_secret.clone(),
        ),
        ("EXT_COMPONENTS", pairs(&opts.ext_components)),
        (
            "C2S_REQUIRE_ENCRYPTION",
            opts.require_encryption.to_string(),
        ),
        (
            "C2S_RATE_LIMIT",
            opts.rate_limit.clone().unwrap_or_default(),
        ),
        ("PROSODY_LOG_LEVEL", log_level),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Runs the start script; the parsed `KEY=value` lines, or its stderr.
fn run_start(dir: &Path, env: &[(String, String)]) -> Result<BTreeMap<String, String>, String> {
    let script = workspace_root().join("scripts/prosody/start.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "{} exited with {}:\n{stderr}",
            script.display(),
            out.status
        ));
    }
    let vars = parse_vars(&String::from_utf8_lossy(&out.stdout));
    if !vars.contains_key("PROSODY_PID") {
        return Err(format!(
            "{} printed no PROSODY_PID:\n{stderr}",
            script.display()
        ));
    }
    Ok(vars)
}

/// Parses `KEY=value` lines whose values are quoted by bash's `printf %q`.
pub fn parse_vars(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .filter(|(k, _)| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(|(k, v)| (k.to_owned(), shell_unquote(v)))
        .collect()
}

/// Undoes the quoting of bash's `printf %q` (backslash escapes, '...',
/// "..." and $'...').
fn shell_unquote(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '\'' => out.extend(chars.by_ref().take_while(|&c| c != '\'')),
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => out.extend(chars.next()),
                        c => out.push(c),
                    }
                }
            }
            '$' if chars.peek() == Some(&'\'') => {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\'' => break,
                        '\\' => match chars.next() {
                            Some('n') => out.push('\n'),
                            Some('t') => out.push('\t'),
                            Some('r') => out.push('\r'),
                            Some('e' | 'E') => out.push('\u{1b}'),
                            Some('x') => {
                                let hex: String = chars.by_ref().take(2).collect();
                                if let Ok(b) = u8::from_str_radix(&hex, 16) {
                                    out.push(char::from(b));
                                }
                            }
                            Some(c) => out.push(c),
                            None => {}
                        },
                        c => out.push(c),
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquotes_printf_q() {
        let vars = parse_vars(
            "A=plain\nB=/tmp/with\\ space\nC=$'tab\\there'\nD='single q'\nnot a var\nE=\n",
        );
        assert_eq!(vars["A"], "plain");
        assert_eq!(vars["B"], "/tmp/with space");
        assert_eq!(vars["C"], "tab\there");
        assert_eq!(vars["D"], "single q");
        assert_eq!(vars["E"], "");
        assert_eq!(vars.len(), 5);
    }
}
