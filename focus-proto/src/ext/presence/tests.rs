use std::collections::BTreeMap;

use jid::{FullJid, Jid};
use proptest::prelude::*;

use super::*;
use crate::ext::muc::{Affiliation, MemberRole, MucItem, Role};
use crate::ext::test_support::{arb_element, wire, xml, xml_all};

const JOIN: &str = include_str!("../testdata/muc-join-presence.xml");
const UNAVAILABLE: &str = include_str!("../testdata/presence-unavailable.xml");
const MUTED: &str = include_str!("../testdata/presence-update-muted.xml");
const SOURCES: &str = include_str!("../testdata/presence-update-sources.xml");

fn caps() -> Caps {
    Caps {
        hash: Some("sha-1".to_owned()),
        node: "https://jitsi.org/jitsi-meet".to_owned(),
        ver: "dtzK/3xhISaXUMVg59IpXxdvKyQ=".to_owned(),
    }
}

fn source(muted: bool, media: MediaType) -> SourceState {
    SourceState {
        muted,
        video_type: None,
        media_type: Some(media),
    }
}

fn sources(audio_muted: bool, video_muted: bool) -> SourceInfo {
    SourceInfo {
        sources: BTreeMap::from([
            (
                "0b3d95ee-a0".to_owned(),
                source(audio_muted, MediaType::Audio),
            ),
            (
                "0b3d95ee-v0".to_owned(),
                source(video_muted, MediaType::Video),
            ),
        ]),
    }
}

fn codecs() -> Option<Vec<String>> {
    Some(["av1", "vp9", "vp8", "h264"].map(str::to_owned).to_vec())
}

#[test]
fn captured_join_presences() {
    let stanzas = xml_all(JOIN);
    assert_eq!(stanzas.len(), 2);
    let expected = |stats: &str| OccupantPresence {
        stats_id: Some(stats.to_owned()),
        caps: Some(caps()),
        source_info: SourceInfoField::Valid(SourceInfo::default()),
        codec_list: codecs(),
        ..OccupantPresence::default()
    };
    let first = OccupantPresence::parse(&stanzas[0]).unwrap();
    assert_eq!(first, expected("Murl-tdZ"));
    assert_eq!(first.audio_sending(), Some(false));
    assert_eq!(first.video_sending(), Some(false));
    assert_eq!(
        first.caps.unwrap().node_ver(),
        "https://jitsi.org/jitsi-meet#dtzK/3xhISaXUMVg59IpXxdvKyQ="
    );
    assert_eq!(
        OccupantPresence::parse(&stanzas[1]).unwrap(),
        expected("Samir-WWm")
    );
    // minidom's own parser agrees with the stream reader.
    let direct = xml(JOIN.split("\n\n").next().unwrap());
    assert_eq!(
        OccupantPresence::parse(&direct).unwrap(),
        expected("Murl-tdZ")
    );
}

#[test]
fn captured_unavailable() {
    let p = OccupantPresence::parse(&xml(UNAVAILABLE)).unwrap();
    assert_eq!(
        p,
        OccupantPresence {
            kind: PresenceKind::Unavailable,
            ..OccupantPresence::default()
        }
    );
    assert_eq!(p.audio_sending(), None);
}

#[test]
fn captured_mute_updates() {
    let stanzas = xml_all(MUTED);
    let expected = [(true, false), (true, true), (false, true)];
    assert_eq!(stanzas.len(), expected.len());
    for (stanza, (audio_muted, video_muted)) in stanzas.iter().zip(expected) {
        let p = OccupantPresence::parse(stanza).unwrap();
        assert_eq!(
            p,
            OccupantPresence {
                stats_id: Some("Murl-tdZ".to_owned()),
                caps: Some(caps()),
                source_info: SourceInfoField::Valid(sources(audio_muted, video_muted)),
                codec_list: codecs(),
                ..OccupantPresence::default()
            }
        );
        assert_eq!(p.audio_sending(), Some(!audio_muted));
        assert_eq!(p.video_sending(), Some(!video_muted));
    }
}

#[test]
fn captured_sources_update() {
    let p = OccupantPresence::parse(&xml(SOURCES)).unwrap();
    assert_eq!(p.source_info, SourceInfoField::Valid(sources(false, false)));
    assert_eq!(
        (p.audio_sending(), p.video_sending()),
        (Some(true), Some(true))
    );
}

#[test]
fn relayed_presence_with_muc_user() {
    // What the focus receives from Prosody: the capture plus muc#user.
    let el = xml(
        "<presence xmlns='jabber:client' from='rc1@muc.meet.jitsi/0b3d95ee' to='focus@auth.meet.jitsi/focus'>\
           <x xmlns='http://jabber.org/protocol/muc#user'>\
             <item affiliation='none' role='participant' jid='abc@meet.jitsi/XyZ'/>\
             <status code='100'/><status code='x'/><status code='110'/>\
           </x>\
           <status>switch_room</status>\
           <stats-id>Murl-tdZ</stats-id>\
           <jitsi_participant_region>eu-west</jitsi_participant_region>\
           <features><feature var='http://jitsi.org/protocol/jigasi'/><feature/></features>\
           <audiomuted>false</audiomuted><videomuted>TRUE</videomuted>\
           <jitsi_participant_codecType>VP9</jitsi_participant_codecType>\
           <jitsi_participant_diarize>true</jitsi_participant_diarize>\
         </presence>",
    );
    let p = OccupantPresence::parse(&el).unwrap();
    assert_eq!(
        p,
        OccupantPresence {
            kind: PresenceKind::Available,
            item: Some(MucItem {
                affiliation: Affiliation::None,
                role: Role::Participant,
                jid: Some(Jid::new("abc@meet.jitsi/XyZ").unwrap()),
                nick: None,
            }),
            status_codes: vec![100, 110],
            destroy: false,
            status: Some("switch_room".to_owned()),
            stats_id: Some("Murl-tdZ".to_owned()),
            region: Some("eu-west".to_owned()),
            source_info: SourceInfoField::Absent,
            audio_muted: Some(false),
            video_muted: Some(true),
            features: Some(vec!["http://jitsi.org/protocol/jigasi".to_owned()]),
            caps: None,
            codec_list: None,
            codec_type: Some("VP9".to_owned()),
            diarize: Some(true),
        }
    );
    // Without SourceInfo the old elements decide.
    assert_eq!(p.audio_sending(), Some(true));
    assert_eq!(p.video_sending(), Some(false));
    let item = p.item.as_ref().unwrap();
    assert_eq!(
        MemberRole::from_muc(item.affiliation, item.role),
        MemberRole::Participant
    );
    assert_eq!(OccupantPresence::parse(&wire(&p.to_element())), Ok(p));
}

#[test]
fn kicks_and_destroys() {
    let el = xml(
        "<presence xmlns='jabber:client' type='unavailable'><x xmlns='http://jabber.org/protocol/muc#user'>\
         <item affiliation='owner' role='none'/><status code='307'/><destroy jid='x@y'><reason>bye</reason></destroy>\
         </x></presence>",
    );
    let p = OccupantPresence::parse(&el).unwrap();
    assert_eq!(p.kind, PresenceKind::Unavailable);
    assert_eq!(p.status_codes, vec![307]);
    assert!(p.destroy);
    assert_eq!(p.item.unwrap().affiliation, Affiliation::Owner);

    let error = xml(
        "<presence xmlns='jabber:client' type='error'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>",
    );
    assert_eq!(
        OccupantPresence::parse(&error).unwrap().kind,
        PresenceKind::Error
    );
}

#[test]
fn not_occupant_presences() {
    assert_eq!(
        OccupantPresence::parse(&xml("<message xmlns='jabber:client'/>")),
        Err(ParseError::WrongElement {
            expected: "presence"
        })
    );
    for kind in ["subscribe", "probe", "unsubscribed", "bogus"] {
        let el = xml(&format!("<presence xmlns='jabber:client' type='{kind}'/>"));
        assert!(matches!(
            OccupantPresence::parse(&el),
            Err(ParseError::InvalidAttribute { name: "type", .. })
        ));
    }
    // Empty extensions read as absent, other namespaces are not ours.
    let el = xml(
        "<presence xmlns='jabber:client'><stats-id/><stats-id xmlns='urn:x'>no</stats-id>\
         <SourceInfo xmlns='urn:x'>{}</SourceInfo><c xmlns='http://jabber.org/protocol/caps' node='n'/></presence>",
    );
    assert_eq!(
        OccupantPresence::parse(&el),
        Ok(OccupantPresence::default())
    );
}

#[test]
fn hostile_sizes_are_bounded() {
    let long = "x".repeat(MAX_TEXT_BYTES + 1);
    let many_codes: String = (0..40).map(|i| format!("<status code='{i}'/>")).collect();
    let el = xml(&format!(
        "<presence xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc#user'>{many_codes}</x>\
         <stats-id>{long}</stats-id><jitsi_participant_region>{long}</jitsi_participant_region>\
         <status>{long}</status><jitsi_participant_codecList>{long}</jitsi_participant_codecList></presence>"
    ));
    let p = OccupantPresence::parse(&el).unwrap();
    assert_eq!(p.status_codes, (0..16).collect::<Vec<u16>>());
    assert_eq!(
        (p.stats_id, p.region, p.status, p.codec_list),
        (None, None, None, None)
    );
    let ok = "x".repeat(MAX_TEXT_BYTES);
    let el = xml(&format!(
        "<presence xmlns='jabber:client'><stats-id>{ok}</stats-id></presence>"
    ));
    assert_eq!(OccupantPresence::parse(&el).unwrap().stats_id, Some(ok));

    // SourceInfo: 256 entries are fine, 257 are not; nor is 64 KiB + 1.
    let entries = |n: usize| {
        let body: Vec<String> = (0..n)
            .map(|i| format!("\"e{i}-a0\":{{\"muted\":false}}"))
            .collect();
        format!("{{{}}}", body.join(","))
    };
    assert_eq!(
        SourceInfo::parse_json(&entries(256)).unwrap().sources.len(),
        256
    );
    assert_eq!(SourceInfo::parse_json(&entries(257)), None);
    let padded = format!("{}{}", " ".repeat(MAX_SOURCE_INFO_BYTES - 2), "{}");
    assert_eq!(SourceInfo::parse_json(&padded), Some(SourceInfo::default()));
    let too_long = format!(" {padded}");
    assert_eq!(SourceInfo::parse_json(&too_long), None);
    let el = xml(&format!(
        "<presence xmlns='jabber:client'><SourceInfo>{}</SourceInfo></presence>",
        entries(300)
    ));
    let p = OccupantPresence::parse(&el).unwrap();
    assert_eq!(p.source_info, SourceInfoField::Invalid);
    assert_eq!(p.audio_sending(), None);

    // Deep JSON is refused by serde_json's recursion limit, not a crash.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(SourceInfo::parse_json(&deep), None);
}

#[test]
fn source_info_like_jicofo() {
    for text in [
        "",
        "{",
        "[]",
        "null",
        "{\"a\":1}",
        "{\"a\":{\"videoType\":5}}",
        "{\"a\":{\"videoType\":\"x\"}}",
    ] {
        assert_eq!(SourceInfo::parse_json(text), None, "{text}");
    }
    let info = SourceInfo::parse_json(
        r#"{"3b554cf4-a0":{"muted":false},"3b554cf4-v0":{},
            "3b554cf4-v1":{"muted":true,"videoType":"Desktop"},"3b554cf4-v3":{"mediaType":"audio"},
            "abc0":{"mediaType":"VIDEO","videoType":null},"abc-d0":{"muted":"true"},"abc-":{"muted":1},
            "x-y-a1":{"muted":null},"n":{"muted":"yes"},"m":{"muted":0},"k":{"muted":" true "}}"#,
    )
    .unwrap();
    let get = |name: &str| info.sources.get(name).cloned().unwrap();
    let state = |muted, video_type: Option<&str>, media_type| SourceState {
        muted,
        video_type: video_type.map(str::to_owned),
        media_type,
    };
    assert_eq!(
        get("3b554cf4-a0"),
        state(false, None, Some(MediaType::Audio))
    );
    assert_eq!(
        get("3b554cf4-v0"),
        state(true, None, Some(MediaType::Video))
    );
    assert_eq!(
        get("3b554cf4-v1"),
        state(true, Some("desktop"), Some(MediaType::Video))
    );
    assert_eq!(
        get("3b554cf4-v3"),
        state(true, None, Some(MediaType::Audio)),
        "explicit wins"
    );
    assert_eq!(get("abc0"), state(true, None, Some(MediaType::Video)));
    assert_eq!(get("abc-d0"), state(true, None, None));
    assert_eq!(get("abc-"), state(true, None, None));
    assert_eq!(
        get("x-y-a1"),
        state(false, None, Some(MediaType::Audio)),
        "after the last dash"
    );
    assert_eq!(get("n"), state(false, None, None));
    assert_eq!(get("m"), state(false, None, None));
    assert_eq!(get("k"), state(true, None, None));
    assert!(info.has_unmuted(MediaType::Audio));
    assert!(!info.has_unmuted(MediaType::Video));
    assert_eq!(SourceInfo::parse_json(&info.to_json()), Some(info));
}

#[test]
fn sending_state() {
    let with = |source_info, audio_muted, video_muted| OccupantPresence {
        source_info,
        audio_muted,
        video_muted,
        ..OccupantPresence::default()
    };
    // SourceInfo wins over the old elements.
    let p = with(
        SourceInfoField::Valid(sources(false, true)),
        Some(true),
        Some(false),
    );
    assert_eq!(
        (p.audio_sending(), p.video_sending()),
        (Some(true), Some(false))
    );
    let p = with(SourceInfoField::Invalid, Some(false), Some(false));
    assert_eq!((p.audio_sending(), p.video_sending()), (None, None));
    let p = with(SourceInfoField::Absent, None, Some(true));
    assert_eq!((p.audio_sending(), p.video_sending()), (None, Some(false)));
    // Java Boolean.valueOf: anything but "true" is not muted.
    let el =
        xml("<presence xmlns='jabber:client'><audiomuted/><videomuted>yes</videomuted></presence>");
    let p = OccupantPresence::parse(&el).unwrap();
    assert_eq!((p.audio_muted, p.video_muted), (Some(false), Some(false)));
}

#[test]
fn codec_lists() {
    let el = xml(
        "<presence xmlns='jabber:client'><jitsi_participant_codecList> VP9,,av1 ,</jitsi_participant_codecList></presence>",
    );
    assert_eq!(
        OccupantPresence::parse(&el).unwrap().codec_list,
        Some(vec!["VP9".to_owned(), "av1".to_owned()])
    );
    let el = xml("<presence xmlns='jabber:client'><jitsi_participant_codecList/></presence>");
    assert_eq!(
        OccupantPresence::parse(&el).unwrap().codec_list,
        Some(vec![])
    );
}

fn focus_presence() -> FocusPresence {
    FocusPresence {
        etherpad: Some("standup".to_owned()),
        version: "1.0.1100".to_owned(),
        properties: vec![
            ("support-terminate-restart".to_owned(), "true".to_owned()),
            ("visitors-enabled".to_owned(), "true".to_owned()),
        ],
        bridge_not_available: false,
    }
}

#[test]
fn focus_presence_layout() {
    let to = FullJid::new("standup@conference.example.com/focus").unwrap();
    let el = focus_presence().to_element(&to);
    let expected = xml(
        "<presence xmlns='jabber:client' to='standup@conference.example.com/focus'>\
           <etherpad xmlns='http://jitsi.org/jitmeet/etherpad'>standup</etherpad>\
           <versions xmlns='http://jitsi.org/jitmeet'><component name='focus'>1.0.1100</component></versions>\
           <conference-properties xmlns='http://jitsi.org/protocol/focus'>\
             <property key='support-terminate-restart' value='true'/>\
             <property key='visitors-enabled' value='true'/>\
           </conference-properties>\
         </presence>",
    );
    assert_eq!(el, expected);
    assert!(!el.has_child("x", crate::ext::muc::NS_MUC));
    assert_eq!(FocusPresence::parse(&wire(&el)), Ok(focus_presence()));
    assert_eq!(focus_presence().property("visitors-enabled"), Some("true"));

    let no_bridge = FocusPresence {
        etherpad: None,
        bridge_not_available: true,
        ..focus_presence()
    };
    let el = no_bridge.to_element(&to);
    assert!(el.has_child("bridgeNotAvailable", NS_FOCUS));
    assert!(!el.has_child("etherpad", NS_ETHERPAD));
    assert_eq!(FocusPresence::parse(&wire(&el)), Ok(no_bridge));
}

fn arb_text() -> impl Strategy<Value = String> {
    "\\PC{1,24}".prop_filter("no surrounding space", |s| s.trim() == s)
}

fn arb_source_info() -> impl Strategy<Value = SourceInfo> {
    prop::collection::btree_map(
        "[a-f0-9]{8}-[av][0-9]",
        (
            any::<bool>(),
            prop::option::of(prop::sample::select(vec!["camera", "desktop"])),
            prop::option::of(prop::sample::select(vec![
                MediaType::Audio,
                MediaType::Video,
            ])),
        ),
        0..6,
    )
    .prop_map(|map| SourceInfo {
        sources: map
            .into_iter()
            .map(|(name, (muted, video_type, media_type))| {
                let media_type = media_type.or_else(|| MediaType::from_source_name(&name));
                let state = SourceState {
                    muted,
                    video_type: video_type.map(str::to_owned),
                    media_type,
                };
                (name, state)
            })
            .collect(),
    })
}

fn arb_presence() -> impl Strategy<Value = OccupantPresence> {
    let item = prop::option::of((
        prop::sample::select(vec![
            Affiliation::Owner,
            Affiliation::Admin,
            Affiliation::Member,
            Affiliation::None,
        ]),
        prop::sample::select(vec![
            Role::Moderator,
            Role::Participant,
            Role::Visitor,
            Role::None,
        ]),
        prop::option::of("[a-z]{1,8}@[a-z]{1,8}\\.example/[a-zA-Z0-9]{1,8}"),
        prop::option::of(arb_text()),
    ))
    .prop_map(|item| {
        item.map(|(affiliation, role, jid, nick)| MucItem {
            affiliation,
            role,
            jid: jid.map(|j| Jid::new(&j).unwrap()),
            nick,
        })
    });
    let source_info = prop_oneof![
        Just(SourceInfoField::Absent),
        Just(SourceInfoField::Invalid),
        arb_source_info().prop_map(SourceInfoField::Valid),
    ];
    (
        (
            prop::sample::select(vec![
                PresenceKind::Available,
                PresenceKind::Unavailable,
                PresenceKind::Error,
            ]),
            item,
            prop::collection::vec(any::<u16>(), 0..=MAX_STATUS_CODES),
            any::<bool>(),
            prop::option::of(arb_text()),
            prop::option::of(arb_text()),
            prop::option::of(arb_text()),
        ),
        (
            source_info,
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
            prop::option::of(prop::collection::vec("\\PC{0,24}", 0..4)),
            prop::option::of((prop::option::of("\\PC{0,8}"), "\\PC{0,24}", "\\PC{0,24}")),
            prop::option::of(prop::collection::vec("[a-z0-9]{1,6}", 0..4)),
            prop::option::of(arb_text()),
            prop::option::of(any::<bool>()),
        ),
    )
        .prop_map(
            |(
                (kind, item, status_codes, destroy, status, stats_id, region),
                (
                    source_info,
                    audio_muted,
                    video_muted,
                    features,
                    caps,
                    codec_list,
                    codec_type,
                    diarize,
                ),
            )| OccupantPresence {
                kind,
                item,
                status_codes,
                destroy,
                status,
                stats_id,
                region,
                source_info,
                audio_muted,
                video_muted,
                features,
                caps: caps.map(|(hash, node, ver)| Caps { hash, node, ver }),
                codec_list,
                codec_type,
                diarize,
            },
        )
}

proptest! {
    #[test]
    fn occupant_presences_round_trip(p in arb_presence()) {
        prop_assert_eq!(OccupantPresence::parse(&p.to_element()), Ok(p.clone()));
        prop_assert_eq!(OccupantPresence::parse(&wire(&p.to_element())), Ok(p.clone()));
    }

    #[test]
    fn source_infos_round_trip(info in arb_source_info()) {
        prop_assert_eq!(SourceInfo::parse_json(&info.to_json()), Some(info));
    }

    #[test]
    fn focus_presences_round_trip(
        etherpad in prop::option::of("\\PC{0,32}"),
        version in "\\PC{0,16}",
        properties in prop::collection::vec(("\\PC{0,16}", "\\PC{0,16}"), 0..6),
        bridge_not_available in any::<bool>(),
    ) {
        let p = FocusPresence { etherpad, version, properties, bridge_not_available };
        let to = FullJid::new("r@muc.example/focus").unwrap();
        prop_assert_eq!(FocusPresence::parse(&wire(&p.to_element(&to))), Ok(p.clone()));
    }

    #[test]
    fn source_info_never_panics(text in any::<String>()) {
        let _ = SourceInfo::parse_json(&text);
    }

    #[test]
    fn parsers_never_panic(el in arb_element()) {
        crate::fuzzing::occupant_presence_element(&el);
        for child in el.children() {
            crate::fuzzing::occupant_presence_element(child);
        }
    }
}
