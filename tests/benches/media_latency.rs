//! End-to-end latency through a real Prosody (issue 5): from a
//! participant's conference request to the focus's `session-initiate`
//! reaching it, next to the round trip of a plain IQ (an XMPP ping to the
//! server) on the same connection in the same run.
//!
//! `cargo bench -p focus-tests --bench media_latency` starts Prosody (the
//! end-to-end harness's, docker-jitsi-meet's layout), one bridge emulator
//! process and the focus (the tokio runtime, built in the bench's profile)
//! with `min-participants = 1`, logs a participant in anonymously, and for
//! each sample, in a fresh room: sends the conference request (re-sent at
//! once on `ready='false'`), joins the room on `ready='true'`, answers the
//! focus's disco#info with lib-jitsi-meet's features, and stops the clock
//! when the `session-initiate` arrives (then acks it and leaves). It
//! prints p50 and p99 of that and of the ping round trip. `-- --quick`
//! takes a handful of samples. Skipped, with a message, when Prosody is
//! not installed (see `focus_tests::e2e::e2e_enabled`).
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::path::PathBuf;
use std::time::{Duration, Instant};

use focus_tests::e2e::{
    BridgeEmulatorProcess, FocusProcess, Prosody, ProsodyOptions, Runtime, brewery_jid,
    e2e_enabled, focus_binary, free_port, jicofo_conf,
};
use focus_tests::emulator::BridgeOptions;
use focus_tests::sim::DEFAULT_FEATURES;
use focus_tests::xmpp_client::TestClient;
use minidom::Element;

const CONNECT: Duration = Duration::from_secs(30);
const STANZA: Duration = Duration::from_secs(10);
const NS_FOCUS: &str = "http://jitsi.org/protocol/focus";
const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
const NS_JINGLE: &str = "urn:xmpp:jingle:1";

fn parse(xml: &str) -> Element {
    xml.parse()
        .unwrap_or_else(|e| panic!("invalid XML in the bench: {e}: {xml}"))
}

struct Deployment {
    // Dropped first: killed while Prosody still runs.
    focus: FocusProcess,
    bridge: BridgeEmulatorProcess,
    prosody: Prosody,
}

fn deploy() -> Deployment {
    let prosody = Prosody::start(ProsodyOptions::default());
    let bridge = BridgeEmulatorProcess::spawn(
        &prosody,
        &BridgeOptions::new(&brewery_jid(&prosody), "jvb-1"),
    );
    assert!(bridge.wait_ready(CONNECT), "the bridge never joined");
    let conf = jicofo_conf(
        &prosody,
        free_port(),
        &[("jicofo.conference.min-participants", "1")],
    );
    let env: [(&str, Option<PathBuf>); 1] = [("SSL_CERT_FILE", Some(prosody.ca_cert()))];
    let focus = FocusProcess::spawn(focus_binary(Runtime::Tokio), &conf, env);
    assert!(
        focus.wait_for_log("XMPP connection ready", CONNECT),
        "the focus never connected"
    );
    Deployment {
        focus,
        bridge,
        prosody,
    }
}

/// One sample's times since the conference request went out.
struct Sample {
    /// The `ready='true'` answer.
    ready: Duration,
    /// The focus's disco#info query.
    disco: Option<Duration>,
    /// The session-initiate.
    offer: Duration,
    /// Requests answered `ready='false'`.
    not_ready: u32,
}

/// One conference: request → session-initiate. Returns the latency and
/// how many requests were answered `ready='false'`; `None` when no offer
/// came within [`STANZA`].
fn conference(d: &Deployment, client: &mut TestClient, n: usize) -> Option<Sample> {
    let room = format!("bench{}x{n}@{}", std::process::id(), d.prosody.muc_domain());
    let nick = format!("{:08x}", 0x5eed_0000 + n);
    let started = Instant::now();
    let mut not_ready = 0;
    let ready = loop {
        let request = parse(&format!(
            r#"<iq xmlns="jabber:client" to="{}" type="set" id="c{n}-{not_ready}"><conference xmlns="{NS_FOCUS}" machine-uid="c0258a0d656048c1aa38c37b37f17d26" room="{room}"><property name="visitors-version" value="1"/></conference></iq>"#,
            d.prosody.focus_domain()
        ));
        let answer = client.iq(&request, STANZA).expect("the conference answer");
        let ready = answer
            .get_child("conference", NS_FOCUS)
            .and_then(|c| c.attr("ready"));
        match ready {
            Some("true") => break started.elapsed(),
            Some("false") => {
                not_ready += 1;
                assert!(started.elapsed() < STANZA, "never ready");
            }
            _ => panic!("unexpected answer: {}", String::from(&answer)),
        }
    };
    client
        .send(&parse(&format!(
            r#"<presence xmlns="jabber:client" to="{room}/{nick}"><x xmlns="http://jabber.org/protocol/muc"/><stats-id>Samir-WWm</stats-id><c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="https://jitsi.org/jitsi-meet" ver="dtzK/3xhISaXUMVg59IpXxdvKyQ="/><SourceInfo>{{}}</SourceInfo><jitsi_participant_codecList>av1,vp9,vp8,h264</jitsi_participant_codecList></presence>"#
        )))
        .expect("the join presence");
    let deadline = started + STANZA;
    let mut disco = None;
    let took = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(iq) = client.wait_for(left, |el| {
            el.name() == "iq" && matches!(el.attr("type"), Some("get" | "set"))
        }) else {
            break None;
        };
        let from = iq.attr("from").unwrap_or_default().to_owned();
        let id = iq.attr("id").unwrap_or_default().to_owned();
        let mut reply = Element::builder("iq", "jabber:client")
            .attr(focus_proto::xml::ncname("type"), "result")
            .attr(focus_proto::xml::ncname("to"), from.as_str())
            .attr(focus_proto::xml::ncname("id"), id.as_str());
        if let Some(query) = iq.get_child("query", NS_DISCO_INFO) {
            disco.get_or_insert(started.elapsed());
            let mut q = Element::builder("query", NS_DISCO_INFO);
            if let Some(node) = query.attr("node") {
                q = q.attr(focus_proto::xml::ncname("node"), node);
            }
            for f in DEFAULT_FEATURES {
                q = q.append(
                    Element::builder("feature", NS_DISCO_INFO)
                        .attr(focus_proto::xml::ncname("var"), *f)
                        .build(),
                );
            }
            reply = reply.append(q.build());
        }
        let initiate = iq
            .get_child("jingle", NS_JINGLE)
            .is_some_and(|j| j.attr("action") == Some("session-initiate"));
        let at = started.elapsed();
        client.send(&reply.build()).expect("a reply");
        if initiate {
            break Some(at);
        }
    };
    client
        .send(&parse(&format!(
            r#"<presence xmlns="jabber:client" to="{room}/{nick}" type="unavailable"/>"#
        )))
        .expect("the leave presence");
    took.map(|offer| Sample {
        ready,
        disco,
        offer,
        not_ready,
    })
}

/// An XMPP ping to the server: its round trip.
fn ping(d: &Deployment, client: &mut TestClient, n: usize) -> Duration {
    let request = parse(&format!(
        r#"<iq xmlns="jabber:client" to="{}" type="get" id="p{n}"><ping xmlns="urn:xmpp:ping"/></iq>"#,
        d.prosody.domain()
    ));
    let started = Instant::now();
    let answer = client.iq(&request, STANZA).expect("the ping answer");
    let took = started.elapsed();
    assert_eq!(
        answer.attr("type"),
        Some("result"),
        "{}",
        String::from(&answer)
    );
    took
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1e3
    };
    format!(
        "p50 {:>7.2} ms  p99 {:>7.2} ms  (min {:.2}, max {:.2}; {} samples)",
        at(0.5),
        at(0.99),
        at(0.0),
        at(1.0),
        samples.len()
    )
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if !e2e_enabled() {
        println!("media latency: skipped (no Prosody)");
        return;
    }
    let samples = if quick { 5 } else { 200 };
    let d = deploy();
    let mut client = TestClient::login_anonymous(
        d.prosody.xmpp_port(),
        &d.prosody.ca_cert(),
        d.prosody.domain(),
    )
    .expect("a participant logs in");

    // Until the focus has the bridge and offers sessions.
    let warm = Instant::now();
    let mut n = 0;
    while conference(&d, &mut client, n).is_none() {
        assert!(
            warm.elapsed() < Duration::from_secs(60),
            "no session-initiate after a minute:\n{}\n{}",
            d.focus.logs(),
            d.bridge.logs()
        );
        n += 1;
    }
    for _ in 0..3 {
        n += 1;
        conference(&d, &mut client, n);
        ping(&d, &mut client, n);
    }

    let mut offers = Vec::new();
    let mut readies = Vec::new();
    let mut discos = Vec::new();
    let mut pings = Vec::new();
    let mut not_ready = 0;
    for _ in 0..samples {
        n += 1;
        let sample = conference(&d, &mut client, n).expect("a session-initiate");
        offers.push(sample.offer);
        readies.push(sample.ready);
        discos.extend(sample.disco);
        not_ready += sample.not_ready;
        pings.push(ping(&d, &mut client, n));
        client.take_matching(|_| true);
    }
    println!("end to end through Prosody (focus: tokio runtime, one bridge emulator)");
    println!(
        "  conference IQ -> session-initiate  {}",
        percentiles(offers)
    );
    println!(
        "    of which: ready answer         {}",
        percentiles(readies)
    );
    if !discos.is_empty() {
        println!(
            "    disco#info from the focus       {}",
            percentiles(discos)
        );
    }
    println!(
        "  XMPP ping round trip (server)      {}",
        percentiles(pings)
    );
    if not_ready > 0 {
        println!("  ({not_ready} requests answered ready='false' and re-sent)");
    }
    client.close();
}
