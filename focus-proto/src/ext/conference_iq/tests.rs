use proptest::prelude::*;

use super::*;
use crate::ext::error::{Condition, StanzaError, iq_error};
use crate::ext::test_support::{arb_element, wire, xml};

const CAPTURE: &str = include_str!("../testdata/conference-request.xml");

fn request_with(props: &[(&str, Option<&str>)]) -> ConferenceRequest {
    ConferenceRequest {
        room: Some("r@muc.example".to_owned()),
        properties: props
            .iter()
            .map(|(n, v)| Property {
                name: (*n).to_owned(),
                value: v.map(str::to_owned),
            })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn parses_the_captured_request() {
    let iq = xml(CAPTURE);
    let conference = iq.get_child("conference", NS_FOCUS).unwrap();
    let request = ConferenceRequest::parse(conference).unwrap();
    assert_eq!(
        request,
        ConferenceRequest {
            room: Some("rc179557633227579@muc.meet.jitsi".to_owned()),
            machine_uid: Some("c0258a0d656048c1aa38c37b37f17d26".to_owned()),
            session_id: None,
            token: None,
            properties: vec![
                Property::new("rtcstatsEnabled", "false"),
                Property::new("visitors-version", "1"),
            ],
        }
    );
    assert!(!request.rtcstats_enabled());
    assert!(request.visitor_supported());
    assert!(!request.visitor_requested());
    assert_eq!(request.start_audio_muted(), None);
    let room = parse_room_jid(request.room.as_deref().unwrap()).unwrap();
    assert_eq!(room.as_str(), "rc179557633227579@muc.meet.jitsi");
    // Also after the stream writer and reader.
    let again = wire(&iq);
    assert_eq!(
        ConferenceRequest::parse(again.get_child("conference", NS_FOCUS).unwrap()),
        Ok(request)
    );
}

#[test]
fn parses_the_documented_example() {
    let el = xml(
        "<conference xmlns='http://jitsi.org/protocol/focus' room='standup@conference.example.com' \
         machine-uid='5b1c0d6e6f3a4e2c9d1e' session-id='' token='' identity='x' vnode='v1' ready='true' \
         focusjid='f@x'>\
           <property name='startAudioMuted' value='10'/>\
           <property name='rtcstatsEnabled' value='false'/>\
           <property name='visitors-version' value='1'/>\
           <unknown xmlns='urn:x'/>\
           <property value='nameless'/>\
           <property name='empty' value=''/>\
         </conference>",
    );
    let request = ConferenceRequest::parse(&el).unwrap();
    assert_eq!(
        request.room.as_deref(),
        Some("standup@conference.example.com")
    );
    assert_eq!(request.session_id, None, "empty reads as absent");
    assert_eq!(request.token, None);
    assert_eq!(request.properties.len(), 4);
    assert_eq!(
        request.properties[3],
        Property {
            name: "empty".to_owned(),
            value: None
        }
    );
    assert_eq!(request.start_audio_muted(), Some(10));
    assert_eq!(request.start_video_muted(), None);
    assert!(!request.rtcstats_enabled());
}

#[test]
fn wrong_elements_are_rejected() {
    let wrong_ns = xml("<conference xmlns='jabber:client' room='a@b'/>");
    assert_eq!(
        ConferenceRequest::parse(&wrong_ns),
        Err(ParseError::WrongElement {
            expected: "conference"
        })
    );
    let wrong_name = xml("<conferences xmlns='http://jitsi.org/protocol/focus'/>");
    assert!(ConferenceRequest::parse(&wrong_name).is_err());
    assert!(ConferenceAnswer::parse(&wrong_name).is_err());
    assert!(LoginUrlRequest::parse(&wrong_name).is_err());
    assert!(LogoutRequest::parse(&wrong_name).is_err());
    // A request without room still parses: the focus answers bad-request.
    let empty = xml("<conference xmlns='http://jitsi.org/protocol/focus'/>");
    assert_eq!(
        ConferenceRequest::parse(&empty),
        Ok(ConferenceRequest::default())
    );
}

#[test]
fn property_lookups() {
    let r = request_with(&[("a", Some("1")), ("a", Some("2")), ("b", None)]);
    assert_eq!(r.property("a"), Some("2"), "the last one wins");
    assert_eq!(r.property("b"), None);
    assert_eq!(r.property("c"), None);

    // Visitor checks scan the list.
    assert!(request_with(&[("visitors-version", None)]).visitor_supported());
    assert!(!request_with(&[("visitors-versions", Some("1"))]).visitor_supported());
    assert!(
        request_with(&[("visitor", Some("true")), ("visitor", Some("false"))]).visitor_requested()
    );
    assert!(!request_with(&[("visitor", Some("TRUE"))]).visitor_requested());
    assert!(!request_with(&[("visitor", None)]).visitor_requested());

    // Start muted: integers only.
    for (value, expected) in [
        ("0", Some(0)),
        ("7", Some(7)),
        ("+7", Some(7)),
        ("-1", None),
        ("1.5", None),
        (" 3", None),
        ("x", None),
        ("99999999999", None),
    ] {
        let r = request_with(&[
            ("startAudioMuted", Some(value)),
            ("startVideoMuted", Some(value)),
        ]);
        assert_eq!(r.start_audio_muted(), expected, "{value}");
        assert_eq!(r.start_video_muted(), expected, "{value}");
    }

    // rtcstatsEnabled: Java parseBoolean, blank or absent is true.
    for (value, expected) in [
        (None, true),
        (Some(" "), true),
        (Some("true"), true),
        (Some("TRUE"), true),
        (Some("false"), false),
        (Some("yes"), false),
        (Some("1"), false),
    ] {
        let r = request_with(&[("rtcstatsEnabled", value)]);
        assert_eq!(r.rtcstats_enabled(), expected, "{value:?}");
    }
    assert!(ConferenceRequest::default().rtcstats_enabled());
}

#[test]
fn room_jids() {
    let ok = |s: &str| parse_room_jid(s).map(|j| j.to_string());
    assert_eq!(ok("a@b").as_deref(), Ok("a@b"));
    assert_eq!(
        ok("standup@conference.example.com").as_deref(),
        Ok("standup@conference.example.com")
    );
    assert_eq!(
        ok("Room@MUC.example").as_deref(),
        Ok("room@muc.example"),
        "normalized"
    );
    assert_eq!(ok("a@b@c"), Err(RoomJidError::AtInLocal));
    assert_eq!(ok("b"), Err(RoomJidError::NoAt));
    assert_eq!(ok(""), Err(RoomJidError::NoAt));
    assert_eq!(ok("@domain"), Err(RoomJidError::EmptyLocal));
    assert_eq!(
        ok("room@conference.example.com/res"),
        Err(RoomJidError::Resource)
    );
    assert_eq!(ok("a@b/c@d"), Err(RoomJidError::AtInLocal));
    assert!(matches!(ok("room@"), Err(RoomJidError::Invalid(_))));
    assert!(matches!(ok("ro\"om@b"), Err(RoomJidError::Invalid(_))));
    assert!(matches!(ok("room@exa mple"), Err(RoomJidError::Invalid(_))));
    assert!(matches!(
        ok(&format!("{}@b", "x".repeat(2000))),
        Err(RoomJidError::Invalid(_))
    ));
    assert_eq!(
        RoomJidError::AtInLocal.to_string(),
        "local part must not contain '@'"
    );
}

fn documented_answer() -> ConferenceAnswer {
    ConferenceAnswer {
        room: "standup@conference.example.com".to_owned(),
        focus_jid: "focus@auth.example.com".to_owned(),
        session_id: None,
        identity: None,
        vnode: None,
        ready: true,
        properties: vec![
            ("authentication".to_owned(), "false".to_owned()),
            ("sipGatewayEnabled".to_owned(), "true".to_owned()),
            ("visitors-supported".to_owned(), "false".to_owned()),
        ],
    }
}

#[test]
fn answer_layout() {
    let el = documented_answer().to_element();
    let expected = xml(
        "<conference xmlns='http://jitsi.org/protocol/focus' room='standup@conference.example.com' \
         focusjid='focus@auth.example.com' ready='true'>\
           <property name='authentication' value='false'/>\
           <property name='sipGatewayEnabled' value='true'/>\
           <property name='visitors-supported' value='false'/>\
         </conference>",
    );
    assert_eq!(el, expected);
    assert_eq!(ConferenceAnswer::parse(&expected), Ok(documented_answer()));
    assert_eq!(
        documented_answer().property("sipGatewayEnabled"),
        Some("true")
    );

    let redirect = ConferenceAnswer {
        vnode: Some("v1".to_owned()),
        session_id: Some("s".to_owned()),
        identity: Some("user@auth.example.com".to_owned()),
        ready: false,
        ..documented_answer()
    };
    let el = redirect.to_element();
    assert_eq!(el.attr("vnode"), Some("v1"));
    assert_eq!(el.attr("session-id"), Some("s"));
    assert_eq!(el.attr("identity"), Some("user@auth.example.com"));
    assert_eq!(el.attr("ready"), Some("false"));
    assert_eq!(el.attr("machine-uid"), None);
    assert_eq!(el.attr("token"), None);
    assert_eq!(ConferenceAnswer::parse(&wire(&el)), Ok(redirect));
}

#[test]
fn answer_parsing() {
    let missing_focus =
        xml("<conference xmlns='http://jitsi.org/protocol/focus' room='a@b' ready='true'/>");
    assert_eq!(
        ConferenceAnswer::parse(&missing_focus),
        Err(ParseError::MissingAttribute("focusjid"))
    );
    let lenient = xml(
        "<conference xmlns='http://jitsi.org/protocol/focus' room='a@b' focusjid='f@x' ready='True' vnode=''>\
         <property name='live'/></conference>",
    );
    let a = ConferenceAnswer::parse(&lenient).unwrap();
    assert!(a.ready);
    assert_eq!(a.vnode, None);
    assert_eq!(a.properties, vec![("live".to_owned(), String::new())]);
    let not_ready = xml(
        "<conference xmlns='http://jitsi.org/protocol/focus' room='a@b' focusjid='f@x' ready='yes'/>",
    );
    assert!(!ConferenceAnswer::parse(&not_ready).unwrap().ready);
}

#[test]
fn session_invalid_error() {
    let request = xml(
        "<iq xmlns='jabber:client' type='set' id='o1' from='u@x/r'><logout xmlns='http://jitsi.org/protocol/focus' session-id='2f0c'/></iq>",
    );
    let error = StanzaError::new(Condition::NotAcceptable)
        .with_text("invalid session")
        .with_app(session_invalid());
    let answer = wire(&iq_error(&request, &error, None));
    let read = StanzaError::from_stanza(&answer).unwrap();
    assert!(read.app.as_ref().unwrap().is("session-invalid", NS_FOCUS));
    assert_eq!(read.kind, crate::ext::error::ErrorType::Modify);
}

#[test]
fn login_url() {
    let el = xml(
        "<login-url xmlns='http://jitsi.org/protocol/focus' room='standup@conference.example.com' \
         machine-uid='5b1c' popup='false'/>",
    );
    let request = LoginUrlRequest::parse(&el).unwrap();
    assert_eq!(
        request,
        LoginUrlRequest {
            room: Some("standup@conference.example.com".to_owned()),
            machine_uid: Some("5b1c".to_owned()),
            popup: false,
        }
    );
    assert_eq!(
        LoginUrlRequest::parse(&wire(&request.to_element())),
        Ok(request)
    );
    let popup =
        xml("<login-url xmlns='http://jitsi.org/protocol/focus' popup='TRUE' machine-uid=''/>");
    assert_eq!(
        LoginUrlRequest::parse(&popup),
        Ok(LoginUrlRequest {
            room: None,
            machine_uid: None,
            popup: true
        })
    );

    let answer = login_url_answer(Some("./standup?login=true"));
    assert!(answer.is("login-url", NS_FOCUS));
    assert_eq!(answer.attr("url"), Some(".%2Fstandup%3Flogin%3Dtrue"));
    assert_eq!(
        parse_login_url_answer(&wire(&answer)),
        Ok(Some("./standup?login=true".to_owned()))
    );
    assert_eq!(login_url_answer(None).attr("url"), None);
    assert_eq!(login_url_answer(Some("")).attr("url"), None);
    assert_eq!(parse_login_url_answer(&login_url_answer(None)), Ok(None));
    let broken = xml("<login-url xmlns='http://jitsi.org/protocol/focus' url='%4'/>");
    assert!(matches!(
        parse_login_url_answer(&broken),
        Err(ParseError::InvalidAttribute { name: "url", .. })
    ));
}

#[test]
fn logout() {
    let el = xml("<logout xmlns='http://jitsi.org/protocol/focus' session-id='2f0c'/>");
    let request = LogoutRequest::parse(&el).unwrap();
    assert_eq!(request.session_id.as_deref(), Some("2f0c"));
    assert_eq!(LogoutRequest::parse(&request.to_element()), Ok(request));
    assert_eq!(
        LogoutRequest::parse(&xml(
            "<logout xmlns='http://jitsi.org/protocol/focus' session-id=''/>"
        )),
        Ok(LogoutRequest::default())
    );
    let answer = logout_answer(None);
    assert_eq!(
        answer,
        xml("<logout xmlns='http://jitsi.org/protocol/focus'/>")
    );
    let answer = logout_answer(Some("https://x.example/bye?a=b c"));
    assert_eq!(
        answer.attr("logout-url"),
        Some("https%3A%2F%2Fx.example%2Fbye%3Fa%3Db+c")
    );
    assert_eq!(
        parse_logout_answer(&answer),
        Ok(Some("https://x.example/bye?a=b c".to_owned()))
    );
    assert_eq!(
        session_invalid(),
        xml("<session-invalid xmlns='http://jitsi.org/protocol/focus'/>")
    );
}

#[test]
fn url_encoding_matches_java() {
    assert_eq!(form_urlencode("aZ09.-*_"), "aZ09.-*_");
    assert_eq!(form_urlencode("a b~'!()"), "a+b%7E%27%21%28%29");
    assert_eq!(form_urlencode("é€"), "%C3%A9%E2%82%AC");
    assert_eq!(form_urldecode("a+b%7e%7E").as_deref(), Some("a b~~"));
    assert_eq!(form_urldecode("%"), None);
    assert_eq!(form_urldecode("%G0"), None);
    assert_eq!(form_urldecode("%FF").as_deref(), Some("\u{fffd}"));
}

fn opt_string() -> impl Strategy<Value = Option<String>> {
    prop::option::of("\\PC{1,24}")
}

fn arb_request() -> impl Strategy<Value = ConferenceRequest> {
    (
        opt_string(),
        opt_string(),
        opt_string(),
        opt_string(),
        prop::collection::vec(("\\PC{1,16}", opt_string()), 0..6),
    )
        .prop_map(
            |(room, machine_uid, session_id, token, props)| ConferenceRequest {
                room,
                machine_uid,
                session_id,
                token,
                properties: props
                    .into_iter()
                    .map(|(name, value)| Property { name, value })
                    .collect(),
            },
        )
}

fn arb_answer() -> impl Strategy<Value = ConferenceAnswer> {
    (
        "\\PC{0,24}",
        "\\PC{0,24}",
        opt_string(),
        opt_string(),
        opt_string(),
        any::<bool>(),
        prop::collection::vec(("\\PC{0,16}", "\\PC{0,16}"), 0..6),
    )
        .prop_map(
            |(room, focus_jid, session_id, identity, vnode, ready, properties)| ConferenceAnswer {
                room,
                focus_jid,
                session_id,
                identity,
                vnode,
                ready,
                properties,
            },
        )
}

proptest! {
    #[test]
    fn requests_round_trip(request in arb_request()) {
        prop_assert_eq!(ConferenceRequest::parse(&request.to_element()), Ok(request.clone()));
        prop_assert_eq!(ConferenceRequest::parse(&wire(&request.to_element())), Ok(request.clone()));
    }

    #[test]
    fn answers_round_trip(answer in arb_answer()) {
        prop_assert_eq!(ConferenceAnswer::parse(&answer.to_element()), Ok(answer.clone()));
        prop_assert_eq!(ConferenceAnswer::parse(&wire(&answer.to_element())), Ok(answer.clone()));
    }

    #[test]
    fn login_and_logout_round_trip(room in opt_string(), uid in opt_string(), popup in any::<bool>(), url in "\\PC{0,40}") {
        let request = LoginUrlRequest { room, machine_uid: uid.clone(), popup };
        prop_assert_eq!(LoginUrlRequest::parse(&wire(&request.to_element())), Ok(request.clone()));
        let expected = (!url.is_empty()).then(|| url.clone());
        prop_assert_eq!(parse_login_url_answer(&wire(&login_url_answer(Some(&url)))), Ok(expected.clone()));
        prop_assert_eq!(parse_logout_answer(&wire(&logout_answer(Some(&url)))), Ok(expected));
        let logout = LogoutRequest { session_id: uid };
        prop_assert_eq!(LogoutRequest::parse(&wire(&logout.to_element())), Ok(logout.clone()));
    }

    #[test]
    fn url_encoding_round_trips(s in any::<String>()) {
        let encoded = form_urlencode(&s);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"%+.-*_".contains(&b)));
        prop_assert_eq!(form_urldecode(&encoded), Some(s));
    }

    #[test]
    fn room_parsing_never_panics(s in any::<String>(), local in "[a-z0-9]{1,12}", domain in "[a-z]{1,10}(\\.[a-z]{1,6}){0,2}") {
        let _ = parse_room_jid(&s);
        let room = format!("{local}@{domain}");
        prop_assert_eq!(parse_room_jid(&room).map(|j| j.to_string()), Ok(room));
    }

    #[test]
    fn parsers_never_panic(el in arb_element()) {
        crate::fuzzing::conference_iq_element(&el);
    }
}
