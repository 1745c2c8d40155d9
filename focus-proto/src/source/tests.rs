//! Unit tests of the source model: parsing (captures included), writing,
//! JSON, stripping, every validation rule with its exact message, filters
//! and diffs.

use minidom::Element;

use super::jingle::{
    MAX_PARSED_SOURCES, NS_JINGLE, insert_into_offer, insert_map_into_offer, map_to_contents,
    set_to_contents,
};
use super::json::{
    json_message_element, json_message_text, map_to_compact_json, parse_json_message,
    set_to_compact_json,
};
use super::*;
use crate::ext::test_support::xml;

mod proptests;

const SESSION_ACCEPT: &str = include_str!("testdata/session-accept.xml");
const SESSION_ACCEPT_JSON_OFFER: &str = include_str!("testdata/session-accept-json-offer.xml");
const SESSION_ACCEPT_AUDIO_ONLY: &str = include_str!("testdata/session-accept-audio-only.xml");
const SESSION_ACCEPT_AFTER_RESTART: &str =
    include_str!("testdata/session-accept-after-restart.xml");
const SOURCE_ADD: &str = include_str!("testdata/source-add.xml");
const PRESENCE_UPDATE_SOURCES: &str = include_str!("testdata/presence-update-sources.xml");

fn ssrc(n: u32) -> Ssrc {
    Ssrc::new(n).expect("test SSRCs are non-zero")
}

fn ssrcs(list: &[u32]) -> Vec<Ssrc> {
    list.iter().copied().map(ssrc).collect()
}

fn video(n: u32) -> Source {
    Source::new(ssrc(n), MediaType::Video)
}

fn audio(n: u32) -> Source {
    Source::new(ssrc(n), MediaType::Audio)
}

fn sim(list: &[u32]) -> SsrcGroup {
    SsrcGroup::new(Semantics::Sim, ssrcs(list), MediaType::Video)
}

fn fid(list: &[u32]) -> SsrcGroup {
    SsrcGroup::new(Semantics::Fid, ssrcs(list), MediaType::Video)
}

fn set(sources: Vec<Source>, groups: Vec<SsrcGroup>) -> EndpointSourceSet {
    EndpointSourceSet::from_parts(sources, groups)
}

/// A capture file without its comment header (the stream reader, like
/// XMPP, refuses comments).
fn without_comment(text: &str) -> &str {
    text.split_once("-->").map_or(text, |(_, rest)| rest)
}

/// The `<jingle>` of the single IQ in a capture file.
fn capture_jingle(text: &str) -> Element {
    let stanzas = crate::fuzzing::stanzas(without_comment(text).as_bytes());
    assert_eq!(stanzas.len(), 1, "one stanza through the stream reader");
    match stanzas[0].get_child("jingle", NS_JINGLE) {
        Some(j) => j.clone(),
        None => panic!("no jingle in capture"),
    }
}

fn parse_capture(text: &str) -> EndpointSourceSet {
    match parse_jingle(&capture_jingle(text)) {
        Ok(set) => set,
        Err(e) => panic!("capture does not parse: {e}"),
    }
}

/// Parses `<content>`s given as XML text inside a `<jingle>`.
fn parse_xml(contents: &str) -> Result<EndpointSourceSet, SourceParseError> {
    parse_jingle(&xml(&format!(
        "<jingle xmlns='urn:xmpp:jingle:1' action='source-add'>{contents}</jingle>"
    )))
}

/// Jicofo's test set: SIM(1,2,3) + FID(1,4), FID(2,5), FID(3,6) with one
/// msid, and audio 7 without.
fn jicofo_set() -> EndpointSourceSet {
    let m = |n| video(n).with_msid("msid");
    set(
        vec![m(1), m(2), m(3), m(4), m(5), m(6), audio(7)],
        vec![sim(&[1, 2, 3]), fid(&[1, 4]), fid(&[2, 5]), fid(&[3, 6])],
    )
}

fn vmap() -> ValidatingConferenceSourceMap {
    ValidatingConferenceSourceMap::new(20, 20)
}

fn add_err(map: &mut ValidatingConferenceSourceMap, owner: &str, s: &EndpointSourceSet) -> String {
    let before = map.map().clone();
    let err = match map.try_to_add(owner, s) {
        Ok(accepted) => panic!("accepted {accepted}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(map.map(), &before, "a refused add changes nothing");
    err
}

fn remove_err(
    map: &mut ValidatingConferenceSourceMap,
    owner: &str,
    s: &EndpointSourceSet,
) -> String {
    let before = map.map().clone();
    let err = match map.try_to_remove(owner, s) {
        Ok(removed) => panic!("removed {removed}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(map.map(), &before, "a refused remove changes nothing");
    err
}

// ---------------------------------------------------------------- types

#[test]
fn ssrc_cannot_be_zero_or_out_of_range() {
    assert_eq!(Ssrc::new(0), None);
    assert_eq!(Ssrc::new(u32::MAX).map(Ssrc::get), Some(u32::MAX));
    assert_eq!(Ssrc::from_i64(-1), None);
    assert_eq!(Ssrc::from_i64(0), None);
    assert_eq!(Ssrc::from_i64(0x1_0000_0000), None);
    assert_eq!(Ssrc::from_i64(1).map(Ssrc::get), Some(1));
    assert_eq!(
        Ssrc::try_from(0u32).map_err(|e| e.to_string()),
        Err("Invalid SSRC: 0.".into())
    );
}

#[test]
fn names_and_display() {
    assert_eq!(source_name("7f3e9a21", MediaType::Audio, 0), "7f3e9a21-a0");
    assert_eq!(source_name("7f3e9a21", MediaType::Video, 1), "7f3e9a21-v1");
    assert_eq!(sim(&[1, 2, 3]).to_string(), "SIM[1, 2, 3]");
    assert_eq!(
        set(vec![audio(7), video(1), video(4)], vec![fid(&[1, 4])]).to_string(),
        "[audio=[7], video=[1, 4], groups=[FID[1, 4]]]"
    );
    assert_eq!(Semantics::parse("fid"), Some(Semantics::Fid));
    assert_eq!(Semantics::parse("Sim"), Some(Semantics::Sim));
    assert_eq!(Semantics::parse("FEC-FR"), None);
    assert_eq!(VideoType::parse("DeskTop"), Some(VideoType::Desktop));
    assert_eq!(VideoType::parse("screen"), None);
    assert_eq!(MediaType::parse("Audio"), None);
}

#[test]
fn set_is_a_set_in_insertion_order() {
    let s = set(
        vec![video(3), video(1), video(3), audio(2)],
        vec![fid(&[3, 1]), fid(&[3, 1])],
    );
    let order: Vec<u32> = s.sources().iter().map(|s| s.ssrc.get()).collect();
    assert_eq!(order, [3, 1, 2]);
    assert_eq!(s.groups().len(), 1);
    // Equality ignores the order.
    assert_eq!(
        s,
        set(vec![audio(2), video(1), video(3)], vec![fid(&[3, 1])])
    );
    // A group's SSRC order matters.
    assert_ne!(
        s,
        set(vec![audio(2), video(1), video(3)], vec![fid(&[1, 3])])
    );
    let union = s.union(&set(vec![video(9), video(1)], vec![]));
    let order: Vec<u32> = union.sources().iter().map(|s| s.ssrc.get()).collect();
    assert_eq!(order, [3, 1, 2, 9]);
    let diff = union.difference(&s);
    assert_eq!(diff, set(vec![video(9)], vec![]));
    assert!(s.has_audio() && s.has_video());
}

// ---------------------------------------------------------------- parsing

#[test]
fn capture_session_accept_parses() {
    let s = parse_capture(SESSION_ACCEPT);
    let audio: Vec<&Source> = s
        .sources()
        .iter()
        .filter(|s| s.media_type == MediaType::Audio)
        .collect();
    assert_eq!(audio.len(), 1);
    assert_eq!(audio[0].ssrc.get(), 3563040608);
    assert_eq!(audio[0].name.as_deref(), Some("1407177a-a0"));
    assert_eq!(
        audio[0].msid.as_deref(),
        Some("1407177a-audio-0-1 ef063db6-e722-4441-b21c-d632246ae5cf-1"),
        "the msid parameter without xmlns (ssma namespace) is read"
    );
    assert_eq!(audio[0].video_type, None);
    let video: Vec<&Source> = s
        .sources()
        .iter()
        .filter(|s| s.media_type == MediaType::Video)
        .collect();
    assert_eq!(video.len(), 6);
    assert!(
        video
            .iter()
            .all(|s| s.name.as_deref() == Some("1407177a-v0")
                && s.video_type == Some(VideoType::Camera)
                && s.msid.as_deref()
                    == Some("1407177a-video-0-1 d1f400e1-96cf-4d7f-a309-908ca35fc620-1"))
    );
    assert_eq!(s.groups().len(), 4);
    assert_eq!(
        s.groups()
            .iter()
            .filter(|g| g.semantics == Semantics::Sim)
            .count(),
        1
    );
    assert!(s.groups().iter().all(|g| g.media_type == MediaType::Video));
    // It is accepted as it is.
    let mut map = vmap();
    assert_eq!(map.try_to_add("1407177a", &s), Ok(s.clone()));
    map.check_invariants().expect("valid");
}

#[test]
fn every_capture_parses_and_validates() {
    for (file, text, audio_n, video_n, groups_n) in [
        ("session-accept", SESSION_ACCEPT, 1, 6, 4),
        (
            "session-accept-json-offer",
            SESSION_ACCEPT_JSON_OFFER,
            1,
            6,
            4,
        ),
        (
            "session-accept-audio-only",
            SESSION_ACCEPT_AUDIO_ONLY,
            1,
            0,
            0,
        ),
        (
            "session-accept-after-restart",
            SESSION_ACCEPT_AFTER_RESTART,
            1,
            6,
            4,
        ),
        ("source-add", SOURCE_ADD, 0, 6, 4),
    ] {
        let s = parse_capture(text);
        assert_eq!(s.ssrcs(MediaType::Audio).count(), audio_n, "{file}");
        assert_eq!(s.ssrcs(MediaType::Video).count(), video_n, "{file}");
        assert_eq!(s.groups().len(), groups_n, "{file}");
        let mut map = vmap();
        assert_eq!(map.try_to_add("ep", &s), Ok(s.clone()), "{file}");
        // Simulcast stripped: one SSRC and its RTX per stream.
        let stripped = strip_simulcast(&s);
        assert_eq!(
            stripped.ssrcs(MediaType::Video).count(),
            video_n.min(2),
            "{file}"
        );
    }
}

#[test]
fn audio_only_then_source_add_of_the_same_client() {
    // session-accept-audio-only.xml and source-add.xml are the same client.
    let mut map = vmap();
    let first = parse_capture(SESSION_ACCEPT_AUDIO_ONLY);
    let added = parse_capture(SOURCE_ADD);
    assert_eq!(map.try_to_add("e785c009", &first), Ok(first.clone()));
    assert_eq!(map.try_to_add("e785c009", &added), Ok(added.clone()));
    assert_eq!(map.get("e785c009"), Some(&first.union(&added)));
    // Another endpoint re-using those SSRCs is refused.
    assert_eq!(
        add_err(&mut map, "other", &added),
        format!("SSRC is already used: {}.", added.sources()[0].ssrc)
    );
}

#[test]
fn presence_source_info_names_the_parsed_sources() {
    // presence-update-sources.xml is from the client of session-accept-after-restart.xml.
    let presence = &xml(without_comment(PRESENCE_UPDATE_SOURCES));
    let info = presence
        .get_child("SourceInfo", crate::xml::NS_CLIENT)
        .expect("SourceInfo")
        .text();
    let info: serde_json::Value = serde_json::from_str(&info).expect("JSON");
    let mut in_presence: Vec<&str> = info
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    in_presence.sort_unstable();
    let s = parse_capture(SESSION_ACCEPT_AFTER_RESTART);
    let mut parsed: Vec<&str> = s
        .sources()
        .iter()
        .filter_map(|s| s.name.as_deref())
        .collect();
    parsed.sort_unstable();
    parsed.dedup();
    assert_eq!(in_presence, parsed);
}

#[test]
fn media_type_from_description_else_content_name() {
    let s = parse_xml(
        "<content name='whatever'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>\
         <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='1'/></description></content>\
         <content name='video'><source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='2'/></content>",
    )
    .expect("parses");
    assert_eq!(s, set(vec![audio(1), video(2)], vec![]));
}

#[test]
fn unknown_media_type_is_an_error_only_with_sources() {
    let e = parse_xml(
        "<content name='bundle'><source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='1'/></content>",
    )
    .expect_err("unknown media");
    assert_eq!(e, SourceParseError::UnknownMediaType("bundle".into()));
    assert_eq!(
        e.to_string(),
        "bundle is not a currently supported MediaType"
    );
    let e = parse_xml(
        "<content name='audio'><description xmlns='urn:xmpp:jingle:apps:rtp:1'>\
           <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='1'/></description></content>",
    )
    .expect_err("description without media");
    assert_eq!(e, SourceParseError::UnknownMediaType("null".into()));
    // Without sources the media type does not matter (a data content
    // with `media='application'`, a content named `bundle`).
    for xml in [
        "<content name='data'/>",
        "<content name='bundle'/>",
        "<content name='data'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='application'/></content>",
    ] {
        assert!(parse_xml(xml).expect(xml).is_empty());
    }
}

#[test]
fn sources_from_description_and_content_groups_only_from_description() {
    let s = parse_xml(
        "<content name='video'>\
           <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
             <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='1'/>\
             <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='fid'>\
               <source ssrc='1'/><source ssrc='2'/></ssrc-group>\
           </description>\
           <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='2'/>\
           <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='1'/>\
           <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='SIM'>\
             <source ssrc='1'/></ssrc-group>\
           <source xmlns='urn:other' ssrc='3'/>\
         </content>",
    )
    .expect("parses");
    assert_eq!(s, set(vec![video(1), video(2)], vec![fid(&[1, 2])]));
}

#[test]
fn source_attributes_and_parameters() {
    let s = parse_xml(
        "<content name='video'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
           <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='10' name='ep-v1' videoType='DESKTOP' rid='q'>\
             <ssrc-info xmlns='http://jitsi.org/jitmeet' owner='someone-else'/>\
             <parameter xmlns='urn:xmpp:jingle:apps:rtp:1' name='cname' value='c'/>\
             <parameter xmlns='urn:xmpp:jingle:apps:rtp:1' name='msid' value='s t'/>\
             <parameter name='msid' value='second'/>\
           </source>\
           <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='11'>\
             <parameter name='msid'/><parameter name='msid' value='later'/>\
           </source>\
           <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='12'>\
             <parameter xmlns='urn:other' name='msid' value='ignored'/>\
           </source>\
         </description></content>",
    )
    .expect("parses");
    assert_eq!(
        s,
        set(
            vec![
                video(10)
                    .with_name("ep-v1")
                    .with_msid("s t")
                    .with_video_type(VideoType::Desktop),
                video(11),
                video(12),
            ],
            vec![]
        )
    );
}

#[test]
fn parse_errors() {
    let one = |attrs: &str| {
        parse_xml(&format!(
            "<content name='video'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
             <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' {attrs}/></description></content>"
        ))
    };
    assert_eq!(one("ssrc='0'"), Err(SourceParseError::InvalidSsrc(0)));
    assert_eq!(
        one("ssrc='0'").map_err(|e| e.to_string()),
        Err("Invalid SSRC: 0.".into())
    );
    assert_eq!(one(""), Err(SourceParseError::InvalidSsrc(-1)));
    assert_eq!(one("ssrc='-5'"), Err(SourceParseError::InvalidSsrc(-5)));
    assert_eq!(
        one("ssrc='4294967296'"),
        Err(SourceParseError::InvalidSsrc(4294967296))
    );
    assert_eq!(one("ssrc='+7'").map(|s| s.sources()[0].ssrc.get()), Ok(7));
    assert_eq!(
        one("ssrc='12a'"),
        Err(SourceParseError::SsrcNotANumber("12a".into()))
    );
    assert_eq!(
        one("ssrc='99999999999999999999'"),
        Err(SourceParseError::SsrcNotANumber(
            "99999999999999999999".into()
        ))
    );
    assert_eq!(
        one("ssrc='1' videoType='screen'"),
        Err(SourceParseError::InvalidVideoType("screen".into()))
    );
    assert_eq!(
        one("ssrc='1' videoType=''"),
        Err(SourceParseError::InvalidVideoType(String::new()))
    );
    let group = |semantics: &str| {
        parse_xml(&format!(
            "<content name='video'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
             <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' {semantics}><source ssrc='1'/></ssrc-group>\
             </description></content>"
        ))
    };
    assert_eq!(
        group("semantics='FEC-FR'"),
        Err(SourceParseError::InvalidSemantics("FEC-FR".into()))
    );
    assert_eq!(
        group("semantics='FEC-FR'").map_err(|e| e.to_string()),
        Err("Invalid ssrc-group semantics: FEC-FR".into())
    );
    assert_eq!(
        group(""),
        Err(SourceParseError::InvalidSemantics("null".into()))
    );
    assert_eq!(group("semantics='sim'").map(|s| s.groups().len()), Ok(1));
}

#[test]
fn empty_group_is_kept_by_parsing_and_ignored_by_validation() {
    let s = parse_xml(
        "<content name='video'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
           <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='1'/>\
           <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='SIM'/>\
         </description></content>",
    )
    .expect("parses");
    assert_eq!(s.groups().len(), 1);
    let mut map = vmap();
    assert_eq!(map.try_to_add("a", &s), Ok(set(vec![video(1)], vec![])));
}

#[test]
fn hostile_sizes_are_rejected_early() {
    let mut text = String::from(
        "<jingle xmlns='urn:xmpp:jingle:1'><content name='video'>\
         <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>",
    );
    for i in 1..=10_000 {
        text.push_str(&format!(
            "<source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='{i}'/>"
        ));
    }
    text.push_str("</description></content></jingle>");
    let jingle = xml(&text);
    assert_eq!(
        parse_jingle(&jingle),
        Err(SourceParseError::TooManySources(MAX_PARSED_SOURCES))
    );
    // Identical sources count too (before they collapse).
    let same = "<source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='1'/>".repeat(10_000);
    let jingle = xml(&format!(
        "<jingle xmlns='urn:xmpp:jingle:1'><content name='video'>{same}</content></jingle>"
    ));
    assert!(matches!(
        parse_jingle(&jingle),
        Err(SourceParseError::TooManySources(_))
    ));
    let members = "<source ssrc='1'/>".repeat(5_000);
    let jingle = xml(&format!(
        "<jingle xmlns='urn:xmpp:jingle:1'><content name='video'>\
         <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
         <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='SIM'>{members}</ssrc-group>\
         </description></content></jingle>"
    ));
    assert!(matches!(
        parse_jingle(&jingle),
        Err(SourceParseError::TooManyGroupSsrcs(_))
    ));
    // Just under the limit parses; validation then applies max-ssrcs-per-user.
    let many: Vec<Source> = (1..=MAX_PARSED_SOURCES as u32).map(video).collect();
    let contents = set_to_contents(&EndpointSourceSet::from_sources(many), None);
    let parsed = parse_contents(&contents).expect("at the limit");
    assert_eq!(
        vmap().try_to_add("a", &parsed).map_err(|e| e.to_string()),
        Err("SSRC limit (20) exceeded.".into())
    );
}

// ---------------------------------------------------------------- writing

fn spec_example_map() -> ConferenceSourceMap {
    let m = "7f3e9a21-video-0 trk1";
    let v = |n| {
        video(n)
            .with_name("7f3e9a21-v0")
            .with_msid(m)
            .with_video_type(VideoType::Camera)
    };
    ConferenceSourceMap::single(
        "7f3e9a21",
        set(
            vec![v(101), v(102), v(103), v(201), v(202), v(203)],
            vec![
                sim(&[101, 102, 103]),
                fid(&[101, 201]),
                fid(&[102, 202]),
                fid(&[103, 203]),
            ],
        ),
    )
}

#[test]
fn writes_the_source_add_of_the_spec() {
    let stripped = spec_example_map().strip_simulcast();
    let contents = map_to_contents(&stripped);
    let expected = xml("<content xmlns='urn:xmpp:jingle:1' name='video'>\
           <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
             <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='101' name='7f3e9a21-v0' videoType='camera'>\
               <ssrc-info xmlns='http://jitsi.org/jitmeet' owner='7f3e9a21'/>\
               <parameter xmlns='urn:xmpp:jingle:apps:rtp:1' name='msid' value='7f3e9a21-video-0 trk1'/>\
             </source>\
             <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='201' name='7f3e9a21-v0' videoType='camera'>\
               <ssrc-info xmlns='http://jitsi.org/jitmeet' owner='7f3e9a21'/>\
               <parameter xmlns='urn:xmpp:jingle:apps:rtp:1' name='msid' value='7f3e9a21-video-0 trk1'/>\
             </source>\
             <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='FID'>\
               <source ssrc='101'/><source ssrc='201'/>\
             </ssrc-group>\
           </description>\
         </content>");
    assert_eq!(contents, vec![expected]);
}

#[test]
fn jingle_round_trip_of_the_captures_and_jicofo_set() {
    let mut sets = vec![jicofo_set()];
    for text in [SESSION_ACCEPT, SOURCE_ADD, SESSION_ACCEPT_AUDIO_ONLY] {
        sets.push(parse_capture(text));
    }
    for s in sets {
        for owner in [None, Some("ep")] {
            let contents = set_to_contents(&s, owner);
            assert_eq!(parse_contents(&contents), Ok(s.clone()));
            // Through the wire as well.
            let jingle = Element::builder("jingle", NS_JINGLE)
                .append_all(contents)
                .build();
            let wired = crate::ext::test_support::wire(&jingle);
            assert_eq!(parse_jingle(&wired), Ok(s.clone()));
        }
    }
}

#[test]
fn contents_per_media_in_order_of_first_use_and_per_owner() {
    let mut map = ConferenceSourceMap::new();
    map.add("b", &set(vec![audio(3)], vec![]));
    map.add(
        "a",
        &set(vec![video(1), video(2), audio(4)], vec![fid(&[1, 2])]),
    );
    let contents = map_to_contents(&map);
    let names: Vec<&str> = contents.iter().filter_map(|c| c.attr("name")).collect();
    assert_eq!(names, ["video", "audio"], "owner a comes first, with video");
    let owners_in_audio: Vec<String> = contents[1]
        .get_child("description", super::jingle::NS_RTP)
        .expect("description")
        .children()
        .filter_map(|s| s.get_child("ssrc-info", super::jingle::NS_JITMEET))
        .filter_map(|i| i.attr("owner").map(str::to_owned))
        .collect();
    assert_eq!(owners_in_audio, ["a", "b"]);
    assert!(
        contents
            .iter()
            .all(|c| c.attr("creator").is_none() && c.attr("senders").is_none())
    );
}

#[test]
fn inserts_into_an_offer() {
    let offer = xml("<jingle xmlns='urn:xmpp:jingle:1'>\
           <content name='audio' creator='initiator' senders='both'>\
             <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>\
               <payload-type id='111' name='opus'/></description>\
             <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'/></content>\
           <content name='video' creator='initiator'/>\
           <content name='data' creator='initiator'/>\
         </jingle>");
    let mut contents: Vec<Element> = offer.children().cloned().collect();
    let jvb = set(
        vec![
            audio(1).with_msid("mixedmslabel mixedlabelaudio0"),
            video(2).with_msid("mixedmslabel mixedlabelvideo0"),
        ],
        vec![],
    );
    insert_into_offer(&mut contents, JVB_OWNER, &jvb);
    assert_eq!(contents.len(), 3, "data content kept, nothing new");
    let audio_desc = contents[0]
        .get_child("description", super::jingle::NS_RTP)
        .expect("audio description");
    let kids: Vec<&str> = audio_desc.children().map(Element::name).collect();
    assert_eq!(kids, ["payload-type", "source"]);
    assert_eq!(contents[0].attr("senders"), Some("both"));
    let video_desc = contents[1]
        .get_child("description", super::jingle::NS_RTP)
        .expect("video description created");
    assert_eq!(video_desc.attr("media"), Some("video"));
    assert_eq!(parse_contents(&contents), Ok(jvb.clone()));

    // A missing content is created at the end; the map version follows
    // Jicofo's order (sources of all owners, then groups).
    let mut contents = vec![contents[2].clone()];
    let mut map = ConferenceSourceMap::single(JVB_OWNER, jvb.clone());
    let ep = set(
        vec![video(5).with_msid("m"), video(6).with_msid("m")],
        vec![fid(&[5, 6])],
    );
    map.add("ep", &ep);
    insert_map_into_offer(&mut contents, &map);
    let names: Vec<&str> = contents.iter().filter_map(|c| c.attr("name")).collect();
    assert_eq!(names, ["data", "audio", "video"]);
    assert_eq!(parse_contents(&contents), Ok(jvb.union(&ep)));
}

// ---------------------------------------------------------------- JSON

#[test]
fn json_of_the_spec_example() {
    let expected = concat!(
        r#"{"sources":{"7f3e9a21":[[{"s":101,"n":"7f3e9a21-v0","m":"7f3e9a21-video-0 trk1"},"#,
        r#"{"s":201,"n":"7f3e9a21-v0","m":"7f3e9a21-video-0 trk1"}],[["f",101,201]],[]]}}"#
    );
    assert_eq!(
        json_message_text(&spec_example_map().strip_simulcast()),
        expected
    );
    let full = map_to_compact_json(&spec_example_map());
    assert!(full.starts_with(r#"{"7f3e9a21":[[{"s":101,"#));
    assert!(
        full.ends_with(r#"[["s",101,102,103],["f",101,201],["f",102,202],["f",103,203]],[]]}"#)
    );
    let el = json_message_element(&spec_example_map());
    assert!(el.is("json-message", "http://jitsi.org/jitmeet"));
}

#[test]
fn json_layout_desktop_and_audio_groups() {
    let s = set(
        vec![
            video(1).with_video_type(VideoType::Desktop),
            audio(2).with_msid("a"),
            audio(3).with_msid("a"),
        ],
        vec![SsrcGroup::new(
            Semantics::Fid,
            ssrcs(&[2, 3]),
            MediaType::Audio,
        )],
    );
    assert_eq!(
        set_to_compact_json(&s),
        r#"[[{"s":1,"v":"d"}],[],[{"s":2,"m":"a"},{"s":3,"m":"a"}],[["f",2,3]]]"#
    );
    assert_eq!(set_to_compact_json(&EndpointSourceSet::new()), "[[],[],[]]");
    assert_eq!(
        json_message_text(&ConferenceSourceMap::new()),
        r#"{"sources":{}}"#
    );
}

#[test]
fn json_escapes_names_msids_and_owners() {
    let s = set(
        vec![
            audio(1)
                .with_name("a\"b\\c")
                .with_msid("x\ny</json-message>"),
        ],
        vec![],
    );
    let map = ConferenceSourceMap::single("o\"wner", s.clone());
    let text = json_message_text(&map);
    assert_eq!(
        text,
        r#"{"sources":{"o\"wner":[[],[],[{"s":1,"n":"a\"b\\c","m":"x\ny</json-message>"}]]}}"#
    );
    assert_eq!(parse_json_message(&text), Ok(Some(map)));
    // The element survives the wire.
    let el = crate::ext::test_support::wire(&json_message_element(&ConferenceSourceMap::single(
        "o\"wner", s,
    )));
    assert_eq!(el.text(), text);
}

#[test]
fn json_reads_as_the_client_does() {
    let map = parse_json_message(
        r#"{"sources":{"x":[[{"s":1},{"s":"2","v":"d"}],[["f",1,2]]],"y":[[],[],[{"s":3,"n":"y-a0"}]]}}"#,
    )
    .expect("valid")
    .expect("has sources");
    assert_eq!(
        map.get("x"),
        Some(&set(
            vec![
                video(1).with_video_type(VideoType::Camera),
                video(2).with_video_type(VideoType::Desktop)
            ],
            vec![fid(&[1, 2])]
        ))
    );
    assert_eq!(
        map.get("y"),
        Some(&set(vec![audio(3).with_name("y-a0")], vec![]))
    );
    assert_eq!(parse_json_message(r#"{"other":1}"#), Ok(None));
    assert!(parse_json_message("{").is_err());
    assert!(parse_json_message(r#"{"sources":{"x":[[{"s":0}]]}}"#).is_err());
    assert!(parse_json_message(r#"{"sources":{"x":[[],[["x",1]]]}}"#).is_err());
    assert!(parse_json_message(r#"{"sources":[]}"#).is_err());
}

#[test]
fn json_round_trip_of_captures() {
    for text in [SESSION_ACCEPT, SOURCE_ADD, SESSION_ACCEPT_AFTER_RESTART] {
        let s = parse_capture(text);
        let map = ConferenceSourceMap::single("ep", s.clone());
        let back = parse_json_message(&json_message_text(&map)).expect("JSON");
        assert_eq!(
            back,
            Some(map),
            "captures' video sources are cameras already"
        );
    }
}

// ---------------------------------------------------------------- stripping

#[test]
fn strip_simulcast_as_jicofo() {
    let s = jicofo_set();
    let s8 = video(8);
    let plain = |n| video(n);
    // Without RTX.
    assert_eq!(
        strip_simulcast(&set(
            vec![plain(1), plain(2), plain(3), audio(7), s8.clone()],
            vec![sim(&[1, 2, 3])]
        )),
        set(vec![plain(1), audio(7), s8.clone()], vec![])
    );
    // With multiple SIM groups.
    let mut sources = s.sources().to_vec();
    sources.push(s8.clone());
    let m = |n| video(n).with_msid("msid");
    assert_eq!(
        strip_simulcast(&set(
            sources.clone(),
            vec![sim(&[1, 2, 3]), sim(&[4, 5, 6])]
        )),
        set(vec![m(1), m(4), audio(7), s8.clone()], vec![])
    );
    // With RTX.
    assert_eq!(
        strip_simulcast(&set(sources, s.groups().to_vec())),
        set(vec![m(1), m(4), audio(7), s8], vec![fid(&[1, 4])])
    );
    // Total on FID groups of the wrong size.
    let odd = set(
        vec![m(1), m(2), m(3)],
        vec![sim(&[1, 2]), fid(&[2]), fid(&[2, 3, 1])],
    );
    assert_eq!(strip_simulcast(&odd), set(vec![], vec![]));
}

// ---------------------------------------------------------------- validation: adding

#[test]
fn add_accepts_jicofo_signaling() {
    let s = jicofo_set();
    let mut map = vmap();
    assert_eq!(
        map.try_to_add("jid1", &EndpointSourceSet::new()),
        Ok(EndpointSourceSet::new())
    );
    assert!(map.map().is_empty(), "an empty add stores nothing");
    assert_eq!(map.try_to_add("jid1", &s), Ok(s.clone()));
    let second = set(
        vec![
            video(101).with_msid("msid2"),
            video(102).with_msid("msid2"),
            audio(103),
        ],
        vec![fid(&[101, 102])],
    );
    assert_eq!(map.try_to_add("jid2", &second), Ok(second.clone()));
    map.check_invariants().expect("valid");

    // Video first, then audio; and audio first, then video.
    let video_part = set(s.sources()[..6].to_vec(), s.groups().to_vec());
    let audio_part = set(vec![audio(7)], vec![]);
    for order in [[&video_part, &audio_part], [&audio_part, &video_part]] {
        let mut map = vmap();
        for part in order {
            assert_eq!(map.try_to_add("jid1", part), Ok(part.clone()));
        }
        assert_eq!(map.get("jid1"), Some(&s));
    }
}

#[test]
fn rule_2_ssrc_already_used() {
    let mut map = vmap();
    map.try_to_add("jid1", &set(vec![audio(1)], vec![]))
        .expect("ok");
    for other in [
        audio(1).with_msid("differentMsid"),
        video(1).with_msid("differentMsid"),
    ] {
        let s = set(vec![other], vec![]);
        assert_eq!(add_err(&mut map, "jid1", &s), "SSRC is already used: 1.");
        assert_eq!(add_err(&mut map, "jid2", &s), "SSRC is already used: 1.");
    }
    // Re-adding the very same source is an error too.
    assert_eq!(
        add_err(&mut map, "jid1", &set(vec![audio(1)], vec![])),
        "SSRC is already used: 1."
    );
    // Deviation: one SSRC twice in one request.
    assert_eq!(
        add_err(&mut map, "jid1", &set(vec![audio(5), video(5)], vec![])),
        "SSRC is already used: 5."
    );
}

#[test]
fn rule_3_msid_of_another_endpoint() {
    let mut map = vmap();
    map.try_to_add("jid1", &set(vec![video(1).with_msid("msid")], vec![]))
        .expect("ok");
    assert_eq!(
        add_err(
            &mut map,
            "jid2",
            &set(vec![video(2).with_msid("msid")], vec![])
        ),
        "MSID is already used: msid."
    );
    // Even for audio: the msid index does not look at media types.
    assert_eq!(
        add_err(
            &mut map,
            "jid2",
            &set(vec![audio(2).with_msid("msid")], vec![])
        ),
        "MSID is already used: msid."
    );
    // Free again once jid1 has no source with it.
    map.remove_owner("jid1");
    assert!(
        map.try_to_add("jid2", &set(vec![video(2).with_msid("msid")], vec![]))
            .is_ok()
    );
}

#[test]
fn rule_4_ssrc_limit() {
    let s = jicofo_set();
    let mut map = ValidatingConferenceSourceMap::new(4, 20);
    assert_eq!(add_err(&mut map, "jid1", &s), "SSRC limit (4) exceeded.");
    let first = set(s.sources()[..3].to_vec(), vec![sim(&[1, 2, 3])]);
    let second = set(s.sources()[3..6].to_vec(), s.groups()[1..].to_vec());
    assert_eq!(map.try_to_add("jid1", &first), Ok(first.clone()));
    assert_eq!(
        add_err(&mut map, "jid1", &second),
        "SSRC limit (4) exceeded."
    );
    // Checked after rules 2 and 3 of the first source.
    assert_eq!(
        add_err(
            &mut map,
            "jid1",
            &set(vec![video(1), video(50), video(51)], vec![])
        ),
        "SSRC is already used: 1."
    );
}

#[test]
fn rule_5_empty_and_duplicate_groups_are_ignored() {
    let mut map = vmap();
    let m = |n| video(n).with_msid("msid");
    let accepted = map
        .try_to_add(
            "jid1",
            &set(
                vec![m(1), m(2), m(3)],
                vec![
                    sim(&[1, 2, 3]),
                    SsrcGroup::new(Semantics::Sim, vec![], MediaType::Video),
                    SsrcGroup::new(Semantics::Fid, vec![], MediaType::Video),
                ],
            ),
        )
        .expect("ok");
    assert_eq!(accepted, set(vec![m(1), m(2), m(3)], vec![sim(&[1, 2, 3])]));
    // The same group again, with a new source: the group is not accepted again.
    let accepted = map
        .try_to_add("jid1", &set(vec![audio(9)], vec![sim(&[1, 2, 3])]))
        .expect("ok");
    assert_eq!(accepted, set(vec![audio(9)], vec![]));
    assert_eq!(map.get("jid1").map(|s| s.groups().len()), Some(1));
}

#[test]
fn rule_6_group_with_unknown_ssrc() {
    let mut map = vmap();
    assert_eq!(
        add_err(
            &mut map,
            "jid1",
            &set(vec![video(1).with_msid("msid")], vec![fid(&[1, 2])])
        ),
        "An SSRC group contains an SSRC, which hasn't been signaled as a source: [1, 2]."
    );
    // Another endpoint's SSRC is unknown too.
    map.try_to_add("jid2", &set(vec![video(2).with_msid("m2")], vec![]))
        .expect("ok");
    assert_eq!(
        add_err(
            &mut map,
            "jid1",
            &set(vec![video(1).with_msid("msid")], vec![fid(&[1, 2])])
        ),
        "An SSRC group contains an SSRC, which hasn't been signaled as a source: [1, 2]."
    );
    // The owner's existing sources count.
    map.try_to_add("jid1", &set(vec![video(1).with_msid("msid")], vec![]))
        .expect("ok");
    assert!(
        map.try_to_add(
            "jid1",
            &set(vec![video(3).with_msid("msid")], vec![fid(&[1, 3])])
        )
        .is_ok()
    );
}

#[test]
fn rule_7_group_limit() {
    let s = jicofo_set();
    let mut map = ValidatingConferenceSourceMap::new(20, 2);
    assert_eq!(
        add_err(&mut map, "jid1", &s),
        "ssrc-group limit (2) exceeded."
    );
    let first = set(s.sources()[..3].to_vec(), vec![sim(&[1, 2, 3])]);
    let second = set(s.sources()[3..6].to_vec(), s.groups()[1..].to_vec());
    assert_eq!(map.try_to_add("jid1", &first), Ok(first.clone()));
    assert_eq!(
        add_err(&mut map, "jid1", &second),
        "ssrc-group limit (2) exceeded."
    );
}

#[test]
fn rule_8_fid_has_two_ssrcs() {
    let m = |n| video(n).with_msid("msid");
    let mut map = vmap();
    assert_eq!(
        add_err(
            &mut map,
            "jid1",
            &set(vec![m(1), m(2), m(3)], vec![fid(&[1, 2, 3])])
        ),
        "Invalid FID group: [1, 2, 3]."
    );
    assert_eq!(
        add_err(&mut map, "jid1", &set(vec![m(1)], vec![fid(&[1])])),
        "Invalid FID group: [1]."
    );
}

#[test]
fn rule_9_grouped_sources_need_an_msid() {
    let mut map = vmap();
    assert_eq!(
        add_err(
            &mut map,
            "jid1",
            &set(vec![video(1), video(2), video(3)], vec![sim(&[1, 2, 3])])
        ),
        "Required source parameter 'msid' is not present."
    );
    // Ungrouped sources may lack one, several of them.
    let s = set(
        vec![video(1), video(2), video(3), audio(4), audio(5)],
        vec![],
    );
    assert_eq!(map.try_to_add("jid1", &s), Ok(s.clone()));
}

#[test]
fn rule_10_one_msid_per_group() {
    let mut map = vmap();
    assert_eq!(
        add_err(
            &mut map,
            "jid1",
            &set(
                vec![
                    video(1).with_msid("msid"),
                    video(2).with_msid("msid"),
                    video(3).with_msid("differentMsid")
                ],
                vec![sim(&[1, 2, 3])]
            )
        ),
        "SsrcGroup contains sources with different MSIDs: [1, 2, 3]."
    );
    // Per SSRC in order: a missing msid after a different one reports the mismatch first.
    assert_eq!(
        add_err(
            &mut map,
            "jid1",
            &set(
                vec![video(1).with_msid("a"), video(2).with_msid("b"), video(3)],
                vec![sim(&[1, 2, 3])]
            )
        ),
        "SsrcGroup contains sources with different MSIDs: [1, 2, 3]."
    );
    assert_eq!(
        add_err(
            &mut map,
            "jid1",
            &set(
                vec![video(1).with_msid("a"), video(2), video(3).with_msid("b")],
                vec![sim(&[1, 2, 3])]
            )
        ),
        "Required source parameter 'msid' is not present."
    );
}

#[test]
fn rule_11_one_msid_per_stream() {
    let m = |n| video(n).with_msid("msid");
    let s1 = set(vec![m(1)], vec![]);
    let s2 = set(vec![m(2)], vec![]);
    // Ungrouped, added separately and together.
    let mut map = vmap();
    map.try_to_add("jid1", &s1).expect("ok");
    assert_eq!(
        add_err(&mut map, "jid1", &s2),
        "MSID is already used: msid."
    );
    assert_eq!(
        add_err(&mut vmap(), "jid1", &s1.union(&s2)),
        "MSID is already used: msid."
    );
    // In independent FID groups.
    assert_eq!(
        add_err(
            &mut vmap(),
            "jid1",
            &set(
                vec![m(1), m(2), m(4), m(5)],
                vec![fid(&[1, 4]), fid(&[2, 5])]
            )
        ),
        "MSID is already used: msid."
    );
    // In independent SIM groups.
    assert_eq!(
        add_err(
            &mut vmap(),
            "jid1",
            &set(
                vec![m(1), m(2), m(3), m(4)],
                vec![sim(&[1, 2]), sim(&[3, 4])]
            )
        ),
        "MSID is already used: msid."
    );
    // Audio and video may share one.
    for s in [
        set(vec![audio(1), video(2)], vec![]),
        set(vec![m(1), audio(111).with_msid("msid")], vec![]),
    ] {
        assert_eq!(vmap().try_to_add("jid1", &s), Ok(s.clone()));
    }
    let mut sources = jicofo_set().sources().to_vec();
    sources.push(audio(111).with_msid("msid"));
    let s = set(sources, jicofo_set().groups().to_vec());
    assert_eq!(vmap().try_to_add("jid1", &s), Ok(s.clone()));
}

#[test]
fn rules_are_checked_in_order() {
    // Rule 2 on the first source wins over rule 4.
    let mut map = ValidatingConferenceSourceMap::new(1, 1);
    map.try_to_add("a", &set(vec![video(1)], vec![]))
        .expect("ok");
    assert_eq!(
        add_err(&mut map, "b", &set(vec![video(1), video(2)], vec![])),
        "SSRC is already used: 1."
    );
    // Rule 6 before rule 7 before rule 8.
    let mut map = ValidatingConferenceSourceMap::new(20, 1);
    let m = |n| video(n).with_msid("m");
    assert_eq!(
        add_err(
            &mut map,
            "a",
            &set(vec![m(1), m(2)], vec![fid(&[1, 2, 3]), fid(&[1, 9])])
        ),
        "An SSRC group contains an SSRC, which hasn't been signaled as a source: [1, 2, 3]."
    );
    assert_eq!(
        add_err(
            &mut map,
            "a",
            &set(vec![m(1), m(2), m(3)], vec![fid(&[1, 2, 3]), fid(&[1, 2])])
        ),
        "ssrc-group limit (1) exceeded."
    );
}

// ---------------------------------------------------------------- validation: removing

fn map_with_jicofo_set() -> ValidatingConferenceSourceMap {
    let mut map = vmap();
    map.try_to_add("jid1", &jicofo_set()).expect("ok");
    map
}

#[test]
fn remove_successfully() {
    let s = jicofo_set();
    let mut map = map_with_jicofo_set();
    assert_eq!(
        map.try_to_remove("jid1", &EndpointSourceSet::new()),
        Ok(EndpointSourceSet::new())
    );
    assert_eq!(map.try_to_remove("jid1", &s), Ok(s.clone()));
    assert!(map.map().is_empty());
    map.check_invariants().expect("valid");

    // All sources, the groups go automatically.
    let mut map = map_with_jicofo_set();
    assert_eq!(
        map.try_to_remove(
            "jid1",
            &EndpointSourceSet::from_sources(s.sources().to_vec())
        ),
        Ok(s.clone())
    );
    // A subset: source 1 remains, with no group.
    let mut map = map_with_jicofo_set();
    let to_remove = set(s.sources()[1..].to_vec(), s.groups().to_vec());
    assert_eq!(map.try_to_remove("jid1", &to_remove), Ok(to_remove.clone()));
    assert_eq!(
        map.get("jid1"),
        Some(&set(vec![s.sources()[0].clone()], vec![]))
    );
    // Matched by SSRC only: media type, name and msid of the request do not matter.
    let mut map = map_with_jicofo_set();
    assert_eq!(
        map.try_to_remove("jid1", &set(vec![video(7).with_name("x")], vec![])),
        Ok(set(vec![audio(7)], vec![]))
    );
    map.check_invariants().expect("valid");
}

#[test]
fn remove_what_does_not_exist() {
    let s = jicofo_set();
    let mut map = map_with_jicofo_set();
    assert_eq!(
        remove_err(&mut map, "jid2", &s),
        "Source does not exist or is not owned by endpoint null."
    );
    assert_eq!(
        remove_err(&mut map, "jid1", &set(vec![audio(1111)], vec![])),
        "Source does not exist or is not owned by endpoint (ssrc=1111)."
    );
    let mut groups = s.groups().to_vec();
    groups.push(fid(&[1, 2]));
    assert_eq!(
        remove_err(&mut map, "jid1", &set(s.sources().to_vec(), groups)),
        "Source group does not exist"
    );
    // A group must match in media type too.
    let audio_sim = SsrcGroup::new(Semantics::Sim, ssrcs(&[1, 2, 3]), MediaType::Audio);
    assert_eq!(
        remove_err(&mut map, "jid1", &set(vec![], vec![audio_sim])),
        "Source group does not exist"
    );
}

#[test]
fn remove_must_leave_a_valid_set() {
    let s = jicofo_set();
    let mut map = map_with_jicofo_set();
    let (sim_g, fid1) = (sim(&[1, 2, 3]), fid(&[1, 4]));
    // Leaving two FID groups with one msid.
    let m = |n| video(n).with_msid("msid");
    assert_eq!(
        remove_err(
            &mut map,
            "jid1",
            &set(vec![m(1), m(4)], vec![sim_g.clone(), fid1.clone()])
        ),
        "MSID is already used: msid."
    );
    assert!(map.try_to_remove("jid1", &set(vec![m(1)], vec![])).is_err());
    for groups in [vec![sim_g], vec![fid1], s.groups().to_vec()] {
        assert_eq!(
            remove_err(&mut map, "jid1", &set(vec![], groups)),
            "MSID is already used: msid."
        );
    }
    map.check_invariants().expect("valid");
}

#[test]
fn remove_owner_frees_ssrcs_and_msids() {
    let mut map = map_with_jicofo_set();
    assert_eq!(map.owner_of(ssrc(1)), Some("jid1"));
    assert_eq!(map.remove_owner("jid1"), Some(jicofo_set()));
    assert_eq!(map.remove_owner("jid1"), None);
    assert_eq!(map.owner_of(ssrc(1)), None);
    assert_eq!(map.try_to_add("jid2", &jicofo_set()), Ok(jicofo_set()));
    map.check_invariants().expect("valid");
}

// ---------------------------------------------------------------- maps, filters, diffs

#[test]
fn conference_map_add_remove() {
    let mut map = ConferenceSourceMap::new();
    map.add("a", &EndpointSourceSet::new());
    assert!(map.is_empty(), "no empty entries");
    map.add("a", &set(vec![video(1)], vec![]));
    map.add("a", &set(vec![video(2)], vec![]));
    map.add("b", &set(vec![audio(3)], vec![]));
    assert_eq!(map.len(), 2);
    assert_eq!(map.owners().collect::<Vec<_>>(), ["a", "b"]);
    map.remove("a", &set(vec![video(1)], vec![]));
    assert_eq!(map.get("a"), Some(&set(vec![video(2)], vec![])));
    map.remove("a", &set(vec![video(2)], vec![]));
    assert_eq!(map.get("a"), None);
    let other: ConferenceSourceMap = [("b".to_owned(), set(vec![audio(3)], vec![]))]
        .into_iter()
        .collect();
    assert_eq!(map, other);
    assert!(map.minus(&other).is_empty());
}

#[test]
fn receiver_filter() {
    let mut map = ConferenceSourceMap::new();
    map.add("a", &jicofo_set());
    map.add("b", &set(vec![audio(20), video(21)], vec![]));
    map.add(JVB_OWNER, &set(vec![audio(30), video(31)], vec![]));
    let all = ReceiverFilter {
        strip_simulcast: false,
        ..ReceiverFilter::default()
    };
    let seen = all.apply("b", &map);
    assert_eq!(
        seen.owners().collect::<Vec<_>>(),
        ["a", "jvb"],
        "never its own"
    );
    assert_eq!(seen.get("a"), Some(&jicofo_set()));

    let stripped = ReceiverFilter::default().apply("b", &map);
    assert_eq!(stripped.get("a"), Some(&strip_simulcast(&jicofo_set())));

    let audio_only = ReceiverFilter {
        video: false,
        ..ReceiverFilter::default()
    };
    let seen = audio_only.apply("x", &map);
    assert_eq!(seen.get("a"), Some(&set(vec![audio(7)], vec![])));
    assert_eq!(seen.get("b"), Some(&set(vec![audio(20)], vec![])));

    let nothing = ReceiverFilter {
        audio: false,
        video: false,
        ..ReceiverFilter::default()
    };
    assert!(nothing.apply("x", &map).is_empty());

    let rewriting = ReceiverFilter {
        ssrc_rewriting: true,
        ..ReceiverFilter::default()
    };
    let seen = rewriting.apply("x", &map);
    assert_eq!(seen.owners().collect::<Vec<_>>(), ["jvb"]);
}

#[test]
fn diff_and_signaling() {
    let mut signaling = SourceSignaling::new(ReceiverFilter::default());
    let a = ConferenceSourceMap::single("a", jicofo_set());
    // The offer.
    let offer = signaling.reset(&a);
    assert_eq!(offer, a.strip_simulcast());
    assert!(!signaling.has_pending());

    // Added then removed within one window: never signaled.
    let b = ConferenceSourceMap::single("b", set(vec![audio(50)], vec![]));
    signaling.add_sources(&b);
    signaling.remove_sources(&b);
    assert!(signaling.update().is_empty());

    // A removal and an addition: one source-remove, then one source-add.
    let c = ConferenceSourceMap::single("c", set(vec![audio(60)], vec![]));
    signaling.add_sources(&c);
    signaling.remove_sources(&ConferenceSourceMap::single(
        "a",
        set(vec![audio(7)], vec![]),
    ));
    assert!(signaling.has_pending());
    let d = signaling.update();
    assert_eq!(
        d.to_remove,
        ConferenceSourceMap::single("a", set(vec![audio(7)], vec![]))
    );
    assert_eq!(d.to_add, c);
    assert!(!signaling.has_pending());

    // The stripped SSRCs never appear in a diff.
    let e = ConferenceSourceMap::single(
        "e",
        set(
            vec![
                video(71).with_msid("e"),
                video(72).with_msid("e"),
                video(73).with_msid("e"),
            ],
            vec![sim(&[71, 72, 73])],
        ),
    );
    signaling.add_sources(&e);
    let d = signaling.update();
    assert_eq!(
        d.to_add,
        ConferenceSourceMap::single("e", set(vec![video(71).with_msid("e")], vec![]))
    );
    assert!(d.to_remove.is_empty());

    assert_eq!(
        diff(&ConferenceSourceMap::new(), &c),
        SourceDiff {
            to_remove: ConferenceSourceMap::new(),
            to_add: c.clone()
        }
    );
}

#[test]
fn fuzz_sources_on_the_captures() {
    for text in [
        SESSION_ACCEPT,
        SESSION_ACCEPT_JSON_OFFER,
        SESSION_ACCEPT_AUDIO_ONLY,
        SESSION_ACCEPT_AFTER_RESTART,
        SOURCE_ADD,
        PRESENCE_UPDATE_SOURCES,
    ] {
        fuzz_sources(without_comment(text).as_bytes());
    }
    // Several stanzas: the same client twice (refused the second time), and two clients.
    let both = [
        SESSION_ACCEPT,
        SESSION_ACCEPT,
        SESSION_ACCEPT_AUDIO_ONLY,
        SOURCE_ADD,
    ]
    .map(without_comment)
    .join("\n");
    fuzz_sources(both.as_bytes());
    fuzz_sources(b"");
    fuzz_sources(b"<iq><jingle xmlns='urn:xmpp:jingle:1'><content name='x'/></jingle></iq>");
}

#[test]
fn large_conference_add_and_remove() {
    // Jicofo's SsrcValidationPerfTest shape: 500 endpoints with simulcast
    // and RTX, added one by one, then removed one by one.
    let endpoint = |i: u32| {
        let base = 10 * i + 1;
        let m = |n: u32| video(n).with_msid(format!("ep{i}-video"));
        set(
            vec![
                m(base),
                m(base + 1),
                m(base + 2),
                m(base + 3),
                m(base + 4),
                m(base + 5),
                audio(base + 6).with_msid(format!("ep{i}-audio")),
            ],
            vec![
                sim(&[base, base + 1, base + 2]),
                fid(&[base, base + 3]),
                fid(&[base + 1, base + 4]),
                fid(&[base + 2, base + 5]),
            ],
        )
    };
    let mut map = vmap();
    for i in 0..500 {
        let s = endpoint(i);
        assert_eq!(map.try_to_add(&format!("endpoint-{i}"), &s), Ok(s));
    }
    assert_eq!(map.map().len(), 500);
    map.check_invariants().expect("valid");
    for i in 0..500 {
        let s = endpoint(i);
        assert_eq!(map.try_to_remove(&format!("endpoint-{i}"), &s), Ok(s));
    }
    assert!(map.map().is_empty());
    map.check_invariants().expect("valid");
}
