//! The end-to-end harness itself against a real Prosody: start, options,
//! restart on the same ports, stop; STARTTLS offered on c2s; BOSH answering
//! the HTTP client. Skipped without Prosody unless `FOCUS_E2E_REQUIRED`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use focus_tests::e2e::{FocusMode, Prosody, ProsodyOptions, e2e_enabled, http_get};

fn accepts(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Opens a c2s stream to `domain` and returns what the server sent until
/// its stream features ended.
fn stream_features(port: u16, domain: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to c2s");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' \
         xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("</stream:features>") {
        assert!(Instant::now() < deadline, "no features: {got:?}");
        let n = s.read(&mut buf).expect("read features");
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn start_restart_stop() {
    if !e2e_enabled() {
        return;
    }
    let mut prosody = Prosody::start(ProsodyOptions::default());
    let (xmpp, http, pid) = (prosody.xmpp_port(), prosody.http_port(), prosody.pid());
    let dir = prosody.dir().to_owned();
    let ca = std::fs::read(prosody.ca_cert()).expect("the CA is there");
    assert_eq!(prosody.focus_jid(), "focus@auth.meet.jitsi");
    assert_eq!(prosody.auth_domain(), "auth.meet.jitsi");
    assert_eq!(prosody.muc_domain(), "muc.meet.jitsi");
    assert_eq!(prosody.internal_muc_domain(), "internal-muc.meet.jitsi");
    assert_eq!(prosody.focus_domain(), "focus.meet.jitsi");
    assert_eq!(prosody.component_port(), None);

    // c2s offers STARTTLS and, before it, no SASL mechanism at all
    // (c2s_require_encryption).
    let features = stream_features(xmpp, "auth.meet.jitsi");
    assert!(
        features.contains("urn:ietf:params:xml:ns:xmpp-tls"),
        "{features}"
    );
    assert!(!features.contains("<mechanism>"), "{features}");
    // BOSH on the HTTP port (a GET is answered with a short page).
    let bosh = http_get(http, "/http-bind", Duration::from_secs(10)).expect("BOSH answers");
    assert_eq!(bosh.status, 200, "{bosh:?}");

    prosody.restart();
    assert_eq!((prosody.xmpp_port(), prosody.http_port()), (xmpp, http));
    assert_ne!(prosody.pid(), pid, "a new process");
    assert_eq!(std::fs::read(prosody.ca_cert()).unwrap(), ca, "the same CA");
    assert!(accepts(xmpp) && accepts(http));

    prosody.stop();
    assert!(!accepts(xmpp), "c2s still listening after stop");
    assert!(dir.exists(), "the directory stays until drop");
    drop(prosody);
    if std::env::var_os("FOCUS_E2E_KEEP").is_none() {
        assert!(!dir.exists(), "the directory is removed on drop");
    }
}

#[test]
fn options_reach_the_server() {
    if !e2e_enabled() {
        return;
    }
    let prosody = Prosody::start(ProsodyOptions {
        focus_password: "s3cret with space".into(),
        extra_users: vec![("jibri".into(), "jibripass".into())],
        focus_mode: FocusMode::Component,
        ext_components: vec![("extra.meet.jitsi".into(), "extrasecret".into())],
        rate_limit: Some("10kb/s".into()),
        ..ProsodyOptions::default()
    });
    assert_eq!(prosody.focus_password(), "s3cret with space");
    assert_eq!(prosody.var("FOCUS_MODE"), "component");
    assert_eq!(prosody.var("FOCUS_COMPONENT_SECRET"), "focussecret");
    let component = prosody.component_port().expect("a component port");
    assert!(accepts(component), "the component port listens");
    let accounts = prosody.dir().join("data/auth%2emeet%2ejitsi/accounts");
    for user in ["focus", "jvb", "jibri"] {
        assert!(
            accounts.join(format!("{user}.dat")).exists(),
            "{user} not registered"
        );
    }
    let config = std::fs::read_to_string(prosody.dir().join("prosody.cfg.lua")).unwrap();
    assert!(
        config.contains(r#"Component "extra.meet.jitsi""#),
        "{config}"
    );
    assert!(
        config.contains(r#"unlimited_jids = { "focus@auth.meet.jitsi""#),
        "{config}"
    );
    assert!(
        config.contains(r#"interfaces = { "127.0.0.1" }"#),
        "{config}"
    );
}

#[test]
fn parallel_instances_get_their_own_ports() {
    if !e2e_enabled() {
        return;
    }
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Prosody::start(ProsodyOptions::default()));
        let b = s.spawn(|| Prosody::start(ProsodyOptions::default()));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.xmpp_port(), b.xmpp_port());
    assert_ne!(a.dir(), b.dir());
    assert_ne!(
        std::fs::read(a.ca_cert()).unwrap(),
        std::fs::read(b.ca_cert()).unwrap()
    );
    assert!(accepts(a.xmpp_port()) && accepts(b.xmpp_port()));
}

/// `mod_client_proxy`: requests to focus.meet.jitsi reach the focus account
/// with the sender as resource, and answers go back; without an available
/// focus session the sender gets service-unavailable.
#[test]
fn client_proxy_forwards_to_the_focus_account() {
    use focus_tests::xmpp_client::TestClient;
    use minidom::Element;

    if !e2e_enabled() {
        return;
    }
    let prosody = Prosody::start(ProsodyOptions::default());
    let login = |user: &str, password: &str| {
        TestClient::login(
            prosody.xmpp_port(),
            &prosody.ca_cert(),
            prosody.auth_domain(),
            user,
            password,
        )
        .unwrap_or_else(|e| panic!("{user} logs in: {e}"))
    };
    let timeout = Duration::from_secs(10);
    let request = |id: &str| -> Element {
        format!(
            "<iq xmlns='jabber:client' type='set' id='{id}' to='focus.meet.jitsi'>\
             <conference xmlns='http://jitsi.org/protocol/focus' room='r@muc.meet.jitsi'/></iq>"
        )
        .parse()
        .unwrap()
    };

    let mut focus = login("focus", prosody.focus_password());
    let mut client = login("jvb", prosody.jvb_password());

    // The focus has sent no presence yet: nobody to forward to.
    let answer = client.iq(&request("p1"), timeout).expect("an answer");
    assert_eq!(answer.attr("type"), Some("error"), "{answer:?}");
    assert!(
        String::from(&answer).contains("service-unavailable"),
        "{answer:?}"
    );

    focus
        .send(&"<presence xmlns='jabber:client'/>".parse().unwrap())
        .unwrap();
    // Prosody handles the presence on the focus's stream; until it has,
    // requests still get service-unavailable.
    let mut attempt = 0;
    let forwarded = loop {
        attempt += 1;
        let id = format!("p2-{attempt}");
        client.send(&request(&id)).unwrap();
        let is_answer = |el: &Element| el.name() == "iq" && el.attr("id") == Some(id.as_str());
        if let Ok(forwarded) = focus.wait_for(Duration::from_millis(200), is_answer) {
            break forwarded;
        }
        let answer = client.wait_for(timeout, is_answer).expect("an answer");
        assert!(attempt < 50, "never forwarded: {answer:?}");
    };
    let expected_from = format!("focus.meet.jitsi/{}", client.jid());
    assert_eq!(forwarded.attr("from"), Some(expected_from.as_str()));
    assert_eq!(forwarded.attr("to"), Some(focus.jid()));
    assert!(forwarded.has_child("conference", "http://jitsi.org/protocol/focus"));

    let id = forwarded.attr("id").unwrap_or_default().to_owned();
    let result: Element =
        format!("<iq xmlns='jabber:client' type='result' id='{id}' to='{expected_from}'/>")
            .parse()
            .unwrap();
    focus.send(&result).unwrap();
    let answer = client
        .wait_for(timeout, |el| {
            el.name() == "iq" && el.attr("id") == Some(id.as_str())
        })
        .expect("the answer comes back");
    assert_eq!(answer.attr("type"), Some("result"), "{answer:?}");
    assert_eq!(answer.attr("from"), Some("focus.meet.jitsi"));
    client.close();
    focus.close();
}
