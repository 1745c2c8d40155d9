//! End to end against a real Prosody shaped like docker-jitsi-meet, on both
//! runtimes: login with STARTTLS and SCRAM, health, certificate policy,
//! reconnection after a Prosody restart, a wrong password, a bad config, and
//! an XMPP ping answered by the focus.

use std::path::Path;
use std::time::Duration;

use focus_tests::e2e::{FocusProcess, Prosody, Runtime, free_port, jicofo_conf, prosody_available};
use focus_tests::xmpp_client::TestClient;
use minidom::Element;

const CONNECT: Duration = Duration::from_secs(30);

fn trusted(prosody: &Prosody) -> [(&'static str, &Path); 1] {
    [("SSL_CERT_FILE", prosody.ca_cert.as_path())]
}

fn logs_in_serves_health_and_stops_cleanly(rt: Runtime) {
    if !prosody_available() {
        return;
    }
    let prosody = Prosody::start();
    let port = free_port();
    let conf = jicofo_conf(&prosody, port, &prosody.focus_password, "");
    let focus = FocusProcess::spawn(rt, &conf, port, &trusted(&prosody));
    assert!(focus.wait_for_log("XMPP connection ready", 1, CONNECT), "{}", focus.logs());
    assert!(focus.logs().contains("jid=focus@auth.meet.jitsi/focus"), "{}", focus.logs());
    assert!(focus.wait_for_status("/about/health", 200, CONNECT), "{}", focus.logs());
    assert_eq!(focus.http_get("/about/health").map(|(_, b)| b), Some("OK".into()));
    let (status, body) = focus.http_get("/about/version").expect("version answers");
    assert_eq!(status, 200);
    assert!(body.contains("\"name\":\"JiCoFo\""), "{body}");
    let logs_before = focus.logs();
    let status = focus.terminate(Duration::from_secs(10)).expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{logs_before}");
}

fn untrusted_certificate_is_refused_unless_verification_is_off(rt: Runtime) {
    if !prosody_available() {
        return;
    }
    let prosody = Prosody::start();
    let port = free_port();
    let conf = jicofo_conf(&prosody, port, &prosody.focus_password, "");
    // No SSL_CERT_FILE: the test CA is not in the system store.
    let focus = FocusProcess::spawn(rt, &conf, port, &[]);
    assert!(focus.wait_for_log("TLS handshake failed", 1, CONNECT), "{}", focus.logs());
    assert!(focus.logs().contains("certificate"), "{}", focus.logs());
    let (status, _) = focus.http_get("/about/health").expect("health answers");
    assert_eq!(status, 500);
    drop(focus);

    let port = free_port();
    let conf = jicofo_conf(&prosody, port, &prosody.focus_password, "disable-certificate-verification = true");
    let focus = FocusProcess::spawn(rt, &conf, port, &[]);
    assert!(focus.wait_for_log("XMPP connection ready", 1, CONNECT), "{}", focus.logs());
    assert!(focus.logs().to_lowercase().contains("verification"), "a loud warning: {}", focus.logs());
    assert!(focus.wait_for_status("/about/health", 200, CONNECT));
}

fn reconnects_after_prosody_restart(rt: Runtime) {
    if !prosody_available() {
        return;
    }
    let mut prosody = Prosody::start();
    let port = free_port();
    let conf = jicofo_conf(&prosody, port, &prosody.focus_password, "");
    let focus = FocusProcess::spawn(rt, &conf, port, &trusted(&prosody));
    assert!(focus.wait_for_log("XMPP connection ready", 1, CONNECT), "{}", focus.logs());
    prosody.restart();
    assert!(focus.wait_for_log("connection lost", 1, CONNECT), "{}", focus.logs());
    assert!(focus.wait_for_log("XMPP connection ready", 2, Duration::from_secs(60)), "{}", focus.logs());
    assert!(focus.wait_for_status("/about/health", 200, CONNECT), "{}", focus.logs());
}

fn wrong_password_names_the_account_and_retries(rt: Runtime) {
    if !prosody_available() {
        return;
    }
    let prosody = Prosody::start();
    let port = free_port();
    let conf = jicofo_conf(&prosody, port, "not-the-password", "");
    let focus = FocusProcess::spawn(rt, &conf, port, &trusted(&prosody));
    assert!(focus.wait_for_log("authentication failed", 1, CONNECT), "{}", focus.logs());
    assert!(focus.logs().contains("focus@auth.meet.jitsi"), "{}", focus.logs());
    assert!(focus.wait_for_log("reconnecting in", 2, CONNECT), "{}", focus.logs());
    assert!(focus.wait_for_log("authentication failed", 2, CONNECT), "{}", focus.logs());
    assert_eq!(focus.http_get("/about/health").map(|(s, _)| s), Some(500));
}

fn bad_config_value_exits_2(rt: Runtime) {
    let port = free_port();
    let conf = "jicofo { xmpp { client { domain = auth.meet.jitsi, xmpp-domain = meet.jitsi, password = x, port = \"not-a-port\" } } }";
    let mut focus = FocusProcess::spawn(rt, conf, port, &[]);
    let status = focus.wait(CONNECT).expect("exits");
    assert_eq!(status.code(), Some(2), "{}", focus.logs());
    assert!(focus.logs().contains("jicofo.xmpp.client.port"), "{}", focus.logs());
    assert!(focus.logs().contains("jicofo.conf"), "names the file: {}", focus.logs());
}

fn answers_an_xmpp_ping(rt: Runtime) {
    if !prosody_available() {
        return;
    }
    let prosody = Prosody::start();
    let port = free_port();
    let conf = jicofo_conf(&prosody, port, &prosody.focus_password, "");
    let focus = FocusProcess::spawn(rt, &conf, port, &trusted(&prosody));
    assert!(focus.wait_for_log("XMPP connection ready", 1, CONNECT), "{}", focus.logs());
    let mut peer = TestClient::login(prosody.xmpp_port, &prosody.ca_cert, "auth.meet.jitsi", "jvb", &prosody.jvb_password)
        .expect("the test peer logs in");
    let ping: Element = "<iq xmlns='jabber:client' type='get' id='e2e-ping-1' to='focus@auth.meet.jitsi/focus'>\
        <ping xmlns='urn:xmpp:ping'/></iq>"
        .parse()
        .expect("valid XML");
    let answer = peer.iq(&ping, CONNECT).expect("the focus answers");
    assert_eq!(answer.attr("type"), Some("result"), "{answer:?}");
    assert_eq!(answer.attr("from"), Some("focus@auth.meet.jitsi/focus"));

    // An IQ the focus does not handle gets an error, not silence.
    let unknown: Element = "<iq xmlns='jabber:client' type='get' id='e2e-x' to='focus@auth.meet.jitsi/focus'>\
        <query xmlns='urn:example:unknown'/></iq>"
        .parse()
        .expect("valid XML");
    let answer = peer.iq(&unknown, CONNECT).expect("the focus answers");
    assert_eq!(answer.attr("type"), Some("error"), "{answer:?}");
    peer.close();
}

macro_rules! on_both_runtimes {
    ($($name:ident),* $(,)?) => {
        mod tokio {
            $(#[test] fn $name() { super::$name(super::Runtime::Tokio) })*
        }
        mod async_std {
            $(#[test] fn $name() { super::$name(super::Runtime::AsyncStd) })*
        }
    };
}

on_both_runtimes!(
    logs_in_serves_health_and_stops_cleanly,
    untrusted_certificate_is_refused_unless_verification_is_off,
    reconnects_after_prosody_restart,
    wrong_password_names_the_account_and_retries,
    bad_config_value_exits_2,
    answers_an_xmpp_ping,
);
