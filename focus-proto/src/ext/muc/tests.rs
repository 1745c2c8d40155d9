use jid::{BareJid, FullJid, Jid};
use proptest::prelude::*;

use super::*;
use crate::ext::error::StanzaError;
use crate::ext::test_support::{arb_element, wire, xml};

fn room() -> BareJid {
    BareJid::new("standup@conference.example.com").unwrap()
}

#[test]
fn affiliations_and_roles() {
    for a in [
        Affiliation::Owner,
        Affiliation::Admin,
        Affiliation::Member,
        Affiliation::Outcast,
        Affiliation::None,
    ] {
        assert_eq!(Affiliation::parse(a.as_str()), Some(a));
    }
    for r in [
        Role::Moderator,
        Role::Participant,
        Role::Visitor,
        Role::None,
    ] {
        assert_eq!(Role::parse(r.as_str()), Some(r));
    }
    assert_eq!(Affiliation::parse("Owner"), None);
    assert_eq!(Role::parse(""), None);
}

#[test]
fn member_roles() {
    use Affiliation as A;
    use MemberRole as M;
    use Role as R;
    let cases = [
        (A::Owner, R::None, M::Owner),
        (A::Owner, R::Visitor, M::Owner),
        (A::Admin, R::Participant, M::Moderator),
        (A::Member, R::Moderator, M::Moderator),
        (A::None, R::Moderator, M::Moderator),
        (A::Member, R::Participant, M::Participant),
        (A::Outcast, R::Participant, M::Participant),
        (A::None, R::Visitor, M::Visitor),
        (A::Member, R::None, M::Visitor),
    ];
    for (a, r, expected) in cases {
        assert_eq!(MemberRole::from_muc(a, r), expected, "{a:?} {r:?}");
    }
    assert!(M::Owner.has_moderator_rights());
    assert!(M::Moderator.has_moderator_rights());
    assert!(!M::Participant.has_moderator_rights());
    assert!(!M::Visitor.has_moderator_rights());
    assert!(
        M::Visitor < M::Participant && M::Participant < M::Moderator && M::Moderator < M::Owner
    );
}

#[test]
fn items() {
    let el = xml(
        "<item xmlns='http://jabber.org/protocol/muc#user' affiliation='owner' role='moderator' \
         jid='focus@auth.meet.jitsi/focus' nick='focus'/>",
    );
    let item = MucItem::parse(&el);
    assert_eq!(
        item,
        MucItem {
            affiliation: Affiliation::Owner,
            role: Role::Moderator,
            jid: Some(Jid::new("focus@auth.meet.jitsi/focus").unwrap()),
            nick: Some("focus".to_owned()),
        }
    );
    assert_eq!(MucItem::parse(&wire(&item.to_element())), item);
    let odd = xml(
        "<item xmlns='http://jabber.org/protocol/muc#user' affiliation='king' jid='not a jid@@'/>",
    );
    assert_eq!(
        MucItem::parse(&odd),
        MucItem {
            affiliation: Affiliation::None,
            role: Role::None,
            jid: None,
            nick: None
        }
    );
    let bare = xml("<item xmlns='http://jabber.org/protocol/muc#user' jid='u@example.com'/>");
    assert_eq!(
        MucItem::parse(&bare).jid,
        Some(Jid::new("u@example.com").unwrap())
    );
}

#[test]
fn join_and_leave() {
    let occupant = FullJid::new("standup@conference.example.com/focus").unwrap();
    let join = join_presence(&occupant);
    assert_eq!(
        join,
        xml(
            "<presence xmlns='jabber:client' to='standup@conference.example.com/focus'>\
             <x xmlns='http://jabber.org/protocol/muc'/></presence>"
        )
    );
    let leave = leave_presence(&occupant);
    assert_eq!(
        leave,
        xml(
            "<presence xmlns='jabber:client' to='standup@conference.example.com/focus' type='unavailable'/>"
        )
    );
    assert_eq!(wire(&leave), leave);
}

#[test]
fn owner_form_exchange() {
    let get = owner_form_request(&room(), "f1");
    assert_eq!(
        get,
        xml(
            "<iq xmlns='jabber:client' type='get' id='f1' to='standup@conference.example.com'>\
             <query xmlns='http://jabber.org/protocol/muc#owner'/></iq>"
        )
    );

    let submit = owner_form_submit(&room(), "f2");
    assert_eq!(submit.attr("type"), Some("set"));
    assert_eq!(submit.attr("to"), Some("standup@conference.example.com"));
    let form = submit
        .get_child("query", NS_MUC_OWNER)
        .and_then(|q| q.get_child("x", NS_DATA_FORMS))
        .unwrap();
    assert_eq!(form.attr("type"), Some("submit"));
    let fields: Vec<(String, String)> = form
        .children()
        .map(|f| {
            (
                f.attr("var").unwrap().to_owned(),
                f.get_child("value", NS_DATA_FORMS).unwrap().text(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        vec![
            ("FORM_TYPE".to_owned(), FORM_TYPE_ROOMCONFIG.to_owned()),
            ("muc#roomconfig_whois".to_owned(), "anyone".to_owned()),
        ]
    );
}

/// A form as Prosody with Jitsi's modules answers it (abridged).
fn prosody_form(
    meeting_id: &str,
    breakout: &str,
    main_room: &str,
    presets: &str,
) -> minidom::Element {
    xml(&format!(
        "<iq xmlns='jabber:client' type='result' id='f1' from='standup@conference.example.com'>\
         <query xmlns='http://jabber.org/protocol/muc#owner'>\
         <x xmlns='jabber:x:data' type='form'>\
           <title>Configuration for standup</title>\
           <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/muc#roomconfig</value></field>\
           <field var='muc#roomconfig_roomname' type='text-single' label='Title'/>\
           <field var='muc#roomconfig_whois' type='list-single'><value>moderators</value>\
             <option><value>moderators</value></option><option><value>anyone</value></option></field>\
           <field var='muc#roominfo_meetingId' type='text-single'><value>{meeting_id}</value></field>\
           <field var='muc#roominfo_isbreakout' type='boolean'><value>{breakout}</value></field>\
           <field var='muc#roominfo_breakout_main_room' type='text-single'><value>{main_room}</value></field>\
           <field var='muc#roominfo_conference_presets_service_enabled' type='boolean'><value>{presets}</value></field>\
         </x></query></iq>"
    ))
}

#[test]
fn reads_the_room_form() {
    let form = parse_owner_form(&prosody_form(
        "5c6f8a2e",
        "false",
        "main@conference.example.com",
        "0",
    ))
    .unwrap();
    assert_eq!(
        form,
        RoomConfigForm {
            meeting_id: Some("5c6f8a2e".to_owned()),
            is_breakout: false,
            breakout_main_room: None,
            presets_service_enabled: false,
        }
    );
    let form = parse_owner_form(&wire(&prosody_form(
        " ",
        "true",
        "main@conference.example.com",
        "1",
    )))
    .unwrap();
    assert_eq!(
        form,
        RoomConfigForm {
            meeting_id: None,
            is_breakout: true,
            breakout_main_room: Some("main@conference.example.com".to_owned()),
            presets_service_enabled: true,
        }
    );
    let form = parse_owner_form(&prosody_form("m", "1", "", "TRUE")).unwrap();
    assert!(form.is_breakout && form.presets_service_enabled);
    assert_eq!(form.breakout_main_room, None);

    // A form without Jitsi's fields is all defaults.
    let plain = xml(
        "<iq xmlns='jabber:client' type='result' id='f1'><query xmlns='http://jabber.org/protocol/muc#owner'>\
         <x xmlns='jabber:x:data' type='form'><field var='muc#roominfo_meetingId'/></x></query></iq>",
    );
    assert_eq!(parse_owner_form(&plain), Ok(RoomConfigForm::default()));
    let empty = xml("<iq xmlns='jabber:client' type='result' id='f1'/>");
    assert_eq!(
        parse_owner_form(&empty),
        Err(ParseError::MissingChild("query"))
    );
    let no_form = xml(
        "<iq xmlns='jabber:client' type='result' id='f1'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>",
    );
    assert_eq!(
        parse_owner_form(&no_form),
        Err(ParseError::MissingChild("x"))
    );
    assert!(parse_owner_form(&xml("<presence xmlns='jabber:client'/>")).is_err());
}

#[test]
fn grants() {
    let jid = BareJid::new("alice@example.com").unwrap();
    let grant = grant_affiliation(&room(), "g1", &jid, Affiliation::Owner);
    assert_eq!(
        grant,
        xml(
            "<iq xmlns='jabber:client' type='set' id='g1' to='standup@conference.example.com'>\
             <query xmlns='http://jabber.org/protocol/muc#admin'>\
             <item affiliation='owner' jid='alice@example.com'/></query></iq>"
        )
    );
    assert_eq!(wire(&grant), grant);
    assert_eq!(StanzaError::from_stanza(&grant), None);
}

proptest! {
    #[test]
    fn items_round_trip(
        a in prop::sample::select(vec![Affiliation::Owner, Affiliation::Admin, Affiliation::Member, Affiliation::Outcast, Affiliation::None]),
        r in prop::sample::select(vec![Role::Moderator, Role::Participant, Role::Visitor, Role::None]),
        jid in prop::option::of("[a-z]{1,8}@[a-z]{1,8}\\.example(/[a-zA-Z0-9]{1,8})?"),
        nick in prop::option::of("\\PC{1,16}"),
    ) {
        let item = MucItem { affiliation: a, role: r, jid: jid.map(|j| Jid::new(&j).unwrap()), nick };
        prop_assert_eq!(MucItem::parse(&wire(&item.to_element())), item);
    }

    #[test]
    fn forms_round_trip(meeting_id in prop::option::of("[a-z0-9-]{1,36}"), breakout in any::<bool>(), main in prop::option::of("[a-z]{1,8}@muc\\.example"), presets in any::<bool>()) {
        let el = prosody_form(
            meeting_id.as_deref().unwrap_or(""),
            if breakout { "true" } else { "false" },
            main.as_deref().unwrap_or(""),
            if presets { "1" } else { "0" },
        );
        let form = parse_owner_form(&el).unwrap();
        prop_assert_eq!(form, RoomConfigForm {
            meeting_id,
            is_breakout: breakout,
            breakout_main_room: if breakout { main } else { None },
            presets_service_enabled: presets,
        });
    }

    #[test]
    fn form_parsing_never_panics(el in arb_element()) {
        let _ = parse_owner_form(&el);
        for child in el.children() {
            let _ = MucItem::parse(child);
        }
    }
}
