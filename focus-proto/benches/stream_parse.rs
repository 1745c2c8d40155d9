//! Stream parsing throughput: the focus's incremental, bounded reader next to
//! a plain minidom parse of the same bytes.
//!
//! `cargo bench -p focus-proto --bench stream_parse` prints MB/s for both,
//! for rxml's events alone (the tokenizer under both, nothing built), and,
//! for comparison only, for quick-xml's events (a dev-dependency of the
//! bench, not used by the focus): raw, then with every attribute value and
//! text unescaped (what a parser must at least do).
//! The stream is a realistic mix of what a focus receives: presences with
//! Jitsi's extensions, Jingle session-accepts with sources, COLIBRI-sized
//! IQs and short messages.
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::hint::black_box;
use std::time::{Duration, Instant};

use focus_proto::xml::{Limits, StreamEvent, StreamReader};

const HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' from='meet.jitsi' id='x' version='1.0'>";

fn presence(i: usize) -> String {
    format!(
        "<presence from='room{r}@muc.meet.jitsi/ep{i:04x}' to='focus@auth.meet.jitsi/focus'>\
<stats-id>Rosa-{i}</stats-id><jitsi_participant_region>eu-west-1</jitsi_participant_region>\
<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://jitsi.org/jitsi-meet' ver='cvjWXufsg4xT62Ec2mlATkFZ9lk='/>\
<SourceInfo>{{\"ep{i:04x}-a0\":{{\"muted\":false}},\"ep{i:04x}-v0\":{{\"muted\":true,\"videoType\":\"camera\"}}}}</SourceInfo>\
<audiomuted>false</audiomuted><videomuted>true</videomuted><nick xmlns='http://jabber.org/protocol/nick'>Participant &amp; {i}</nick>\
<x xmlns='http://jabber.org/protocol/muc#user'><item jid='u{i}@meet.jitsi/res' affiliation='none' role='participant'/></x>\
</presence>",
        r = i % 7
    )
}

fn session_accept(i: usize) -> String {
    let mut s = format!(
        "<iq type='set' id='ja{i}' from='room@muc.meet.jitsi/ep{i:04x}' to='focus@auth.meet.jitsi/focus'>\
<jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='sid{i}' responder='room@muc.meet.jitsi/ep{i:04x}'>"
    );
    for (media, ssrcs) in [("audio", 1usize), ("video", 6)] {
        s.push_str(&format!(
            "<content creator='initiator' name='{media}' senders='both'>\
<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='{media}'>\
<payload-type id='111' name='opus' clockrate='48000' channels='2'><parameter name='minptime' value='10'/>\
<rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/></payload-type>"
        ));
        for k in 0..ssrcs {
            s.push_str(&format!(
                "<source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='{}' name='ep{i:04x}-{}{k}'>\
<parameter name='msid' value='stream-{i} track-{k}'/></source>",
                1000 + i * 10 + k,
                &media[..1]
            ));
        }
        s.push_str("<rtcp-mux/></description><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='abcd' pwd='0123456789abcdefghijkl'>\
<fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='active'>AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89</fingerprint>\
</transport></content>");
    }
    s.push_str("</jingle></iq>");
    s
}

fn message(i: usize) -> String {
    format!(
        "<message type='groupchat' from='room@muc.meet.jitsi/ep{i}'><body>hello &lt;world&gt; {i}</body></message>"
    )
}

fn corpus(target_bytes: usize) -> (String, usize) {
    let mut body = String::new();
    let mut stanzas = 0;
    while body.len() < target_bytes {
        body.push_str(&presence(stanzas));
        body.push_str(&session_accept(stanzas));
        body.push_str(&message(stanzas));
        body.push(' ');
        stanzas += 3;
    }
    (body, stanzas)
}

fn measure(name: &str, bytes: usize, min_time: Duration, mut f: impl FnMut() -> usize) -> f64 {
    // Warm up once, then repeat until enough time has passed.
    black_box(f());
    let start = Instant::now();
    let mut rounds = 0u32;
    while start.elapsed() < min_time || rounds < 3 {
        black_box(f());
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64() / f64::from(rounds);
    let mbps = bytes as f64 / secs / 1e6;
    println!(
        "{name:<44} {mbps:>8.1} MB/s  ({:.2} ms per {:.1} MB)",
        secs * 1e3,
        bytes as f64 / 1e6
    );
    mbps
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick" || a == "--test");
    let (body, stanzas) = corpus(if quick { 200_000 } else { 4_000_000 });
    let stream = format!("{HEADER}{body}</stream:stream>");
    let bytes = stream.len();
    let min_time = if quick {
        Duration::from_millis(50)
    } else {
        Duration::from_secs(2)
    };
    println!("stream: {:.1} MB, {stanzas} stanzas", bytes as f64 / 1e6);

    for chunk in [1500usize, 16 * 1024] {
        measure(
            &format!("StreamReader, {chunk}-byte reads"),
            bytes,
            min_time,
            || {
                let mut reader = StreamReader::new(Limits::default());
                let mut n = 0;
                for piece in stream.as_bytes().chunks(chunk) {
                    reader.feed(piece).expect("valid stream");
                    while let Some(ev) = reader.next_event() {
                        if let StreamEvent::Element(el) = ev {
                            n += 1;
                            black_box(el);
                        }
                    }
                }
                assert_eq!(n, stanzas);
                n
            },
        );
    }
    // The tokenizer under every parser of the stack (minidom, xmpp-parsers,
    // xso, our StreamReader): its events counted, nothing built.
    measure("rxml events only, no tree", bytes, min_time, || {
        use rxml::Parse;
        let mut parser = rxml::Parser::default();
        let mut data = stream.as_bytes();
        let mut n = 0usize;
        while let Ok(Some(ev)) = parser.parse(&mut data, true) {
            n += 1;
            black_box(ev);
        }
        assert!(data.is_empty(), "rxml stopped early");
        n
    });
    measure("quick-xml events only, no tree", bytes, min_time, || {
        let mut reader = quick_xml::Reader::from_str(&stream);
        let mut n = 0usize;
        loop {
            match reader.read_event().expect("valid XML") {
                quick_xml::events::Event::Eof => break,
                ev => black_box(ev),
            };
            n += 1;
        }
        n
    });
    measure(
        "quick-xml events, values unescaped",
        bytes,
        min_time,
        || {
            use quick_xml::events::Event;
            let mut reader = quick_xml::Reader::from_str(&stream);
            let mut n = 0usize;
            loop {
                match reader.read_event().expect("valid XML") {
                    Event::Eof => break,
                    Event::Start(e) | Event::Empty(e) => {
                        for a in e.attributes() {
                            let a = a.expect("valid attribute");
                            black_box(a.unescape_value().expect("valid value"));
                        }
                    }
                    Event::Text(t) => {
                        black_box(t.decode().expect("valid text"));
                    }
                    ev => {
                        black_box(ev);
                    }
                }
                n += 1;
            }
            n
        },
    );
    measure(
        "minidom::Element parse of the whole stream",
        bytes,
        min_time,
        || {
            let root: minidom::Element = stream.parse().expect("valid XML");
            let n = root.children().count();
            assert_eq!(n, stanzas);
            n
        },
    );
}
