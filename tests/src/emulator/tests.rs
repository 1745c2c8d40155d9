//! Unit tests of the emulator: the brewery presence and its timer, the
//! health check, every COLIBRI2 path and error of colibri2.md, controls,
//! addressing, and garbage input.

use std::time::{Duration, Instant};

use focus_proto::ext::brewery::{BridgeStats, HealthCheckOutcome};
use minidom::Element;

use super::presence::{format_double, format_timestamp};
use super::xml::{
    NS_CLIENT, NS_COLIBRI, NS_COLIBRI2, NS_DTLS, NS_ICE, NS_MUC, NS_SSMA, NS_STANZAS,
};
use super::*;
use crate::sim::xml;

const BREWERY: &str = "jvbbrewery@internal-muc.meet.jitsi";
const OCC: &str = "jvbbrewery@internal-muc.meet.jitsi/jvb-a";
const OWN: &str = "jvb@auth.meet.jitsi/jvb-a";
/// The focus's occupant: the `from` of what the MUC forwards.
const FOCUS_OCC: &str = "jvbbrewery@internal-muc.meet.jitsi/focus";
const MEETING: &str = "5c1a9a3e-2f4b-4b8e-9d0c-1f7d2e6a4b10";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn options() -> BridgeOptions {
    let mut o = BridgeOptions::new(BREWERY, "jvb-a");
    o.seed = 42;
    o
}

/// A started bridge whose join presence was taken.
fn started() -> (EmulatedBridge, Instant) {
    started_with(options())
}

fn started_with(o: BridgeOptions) -> (EmulatedBridge, Instant) {
    let (b, t0, _) = joined_with(o);
    (b, t0)
}

/// A started bridge of `o`, and its join presence (the only stanza out).
fn joined_with(o: BridgeOptions) -> (EmulatedBridge, Instant, Element) {
    let t0 = Instant::now();
    let mut b = EmulatedBridge::new(o, t0);
    b.start(t0);
    let join = b.poll_stanza().expect("join presence");
    assert_eq!(join.name(), "presence");
    assert!(b.poll_stanza().is_none());
    (b, t0, join)
}

fn drain(b: &mut EmulatedBridge) -> Vec<Element> {
    std::iter::from_fn(|| b.poll_stanza()).collect()
}

fn stat(presence: &Element, name: &str) -> Option<String> {
    presence
        .get_child("stats", NS_COLIBRI)?
        .children()
        .find(|s| s.is("stat", NS_COLIBRI) && s.attr("name") == Some(name))
        .and_then(|s| s.attr("value").map(str::to_owned))
}

/// Feeds `stanza` and returns the one IQ answer to `id` (presences that
/// went out meanwhile are dropped).
fn answer_to(b: &mut EmulatedBridge, now: Instant, stanza: &Element) -> Element {
    b.handle_stanza(now, stanza);
    let id = stanza.attr("id").unwrap_or_default();
    let mut answers: Vec<Element> = drain(b)
        .into_iter()
        .filter(|s| s.name() == "iq" && s.attr("id") == Some(id))
        .collect();
    assert_eq!(answers.len(), 1, "one answer to {}", String::from(stanza));
    answers.remove(0)
}

/// Sends a `conference-modify` with `attrs` and `body` through the MUC.
fn modify(b: &mut EmulatedBridge, now: Instant, id: &str, attrs: &str, body: &str) -> Element {
    let iq = xml(&format!(
        "<iq type='set' id='{id}' from='{FOCUS_OCC}' to='{OCC}'>\
           <conference-modify xmlns='jitsi:colibri2' {attrs}>{body}</conference-modify>\
         </iq>"
    ));
    answer_to(b, now, &iq)
}

fn modified(answer: &Element) -> &Element {
    assert_eq!(
        answer.attr("type"),
        Some("result"),
        "{}",
        String::from(answer)
    );
    answer
        .get_child("conference-modified", NS_COLIBRI2)
        .unwrap_or_else(|| panic!("no conference-modified: {}", String::from(answer)))
}

/// Checks that `answer` goes back to the focus's occupant, from ours.
fn assert_answers_the_focus(answer: &Element) {
    assert_eq!(answer.attr("to"), Some(FOCUS_OCC));
    assert_eq!(answer.attr("from"), Some(OCC));
}

/// Checks an error answer; its text.
fn assert_error(answer: &Element, condition: &str, kind: &str, reason: Option<&str>) -> String {
    let text = String::from(answer);
    assert_eq!(answer.attr("type"), Some("error"), "{text}");
    let error = answer.get_child("error", NS_CLIENT).expect("error element");
    assert_eq!(error.attr("type"), Some(kind), "{text}");
    assert!(
        error.get_child(condition, NS_STANZAS).is_some(),
        "not {condition}: {text}"
    );
    let found = error
        .get_child("error", NS_COLIBRI2)
        .and_then(|e| e.attr("reason"));
    assert_eq!(found, reason, "{text}");
    assert!(
        answer.get_child("conference-modify", NS_COLIBRI2).is_none(),
        "the request is not echoed"
    );
    error
        .get_child("text", NS_STANZAS)
        .map(|t| t.text())
        .unwrap_or_default()
}

const ENDPOINT_BODY: &str = "\
    <media type='audio'>\
      <payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='111' name='opus' clockrate='48000' channels='2'>\
        <parameter name='minptime' value='10'/>\
        <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/>\
      </payload-type>\
      <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1' uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>\
      <extmap-allow-mixed xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0'/>\
    </media>\
    <media type='video'>\
      <payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='100' name='VP8' clockrate='90000'/>\
      <payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='96' name='rtx' clockrate='90000'/>\
    </media>\
    <transport ice-controlling='true'><sctp/></transport>\
    <sources/>\
    <capability name='source-names'/>\
    <capability name='ssrc-rewriting'/>";

fn create_endpoint(id: &str) -> String {
    format!("<endpoint id='{id}' create='true' stats-id='{id}-stats'>{ENDPOINT_BODY}</endpoint>")
}

/// Checks that `answer` is JVB's error for an unknown conference MEETING.
fn assert_conference_not_found(answer: &Element) {
    let text = assert_error(
        answer,
        "item-not-found",
        "cancel",
        Some("conference_not_found"),
    );
    assert_eq!(text, format!("Conference not found for ID: {MEETING}"));
}

fn create_attrs() -> String {
    format!("meeting-id='{MEETING}' name='myroom@muc.meet.jitsi' create='true'")
}

fn meeting() -> String {
    format!("meeting-id='{MEETING}'")
}

/// Asks for conference MEETING with endpoint `endpoint` (request `c1`);
/// the answer.
fn create_conference(b: &mut EmulatedBridge, now: Instant, endpoint: &str) -> Element {
    modify(b, now, "c1", &create_attrs(), &create_endpoint(endpoint))
}

/// Asks (request `id`) for endpoint `endpoint` in conference MEETING; the
/// answer.
fn add_endpoint(b: &mut EmulatedBridge, now: Instant, id: &str, endpoint: &str) -> Element {
    modify(b, now, id, &meeting(), &create_endpoint(endpoint))
}

/// A bridge with conference MEETING and endpoint `a1b2c3d4`.
fn with_conference() -> (EmulatedBridge, Instant) {
    let (mut b, t0) = started();
    modified(&create_conference(&mut b, t0, "a1b2c3d4"));
    (b, t0)
}

// ---------------------------------------------------------------------------
// Brewery presence

#[test]
fn start_joins_the_brewery_with_the_stats() {
    let t0 = Instant::now();
    let mut b = EmulatedBridge::new(options(), t0);
    assert_eq!(b.poll_timeout(), None, "nothing before start");
    assert!(b.poll_stanza().is_none());
    b.start(t0);
    let join = b.poll_stanza().expect("join");
    assert_eq!(join.name(), "presence");
    assert_eq!(join.ns(), NS_CLIENT);
    assert_eq!(join.attr("to"), Some(OCC));
    assert_eq!(join.attr("type"), None);
    assert!(join.get_child("x", NS_MUC).is_some(), "MUC join element");
    for (name, value) in [
        ("stress_level", "0.0"),
        ("average_participant_stress", "0.01"),
        ("version", "2.3.250-gemulator"),
        ("graceful_shutdown", "false"),
        ("shutting_down", "false"),
        ("drain", "false"),
        ("healthy", "true"),
        ("participants", "0"),
        ("conferences", "0"),
        ("endpoints", "0"),
        ("current_timestamp", "2026-01-01 00:00:00.000"),
    ] {
        assert_eq!(stat(&join, name).as_deref(), Some(value), "{name}");
    }
    for absent in ["region", "relay_id", "release"] {
        assert_eq!(stat(&join, absent), None, "{absent} only when configured");
    }

    // The focus's own parser reads it.
    let stats = BridgeStats::parse(&join).expect("BridgeStats::parse");
    assert_eq!(stats.stress_level, Some(0.0));
    assert_eq!(stats.average_participant_stress, Some(0.01));
    assert_eq!(stats.drain, Some(false));
    assert_eq!(stats.healthy, Some(true));
    assert_eq!(stats.graceful_shutdown, Some(false));
    assert_eq!(stats.shutting_down, Some(false));
    assert_eq!(stats.version.as_deref(), Some("2.3.250-gemulator"));
    assert_eq!(stats.region, None);
    assert_eq!(stats.relay_id, None);
    assert_eq!(stats.conferences, Some(0));
    assert_eq!(stats.participants, Some(0));
    assert_eq!(stats.endpoints, Some(0));
    assert_eq!(
        stats.current_timestamp.as_deref(),
        Some("2026-01-01 00:00:00.000")
    );
    assert_eq!(b.presences_sent(), 1);
}

#[test]
fn configured_stats_are_published() {
    let mut o = options();
    o.region = Some("eu-west".into());
    o.relay_id = Some("relay-a".into());
    o.release = Some("9955".into());
    o.version = "2.3.1-gabc".into();
    o.drain = true;
    o.stress = Some(0.25);
    o.average_participant_stress = 0.02;
    let (_, _, join) = joined_with(o);
    let stats = BridgeStats::parse(&join).unwrap();
    assert_eq!(stats.region.as_deref(), Some("eu-west"));
    assert_eq!(stats.relay_id.as_deref(), Some("relay-a"));
    assert_eq!(stats.release.as_deref(), Some("9955"));
    assert_eq!(stats.version.as_deref(), Some("2.3.1-gabc"));
    assert_eq!(stats.drain, Some(true));
    assert_eq!(stats.stress_level, Some(0.25));
    assert_eq!(stats.average_participant_stress, Some(0.02));
}

#[test]
fn unhealthy_and_unresponsive_from_the_options() {
    let mut o = options();
    o.unhealthy = true;
    o.unresponsive = true;
    let (mut b, t0, join) = joined_with(o);
    assert_eq!(BridgeStats::parse(&join).unwrap().healthy, Some(false));
    assert!(b.is_unresponsive());
    b.handle_stanza(t0, &health_check_to(OCC));
    assert!(b.poll_stanza().is_none());
}

#[test]
fn republishes_every_interval_without_the_join_element() {
    let (mut b, t0) = started();
    assert_eq!(b.poll_timeout(), Some(t0 + secs(5)));
    b.handle_timeout(t0 + secs(4));
    assert!(b.poll_stanza().is_none(), "not due yet");
    b.handle_timeout(t0 + secs(5));
    let p = b.poll_stanza().expect("republished");
    assert!(b.poll_stanza().is_none());
    assert_eq!(p.attr("to"), Some(OCC));
    assert!(p.get_child("x", NS_MUC).is_none(), "only the join has <x/>");
    assert_eq!(
        stat(&p, "current_timestamp").as_deref(),
        Some("2026-01-01 00:00:05.000")
    );
    assert_eq!(b.poll_timeout(), Some(t0 + secs(10)));
    // Late: one presence, and the schedule stays on the grid.
    b.handle_timeout(t0 + secs(27));
    assert_eq!(drain(&mut b).len(), 1);
    assert_eq!(b.poll_timeout(), Some(t0 + secs(30)));
    assert_eq!(b.presences_sent(), 3);
}

#[test]
fn custom_interval() {
    let mut o = options();
    o.stats_interval = Duration::from_millis(250);
    let (mut b, t0) = started_with(o);
    assert_eq!(b.poll_timeout(), Some(t0 + Duration::from_millis(250)));
    for i in 1..=4 {
        let at = t0 + Duration::from_millis(250 * i);
        assert_eq!(b.poll_timeout(), Some(at));
        b.handle_timeout(at);
        assert_eq!(drain(&mut b).len(), 1);
    }
}

#[test]
fn stop_leaves_the_brewery_and_goes_quiet() {
    let (mut b, t0) = started();
    b.handle_stanza(t0, &xml(&format!("<presence from='{OCC}' to='{OWN}'/>")));
    assert!(b.is_joined());
    b.stop(t0 + secs(1));
    let leave = b.poll_stanza().expect("unavailable");
    assert_eq!(leave.attr("type"), Some("unavailable"));
    assert_eq!(leave.attr("to"), Some(OCC));
    assert_eq!(b.poll_timeout(), None);
    assert!(!b.is_running());
    assert!(!b.is_joined());
    // Nothing more: no timer, no answers, no second leave.
    b.handle_timeout(t0 + secs(60));
    b.handle_stanza(t0 + secs(60), &health_check_to(OCC));
    b.control(t0 + secs(60), Control::Drain(true));
    b.stop(t0 + secs(61));
    b.start(t0 + secs(62));
    assert!(drain(&mut b).is_empty());
}

#[test]
fn start_twice_joins_once() {
    let (mut b, t0) = started();
    b.start(t0 + secs(1));
    assert!(b.poll_stanza().is_none());
    assert_eq!(b.poll_timeout(), Some(t0 + secs(5)));
}

#[test]
fn stop_before_start_sends_nothing() {
    let t0 = Instant::now();
    let mut b = EmulatedBridge::new(options(), t0);
    b.stop(t0);
    assert!(b.poll_stanza().is_none());
}

#[test]
fn muc_reflection_join_failure_and_kick_are_events() {
    let (mut b, t0) = started();
    let events = |b: &mut EmulatedBridge| -> Vec<EmulatorEvent> {
        std::iter::from_fn(|| b.poll_event())
            .filter(|e| *e != EmulatorEvent::Published)
            .collect()
    };
    events(&mut b);
    // Someone else's presence changes nothing.
    b.handle_stanza(t0, &xml(&format!("<presence from='{FOCUS_OCC}'/>")));
    assert!(!b.is_joined());
    b.handle_stanza(
        t0,
        &xml(&format!(
            "<presence from='{OCC}'><x xmlns='http://jabber.org/protocol/muc#user'>\
               <status code='110'/></x></presence>"
        )),
    );
    assert!(b.is_joined());
    assert_eq!(events(&mut b), [EmulatorEvent::Joined]);
    b.handle_stanza(
        t0,
        &xml(&format!(
            "<presence from='{OCC}' type='unavailable'>\
               <x xmlns='http://jabber.org/protocol/muc#user'><status code='307'/></x>\
             </presence>"
        )),
    );
    assert!(!b.is_joined());
    assert_eq!(events(&mut b), [EmulatorEvent::Left { kicked: true }]);
    b.handle_stanza(
        t0,
        &xml(&format!(
            "<presence from='{OCC}' type='error'><error type='cancel'>\
               <conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"
        )),
    );
    assert_eq!(
        events(&mut b),
        [EmulatorEvent::JoinFailed("conflict".into())]
    );
    // The next presence tries to join again.
    b.handle_timeout(t0 + secs(5));
    let p = b.poll_stanza().unwrap();
    assert!(p.get_child("x", NS_MUC).is_some());
}

#[test]
fn timestamps_and_doubles_are_written_like_jvb() {
    assert_eq!(format_timestamp(0), "1970-01-01 00:00:00.000");
    assert_eq!(
        format_timestamp(1_767_225_600_000),
        "2026-01-01 00:00:00.000"
    );
    assert_eq!(
        format_timestamp(1_767_225_600_000 + 90_061_500),
        "2026-01-02 01:01:01.500"
    );
    // 2028-02-29 (leap day) and the day after.
    assert_eq!(
        format_timestamp(1_835_395_200_000),
        "2028-02-29 00:00:00.000"
    );
    assert_eq!(
        format_timestamp(1_835_481_600_000),
        "2028-03-01 00:00:00.000"
    );
    assert_eq!(format_double(0.0), "0.0");
    assert_eq!(format_double(0.3), "0.3");
    assert_eq!(format_double(0.1 + 0.2), "0.3");
    assert_eq!(format_double(0.01), "0.01");
    assert_eq!(format_double(1.5), "1.5");
    assert_eq!(format_double(f64::NAN), "0.0");

    let (mut b, t0) = started();
    b.handle_timeout(t0 + Duration::from_millis(90_061_500));
    let p = b.poll_stanza().unwrap();
    assert_eq!(
        stat(&p, "current_timestamp").as_deref(),
        Some("2026-01-02 01:01:01.500")
    );
}

#[test]
fn stress_follows_the_load_unless_fixed() {
    let (mut b, t0) = with_conference();
    for id in ["e2", "e3"] {
        modified(&add_endpoint(&mut b, t0, id, id));
    }
    assert_eq!(b.endpoint_count(), 3);
    assert!((b.stress_level() - 0.03).abs() < 1e-12);
    b.handle_timeout(t0 + secs(5));
    let p = b.poll_stanza().unwrap();
    let stats = BridgeStats::parse(&p).unwrap();
    assert_eq!(stats.stress_level, Some(0.03));
    assert_eq!(stats.participants, Some(3));
    assert_eq!(stats.conferences, Some(1));

    b.control(t0 + secs(6), Control::Stress(Some(0.7)));
    let p = b.poll_stanza().expect("republished at once");
    assert_eq!(BridgeStats::parse(&p).unwrap().stress_level, Some(0.7));
    b.control(t0 + secs(7), Control::Stress(None));
    let p = b.poll_stanza().unwrap();
    assert_eq!(BridgeStats::parse(&p).unwrap().stress_level, Some(0.03));
}

#[test]
fn same_seed_same_bytes_other_nick_other_credentials() {
    let run = |o: BridgeOptions| {
        let t0 = Instant::now();
        let mut b = EmulatedBridge::new(o, t0);
        b.start(t0);
        let mut out: Vec<String> = drain(&mut b).iter().map(String::from).collect();
        let a = create_conference(&mut b, t0, "e1");
        out.push(String::from(&a));
        b.handle_timeout(t0 + secs(5));
        out.extend(drain(&mut b).iter().map(String::from));
        (out, b.fingerprint().to_owned())
    };
    let (one, fp1) = run(options());
    let (two, fp2) = run(options());
    assert_eq!(one, two);
    assert_eq!(fp1, fp2);
    let mut other = options();
    other.nick = "jvb-b".into();
    let (_, fp3) = run(other);
    assert_ne!(fp1, fp3, "the nickname salts the seed");
    let mut reseeded = options();
    reseeded.seed = 43;
    assert_ne!(run(reseeded).1, fp1);
    // 32 bytes, colon separated, upper-case hex.
    assert_eq!(fp1.len(), 32 * 3 - 1);
    assert!(
        fp1.split(':')
            .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()))
    );
}

// ---------------------------------------------------------------------------
// Health check and other IQs

fn health_check_to(to: &str) -> Element {
    xml(&format!(
        "<iq type='get' id='hc-1' from='{FOCUS_OCC}' to='{to}'>\
           <healthcheck xmlns='http://jitsi.org/protocol/healthcheck'/></iq>"
    ))
}

#[test]
fn health_check_to_the_occupant_is_answered_result() {
    let (mut b, t0) = started();
    let answer = answer_to(&mut b, t0, &health_check_to(OCC));
    assert_eq!(answer.attr("type"), Some("result"));
    assert_eq!(answer.attr("id"), Some("hc-1"));
    assert_answers_the_focus(&answer);
    assert_eq!(answer.children().count(), 0);
    assert_eq!(b.health_checks_answered(), 1);
}

#[test]
fn health_check_to_the_own_jid_as_the_muc_forwards_it() {
    let (mut b, t0) = started();
    b.set_own_jid(OWN);
    let answer = answer_to(&mut b, t0, &health_check_to(OWN));
    assert_eq!(answer.attr("type"), Some("result"));
    assert_eq!(answer.attr("from"), Some(OWN));
    assert_eq!(answer.attr("to"), Some(FOCUS_OCC));
    // Bare JID, and no `to` at all, are ours too.
    let answer = answer_to(&mut b, t0, &health_check_to("jvb@auth.meet.jitsi"));
    assert_eq!(answer.attr("type"), Some("result"));
    let no_to = xml(
        "<iq type='get' id='hc-9'><healthcheck xmlns='http://jitsi.org/protocol/healthcheck'/></iq>",
    );
    let answer = answer_to(&mut b, t0, &no_to);
    assert_eq!(answer.attr("type"), Some("result"));
    assert_eq!(answer.attr("to"), None);
    assert_eq!(answer.attr("from"), None);
    // Another entity's IQ is not answered.
    b.handle_stanza(t0, &health_check_to("jvb@auth.meet.jitsi/other"));
    b.handle_stanza(t0, &health_check_to(&format!("{BREWERY}/jvb-b")));
    assert!(drain(&mut b).is_empty());
}

#[test]
fn unhealthy_bridge_answers_internal_server_error() {
    let (mut b, t0) = started();
    b.control(t0, Control::Healthy(false));
    let p = b.poll_stanza().expect("republished at once");
    assert_eq!(stat(&p, "healthy").as_deref(), Some("false"));
    assert!(!b.is_healthy());
    let answer = answer_to(&mut b, t0, &health_check_to(OCC));
    let text = assert_error(&answer, "internal-server-error", "wait", None);
    assert!(text.starts_with("Health check failed"), "{text}");
    // The focus reads it as a failed health check.
    assert!(matches!(
        HealthCheckOutcome::parse(&answer),
        Ok(HealthCheckOutcome::Failed(_))
    ));
    b.control(t0, Control::Healthy(true));
    drain(&mut b);
    let answer = answer_to(&mut b, t0, &health_check_to(OCC));
    assert_eq!(answer.attr("type"), Some("result"));
}

#[test]
fn unresponsive_bridge_answers_nothing_but_keeps_publishing() {
    let (mut b, t0) = started();
    b.control(t0, Control::Unresponsive(true));
    assert_eq!(drain(&mut b).len(), 1, "the control republishes");
    b.handle_stanza(t0, &health_check_to(OCC));
    b.handle_stanza(
        t0,
        &xml(&format!(
            "<iq type='set' id='c1' from='{FOCUS_OCC}' to='{OCC}'>\
               <conference-modify xmlns='jitsi:colibri2' {}>{}</conference-modify></iq>",
            create_attrs(),
            create_endpoint("e1")
        )),
    );
    b.handle_stanza(
        t0,
        &xml(&format!(
            "<iq type='get' id='p1' to='{OCC}'><ping xmlns='urn:xmpp:ping'/></iq>"
        )),
    );
    assert!(drain(&mut b).is_empty(), "no answer at all");
    assert_eq!(b.iqs_dropped(), 3);
    assert_eq!(b.conference_count(), 0, "the request was not processed");
    b.handle_timeout(t0 + secs(5));
    let p = drain(&mut b);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].name(), "presence", "presence still published");
    b.control(t0 + secs(6), Control::Unresponsive(false));
    drain(&mut b);
    let answer = answer_to(&mut b, t0 + secs(6), &health_check_to(OCC));
    assert_eq!(answer.attr("type"), Some("result"));
}

#[test]
fn unknown_iqs_get_service_unavailable() {
    let (mut b, t0) = started();
    for (kind, payload) in [
        ("get", "<query xmlns='jabber:iq:private'/>"),
        (
            "set",
            "<query xmlns='http://jabber.org/protocol/disco#info'/>",
        ),
        (
            "get",
            "<conference-modify xmlns='jitsi:colibri2' meeting-id='m'/>",
        ),
        ("set", "<healthcheck xmlns='urn:other'/>"),
        ("set", "<ping xmlns='urn:xmpp:ping'/>"),
        ("get", ""),
    ] {
        let iq = xml(&format!(
            "<iq type='{kind}' id='u1' from='{FOCUS_OCC}' to='{OCC}'>{payload}</iq>"
        ));
        let answer = answer_to(&mut b, t0, &iq);
        assert_error(&answer, "service-unavailable", "cancel", None);
        assert_answers_the_focus(&answer);
    }
    // Results and errors are never answered.
    for kind in ["result", "error"] {
        b.handle_stanza(
            t0,
            &xml(&format!(
                "<iq type='{kind}' id='x' from='{FOCUS_OCC}' to='{OCC}'/>"
            )),
        );
    }
    assert!(drain(&mut b).is_empty());
}

#[test]
fn ping_and_version_are_answered() {
    let (mut b, t0) = started();
    let ping = xml(&format!(
        "<iq type='get' id='p1' from='{FOCUS_OCC}' to='{OCC}'><ping xmlns='urn:xmpp:ping'/></iq>"
    ));
    assert_eq!(answer_to(&mut b, t0, &ping).attr("type"), Some("result"));
    let version = xml(&format!(
        "<iq type='get' id='v1' from='{FOCUS_OCC}' to='{OCC}'><query xmlns='jabber:iq:version'/></iq>"
    ));
    let answer = answer_to(&mut b, t0, &version);
    let query = answer.get_child("query", "jabber:iq:version").unwrap();
    assert_eq!(
        query
            .get_child("version", "jabber:iq:version")
            .unwrap()
            .text(),
        "2.3.250-gemulator"
    );
}

#[test]
fn garbage_never_panics() {
    let (mut b, t0) = started();
    b.set_own_jid(OWN);
    let samples = [
        "<message from='x' to='y'><body>hi</body></message>".to_owned(),
        "<presence/>".to_owned(),
        "<presence type='error' from='jvbbrewery@internal-muc.meet.jitsi/jvb-a'/>".to_owned(),
        "<presence type='unavailable' from='jvbbrewery@internal-muc.meet.jitsi/jvb-a'><x xmlns='http://jabber.org/protocol/muc#user'><status/></x></presence>".to_owned(),
        "<iq/>".to_owned(),
        "<iq type='set'/>".to_owned(),
        "<iq type='bogus' id='1'/>".to_owned(),
        "<iq type='set' id='1'><conference-modify xmlns='jitsi:colibri2'/></iq>".to_owned(),
        "<iq type='set' id='1'><conference-modify xmlns='jitsi:colibri2' meeting-id=''/></iq>".to_owned(),
        "<iq type='set' id='1'><conference-modify xmlns='jitsi:colibri2' meeting-id='m' create='TRUE' name='@@@/'/></iq>".to_owned(),
        "<iq type='set' id='1'><conference-modify xmlns='jitsi:colibri2' meeting-id='m' create='yes'><endpoint/><endpoint id=''/></conference-modify></iq>".to_owned(),
        "<iq type='set' id='1'><conference-modify xmlns='jitsi:colibri2' meeting-id='m' create='true'><endpoint id='e' create='true'><transport><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate port='99999999'/><fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0'/></transport><sctp port='-1' role='?'/></transport><capability/><capability name='source-names'/></endpoint></conference-modify></iq>".to_owned(),
        "<iq type='set' id='1'><conference-modify xmlns='jitsi:colibri2' meeting-id='m'><endpoint id='e'><media/><media type='audio'><payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='300'/><payload-type xmlns='urn:xmpp:jingle:apps:rtp:1'/><rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='x'/></media></endpoint></conference-modify></iq>".to_owned(),
        "<iq type='set' id='1'><conference-modify xmlns='jitsi:colibri2' meeting-id='m'><endpoint id='e'><sources><media-source/><media-source type='video'><source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='-5'/></media-source></sources><initial-last-n value='many'/><force-mute audio='maybe'/></endpoint></conference-modify></iq>".to_owned(),
        "<iq type='set' id='1'><conference-modify xmlns='jitsi:colibri2' meeting-id='m'><relay/><relay id='r' create='true'><transport use-unique-port='true'><sctp role='x'/></transport><endpoints><endpoint/></endpoints></relay></conference-modify></iq>".to_owned(),
        "<iq type='set' id='1'><conference-modify xmlns='jitsi:colibri2' meeting-id='m'><connects><connect/><connect url='wss://x'><http-header name='bad name'/></connect></connects></conference-modify></iq>".to_owned(),
        "<iq type='set' id='1'><conference-modify xmlns='jitsi:colibri2' meeting-id='m' expire='true' create='true'/></iq>".to_owned(),
        "<iq type='get' id='1'><healthcheck xmlns='http://jitsi.org/protocol/healthcheck'><junk/></healthcheck><more/></iq>".to_owned(),
        "<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>".to_owned(),
    ];
    for (i, s) in samples.iter().enumerate() {
        let el = xml(s);
        b.handle_stanza(t0 + Duration::from_millis(i as u64), &el);
        drain(&mut b);
        while b.poll_event().is_some() {}
    }

    // And random trees over the vocabulary the emulator looks at.
    let names = [
        "iq",
        "presence",
        "conference-modify",
        "endpoint",
        "relay",
        "transport",
        "sctp",
        "sources",
        "media-source",
        "source",
        "ssrc-group",
        "media",
        "payload-type",
        "rtp-hdrext",
        "capability",
        "force-mute",
        "initial-last-n",
        "connects",
        "connect",
        "endpoints",
        "healthcheck",
        "candidate",
        "fingerprint",
        "x",
        "status",
        "error",
    ];
    let namespaces = [
        NS_CLIENT,
        NS_COLIBRI2,
        NS_ICE,
        NS_DTLS,
        NS_SSMA,
        "urn:xmpp:jingle:apps:rtp:1",
        "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0",
        "http://jitsi.org/protocol/healthcheck",
        "http://jabber.org/protocol/muc#user",
        NS_STANZAS,
    ];
    let attrs = [
        "id",
        "type",
        "to",
        "from",
        "meeting-id",
        "name",
        "create",
        "expire",
        "role",
        "port",
        "ssrc",
        "ice-restart",
        "muc-role",
        "url",
        "value",
        "semantics",
        "use-unique-port",
        "code",
    ];
    let values = [
        "",
        "true",
        "false",
        "set",
        "get",
        "m",
        "e",
        "r",
        "audio",
        "video",
        "visitor",
        "5000",
        "client",
        "server",
        "-1",
        "4294967296",
        "wss://x",
        OCC,
        OWN,
        "a@b",
        "307",
        "source-names",
    ];
    let mut rng = Rng::new(7, "garbage");
    fn pick<'a>(rng: &mut Rng, list: &[&'a str]) -> &'a str {
        list[(rng.next_u64() % list.len() as u64) as usize]
    }
    fn tree(
        rng: &mut Rng,
        depth: u32,
        names: &[&str],
        nss: &[&str],
        attrs: &[&'static str],
        values: &[&str],
    ) -> Element {
        let mut el = minidom::Element::builder(pick(rng, names), pick(rng, nss));
        for _ in 0..rng.next_u64() % 4 {
            let a = attrs[(rng.next_u64() % attrs.len() as u64) as usize];
            el = el.attr(focus_proto::xml::ncname(a), pick(rng, values));
        }
        if depth < 5 {
            for _ in 0..rng.next_u64() % 4 {
                el = el.append(tree(rng, depth + 1, names, nss, attrs, values));
            }
        }
        el.build()
    }
    for i in 0..3000u64 {
        let mut root = tree(&mut rng, 0, &names, &namespaces, &attrs, &values);
        // Make many of them IQ sets or gets to the bridge.
        if i % 2 == 0 {
            let mut iq = minidom::Element::builder("iq", NS_CLIENT)
                .attr(
                    focus_proto::xml::ncname("type"),
                    pick(&mut rng, &["set", "get"]),
                )
                .attr(focus_proto::xml::ncname("id"), format!("g{i}"))
                .attr(focus_proto::xml::ncname("to"), OCC)
                .build();
            iq.append_child(root);
            root = iq;
        }
        b.handle_stanza(t0 + Duration::from_millis(i), &root);
        if i % 100 == 0 {
            b.handle_timeout(t0 + Duration::from_millis(i) + secs(5));
        }
        drain(&mut b);
        while b.poll_event().is_some() {}
    }
    // Still working.
    let answer = answer_to(&mut b, t0 + secs(10), &health_check_to(OCC));
    assert_eq!(answer.attr("type"), Some("result"));
}

// ---------------------------------------------------------------------------
// Controls

#[test]
fn controls_change_the_stats_and_republish_at_once() {
    let (mut b, t0) = started();
    let next = b.poll_timeout();
    let check = |b: &mut EmulatedBridge, name: &str, value: &str| {
        let out = drain(b);
        assert_eq!(out.len(), 1, "one presence after the control");
        assert_eq!(stat(&out[0], name).as_deref(), Some(value), "{name}");
        assert!(out[0].get_child("x", NS_MUC).is_none());
    };
    b.control(t0, Control::Drain(true));
    check(&mut b, "drain", "true");
    assert!(b.is_draining());
    b.control(t0, Control::Drain(false));
    check(&mut b, "drain", "false");
    b.control(t0, Control::GracefulShutdown);
    check(&mut b, "graceful_shutdown", "true");
    assert!(b.is_in_graceful_shutdown());
    b.control(t0, Control::ShuttingDown);
    check(&mut b, "shutting_down", "true");
    assert!(b.is_shutting_down());
    b.control(t0, Control::Healthy(false));
    check(&mut b, "healthy", "false");
    b.control(t0, Control::Stress(Some(0.9)));
    check(&mut b, "stress_level", "0.9");
    b.control(t0, Control::Stress(Some(f64::NAN)));
    check(&mut b, "stress_level", "0.0");
    assert_eq!(b.poll_timeout(), next, "the schedule is unchanged");
    let applied: Vec<EmulatorEvent> = std::iter::from_fn(|| b.poll_event())
        .filter(|e| matches!(e, EmulatorEvent::ControlApplied(_)))
        .collect();
    assert_eq!(applied.len(), 7);
}

#[test]
fn control_before_start_is_remembered() {
    let t0 = Instant::now();
    let mut b = EmulatedBridge::new(options(), t0);
    b.control(t0, Control::Drain(true));
    assert!(b.poll_stanza().is_none(), "not in the brewery yet");
    b.start(t0);
    let join = b.poll_stanza().unwrap();
    assert_eq!(stat(&join, "drain").as_deref(), Some("true"));
}

#[test]
fn control_lines_parse() {
    assert_eq!(Control::parse("drain on"), Some(Control::Drain(true)));
    assert_eq!(Control::parse(" drain  off "), Some(Control::Drain(false)));
    assert_eq!(
        Control::parse("graceful-shutdown"),
        Some(Control::GracefulShutdown)
    );
    assert_eq!(Control::parse("shutting-down"), Some(Control::ShuttingDown));
    assert_eq!(Control::parse("healthy off"), Some(Control::Healthy(false)));
    assert_eq!(
        Control::parse("unresponsive on"),
        Some(Control::Unresponsive(true))
    );
    assert_eq!(
        Control::parse("stress 0.7"),
        Some(Control::Stress(Some(0.7)))
    );
    assert_eq!(Control::parse("stress auto"), Some(Control::Stress(None)));
    assert_eq!(
        Control::parse("ice-restart off"),
        Some(Control::IceRestart(false))
    );
    assert_eq!(
        Control::parse("ice-restart on"),
        Some(Control::IceRestart(true))
    );
    for bad in [
        "ice-restart",
        "ice-restart maybe",
        "ice-restart on now",
        "ice_restart off",
        "",
        "drain",
        "drain maybe",
        "stress",
        "stress -1",
        "stress NaN",
        "graceful-shutdown now",
        "healthy on off",
        "reboot",
    ] {
        assert_eq!(Control::parse(bad), None, "{bad:?}");
    }
}

// ---------------------------------------------------------------------------
// COLIBRI2: conferences and endpoints

#[test]
fn conference_create_with_an_endpoint() {
    let (mut b, t0) = started();
    let answer = create_conference(&mut b, t0, "a1b2c3d4");
    assert_answers_the_focus(&answer);
    let m = modified(&answer);
    assert!(m.attrs().is_empty(), "no attributes on conference-modified");
    let children: Vec<&str> = m.children().map(|c| c.name()).collect();
    assert_eq!(children, ["endpoint", "sources"]);

    let conf = b.conference(MEETING).expect("created").clone();
    assert_eq!(conf.name.as_deref(), Some("myroom@muc.meet.jitsi"));
    assert!(conf.rtcstats_enabled);
    assert_eq!(conf.id.len(), 16);

    let ep = m.get_child("endpoint", NS_COLIBRI2).unwrap();
    assert_eq!(ep.attr("id"), Some("a1b2c3d4"));
    let transport = ep.get_child("transport", NS_COLIBRI2).unwrap();
    let ice = transport.get_child("transport", NS_ICE).unwrap();
    let local = &conf.endpoints["a1b2c3d4"].local;
    assert_eq!(ice.attr("ufrag"), Some(local.ufrag.as_str()));
    assert_eq!(ice.attr("pwd"), Some(local.pwd.as_str()));
    assert!(local.ufrag.len() >= 4 && local.pwd.len() >= 22);
    assert_eq!(ice.attr("ice-generation"), None);
    let candidate = ice.get_child("candidate", NS_ICE).unwrap();
    for (a, v) in [
        ("component", "1"),
        ("protocol", "udp"),
        ("type", "host"),
        ("ip", "127.0.0.1"),
        ("port", "10000"),
        ("generation", "0"),
    ] {
        assert_eq!(candidate.attr(a), Some(v), "{a}");
    }
    assert!(ice.get_child("rtcp-mux", NS_ICE).is_some());
    let fp = ice.get_child("fingerprint", NS_DTLS).unwrap();
    assert_eq!(fp.attr("hash"), Some("sha-256"));
    assert_eq!(fp.attr("setup"), Some("actpass"));
    assert_eq!(fp.text(), b.fingerprint());
    let ws = ice.get_child("web-socket", NS_COLIBRI).unwrap();
    assert_eq!(
        ws.attr("url").unwrap(),
        format!(
            "wss://127.0.0.1:8443/colibri-ws/jvb-a/{}/a1b2c3d4?pwd={}",
            conf.id, local.pwd
        )
    );
    let sctp = transport.get_child("sctp", NS_COLIBRI2).unwrap();
    assert_eq!(sctp.attr("port"), Some("5000"));
    assert_eq!(sctp.attr("role"), Some("server"));

    // Feedback sources.
    let sources = m.get_child("sources", NS_COLIBRI2).unwrap();
    let ms: Vec<(&str, &str, String)> = sources
        .children()
        .map(|s| {
            let src = s.get_child("source", NS_SSMA).unwrap();
            assert_eq!(src.attr("name"), s.attr("id"));
            (
                s.attr("type").unwrap(),
                s.attr("id").unwrap(),
                src.attr("ssrc").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        ms,
        [
            ("audio", "jvb-a0", conf.feedback_audio_ssrc.to_string()),
            ("video", "jvb-v0", conf.feedback_video_ssrc.to_string()),
        ]
    );

    // State.
    let e = b.endpoint(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(e.stats_id.as_deref(), Some("a1b2c3d4-stats"));
    assert!(e.ice_controlling);
    assert!(e.sctp);
    assert_eq!(e.capabilities, ["source-names", "ssrc-rewriting"]);
    let pts: Vec<(&str, u8, &str)> = e
        .payload_types
        .iter()
        .map(|p| (p.media_type.as_str(), p.id, p.name.as_str()))
        .collect();
    assert_eq!(
        pts,
        [
            ("audio", 111, "opus"),
            ("video", 100, "VP8"),
            ("video", 96, "rtx")
        ]
    );
    assert_eq!(e.header_extensions.len(), 1);
    assert!(e.extmap_allow_mixed);
    assert!(e.sources_signaled);
    assert!(e.sources.is_empty());
    assert!(e.remote.is_none());
    assert_eq!(b.conference_count(), 1);
    assert_eq!(b.endpoint_count(), 1);
    assert_eq!(b.totals().conferences_created, 1);
    assert_eq!(b.totals().endpoints_created, 1);
}

#[test]
fn conference_create_without_endpoints_and_rtcstats_off() {
    let (mut b, t0) = started();
    let answer = modify(
        &mut b,
        t0,
        "c1",
        &format!("{} rtcstats-enabled='false'", create_attrs()),
        "",
    );
    let m = modified(&answer);
    let children: Vec<&str> = m.children().map(|c| c.name()).collect();
    assert_eq!(children, ["sources"], "feedback sources on create");
    assert!(!b.conference(MEETING).unwrap().rtcstats_enabled);
    // A create leaves an empty conference alone.
    assert_eq!(b.conference_count(), 1);
}

#[test]
fn second_endpoint_without_sctp_or_web_socket() {
    let mut o = options();
    o.web_socket_base = None;
    let (mut b, t0) = started_with(o);
    modified(&create_conference(&mut b, t0, "e1"));
    let body = "<endpoint id='e2' create='true'>\
                  <transport ice-controlling='true'/><sources/>\
                  <capability name='source-names'/></endpoint>";
    let answer = modify(&mut b, t0, "c2", &meeting(), body);
    let m = modified(&answer);
    let ep = m.get_child("endpoint", NS_COLIBRI2).unwrap();
    let transport = ep.get_child("transport", NS_COLIBRI2).unwrap();
    assert!(transport.get_child("sctp", NS_COLIBRI2).is_none());
    let ice = transport.get_child("transport", NS_ICE).unwrap();
    assert!(ice.get_child("web-socket", NS_COLIBRI).is_none());
    assert!(
        m.get_child("sources", NS_COLIBRI2).is_some(),
        "feedback sources whenever an endpoint is created"
    );
    let e1 = b.endpoint(MEETING, "e1").unwrap().local.clone();
    let e2 = b.endpoint(MEETING, "e2").unwrap().local.clone();
    assert_ne!(e1.ufrag, e2.ufrag);
    assert_eq!(e1.port, e2.port, "one shared media port, as JVB");
    assert_eq!(b.endpoint(MEETING, "e2").unwrap().stats_id, None);
}

#[test]
fn endpoint_update_with_transport_sources_and_last_n() {
    let (mut b, t0) = with_conference();
    let body = "<endpoint id='a1b2c3d4' stats-id='Alice-Qx1'>\
      <transport><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='Yh4x' pwd='b0Cq1x8pwdpwdpwdpwdpwd'>\
        <rtcp-mux/>\
        <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='active'>C1:5E:02</fingerprint>\
        <candidate component='1' foundation='1' generation='0' id='1' network='1' priority='1' protocol='udp' type='host' ip='192.0.2.50' port='52311'/>\
      </transport></transport>\
      <sources>\
        <media-source type='audio' id='a1b2c3d4-a0'>\
          <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='2210384121' name='a1b2c3d4-a0'/>\
        </media-source>\
        <media-source type='video' id='a1b2c3d4-v0'>\
          <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='410225713' name='a1b2c3d4-v0' videoType='camera'/>\
          <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='3870006012' name='a1b2c3d4-v0' videoType='camera'/>\
          <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='FID'>\
            <source ssrc='410225713'/><source ssrc='3870006012'/>\
          </ssrc-group>\
        </media-source>\
      </sources>\
      <initial-last-n value='25'/>\
    </endpoint>";
    let answer = modify(&mut b, t0, "u1", &meeting(), body);
    let m = modified(&answer);
    assert_eq!(
        String::from(m),
        "<conference-modified xmlns='jitsi:colibri2'><endpoint id='a1b2c3d4'/></conference-modified>"
    );
    let e = b.endpoint(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(e.stats_id.as_deref(), Some("Alice-Qx1"));
    let remote = e.remote.as_ref().unwrap();
    assert_eq!(remote.ufrag.as_deref(), Some("Yh4x"));
    assert_eq!(remote.setup.as_deref(), Some("active"));
    assert_eq!(remote.fingerprint.as_deref(), Some("C1:5E:02"));
    assert_eq!(remote.candidates, 1);
    assert_eq!(e.initial_last_n, Some(25));
    assert_eq!(e.updates, 1);
    assert_eq!(e.sources.len(), 2);
    let video = &e.sources[1];
    assert_eq!(video.media_type, "video");
    assert_eq!(video.id, "a1b2c3d4-v0");
    assert_eq!(
        video.sources.iter().map(|s| s.ssrc).collect::<Vec<_>>(),
        [410225713, 3870006012]
    );
    assert_eq!(video.sources[0].video_type.as_deref(), Some("camera"));
    assert_eq!(
        video.groups,
        [("FID".to_owned(), vec![410225713, 3870006012])]
    );

    // A later source update replaces the list (complete, not a delta).
    let body = "<endpoint id='a1b2c3d4'><sources>\
        <media-source type='audio'><source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='7'/></media-source>\
      </sources></endpoint>";
    modified(&modify(&mut b, t0, "u2", &meeting(), body));
    let e = b.endpoint(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(e.sources.len(), 1);
    assert_eq!(e.sources[0].id, "a1b2c3d4-a0", "default source name");
    assert_eq!(e.updates, 2);
}

#[test]
fn force_mute_batch_ignores_unknown_endpoints() {
    let (mut b, t0) = with_conference();
    modified(&add_endpoint(&mut b, t0, "c2", "e2"));
    let body = "<endpoint id='a1b2c3d4'><force-mute audio='true'/></endpoint>\
                <endpoint id='e2'><force-mute audio='true' video='true'/></endpoint>\
                <endpoint id='gone'><force-mute audio='true'/></endpoint>";
    let answer = modify(&mut b, t0, "m1", &meeting(), body);
    let ids: Vec<&str> = modified(&answer)
        .children()
        .map(|c| c.attr("id").unwrap())
        .collect();
    assert_eq!(ids, ["a1b2c3d4", "e2", "gone"]);
    let a = b.endpoint(MEETING, "a1b2c3d4").unwrap();
    assert!(a.force_mute_audio && !a.force_mute_video);
    let e2 = b.endpoint(MEETING, "e2").unwrap();
    assert!(e2.force_mute_audio && e2.force_mute_video);
    // Unmute both: an empty force-mute.
    let answer = modify(
        &mut b,
        t0,
        "m2",
        &meeting(),
        "<endpoint id='e2'><force-mute/></endpoint>",
    );
    modified(&answer);
    let e2 = b.endpoint(MEETING, "e2").unwrap();
    assert!(!e2.force_mute_audio && !e2.force_mute_video);
}

#[test]
fn endpoint_expire_and_auto_expire_of_the_conference() {
    let (mut b, t0) = with_conference();
    modified(&add_endpoint(&mut b, t0, "c2", "e2"));
    let answer = modify(
        &mut b,
        t0,
        "x1",
        &meeting(),
        "<endpoint id='e2' expire='true'/><endpoint id='never-was' expire='true'/>",
    );
    assert_eq!(
        String::from(modified(&answer)),
        "<conference-modified xmlns='jitsi:colibri2'>\
         <endpoint expire='true' id='e2'/><endpoint expire='true' id='never-was'/>\
         </conference-modified>"
    );
    assert_eq!(b.endpoint_count(), 1);
    assert_eq!(b.conference_count(), 1);
    // The last endpoint goes: the conference goes with it.
    let answer = modify(
        &mut b,
        t0,
        "x2",
        &meeting(),
        "<endpoint id='a1b2c3d4' expire='true'/>",
    );
    modified(&answer);
    assert_eq!(b.conference_count(), 0);
    assert_eq!(b.totals().conferences_completed, 1);
    let events: Vec<EmulatorEvent> = std::iter::from_fn(|| b.poll_event()).collect();
    assert!(events.contains(&EmulatorEvent::ConferenceExpired {
        meeting_id: MEETING.into(),
        explicit: false
    }));
    // And later requests do not find it.
    let answer = modify(&mut b, t0, "x3", &meeting(), "<endpoint id='a1b2c3d4'/>");
    assert_conference_not_found(&answer);
}

// ---------------------------------------------------------------------------
// COLIBRI2: in-place ICE restarts

/// The focus's in-place ICE restart request for `endpoint`.
fn ice_restart_body(endpoint: &str) -> String {
    format!("<endpoint id='{endpoint}' stats-id='s'><transport ice-restart='true'/></endpoint>")
}

/// Asks (request `id`) for an ICE restart of `a1b2c3d4`; the
/// `conference-modified/endpoint` of the answer.
fn ice_restart(b: &mut EmulatedBridge, now: Instant, id: &str) -> Element {
    let answer = modify(b, now, id, &meeting(), &ice_restart_body("a1b2c3d4"));
    let m = modified(&answer);
    assert!(
        m.get_child("sources", NS_COLIBRI2).is_none(),
        "no feedback sources"
    );
    let endpoints: Vec<&Element> = m.children().collect();
    assert_eq!(endpoints.len(), 1, "{}", String::from(m));
    assert_eq!(endpoints[0].attr("id"), Some("a1b2c3d4"));
    endpoints[0].clone()
}

/// The `ice:transport` of an answered `endpoint`.
fn answered_ice(endpoint: &Element) -> &Element {
    endpoint
        .get_child("transport", NS_COLIBRI2)
        .and_then(|t| t.get_child("transport", NS_ICE))
        .unwrap_or_else(|| panic!("no transport: {}", String::from(endpoint)))
}

/// Relays (request `id`) a participant transport of `a1b2c3d4` with
/// `ufrag`, tagged with `generation` when given, as the focus does for a
/// session-accept or transport-info.
fn relay_remote(
    b: &mut EmulatedBridge,
    now: Instant,
    id: &str,
    ufrag: &str,
    generation: Option<u32>,
) {
    let generation = generation
        .map(|g| format!(" ice-generation='{g}'"))
        .unwrap_or_default();
    let body = format!(
        "<endpoint id='a1b2c3d4' stats-id='s'><transport>\
           <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='{ufrag}' pwd='{ufrag}pwdpwdpwdpwdpwdpwd'{generation}>\
             <rtcp-mux/>\
             <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='active'>C1:5E:02</fingerprint>\
           </transport>\
         </transport></endpoint>"
    );
    let answer = modify(b, now, id, &meeting(), &body);
    assert_eq!(
        String::from(modified(&answer)),
        "<conference-modified xmlns='jitsi:colibri2'><endpoint id='a1b2c3d4'/></conference-modified>",
        "a transport update answers no transport"
    );
}

/// A bridge with conference MEETING and endpoint `a1b2c3d4`, whose
/// participant transport was relayed (ICE established).
fn with_established_endpoint() -> (EmulatedBridge, Instant) {
    let (mut b, t0) = with_conference();
    relay_remote(&mut b, t0, "sa", "Yh4x", None);
    let ice = b.endpoint_ice(MEETING, "a1b2c3d4").unwrap();
    assert!(ice.established);
    (b, t0)
}

/// The web-socket URL of the create answer of `a1b2c3d4`.
fn created_web_socket(b: &EmulatedBridge) -> String {
    let conf = b.conference(MEETING).unwrap();
    let e = &conf.endpoints["a1b2c3d4"];
    format!(
        "wss://127.0.0.1:8443/colibri-ws/jvb-a/{}/a1b2c3d4?pwd={}",
        conf.id, e.web_socket_pwd
    )
}

#[test]
fn ice_restart_when_established_hands_out_fresh_credentials() {
    let (mut b, t0) = with_established_endpoint();
    let before = b.endpoint(MEETING, "a1b2c3d4").unwrap().local.clone();
    let ice0 = b.endpoint_ice(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(ice0.generation, 0);
    assert_eq!(ice0.ufrag, before.ufrag);
    assert!(!ice0.restart_pending);
    assert_eq!(ice0.remote_generation, None);
    let web_socket = created_web_socket(&b);

    let ep = ice_restart(&mut b, t0, "r1");
    let transport = ep.get_child("transport", NS_COLIBRI2).unwrap();
    assert!(
        transport.get_child("sctp", NS_COLIBRI2).is_none(),
        "not asked"
    );
    let ice = answered_ice(&ep);
    assert_eq!(ice.attr("ice-generation"), Some("1"));
    let ufrag1 = ice.attr("ufrag").unwrap().to_owned();
    let pwd1 = ice.attr("pwd").unwrap().to_owned();
    assert_ne!(ufrag1, before.ufrag);
    assert_ne!(pwd1, before.pwd);
    // Everything else as in an allocation answer.
    let candidate = ice.get_child("candidate", NS_ICE).expect("a candidate");
    assert_eq!(candidate.attr("ip"), Some("127.0.0.1"));
    assert_eq!(candidate.attr("port"), Some("10000"));
    assert!(ice.get_child("rtcp-mux", NS_ICE).is_some());
    let fp = ice.get_child("fingerprint", NS_DTLS).unwrap();
    assert_eq!(fp.attr("hash"), Some("sha-256"));
    assert_eq!(fp.attr("setup"), Some("actpass"));
    assert_eq!(fp.text(), b.fingerprint(), "the same fingerprint");
    let ws = ice.get_child("web-socket", NS_COLIBRI).unwrap();
    assert_eq!(ws.attr("url"), Some(web_socket.as_str()), "unchanged");

    let state = b.endpoint_ice(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(state.generation, 1);
    assert_eq!(state.ufrag, ufrag1);
    assert_eq!(state.pwd, pwd1);
    assert!(state.restart_pending && state.established);
    assert_eq!(state.restarts, 1);
    let e = b.endpoint(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(e.ice_previous.as_ref(), Some(&before));
    assert_eq!(e.ice_restart_deadline, Some(t0 + secs(20)));
    assert_eq!(b.poll_timeout(), Some(t0 + secs(5)), "the publisher first");

    // Asked again before the participant answered: the same restart.
    let again = ice_restart(&mut b, t0, "r2");
    let ice = answered_ice(&again);
    assert_eq!(ice.attr("ice-generation"), Some("1"));
    assert_eq!(ice.attr("ufrag"), Some(ufrag1.as_str()));
    assert_eq!(ice.attr("pwd"), Some(pwd1.as_str()));
    assert_eq!(b.endpoint_ice(MEETING, "a1b2c3d4").unwrap().restarts, 1);

    // The participant's answer (its transport-info tagged with the same
    // generation) completes the restart.
    relay_remote(&mut b, t0, "ti1", "Zt9q", Some(1));
    let state = b.endpoint_ice(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(state.generation, 1);
    assert_eq!(state.ufrag, ufrag1);
    assert!(!state.restart_pending && state.established);
    assert_eq!(state.remote_generation, Some(1));
    let e = b.endpoint(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(e.ice_restart_deadline, None);
    assert_eq!(e.ice_restarts_completed, 1);
    assert_eq!(e.remote.as_ref().unwrap().ice_generation, Some(1));
    assert_eq!(e.remote.as_ref().unwrap().ufrag.as_deref(), Some("Zt9q"));

    // A second restart: generation 2, fresh credentials again.
    let ep = ice_restart(&mut b, t0, "r3");
    let ice = answered_ice(&ep);
    assert_eq!(ice.attr("ice-generation"), Some("2"));
    assert_ne!(ice.attr("ufrag"), Some(ufrag1.as_str()));
    assert_ne!(ice.attr("ufrag"), Some(before.ufrag.as_str()));
    let state = b.endpoint_ice(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(state.generation, 2);
    assert_eq!(Some(state.ufrag.as_str()), ice.attr("ufrag"));
    assert_eq!(state.remote_generation, Some(1));
    let e = b.endpoint(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(e.ice_restart_requests, 3);
    assert_eq!(e.ice_restarts, 2);

    let outcomes: Vec<IceRestartOutcome> = std::iter::from_fn(|| b.poll_event())
        .filter_map(|e| match e {
            EmulatorEvent::IceRestart {
                meeting_id,
                endpoint,
                outcome,
            } => {
                assert_eq!(
                    (meeting_id.as_str(), endpoint.as_str()),
                    (MEETING, "a1b2c3d4")
                );
                Some(outcome)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            IceRestartOutcome::Started(1),
            IceRestartOutcome::StillPending(1),
            IceRestartOutcome::Completed(1),
            IceRestartOutcome::Started(2),
        ]
    );
}

#[test]
fn ice_restart_echoes_sctp_when_asked() {
    let (mut b, t0) = with_established_endpoint();
    let body =
        "<endpoint id='a1b2c3d4'><transport ice-restart='true'><sctp/></transport></endpoint>";
    let answer = modify(&mut b, t0, "r1", &meeting(), body);
    let ep = modified(&answer)
        .get_child("endpoint", NS_COLIBRI2)
        .unwrap();
    assert_eq!(answered_ice(ep).attr("ice-generation"), Some("1"));
    let sctp = ep
        .get_child("transport", NS_COLIBRI2)
        .and_then(|t| t.get_child("sctp", NS_COLIBRI2))
        .expect("sctp");
    assert_eq!(sctp.attr("port"), Some("5000"));
    assert_eq!(sctp.attr("role"), Some("server"));
}

#[test]
fn ice_restart_before_established_keeps_the_transport() {
    let (mut b, t0) = with_conference();
    let before = b.endpoint(MEETING, "a1b2c3d4").unwrap().local.clone();
    let web_socket = created_web_socket(&b);
    let ep = ice_restart(&mut b, t0, "r1");
    let ice = answered_ice(&ep);
    assert_eq!(ice.attr("ice-generation"), None, "nothing rotated");
    assert_eq!(ice.attr("ufrag"), Some(before.ufrag.as_str()));
    assert_eq!(ice.attr("pwd"), Some(before.pwd.as_str()));
    assert!(ice.get_child("candidate", NS_ICE).is_some());
    assert!(ice.get_child("rtcp-mux", NS_ICE).is_some());
    let fp = ice.get_child("fingerprint", NS_DTLS).unwrap();
    assert_eq!(fp.attr("setup"), Some("actpass"));
    assert_eq!(fp.text(), b.fingerprint());
    let ws = ice.get_child("web-socket", NS_COLIBRI).unwrap();
    assert_eq!(ws.attr("url"), Some(web_socket.as_str()));

    let state = b.endpoint_ice(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(state.generation, 0);
    assert_eq!(state.ufrag, before.ufrag);
    assert!(!state.established && !state.restart_pending);
    assert_eq!(state.restarts, 0);
    assert_eq!(b.endpoint(MEETING, "a1b2c3d4").unwrap().local, before);
    assert_eq!(b.poll_timeout(), Some(t0 + secs(5)), "no restart timer");

    // A transport without credentials does not establish it either.
    let body = "<endpoint id='a1b2c3d4'><transport>\
        <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><rtcp-mux/></transport>\
      </transport></endpoint>";
    modified(&modify(&mut b, t0, "u1", &meeting(), body));
    assert!(!b.endpoint_ice(MEETING, "a1b2c3d4").unwrap().established);
    let ep = ice_restart(&mut b, t0, "r2");
    assert_eq!(answered_ice(&ep).attr("ice-generation"), None);

    // Once the participant's transport is relayed, a restart rotates.
    relay_remote(&mut b, t0, "sa", "Yh4x", None);
    let ep = ice_restart(&mut b, t0, "r3");
    assert_eq!(answered_ice(&ep).attr("ice-generation"), Some("1"));
    assert_ne!(answered_ice(&ep).attr("ufrag"), Some(before.ufrag.as_str()));
}

#[test]
fn ice_restart_disabled_answers_no_transport() {
    let (mut b, t0) = with_established_endpoint();
    assert!(b.is_ice_restart_enabled());
    b.control(t0, Control::IceRestart(false));
    assert!(!b.is_ice_restart_enabled());
    assert!(drain(&mut b).is_empty(), "nothing to republish");
    let before = b.endpoint(MEETING, "a1b2c3d4").unwrap().clone();

    let answer = modify(&mut b, t0, "r1", &meeting(), &ice_restart_body("a1b2c3d4"));
    assert_eq!(
        String::from(modified(&answer)),
        "<conference-modified xmlns='jitsi:colibri2'><endpoint id='a1b2c3d4'/></conference-modified>",
        "declined: the endpoint without a transport, not an error"
    );
    let after = b.endpoint(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(after.local, before.local);
    assert_eq!(after.ice_previous, None);
    assert_eq!(after.ice_restarts, 0);
    assert_eq!(after.ice_restart_requests, 1);
    assert_eq!(b.endpoint_ice(MEETING, "a1b2c3d4").unwrap().generation, 0);
    assert_eq!(b.totals().errors, 0);
    assert!(std::iter::from_fn(|| b.poll_event()).any(|e| e
        == EmulatorEvent::IceRestart {
            meeting_id: MEETING.to_owned(),
            endpoint: "a1b2c3d4".to_owned(),
            outcome: IceRestartOutcome::Declined,
        }));

    // Declined even while not established (JVB checks this first).
    modified(&add_endpoint(&mut b, t0, "c2", "e2"));
    let answer = modify(&mut b, t0, "r2", &meeting(), &ice_restart_body("e2"));
    let ep = modified(&answer)
        .get_child("endpoint", NS_COLIBRI2)
        .unwrap();
    assert!(ep.get_child("transport", NS_COLIBRI2).is_none());

    // Enabled again: restarts work.
    b.control(t0, Control::IceRestart(true));
    let ep = ice_restart(&mut b, t0, "r3");
    assert_eq!(answered_ice(&ep).attr("ice-generation"), Some("1"));
}

#[test]
fn ice_restart_disabled_from_the_options_or_by_a_zero_timeout() {
    for (enabled, timeout) in [(false, secs(20)), (true, Duration::ZERO)] {
        let mut o = options();
        o.ice_restart = enabled;
        o.ice_restart_timeout = timeout;
        let (mut b, t0) = started_with(o);
        assert_eq!(b.is_ice_restart_enabled(), enabled);
        modified(&create_conference(&mut b, t0, "a1b2c3d4"));
        relay_remote(&mut b, t0, "sa", "Yh4x", None);
        let ep = ice_restart(&mut b, t0, "r1");
        assert!(ep.get_child("transport", NS_COLIBRI2).is_none());
    }
}

#[test]
fn ice_restart_for_an_unknown_endpoint() {
    let (mut b, t0) = with_established_endpoint();
    for on in [true, false] {
        b.control(t0, Control::IceRestart(on));
        let answer = modify(&mut b, t0, "r1", &meeting(), &ice_restart_body("e5f6a7b8"));
        let text = assert_error(
            &answer,
            "item-not-found",
            "cancel",
            Some("unknown_endpoint"),
        );
        assert_eq!(text, "Endpoint not found for ID: e5f6a7b8");
        let ep = answer
            .get_child("error", NS_CLIENT)
            .and_then(|e| e.get_child("endpoint", NS_COLIBRI2))
            .expect("endpoint child");
        assert_eq!(ep.attr("id"), Some("e5f6a7b8"));
    }
    assert_eq!(b.endpoint_ice(MEETING, "e5f6a7b8"), None);
    assert_eq!(b.endpoint_ice("other-meeting", "a1b2c3d4"), None);
    // In an unknown conference: the conference error.
    let answer = modify(
        &mut b,
        t0,
        "r2",
        "meeting-id='nope'",
        &ice_restart_body("a1b2c3d4"),
    );
    assert_error(
        &answer,
        "item-not-found",
        "cancel",
        Some("conference_not_found"),
    );
}

#[test]
fn ice_restart_is_not_armed_by_a_failing_request() {
    let (mut b, t0) = with_established_endpoint();
    let body = "<endpoint id='a1b2c3d4'><transport ice-restart='true'/>\
        <initial-last-n value='many'/></endpoint>";
    let answer = modify(&mut b, t0, "r1", &meeting(), body);
    assert_error(&answer, "bad-request", "modify", None);
    let state = b.endpoint_ice(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(state.generation, 0);
    assert!(!state.restart_pending);
}

#[test]
fn unanswered_ice_restart_is_given_up() {
    let (mut b, t0) = with_established_endpoint();
    let before = b.endpoint(MEETING, "a1b2c3d4").unwrap().local.clone();
    let ep = ice_restart(&mut b, t0, "r1");
    let ufrag1 = answered_ice(&ep).attr("ufrag").unwrap().to_owned();

    // Neither an untagged update nor an answer for another generation
    // completes it.
    relay_remote(&mut b, t0 + secs(1), "ti0", "Yh4x", None);
    relay_remote(&mut b, t0 + secs(1), "ti1", "Old1", Some(7));
    let state = b.endpoint_ice(MEETING, "a1b2c3d4").unwrap();
    assert!(state.restart_pending);
    assert_eq!(state.generation, 1);
    assert_eq!(state.remote_generation, Some(7), "the latest relayed");

    // Due at t0 + 20 s (the publisher is due every 5 s before that).
    let mut now = t0;
    while let Some(due) = b.poll_timeout() {
        if due > t0 + secs(20) {
            break;
        }
        now = due;
        b.handle_timeout(now);
    }
    assert_eq!(now, t0 + secs(20));
    let state = b.endpoint_ice(MEETING, "a1b2c3d4").unwrap();
    assert!(!state.restart_pending && state.established);
    assert_eq!(state.generation, 0, "the old agent again");
    assert_eq!(state.ufrag, before.ufrag);
    let e = b.endpoint(MEETING, "a1b2c3d4").unwrap();
    assert_eq!(e.ice_restarts_abandoned, 1);
    assert_eq!(e.ice_restart_deadline, None);
    assert!(std::iter::from_fn(|| b.poll_event()).any(|e| matches!(
        e,
        EmulatorEvent::IceRestart {
            outcome: IceRestartOutcome::Abandoned(1),
            ..
        }
    )));

    // The next restart gets the next generation, and new credentials.
    let ep = ice_restart(&mut b, now, "r2");
    let ice = answered_ice(&ep);
    assert_eq!(ice.attr("ice-generation"), Some("2"));
    assert_ne!(ice.attr("ufrag"), Some(ufrag1.as_str()));
    assert_ne!(ice.attr("ufrag"), Some(before.ufrag.as_str()));

    // Expiring the endpoint drops its restart timer: the publisher's is
    // the only one left.
    assert_eq!(b.poll_timeout(), Some(t0 + secs(25)));
    modified(&add_endpoint(&mut b, now, "c2", "e2"));
    modified(&modify(
        &mut b,
        now,
        "x1",
        &meeting(),
        "<endpoint id='a1b2c3d4' expire='true'/>",
    ));
    assert_eq!(b.poll_timeout(), Some(t0 + secs(25)));
    b.stop(now);
    assert_eq!(b.poll_timeout(), None);
}

#[test]
fn conference_expire() {
    let (mut b, t0) = with_conference();
    let answer = modify(
        &mut b,
        t0,
        "e1",
        &format!("{} expire='true'", meeting()),
        "",
    );
    assert_eq!(
        String::from(modified(&answer)),
        "<conference-modified xmlns='jitsi:colibri2'/>"
    );
    assert_eq!(b.conference_count(), 0);
    assert!(b.endpoints(MEETING).is_empty());
    let answer = modify(
        &mut b,
        t0,
        "e2",
        &format!("{} expire='true'", meeting()),
        "",
    );
    assert_conference_not_found(&answer);
}

// ---------------------------------------------------------------------------
// COLIBRI2 errors

#[test]
fn unknown_conference_without_create() {
    let (mut b, t0) = started();
    let answer = add_endpoint(&mut b, t0, "n1", "e1");
    assert_conference_not_found(&answer);
    assert_answers_the_focus(&answer);
    assert_eq!(b.conference_count(), 0);
    assert_eq!(b.totals().errors, 1);
}

#[test]
fn create_of_an_existing_conference() {
    let (mut b, t0) = with_conference();
    let answer = modify(&mut b, t0, "d1", &create_attrs(), &create_endpoint("e2"));
    let text = assert_error(
        &answer,
        "conflict",
        "cancel",
        Some("conference_already_exists"),
    );
    assert_eq!(text, format!("Conference already exists for ID: {MEETING}"));
    assert_eq!(b.endpoint_count(), 1, "nothing was added");
}

#[test]
fn graceful_shutdown_refuses_new_conferences_only() {
    for control in [Control::GracefulShutdown, Control::ShuttingDown] {
        let (mut b, t0) = with_conference();
        b.control(t0, control.clone());
        let answer = modify(
            &mut b,
            t0,
            "g1",
            "meeting-id='other' create='true'",
            &create_endpoint("e1"),
        );
        let text = assert_error(
            &answer,
            "service-unavailable",
            "cancel",
            Some("graceful_shutdown"),
        );
        assert_eq!(text, "In graceful shutdown");
        assert!(b.conference("other").is_none());
        // The running conference still takes endpoints.
        modified(&add_endpoint(&mut b, t0, "g2", "e2"));
        assert_eq!(b.endpoint_count(), 2, "{control:?}");
    }
}

#[test]
fn drain_does_not_refuse_conferences() {
    let (mut b, t0) = started();
    b.control(t0, Control::Drain(true));
    modified(&create_conference(&mut b, t0, "e1"));
}

#[test]
fn unknown_endpoint_update() {
    let (mut b, t0) = with_conference();
    let answer = modify(
        &mut b,
        t0,
        "u1",
        &meeting(),
        "<endpoint id='e5f6a7b8' stats-id='x'><sources/></endpoint>",
    );
    let text = assert_error(
        &answer,
        "item-not-found",
        "cancel",
        Some("unknown_endpoint"),
    );
    assert_eq!(text, "Endpoint not found for ID: e5f6a7b8");
    let error = answer.get_child("error", NS_CLIENT).unwrap();
    let ep = error
        .get_child("endpoint", NS_COLIBRI2)
        .expect("endpoint child");
    assert_eq!(ep.attr("id"), Some("e5f6a7b8"));
    // The conference stays (errors never auto-expire).
    assert_eq!(b.conference_count(), 1);
}

#[test]
fn duplicate_endpoint_create() {
    let (mut b, t0) = with_conference();
    let answer = add_endpoint(&mut b, t0, "d1", "a1b2c3d4");
    let text = assert_error(&answer, "conflict", "cancel", None);
    assert!(text.contains("a1b2c3d4"), "{text}");
}

#[test]
fn bad_requests() {
    let cases: Vec<(String, String, &str)> = vec![
        (
            meeting(),
            "<endpoint id='n' create='true'><sources/><capability name='source-names'/></endpoint>"
                .into(),
            "Attempt to create endpoint n with no <transport>",
        ),
        (
            meeting(),
            "<endpoint id='n' create='true'><transport/><sources/></endpoint>".into(),
            "Source name support is mandatory.",
        ),
        (
            meeting(),
            "<endpoint id='n' create='true'><transport><sctp port='5001'/></transport>\
             <capability name='source-names'/></endpoint>"
                .into(),
            "Specific SCTP port requested, not supported.",
        ),
        (
            meeting(),
            "<endpoint id='n' create='true' muc-role='visitor'><transport/>\
             <sources><media-source type='audio' id='n-a0'>\
               <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='1'/></media-source></sources>\
             <capability name='source-names'/></endpoint>"
                .into(),
            "Attempt to set sources for visitor endpoint n",
        ),
        (
            meeting(),
            "<endpoint id='a1b2c3d4'><sources><media-source type='video' id='v'>\
               <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='4294967296'/>\
             </media-source></sources></endpoint>"
                .into(),
            "Invalid ssrc: \"4294967296\"",
        ),
        (
            meeting(),
            "<endpoint id='a1b2c3d4' muc-role='king'/>".into(),
            "Invalid muc-role: king",
        ),
        (
            meeting(),
            "<endpoint/>".into(),
            "Missing endpoint id",
        ),
        (
            meeting(),
            "<relay id='relay-b'><transport/></relay>".into(),
            "Unknown relay relay-b",
        ),
        (
            meeting(),
            "<relay id='relay-b' create='true'/>".into(),
            "Attempt to create relay relay-b with no <transport>",
        ),
        (
            "meeting-id='x' create='true' name='not a jid/with resource'".into(),
            String::new(),
            "Invalid conference name (not a JID)",
        ),
        (
            "meeting-id='x' create='true' name='muc.meet.jitsi'".into(),
            String::new(),
            "Invalid conference name (not a JID)",
        ),
        ("create='true'".into(), String::new(), "Missing meeting-id"),
        (
            meeting(),
            "<connects><connect id='t' url='https://example.com' type='transcriber'/></connects>"
                .into(),
            "Invalid connect URL (not ws/wss): https://example.com",
        ),
        (
            meeting(),
            "<connects><connect id='t' url='wss://a'/><connect id='t' url='wss://b'/></connects>"
                .into(),
            "Duplicate connect: t",
        ),
        (
            meeting(),
            "<connects><connect id='t' url='wss://a'><http-header name='X Bad' value='1'/></connect></connects>"
                .into(),
            "Invalid HTTP header name: \"X Bad\"",
        ),
    ];
    for (i, (attrs, body, expected)) in cases.into_iter().enumerate() {
        let (mut b, t0) = with_conference();
        let answer = modify(&mut b, t0, &format!("b{i}"), &attrs, &body);
        let text = assert_error(&answer, "bad-request", "modify", None);
        assert_eq!(text, expected, "case {i}: {attrs} {body}");
    }
}

#[test]
fn request_shapes_jvb_does_not_implement() {
    let cases = [
        (
            "<endpoint id='a1b2c3d4' expire='true'/><relay id='r' expire='true'/>".to_owned(),
            "Using both 'relay' and 'endpoint' in a request",
        ),
        (
            format!("{}{}", create_endpoint("e2"), create_endpoint("e3")),
            "Multiple endpoints in a request, one of them with create, media, transport or sources",
        ),
        (
            "<endpoint id='a1b2c3d4'><sources/></endpoint><endpoint id='x' expire='true'/>"
                .to_owned(),
            "Multiple endpoints in a request, one of them with create, media, transport or sources",
        ),
        (
            "<relay id='r1' expire='true'/><relay id='r2' expire='true'/>".to_owned(),
            "Multiple relays in a request",
        ),
        (
            "<endpoint id='e2' create='true'><transport><sctp role='client'/></transport>\
             <capability name='source-names'/></endpoint>"
                .to_owned(),
            "Unsupported SCTP role: client",
        ),
    ];
    for (body, expected) in cases {
        let (mut b, t0) = with_conference();
        let answer = modify(&mut b, t0, "f1", &meeting(), &body);
        let text = assert_error(
            &answer,
            "feature-not-implemented",
            "cancel",
            Some("feature_not_implemented"),
        );
        assert_eq!(text, expected);
    }
}

#[test]
fn an_error_keeps_what_was_done_before_it() {
    // JVB does not roll back: the conference of a failed create stays.
    let (mut b, t0) = started();
    let answer = modify(
        &mut b,
        t0,
        "c1",
        &create_attrs(),
        "<endpoint id='e1' create='true'><sources/></endpoint>",
    );
    assert_error(&answer, "bad-request", "modify", None);
    assert_eq!(b.conference_count(), 1);
    assert_eq!(b.endpoint_count(), 0);
}

// ---------------------------------------------------------------------------
// COLIBRI2: relays and connects

const RELAY_CREATE_INITIATOR: &str = "\
  <relay id='relay-b' mesh-id='0' create='true'>\
    <media type='audio'><payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='111' name='opus' clockrate='48000'/></media>\
    <media type='video'><payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='100' name='VP8' clockrate='90000'/></media>\
    <transport use-unique-port='true' ice-controlling='true'><sctp role='client'/></transport>\
    <endpoints>\
      <endpoint id='c9d0e1f2' create='true' stats-id='Carol-Mv3'>\
        <sources><media-source type='audio' id='c9d0e1f2-a0'>\
          <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='11' name='c9d0e1f2-a0'/>\
        </media-source></sources>\
        <capability name='source-names'/>\
      </endpoint>\
    </endpoints>\
  </relay>";

#[test]
fn relay_create_update_and_expire() {
    let (mut b, t0) = with_conference();
    let answer = modify(&mut b, t0, "r1", &meeting(), RELAY_CREATE_INITIATOR);
    let m = modified(&answer);
    let names: Vec<&str> = m.children().map(|c| c.name()).collect();
    assert_eq!(names, ["relay"], "no feedback sources for a relay");
    let relay_el = m.get_child("relay", NS_COLIBRI2).unwrap();
    assert_eq!(relay_el.attr("id"), Some("relay-b"));
    let transport = relay_el.get_child("transport", NS_COLIBRI2).unwrap();
    let ice = transport.get_child("transport", NS_ICE).unwrap();
    let relay = b.relay(MEETING, "relay-b").unwrap().clone();
    assert_eq!(ice.attr("ufrag"), Some(relay.local.ufrag.as_str()));
    assert_eq!(
        ice.get_child("candidate", NS_ICE).unwrap().attr("port"),
        Some("10001"),
        "use-unique-port: a port of its own"
    );
    let conf_id = b.conference(MEETING).unwrap().id.clone();
    assert_eq!(
        ice.get_child("web-socket", NS_COLIBRI)
            .unwrap()
            .attr("url")
            .unwrap(),
        format!(
            "wss://127.0.0.1:8443/colibri-relay-ws/jvb-a/{conf_id}/relay-b?pwd={}",
            relay.local.pwd
        )
    );
    let sctp = transport.get_child("sctp", NS_COLIBRI2).unwrap();
    assert_eq!(sctp.attr("port"), Some("5000"));
    assert_eq!(sctp.attr("role"), Some("server"), "the opposite of client");
    assert_eq!(relay.mesh_id.as_deref(), Some("0"));
    assert!(relay.ice_controlling && relay.use_unique_port);
    assert_eq!(relay.sctp_role.as_deref(), Some("server"));
    assert_eq!(relay.payload_types.len(), 2);
    let carol = &relay.endpoints["c9d0e1f2"];
    assert_eq!(carol.stats_id.as_deref(), Some("Carol-Mv3"));
    assert_eq!(carol.sources[0].sources[0].ssrc, 11);
    assert_eq!(b.relay_count(), 1);

    // Stats now count the relay and its remote endpoint.
    b.handle_timeout(t0 + secs(5));
    let p = b.poll_stanza().unwrap();
    assert_eq!(stat(&p, "octo_endpoints").as_deref(), Some("1"));
    assert_eq!(stat(&p, "endpoints").as_deref(), Some("2"));
    assert_eq!(stat(&p, "participants").as_deref(), Some("1"));
    assert_eq!(stat(&p, "octo_conferences").as_deref(), Some("1"));

    // The other bridge's transport, forwarded by the focus.
    let body = "<relay id='relay-b'><transport>\
        <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='9d2kq0' pwd='70bq5xxxxxxxxxxxxxxxxxxx'>\
          <candidate component='1' foundation='1' generation='0' id='77a0' network='0' priority='1' protocol='udp' type='host' ip='10.0.0.11' port='41532'/>\
          <rtcp-mux/>\
          <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='active'>0B:72:9F</fingerprint>\
        </transport></transport></relay>";
    let answer = modify(&mut b, t0, "r2", &meeting(), body);
    assert_eq!(
        String::from(modified(&answer)),
        "<conference-modified xmlns='jitsi:colibri2'><relay id='relay-b'/></conference-modified>"
    );
    let remote = b.relay(MEETING, "relay-b").unwrap().remote.clone().unwrap();
    assert_eq!(remote.ufrag.as_deref(), Some("9d2kq0"));
    assert_eq!(remote.setup.as_deref(), Some("active"));

    // Remote endpoints: a new one, a source update, an expire, and an
    // update for one the relay does not have (ignored).
    let body = "<relay id='relay-b'><endpoints>\
        <endpoint id='d1' create='true' stats-id='Dave'><sources/></endpoint>\
        <endpoint id='c9d0e1f2'><sources><media-source type='video' id='c9d0e1f2-v0'>\
          <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='12'/></media-source></sources></endpoint>\
        <endpoint id='nobody'><sources/></endpoint>\
      </endpoints></relay>";
    modified(&modify(&mut b, t0, "r3", &meeting(), body));
    let relay = b.relay(MEETING, "relay-b").unwrap();
    assert_eq!(
        relay.endpoints.keys().collect::<Vec<_>>(),
        ["c9d0e1f2", "d1"]
    );
    assert_eq!(relay.endpoints["c9d0e1f2"].sources[0].media_type, "video");
    let body =
        "<relay id='relay-b'><endpoints><endpoint id='d1' expire='true'/></endpoints></relay>";
    modified(&modify(&mut b, t0, "r4", &meeting(), body));
    assert_eq!(b.relay(MEETING, "relay-b").unwrap().endpoints.len(), 1);

    // Duplicate create.
    let answer = modify(&mut b, t0, "r5", &meeting(), RELAY_CREATE_INITIATOR);
    assert_error(&answer, "conflict", "cancel", None);

    // Expire; an unknown relay's expire is fine.
    let answer = modify(
        &mut b,
        t0,
        "r6",
        &meeting(),
        "<relay id='relay-b' expire='true'/>",
    );
    assert_eq!(
        String::from(modified(&answer)),
        "<conference-modified xmlns='jitsi:colibri2'><relay expire='true' id='relay-b'/></conference-modified>"
    );
    assert_eq!(b.relay_count(), 0);
    let answer = modify(
        &mut b,
        t0,
        "r7",
        &meeting(),
        "<relay id='relay-x' expire='true'/>",
    );
    modified(&answer);
    assert_eq!(b.conference_count(), 1, "the endpoint keeps it alive");
}

#[test]
fn relay_responder_side_and_auto_expire() {
    let (mut b, t0) = started();
    modified(&modify(&mut b, t0, "c1", &create_attrs(), ""));
    let body = "<relay id='relay-a' mesh-id='0' create='true'>\
        <transport><sctp role='server'/></transport></relay>";
    let answer = modify(&mut b, t0, "r1", &meeting(), body);
    let transport = modified(&answer)
        .get_child("relay", NS_COLIBRI2)
        .and_then(|r| r.get_child("transport", NS_COLIBRI2))
        .unwrap();
    assert_eq!(
        transport
            .get_child("sctp", NS_COLIBRI2)
            .unwrap()
            .attr("role"),
        Some("client")
    );
    let port = transport
        .get_child("transport", NS_ICE)
        .and_then(|i| i.get_child("candidate", NS_ICE))
        .and_then(|c| c.attr("port"));
    assert_eq!(
        port,
        Some("10000"),
        "the shared port without use-unique-port"
    );
    let relay = b.relay(MEETING, "relay-a").unwrap();
    assert!(!relay.ice_controlling && !relay.use_unique_port);
    // Without SCTP: no sctp in the answer.
    let answer = modify(
        &mut b,
        t0,
        "r2",
        &meeting(),
        "<relay id='relay-c' create='true'><transport/></relay>",
    );
    let relay_el = modified(&answer).get_child("relay", NS_COLIBRI2).unwrap();
    assert!(
        relay_el
            .get_child("transport", NS_COLIBRI2)
            .unwrap()
            .get_child("sctp", NS_COLIBRI2)
            .is_none()
    );
    // Both relays go, no endpoints: the conference goes.
    for (id, relay) in [("x1", "relay-a"), ("x2", "relay-c")] {
        modified(&modify(
            &mut b,
            t0,
            id,
            &meeting(),
            &format!("<relay id='{relay}' expire='true'/>"),
        ));
    }
    assert_eq!(b.conference_count(), 0);
}

#[test]
fn connects_are_kept_per_conference() {
    let (mut b, t0) = with_conference();
    let body = "<connects>\
        <connect id='transcriber' url='wss://transcriber.example/ws' protocol='mediajson' type='transcriber' audio='true' create='true'>\
          <http-header name='Authorization' value='Bearer x'/>\
          <ping interval='1000' timeout='5000'/>\
        </connect></connects>";
    modified(&modify(&mut b, t0, "k1", &meeting(), body));
    let conf = b.conference(MEETING).unwrap();
    let t = &conf.connects["transcriber"];
    assert_eq!(t.url, "wss://transcriber.example/ws");
    assert_eq!(t.kind.as_deref(), Some("transcriber"));
    assert_eq!(t.protocol.as_deref(), Some("mediajson"));
    assert!(t.audio && !t.video);
    assert_eq!(
        t.headers,
        [("Authorization".to_owned(), "Bearer x".to_owned())]
    );
    // A second create for the same id is refused.
    let answer = modify(&mut b, t0, "k2", &meeting(), body);
    let text = assert_error(&answer, "bad-request", "modify", None);
    assert_eq!(text, "Connect already exists: transcriber");
    // Expire.
    let body = "<connects><connect id='transcriber' url='wss://transcriber.example/ws' expire='true'/></connects>";
    modified(&modify(&mut b, t0, "k3", &meeting(), body));
    assert!(b.conference(MEETING).unwrap().connects.is_empty());
}

#[test]
fn accessors_on_unknown_conferences_are_empty() {
    let (b, _) = started();
    assert!(b.conferences().is_empty());
    assert!(b.conference("nope").is_none());
    assert!(b.endpoints("nope").is_empty());
    assert!(b.relays("nope").is_empty());
    assert!(b.endpoint("nope", "e").is_none());
    assert!(b.relay("nope", "r").is_none());
    assert_eq!(
        (b.conference_count(), b.endpoint_count(), b.relay_count()),
        (0, 0, 0)
    );
}

#[test]
fn events_describe_the_colibri2_traffic() {
    let (mut b, t0) = started();
    while b.poll_event().is_some() {}
    modified(&create_conference(&mut b, t0, "e1"));
    modify(&mut b, t0, "c2", &create_attrs(), "");
    modified(&modify(
        &mut b,
        t0,
        "c3",
        &meeting(),
        "<endpoint id='e1' expire='true'/>",
    ));
    let events: Vec<EmulatorEvent> = std::iter::from_fn(|| b.poll_event()).collect();
    assert_eq!(
        events,
        [
            EmulatorEvent::ConferenceCreated {
                meeting_id: MEETING.into(),
                name: Some("myroom@muc.meet.jitsi".into())
            },
            EmulatorEvent::EndpointCreated {
                meeting_id: MEETING.into(),
                endpoint: "e1".into()
            },
            EmulatorEvent::Colibri2Error {
                meeting_id: MEETING.into(),
                condition: "conflict".into(),
                text: format!("Conference already exists for ID: {MEETING}")
            },
            EmulatorEvent::EndpointExpired {
                meeting_id: MEETING.into(),
                endpoint: "e1".into()
            },
            EmulatorEvent::ConferenceExpired {
                meeting_id: MEETING.into(),
                explicit: false
            },
        ]
    );
}

#[test]
fn the_event_queue_is_bounded() {
    let (mut b, t0) = started();
    for i in 0..(EmulatedBridge::MAX_EVENTS as u64 + 100) {
        b.handle_timeout(t0 + secs(5 * (i + 1)));
    }
    assert_eq!(
        std::iter::from_fn(|| b.poll_event()).count(),
        EmulatedBridge::MAX_EVENTS
    );
}
