//! The focus's COLIBRI2 codec (`focus_proto::ext::colibri2`) against the
//! bridge emulator (`focus_tests::emulator`), which was written
//! independently from the same notes (colibri2.md): every request is built
//! with the focus's builders, every answer read with its parsers and
//! classified.

use std::time::Instant;

use focus_proto::config::Config;
use focus_proto::ext::colibri2::{
    AllocationFailure, Answer, BridgeMark, ConferenceModify, Endpoint, ErrorKind, MeetingId,
    ParticipantInfo, Reason, Relay, RelaySide, RequestFailure, SctpRole, Transport,
    allocation_outcome, relay_create_outcome, request_outcome,
};
use focus_proto::ext::error::Condition;
use focus_proto::ext::jingle::{Setup, Transport as IceTransport};
use focus_proto::source::{EndpointSourceSet, MediaType, Semantics, Source, Ssrc, SsrcGroup};
use focus_tests::emulator::{BridgeOptions, Control, EmulatedBridge};
use minidom::Element;

const BREWERY: &str = "jvbbrewery@internal.auth.example.com";
const ROOM: &str = "myroom@conference.example.com";
const MEETING: &str = "5c1a9a3e-2f4b-4b8e-9d0c-1f7d2e6a4b10";

/// An emulated bridge in the brewery, and a counter for IQ ids.
struct Bridge {
    jvb: EmulatedBridge,
    now: Instant,
    next_id: u32,
}

impl Bridge {
    fn new(nick: &str, relay_id: &str) -> Self {
        let now = Instant::now();
        let mut options = BridgeOptions::new(BREWERY, nick);
        options.relay_id = Some(relay_id.to_owned());
        options.seed = 7;
        let mut jvb = EmulatedBridge::new(options, now);
        jvb.start(now);
        while jvb.poll_stanza().is_some() {}
        Self {
            jvb,
            now,
            next_id: 0,
        }
    }

    /// Sends `request`; the IQ answer, `None` when the bridge stays silent.
    fn ask(&mut self, request: &ConferenceModify) -> Option<Answer> {
        self.next_id += 1;
        let id = format!("c2-{}", self.next_id);
        let iq = request.to_iq(&id, &self.jvb.occupant_jid());
        self.jvb.handle_stanza(self.now, &with_from(iq));
        let mut answer = None;
        while let Some(stanza) = self.jvb.poll_stanza() {
            if stanza.name() == "iq" && stanza.attr("id") == Some(id.as_str()) {
                answer = Some(stanza);
            }
        }
        answer.map(|iq| Answer::parse(&iq).expect("the emulator's answer parses"))
    }

    fn error(&mut self, request: &ConferenceModify) -> focus_proto::ext::colibri2::BridgeError {
        match self.ask(request) {
            Some(Answer::Error(e)) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

fn with_from(mut iq: Element) -> Element {
    iq.set_attr(
        rxml_none(),
        focus_proto::xml::ncname("from"),
        "focus@auth.example.com/focus",
    );
    iq
}

fn rxml_none() -> minidom::rxml::Namespace<'static> {
    minidom::rxml::Namespace::NONE
}

fn meeting() -> MeetingId {
    MeetingId::new(MEETING).expect("not blank")
}

fn ssrc(v: u32) -> Ssrc {
    Ssrc::new(v).expect("non-zero")
}

fn media() -> Vec<focus_proto::ext::colibri2::Media> {
    Relay::media_from_config(&Config::default().codec)
}

fn participant(id: &str, stats_id: &str) -> ParticipantInfo {
    ParticipantInfo {
        id: id.to_owned(),
        stats_id: Some(stats_id.to_owned()),
        use_ssrc_rewriting: true,
        use_sctp: true,
        media: media(),
        ..ParticipantInfo::default()
    }
}

fn alice_sources() -> EndpointSourceSet {
    let video = |s| {
        Source::new(ssrc(s), MediaType::Video)
            .with_name("a1b2c3d4-v0")
            .with_video_type(focus_proto::source::VideoType::Camera)
    };
    EndpointSourceSet::from_parts(
        [
            Source::new(ssrc(2210384121), MediaType::Audio).with_name("a1b2c3d4-a0"),
            video(410225713),
            video(3870006012),
        ],
        [SsrcGroup::new(
            Semantics::Fid,
            vec![ssrc(410225713), ssrc(3870006012)],
            MediaType::Video,
        )],
    )
}

fn alice_transport() -> IceTransport {
    let el: Element = "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='Yh4x' pwd='b0Cq1x8Zr2Lm6Tq0Wd3e'>\
         <rtcp-mux/>\
         <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='active'>C1:5E:88:02</fingerprint>\
         <candidate component='1' foundation='3581729012' generation='0' id='1' network='1' \
             priority='2122260223' protocol='udp' type='host' ip='192.0.2.50' port='52311'/>\
         </transport>"
        .parse()
        .expect("XML");
    IceTransport::parse(&el).expect("transport")
}

fn modified(answer: Option<Answer>) -> focus_proto::ext::colibri2::ConferenceModified {
    match request_outcome(answer.as_ref()) {
        Ok(m) => m.clone(),
        Err(e) => panic!("expected conference-modified, got {e:?} ({answer:?})"),
    }
}

#[test]
fn create_allocate_update_expire() {
    let mut jvb = Bridge::new("jvb-a", "relay-a");
    let alice = ParticipantInfo {
        audio_muted: true,
        ..participant("a1b2c3d4", "Alice-Qx1")
    };
    let request = ConferenceModify::create_conference(meeting(), ROOM, false, &alice, Vec::new());
    let answer = jvb.ask(&request);
    let allocated = allocation_outcome(answer.as_ref(), "a1b2c3d4", true).expect("allocated");
    assert_eq!(allocated.sctp_port, Some(5000));
    assert!(allocated.transport.ufrag.is_some() && allocated.transport.pwd.is_some());
    assert!(!allocated.transport.candidates.is_empty());
    assert_eq!(
        allocated.transport.fingerprints[0].setup,
        Some(Setup::Actpass)
    );
    assert_eq!(allocated.transport.web_sockets.len(), 1);
    assert!(allocated.transport.rtcp_mux);
    let feedback: Vec<(MediaType, Option<&str>, Option<&str>)> = allocated
        .feedback_sources
        .sources()
        .iter()
        .map(|s| (s.media_type, s.name.as_deref(), s.msid.as_deref()))
        .collect();
    assert_eq!(
        feedback,
        [
            (
                MediaType::Audio,
                Some("jvb-a0"),
                Some("mixedmslabel mixedlabelaudio0")
            ),
            (
                MediaType::Video,
                Some("jvb-v0"),
                Some("mixedmslabel mixedlabelvideo0")
            ),
        ]
    );
    let conference = jvb.jvb.conference(MEETING).expect("created");
    assert_eq!(conference.name.as_deref(), Some(ROOM));
    assert!(!conference.rtcstats_enabled);
    let ep = jvb.jvb.endpoint(MEETING, "a1b2c3d4").expect("endpoint");
    assert_eq!(ep.stats_id.as_deref(), Some("Alice-Qx1"));
    assert!(ep.sctp && ep.ice_controlling && ep.force_mute_audio && !ep.force_mute_video);
    assert_eq!(ep.capabilities, ["source-names", "ssrc-rewriting"]);
    assert!(ep.payload_types.iter().any(|p| p.name == "opus"));
    assert!(ep.payload_types.iter().any(|p| p.name == "VP8"));
    assert!(ep.extmap_allow_mixed);

    // A second endpoint: no create on the conference.
    let bob = ParticipantInfo {
        visitor: true,
        use_sctp: false,
        ..participant("e5f6a7b8", "Bob-Zr7")
    };
    let answer = jvb.ask(&ConferenceModify::allocate(meeting(), &bob));
    let allocated = allocation_outcome(answer.as_ref(), "e5f6a7b8", false).expect("allocated");
    assert_eq!(allocated.sctp_port, None);
    assert_eq!(allocated.feedback_sources.sources().len(), 2);
    let ep = jvb.jvb.endpoint(MEETING, "e5f6a7b8").expect("endpoint");
    assert!(ep.visitor && !ep.sctp);

    // session-accept: transport, sources, initial-last-n.
    let request = ConferenceModify::update_endpoint(
        meeting(),
        "a1b2c3d4",
        Some("Alice-Qx1".to_owned()),
        Some(alice_transport()),
        Some(&alice_sources()),
        Some(25),
    )
    .expect("an update");
    let answer = modified(jvb.ask(&request));
    assert_eq!(answer.endpoints.len(), 1);
    assert_eq!(answer.endpoints[0].id, "a1b2c3d4");
    assert!(answer.endpoints[0].transport.is_none());
    assert!(answer.sources.is_none());
    let ep = jvb.jvb.endpoint(MEETING, "a1b2c3d4").expect("endpoint");
    let remote = ep.remote.as_ref().expect("remote transport");
    assert_eq!(remote.ufrag.as_deref(), Some("Yh4x"));
    assert_eq!(remote.setup.as_deref(), Some("active"));
    assert_eq!(remote.candidates, 1);
    assert_eq!(ep.initial_last_n, Some(25));
    let ids: Vec<&str> = ep.sources.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["a1b2c3d4-a0", "a1b2c3d4-v0"]);
    assert_eq!(ep.sources[1].sources.len(), 2);
    assert_eq!(
        ep.sources[1].groups,
        [("FID".to_owned(), vec![410225713, 3870006012])]
    );

    // Force-mute batch (a visitor included).
    let request = ConferenceModify::force_mute(
        meeting(),
        [("a1b2c3d4", false, true), ("e5f6a7b8", true, false)],
    );
    let answer = modified(jvb.ask(&request));
    assert_eq!(answer.endpoints.len(), 2);
    let ep = jvb.jvb.endpoint(MEETING, "a1b2c3d4").expect("endpoint");
    assert!(!ep.force_mute_audio && ep.force_mute_video);

    // In-place ICE restart: a new transport with its generation.
    let request = ConferenceModify::ice_restart(meeting(), "a1b2c3d4", Some("Alice-Qx1".into()));
    let answer = modified(jvb.ask(&request));
    let ice = answer
        .endpoint("a1b2c3d4")
        .and_then(Endpoint::ice)
        .expect("restarted transport");
    assert_eq!(ice.ice_generation, Some(1));

    // Expire Bob.
    let request = ConferenceModify::expire_endpoints(meeting(), ["e5f6a7b8"]).expect("one");
    let answer = modified(jvb.ask(&request));
    assert!(answer.endpoints[0].expire);
    assert!(jvb.jvb.endpoint(MEETING, "e5f6a7b8").is_none());
    // Expiring an id the bridge no longer knows is not an error.
    let answer = modified(jvb.ask(&request));
    assert!(answer.endpoints[0].expire);

    // Expire the conference.
    let answer = modified(jvb.ask(&ConferenceModify::expire_conference(meeting())));
    assert_eq!(answer, Default::default());
    assert!(jvb.jvb.conference(MEETING).is_none());
}

#[test]
fn relays_between_two_bridges() {
    let mut a = Bridge::new("jvb-a", "relay-a");
    let mut b = Bridge::new("jvb-b", "relay-b");
    let alice = ParticipantInfo {
        sources: alice_sources(),
        ..participant("a1b2c3d4", "Alice-Qx1")
    };
    let bob = participant("e5f6a7b8", "Bob-Zr7");
    let visitor = ParticipantInfo {
        visitor: true,
        ..participant("f0f0f0f0", "Vis")
    };
    let carol = participant("c9d0e1f2", "Carol-Mv3");
    let create = ConferenceModify::create_conference(meeting(), ROOM, true, &alice, Vec::new());
    allocation_outcome(a.ask(&create).as_ref(), "a1b2c3d4", true).expect("alice");
    allocation_outcome(
        a.ask(&ConferenceModify::allocate(meeting(), &bob)).as_ref(),
        "e5f6a7b8",
        true,
    )
    .expect("bob");
    let create = ConferenceModify::create_conference(meeting(), ROOM, true, &carol, Vec::new());
    allocation_outcome(b.ask(&create).as_ref(), "c9d0e1f2", true).expect("carol");

    let side_a = RelaySide {
        initiator: true,
        sctp_datachannels: true,
    };
    let side_b = RelaySide {
        initiator: false,
        sctp_datachannels: true,
    };
    let to_a = ConferenceModify::relay(
        meeting(),
        Relay::create(
            "relay-b",
            Some("0".into()),
            side_a,
            media(),
            std::slice::from_ref(&carol),
        ),
    );
    let answer_a = a.ask(&to_a);
    let ice_a = relay_create_outcome(answer_a.as_ref()).expect("relay transport from a");
    let to_b = ConferenceModify::relay(
        meeting(),
        Relay::create(
            "relay-a",
            Some("0".into()),
            side_b,
            media(),
            &[alice.clone(), bob.clone(), visitor],
        ),
    );
    let answer_b = b.ask(&to_b);
    let ice_b = relay_create_outcome(answer_b.as_ref()).expect("relay transport from b");
    // The SCTP roles come back reversed.
    let sctp_role = |answer: &Option<Answer>| match answer {
        Some(Answer::Modified(m)) => m.relays[0]
            .transport
            .as_ref()
            .and_then(|t: &Transport| t.sctp.as_ref())
            .map(|s| (s.port, s.role)),
        _ => None,
    };
    assert_eq!(
        sctp_role(&answer_a),
        Some((Some(5000), Some(SctpRole::Server)))
    );
    assert_eq!(
        sctp_role(&answer_b),
        Some((Some(5000), Some(SctpRole::Client)))
    );
    let relay_on_a = a.jvb.relay(MEETING, "relay-b").expect("relay");
    assert!(relay_on_a.use_unique_port && relay_on_a.ice_controlling);
    assert_eq!(relay_on_a.mesh_id.as_deref(), Some("0"));
    assert!(relay_on_a.endpoints.contains_key("c9d0e1f2"));
    let relay_on_b = b.jvb.relay(MEETING, "relay-a").expect("relay");
    assert!(!relay_on_b.use_unique_port && !relay_on_b.ice_controlling);
    let remote: Vec<&str> = relay_on_b.endpoints.keys().map(String::as_str).collect();
    assert_eq!(
        remote,
        ["a1b2c3d4", "e5f6a7b8"],
        "visitors are never relayed"
    );
    assert_eq!(relay_on_b.endpoints["a1b2c3d4"].sources.len(), 2);

    // Each side gets the other's transport with its DTLS role.
    let forward = Relay::remote_transport("relay-a", side_b, ice_a).expect("actpass");
    modified(b.ask(&ConferenceModify::relay(meeting(), forward)));
    let forward = Relay::remote_transport("relay-b", side_a, ice_b).expect("actpass");
    modified(a.ask(&ConferenceModify::relay(meeting(), forward)));
    let remote_b = b
        .jvb
        .relay(MEETING, "relay-a")
        .and_then(|r| r.remote.clone());
    assert_eq!(remote_b.and_then(|r| r.setup), Some("passive".to_owned()));
    let remote_a = a
        .jvb
        .relay(MEETING, "relay-b")
        .and_then(|r| r.remote.clone());
    let remote_a = remote_a.expect("remote transport");
    assert_eq!(remote_a.setup.as_deref(), Some("active"));
    assert_eq!(remote_a.web_sockets, 0);

    // Remote endpoint source update and expire.
    let mut alice2 = alice.clone();
    alice2.sources =
        EndpointSourceSet::from_sources([
            Source::new(ssrc(2210384121), MediaType::Audio).with_name("a1b2c3d4-a0")
        ]);
    modified(b.ask(&ConferenceModify::relay(
        meeting(),
        Relay::update_endpoint("relay-a", &alice2, false),
    )));
    let relay_on_b = b.jvb.relay(MEETING, "relay-a").expect("relay");
    assert_eq!(relay_on_b.endpoints["a1b2c3d4"].sources.len(), 1);
    let expire = Relay::expire_endpoints("relay-a", [&bob]).expect("bob");
    modified(b.ask(&ConferenceModify::relay(meeting(), expire)));
    let relay_on_b = b.jvb.relay(MEETING, "relay-a").expect("relay");
    assert!(!relay_on_b.endpoints.contains_key("e5f6a7b8"));
    // A new remote endpoint.
    modified(a.ask(&ConferenceModify::relay(
        meeting(),
        Relay::update_endpoint("relay-b", &participant("d1d1d1d1", "Dan"), true),
    )));
    assert!(
        a.jvb
            .relay(MEETING, "relay-b")
            .is_some_and(|r| r.endpoints.contains_key("d1d1d1d1"))
    );

    // Relay expire.
    let answer = modified(a.ask(&ConferenceModify::relay(
        meeting(),
        Relay::expire("relay-b"),
    )));
    assert!(answer.relays[0].expire);
    assert!(a.jvb.relay(MEETING, "relay-b").is_none());
}

#[test]
fn every_error_classified() {
    let mut jvb = Bridge::new("jvb-a", "relay-a");
    let alice = participant("a1b2c3d4", "Alice-Qx1");

    // Conference not found: an update before any create.
    let update = ConferenceModify::update_endpoint(
        meeting(),
        "a1b2c3d4",
        None,
        None,
        Some(&EndpointSourceSet::new()),
        None,
    )
    .expect("an update");
    let e = jvb.error(&update);
    assert_eq!(e.condition, Condition::ItemNotFound);
    assert_eq!(e.reason, Some(Reason::ConferenceNotFound));
    assert_eq!(e.kind(), ErrorKind::ConferenceGone);
    assert_eq!(e.on_request(), RequestFailure::SessionFailed);
    assert_eq!(
        e.on_allocation(),
        AllocationFailure::RemoveSession { mark: None }
    );

    let create = ConferenceModify::create_conference(meeting(), ROOM, true, &alice, Vec::new());
    allocation_outcome(jvb.ask(&create).as_ref(), "a1b2c3d4", true).expect("created");

    // Conference already exists.
    let e = jvb.error(&create);
    assert_eq!(e.condition, Condition::Conflict);
    assert_eq!(e.kind(), ErrorKind::ConferenceAlreadyExists);
    assert_eq!(
        e.on_allocation(),
        AllocationFailure::ConferenceAlreadyExists
    );

    // Endpoint already exists: a conflict without a reason.
    let e = jvb.error(&ConferenceModify::allocate(meeting(), &alice));
    assert_eq!((e.condition, e.reason.clone()), (Condition::Conflict, None));
    assert_eq!(e.kind(), ErrorKind::BridgeFailed);
    assert_eq!(
        e.on_allocation(),
        AllocationFailure::RemoveSession { mark: None }
    );

    // Unknown endpoint.
    let update = ConferenceModify::update_endpoint(
        meeting(),
        "nobody00",
        None,
        None,
        Some(&EndpointSourceSet::new()),
        None,
    )
    .expect("an update");
    let e = jvb.error(&update);
    assert_eq!(e.reason, Some(Reason::UnknownEndpoint));
    assert_eq!(e.endpoint_id.as_deref(), Some("nobody00"));
    assert_eq!(e.kind(), ErrorKind::EndpointUnknown("nobody00".into()));
    assert_eq!(
        e.on_request(),
        RequestFailure::EndpointFailed {
            endpoint_id: "nobody00".into()
        }
    );
    // Unknown endpoints in a force-mute batch are ignored.
    modified(jvb.ask(&ConferenceModify::force_mute(
        meeting(),
        [("nobody00", true, true)],
    )));

    // Bad request: an endpoint create without `source-names`.
    let mut ep = Endpoint::allocation(&participant("b0b0b0b0", "B"));
    ep.capabilities.clear();
    let e = jvb.error(&ConferenceModify::with_endpoints(meeting(), vec![ep]));
    assert_eq!(
        (e.condition, e.reason.clone()),
        (Condition::BadRequest, None)
    );
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    assert_eq!(
        e.on_allocation(),
        AllocationFailure::FailParticipant { mark: None }
    );

    // Unknown relay: bad-request.
    let relay = Relay::update_endpoint("relay-x", &alice, false);
    let e = jvb.error(&ConferenceModify::relay(meeting(), relay));
    assert_eq!(e.kind(), ErrorKind::BadRequest);

    // Feature not implemented: an endpoint and a relay in one request.
    let mut mixed = ConferenceModify::force_mute(meeting(), [("a1b2c3d4", true, false)]);
    mixed.relays.push(Relay::expire("relay-b"));
    let e = jvb.error(&mixed);
    assert_eq!(e.condition, Condition::FeatureNotImplemented);
    assert_eq!(e.kind(), ErrorKind::BridgeFailed);
    assert_eq!(
        e.on_allocation(),
        AllocationFailure::RemoveSession {
            mark: Some(BridgeMark::NonOperational)
        }
    );
    assert_eq!(e.on_request(), RequestFailure::SessionFailed);

    // Graceful shutdown: a create is refused.
    jvb.jvb.control(jvb.now, Control::GracefulShutdown);
    while jvb.jvb.poll_stanza().is_some() {}
    let other = MeetingId::new("other-meeting").expect("not blank");
    let create = ConferenceModify::create_conference(other, ROOM, true, &alice, Vec::new());
    let e = jvb.error(&create);
    assert_eq!(e.condition, Condition::ServiceUnavailable);
    assert_eq!(e.kind(), ErrorKind::GracefulShutdown);
    assert_eq!(
        e.on_allocation(),
        AllocationFailure::RemoveSession {
            mark: Some(BridgeMark::GracefulShutdown)
        }
    );

    // An unresponsive bridge: a timeout.
    jvb.jvb.control(jvb.now, Control::Unresponsive(true));
    while jvb.jvb.poll_stanza().is_some() {}
    let answer = jvb.ask(&ConferenceModify::allocate(
        meeting(),
        &participant("c0c0c0c0", "C"),
    ));
    assert!(answer.is_none());
    assert_eq!(
        allocation_outcome(answer.as_ref(), "c0c0c0c0", true),
        Err(AllocationFailure::RemoveSession {
            mark: Some(BridgeMark::NonOperational)
        })
    );
    assert_eq!(request_outcome(None), Err(RequestFailure::Ignore));
    assert_eq!(
        relay_create_outcome(None),
        Err(RequestFailure::SessionFailed)
    );
}
