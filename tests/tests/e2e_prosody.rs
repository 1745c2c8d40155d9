//! End to end against a real Prosody shaped like docker-jitsi-meet, on both
//! runtimes (each test runs as `tokio::<name>` and `async_std::<name>`):
//! login with STARTTLS and SCRAM, health and version, SIGTERM; certificate
//! policy; reconnection after a Prosody restart; a wrong password; a bad
//! config value; an XMPP ping answered by the focus.
//!
//! Skipped (with a message) when Prosody is not installed, unless
//! `FOCUS_E2E_REQUIRED` is set; `scripts/test.sh` sets it.

use std::path::PathBuf;
use std::time::Duration;

use focus_tests::e2e::{
    BridgeEmulatorProcess, FocusProcess, NO_ENV, Prosody, ProsodyOptions, Runtime, brewery_jid,
    e2e_enabled, focus_binary, free_port, hocon_string, jicofo_conf,
};
use focus_tests::emulator::BridgeOptions;
use focus_tests::xmpp_client::TestClient;
use minidom::Element;

/// Generous for a slow CI machine; the normal case takes a second or two.
const CONNECT: Duration = Duration::from_secs(30);
/// A Prosody restart plus reconnection backoff.
const RECONNECT: Duration = Duration::from_secs(60);

const READY: &str = "XMPP connection ready";
const FOCUS_FULL_JID: &str = "focus@auth.meet.jitsi/focus";

/// Trust the Prosody's throwaway CA through `SSL_CERT_FILE`.
fn trusting(prosody: &Prosody) -> [(&'static str, Option<PathBuf>); 1] {
    [("SSL_CERT_FILE", Some(prosody.ca_cert()))]
}

/// The focus logged in to `prosody` with its CA trusted.
fn connected_focus(rt: Runtime, prosody: &Prosody) -> FocusProcess {
    let conf = jicofo_conf(prosody, free_port(), &[]);
    let focus = FocusProcess::spawn(focus_binary(rt), &conf, trusting(prosody));
    assert!(
        focus.wait_for_log(READY, CONNECT),
        "never ready:\n{}",
        focus.logs()
    );
    focus
}

/// An emulated bridge in `prosody`'s brewery: the focus is healthy only
/// with an operational bridge, as Jicofo.
fn bridge(prosody: &Prosody) -> BridgeEmulatorProcess {
    let opts = BridgeOptions::new(&brewery_jid(prosody), "jvb-1");
    let jvb = BridgeEmulatorProcess::spawn(prosody, &opts);
    assert!(jvb.wait_ready(CONNECT), "the bridge emulator never joined");
    jvb
}

/// The first log line containing `needle`.
fn line_with(focus: &FocusProcess, needle: &str) -> String {
    focus
        .logs()
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_default()
        .to_owned()
}

/// (a) STARTTLS + SCRAM login, health 200 (with a bridge), version 200,
/// SIGTERM exits 0.
fn logs_in_with_starttls_and_scram(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let prosody = Prosody::start(ProsodyOptions::default());
    let _jvb = bridge(&prosody);
    let conf = jicofo_conf(&prosody, free_port(), &[]);
    let env = [
        ("SSL_CERT_FILE", Some(prosody.ca_cert().into_os_string())),
        // The SASL mechanism is logged at debug level.
        ("RUST_LOG", Some("info,focus_proto::xmpp=debug".into())),
    ];
    let mut focus = FocusProcess::spawn(focus_binary(rt), &conf, env);
    assert!(
        focus.wait_for_log(READY, CONNECT),
        "never ready:\n{}",
        focus.logs()
    );
    let ready = line_with(&focus, READY);
    assert!(ready.contains(&format!("jid={FOCUS_FULL_JID}")), "{ready}");
    let negotiated = line_with(&focus, "XMPP stream negotiated");
    assert!(
        negotiated.contains("tls=true"),
        "not over TLS: {negotiated}"
    );
    let logs = focus.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("authenticated") && l.contains("SCRAM-SHA-")),
        "no SCRAM authentication logged:\n{logs}"
    );

    assert!(
        focus.wait_for_http_status("/about/health", 200, CONNECT),
        "health never 200:\n{}",
        focus.logs()
    );
    let (status, body) = focus.http_get("/about/health").expect("health answers");
    assert_eq!((status, body.trim()), (200, "OK"));
    let (status, body) = focus.http_get("/about/version").expect("version answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""name":"JiCoFo""#), "{body}");

    let status = focus.terminate();
    assert_eq!(status.code(), Some(0), "after SIGTERM:\n{}", focus.logs());
    assert!(
        prosody.log().contains("focus@auth.meet.jitsi"),
        "Prosody saw no focus login:\n{}",
        prosody.log()
    );
}

/// (b) The throwaway CA is not in the system store: refused with a clear
/// log line and health not 200; `disable-certificate-verification = true`
/// connects anyway, with a loud warning.
fn untrusted_certificate_is_refused_unless_verification_is_off(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let prosody = Prosody::start(ProsodyOptions::default());
    let _jvb = bridge(&prosody);

    // No SSL_CERT_FILE: FocusProcess leaves only the system store.
    let conf = jicofo_conf(&prosody, free_port(), &[]);
    let mut focus = FocusProcess::spawn(focus_binary(rt), &conf, NO_ENV);
    assert!(
        focus.wait_for_log("TLS handshake failed", CONNECT),
        "no TLS failure logged:\n{}",
        focus.logs()
    );
    assert_eq!(focus.count_log(READY), 0, "{}", focus.logs());
    let (status, body) = focus.http_get("/about/health").expect("health answers");
    assert!(
        status >= 500,
        "health {status} {body:?} while not connected"
    );
    assert_eq!(focus.terminate().code(), Some(0), "{}", focus.logs());

    let conf = jicofo_conf(
        &prosody,
        free_port(),
        &[(
            "jicofo.xmpp.client.disable-certificate-verification",
            "true",
        )],
    );
    let mut focus = FocusProcess::spawn(focus_binary(rt), &conf, NO_ENV);
    assert!(
        focus.wait_for_log(READY, CONNECT),
        "never ready:\n{}",
        focus.logs()
    );
    let logs = focus.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("WARN") && l.contains("disable-certificate-verification")),
        "no loud warning about the disabled verification:\n{logs}"
    );
    assert!(
        focus.wait_for_http_status("/about/health", 200, CONNECT),
        "health never 200:\n{}",
        focus.logs()
    );
}

/// (c) Prosody restarts: the focus notices and logs in again by itself.
fn reconnects_after_prosody_restart(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let mut prosody = Prosody::start(ProsodyOptions::default());
    let mut focus = connected_focus(rt, &prosody);
    prosody.restart();
    // The emulator does not reconnect; a fresh one joins the new Prosody.
    let _jvb = bridge(&prosody);
    assert!(
        focus.wait_for_log("connection lost", CONNECT),
        "the loss was not noticed:\n{}",
        focus.logs()
    );
    assert!(
        focus.wait_for_log_count(READY, 2, RECONNECT),
        "did not reconnect:\n{}",
        focus.logs()
    );
    assert!(
        focus.wait_for_http_status("/about/health", 200, CONNECT),
        "health never 200 again:\n{}",
        focus.logs()
    );
}

/// (d) A wrong password: an error naming the account, and retries.
fn wrong_password_names_the_account_and_retries(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let prosody = Prosody::start(ProsodyOptions::default());
    let wrong = hocon_string("not-the-password");
    let conf = jicofo_conf(
        &prosody,
        free_port(),
        &[("jicofo.xmpp.client.password", &wrong)],
    );
    let focus = FocusProcess::spawn(focus_binary(rt), &conf, trusting(&prosody));
    assert!(
        focus.wait_for_log("authentication failed", CONNECT),
        "no authentication failure logged:\n{}",
        focus.logs()
    );
    let failure = line_with(&focus, "authentication failed");
    assert!(
        failure.contains("focus@auth.meet.jitsi"),
        "the JID is not named: {failure}"
    );
    assert!(
        focus.wait_for_log_count("reconnecting in", 2, CONNECT),
        "does not keep retrying:\n{}",
        focus.logs()
    );
    assert_eq!(focus.count_log(READY), 0, "{}", focus.logs());
    let (status, _) = focus.http_get("/about/health").expect("health answers");
    assert!(status >= 500, "health {status} without a connection");
}

/// (e) A bad config value: exit status 2, naming the key and the file.
/// Needs no Prosody.
fn bad_config_value_exits_2(rt: Runtime) {
    let conf = format!(
        "jicofo {{\n  xmpp {{\n    client {{\n      hostname = \"127.0.0.1\"\n      \
         port = \"not-a-port\"\n      domain = \"auth.meet.jitsi\"\n      \
         xmpp-domain = \"meet.jitsi\"\n      username = \"focus\"\n      password = \"x\"\n    \
         }}\n  }}\n  rest {{\n    port = {}\n  }}\n}}\n",
        free_port()
    );
    let mut focus = FocusProcess::spawn(focus_binary(rt), &conf, NO_ENV);
    let status = focus
        .wait_exit(CONNECT)
        .unwrap_or_else(|| panic!("still running with a bad config:\n{}", focus.logs()));
    let logs = focus.logs();
    assert_eq!(status.code(), Some(2), "{logs}");
    assert!(
        logs.contains("jicofo.xmpp.client.port"),
        "the key is not named:\n{logs}"
    );
    let file = focus.config_path().display().to_string();
    assert!(logs.contains(&file), "the file is not named:\n{logs}");
}

/// (f) The focus answers an XMPP ping from another account, and answers an
/// IQ it does not handle with an error rather than silence.
fn answers_an_xmpp_ping(rt: Runtime) {
    if !e2e_enabled() {
        return;
    }
    let prosody = Prosody::start(ProsodyOptions::default());
    let _focus = connected_focus(rt, &prosody);
    let mut peer = TestClient::login(
        prosody.xmpp_port(),
        &prosody.ca_cert(),
        prosody.auth_domain(),
        "jvb",
        prosody.jvb_password(),
    )
    .expect("the test peer logs in");

    let ping: Element = format!(
        "<iq xmlns='jabber:client' type='get' id='e2e-ping-1' to='{FOCUS_FULL_JID}'>\
         <ping xmlns='urn:xmpp:ping'/></iq>"
    )
    .parse()
    .expect("valid XML");
    let answer = peer.iq(&ping, CONNECT).expect("the focus answers the ping");
    assert_eq!(answer.attr("type"), Some("result"), "{answer:?}");
    assert_eq!(answer.attr("from"), Some(FOCUS_FULL_JID), "{answer:?}");

    let unknown: Element = format!(
        "<iq xmlns='jabber:client' type='get' id='e2e-unknown-1' to='{FOCUS_FULL_JID}'>\
         <query xmlns='urn:example:unknown'/></iq>"
    )
    .parse()
    .expect("valid XML");
    let answer = peer.iq(&unknown, CONNECT).expect("the focus answers");
    assert_eq!(answer.attr("type"), Some("error"), "{answer:?}");
    peer.close();
}

// Each test once per runtime: `tokio::<name>` and `async_std::<name>`.
focus_tests::on_both_runtimes!(
    logs_in_with_starttls_and_scram,
    untrusted_certificate_is_refused_unless_verification_is_off,
    reconnects_after_prosody_restart,
    wrong_password_names_the_account_and_retries,
    bad_config_value_exits_2,
    answers_an_xmpp_ping,
);
