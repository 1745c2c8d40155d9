use minidom::Element;
use proptest::prelude::*;

use super::offer::{
    self, ClientFeatures, OfferExtensions, OfferOptions, media_contents, offer_contents,
    session_initiate,
};
use super::*;
use crate::config::Config;
use crate::ext::test_support::{
    arb_element, arb_leaf_of, arb_tree_of, known_or_any, strip_blank_text, wire, xml, xml_all,
};
const SESSION_ACCEPT: &str = include_str!("testdata/session-accept.xml");
const SESSION_ACCEPT_JSON: &str = include_str!("testdata/session-accept-json-offer.xml");
const SESSION_ACCEPT_AUDIO_ONLY: &str = include_str!("testdata/session-accept-audio-only.xml");
const SESSION_ACCEPT_RESTART: &str = include_str!("testdata/session-accept-after-restart.xml");
const SESSION_TERMINATE: &str = include_str!("testdata/session-terminate-restart.xml");
const SOURCE_ADD: &str = include_str!("testdata/source-add.xml");
const ACKS: &str = include_str!("testdata/jingle-ack-result.xml");
const DISCO: &str = include_str!("testdata/disco-info-result.xml");

const CAPTURES: [&str; 6] = [
    SESSION_ACCEPT,
    SESSION_ACCEPT_JSON,
    SESSION_ACCEPT_AUDIO_ONLY,
    SESSION_ACCEPT_RESTART,
    SESSION_TERMINATE,
    SOURCE_ADD,
];

/// The stanzas of a capture file, without its comment header (XMPP
/// streams carry no comments).
fn capture(text: &str) -> Vec<Element> {
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        let end = rest[start..].find("-->").expect("a closed comment") + start + 3;
        rest = &rest[end..];
    }
    xml_all(rest)
}

/// The one `<jingle/>` in a capture holding one IQ.
fn capture_jingle(text: &str) -> Jingle {
    let iqs = capture(text);
    assert_eq!(iqs.len(), 1);
    Jingle::parse(jingle_child(&iqs[0]).expect("a jingle child")).expect("the capture parses")
}

fn round_trips(jingle: &Jingle) {
    let written = jingle.to_element();
    assert_eq!(Jingle::parse(&written).as_ref(), Ok(jingle));
    assert_eq!(Jingle::parse(&wire(&written)).as_ref(), Ok(jingle));
    // The writer is canonical: writing again gives the same element.
    assert_eq!(Jingle::parse(&written).unwrap().to_element(), written);
}

// ---------------------------------------------------------------------------
// Captures

#[test]
fn every_capture_parses_and_round_trips() {
    for capture in CAPTURES {
        let jingle = capture_jingle(capture);
        round_trips(&jingle);
        for content in &jingle.contents {
            if let Some(t) = &content.transport {
                assert_eq!(Transport::parse(&t.to_element()).as_ref(), Ok(t));
            }
        }
    }
}

#[test]
fn session_accept_capture() {
    let j = capture_jingle(SESSION_ACCEPT);
    assert_eq!(j.action, Action::SessionAccept);
    assert_eq!(j.sid, "a10af31f2528");
    assert_eq!(
        j.initiator.as_ref().map(|j| j.as_str()),
        Some("rc179557633227579@muc.meet.jitsi/focus")
    );
    assert_eq!(
        j.responder.as_ref().map(|j| j.as_str()),
        Some("kfces-vq5dmc036thrsauffg@meet.jitsi/oRg3eCUTNqB3")
    );
    assert_eq!(j.groups, vec![Group::bundle(["audio", "video", "data"])]);
    assert!(j.other.is_empty() && j.bridge_session.is_none() && j.reason.is_none());
    let names: Vec<_> = j.contents.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["audio", "video", "data"]);

    let audio = &j.contents[0];
    assert_eq!(audio.creator, Some(Creator::Responder));
    assert_eq!(audio.senders, Some(Senders::Both));
    let d = audio.description.as_ref().unwrap();
    assert_eq!(d.media, Media::Audio);
    assert_eq!(d.payload_types.len(), 2);
    let opus = &d.payload_types[0];
    assert_eq!((opus.id, opus.name.as_deref()), (111, Some("opus")));
    assert_eq!((opus.clockrate, opus.channels), (Some(48000), Some(2)));
    assert_eq!(
        opus.children,
        vec![
            PayloadTypeChild::Parameter(Parameter {
                name: Some("minptime".into()),
                value: Some("10".into())
            }),
            PayloadTypeChild::Parameter(Parameter {
                name: Some("useinbandfec".into()),
                value: Some("1".into())
            }),
            PayloadTypeChild::RtcpFb(RtcpFb::new("transport-cc", None)),
        ]
    );
    assert_eq!(d.payload_types[1].channels, Some(1));
    let ids: Vec<_> = d.hdrexts.iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 5, 10]);
    assert!(d.extmap_allow_mixed && d.rtcp_mux);
    assert_eq!(d.sources().count(), 1);
    let t = audio.transport.as_ref().unwrap();
    assert_eq!(t.ufrag.as_deref(), Some("Wpur"));
    assert_eq!(t.pwd.as_deref(), Some("FZupw7r5XGfJxDaSHKVpQjUN"));
    assert!(t.candidates.is_empty() && !t.rtcp_mux && t.sctpmap.is_none());
    assert_eq!(t.fingerprints.len(), 1);
    let fp = &t.fingerprints[0];
    assert_eq!(fp.hash, "sha-256");
    assert_eq!(fp.setup, Some(Setup::Active));
    assert_eq!((fp.required, fp.cryptex), (None, None));
    assert!(fp.value.starts_with("B9:19:0E:7F"));

    let video = j.content("video").unwrap();
    let d = video.description.as_ref().unwrap();
    let ids: Vec<_> = d.payload_types.iter().map(|p| p.id).collect();
    assert_eq!(ids, [41, 42, 101, 97, 100, 96, 107, 99]);
    assert_eq!(d.sources().count(), 10, "6 sources and 4 groups");
    assert_eq!(d.other.len(), 10);
    assert_eq!(d.payload_types[0].parameters().count(), 3);
    assert_eq!(d.payload_types[0].rtcp_fbs().count(), 4);

    let data = j.content("data").unwrap();
    assert_eq!(data.senders, None);
    assert!(data.description.is_none());
    let sctp = data.transport.as_ref().unwrap().sctpmap.as_ref().unwrap();
    assert_eq!(
        (sctp.number, sctp.protocol.as_deref(), sctp.streams),
        (5000, Some("webrtc-datachannel"), Some(0))
    );
    assert_eq!(j.first_transport(), audio.transport.as_ref());
    assert_eq!(j.initial_last_n(), None);
}

#[test]
fn audio_only_and_restart_captures() {
    let j = capture_jingle(SESSION_ACCEPT_AUDIO_ONLY);
    let video = j.content("video").unwrap();
    assert_eq!(video.description.as_ref().unwrap().sources().count(), 0);
    let j = capture_jingle(SESSION_ACCEPT_RESTART);
    assert_eq!(j.sid, "618cadec0cd6");
    assert_eq!(j.contents.len(), 3);
}

#[test]
fn source_add_capture() {
    let j = capture_jingle(SOURCE_ADD);
    assert_eq!(j.action, Action::SourceAdd);
    assert!(j.action.is_source_add());
    assert_eq!(j.contents.len(), 1);
    let c = &j.contents[0];
    assert_eq!(
        (c.name.as_str(), c.creator, c.senders),
        ("video", None, None)
    );
    assert!(c.transport.is_none());
    let d = c.description.as_ref().unwrap();
    assert_eq!(d.media, Media::Video);
    assert!(d.payload_types.is_empty());
    assert_eq!(d.sources().count(), 10);
    // Written back, the content keeps the absent creator.
    assert_eq!(c.to_element().attr("creator"), None);
}

#[test]
fn session_terminate_capture() {
    let j = capture_jingle(SESSION_TERMINATE);
    assert_eq!(j.action, Action::SessionTerminate);
    assert_eq!(
        j.reason,
        Some(Reason::new(
            ReasonCondition::ConnectivityError,
            Some("ICE FAILED")
        ))
    );
    let bs = j.bridge_session.as_ref().unwrap();
    assert_eq!(bs.id.as_deref(), Some("b8ccf8f4328fd3c7"));
    assert!(bs.restart_requested());
    assert!(!bs.ice_restart_requested());
    let expected = xml(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' \
         initiator='rc179557638916871@muc.meet.jitsi/focus' sid='9635a28bf34f'>\
         <reason><connectivity-error/><text>ICE FAILED</text></reason>\
         <bridge-session xmlns='http://jitsi.org/protocol/focus' id='b8ccf8f4328fd3c7' restart='true'/>\
         </jingle>",
    );
    assert_eq!(j.to_element(), expected);
}

#[test]
fn acks_carry_no_jingle() {
    let acks = capture(ACKS);
    assert_eq!(acks.len(), 2);
    for ack in &acks {
        assert_eq!(ack.attr("type"), Some("result"));
        assert!(jingle_child(ack).is_none());
    }
}

#[test]
fn sid_is_read_before_parsing() {
    let el = xml("<jingle xmlns='urn:xmpp:jingle:1' action='bogus' sid='s1'/>");
    assert_eq!(sid_of(&el), Some("s1"));
    assert!(Jingle::parse(&el).is_err());
    let el = xml("<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid=''/>");
    assert_eq!(sid_of(&el), None);
}

// ---------------------------------------------------------------------------
// jingle.md examples, written in the writer's order: element equality

#[test]
fn transport_from_colibri2_round_trips_exactly() {
    let text = "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='3fk0a1qlh2pc' \
                pwd='1u9s2ud1l0ar7m0q4h5n3c2b' ice-generation='2' foo='bar'>\
         <web-socket xmlns='http://jitsi.org/protocol/colibri' url='wss://jvb1.example.com/colibri-ws/jvb1/3f2a/7f3e9a21?pwd=9sd8f' active='true'/>\
         <rtcp-mux/>\
         <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass' cryptex='true'>4A:9C:E1</fingerprint>\
         <unknown xmlns='urn:example' a='b'/>\
         <candidate component='1' foundation='1' generation='0' id='52f1c8e30' network='0' \
            priority='2130706431' protocol='udp' type='host' ip='203.0.113.7' port='10000'/>\
         <candidate component='1' foundation='2' generation='0' id='52f1c8e31' network='0' \
            priority='1694498815' protocol='udp' type='srflx' ip='198.51.100.7' port='10000' \
            rel-addr='0.0.0.0' rel-port='9'/>\
         <candidate component='1' foundation='3' generation='0' id='x3' ip='abcd-1234.local' port='9' \
            priority='1' protocol='tcp' type='host' tcptype='active'/>\
       </transport>";
    let el = xml(text);
    let t = Transport::parse(&el).unwrap();
    assert_eq!(t.ice_generation, Some(2));
    assert_eq!(t.candidates.len(), 3);
    assert_eq!(t.candidates[1].kind, CandidateType::Srflx);
    assert_eq!(t.candidates[1].rel_port, Some(9));
    assert_eq!(t.candidates[2].ip, "abcd-1234.local");
    assert_eq!(t.candidates[2].tcptype.as_deref(), Some("active"));
    assert_eq!(t.fingerprints[0].cryptex, Some(true));
    assert_eq!(t.web_sockets[0].active, Some(true));
    assert!(t.rtcp_mux);
    assert_eq!(t.other.len(), 1);
    assert_eq!(t.extra_attrs.len(), 1);
    assert_eq!(t.to_element(), el);
    assert_eq!(Transport::parse(&wire(&el)), Ok(t));
}

#[test]
fn session_info_examples_round_trip_exactly() {
    for text in [
        // In-place ICE restart request (section 8).
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' initiator='focus@auth.example.com/focus' sid='8hv2k1cmo0p3q'>\
           <bridge-session xmlns='http://jitsi.org/protocol/focus' id='c0a8f1d2' ice-restart='true'/>\
         </jingle>",
        // Legacy ICE failure.
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='8hv2k1cmo0p3q'>\
           <bridge-session xmlns='http://jitsi.org/protocol/focus' id='c0a8f1d2'/>\
           <ice-state xmlns='http://jitsi.org/protocol/focus'>failed</ice-state>\
         </jingle>",
        // Client transport-info (section 5).
        "<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' initiator='focus@auth.example.com/focus' sid='8hv2k1cmo0p3q'>\
           <content creator='initiator' name='audio'>\
             <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='Zt9q' pwd='nVs3Xm0d1p2Q4r5S6t7U8v9W'>\
               <candidate component='1' foundation='3' generation='0' id='x2' network='1' priority='1686052607' \
                 protocol='udp' type='srflx' ip='198.51.100.4' port='54400' rel-addr='192.0.2.10' rel-port='54400'/>\
             </transport>\
           </content>\
         </jingle>",
    ] {
        let el = xml(text);
        let j = Jingle::parse(&el).unwrap();
        assert_eq!(j.to_element(), el, "{text}");
        round_trips(&j);
    }
    let legacy = Jingle::parse(&xml(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s'>\
         <ice-state xmlns='http://jitsi.org/protocol/focus'> FAILED </ice-state></jingle>",
    ))
    .unwrap();
    assert!(legacy.ice_state.unwrap().is_failed());
}

#[test]
fn session_accept_example_with_initial_last_n() {
    let el = xml(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='8hv2k1cmo0p3q' \
                 initiator='focus@auth.example.com/focus' responder='standup@conference.example.com/7f3e9a21'>\
           <content creator='initiator' name='video' senders='both'>\
             <initial-last-n xmlns='jitsi:colibri2' value='25'/>\
             <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
               <payload-type id='100' name='VP8' clockrate='90000'/>\
               <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='2901388443' name='7f3e9a21-v0' videoType='camera'>\
                 <parameter name='msid' value='7f3e9a21-video-0 1c9e7a3b'/>\
               </source>\
               <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='FID'>\
                 <source ssrc='2901388443'/><source ssrc='2271390118'/>\
               </ssrc-group>\
             </description>\
           </content>\
         </jingle>",
    );
    let j = Jingle::parse(&el).unwrap();
    assert_eq!(j.initial_last_n(), Some(25));
    assert_eq!(j.to_element(), el);
}

#[test]
fn unknown_pieces_are_kept_at_every_level() {
    let el = xml(
        "<jingle xmlns='urn:xmpp:jingle:1' action='content-modify' sid='s' x='1'>\
           <content name='audio' y='2'>\
             <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio' z='3'>\
               <payload-type id='0' name='PCMU' ptime='20'>\
                 <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='nack' q='4'/>\
                 <foo xmlns='urn:example'/>\
               </payload-type>\
               <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1' uri='u' senders='initiator' w='5'>\
                 <parameter xmlns='urn:xmpp:jingle:apps:rtp:1' name='attributes' value='x'/>\
               </rtp-hdrext>\
               <encryption xmlns='urn:xmpp:jingle:apps:rtp:1'/>\
             </description>\
             <transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'/>\
             <bar xmlns='urn:example'>text</bar>\
           </content>\
           <reason><success/><text>t</text><app xmlns='urn:example'/></reason>\
           <group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='LS'><content name='audio'/></group>\
           <baz xmlns='urn:example'/>\
         </jingle>",
    );
    let j = Jingle::parse(&el).unwrap();
    assert_eq!(j.extra_attrs.len(), 1);
    assert_eq!(j.other.len(), 1);
    let c = &j.contents[0];
    assert_eq!((c.extra_attrs.len(), c.other.len()), (1, 2));
    let d = c.description.as_ref().unwrap();
    assert_eq!((d.extra_attrs.len(), d.other.len()), (1, 1));
    assert_eq!(d.payload_types[0].extra_attrs.len(), 1);
    assert_eq!(d.hdrexts[0].senders, Some(Senders::Initiator));
    assert_eq!(j.reason.as_ref().unwrap().other.len(), 1);
    assert_eq!(j.to_element(), el);
}

#[test]
fn lenient_where_jitsi_is() {
    // Unknown reason conditions are kept; jicofo's own RED parameter has no
    // name; legacy action spellings; extension attributes are optional.
    let el = xml(
        "<jingle xmlns='urn:xmpp:jingle:1' action='addsource' sid='s'>\
           <content name='audio'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>\
             <payload-type id='112' name='red' clockrate='48000' channels='2'><parameter value='111/111'/></payload-type>\
           </description></content>\
           <reason><made-up/></reason>\
           <startmuted xmlns='http://jitsi.org/jitmeet/start-muted' audio='TRUE'/>\
           <bridge-session xmlns='http://jitsi.org/protocol/focus'/>\
           <json-message xmlns='http://jitsi.org/jitmeet'>{\"sources\":{}}</json-message>\
           <traceparent xmlns='jitsi:opentelemetry' trace_id='a' parent_id='b' trace_flags='01'/>\
         </jingle>",
    );
    let j = Jingle::parse(&el).unwrap();
    assert!(j.action.is_source_add());
    assert_eq!(
        j.reason.as_ref().unwrap().condition,
        ReasonCondition::Other("made-up".into())
    );
    assert_eq!(
        j.start_muted,
        Some(StartMuted {
            audio: true,
            video: false
        })
    );
    assert_eq!(j.bridge_session, Some(BridgeSession::default()));
    assert_eq!(j.json_message.as_ref().unwrap().json, "{\"sources\":{}}");
    assert_eq!(
        j.trace_parent.as_ref().unwrap().trace_flags.as_deref(),
        Some("01")
    );
    let red = &j.contents[0].description.as_ref().unwrap().payload_types[0];
    assert_eq!(red.parameters().next().unwrap().name, None);
    round_trips(&j);
    for action in Action::ALL {
        assert_eq!(Action::from_wire(action.as_str()), Some(action));
    }
    for condition in ReasonCondition::KNOWN {
        assert_eq!(ReasonCondition::from_name(condition.as_str()), condition);
    }
}

#[test]
fn malformed_required_pieces_are_errors() {
    let cases: &[(&str, ParseError)] = &[
        (
            "<jingle xmlns='urn:xmpp:jingle:1' sid='s'/>",
            ParseError::MissingAttribute("action"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-dance' sid='s'/>",
            ParseError::invalid_attribute("action", "session-dance"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-info'/>",
            ParseError::MissingAttribute("sid"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s' initiator='@'/>",
            ParseError::invalid_attribute("initiator", "@"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='source-add' sid='s'><content/></jingle>",
            ParseError::MissingAttribute("name"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='source-add' sid='s'><content name='a' senders='all'/></jingle>",
            ParseError::invalid_attribute("senders", "all"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='source-add' sid='s'><content name='a'>\
             <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='text'/></content></jingle>",
            ParseError::invalid_attribute("media", "text"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='source-add' sid='s'><content name='a'>\
             <description xmlns='urn:xmpp:jingle:apps:rtp:1'/></content></jingle>",
            ParseError::MissingAttribute("media"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='source-add' sid='s'><content name='a'>\
             <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='128'/></description></content></jingle>",
            ParseError::invalid_attribute("id", "128"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='source-add' sid='s'><content name='a'>\
             <initial-last-n xmlns='jitsi:colibri2' value='many'/></content></jingle>",
            ParseError::invalid_attribute("value", "many"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s'><reason><text>x</text></reason></jingle>",
            ParseError::MissingChild("condition"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s'>\
             <group xmlns='urn:xmpp:jingle:apps:grouping:0'/></jingle>",
            ParseError::MissingAttribute("semantics"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='s'><content name='a'>\
             <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ice-generation='-1'/></content></jingle>",
            ParseError::invalid_attribute("ice-generation", "-1"),
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s'>\
             <x xmlns='urn:xmpp:jingle:1'/></jingle>",
            ParseError::Invalid(String::new()),
        ),
    ];
    for (text, expected) in cases {
        let got = Jingle::parse(&xml(text));
        if let ParseError::Invalid(_) = expected {
            assert!(got.is_ok(), "unknown children are kept: {text}");
        } else {
            assert_eq!(got.as_ref(), Err(expected), "{text}");
        }
    }
    assert_eq!(
        Jingle::parse(&xml(
            "<jingle xmlns='urn:other' action='session-info' sid='s'/>"
        )),
        Err(ParseError::WrongElement { expected: "jingle" })
    );
}

#[test]
fn malformed_transport_pieces_are_errors() {
    let full = "component='1' foundation='1' ip='192.0.2.1' port='1' priority='1' protocol='udp' type='host'";
    let candidate = |attrs: &str| {
        Transport::parse(&xml(&format!(
            "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate {attrs}/></transport>"
        )))
    };
    assert!(candidate(full).is_ok());
    for (attr, error) in [
        ("component", ParseError::MissingAttribute("component")),
        ("foundation", ParseError::MissingAttribute("foundation")),
        ("ip", ParseError::MissingAttribute("ip")),
        ("port", ParseError::MissingAttribute("port")),
        ("priority", ParseError::MissingAttribute("priority")),
        ("protocol", ParseError::MissingAttribute("protocol")),
        ("type", ParseError::MissingAttribute("type")),
    ] {
        let without: Vec<_> = full
            .split(' ')
            .filter(|a| !a.starts_with(&format!("{attr}=")))
            .collect();
        assert_eq!(candidate(&without.join(" ")), Err(error), "{attr}");
    }
    assert_eq!(
        candidate(&full.replace("port='1'", "port='70000'")),
        Err(ParseError::invalid_attribute("port", "70000"))
    );
    assert_eq!(
        candidate(&full.replace("host", "cosmic")),
        Err(ParseError::invalid_attribute("type", "cosmic"))
    );
    let fingerprint = |attrs: &str| {
        Transport::parse(&xml(&format!(
            "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'>\
             <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' {attrs}>AA</fingerprint></transport>"
        )))
    };
    assert!(fingerprint("hash='sha-256'").is_ok());
    assert_eq!(
        fingerprint("setup='active'"),
        Err(ParseError::MissingAttribute("hash"))
    );
    assert_eq!(
        fingerprint("hash='sha-256' setup='both'"),
        Err(ParseError::invalid_attribute("setup", "both"))
    );
    let ws = Transport::parse(&xml(
        "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'>\
         <web-socket xmlns='http://jitsi.org/protocol/colibri'/></transport>",
    ));
    assert_eq!(ws, Err(ParseError::MissingAttribute("url")));
    let sctp = Transport::parse(&xml(
        "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'>\
         <sctpmap xmlns='urn:xmpp:jingle:transports:dtls-sctp:1' protocol='webrtc-datachannel'/></transport>",
    ));
    assert_eq!(sctp, Err(ParseError::MissingAttribute("number")));
}

#[test]
fn hostile_lists_are_bounded() {
    let candidate = "<candidate component='1' foundation='1' ip='192.0.2.1' port='1' priority='1' protocol='udp' type='host'/>";
    let transport = |n: usize| {
        xml(&format!(
            "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'>{}</transport>",
            candidate.repeat(n)
        ))
    };
    assert_eq!(
        Transport::parse(&transport(MAX_CANDIDATES)).map(|t| t.candidates.len()),
        Ok(MAX_CANDIDATES)
    );
    assert!(matches!(
        Transport::parse(&transport(MAX_CANDIDATES + 1)),
        Err(ParseError::Invalid(_))
    ));
    assert!(Transport::parse(&transport(10_000)).is_err());

    let description = |n: usize| {
        xml(&format!(
            "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>{}</description>",
            "<payload-type id='96'/>".repeat(n)
        ))
    };
    assert!(Description::parse(&description(MAX_PAYLOAD_TYPES)).is_ok());
    assert!(Description::parse(&description(10_000)).is_err());
    let contents = xml(&format!(
        "<jingle xmlns='urn:xmpp:jingle:1' action='source-add' sid='s'>{}</jingle>",
        "<content name='a'/>".repeat(MAX_CONTENTS + 1)
    ));
    assert!(Jingle::parse(&contents).is_err());
}

// ---------------------------------------------------------------------------
// Builders

fn bridge_transport() -> Transport {
    Transport::parse(&xml(
        "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='4k2a51' pwd='1oq8r0s2vteh3l9e5b1m0p6f7'>\
           <candidate component='1' foundation='1' generation='0' id='63f1c2a8' network='0' \
             priority='2130706431' protocol='udp' type='host' ip='203.0.113.7' port='10000'/>\
           <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>3A:9F:C1</fingerprint>\
           <web-socket xmlns='http://jitsi.org/protocol/colibri' active='false' \
             url='wss://jvb1.example.com/colibri-ws/jvb1/3f2a/7f3e9a21?pwd=9sd8f'/>\
           <rtcp-mux/>\
           <remote-candidate component='1' ip='192.0.2.1' port='1'/>\
         </transport>",
    ))
    .unwrap()
}

/// The bridge transport as Jicofo copies it into the offer
/// (`cloneTransportAndCandidates(src, true)` then serialization: other
/// children first, candidates last; the DTLS copy always writes `required`
/// and `cryptex`; web-sockets keep only `url`).
const OFFER_TRANSPORT_CHILDREN: &str = "\
    <web-socket xmlns='http://jitsi.org/protocol/colibri' url='wss://jvb1.example.com/colibri-ws/jvb1/3f2a/7f3e9a21?pwd=9sd8f'/>\
    <rtcp-mux/>\
    <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' required='false' setup='actpass' cryptex='false'>3A:9F:C1</fingerprint>";
const OFFER_CANDIDATE: &str = "\
    <candidate component='1' foundation='1' generation='0' id='63f1c2a8' network='0' \
      priority='2130706431' protocol='udp' type='host' ip='203.0.113.7' port='10000'/>";

fn offer_transport(sctp: bool) -> String {
    format!(
        "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='4k2a51' pwd='1oq8r0s2vteh3l9e5b1m0p6f7'>\
         {OFFER_TRANSPORT_CHILDREN}{}{OFFER_CANDIDATE}</transport>",
        if sctp {
            "<sctpmap xmlns='urn:xmpp:jingle:transports:dtls-sctp:1' number='5000' protocol='webrtc-datachannel' streams='1024'/>"
        } else {
            ""
        }
    )
}

fn focus_jid() -> jid::Jid {
    jid::Jid::new("focus@auth.example.com/focus").unwrap()
}

fn disco_features() -> ClientFeatures {
    let disco = capture(DISCO);
    let vars: Vec<String> = disco[0]
        .children()
        .flat_map(|q| q.children())
        .filter_map(|f| f.attr("var").map(str::to_owned))
        .collect();
    assert!(vars.len() > 10, "the capture lists the client's features");
    ClientFeatures::from_disco(vars.iter().map(String::as_str))
}

const FB_VIDEO: &str = "\
    <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='ccm' subtype='fir'/>\
    <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='nack'/>\
    <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='nack' subtype='pli'/>";
const FB_TCC: &str = "<rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/>";

/// The full session-initiate for the default config and the captured
/// client's features, written by hand from jingle.md section 2 and
/// Jicofo's JingleOfferFactory / CodecUtil / ParticipantInviteRunnable.
fn golden_offer() -> String {
    let transport = offer_transport(false);
    let data_transport = offer_transport(true);
    format!(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' \
                 initiator='focus@auth.example.com/focus' sid='8hv2k1cmo0p3q'>\
           <content creator='initiator' name='audio' senders='both'>\
             <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio' maxptime='60'>\
               <payload-type id='111' name='opus' clockrate='48000' channels='2'>\
                 <parameter name='minptime' value='10'/>\
                 <parameter name='useinbandfec' value='1'/>\
                 {FB_TCC}\
               </payload-type>\
               <payload-type id='126' name='telephone-event' clockrate='8000'/>\
               <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1' uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>\
               <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='10' uri='urn:ietf:params:rtp-hdrext:sdes:mid'/>\
               <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='5' \
                 uri='http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'/>\
               <extmap-allow-mixed xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0'/>\
               <rtcp-mux/>\
             </description>\
             {transport}\
           </content>\
           <content creator='initiator' name='video' senders='both'>\
             <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
               <payload-type id='41' name='AV1' clockrate='90000'>{FB_VIDEO}{FB_TCC}</payload-type>\
               <payload-type id='100' name='VP8' clockrate='90000'>{FB_VIDEO}{FB_TCC}</payload-type>\
               <payload-type id='107' name='H264' clockrate='90000'>{FB_VIDEO}{FB_TCC}\
                 <parameter name='profile-level-id' value='42e01f;level-asymmetry-allowed=1;packetization-mode=1;'/>\
               </payload-type>\
               <payload-type id='101' name='VP9' clockrate='90000'>{FB_VIDEO}{FB_TCC}</payload-type>\
               <payload-type id='42' name='rtx' clockrate='90000'><parameter name='apt' value='41'/>{FB_VIDEO}</payload-type>\
               <payload-type id='96' name='rtx' clockrate='90000'><parameter name='apt' value='100'/>{FB_VIDEO}</payload-type>\
               <payload-type id='97' name='rtx' clockrate='90000'><parameter name='apt' value='101'/>{FB_VIDEO}</payload-type>\
               <payload-type id='99' name='rtx' clockrate='90000'><parameter name='apt' value='107'/></payload-type>\
               <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='11' \
                 uri='https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension'/>\
               <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='10' uri='urn:ietf:params:rtp-hdrext:sdes:mid'/>\
               <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='3' \
                 uri='http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time'/>\
               <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='5' \
                 uri='http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01'/>\
               <extmap-allow-mixed xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0'/>\
               <rtcp-mux/>\
             </description>\
             {transport}\
           </content>\
           <content creator='initiator' name='data' senders='both'>\
             <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='application'><rtcp-mux/></description>\
             {data_transport}\
           </content>\
           <group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'>\
             <content name='audio'/><content name='video'/><content name='data'/>\
           </group>\
           <bridge-session xmlns='http://jitsi.org/protocol/focus' \
             id='c0a8f1d2-5b7e-4c1a-9e3d-2f6b8a4c7e10' region='eu-west'/>\
           <json-message xmlns='http://jitsi.org/jitmeet'>{{\"sources\":{{\"jvb\":[[],[],[]]}}}}</json-message>\
         </jingle>"
    )
}

fn offer_ext() -> OfferExtensions {
    OfferExtensions {
        bridge_session: BridgeSession::new(
            "c0a8f1d2-5b7e-4c1a-9e3d-2f6b8a4c7e10",
            Some("eu-west".into()),
        ),
        json_message: Some(JsonMessage::sources("{\"jvb\":[[],[],[]]}")),
        ..Default::default()
    }
}

fn build_offer(config: &Config, options: &OfferOptions) -> Jingle {
    let contents = offer_contents(config, options, &bridge_transport(), Some(5000)).unwrap();
    session_initiate("8hv2k1cmo0p3q", focus_jid(), contents, &offer_ext())
}

#[test]
fn golden_default_offer() {
    let features = disco_features();
    assert_eq!(
        features,
        ClientFeatures {
            audio: true,
            video: true,
            sctp: true,
            rtx: true,
            remb: true,
            tcc: true,
            opus_red: false,
        }
    );
    let options = OfferOptions::for_client(&features);
    assert!(!options.remb, "REMB only without TCC");
    let jingle = build_offer(&Config::default(), &options);
    let expected = strip_blank_text(&xml(&golden_offer()));
    let written = jingle.to_element();
    assert_eq!(written, expected, "\n{}", String::from(&written));
    round_trips(&jingle);
}

/// The payload type ids and header extension ids of `content`.
fn ids(jingle: &Jingle, content: &str) -> (Vec<u8>, Vec<u8>) {
    let d = jingle
        .content(content)
        .unwrap()
        .description
        .as_ref()
        .unwrap();
    (
        d.payload_types.iter().map(|p| p.id).collect(),
        d.hdrexts.iter().map(|e| e.id).collect(),
    )
}

fn names(jingle: &Jingle) -> Vec<&str> {
    jingle.contents.iter().map(|c| c.name.as_str()).collect()
}

#[test]
fn offer_option_variants() {
    let config = Config::default();
    let all = OfferOptions::default();

    let no_video = build_offer(
        &config,
        &OfferOptions {
            video: false,
            ..all
        },
    );
    assert_eq!(names(&no_video), ["audio", "data"]);
    assert_eq!(no_video.groups[0].contents, ["audio", "data"]);

    let no_sctp = build_offer(&config, &OfferOptions { sctp: false, ..all });
    assert_eq!(names(&no_sctp), ["audio", "video"]);
    let mut sctp_off = config.clone();
    sctp_off.sctp.enabled = false;
    assert_eq!(names(&build_offer(&sctp_off, &all)), ["audio", "video"]);

    let no_rtx = build_offer(&config, &OfferOptions { rtx: false, ..all });
    assert_eq!(ids(&no_rtx, "video").0, [41, 100, 107, 101]);

    let mut c = config.clone();
    c.codec.video.vp9.enabled = false;
    assert_eq!(
        ids(&build_offer(&c, &all), "video").0,
        [41, 100, 107, 42, 96, 99]
    );
    let mut c = config.clone();
    c.codec.video.h264.enabled = false;
    assert_eq!(
        ids(&build_offer(&c, &all), "video").0,
        [41, 100, 101, 42, 96, 97]
    );
    let mut c = config.clone();
    c.codec.video.av1.enabled = false;
    c.codec.video.vp8.rtx_pt = -1;
    c.codec.video.vp9.pt = 0;
    assert_eq!(ids(&build_offer(&c, &all), "video").0, [100, 107, 99]);

    // TCC off by the client: no transport-cc anywhere, REMB on when the
    // client has it.
    let features = ClientFeatures {
        tcc: false,
        ..disco_features()
    };
    let remb = build_offer(&config, &OfferOptions::for_client(&features));
    assert_eq!(ids(&remb, "audio").1, [1, 10]);
    assert_eq!(ids(&remb, "video").1, [11, 10, 3]);
    let vp8 = &remb
        .content("video")
        .unwrap()
        .description
        .as_ref()
        .unwrap()
        .payload_types[1];
    let fbs: Vec<_> = vp8.rtcp_fbs().map(|f| f.kind.as_str()).collect();
    assert_eq!(fbs, ["ccm", "nack", "nack", "goog-remb"]);
    let mut no_remb = config.clone();
    no_remb.codec.video.vp8.enable_remb = false;
    let j = build_offer(&no_remb, &OfferOptions::for_client(&features));
    let vp8 = &j
        .content("video")
        .unwrap()
        .description
        .as_ref()
        .unwrap()
        .payload_types[1];
    assert_eq!(vp8.rtcp_fbs().count(), 3);

    // Quirk: TCC off in the config but on in the client: neither TCC nor REMB.
    let mut tcc_off = config.clone();
    tcc_off.codec.rtp_extensions.tcc.enabled = false;
    let j = build_offer(&tcc_off, &OfferOptions::for_client(&disco_features()));
    let vp8 = &j
        .content("video")
        .unwrap()
        .description
        .as_ref()
        .unwrap()
        .payload_types[1];
    assert_eq!(vp8.rtcp_fbs().count(), 3);
    assert_eq!(ids(&j, "video").1, [11, 10, 3]);

    // Every optional header extension on: Jicofo's order.
    let mut exts = config.clone();
    let e = &mut exts.codec.rtp_extensions;
    for ext in [
        &mut e.video_layers_allocation,
        &mut e.tof,
        &mut e.framemarking,
        &mut e.video_content_type,
        &mut e.rid,
    ] {
        ext.enabled = true;
    }
    e.extmap_allow_mixed = false;
    let j = build_offer(&exts, &all);
    assert_eq!(ids(&j, "video").1, [12, 11, 2, 10, 3, 9, 7, 4, 5]);
    assert!(
        !j.contents[0]
            .description
            .as_ref()
            .unwrap()
            .extmap_allow_mixed
    );

    // Discovery failed: audio, video, data; no RTX, TCC, REMB or RED.
    let j = build_offer(
        &config,
        &OfferOptions::for_client(&ClientFeatures::discovery_failed()),
    );
    assert_eq!(names(&j), ["audio", "video", "data"]);
    assert_eq!(ids(&j, "video"), (vec![41, 100, 107, 101], vec![11, 10, 3]));
}

#[test]
fn opus_red_variants() {
    let mut config = Config::default();
    config.codec.audio.opus.red.enabled = true;
    let red = build_offer(&config, &OfferOptions::default());
    let d = red.contents[0].description.as_ref().unwrap();
    let expected = strip_blank_text(&xml(
        "<payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='112' name='red' clockrate='48000' channels='2'>\
           <parameter value='111/111'/></payload-type>",
    ));
    assert_eq!(d.payload_types[0].to_element(), expected);
    // No in-band FEC once RED is on in the config, even for a client
    // without RED.
    let no_red = build_offer(
        &config,
        &OfferOptions {
            opus_red: false,
            ..Default::default()
        },
    );
    let d = no_red.contents[0].description.as_ref().unwrap();
    assert_eq!(
        d.payload_types.iter().map(|p| p.id).collect::<Vec<_>>(),
        [111, 126]
    );
    assert_eq!(d.payload_types[0].parameters().count(), 1);
    config.codec.audio.telephone_event.enabled = false;
    config.codec.audio.opus.use_inband_fec = false;
    config.codec.audio.opus.minptime = 20;
    let j = build_offer(&config, &OfferOptions::default());
    let d = j.contents[0].description.as_ref().unwrap();
    assert_eq!(
        d.payload_types.iter().map(|p| p.id).collect::<Vec<_>>(),
        [112, 111]
    );
    assert_eq!(
        d.payload_types[1]
            .parameters()
            .next()
            .unwrap()
            .value
            .as_deref(),
        Some("20")
    );
}

#[test]
fn offer_extensions_and_errors() {
    let config = Config::default();
    let options = OfferOptions::default();
    assert_eq!(
        offer_contents(&config, &options, &bridge_transport(), None),
        Err(OfferError::NoSctpPort)
    );
    assert!(
        offer_contents(
            &config,
            &OfferOptions {
                sctp: false,
                ..options
            },
            &bridge_transport(),
            None
        )
        .is_ok()
    );

    let media = media_contents(&config, &options);
    assert!(media.iter().all(|c| c.transport.is_none()));
    assert!(
        media
            .iter()
            .all(|c| !c.description.as_ref().unwrap().rtcp_mux)
    );

    let contents = offer_contents(&config, &options, &bridge_transport(), Some(5000)).unwrap();
    let ext = OfferExtensions {
        start_muted: StartMuted {
            audio: false,
            video: true,
        },
        trace_parent: Some(TraceParent {
            trace_id: Some("t".into()),
            parent_id: Some("p".into()),
            trace_flags: Some("01".into()),
        }),
        ..offer_ext()
    };
    let j = offer::transport_replace("sid1", focus_jid(), contents, &ext);
    assert_eq!(j.action, Action::TransportReplace);
    let el = j.to_element();
    let tail: Vec<_> = el.children().skip(3).map(|c| c.name().to_owned()).collect();
    assert_eq!(
        tail,
        [
            "group",
            "startmuted",
            "bridge-session",
            "json-message",
            "traceparent"
        ]
    );
    assert_eq!(
        el.get_child("startmuted", jitsi::NS_START_MUTED).unwrap(),
        &xml(
            "<startmuted xmlns='http://jitsi.org/jitmeet/start-muted' audio='false' video='true'/>"
        )
    );
    round_trips(&j);
    // No start-muted flag set: no element.
    let contents = offer_contents(&config, &options, &bridge_transport(), Some(5000)).unwrap();
    let j = session_initiate("sid1", focus_jid(), contents, &offer_ext());
    assert!(j.start_muted.is_none());
}

#[test]
fn focus_terminate_and_transport_info() {
    let j = Jingle::session_terminate("s1", ReasonCondition::Success, Some("moving"));
    assert_eq!(
        j.to_element(),
        xml(
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s1'>\
             <reason><success/><text>moving</text></reason></jingle>"
        )
    );
    let mut transport = bridge_transport();
    transport.ice_generation = Some(1);
    let j = Jingle::transport_info("s1", &transport);
    let expected = strip_blank_text(&xml(&format!(
        "<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='s1'>\
           <content creator='initiator' name='audio'>{}</content></jingle>",
        offer_transport(false).replace(" pwd='", " ice-generation='1' pwd='")
    )));
    assert_eq!(j.to_element(), expected);
    round_trips(&j);
}

// ---------------------------------------------------------------------------
// Property tests and the fuzz target

const PROP_NAMES: &[&str] = &[
    "jingle",
    "content",
    "description",
    "transport",
    "payload-type",
    "parameter",
    "rtcp-fb",
    "rtp-hdrext",
    "extmap-allow-mixed",
    "rtcp-mux",
    "source",
    "ssrc-group",
    "candidate",
    "fingerprint",
    "web-socket",
    "sctpmap",
    "group",
    "reason",
    "text",
    "success",
    "bridge-session",
    "startmuted",
    "json-message",
    "ice-state",
    "traceparent",
    "initial-last-n",
    "iq",
];
const PROP_NAMESPACES: &[&str] = &[
    NS_JINGLE,
    content::NS_RTP,
    content::NS_RTCP_FB,
    content::NS_RTP_HDREXT,
    content::NS_SSMA,
    transport::NS_ICE_UDP,
    transport::NS_DTLS,
    transport::NS_DTLS_SCTP,
    crate::ext::brewery::NS_COLIBRI,
    group::NS_GROUPING,
    crate::ext::conference_iq::NS_FOCUS,
    jitsi::NS_START_MUTED,
    crate::ext::presence::NS_JITMEET,
    jitsi::NS_OPENTELEMETRY,
    jitsi::NS_COLIBRI2,
    "jabber:client",
    "urn:other",
];
const PROP_ATTRS: &[&str] = &[
    "action",
    "sid",
    "initiator",
    "responder",
    "name",
    "creator",
    "senders",
    "media",
    "maxptime",
    "id",
    "clockrate",
    "channels",
    "value",
    "type",
    "subtype",
    "uri",
    "ufrag",
    "pwd",
    "ice-generation",
    "component",
    "foundation",
    "generation",
    "ip",
    "network",
    "port",
    "priority",
    "protocol",
    "rel-addr",
    "rel-port",
    "tcptype",
    "hash",
    "setup",
    "required",
    "cryptex",
    "url",
    "active",
    "number",
    "streams",
    "semantics",
    "region",
    "restart",
    "ice-restart",
    "audio",
    "video",
    "trace_id",
    "ssrc",
];

/// Values that mean something to the Jingle parsers, and arbitrary ones.
fn prop_value() -> impl Strategy<Value = String> {
    known_or_any(
        &[
            "",
            "0",
            "1",
            "5000",
            "127",
            "128",
            "255",
            "256",
            "65535",
            "65536",
            "-1",
            "4294967296",
            "true",
            "TRUE",
            "audio",
            "video",
            "application",
            "initiator",
            "responder",
            "both",
            "session-initiate",
            "session-accept",
            "source-add",
            "transport-info",
            "host",
            "srflx",
            "udp",
            "actpass",
            "active",
            "BUNDLE",
            "sha-256",
            "a@b/c",
            "@",
            "data",
        ],
        1,
    )
}

/// Jingle-ish element trees, with arbitrary text.
fn prop_element() -> impl Strategy<Value = Element> {
    let leaf = arb_leaf_of(
        PROP_NAMES,
        PROP_NAMESPACES,
        PROP_ATTRS,
        6,
        prop_value(),
        any::<String>(),
    );
    arb_tree_of(leaf, 5, 64, 8)
}

fn check_tree(el: &Element) {
    if let Ok(j) = Jingle::parse(el) {
        assert_eq!(Jingle::parse(&j.to_element()).as_ref(), Ok(&j));
    }
    if let Ok(t) = Transport::parse(el) {
        assert_eq!(Transport::parse(&t.to_element()).as_ref(), Ok(&t));
    }
    if let Ok(c) = Content::parse(el) {
        assert_eq!(Content::parse(&c.to_element()).as_ref(), Ok(&c));
    }
    if let Ok(d) = Description::parse(el) {
        assert_eq!(Description::parse(&d.to_element()).as_ref(), Ok(&d));
    }
    for child in el.children() {
        check_tree(child);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary element trees never panic any parser, and whatever parses
    /// survives a write-and-read round trip.
    #[test]
    fn arbitrary_trees_never_panic(el in prop_element()) {
        check_tree(&el);
    }

    /// The shared extension strategy (other names) never panics either.
    #[test]
    fn shared_strategy_trees_never_panic(el in arb_element()) {
        check_tree(&el);
    }

    /// Arbitrary bytes never panic the fuzz target.
    #[test]
    fn fuzz_target_survives_bytes(data in prop::collection::vec(any::<u8>(), 0..1024)) {
        fuzz_jingle(&data);
    }

    /// Captures cut short and followed by arbitrary bytes never panic.
    #[test]
    fn fuzz_target_survives_mutated_captures(
        which in 0usize..6,
        cut in 0usize..12_000,
        tail in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut data = CAPTURES[which].as_bytes().to_vec();
        data.truncate(cut);
        data.extend_from_slice(&tail);
        fuzz_jingle(&data);
    }
}

#[test]
fn odd_reasons_round_trip() {
    let el = xml(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s'>\
         <reason><text>a</text><text>b</text><gone/><busy/></reason></jingle>",
    );
    let j = Jingle::parse(&el).unwrap();
    let reason = j.reason.as_ref().unwrap();
    assert_eq!(reason.condition, ReasonCondition::Gone);
    assert_eq!(reason.text.as_deref(), Some("a"));
    assert_eq!(reason.other.len(), 2);
    round_trips(&j);
    fuzz_jingle(String::from(&el).as_bytes());
}

#[test]
fn fuzz_target_accepts_the_captures() {
    for capture in CAPTURES {
        fuzz_jingle(capture.as_bytes());
    }
    fuzz_jingle(ACKS.as_bytes());
    // A transport on its own, and the golden offer, go through the offer
    // path of the target too.
    let offer = golden_offer();
    fuzz_jingle(offer.as_bytes());
}

/// [`TransportParts`] reads what [`Jingle::parse`] would give for the
/// transport and initial-last-n, from every capture, without parsing the
/// descriptions: a payload type Jingle::parse refuses does not matter.
#[test]
fn transport_parts_agree_with_the_full_parse() {
    for text in CAPTURES {
        for iq in capture(text) {
            let Some(el) = jingle_child(&iq) else {
                continue;
            };
            let full = Jingle::parse(el).expect("the capture parses");
            let parts = TransportParts::parse(el).expect("parts");
            assert_eq!(parts.transport.as_ref(), full.first_transport());
            assert_eq!(parts.initial_last_n, full.initial_last_n());
        }
    }
    let el = xml(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='s'>\
           <content name='audio'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>\
             <payload-type id='not-a-number' name='opus'/></description></content>\
           <content name='video'><initial-last-n xmlns='jitsi:colibri2' value='7'/>\
             <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='u' pwd='p'/></content>\
           <content name='video'><initial-last-n xmlns='jitsi:colibri2' value='9'/></content>\
         </jingle>",
    );
    assert!(Jingle::parse(&el).is_err());
    let parts = TransportParts::parse(&el).expect("parts");
    assert_eq!(parts.transport.map(|t| t.ufrag), Some(Some("u".to_owned())));
    assert_eq!(parts.initial_last_n, Some(7), "the first video content's");

    let bad_last_n = xml(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='s'>\
           <content name='video'><initial-last-n xmlns='jitsi:colibri2' value='x'/></content>\
         </jingle>",
    );
    assert!(TransportParts::parse(&bad_last_n).is_err());
    let many: String = (0..=MAX_CONTENTS)
        .map(|i| format!("<content name='c{i}'/>"))
        .collect();
    let many = xml(&format!(
        "<jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='s'>{many}</jingle>"
    ));
    assert!(TransportParts::parse(&many).is_err());
}
