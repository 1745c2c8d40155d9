//! What the focus and the bridge emulator share as child processes: their
//! output collected line by line, waiting for log lines and for the exit,
//! killing, and building the binaries with cargo.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::workspace_root;

/// Output lines of a child, shared with the threads that read its pipes.
#[derive(Default)]
struct Output {
    state: Mutex<OutputState>,
    changed: Condvar,
}

#[derive(Default)]
struct OutputState {
    /// stdout and stderr lines, interleaved as they came.
    lines: Vec<String>,
    /// Pipes still open; 0 once the process (and its output) has ended.
    open_pipes: usize,
}

impl Output {
    fn lock(&self) -> MutexGuard<'_, OutputState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running child process whose stdout and stderr lines are collected
/// (and its stdin kept, when piped). It is killed on drop, and its output
/// printed then, under its label, if the test is panicking.
pub struct ChildProcess {
    child: Child,
    label: String,
    stdin: Option<ChildStdin>,
    output: Arc<Output>,
    readers: Vec<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

impl ChildProcess {
    /// Starts `cmd` with stdout and stderr piped (stdin as `cmd` sets it),
    /// and threads reading them; panics, naming `binary`, when it cannot
    /// start. `label` names it in the output printed on a panic.
    pub fn spawn(cmd: &mut Command, binary: &Path, label: String) -> ChildProcess {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
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
        ChildProcess {
            stdin: child.stdin.take(),
            child,
            label,
            output,
            readers,
            exit: None,
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it wrote to stdout and stderr so far, one line each.
    pub fn logs(&self) -> String {
        self.output.lock().lines.join("\n")
    }

    /// How many lines so far contain `needle`.
    pub fn count_log(&self, needle: &str) -> usize {
        count_matching(&self.output.lock().lines, needle)
    }

    /// Waits until `count` lines contain `needle`; false after `timeout`,
    /// or as soon as the process has ended with fewer.
    pub fn wait_for_log_count(&self, needle: &str, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.output.lock();
        loop {
            if count_matching(&state.lines, needle) >= count {
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

    /// Writes `line` (trimmed) and a newline to its stdin; false when stdin
    /// is not piped, closed, or the process has gone.
    pub fn send_line(&mut self, line: &str) -> bool {
        let Some(stdin) = self.stdin.as_mut() else {
            return false;
        };
        writeln!(stdin, "{}", line.trim())
            .and_then(|()| stdin.flush())
            .is_ok()
    }

    /// Closes its stdin (the child reads end of file).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process, unless it has
    /// been reaped.
    pub fn signal(&self, signal: i32) {
        if self.exit.is_none() {
            let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
            // SAFETY: kill(2) has no memory-safety preconditions; the child
            // is not reaped yet (no exit status seen), so the pid is its own.
            unsafe { libc::kill(pid, signal) };
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

    /// [`ChildProcess::wait_exit`], but when it does not exit in time it is
    /// killed and this panics with `failure()` and the output.
    pub fn expect_exit(
        &mut self,
        timeout: Duration,
        failure: impl FnOnce() -> String,
    ) -> ExitStatus {
        match self.wait_exit(timeout) {
            Some(status) => status,
            None => {
                self.kill();
                panic!("{}; output:\n{}", failure(), self.logs());
            }
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

    /// Kills it (SIGKILL) and reaps it; closes its stdin.
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

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- output of {} ----\n{}\n---- end ----",
                self.label,
                self.logs()
            );
        }
    }
}

fn count_matching(lines: &[String], needle: &str) -> usize {
    lines.iter().filter(|l| l.contains(needle)).count()
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

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// `debug`, `release` or a custom profile's directory: `FOCUS_E2E_PROFILE`
/// when set (a benchmark smoke run can use the debug binaries the tests
/// built), else where the running test executable lives
/// (`<target>/<profile>/deps/<exe>`).
fn profile_dir_name() -> String {
    if let Some(profile) = std::env::var("FOCUS_E2E_PROFILE")
        .ok()
        .filter(|p| !p.is_empty())
    {
        return profile;
    }
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

/// Makes sure `binaries` (file names) are built in the target directory
/// the tests were built in (`CARGO_TARGET_DIR`, else `<workspace>/target`;
/// same profile as the test executable), and returns that directory.
/// Runs `cargo build <build_args>` (with `$CARGO` when set) in that
/// profile, a no-op when they are up to date; with `FOCUS_E2E_NO_BUILD=1`
/// builds nothing and checks they exist.
/// `what` names them in messages ("the focus binaries").
pub fn cargo_build(build_args: &[&str], binaries: &[&str], what: &str) -> Result<PathBuf, String> {
    let profile = profile_dir_name();
    let dir = target_dir().join(&profile);
    let missing = || {
        binaries
            .iter()
            .map(|name| dir.join(name))
            .filter(|p| !p.is_file())
            .collect::<Vec<_>>()
    };
    let missing_text = |missing: Vec<PathBuf>| match missing.as_slice() {
        [one] => format!("{} does not exist", one.display()),
        _ => format!("{missing:?} do not exist"),
    };
    if super::env_flag("FOCUS_E2E_NO_BUILD") {
        let missing = missing();
        return if missing.is_empty() {
            Ok(dir)
        } else {
            Err(format!(
                "FOCUS_E2E_NO_BUILD is set but {}",
                missing_text(missing)
            ))
        };
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace_root())
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .args(build_args)
        .stdin(Stdio::null());
    // Cargo gives a running test its package's variables; build scripts
    // that watch them (ring's watches CARGO_MANIFEST_DIR and CARGO_PKG_*)
    // would rerun and rebuild half the tree, twice: here and in the next
    // plain `cargo build`.
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
    eprintln!("e2e: building {what}: {cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
    if !out.status.success() {
        return Err(format!(
            "building {what} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let missing = missing();
    if missing.is_empty() {
        Ok(dir)
    } else {
        Err(format!(
            "cargo build succeeded but {}",
            missing_text(missing)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_dir_is_where_the_test_runs() {
        // Unit tests run from <target>/<profile>/deps/.
        let name = profile_dir_name();
        assert!(!name.is_empty());
        assert_ne!(name, "deps");
    }

    #[test]
    fn collects_output_and_the_exit() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo one; echo two >&2; read line; echo \"got $line\"; exit 3",
        ])
        .stdin(Stdio::piped());
        let mut child = ChildProcess::spawn(&mut cmd, Path::new("sh"), "sh".into());
        assert!(child.wait_for_log_count("o", 2, Duration::from_secs(10)));
        assert!(child.send_line("  hello \n"));
        let status = child.expect_exit(Duration::from_secs(10), || "sh did not exit".into());
        assert_eq!(status.code(), Some(3));
        assert_eq!(child.count_log("got hello"), 1);
        assert!(!child.wait_for_log_count("never", 1, Duration::from_secs(10)));
        assert!(!child.send_line("late"));
    }
}
