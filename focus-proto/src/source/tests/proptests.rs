//! Property tests: the validating map stays valid under any sequence of
//! additions and removals and agrees with a receiver applying the returned
//! changes; signaling diffs converge; parsing never panics.

use minidom::Element;
use proptest::prelude::*;

use super::super::jingle::{NS_JINGLE, NS_RTP, NS_SSMA, set_to_contents};
use super::super::json::{json_message_text, parse_json_message};
use super::super::tests_support::json_normalized;
use super::super::*;

const OWNERS: &[&str] = &["a", "b", "c"];

fn arb_source() -> impl Strategy<Value = Source> {
    (
        1u32..16,
        prop::sample::select(vec![MediaType::Audio, MediaType::Video, MediaType::Data]),
        prop::option::of(prop::sample::select(vec!["n0", "n1"])),
        prop::option::weighted(0.8, prop::sample::select(vec!["m0", "m1", "m2"])),
        prop::option::of(prop::sample::select(vec![
            VideoType::Camera,
            VideoType::Desktop,
        ])),
    )
        .prop_map(|(n, media_type, name, msid, video_type)| Source {
            ssrc: Ssrc::new(n).unwrap_or(Ssrc::MIN),
            media_type,
            name: name.map(str::to_owned),
            msid: msid.map(str::to_owned),
            video_type,
        })
}

fn arb_group() -> impl Strategy<Value = SsrcGroup> {
    (
        prop::sample::select(vec![Semantics::Sim, Semantics::Fid]),
        prop::collection::vec(1u32..16, 0..4),
        prop::sample::select(vec![MediaType::Audio, MediaType::Video]),
    )
        .prop_map(|(semantics, ssrcs, media_type)| {
            SsrcGroup::new(
                semantics,
                ssrcs.into_iter().filter_map(Ssrc::new).collect(),
                media_type,
            )
        })
}

fn arb_set() -> impl Strategy<Value = EndpointSourceSet> {
    (
        prop::collection::vec(arb_source(), 0..7),
        prop::collection::vec(arb_group(), 0..4),
    )
        .prop_map(|(s, g)| EndpointSourceSet::from_parts(s, g))
}

/// A set that is likely valid: one stream of `n` simulcast layers with RTX.
fn arb_stream() -> impl Strategy<Value = EndpointSourceSet> {
    (
        1u32..14,
        1usize..4,
        any::<bool>(),
        prop::sample::select(vec!["m0", "m1", "m2"]),
    )
        .prop_map(|(base, layers, rtx, msid)| {
            let ssrc = |n: u32| Ssrc::new(n).unwrap_or(Ssrc::MIN);
            let prim: Vec<Ssrc> = (0..layers as u32).map(|i| ssrc(base + i)).collect();
            let mut sources: Vec<Source> = prim
                .iter()
                .map(|s| Source::new(*s, MediaType::Video).with_msid(msid))
                .collect();
            let mut groups = Vec::new();
            if layers > 1 {
                groups.push(SsrcGroup::new(
                    Semantics::Sim,
                    prim.clone(),
                    MediaType::Video,
                ));
            }
            if rtx {
                for (i, p) in prim.iter().enumerate() {
                    let r = ssrc(100 + base + i as u32);
                    sources.push(Source::new(r, MediaType::Video).with_msid(msid));
                    groups.push(SsrcGroup::new(
                        Semantics::Fid,
                        vec![*p, r],
                        MediaType::Video,
                    ));
                }
            }
            EndpointSourceSet::from_parts(sources, groups)
        })
}

#[derive(Debug, Clone)]
enum Op {
    Add(usize, EndpointSourceSet),
    Remove(usize, EndpointSourceSet),
    /// Removes part of what the owner has: the given share of its sources.
    RemoveSome(usize, usize),
    Leave(usize),
}

fn arb_op() -> impl Strategy<Value = Op> {
    let owner = 0..OWNERS.len();
    prop_oneof![
        3 => (owner.clone(), arb_set()).prop_map(|(o, s)| Op::Add(o, s)),
        3 => (owner.clone(), arb_stream()).prop_map(|(o, s)| Op::Add(o, s)),
        2 => (owner.clone(), arb_set()).prop_map(|(o, s)| Op::Remove(o, s)),
        2 => (owner.clone(), 0usize..8).prop_map(|(o, k)| Op::RemoveSome(o, k)),
        1 => owner.prop_map(Op::Leave),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn validating_map_stays_valid_and_receivers_agree(
        ops in prop::collection::vec(arb_op(), 1..30),
        max_ssrcs in 1usize..12,
        max_groups in 1usize..6,
    ) {
        let mut map = ValidatingConferenceSourceMap::new(max_ssrcs, max_groups);
        // What a receiver holds after applying every change it was sent.
        let mut receiver = ConferenceSourceMap::new();
        for op in ops {
            let before = map.map().clone();
            match op {
                Op::Add(o, set) => match map.try_to_add(OWNERS[o], &set) {
                    Ok(accepted) => {
                        prop_assert!(accepted.sources().iter().all(|s| set.contains_source(s)));
                        prop_assert!(accepted.groups().iter().all(|g| set.contains_group(g)));
                        receiver.add(OWNERS[o], &accepted);
                    }
                    Err(_) => prop_assert_eq!(map.map(), &before),
                },
                Op::Remove(o, set) => match map.try_to_remove(OWNERS[o], &set) {
                    Ok(removed) => receiver.remove(OWNERS[o], &removed),
                    Err(_) => prop_assert_eq!(map.map(), &before),
                },
                Op::RemoveSome(o, k) => {
                    let Some(have) = map.get(OWNERS[o]) else { continue };
                    let part = EndpointSourceSet::from_sources(
                        have.sources().iter().step_by(k + 1).cloned(),
                    );
                    match map.try_to_remove(OWNERS[o], &part) {
                        Ok(removed) => receiver.remove(OWNERS[o], &removed),
                        Err(_) => prop_assert_eq!(map.map(), &before),
                    }
                }
                Op::Leave(o) => {
                    if let Some(removed) = map.remove_owner(OWNERS[o]) {
                        receiver.remove(OWNERS[o], &removed);
                    }
                }
            }
            if let Err(e) = map.check_invariants() {
                return Err(TestCaseError::fail(e));
            }
            prop_assert_eq!(&receiver, map.map());
        }
    }

    #[test]
    fn signaling_converges_to_the_filtered_desired_set(
        steps in prop::collection::vec(
            (any::<bool>(), 0..OWNERS.len(), arb_set(), any::<bool>()),
            1..20,
        ),
        audio in any::<bool>(),
        video in any::<bool>(),
        strip in any::<bool>(),
    ) {
        let filter = ReceiverFilter { audio, video, strip_simulcast: strip, ssrc_rewriting: false };
        let mut signaling = SourceSignaling::new(filter);
        let mut receiver = ConferenceSourceMap::new();
        for (add, o, set, flush) in steps {
            let change = ConferenceSourceMap::single(OWNERS[o], set);
            if add {
                signaling.add_sources(&change);
            } else {
                signaling.remove_sources(&change);
            }
            if flush {
                let d = signaling.update();
                receiver.remove_map(&d.to_remove);
                receiver.add_map(&d.to_add);
                prop_assert_eq!(&receiver, &filter.filter(signaling.desired()));
                prop_assert!(!signaling.has_pending());
            }
        }
    }

    #[test]
    fn jingle_and_json_round_trips(set in arb_set(), owner in prop::option::of("[a-z\"<&]{1,6}")) {
        let contents = set_to_contents(&set, owner.as_deref());
        prop_assert_eq!(parse_contents(&contents), Ok(set.clone()));
        let av = set.filter_media(|m| m != MediaType::Data);
        let owner = owner.unwrap_or_else(|| "x".to_owned());
        let map = ConferenceSourceMap::single(owner.clone(), av.clone());
        let back = parse_json_message(&json_message_text(&map));
        prop_assert_eq!(back, Ok(Some(ConferenceSourceMap::single(owner, json_normalized(&av)))));
    }

    #[test]
    fn parse_never_panics_on_jingle_like_trees(jingle in arb_jingle()) {
        let _ = parse_jingle(&jingle);
        let _ = parse_contents(jingle.children());
    }

    #[test]
    fn parse_never_panics_on_arbitrary_trees(el in crate::ext::test_support::arb_element()) {
        let _ = parse_contents([&el]);
        let _ = parse_contents(el.children());
        let _ = parse_jingle(&el);
    }

    #[test]
    fn fuzz_sources_never_panics(data in prop::collection::vec(any::<u8>(), 0..512)) {
        fuzz_sources(&data);
    }

    #[test]
    fn fuzz_sources_on_generated_jingle(jingle in arb_jingle()) {
        let mut bytes = Vec::new();
        crate::xml::write_element(
            &Element::builder("iq", crate::xml::NS_CLIENT).append(jingle).build(),
            &mut bytes,
        );
        fuzz_sources(&bytes);
    }
}

fn arb_attr_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "audio",
            "video",
            "data",
            "Audio",
            "1",
            "2",
            "3",
            "0",
            "-1",
            "4294967295",
            "4294967296",
            "x",
            "SIM",
            "fid",
            "FEC-FR",
            "camera",
            "DESKTOP",
            "msid",
            "cname",
            "a b",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

fn arb_jingle_leaf() -> impl Strategy<Value = Element> {
    (
        prop::sample::select(vec![
            "content",
            "description",
            "source",
            "ssrc-group",
            "parameter",
            "ssrc-info",
        ]),
        prop::sample::select(vec![NS_JINGLE, NS_RTP, NS_SSMA, "http://jitsi.org/jitmeet"]),
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "name",
                    "media",
                    "ssrc",
                    "semantics",
                    "videoType",
                    "value",
                    "owner",
                ]),
                arb_attr_value(),
            ),
            0..4,
        ),
    )
        .prop_map(|(name, ns, attrs)| {
            let mut el = Element::builder(name, ns);
            for (attr, value) in attrs {
                el = el.attr(crate::xml::ncname(attr), value);
            }
            el.build()
        })
}

/// `<jingle>` trees made of the elements and attributes the parser reads.
fn arb_jingle() -> impl Strategy<Value = Element> {
    let tree = arb_jingle_leaf().prop_recursive(3, 64, 8, |inner| {
        (arb_jingle_leaf(), prop::collection::vec(inner, 0..8)).prop_map(|(mut el, children)| {
            for child in children {
                el.append_child(child);
            }
            el
        })
    });
    prop::collection::vec(tree, 0..4).prop_map(|children| {
        let mut jingle = Element::builder("jingle", NS_JINGLE).build();
        for child in children {
            jingle.append_child(child);
        }
        jingle
    })
}
