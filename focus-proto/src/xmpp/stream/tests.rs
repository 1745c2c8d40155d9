//! Negotiation and keepalive tests against a scripted server.
//!
//! The server side parses what the client writes with the same
//! [`StreamReader`] (a client stream is an XML stream too) and checks SCRAM
//! independently: it derives the keys itself and verifies the client proof.

use super::*;
use sasl::common::scram::{ScramProvider, Sha1};

const SERVER_HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' from='auth.meet.jitsi' id='s1' version='1.0'>";
const FEATURES_TLS: &str = "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\
    <required/></starttls></stream:features>";
const FEATURES_SASL: &str = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
    <mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";
const FEATURES_BIND: &str = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\
    <session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>";

fn config() -> StreamConfig {
    StreamConfig::new("auth.meet.jitsi", "focus", "focuspass", "focus")
}

/// The server's view of what the client wrote.
struct Server {
    reader: StreamReader,
    headers: usize,
}

impl Server {
    fn new() -> Self {
        Self {
            reader: StreamReader::new(Limits::default()),
            headers: 0,
        }
    }

    /// Parses everything the client transmitted since the last call.
    fn read(&mut self, client: &mut XmppStream) -> Vec<Element> {
        let mut out = Vec::new();
        while let Some(bytes) = client.poll_transmit() {
            self.reader
                .feed(&bytes)
                .expect("client writes well-formed XML");
        }
        while let Some(ev) = self.reader.next_event() {
            match ev {
                xml::StreamEvent::Header(_) => self.headers += 1,
                xml::StreamEvent::Element(el) => out.push(el),
                xml::StreamEvent::End => {}
            }
        }
        out
    }

    fn restart(&mut self) {
        self.reader.reset();
    }
}

fn events(client: &mut XmppStream) -> Vec<StreamEvent> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

fn b64(data: &[u8]) -> String {
    BASE64.encode(data)
}

/// Runs the SCRAM-SHA-1 server side for `client_first`, returning the
/// challenge, and a closure checking the client-final and producing the
/// server-final.
fn scram_server(client_first: &[u8], password: &str) -> (Vec<u8>, impl Fn(&[u8]) -> Vec<u8>) {
    let client_first = std::str::from_utf8(client_first).unwrap().to_owned();
    let bare = client_first
        .strip_prefix("n,,")
        .expect("no channel binding")
        .to_owned();
    let nonce = bare
        .split(',')
        .find_map(|p| p.strip_prefix("r="))
        .unwrap()
        .to_owned();
    let salt = b"saltsaltsalt".to_vec();
    let server_first = format!("r={nonce}SRV,s={},i=4096", b64(&salt));
    let pw = sasl::common::Password::Plain(password.to_owned());
    let salted = Sha1::derive(&pw, &salt, 4096).unwrap();
    let first = server_first.clone();
    let check = move |client_final: &[u8]| {
        let client_final = std::str::from_utf8(client_final).unwrap();
        let (without_proof, proof) = client_final.rsplit_once(",p=").unwrap();
        assert!(without_proof.starts_with("c=biws,r="));
        let auth = format!("{bare},{first},{without_proof}");
        let client_key = Sha1::hmac(b"Client Key", &salted).unwrap();
        let stored = Sha1::hash(&client_key);
        let sig = Sha1::hmac(auth.as_bytes(), &stored).unwrap();
        let proof = BASE64.decode(proof).unwrap();
        let recovered: Vec<u8> = proof.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        assert_eq!(Sha1::hash(&recovered), stored, "client proof verifies");
        let server_key = Sha1::hmac(b"Server Key", &salted).unwrap();
        let server_sig = Sha1::hmac(auth.as_bytes(), &server_key).unwrap();
        format!("v={}", b64(&server_sig)).into_bytes()
    };
    (server_first.into_bytes(), check)
}

/// Drives a full negotiation, feeding the server's bytes split by `feed`.
fn negotiate(feed: &dyn Fn(&mut XmppStream, Instant, &str)) -> (XmppStream, Server, Instant) {
    let now = Instant::now();
    let mut c = XmppStream::new(config(), now, [3; 32]);
    let mut s = Server::new();
    assert!(s.read(&mut c).is_empty());
    assert_eq!(s.headers, 1);

    feed(&mut c, now, &format!("{SERVER_HEADER}{FEATURES_TLS}"));
    let out = s.read(&mut c);
    assert_eq!(out.len(), 1);
    assert!(out[0].is("starttls", ns::TLS));
    feed(
        &mut c,
        now,
        "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    );
    assert_eq!(events(&mut c), vec![StreamEvent::StartTls]);
    assert!(
        s.read(&mut c).is_empty(),
        "nothing is written before the TLS handshake"
    );
    c.handle_tls_established(now);
    assert!(c.is_tls());
    s.restart();
    assert!(s.read(&mut c).is_empty());
    assert_eq!(s.headers, 2, "stream restarted after TLS");

    feed(&mut c, now, &format!("{SERVER_HEADER}{FEATURES_SASL}"));
    let out = s.read(&mut c);
    assert_eq!(
        out[0].attr("mechanism"),
        Some("SCRAM-SHA-1"),
        "SCRAM preferred over PLAIN"
    );
    let first = BASE64.decode(out[0].text()).unwrap();
    let (challenge, check) = scram_server(&first, "focuspass");
    feed(
        &mut c,
        now,
        &format!(
            "<challenge xmlns='{}'>{}</challenge>",
            ns::SASL,
            b64(&challenge)
        ),
    );
    let out = s.read(&mut c);
    assert!(out[0].is("response", ns::SASL));
    let server_final = check(&BASE64.decode(out[0].text()).unwrap());
    feed(
        &mut c,
        now,
        &format!(
            "<success xmlns='{}'>{}</success>",
            ns::SASL,
            b64(&server_final)
        ),
    );
    s.restart();
    assert!(s.read(&mut c).is_empty());
    assert_eq!(s.headers, 3, "stream restarted after SASL");

    feed(&mut c, now, &format!("{SERVER_HEADER}{FEATURES_BIND}"));
    let out = s.read(&mut c);
    let bind = &out[0];
    assert!(bind.is("iq", ns::CLIENT));
    assert_eq!(
        bind.get_child("bind", ns::BIND)
            .unwrap()
            .get_child("resource", ns::BIND)
            .unwrap()
            .text(),
        "focus"
    );
    let id = bind.attr("id").unwrap().to_owned();
    feed(
        &mut c,
        now,
        &format!(
            "<iq type='result' id='{id}'><bind xmlns='{}'><jid>focus@auth.meet.jitsi/focus</jid></bind></iq>",
            ns::BIND
        ),
    );
    assert_eq!(
        events(&mut c),
        vec![StreamEvent::Ready {
            jid: FullJid::new("focus@auth.meet.jitsi/focus").unwrap()
        }]
    );
    assert!(s.read(&mut c).is_empty(), "optional session is skipped");
    (c, s, now)
}

fn whole(c: &mut XmppStream, now: Instant, data: &str) {
    c.handle_input(now, data.as_bytes());
}

#[test]
fn negotiates_starttls_scram_bind() {
    let (c, _, _) = negotiate(&whole);
    assert!(c.is_ready());
    assert_eq!(
        c.jid().map(|j| j.as_str()),
        Some("focus@auth.meet.jitsi/focus")
    );
}

#[test]
fn negotiates_one_byte_at_a_time() {
    let (c, _, _) = negotiate(&|c, now, data| {
        for b in data.as_bytes() {
            c.handle_input(now, std::slice::from_ref(b));
        }
    });
    assert!(c.is_ready());
}

#[test]
fn stanzas_flow_and_server_pings_are_answered() {
    let (mut c, mut s, now) = negotiate(&whole);
    whole(
        &mut c,
        now,
        "<message from='a@b/c' to='focus@auth.meet.jitsi/focus'><body>hi</body></message>\
         <iq type='get' id='p1' from='meet.jitsi'><ping xmlns='urn:xmpp:ping'/></iq>",
    );
    let evs = events(&mut c);
    assert_eq!(evs.len(), 1);
    assert!(matches!(&evs[0], StreamEvent::Stanza(m) if m.name() == "message"));
    let out = s.read(&mut c);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].attr("type"), Some("result"));
    assert_eq!(out[0].attr("id"), Some("p1"));
    assert_eq!(out[0].attr("to"), Some("meet.jitsi"));

    let presence = Element::builder("presence", ns::CLIENT).build();
    c.send(&presence).unwrap();
    assert_eq!(s.read(&mut c), vec![presence]);
}

#[test]
fn keepalive_ping_and_timeout() {
    let (mut c, mut s, now) = negotiate(&whole);
    let due = c.poll_timeout().expect("keepalive armed");
    assert_eq!(due, now + Duration::from_secs(30));
    c.handle_timeout(due);
    let out = s.read(&mut c);
    assert!(out[0].has_child("ping", ns::PING));
    assert_eq!(out[0].attr("to"), Some("auth.meet.jitsi"));
    let id = out[0].attr("id").unwrap().to_owned();
    // The answer is consumed by the stream and re-arms the keepalive.
    whole(&mut c, due, &format!("<iq type='result' id='{id}'/>"));
    assert!(events(&mut c).is_empty());
    let next = c.poll_timeout().unwrap();
    assert_eq!(next, due + Duration::from_secs(30));
    c.handle_timeout(next);
    s.read(&mut c);
    let deadline = c.poll_timeout().unwrap();
    assert_eq!(deadline, next + Duration::from_secs(15));
    c.handle_timeout(deadline);
    assert_eq!(
        events(&mut c),
        vec![StreamEvent::Closed(CloseReason::Timeout("keepalive ping"))]
    );
    assert!(c.is_closed());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn auth_failure_names_the_account() {
    let now = Instant::now();
    let mut c = XmppStream::new(
        StreamConfig {
            use_tls: false,
            ..config()
        },
        now,
        [1; 32],
    );
    let features = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
        <mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";
    whole(&mut c, now, &format!("{SERVER_HEADER}{features}"));
    whole(
        &mut c,
        now,
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text>Invalid username or password</text></failure>",
    );
    let evs = events(&mut c);
    let StreamEvent::Closed(reason) = &evs[0] else {
        panic!("{evs:?}")
    };
    assert!(reason.is_config_error());
    let msg = reason.to_string();
    assert!(
        msg.contains("authentication failed for focus@auth.meet.jitsi: not-authorized"),
        "{msg}"
    );
    assert!(msg.contains("Invalid username or password"));
}

#[test]
fn plain_is_never_used_without_tls() {
    let now = Instant::now();
    let mut c = XmppStream::new(
        StreamConfig {
            use_tls: false,
            ..config()
        },
        now,
        [1; 32],
    );
    let features = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
        <mechanism>PLAIN</mechanism></mechanisms></stream:features>";
    whole(&mut c, now, &format!("{SERVER_HEADER}{features}"));
    assert_eq!(
        events(&mut c),
        vec![StreamEvent::Closed(CloseReason::NoMechanism {
            offered: vec!["PLAIN".into()]
        })]
    );
}

#[test]
fn tls_policy_mismatches() {
    let now = Instant::now();
    let mut c = XmppStream::new(config(), now, [1; 32]);
    whole(&mut c, now, &format!("{SERVER_HEADER}{FEATURES_SASL}"));
    assert_eq!(
        events(&mut c),
        vec![StreamEvent::Closed(CloseReason::TlsUnavailable)]
    );

    let mut c = XmppStream::new(
        StreamConfig {
            use_tls: false,
            ..config()
        },
        now,
        [1; 32],
    );
    whole(&mut c, now, &format!("{SERVER_HEADER}{FEATURES_TLS}"));
    assert_eq!(
        events(&mut c),
        vec![StreamEvent::Closed(CloseReason::TlsRequired)]
    );

    let mut c = XmppStream::new(config(), now, [1; 32]);
    whole(&mut c, now, &format!("{SERVER_HEADER}{FEATURES_TLS}"));
    whole(
        &mut c,
        now,
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
    );
    assert_eq!(
        events(&mut c),
        vec![StreamEvent::Closed(CloseReason::TlsRefused)]
    );
}

#[test]
fn forged_scram_server_signature_is_refused() {
    let now = Instant::now();
    let mut c = XmppStream::new(
        StreamConfig {
            use_tls: false,
            ..config()
        },
        now,
        [1; 32],
    );
    let mut s = Server::new();
    let features = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
        <mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>";
    whole(&mut c, now, &format!("{SERVER_HEADER}{features}"));
    let out = s.read(&mut c);
    let first = BASE64.decode(out[0].text()).unwrap();
    // An impostor that does not know the password cannot sign the final.
    let (challenge, _) = scram_server(&first, "unknown");
    whole(
        &mut c,
        now,
        &format!(
            "<challenge xmlns='{}'>{}</challenge>",
            ns::SASL,
            b64(&challenge)
        ),
    );
    s.read(&mut c);
    let bogus = format!("v={}", b64(&[0u8; 20]));
    whole(
        &mut c,
        now,
        &format!(
            "<success xmlns='{}'>{}</success>",
            ns::SASL,
            b64(bogus.as_bytes())
        ),
    );
    assert_eq!(
        events(&mut c),
        vec![StreamEvent::Closed(CloseReason::Sasl(
            SaslError::BadServerSignature
        ))]
    );
}

#[test]
fn stream_errors_and_end() {
    let (mut c, _, now) = negotiate(&whole);
    whole(
        &mut c,
        now,
        "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
         <text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>Replaced by new connection</text></stream:error>",
    );
    assert_eq!(
        events(&mut c),
        vec![StreamEvent::Closed(CloseReason::StreamError {
            condition: "conflict".into(),
            text: Some("Replaced by new connection".into()),
        })]
    );
    assert!(c.poll_transmit().unwrap().ends_with(b"</stream:stream>"));

    let (mut c, _, now) = negotiate(&whole);
    whole(&mut c, now, "</stream:stream>");
    assert_eq!(
        events(&mut c),
        vec![StreamEvent::Closed(CloseReason::PeerClosed)]
    );
}

#[test]
fn clean_close_waits_for_the_server() {
    let (mut c, _, now) = negotiate(&whole);
    c.close(now);
    assert_eq!(c.poll_transmit().unwrap(), b"</stream:stream>");
    assert!(events(&mut c).is_empty());
    assert!(
        c.send(&Element::builder("presence", ns::CLIENT).build())
            .is_err()
    );
    whole(&mut c, now, "</stream:stream>");
    assert_eq!(
        events(&mut c),
        vec![StreamEvent::Closed(CloseReason::Local)]
    );

    // Without an answer, the grace period ends it.
    let (mut c, _, now) = negotiate(&whole);
    c.close(now);
    let t = c.poll_timeout().unwrap();
    c.handle_timeout(t);
    assert_eq!(
        events(&mut c),
        vec![StreamEvent::Closed(CloseReason::Local)]
    );
}

#[test]
fn garbage_gets_a_stream_error() {
    let now = Instant::now();
    let mut c = XmppStream::new(config(), now, [1; 32]);
    c.poll_transmit();
    whole(&mut c, now, "<<<not xml");
    let evs = events(&mut c);
    assert!(
        matches!(&evs[..], [StreamEvent::Closed(CloseReason::Xml(_))]),
        "{evs:?}"
    );
    let out = String::from_utf8(c.poll_transmit().unwrap()).unwrap();
    assert!(out.contains("not-well-formed"), "{out}");
    // Input after the end is ignored.
    whole(&mut c, now, "<more/>");
    assert!(events(&mut c).is_empty());
}

#[test]
fn negotiation_timeout() {
    let now = Instant::now();
    let mut c = XmppStream::new(config(), now, [1; 32]);
    let t = c.poll_timeout().unwrap();
    assert_eq!(t, now + Duration::from_secs(30));
    c.handle_timeout(t);
    assert_eq!(
        events(&mut c),
        vec![StreamEvent::Closed(CloseReason::Timeout(
            "stream negotiation"
        ))]
    );
}

#[test]
fn unexpected_element_is_a_protocol_error() {
    let now = Instant::now();
    let mut c = XmppStream::new(config(), now, [1; 32]);
    whole(
        &mut c,
        now,
        &format!("{SERVER_HEADER}<message><body>early</body></message>"),
    );
    let evs = events(&mut c);
    assert!(
        matches!(&evs[..], [StreamEvent::Closed(CloseReason::Protocol(_))]),
        "{evs:?}"
    );
}

#[test]
fn same_seed_same_bytes() {
    let run = || {
        let (mut c, mut s, now) = negotiate(&whole);
        c.handle_timeout(now + Duration::from_secs(30));
        s.read(&mut c)
    };
    assert_eq!(run(), run());
}
