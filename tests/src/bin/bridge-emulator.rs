//! `bridge-emulator`: a Jitsi Videobridge stand-in over a real XMPP
//! connection.
//!
//! It logs in like JVB (STARTTLS, SCRAM, as `--user@--domain`, resource =
//! the nickname), joins the brewery room, republishes its stats presence
//! and answers health checks and COLIBRI2 through
//! [`focus_tests::emulator::EmulatedBridge`], on the wall clock.
//!
//! ```text
//! bridge-emulator --port 5222 --ca-cert ca.pem --password jvbpass \
//!     --nick jvb-a --region eu-west --relay-id relay-a
//! ```
//!
//! stdout: `bridge-emulator ready <occupant-jid>` once the MUC has
//! reflected the join. stderr: one line per notable event. stdin: control
//! lines (`drain on|off`, `graceful-shutdown`, `shutting-down`, `healthy
//! on|off`, `unresponsive on|off`, `stress 0.7|auto`, `ice-restart on|off`,
//! `status`, `crash` (exit at once, without leaving), `quit` (leave the
//! brewery, exit 0)).
//! At the end of stdin it keeps running unless `--exit-on-eof`. SIGTERM
//! and SIGINT act as `quit`.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::exit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use focus_tests::emulator::{
    BridgeOptions, Control, EmulatedBridge, EmulatorEvent, IceRestartOutcome,
};
use focus_tests::xmpp_client::TestClient;

const USAGE: &str = "\
usage: bridge-emulator --ca-cert PATH --password PASS [options]
  --port N                 c2s port on 127.0.0.1 (5222)
  --ca-cert PATH           PEM of the CA that signed the server certificate
  --domain D               login domain (auth.meet.jitsi)
  --user U                 account (jvb)
  --password P             password (or $JVB_AUTH_PASSWORD)
  --brewery JID            brewery room (jvbbrewery@internal-muc.meet.jitsi)
  --nick N                 MUC nickname = bridge id (jvb-emulator)
  --region R               region stat
  --relay-id ID            relay_id stat
  --version V              version stat
  --release R              release stat
  --stress X               fixed stress_level (default: from the load)
  --drain                  start in drain mode
  --stats-interval-ms N    presence republish period (5000)
  --seed N                 seed for ids and credentials (0)
  --media-port N           UDP port of the host candidates (10000)
  --web-socket-base URL    base of web-socket URLs (wss://127.0.0.1:8443), 'none'
  --unhealthy              fail health checks from the start
  --unresponsive           answer no IQ from the start
  --exit-on-eof            quit cleanly when stdin ends";

/// Parsed command line.
struct Args {
    port: u16,
    ca_cert: PathBuf,
    domain: String,
    user: String,
    password: String,
    options: BridgeOptions,
    exit_on_eof: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut port = 5222;
    let mut ca_cert = None;
    let mut domain = "auth.meet.jitsi".to_owned();
    let mut user = "jvb".to_owned();
    let mut password = std::env::var("JVB_AUTH_PASSWORD").ok();
    let mut options = BridgeOptions::new("jvbbrewery@internal-muc.meet.jitsi", "jvb-emulator");
    let mut exit_on_eof = false;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        fn number<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
        }
        match flag.as_str() {
            "--port" => port = number(&flag, value(&flag)?)?,
            "--ca-cert" => ca_cert = Some(PathBuf::from(value(&flag)?)),
            "--domain" => domain = value(&flag)?,
            "--user" => user = value(&flag)?,
            "--password" => password = Some(value(&flag)?),
            "--brewery" => options.brewery = value(&flag)?,
            "--nick" => options.nick = value(&flag)?,
            "--region" => options.region = Some(value(&flag)?),
            "--relay-id" => options.relay_id = Some(value(&flag)?),
            "--version" => options.version = value(&flag)?,
            "--release" => options.release = Some(value(&flag)?),
            "--stress" => {
                let v = value(&flag)?;
                options.stress = if v == "auto" {
                    None
                } else {
                    Some(number::<f64>(&flag, v)?)
                };
            }
            "--drain" => {
                options.drain = match inline.as_deref() {
                    None | Some("true" | "on") => true,
                    Some("false" | "off") => false,
                    Some(other) => return Err(format!("--drain: on or off, not {other}")),
                }
            }
            "--stats-interval-ms" => {
                let ms: u64 = number(&flag, value(&flag)?)?;
                options.stats_interval = Duration::from_millis(ms.max(1));
            }
            "--seed" => options.seed = number(&flag, value(&flag)?)?,
            "--media-port" => options.media_port = number(&flag, value(&flag)?)?,
            "--web-socket-base" => {
                let v = value(&flag)?;
                options.web_socket_base = (v != "none").then_some(v);
            }
            "--unhealthy" => options.unhealthy = true,
            "--unresponsive" => options.unresponsive = true,
            "--exit-on-eof" => exit_on_eof = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        port,
        ca_cert: ca_cert.ok_or("--ca-cert is required")?,
        domain,
        user,
        password: password.ok_or("--password (or JVB_AUTH_PASSWORD) is required")?,
        options,
        exit_on_eof,
    })
}

/// Set by SIGTERM / SIGINT: leave cleanly.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn install_signal_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int);
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; signal(2) has no other preconditions.
        unsafe { libc::signal(signal, handler as libc::sighandler_t) };
    }
}

/// What the stdin thread reports.
enum Input {
    Line(String),
    Eof,
}

fn read_stdin(tx: mpsc::Sender<Input>) {
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        match line {
            Ok(line) => {
                if tx.send(Input::Line(line)).is_err() {
                    return;
                }
            }
            Err(_) => break,
        }
    }
    let _ = tx.send(Input::Eof);
}

/// Logs to stderr with the bridge's nickname.
struct Log {
    nick: String,
}

impl Log {
    fn line(&self, msg: impl std::fmt::Display) {
        eprintln!("bridge-emulator[{}]: {msg}", self.nick);
    }
}

/// How an event reads in the log; `None` for the routine ones.
fn describe(event: &EmulatorEvent, occupant: &str) -> Option<String> {
    Some(match event {
        EmulatorEvent::Joined => format!("joined the brewery as {occupant}"),
        EmulatorEvent::JoinFailed(c) => format!("joining the brewery failed: {c}"),
        EmulatorEvent::Left { kicked: false } => "left the brewery".to_owned(),
        EmulatorEvent::Left { kicked: true } => "was kicked from the brewery".to_owned(),
        EmulatorEvent::Published | EmulatorEvent::ControlApplied(_) => return None,
        EmulatorEvent::HealthCheck { healthy: true } => "health check answered: healthy".into(),
        EmulatorEvent::HealthCheck { healthy: false } => {
            "health check answered: unhealthy (internal-server-error)".into()
        }
        EmulatorEvent::IqDropped { id } => format!("unresponsive: IQ {id} left unanswered"),
        EmulatorEvent::IqNotForUs { to } => format!("ignored an IQ to {to}"),
        EmulatorEvent::IqUnsupported { payload } => {
            format!("answered service-unavailable to an IQ with {payload}")
        }
        EmulatorEvent::ConferenceCreated { meeting_id, name } => format!(
            "conference created: {meeting_id} ({})",
            name.as_deref().unwrap_or("no name")
        ),
        EmulatorEvent::ConferenceExpired {
            meeting_id,
            explicit,
        } => format!(
            "conference expired: {meeting_id} ({})",
            if *explicit { "expire" } else { "emptied" }
        ),
        EmulatorEvent::EndpointCreated {
            meeting_id,
            endpoint,
        } => format!("endpoint created: {endpoint} in {meeting_id}"),
        EmulatorEvent::EndpointExpired {
            meeting_id,
            endpoint,
        } => format!("endpoint expired: {endpoint} in {meeting_id}"),
        EmulatorEvent::RelayCreated { meeting_id, relay } => {
            format!("relay created: {relay} in {meeting_id}")
        }
        EmulatorEvent::RelayExpired { meeting_id, relay } => {
            format!("relay expired: {relay} in {meeting_id}")
        }
        EmulatorEvent::IceRestart {
            meeting_id,
            endpoint,
            outcome,
        } => {
            let what = match outcome {
                IceRestartOutcome::Started(g) => format!("started (generation {g})"),
                IceRestartOutcome::StillPending(g) => {
                    format!("already pending (generation {g}), answered again")
                }
                IceRestartOutcome::KeptExisting => {
                    "not established yet, kept the transport".to_owned()
                }
                IceRestartOutcome::Declined => "declined (disabled)".to_owned(),
                IceRestartOutcome::Completed(g) => {
                    format!("answered by the participant (generation {g})")
                }
                IceRestartOutcome::Abandoned(g) => {
                    format!("given up, not answered in time (generation {g})")
                }
            };
            format!("ICE restart of {endpoint} in {meeting_id}: {what}")
        }
        EmulatorEvent::Colibri2Error {
            meeting_id,
            condition,
            text,
        } => format!("COLIBRI2 error for {meeting_id}: {condition}: {text}"),
    })
}

/// Sends what the bridge queued; exits when the connection is gone.
fn flush(bridge: &mut EmulatedBridge, client: &mut TestClient, log: &Log) {
    while let Some(stanza) = bridge.poll_stanza() {
        if let Err(e) = client.send(&stanza) {
            log.line(format!("connection lost while sending: {e}"));
            exit(1);
        }
    }
}

fn quit(mut bridge: EmulatedBridge, mut client: TestClient, log: &Log) -> ! {
    bridge.stop(Instant::now());
    flush(&mut bridge, &mut client, log);
    client.close();
    log.line("left the brewery and closed the connection; bye");
    exit(0);
}

fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("bridge-emulator: {e}\n{USAGE}");
            exit(2);
        }
    };
    install_signal_handlers();
    let log = Log {
        nick: args.options.nick.clone(),
    };
    let mut client = match TestClient::login_with_resource(
        args.port,
        &args.ca_cert,
        &args.domain,
        &args.user,
        &args.password,
        &args.options.nick,
    ) {
        Ok(client) => client,
        Err(e) => {
            log.line(format!(
                "cannot log in as {}@{} on 127.0.0.1:{}: {e}",
                args.user, args.domain, args.port
            ));
            exit(1);
        }
    };
    log.line(format!("logged in as {}", client.jid()));

    let mut bridge = EmulatedBridge::new(args.options, Instant::now());
    bridge.set_own_jid(client.jid());
    let occupant = bridge.occupant_jid();
    bridge.start(Instant::now());
    log.line(format!("joining {occupant}"));

    let (tx, controls) = mpsc::channel();
    std::thread::spawn(move || read_stdin(tx));
    let mut stdin_open = true;
    let mut ready = false;

    loop {
        flush(&mut bridge, &mut client, &log);
        while let Some(event) = bridge.poll_event() {
            if event == EmulatorEvent::Joined && !ready {
                ready = true;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "bridge-emulator ready {occupant}");
                let _ = out.flush();
            }
            if let Some(text) = describe(&event, &occupant) {
                log.line(text);
            }
        }
        if STOP.load(Ordering::SeqCst) {
            log.line("signal received: leaving");
            quit(bridge, client, &log);
        }
        while stdin_open {
            let line = match controls.try_recv() {
                Ok(Input::Line(line)) => line,
                Ok(Input::Eof) | Err(mpsc::TryRecvError::Disconnected) => {
                    stdin_open = false;
                    if args.exit_on_eof {
                        log.line("stdin closed: leaving (--exit-on-eof)");
                        quit(bridge, client, &log);
                    }
                    log.line("stdin closed; running on");
                    break;
                }
                Err(mpsc::TryRecvError::Empty) => break,
            };
            let line = line.trim();
            match line {
                "" => {}
                "quit" => quit(bridge, client, &log),
                "crash" => {
                    log.line("crashing (no goodbye)");
                    exit(0);
                }
                "status" => {
                    let s = bridge.stats(Instant::now());
                    log.line(format!(
                        "status: joined={} conferences={} endpoints={} relays={} stress={} \
                         drain={} graceful_shutdown={} shutting_down={} healthy={} unresponsive={} \
                         ice_restart={}",
                        bridge.is_joined(),
                        s.conferences,
                        s.local_endpoints,
                        s.relays,
                        s.stress_level,
                        s.drain,
                        s.graceful_shutdown,
                        s.shutting_down,
                        s.healthy,
                        bridge.is_unresponsive(),
                        bridge.is_ice_restart_enabled()
                    ));
                }
                _ => match Control::parse(line) {
                    Some(control) => {
                        bridge.control(Instant::now(), control);
                        log.line(format!("control applied: {line}"));
                    }
                    None => log.line(format!("unknown command: {line:?}")),
                },
            }
            flush(&mut bridge, &mut client, &log);
        }

        let now = Instant::now();
        if let Some(due) = bridge.poll_timeout()
            && due <= now
        {
            bridge.handle_timeout(now);
            continue;
        }
        let wait = bridge
            .poll_timeout()
            .map_or(Duration::from_millis(50), |due| due - now)
            .clamp(Duration::from_millis(10), Duration::from_millis(50));
        match client.wait_for(wait, |_| true) {
            Ok(stanza) => {
                bridge.handle_stanza(Instant::now(), &stanza);
                for more in client.take_matching(|_| true) {
                    bridge.handle_stanza(Instant::now(), &more);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => {
                log.line(format!("connection lost: {e}"));
                exit(1);
            }
        }
    }
}
