//! COLIBRI2 tests: builders against requests written by hand from
//! colibri2.md, answers and errors parsed and classified, round trips and
//! property tests on arbitrary element trees.

use minidom::Element;
use proptest::prelude::*;

use super::*;
use crate::ext::error::{Condition, ErrorType};
use crate::ext::jingle::{Candidate, CandidateType, Fingerprint, PayloadType, RtpHdrExt, Setup};
use crate::ext::test_support::{
    arb_leaf_of, arb_tree_of, known_or_any, strip_blank_text, wire, xml, xml_all,
};
use crate::source::{EndpointSourceSet, MediaType, Semantics, Source, Ssrc, SsrcGroup, VideoType};

const CREATE: &str = include_str!("testdata/create-conference.xml");
const CREATE_ANSWER: &str = include_str!("testdata/create-conference-answer.xml");
const ALLOCATE: &str = include_str!("testdata/allocate.xml");
const RELAY_CREATE: &str = include_str!("testdata/relay-create.xml");
const RELAY_ANSWERS: &str = include_str!("testdata/relay-answers.xml");
const RELAY_TRANSPORT: &str = include_str!("testdata/relay-transport.xml");
const UPDATES: &str = include_str!("testdata/updates.xml");
const EXPIRE: &str = include_str!("testdata/expire.xml");
const ANSWERS: &str = include_str!("testdata/answers.xml");
const ERRORS: &str = include_str!("testdata/errors.xml");

const ALL: [&str; 10] = [
    CREATE,
    CREATE_ANSWER,
    ALLOCATE,
    RELAY_CREATE,
    RELAY_ANSWERS,
    RELAY_TRANSPORT,
    UPDATES,
    EXPIRE,
    ANSWERS,
    ERRORS,
];

const MEETING: &str = "5c1a9a3e-2f4b-4b8e-9d0c-1f7d2e6a4b10";
const JVB_A: &str = "jvbbrewery@internal.auth.example.com/jvb-a";
const JVB_B: &str = "jvbbrewery@internal.auth.example.com/jvb-b";
const TCC: &str = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

/// The `n`th stanza of a fixture, normalized.
fn fixture(text: &str, n: usize) -> Element {
    strip_blank_text(&xml_all(text)[n])
}

/// `built` as it travels, compared with the fixture stanza.
fn assert_wire(built: &Element, expected: &Element) {
    let sent = wire(built);
    assert!(
        sent == *expected,
        "\nbuilt:    {}\nexpected: {}",
        show(&sent),
        show(expected)
    );
}

fn show(el: &Element) -> String {
    let mut out = Vec::new();
    crate::xml::write_element(el, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn meeting() -> MeetingId {
    MeetingId::new(MEETING).expect("not blank")
}

fn ssrc(v: u32) -> Ssrc {
    Ssrc::new(v).expect("non-zero")
}

fn alice_sources() -> EndpointSourceSet {
    let v = |s| {
        Source::new(ssrc(s), MediaType::Video)
            .with_name("a1b2c3d4-v0")
            .with_video_type(VideoType::Camera)
            .with_msid("stream track")
    };
    EndpointSourceSet::from_parts(
        [
            Source::new(ssrc(2210384121), MediaType::Audio)
                .with_name("a1b2c3d4-a0")
                .with_msid("stream track-a"),
            v(410225713),
            v(3870006012),
        ],
        [SsrcGroup::new(
            Semantics::Fid,
            vec![ssrc(410225713), ssrc(3870006012)],
            MediaType::Video,
        )],
    )
}

fn participant(id: &str, stats_id: &str) -> ParticipantInfo {
    ParticipantInfo {
        id: id.to_owned(),
        stats_id: Some(stats_id.to_owned()),
        use_ssrc_rewriting: true,
        use_sctp: true,
        ..ParticipantInfo::default()
    }
}

fn opus() -> PayloadType {
    let mut pt = PayloadType::new(111, "opus", 48000);
    pt.channels = Some(2);
    pt
}

/// The short media of the fixtures other than 3.1.
fn short_media() -> Vec<Media> {
    let mut audio = Media::new(MediaType::Audio);
    audio.payload_types.push(opus());
    let mut video = Media::new(MediaType::Video);
    video
        .payload_types
        .push(PayloadType::new(100, "VP8", 90000));
    vec![audio, video]
}

/// The media of example 3.1.
fn full_media() -> Vec<Media> {
    let mut audio = Media::new(MediaType::Audio);
    audio.payload_types = vec![
        opus()
            .with_parameter(Some("minptime"), "10")
            .with_parameter(Some("useinbandfec"), "1")
            .with_rtcp_fb("transport-cc", None),
        PayloadType::new(126, "telephone-event", 8000),
    ];
    audio.hdrexts = vec![
        RtpHdrExt::new(1, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        RtpHdrExt::new(5, TCC),
    ];
    audio.extmap_allow_mixed = true;
    let mut video = Media::new(MediaType::Video);
    video.payload_types = vec![
        PayloadType::new(100, "VP8", 90000)
            .with_rtcp_fb("ccm", Some("fir"))
            .with_rtcp_fb("nack", None)
            .with_rtcp_fb("nack", Some("pli"))
            .with_rtcp_fb("transport-cc", None),
        PayloadType::new(96, "rtx", 90000).with_parameter(Some("apt"), "100"),
    ];
    video.hdrexts = vec![
        RtpHdrExt::new(
            3,
            "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        ),
        RtpHdrExt::new(5, TCC),
    ];
    video.extmap_allow_mixed = true;
    vec![audio, video]
}

fn candidate(
    foundation: &str,
    id: &str,
    network: u32,
    priority: u32,
    ip: &str,
    port: u16,
) -> Candidate {
    Candidate {
        component: 1,
        foundation: foundation.to_owned(),
        generation: Some(0),
        id: Some(id.to_owned()),
        ip: ip.to_owned(),
        network: Some(network),
        port,
        priority,
        protocol: "udp".to_owned(),
        kind: CandidateType::Host,
        rel_addr: None,
        rel_port: None,
        tcptype: None,
        extra_attrs: Default::default(),
    }
}

/// Alice's transport from her session-accept (example 3.4).
fn alice_transport() -> crate::ext::jingle::Transport {
    crate::ext::jingle::Transport {
        ufrag: Some("Yh4x".to_owned()),
        pwd: Some("b0Cq1x8Zr2Lm6Tq0Wd3e".to_owned()),
        candidates: vec![candidate(
            "3581729012",
            "1",
            1,
            2122260223,
            "192.0.2.50",
            52311,
        )],
        fingerprints: vec![Fingerprint {
            hash: "sha-256".to_owned(),
            setup: Some(Setup::Active),
            required: None,
            cryptex: None,
            value: "C1:5E:88:02".to_owned(),
            extra_attrs: Default::default(),
        }],
        rtcp_mux: true,
        ..Default::default()
    }
}

fn answers(text: &str) -> Vec<Answer> {
    xml_all(text)
        .iter()
        .map(|iq| Answer::parse(iq).expect("answer parses"))
        .collect()
}

// ----- requests: builders against the notes --------------------------------

#[test]
fn create_conference_with_first_endpoint() {
    let alice = ParticipantInfo {
        media: full_media(),
        ..participant("a1b2c3d4", "Alice-Qx1")
    };
    let request = ConferenceModify::create_conference(
        meeting(),
        "myroom@conference.example.com",
        true,
        &alice,
        Vec::new(),
    );
    assert_wire(&request.to_iq("k7Hq2-11", JVB_A), &fixture(CREATE, 0));
}

#[test]
fn allocate_on_existing_conference() {
    let bob = ParticipantInfo {
        media: short_media(),
        ..participant("e5f6a7b8", "Bob-Zr7")
    };
    let request = ConferenceModify::allocate(meeting(), &bob);
    assert_wire(&request.to_iq("k7Hq2-17", JVB_A), &fixture(ALLOCATE, 0));
}

#[test]
fn allocation_endpoint_options() {
    let p = ParticipantInfo {
        visitor: true,
        audio_muted: true,
        diarize: true,
        supports_private_addresses: true,
        use_rtp_mid_demux: true,
        use_sctp: false,
        ..participant("v1", "V")
    };
    let ep = Endpoint::allocation(&p);
    let expected = strip_blank_text(&xml(
        "<endpoint xmlns='jitsi:colibri2' id='v1' create='true' stats-id='V' muc-role='visitor' diarize='true'>
           <transport ice-controlling='true'/>
           <sources/>
           <force-mute audio='true'/>
           <capability name='source-names'/>
           <capability name='private-address-connectivity'/>
           <capability name='ssrc-rewriting'/>
           <capability name='rtp-mid-demux'/>
         </endpoint>",
    ));
    assert_eq!(ep.to_element(), expected);
    assert_eq!(Endpoint::parse(&expected), Ok(ep));
}

#[test]
fn create_relays_both_sides() {
    let carol = participant("c9d0e1f2", "Carol-Mv3");
    let initiator = RelaySide {
        initiator: true,
        sctp_datachannels: true,
    };
    let request = ConferenceModify::relay(
        meeting(),
        Relay::create(
            "relay-b",
            Some("0".to_owned()),
            initiator,
            short_media(),
            &[carol],
        ),
    );
    assert_wire(&request.to_iq("k7Hq2-23", JVB_A), &fixture(RELAY_CREATE, 0));

    let alice = ParticipantInfo {
        sources: alice_sources(),
        ..participant("a1b2c3d4", "Alice-Qx1")
    };
    let bob = ParticipantInfo {
        sources: EndpointSourceSet::from_sources([
            Source::new(ssrc(1001), MediaType::Audio).with_name("e5f6a7b8-a0")
        ]),
        ..participant("e5f6a7b8", "Bob-Zr7")
    };
    let visitor = ParticipantInfo {
        visitor: true,
        ..participant("f0f0f0f0", "Vis")
    };
    let other = RelaySide {
        initiator: false,
        sctp_datachannels: true,
    };
    let request = ConferenceModify::relay(
        meeting(),
        Relay::create(
            "relay-a",
            Some("0".to_owned()),
            other,
            short_media(),
            &[alice, bob, visitor],
        ),
    );
    assert_wire(&request.to_iq("k7Hq2-24", JVB_B), &fixture(RELAY_CREATE, 1));
}

#[test]
fn relay_transport_forwarded_with_roles() {
    let answers = answers(RELAY_ANSWERS);
    let from_a = relay_create_outcome(Some(&answers[0])).expect("relay transport");
    let from_b = relay_create_outcome(Some(&answers[1])).expect("relay transport");
    let side_b = RelaySide {
        initiator: false,
        sctp_datachannels: true,
    };
    let side_a = RelaySide {
        initiator: true,
        sctp_datachannels: true,
    };
    let to_b = Relay::remote_transport("relay-a", side_b, from_a.clone()).expect("actpass");
    assert_wire(
        &ConferenceModify::relay(meeting(), to_b).to_iq("k7Hq2-27", JVB_B),
        &fixture(RELAY_TRANSPORT, 0),
    );
    let to_a = Relay::remote_transport("relay-b", side_a, from_b).expect("actpass");
    assert_wire(
        &ConferenceModify::relay(meeting(), to_a).to_iq("k7Hq2-28", JVB_A),
        &fixture(RELAY_TRANSPORT, 1),
    );

    // Web-socket mode: only the initiator side keeps the web socket.
    let ws_initiator = RelaySide {
        initiator: true,
        sctp_datachannels: false,
    };
    let kept = Relay::remote_transport("relay-b", ws_initiator, from_a.clone()).expect("actpass");
    assert_eq!(kept.ice().map(|t| t.web_sockets.len()), Some(1));
    let ws_other = RelaySide {
        initiator: false,
        sctp_datachannels: false,
    };
    let dropped = Relay::remote_transport("relay-a", ws_other, from_a.clone()).expect("actpass");
    assert_eq!(dropped.ice().map(|t| t.web_sockets.len()), Some(0));

    // A fingerprint that is not actpass: nothing is sent.
    let mut bad = from_a;
    bad.fingerprints[0].setup = Some(Setup::Active);
    assert_eq!(Relay::remote_transport("relay-a", side_b, bad), None);
}

#[test]
fn relay_media_from_default_config() {
    let config = crate::config::Config::default();
    let media = Relay::media_from_config(&config.codec);
    assert_eq!(media.len(), 2);
    assert_eq!(media[0].media_type, MediaType::Audio);
    assert_eq!(media[1].media_type, MediaType::Video);
    assert!(media[0].payload_types.iter().any(|p| p.id == 111));
    assert!(media[1].payload_types.iter().any(|p| p.id == 100));
    assert!(media[0].hdrexts.iter().any(|h| h.id == 1));
    for m in &media {
        assert_eq!(Media::parse(&m.to_element()).as_ref(), Ok(m));
    }
}

#[test]
fn update_endpoint_transport_sources_last_n() {
    let request = ConferenceModify::update_endpoint(
        meeting(),
        "a1b2c3d4",
        Some("Alice-Qx1".to_owned()),
        Some(alice_transport()),
        Some(&alice_sources()),
        Some(25),
    )
    .expect("something to update");
    assert_wire(&request.to_iq("k7Hq2-31", JVB_A), &fixture(UPDATES, 0));
    assert_eq!(
        ConferenceModify::update_endpoint(meeting(), "a1b2c3d4", None, None, None, None),
        None
    );
}

#[test]
fn remote_endpoint_source_update() {
    let alice = ParticipantInfo {
        sources: alice_sources(),
        ..participant("a1b2c3d4", "Alice-Qx1")
    };
    let request =
        ConferenceModify::relay(meeting(), Relay::update_endpoint("relay-a", &alice, false));
    assert_wire(&request.to_iq("k7Hq2-32", JVB_B), &fixture(UPDATES, 1));
}

#[test]
fn force_mute_batch() {
    let request = ConferenceModify::force_mute(
        meeting(),
        [("a1b2c3d4", true, false), ("e5f6a7b8", true, false)],
    );
    assert_wire(&request.to_iq("k7Hq2-33", JVB_A), &fixture(UPDATES, 2));
    let unmute = Endpoint::force_mute("x", false, false).to_element();
    assert_eq!(
        unmute
            .get_child("force-mute", NS_COLIBRI2)
            .map(|f| f.attrs().len()),
        Some(0)
    );
}

#[test]
fn ice_restart_request() {
    let request =
        ConferenceModify::ice_restart(meeting(), "a1b2c3d4", Some("Alice-Qx1".to_owned()));
    assert_wire(&request.to_iq("k7Hq2-34", JVB_A), &fixture(UPDATES, 3));
}

#[test]
fn expires() {
    let request = ConferenceModify::expire_endpoints(meeting(), ["e5f6a7b8"]).expect("one id");
    assert_wire(&request.to_iq("k7Hq2-40", JVB_A), &fixture(EXPIRE, 0));
    assert_eq!(ConferenceModify::expire_endpoints(meeting(), []), None);

    let bob = participant("e5f6a7b8", "Bob-Zr7");
    let visitor = ParticipantInfo {
        visitor: true,
        ..participant("f0f0f0f0", "Vis")
    };
    let relay = Relay::expire_endpoints("relay-a", [&bob, &visitor]).expect("bob");
    assert_wire(
        &ConferenceModify::relay(meeting(), relay).to_iq("k7Hq2-41", JVB_B),
        &fixture(EXPIRE, 1),
    );
    assert_eq!(Relay::expire_endpoints("relay-a", [&visitor]), None);

    let request = ConferenceModify::expire_conference(meeting());
    assert_wire(&request.to_iq("k7Hq2-52", JVB_B), &fixture(EXPIRE, 2));

    let request = ConferenceModify::relay(meeting(), Relay::expire("relay-b"));
    assert_wire(&request.to_iq("k7Hq2-53", JVB_A), &fixture(EXPIRE, 3));
}

#[test]
fn rtcstats_and_connects() {
    let alice = participant("a1b2c3d4", "Alice-Qx1");
    let mut connect = Connect::new(
        Some("transcriber".to_owned()),
        "wss://t.example.com/ws",
        ConnectType::Transcriber,
    );
    connect.create = true;
    connect.http_headers.push(HttpHeader {
        name: "Authorization".to_owned(),
        value: "Bearer x".to_owned(),
    });
    connect.exports = vec!["a1b2c3d4-a0".to_owned()];
    connect.ping = Some(Ping {
        interval: 5000,
        timeout: 2000,
    });
    let request = ConferenceModify::create_conference(
        meeting(),
        "myroom@conference.example.com",
        false,
        &alice,
        vec![connect],
    );
    let el = request.to_element();
    assert_eq!(el.attr("rtcstats-enabled"), Some("false"));
    let expected = strip_blank_text(&xml(
        "<connects xmlns='jitsi:colibri2'>
           <connect id='transcriber' url='wss://t.example.com/ws' protocol='mediajson' type='transcriber' audio='true' create='true'>
             <http-header name='Authorization' value='Bearer x'/>
             <exports><export name='a1b2c3d4-a0'/></exports>
             <ping interval='5000' timeout='2000'/>
           </connect>
         </connects>",
    ));
    assert_eq!(el.get_child("connects", NS_COLIBRI2), Some(&expected));
    assert_eq!(ConferenceModify::parse(&el), Ok(request));

    let update = ConferenceModify::connects(
        meeting(),
        vec![Connect {
            expire: true,
            ..Connect::new(
                Some("translator".to_owned()),
                "ws://x/y",
                ConnectType::Translator,
            )
        }],
    );
    assert_eq!(ConferenceModify::parse(&update.to_element()), Ok(update));
}

#[test]
fn every_fixture_request_round_trips() {
    for text in [
        CREATE,
        ALLOCATE,
        RELAY_CREATE,
        RELAY_TRANSPORT,
        UPDATES,
        EXPIRE,
    ] {
        for iq in xml_all(text) {
            let request = ConferenceModify::from_iq(&iq).expect("request parses");
            let expected = strip_blank_text(
                iq.get_child("conference-modify", NS_COLIBRI2)
                    .expect("payload"),
            );
            assert_eq!(strip_blank_text(&request.to_element()), expected);
        }
    }
}

#[test]
fn sources_grouped_by_name() {
    // Unnamed sources go to ENDPOINT-a0 / -v0; a group follows its first
    // source's name; an unknown attribute and the msid are not sent.
    let set = EndpointSourceSet::from_parts(
        [
            Source::new(ssrc(1), MediaType::Audio),
            Source::new(ssrc(2), MediaType::Video),
            Source::new(ssrc(3), MediaType::Video)
                .with_name("ep-v1")
                .with_msid("m"),
            Source::new(ssrc(4), MediaType::Video).with_name("ep-v1"),
        ],
        [
            SsrcGroup::new(Semantics::Sim, vec![ssrc(3), ssrc(4)], MediaType::Video),
            SsrcGroup::new(Semantics::Fid, vec![], MediaType::Video),
            SsrcGroup::new(Semantics::Fid, vec![ssrc(9), ssrc(10)], MediaType::Video),
        ],
    );
    let sources = Sources::from_set(&set, "ep");
    let ids: Vec<&str> = sources
        .media_sources
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(ids, ["ep-a0", "ep-v0", "ep-v1"]);
    assert_eq!(sources.media_sources[2].groups.len(), 1);
    assert!(
        sources.media_sources[2]
            .sources
            .iter()
            .all(|s| s.msid.is_none())
    );
    assert_eq!(Sources::parse(&sources.to_element()), Ok(sources));
}

// ----- answers ---------------------------------------------------------------

#[test]
fn create_answer_gives_transport_sctp_and_feedback_sources() {
    let answer = Answer::parse(&xml_all(CREATE_ANSWER)[0]).expect("parses");
    let allocated = allocation_outcome(Some(&answer), "a1b2c3d4", true).expect("allocated");
    assert_eq!(allocated.sctp_port, Some(5000));
    assert_eq!(allocated.transport.ufrag.as_deref(), Some("3fk0a1qlh2pc"));
    assert_eq!(allocated.transport.candidates.len(), 2);
    assert_eq!(allocated.transport.candidates[1].kind, CandidateType::Srflx);
    assert_eq!(allocated.transport.candidates[1].rel_port, Some(10000));
    assert_eq!(
        allocated.transport.fingerprints[0].setup,
        Some(Setup::Actpass)
    );
    assert_eq!(allocated.transport.web_sockets.len(), 1);
    assert!(allocated.transport.rtcp_mux);
    let feedback = EndpointSourceSet::from_sources([
        Source::new(ssrc(1481026011), MediaType::Audio)
            .with_name("jvb-a0")
            .with_msid("mixedmslabel mixedlabelaudio0"),
        Source::new(ssrc(3059817422), MediaType::Video)
            .with_name("jvb-v0")
            .with_msid("mixedmslabel mixedlabelvideo0"),
    ]);
    assert_eq!(allocated.feedback_sources, feedback);
    let Answer::Modified(modified) = answer else {
        panic!("a result")
    };
    let sctp = modified.endpoints[0]
        .transport
        .as_ref()
        .and_then(|t| t.sctp.clone());
    assert_eq!(
        sctp,
        Some(Sctp {
            port: Some(5000),
            role: Some(SctpRole::Server),
            ..Sctp::default()
        })
    );
    assert_eq!(
        allocation_outcome(Some(&Answer::Modified(modified.clone())), "other", false),
        Err(AllocationFailure::FailParticipant { mark: None })
    );
}

#[test]
fn allocation_answer_shortcomings() {
    let fail = Err(AllocationFailure::FailParticipant { mark: None });
    // No sctp in the answer while SCTP was asked for.
    let mut modified = match Answer::parse(&xml_all(CREATE_ANSWER)[0]) {
        Ok(Answer::Modified(m)) => m,
        other => panic!("{other:?}"),
    };
    if let Some(t) = modified.endpoints[0].transport.as_mut() {
        t.sctp = None;
    }
    let answer = Answer::Modified(modified.clone());
    assert_eq!(allocation_outcome(Some(&answer), "a1b2c3d4", true), fail);
    assert!(allocation_outcome(Some(&answer), "a1b2c3d4", false).is_ok());
    // A transport without ICE.
    if let Some(t) = modified.endpoints[0].transport.as_mut() {
        t.ice = None;
    }
    let answer = Answer::Modified(modified);
    assert_eq!(allocation_outcome(Some(&answer), "a1b2c3d4", false), fail);
    // Timeout and wrong result.
    assert_eq!(
        allocation_outcome(None, "a1b2c3d4", false),
        Err(AllocationFailure::RemoveSession {
            mark: Some(BridgeMark::NonOperational)
        })
    );
    assert_eq!(
        allocation_outcome(Some(&Answer::WrongResult), "a1b2c3d4", false),
        Err(AllocationFailure::FailParticipant {
            mark: Some(BridgeMark::NonOperational)
        })
    );
}

#[test]
fn plain_answers() {
    let answers = answers(ANSWERS);
    let modified: Vec<&ConferenceModified> = answers
        .iter()
        .map(|a| request_outcome(Some(a)).expect("modified"))
        .collect();
    assert_eq!(modified[0].endpoints[0].id, "a1b2c3d4");
    assert!(modified[0].endpoints[0].transport.is_none());
    assert!(modified[1].endpoints[0].expire);
    assert_eq!(modified[2], &ConferenceModified::default());
    assert!(modified[3].relays[0].expire);
    assert_eq!(
        modified[3].relay("relay-b").map(|r| r.id.as_str()),
        Some("relay-b")
    );
    // ICE restart: a new transport with its generation, or none.
    let restarted = modified[4].endpoint("a1b2c3d4").and_then(Endpoint::ice);
    assert_eq!(restarted.and_then(|t| t.ice_generation), Some(1));
    assert_eq!(
        modified[5].endpoint("a1b2c3d4").and_then(Endpoint::ice),
        None
    );
    assert!(modified.iter().all(|m| m.sources.is_none()));

    let result = xml("<iq xmlns='jabber:client' type='result' id='x'/>");
    assert_eq!(Answer::parse(&result), Ok(Answer::WrongResult));
    assert_eq!(request_outcome(None), Err(RequestFailure::Ignore));
    assert_eq!(
        request_outcome(Some(&Answer::WrongResult)),
        Err(RequestFailure::SessionFailed)
    );
    assert_eq!(
        relay_create_outcome(None),
        Err(RequestFailure::SessionFailed)
    );
    assert_eq!(
        relay_create_outcome(Some(&answers[0])),
        Err(RequestFailure::SessionFailed)
    );
    let set = xml("<iq xmlns='jabber:client' type='set' id='x'/>");
    assert!(Answer::parse(&set).is_err());
}

#[test]
fn answer_round_trips() {
    for text in [CREATE_ANSWER, RELAY_ANSWERS, ANSWERS] {
        for iq in xml_all(text) {
            let payload = iq
                .get_child("conference-modified", NS_COLIBRI2)
                .expect("payload");
            let modified = ConferenceModified::parse(payload).expect("parses");
            let written = modified.to_element();
            assert_eq!(ConferenceModified::parse(&written).as_ref(), Ok(&modified));
        }
    }
}

// ----- errors ----------------------------------------------------------------

#[test]
fn every_error_answer_classified() {
    use AllocationFailure::*;
    let non_op = Some(BridgeMark::NonOperational);
    let errors: Vec<BridgeError> = answers(ERRORS)
        .into_iter()
        .map(|a| match a {
            Answer::Error(e) => e,
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: [(ErrorKind, AllocationFailure, RequestFailure); 9] = [
        (
            ErrorKind::ConferenceGone,
            RemoveSession { mark: None },
            RequestFailure::SessionFailed,
        ),
        (
            ErrorKind::ConferenceAlreadyExists,
            ConferenceAlreadyExists,
            RequestFailure::SessionFailed,
        ),
        (
            ErrorKind::GracefulShutdown,
            RemoveSession {
                mark: Some(BridgeMark::GracefulShutdown),
            },
            RequestFailure::SessionFailed,
        ),
        (
            ErrorKind::EndpointUnknown("e5f6a7b8".to_owned()),
            FailParticipant { mark: None },
            RequestFailure::EndpointFailed {
                endpoint_id: "e5f6a7b8".to_owned(),
            },
        ),
        (
            ErrorKind::BridgeFailed,
            RemoveSession { mark: non_op },
            RequestFailure::SessionFailed,
        ),
        (
            ErrorKind::BadRequest,
            FailParticipant { mark: None },
            RequestFailure::SessionFailed,
        ),
        (
            ErrorKind::BridgeFailed,
            RemoveSession { mark: None },
            RequestFailure::SessionFailed,
        ),
        (
            ErrorKind::BridgeFailed,
            RemoveSession { mark: non_op },
            RequestFailure::SessionFailed,
        ),
        (
            ErrorKind::NotFound,
            FailParticipant { mark: None },
            RequestFailure::SessionFailed,
        ),
    ];
    assert_eq!(errors.len(), expected.len());
    for (error, (kind, allocation, request)) in errors.iter().zip(expected) {
        assert_eq!(error.kind(), kind, "{error:?}");
        assert_eq!(error.on_allocation(), allocation, "{error:?}");
        assert_eq!(error.on_request(), request, "{error:?}");
        assert_eq!(
            allocation_outcome(Some(&Answer::Error(error.clone())), "x", false),
            Err(allocation)
        );
        assert_eq!(
            relay_create_outcome(Some(&Answer::Error(error.clone()))),
            Err(RequestFailure::SessionFailed)
        );
        assert_eq!(BridgeError::from_error_element(&error.to_element()), *error);
    }
    assert_eq!(errors[0].reason, Some(Reason::ConferenceNotFound));
    assert_eq!(
        errors[0].text.as_deref(),
        Some("Conference not found for ID: 5c1a9a3e-2f4b-4b8e-9d0c-1f7d2e6a4b10")
    );
    assert!(errors[0].from_bridge());
    assert_eq!(errors[5].kind, ErrorType::Modify);
    assert!(!errors[5].from_bridge());
    assert_eq!(errors[8].condition, Condition::ItemNotFound);
}

#[test]
fn error_reasons() {
    assert_eq!(Reason::from_wire(None), Reason::Unspecified);
    assert_eq!(
        Reason::from_wire(Some("UNKNOWN_ENDPOINT")),
        Reason::UnknownEndpoint
    );
    assert_eq!(
        Reason::from_wire(Some("nope")),
        Reason::Other("nope".to_owned())
    );
    let long = "x".repeat(5000);
    assert_eq!(
        Reason::from_wire(Some(&long)).as_str().len(),
        error::MAX_ERROR_VALUE
    );
    // A colibri2 error without a reason is `unspecified`, still from a bridge.
    let e = BridgeError::from_error_element(&xml("<error xmlns='jabber:client' type='cancel'>
           <conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
           <error xmlns='jitsi:colibri2'/>
         </error>"));
    assert_eq!(e.reason, Some(Reason::Unspecified));
    assert_eq!(
        e.on_allocation(),
        AllocationFailure::RemoveSession { mark: None }
    );
    // unknown_endpoint without an endpoint id fails the session.
    let e = BridgeError::new(Condition::ItemNotFound, None, Some(Reason::UnknownEndpoint));
    assert_eq!(e.on_request(), RequestFailure::SessionFailed);
    assert_eq!(e.kind(), ErrorKind::BridgeFailed);
    // An IQ error without an <error/> child.
    let iq = xml("<iq xmlns='jabber:client' type='error' id='x'/>");
    assert_eq!(
        BridgeError::from_iq(&iq).condition,
        Condition::UndefinedCondition
    );
}

// ----- leniency and bounds -----------------------------------------------------

#[test]
fn unknown_pieces_kept_missing_ones_refused() {
    let el = xml(
        "<conference-modify xmlns='jitsi:colibri2' meeting-id='m' callstats-enabled='false'>
           <traceparent xmlns='jitsi:opentelemetry' trace_id='1'/>
           <endpoint id='a' CREATE='x' create='TRUE'><future xmlns='urn:other'/></endpoint>
         </conference-modify>",
    );
    let request = ConferenceModify::parse(&el).expect("lenient");
    assert_eq!(request.other.len(), 1);
    assert!(request.endpoints[0].create);
    assert_eq!(request.endpoints[0].other.len(), 1);
    assert_eq!(request.endpoints[0].extra_attrs.len(), 1);
    assert_eq!(request.extra_attrs.len(), 1);
    assert_eq!(ConferenceModify::parse(&request.to_element()), Ok(request));

    for bad in [
        "<conference-modify xmlns='jitsi:colibri2'/>",
        "<conference-modify xmlns='jitsi:colibri2' meeting-id='  '/>",
        "<conference-modify xmlns='jitsi:colibri2' meeting-id='m'><endpoint/></conference-modify>",
        "<conference-modify xmlns='jitsi:colibri2' meeting-id='m'><endpoint id='a' muc-role='king'/></conference-modify>",
        "<conference-modify xmlns='jitsi:colibri2' meeting-id='m'><relay id='r'><transport><sctp role='peer'/></transport></relay></conference-modify>",
        "<conference-modify xmlns='jitsi:colibri2' meeting-id='m'><relay id='r'><transport><sctp port='x'/></transport></relay></conference-modify>",
        "<conference-modify xmlns='jitsi:colibri2' meeting-id='m'><connects><connect url='http://x' protocol='mediajson' type='recorder'/></connects></conference-modify>",
        "<conference-modify xmlns='jitsi:colibri2' meeting-id='m'><connects><connect url='ws://x' protocol='mediajson' type='recorder'><http-header name='a b' value='v'/></connect></connects></conference-modify>",
    ] {
        let el = xml(bad);
        assert!(ConferenceModify::parse(&el).is_err(), "{bad}");
    }
    assert_eq!(MeetingId::new(" "), Err(BlankMeetingId));
}

#[test]
fn media_source_leniency() {
    let el = xml("<sources xmlns='jitsi:colibri2'>
           <media-source type='VIDEO' id='x-v0' synthetic='true'>
             <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='5'/>
             <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='FEC-FR'>
               <source ssrc='5'/><source ssrc='6'/>
             </ssrc-group>
           </media-source>
         </sources>");
    let sources = Sources::parse(&el).expect("parses");
    let ms = &sources.media_sources[0];
    assert_eq!(ms.media_type, MediaType::Video);
    assert!(ms.synthetic);
    assert_eq!(ms.groups.len(), 0);
    assert_eq!(ms.other.len(), 1);
    assert_eq!(Sources::parse(&sources.to_element()).as_ref(), Ok(&sources));
    for bad in [
        "<sources xmlns='jitsi:colibri2'><media-source id='x'/></sources>",
        "<sources xmlns='jitsi:colibri2'><media-source type='audio'/></sources>",
        "<sources xmlns='jitsi:colibri2'><media-source type='audio' id='x'><source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='0'/></media-source></sources>",
        "<sources xmlns='jitsi:colibri2'><media-source type='audio' id='x'><ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='SIM'><source ssrc='z'/></ssrc-group></media-source></sources>",
    ] {
        assert!(Sources::parse(&xml(bad)).is_err(), "{bad}");
    }
}

#[test]
fn hostile_sizes_bounded() {
    let many = |n: usize, item: &str| item.repeat(n);
    let endpoints = format!(
        "<conference-modified xmlns='jitsi:colibri2'>{}</conference-modified>",
        many(MAX_ENTITIES + 1, "<endpoint id='a'/>")
    );
    assert!(ConferenceModified::parse(&xml(&endpoints)).is_err());
    let capabilities = format!(
        "<endpoint xmlns='jitsi:colibri2' id='a'>{}</endpoint>",
        many(MAX_CAPABILITIES + 1, "<capability name='x'/>")
    );
    assert!(Endpoint::parse(&xml(&capabilities)).is_err());
    let unknown = format!(
        "<endpoint xmlns='jitsi:colibri2' id='a'>{}</endpoint>",
        many(MAX_OTHER * 3, "<x xmlns='urn:other'/>")
    );
    let ep = Endpoint::parse(&xml(&unknown)).expect("unknown ignored");
    assert_eq!(ep.other.len(), MAX_OTHER);
}

#[test]
fn fixtures_through_fuzz_target() {
    for text in ALL {
        fuzz_colibri2(text.as_bytes());
    }
    fuzz_colibri2(b"<iq type='result'><conference-modified xmlns='jitsi:colibri2'><endpoint");
}

// ----- property tests ------------------------------------------------------------

const NAMES: &[&str] = &[
    "iq",
    "conference-modify",
    "conference-modified",
    "endpoint",
    "relay",
    "endpoints",
    "media",
    "transport",
    "sctp",
    "sources",
    "media-source",
    "source",
    "ssrc-group",
    "capability",
    "force-mute",
    "initial-last-n",
    "connects",
    "connect",
    "http-header",
    "ping",
    "exports",
    "export",
    "requests",
    "request",
    "error",
    "text",
    "item-not-found",
    "conflict",
    "service-unavailable",
    "bad-request",
    "payload-type",
    "parameter",
    "rtcp-fb",
    "rtp-hdrext",
    "extmap-allow-mixed",
    "candidate",
    "fingerprint",
    "web-socket",
    "rtcp-mux",
];

const NAMESPACES: &[&str] = &[
    "jabber:client",
    "jitsi:colibri2",
    "urn:xmpp:jingle:transports:ice-udp:1",
    "urn:xmpp:jingle:apps:dtls:0",
    "http://jitsi.org/protocol/colibri",
    "urn:xmpp:jingle:apps:rtp:ssma:0",
    "urn:xmpp:jingle:apps:rtp:1",
    "urn:xmpp:jingle:apps:rtp:rtcp-fb:0",
    "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0",
    "urn:ietf:params:xml:ns:xmpp-stanzas",
    "urn:other",
];

const ATTRS: &[&str] = &[
    "id",
    "type",
    "create",
    "expire",
    "meeting-id",
    "name",
    "stats-id",
    "muc-role",
    "diarize",
    "ice-controlling",
    "use-unique-port",
    "ice-restart",
    "port",
    "role",
    "reason",
    "ssrc",
    "semantics",
    "videoType",
    "synthetic",
    "audio",
    "video",
    "value",
    "url",
    "protocol",
    "ufrag",
    "pwd",
    "component",
    "foundation",
    "ip",
    "priority",
    "hash",
    "setup",
    "interval",
    "timeout",
    "clockrate",
    "uri",
    "rtcstats-enabled",
    "mesh-id",
    "ice-generation",
];

/// Values that mean something to the COLIBRI2 parsers (three times in
/// four), and arbitrary ones.
fn arb_value() -> impl Strategy<Value = String> {
    known_or_any(
        &[
            "",
            "true",
            "TRUE",
            "false",
            "audio",
            "video",
            "data",
            "0",
            "1",
            "5000",
            "70000",
            "-1",
            "client",
            "server",
            "Client",
            "visitor",
            "moderator",
            "conference_not_found",
            "unknown_endpoint",
            "graceful_shutdown",
            "SIM",
            "FID",
            "FEC-FR",
            "camera",
            "desktop",
            "wss://x/y",
            "http://x",
            "mediajson",
            "transcriber",
            "result",
            "error",
            "set",
            "actpass",
            "active",
            "host",
            "udp",
            "4294967295",
            "4294967296",
            "source-names",
            "a b",
        ],
        3,
    )
}

/// COLIBRI2-ish elements without children.
fn arb_leaf() -> BoxedStrategy<Element> {
    arb_leaf_of(NAMES, NAMESPACES, ATTRS, 5, arb_value(), arb_value())
}

/// Arbitrary trees of COLIBRI2-ish elements.
fn arb_tree() -> impl Strategy<Value = Element> {
    arb_tree_of(arb_leaf(), 5, 64, 6)
}

/// Every element of the tree, the root first.
fn walk(el: &Element, out: &mut Vec<Element>) {
    out.push(el.clone());
    for child in el.children() {
        walk(child, out);
    }
}

/// One change to a fixture stanza.
#[derive(Debug, Clone)]
enum Mutation {
    SetAttr(&'static str, String),
    Append(Element),
    RemoveFirstChild,
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (prop::sample::select(ATTRS), arb_value()).prop_map(|(a, v)| Mutation::SetAttr(a, v)),
        1 => arb_leaf().prop_map(Mutation::Append),
        1 => Just(Mutation::RemoveFirstChild),
    ]
}

/// Applies `mutation` to the `target`th element of `el` (pre-order).
fn mutate_at(el: &mut Element, target: &mut usize, mutation: &Mutation) -> bool {
    if *target == 0 {
        match mutation {
            Mutation::SetAttr(name, value) => {
                el.set_attr(
                    rxml::Namespace::NONE,
                    crate::xml::ncname(name),
                    value.clone(),
                );
            }
            Mutation::Append(child) => {
                el.append_child(child.clone());
            }
            Mutation::RemoveFirstChild => {
                let first = el.children().next().map(|c| (c.name().to_owned(), c.ns()));
                if let Some((name, ns)) = first {
                    el.remove_child(&name, ns.as_str());
                }
            }
        }
        return true;
    }
    *target -= 1;
    el.children_mut()
        .any(|child| mutate_at(child, target, mutation))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn mutated_fixtures_never_panic_and_round_trip(
        file in 0..ALL.len(),
        stanza in 0usize..8,
        mutations in prop::collection::vec((0usize..200, arb_mutation()), 1..6),
    ) {
        let stanzas = xml_all(ALL[file]);
        let mut el = strip_blank_text(&stanzas[stanza % stanzas.len()]);
        for (target, mutation) in &mutations {
            let mut target = *target;
            mutate_at(&mut el, &mut target, mutation);
        }
        let mut all = Vec::new();
        walk(&el, &mut all);
        for e in &all {
            super::fuzz_element(e);
        }
    }

    #[test]
    fn arbitrary_trees_never_panic_and_round_trip(tree in arb_tree()) {
        let mut all = Vec::new();
        walk(&tree, &mut all);
        for el in &all {
            super::fuzz_element(el);
            let _ = Endpoint::parse(el).map(|e| e.to_element());
            let _ = Relay::parse(el).map(|r| r.to_element());
            let _ = MediaSource::parse(el).map(|m| m.to_element());
            let _ = Transport::parse(el).map(|t| t.to_element());
            let _ = Connect::parse(el).map(|c| c.to_element());
            let _ = BridgeError::from_error_element(el).on_allocation();
        }
    }

    #[test]
    fn arbitrary_stanza_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        fuzz_colibri2(&data);
    }
}
