use minidom::Element;
use proptest::prelude::*;

use super::*;
use crate::ext::conference_iq::{NS_FOCUS, session_invalid};
use crate::ext::test_support::{arb_element, wire, xml};

#[test]
fn condition_names_round_trip() {
    for c in Condition::ALL {
        assert_eq!(Condition::parse(c.as_str()), Some(c));
    }
    assert_eq!(Condition::parse("Bad-Request"), None);
    assert_eq!(Condition::parse("text"), None);
    for t in [
        ErrorType::Auth,
        ErrorType::Cancel,
        ErrorType::Continue,
        ErrorType::Modify,
        ErrorType::Wait,
    ] {
        assert_eq!(ErrorType::parse(t.as_str()), Some(t));
    }
    assert_eq!(ErrorType::parse("WAIT"), None);
}

#[test]
fn default_types_follow_smack() {
    use Condition::*;
    use ErrorType::*;
    let expected = [
        (BadRequest, Modify),
        (Conflict, Cancel),
        (FeatureNotImplemented, Cancel),
        (Forbidden, Auth),
        (Gone, Cancel),
        (InternalServerError, Cancel),
        (ItemNotFound, Cancel),
        (JidMalformed, Modify),
        (NotAcceptable, Modify),
        (NotAllowed, Cancel),
        (NotAuthorized, Auth),
        (PolicyViolation, Modify),
        (RecipientUnavailable, Wait),
        (Redirect, Modify),
        (RegistrationRequired, Auth),
        (RemoteServerNotFound, Cancel),
        (RemoteServerTimeout, Wait),
        (ResourceConstraint, Wait),
        (ServiceUnavailable, Cancel),
        (SubscriptionRequired, Auth),
        (UndefinedCondition, Modify),
        (UnexpectedRequest, Wait),
    ];
    assert_eq!(expected.len(), Condition::ALL.len());
    for (condition, kind) in expected {
        assert_eq!(condition.default_type(), kind, "{condition}");
        assert_eq!(StanzaError::new(condition).kind, kind);
    }
}

#[test]
fn error_element_layout() {
    let error = StanzaError::new(Condition::NotAcceptable)
        .with_text("invalid session")
        .with_app(session_invalid());
    let el = error.to_element();
    assert!(el.is("error", ns::CLIENT));
    assert_eq!(el.attr("type"), Some("modify"));
    let children: Vec<_> = el.children().collect();
    assert_eq!(children.len(), 3);
    assert!(children[0].is("not-acceptable", ns::STANZAS));
    assert!(children[1].is("text", ns::STANZAS));
    assert_eq!(children[1].text(), "invalid session");
    assert!(children[2].is("session-invalid", NS_FOCUS));
}

#[test]
fn iq_replies_are_addressed_to_the_sender_without_from() {
    let request = xml(
        "<iq xmlns='jabber:client' type='set' id='c2' from='focus.example.com/guest@guest.example.com/web-77' \
         to='focus@auth.example.com/focus'><conference xmlns='http://jitsi.org/protocol/focus' room='a@b'/></iq>",
    );
    let result = iq_result(&request, None);
    assert_eq!(result.attr("type"), Some("result"));
    assert_eq!(result.attr("id"), Some("c2"));
    assert_eq!(
        result.attr("to"),
        Some("focus.example.com/guest@guest.example.com/web-77")
    );
    assert_eq!(result.attr("from"), None);
    assert_eq!(result.children().count(), 0);

    let payload = Element::builder("query", ns::DISCO_INFO).build();
    let result = iq_result(&request, Some(payload.clone()));
    assert_eq!(result.children().collect::<Vec<_>>(), vec![&payload]);

    // The example of conference-iq.md section 5.
    let echo = Element::builder("conference", NS_FOCUS)
        .attr(crate::xml::ncname("room"), "standup@conference.example.com")
        .build();
    let error = StanzaError::new(Condition::NotAuthorized).with_text("not authorized user domain");
    let answer = iq_error(&request, &error, Some(echo.clone()));
    assert_eq!(answer.attr("type"), Some("error"));
    assert_eq!(answer.attr("id"), Some("c2"));
    assert_eq!(answer.attr("from"), None);
    let children: Vec<_> = answer.children().collect();
    assert_eq!(children[0], &echo);
    assert!(children[1].is("error", ns::CLIENT));
    assert_eq!(children[1].attr("type"), Some("auth"));
    assert_eq!(StanzaError::from_stanza(&answer), Some(error.clone()));
    assert_eq!(StanzaError::from_stanza(&wire(&answer)), Some(error));

    // No from, no to.
    let bare =
        xml("<iq xmlns='jabber:client' type='get' id='x'><ping xmlns='urn:xmpp:ping'/></iq>");
    assert_eq!(iq_result(&bare, None).attr("to"), None);
}

#[test]
fn iq_request_layout() {
    let ping = Element::builder("ping", ns::PING).build();
    let iq = iq_request(IqKind::Get, "p1", "meet.jitsi", ping.clone());
    assert!(iq.is("iq", ns::CLIENT));
    assert_eq!(iq.attr("type"), Some("get"));
    assert_eq!(iq.attr("id"), Some("p1"));
    assert_eq!(iq.attr("to"), Some("meet.jitsi"));
    assert_eq!(iq.children().collect::<Vec<_>>(), vec![&ping]);
    assert_eq!(
        iq_request(IqKind::Set, "s", "x", ping).attr("type"),
        Some("set")
    );
}

#[test]
fn reads_errors_from_servers() {
    let iq = xml(
        "<iq xmlns='jabber:client' type='error' id='1'><query xmlns='http://jabber.org/protocol/muc#owner'/>\
         <error type='cancel' by='muc.meet.jitsi'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
         <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>no room</text></error></iq>",
    );
    let error = StanzaError::from_stanza(&iq).unwrap();
    assert_eq!(error.condition, Condition::ItemNotFound);
    assert_eq!(error.kind, ErrorType::Cancel);
    assert_eq!(error.text.as_deref(), Some("no room"));
    assert_eq!(error.app, None);
    assert_eq!(error.to_string(), "item-not-found (cancel): no room");

    // Presence errors, unknown conditions and types.
    let presence = xml(
        "<presence xmlns='jabber:client' type='error'><error type='later'><made-up xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
         <reservation-error xmlns='http://jitsi.org/protocol/focus' error-code='3'/></error></presence>",
    );
    let error = StanzaError::from_stanza(&presence).unwrap();
    assert_eq!(error.condition, Condition::UndefinedCondition);
    assert_eq!(error.kind, ErrorType::Modify);
    assert!(error.app.unwrap().is("reservation-error", NS_FOCUS));

    // A stanza without an error.
    assert_eq!(
        StanzaError::from_stanza(&xml("<iq xmlns='jabber:client' type='result' id='1'/>")),
        None
    );
    // An error in another namespace is not the stanza's.
    assert_eq!(
        StanzaError::from_stanza(&xml(
            "<iq xmlns='jabber:client' type='error'><error xmlns='urn:x'/></iq>"
        )),
        None
    );
}

#[test]
fn with_kind_overrides_the_default() {
    let e = StanzaError::new(Condition::BadRequest).with_kind(ErrorType::Cancel);
    assert_eq!(e.to_element().attr("type"), Some("cancel"));
}

fn arb_error() -> impl Strategy<Value = StanzaError> {
    (
        prop::sample::select(Condition::ALL.to_vec()),
        prop::option::of(prop::sample::select(vec![
            ErrorType::Auth,
            ErrorType::Cancel,
            ErrorType::Continue,
            ErrorType::Modify,
            ErrorType::Wait,
        ])),
        prop::option::of("\\PC{0,40}"),
        any::<bool>(),
    )
        .prop_map(|(condition, kind, text, app)| {
            let mut e = StanzaError::new(condition);
            if let Some(kind) = kind {
                e = e.with_kind(kind);
            }
            if let Some(text) = text {
                e = e.with_text(text);
            }
            if app {
                e = e.with_app(session_invalid());
            }
            e
        })
}

proptest! {
    #[test]
    fn stanza_errors_round_trip(error in arb_error()) {
        let request = xml("<iq xmlns='jabber:client' type='get' id='r' from='a@b/c'/>");
        let answer = iq_error(&request, &error, None);
        prop_assert_eq!(StanzaError::from_stanza(&answer), Some(error.clone()));
        let from_wire = wire(&answer);
        prop_assert_eq!(StanzaError::from_stanza(&from_wire), Some(error.clone()));
    }

    #[test]
    fn reading_errors_never_panics(el in arb_element()) {
        let _ = StanzaError::from_stanza(&el);
        let _ = iq_result(&el, Some(el.clone()));
        let _ = iq_error(&el, &StanzaError::new(Condition::BadRequest), None);
    }
}
