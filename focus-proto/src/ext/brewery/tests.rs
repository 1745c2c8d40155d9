use jid::FullJid;
use proptest::prelude::*;

use super::*;
use crate::ext::test_support::{arb_element, wire, xml, xml_all};

const JVB: &str = include_str!("../testdata/brewery-jvb.xml");
const JIGASI: &str = include_str!("../testdata/brewery-jigasi.xml");
const HEALTH: &str = include_str!("../testdata/brewery-health.xml");

fn bridge() -> FullJid {
    FullJid::new("jvbbrewery@internal.auth.example.com/jvb-a").expect("valid jid")
}

/// A presence whose `<stats/>` holds `stats` as `(name, value)`.
fn presence_with(stats: &[(&str, &str)]) -> Element {
    let stats = Element::builder("stats", NS_COLIBRI).append_all(stats.iter().map(|(n, v)| {
        Element::builder("stat", NS_COLIBRI)
            .attr(ncname("name"), *n)
            .attr(ncname("value"), *v)
    }));
    Element::builder("presence", ns::CLIENT)
        .append(stats)
        .build()
}

fn parse_one(name: &str, value: &str) -> BridgeStats {
    BridgeStats::parse(&presence_with(&[(name, value)])).expect("has stats")
}

fn emulator_stats() -> BridgeStats {
    BridgeStats {
        stress_level: Some(0.1),
        average_participant_stress: Some(0.01),
        region: Some("eu-west".to_owned()),
        relay_id: Some("relay-a".to_owned()),
        version: Some("2.3.250".to_owned()),
        graceful_shutdown: Some(false),
        shutting_down: Some(false),
        drain: Some(false),
        healthy: Some(true),
        ..BridgeStats::default()
    }
}

#[test]
fn jvb_presence() {
    let stats = BridgeStats::parse(&xml(JVB)).expect("parses");
    assert_eq!(
        stats,
        BridgeStats {
            stress_level: Some(0.12),
            average_participant_stress: Some(0.005),
            region: Some("eu-west".to_owned()),
            relay_id: Some("relay-a".to_owned()),
            version: Some("2.3.250-g1c2d3e4f".to_owned()),
            release: Some("9955".to_owned()),
            graceful_shutdown: Some(false),
            shutting_down: Some(false),
            drain: Some(false),
            healthy: Some(true),
            participants: Some(14),
            endpoints: Some(15),
            conferences: Some(3),
            visitors: None,
            current_timestamp: Some("2026-08-19 10:12:31.407".to_owned()),
            supports_sip: None,
            supports_transcription: None,
            other: vec![
                ("bit_rate_download".to_owned(), "1834".to_owned()),
                ("rtt_aggregate".to_owned(), "41.5".to_owned()),
            ],
            rejected: Vec::new(),
        }
    );
    assert_eq!(
        stats.full_version().as_deref(),
        Some("2.3.250-g1c2d3e4f-9955")
    );
    // Same after a trip over the wire.
    assert_eq!(BridgeStats::parse(&wire(&xml(JVB))), Ok(stats));
}

#[test]
fn jigasi_presence() {
    let stats = BridgeStats::parse(&xml(JIGASI)).expect("parses");
    assert_eq!(stats.conferences, Some(2));
    assert_eq!(stats.participants, Some(3));
    assert_eq!(stats.graceful_shutdown, Some(false));
    assert_eq!(stats.stress_level, Some(0.03));
    assert_eq!(stats.region.as_deref(), Some("eu-west"));
    assert_eq!(stats.full_version().as_deref(), Some("1.1.330"));
    assert_eq!(stats.supports_sip, Some(true));
    assert_eq!(stats.supports_transcription, Some(false));
    assert!(stats.other.is_empty());
}

#[test]
fn presence_without_stats_is_rejected() {
    let p = xml(
        "<presence xmlns='jabber:client' from='b@c/d'><x xmlns='http://jabber.org/protocol/muc#user'/></presence>",
    );
    assert_eq!(
        BridgeStats::parse(&p),
        Err(ParseError::MissingChild("stats"))
    );
    // Stats in another namespace are not the COLIBRI stats.
    let p = xml(
        "<presence xmlns='jabber:client'><stats xmlns='urn:other'><stat name='drain' value='false'/></stats></presence>",
    );
    assert_eq!(
        BridgeStats::parse(&p),
        Err(ParseError::MissingChild("stats"))
    );
    let iq =
        xml("<iq xmlns='jabber:client'><stats xmlns='http://jitsi.org/protocol/colibri'/></iq>");
    assert_eq!(
        BridgeStats::parse(&iq),
        Err(ParseError::WrongElement {
            expected: "presence"
        })
    );
}

#[test]
fn empty_stats_are_all_absent() {
    let stats = BridgeStats::parse(&presence_with(&[])).expect("has stats");
    assert_eq!(stats, BridgeStats::default());
    assert_eq!(stats.full_version(), None);
}

#[test]
fn odd_stress_values_are_absent() {
    for bad in [
        "NaN",
        "nan",
        "inf",
        "-inf",
        "Infinity",
        "-Infinity",
        "-0.1",
        "-1",
        "",
        " ",
        "0.1x",
        "0,5",
        "1e400",
    ] {
        let stats = parse_one("stress_level", bad);
        assert_eq!(stats.stress_level, None, "{bad:?}");
        assert_eq!(stats.rejected, ["stress_level"], "{bad:?}");
        assert_eq!(
            parse_one("average_participant_stress", bad).average_participant_stress,
            None,
            "{bad:?}"
        );
    }
    assert_eq!(parse_one("stress_level", " 0.5 ").stress_level, Some(0.5));
    assert_eq!(parse_one("stress_level", "1.0E-5").stress_level, Some(1e-5));
    assert_eq!(parse_one("stress_level", "2.5").stress_level, Some(2.5));
    let zero = parse_one("stress_level", "-0.0")
        .stress_level
        .expect("zero");
    assert!(zero.is_sign_positive());
}

#[test]
fn odd_counts_are_absent() {
    for bad in [
        "-1",
        "-0x1",
        "1.5",
        "x",
        "",
        "4294967296",
        "99999999999999999999",
    ] {
        assert_eq!(parse_one("participants", bad).participants, None, "{bad:?}");
        assert_eq!(parse_one("endpoints", bad).endpoints, None, "{bad:?}");
    }
    assert_eq!(parse_one("participants", "0").participants, Some(0));
    assert_eq!(parse_one("conferences", " 7 ").conferences, Some(7));
    assert_eq!(parse_one("visitors", "4294967295").visitors, Some(u32::MAX));
}

#[test]
fn booleans_are_lenient() {
    assert_eq!(parse_one("drain", "TRUE").drain, Some(true));
    assert_eq!(parse_one("drain", "yes").drain, Some(false));
    assert_eq!(parse_one("drain", "").drain, Some(false));
    assert_eq!(
        parse_one("graceful_shutdown", "True").graceful_shutdown,
        Some(true)
    );
    assert_eq!(parse_one("shutting_down", "1").shutting_down, Some(false));
    assert_eq!(parse_one("healthy", "false").healthy, Some(false));
}

#[test]
fn long_strings_are_absent() {
    let long = "x".repeat(10 * 1024);
    for name in [
        "region",
        "version",
        "relay_id",
        "release",
        "current_timestamp",
    ] {
        let stats = parse_one(name, &long);
        let rejected = BridgeStats {
            rejected: vec![
                names::KNOWN
                    .iter()
                    .find(|k| **k == name)
                    .copied()
                    .unwrap_or_default(),
            ],
            ..BridgeStats::default()
        };
        assert_eq!(stats, rejected, "{name}");
    }
    let stats = parse_one("stress_level", &format!("0.{}", "1".repeat(2000)));
    assert_eq!(stats.stress_level, None);
    // Unknown stats with a long name or value are dropped.
    assert!(parse_one(&long, "1").other.is_empty());
    assert!(parse_one("bit_rate_upload", &long).other.is_empty());
    // At the limit, kept.
    let max = "r".repeat(MAX_STAT_BYTES);
    assert_eq!(parse_one("region", &max).region, Some(max));
    assert_eq!(parse_one("region", "").region, None);
}

#[test]
fn first_of_a_name_wins_and_broken_stats_are_skipped() {
    let p = xml(
        "<presence xmlns='jabber:client'><stats xmlns='http://jitsi.org/protocol/colibri'>\
         <stat name='region'/>\
         <stat value='x'/>\
         <stat xmlns='urn:other' name='region' value='other-ns'/>\
         <other name='region' value='wrong-element'/>\
         <stat name='region' value='eu-west'/>\
         <stat name='region' value='us-east'/>\
         <stat name='stress_level' value='NaN'/>\
         <stat name='stress_level' value='0.2'/>\
         <stat name='threads' value='80'/>\
         <stat name='threads' value='81'/>\
         </stats></presence>",
    );
    let stats = BridgeStats::parse(&p).expect("parses");
    assert_eq!(stats.region.as_deref(), Some("eu-west"));
    // The first stress_level did not parse, and it still wins.
    assert_eq!(stats.stress_level, None);
    assert_eq!(stats.other, vec![("threads".to_owned(), "80".to_owned())]);
}

#[test]
fn only_the_first_stats_are_read() {
    let many: Vec<(String, String)> = (0..MAX_STATS + 50)
        .map(|i| (format!("s{i}"), i.to_string()))
        .collect();
    let mut pairs: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    pairs.push(("drain", "false"));
    let stats = BridgeStats::parse(&presence_with(&pairs)).expect("parses");
    assert_eq!(stats.other.len(), MAX_STATS);
    assert_eq!(stats.other.last().map(|(n, _)| n.as_str()), Some("s255"));
    assert_eq!(stats.drain, None);
}

#[test]
fn round_trip() {
    let stats = BridgeStats::parse(&xml(JVB)).expect("parses");
    let again = BridgeStats::from_stats(&stats.to_element());
    assert_eq!(again, stats);
    let emulated = emulator_stats();
    assert_eq!(BridgeStats::from_stats(&emulated.to_element()), emulated);
}

#[test]
fn other_named_like_a_typed_stat_is_not_written() {
    let stats = BridgeStats {
        drain: Some(false),
        other: vec![
            ("drain".to_owned(), "true".to_owned()),
            ("threads".to_owned(), "8".to_owned()),
        ],
        ..BridgeStats::default()
    };
    let el = stats.to_element();
    assert_eq!(el.children().count(), 2);
    let again = BridgeStats::from_stats(&el);
    assert_eq!(again.drain, Some(false));
    assert_eq!(again.other, vec![("threads".to_owned(), "8".to_owned())]);
}

#[test]
fn emulator_presence() {
    let p = bridge_presence(&bridge(), &emulator_stats());
    assert_eq!(p.name(), "presence");
    assert_eq!(p.ns(), ns::CLIENT);
    assert_eq!(
        p.attr("to"),
        Some("jvbbrewery@internal.auth.example.com/jvb-a")
    );
    assert_eq!(p.attr("type"), None);
    let stats = p.get_child("stats", NS_COLIBRI).expect("stats child");
    let drain = stats
        .children()
        .find(|c| c.attr("name") == Some("drain"))
        .expect("drain stat");
    assert_eq!(drain.attr("value"), Some("false"));
    assert_eq!(BridgeStats::parse(&wire(&p)), Ok(emulator_stats()));
}

#[test]
fn health_check_fixtures() {
    let stanzas = xml_all(HEALTH);
    assert_eq!(stanzas.len(), 4);
    assert!(is_health_check_request(&stanzas[0]));
    assert!(!is_health_check_request(&stanzas[1]));
    assert_eq!(
        HealthCheckOutcome::parse(&stanzas[1]),
        Ok(HealthCheckOutcome::Passed)
    );
    let failed = HealthCheckOutcome::parse(&stanzas[2]).expect("parses");
    assert!(failed.is_failure());
    let HealthCheckOutcome::Failed(error) = failed else {
        panic!("expected a failure: {failed:?}");
    };
    assert_eq!(error.condition, Condition::InternalServerError);
    assert_eq!(error.kind, ErrorType::Wait);
    assert_eq!(error.text.as_deref(), Some("Health check failed: no data"));
    let unavailable = HealthCheckOutcome::parse(&stanzas[3]).expect("parses");
    assert!(unavailable.is_failure());
}

#[test]
fn health_check_request_shape() {
    let iq = health_check_request("hc-1", &bridge());
    assert_eq!(iq.attr("type"), Some("get"));
    assert_eq!(iq.attr("id"), Some("hc-1"));
    assert_eq!(
        iq.attr("to"),
        Some("jvbbrewery@internal.auth.example.com/jvb-a")
    );
    assert!(is_health_check_request(&iq));
    assert!(is_health_check_request(&wire(&iq)));
    let set = xml(
        "<iq xmlns='jabber:client' type='set' id='a'><healthcheck xmlns='http://jitsi.org/protocol/healthcheck'/></iq>",
    );
    assert!(!is_health_check_request(&set));
}

#[test]
fn health_check_answers() {
    // As the bridge receives it: stamped with the focus's JID.
    let request = xml(
        "<iq xmlns='jabber:client' type='get' id='hc-2' from='focus@auth.example.com/focus'>\
         <healthcheck xmlns='http://jitsi.org/protocol/healthcheck'/></iq>",
    );
    let ok = health_check_answer(&request, None);
    assert_eq!(ok.attr("type"), Some("result"));
    assert_eq!(ok.attr("id"), Some("hc-2"));
    assert_eq!(ok.attr("to"), Some("focus@auth.example.com/focus"));
    assert_eq!(
        HealthCheckOutcome::parse(&wire(&ok)),
        Ok(HealthCheckOutcome::Passed)
    );
    let bad = health_check_answer(&request, Some("Health check failed: slow"));
    assert_eq!(bad.attr("type"), Some("error"));
    let outcome = HealthCheckOutcome::parse(&wire(&bad)).expect("parses");
    assert_eq!(
        outcome,
        HealthCheckOutcome::Failed(
            StanzaError::new(Condition::InternalServerError)
                .with_kind(ErrorType::Wait)
                .with_text("Health check failed: slow")
        )
    );
}

#[test]
fn health_check_odd_answers() {
    let other = xml(
        "<iq xmlns='jabber:client' type='error' id='a'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
    );
    let outcome = HealthCheckOutcome::parse(&other).expect("parses");
    assert!(!outcome.is_failure());
    assert!(matches!(
        outcome,
        HealthCheckOutcome::Unexpected(StanzaError {
            condition: Condition::ItemNotFound,
            ..
        })
    ));
    let bare = xml("<iq xmlns='jabber:client' type='error' id='a'/>");
    assert!(matches!(
        HealthCheckOutcome::parse(&bare),
        Ok(HealthCheckOutcome::Unexpected(StanzaError {
            condition: Condition::UndefinedCondition,
            ..
        }))
    ));
    let get = xml("<iq xmlns='jabber:client' type='get' id='a'/>");
    assert!(matches!(
        HealthCheckOutcome::parse(&get),
        Err(ParseError::InvalidAttribute { name: "type", .. })
    ));
    let untyped = xml("<iq xmlns='jabber:client' id='a'/>");
    assert_eq!(
        HealthCheckOutcome::parse(&untyped),
        Err(ParseError::MissingAttribute("type"))
    );
    let presence = xml("<presence xmlns='jabber:client' type='error'/>");
    assert_eq!(
        HealthCheckOutcome::parse(&presence),
        Err(ParseError::WrongElement { expected: "iq" })
    );
}

/// Stat names: the known ones, near misses and arbitrary text.
fn arb_stat_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(names::KNOWN.to_vec()).prop_map(str::to_owned),
        prop::sample::select(vec![
            "",
            "Stress_Level",
            "drain ",
            "threads",
            "bit_rate_upload"
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

/// Stat values: odd numbers and booleans, and arbitrary text.
fn arb_stat_value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "NaN",
            "inf",
            "-inf",
            "-1",
            "-0",
            "0",
            "0.8",
            "1e308",
            "1e309",
            "4294967296",
            "true",
            "TRUE",
            "false",
            " 1 ",
            "0x10",
        ])
        .prop_map(str::to_owned),
        any::<f64>().prop_map(|d| d.to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<String>(),
        (0usize..3000).prop_map(|n| "9".repeat(n)),
    ]
}

/// Text that survives XML: no control characters, not empty, at most 64
/// characters.
fn arb_text() -> impl Strategy<Value = String> {
    "[^\\x00-\\x1f\\x7f\u{fffe}\u{ffff}]{1,64}"
}

fn arb_double() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0..=2.0f64,
        (0.0..f64::MAX),
        prop::num::f64::POSITIVE
            | prop::num::f64::NORMAL
            | prop::num::f64::SUBNORMAL
            | prop::num::f64::ZERO,
    ]
}

prop_compose! {
    fn arb_stats()(
        doubles in (prop::option::of(arb_double()), prop::option::of(arb_double())),
        texts in prop::collection::vec(prop::option::of(arb_text()), 5),
        flags in prop::collection::vec(any::<Option<bool>>(), 6),
        counts in prop::collection::vec(any::<Option<u32>>(), 4),
        other in prop::collection::btree_map("[a-z_]{1,24}", arb_text(), 0..8),
    ) -> BridgeStats {
        BridgeStats {
            stress_level: doubles.0,
            average_participant_stress: doubles.1,
            region: texts[0].clone(),
            relay_id: texts[1].clone(),
            version: texts[2].clone(),
            release: texts[3].clone(),
            current_timestamp: texts[4].clone(),
            graceful_shutdown: flags[0],
            shutting_down: flags[1],
            drain: flags[2],
            healthy: flags[3],
            supports_sip: flags[4],
            supports_transcription: flags[5],
            participants: counts[0],
            endpoints: counts[1],
            conferences: counts[2],
            visitors: counts[3],
            other: other
                .into_iter()
                .filter(|(name, _)| !names::KNOWN.contains(&name.as_str()))
                .collect(),
            rejected: Vec::new(),
        }
    }
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_stats(
        stats in prop::collection::vec((arb_stat_name(), arb_stat_value()), 0..300),
    ) {
        let pairs: Vec<(&str, &str)> =
            stats.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let parsed = BridgeStats::parse(&presence_with(&pairs)).expect("has stats");
        for d in [parsed.stress_level, parsed.average_participant_stress].into_iter().flatten() {
            prop_assert!(d.is_finite() && d >= 0.0);
        }
        for s in [&parsed.region, &parsed.relay_id, &parsed.version, &parsed.release]
            .into_iter()
            .flatten()
        {
            prop_assert!(!s.is_empty() && s.len() <= MAX_STAT_BYTES);
        }
        prop_assert!(parsed.other.len() <= MAX_STATS);
        // Writing back what was read never panics either.
        let _ = BridgeStats::from_stats(&parsed.to_element());
    }

    #[test]
    fn parse_never_panics_on_arbitrary_trees(el in arb_element()) {
        let _ = BridgeStats::parse(&el);
        let _ = BridgeStats::from_stats(&el);
        let _ = HealthCheckOutcome::parse(&el);
        let _ = is_health_check_request(&el);
    }

    #[test]
    fn round_trip_holds(stats in arb_stats()) {
        let again = BridgeStats::from_stats(&stats.to_element());
        prop_assert_eq!(&again, &stats);
        let presence = bridge_presence(&bridge(), &stats);
        prop_assert_eq!(BridgeStats::parse(&wire(&presence)), Ok(stats));
    }
}
