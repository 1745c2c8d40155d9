//! Tests of the focus's connection handling, self-check and REST answers.

use super::*;
use crate::bridge::brewery::tests::{Bench, config_with_brewery, stats};
use crate::http::Method;

fn config() -> Arc<Config> {
    let mut config = Config::default();
    config.xmpp.client.xmpp_domain = Some("meet.jitsi".into());
    Arc::new(config)
}

fn drain(focus: &mut Focus) -> Vec<Output> {
    std::iter::from_fn(|| focus.poll_output()).collect()
}

fn sent(outputs: &[Output]) -> Vec<Element> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send { stanza, .. } => Some(stanza.clone()),
            _ => None,
        })
        .collect()
}

fn get(focus: &mut Focus, now: Instant, path: &str) -> HttpResponse {
    focus
        .handle_input(
            now,
            Input::Http {
                id: HttpId(9),
                request: HttpRequest::new(Method::Get, path),
            },
        )
        .unwrap();
    drain(focus)
        .into_iter()
        .find_map(|o| match o {
            Output::Http {
                id: HttpId(9),
                response,
            } => Some(response),
            _ => None,
        })
        .expect("an HTTP answer")
}

fn connect(focus: &mut Focus, now: Instant) -> Vec<Output> {
    let jid = FullJid::new("focus@auth.meet.jitsi/focus").unwrap();
    focus
        .handle_input(
            now,
            Input::Connected {
                conn: ConnId::Client,
                jid,
            },
        )
        .unwrap();
    drain(focus)
}

fn iq(xml: &str) -> Element {
    xml.parse().unwrap()
}

#[test]
fn health_follows_the_connection_the_bridges_and_the_ping() {
    let now = Instant::now();
    let mut focus = Focus::new(config(), [0; 32], now, SystemTime::UNIX_EPOCH);
    let r = get(&mut focus, now, "/about/health");
    assert_eq!(r.status, 500);
    assert!(String::from_utf8_lossy(&r.body).contains("not established"));
    let out = connect(&mut focus, now);
    assert_eq!(sent(&out)[0].name(), "presence", "initial presence first");
    let r = get(&mut focus, now, "/about/health");
    assert_eq!(r.status, 500, "no brewery, no bridges");
    assert!(String::from_utf8_lossy(&r.body).starts_with("No operational bridges"));

    // With a bridge, the check pings the XMPP domain.
    let mut b = Bench::new(config_with_brewery());
    b.bridge("jvb-a", &stats("eu-west", 0.1));
    b.out.clear();
    b.advance(Duration::from_secs(10));
    let ping = b.take_iq_to("meet.jitsi").expect("ping");
    assert!(ping.has_child("ping", ns::PING));
    assert!(
        b.out
            .iter()
            .all(|o| !matches!(o, Output::Event(Event::HealthChanged { healthy: true })))
    );
    // No answer within 5 s: a soft failure.
    b.advance(Duration::from_secs(5));
    let (status, body) = b.get("/about/health");
    assert_eq!(status, 503);
    assert!(body.starts_with("XMPP ping failed"));
    // The next check (every 10 s) is answered: healthy.
    b.advance(Duration::from_secs(5));
    let ping = b.take_iq_to("meet.jitsi").expect("ping");
    b.answer(&ping, "");
    assert_eq!(b.get("/about/health"), (200, "OK".to_owned()));
    assert!(
        b.out
            .iter()
            .any(|o| matches!(o, Output::Event(Event::HealthChanged { healthy: true })))
    );

    let input = Input::Disconnected {
        conn: ConnId::Client,
        reason: "connection refused".into(),
    };
    b.focus.handle_input(b.now, input).unwrap();
    let (status, body) = b.get("/about/health");
    assert_eq!(status, 500);
    assert!(body.contains("connection refused"));
    assert_eq!(b.focus.poll_timeout(), None, "no checks while down");
}

#[test]
fn version_and_unknown_routes() {
    let now = Instant::now();
    let mut focus = Focus::new(config(), [0; 32], now, SystemTime::UNIX_EPOCH);
    let r = get(&mut focus, now, "/about/version");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/json");
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["name"], "JiCoFo");
    assert_eq!(v["os"], "Linux");
    assert_eq!(get(&mut focus, now, "/nope").status, 404);
}

#[test]
fn unknown_iqs_get_errors_and_disco_is_answered() {
    let now = Instant::now();
    let mut focus = Focus::new(config(), [0; 32], now, SystemTime::UNIX_EPOCH);
    connect(&mut focus, now);
    let q = iq(
        "<iq xmlns='jabber:client' type='set' id='x1' from='a@meet.jitsi/r'><foo xmlns='urn:example'/></iq>",
    );
    focus
        .handle_input(
            now,
            Input::Stanza {
                conn: ConnId::Client,
                stanza: q,
            },
        )
        .unwrap();
    let reply = sent(&drain(&mut focus)).pop().unwrap();
    assert_eq!(reply.attr("type"), Some("error"));
    assert_eq!(reply.attr("to"), Some("a@meet.jitsi/r"));
    assert_eq!(reply.attr("id"), Some("x1"));
    let error = reply.get_child("error", ns::CLIENT).unwrap();
    assert!(error.has_child("service-unavailable", ns::STANZAS));

    let q = iq(
        "<iq xmlns='jabber:client' type='get' id='d1' from='a@meet.jitsi/r'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
    );
    focus
        .handle_input(
            now,
            Input::Stanza {
                conn: ConnId::Client,
                stanza: q,
            },
        )
        .unwrap();
    let reply = sent(&drain(&mut focus)).pop().unwrap();
    assert_eq!(reply.attr("type"), Some("result"));
    let query = reply.get_child("query", ns::DISCO_INFO).unwrap();
    assert!(query.children().any(|f| f.attr("var") == Some(ns::PING)));

    // Replies that match nothing are dropped quietly.
    let r = iq("<iq xmlns='jabber:client' type='result' id='zzz'/>");
    focus
        .handle_input(
            now,
            Input::Stanza {
                conn: ConnId::Client,
                stanza: r,
            },
        )
        .unwrap();
    assert!(drain(&mut focus).is_empty());
}

#[test]
fn stanza_on_a_closed_connection_is_misuse() {
    let now = Instant::now();
    let mut focus = Focus::new(config(), [0; 32], now, SystemTime::UNIX_EPOCH);
    let r = focus.handle_input(
        now,
        Input::Stanza {
            conn: ConnId::Service,
            stanza: iq("<iq xmlns='jabber:client' type='get' id='1'/>"),
        },
    );
    assert_eq!(r, Err(ApiMisuse::NotConnected(ConnId::Service)));
}

#[test]
fn time_never_goes_backwards() {
    let now = Instant::now();
    let mut focus = Focus::new(config(), [0; 32], now, SystemTime::UNIX_EPOCH);
    connect(&mut focus, now + Duration::from_secs(3));
    // An older `now` is treated as the last one.
    focus.handle_timeout(now);
    assert!(drain(&mut focus).is_empty());
    assert_eq!(
        focus.wall_time(now + Duration::from_secs(3)),
        SystemTime::UNIX_EPOCH + Duration::from_secs(3)
    );
}
