//! The `bridge-emulator` binary end to end, against a real Prosody shaped
//! like docker-jitsi-meet: two emulated bridges (regions `us-east` and
//! `eu-west`) log in as `jvb@auth.meet.jitsi` and join
//! `jvbbrewery@internal-muc.meet.jitsi`; a test client logged in as the
//! focus account plays the focus:
//!
//! - it joins the brewery and reads both bridges' stats presences (parsed
//!   with the focus's own `BridgeStats::parse`);
//! - a health-check IQ to an occupant JID is answered `result` through the
//!   MUC; after `unresponsive on` it is not answered at all (while the
//!   presence keeps coming), after `unresponsive off` again;
//! - a COLIBRI2 conference create with one endpoint comes back with the
//!   endpoint's transport and the feedback sources, an update for an
//!   unknown conference with JVB's error, and the conference expires;
//! - `quit` leaves the brewery cleanly, a crash too (Prosody's doing).
//!
//! No focus process runs here (tests of the focus against emulators live
//! elsewhere). Skipped (with a message) when Prosody is not installed,
//! unless `FOCUS_E2E_REQUIRED` is set.

use std::time::Duration;

use focus_proto::ext::brewery::BridgeStats;
use focus_tests::e2e::{BridgeEmulatorProcess, Prosody, ProsodyOptions, brewery_jid, e2e_enabled};
use focus_tests::emulator::BridgeOptions;
use focus_tests::xmpp_client::TestClient;
use minidom::Element;

/// Generous for a slow CI machine; the normal case takes a second.
const WAIT: Duration = Duration::from_secs(30);
/// How long an unanswered IQ is watched for.
const SILENCE: Duration = Duration::from_secs(4);

const NS_COLIBRI: &str = "http://jitsi.org/protocol/colibri";
const NS_COLIBRI2: &str = "jitsi:colibri2";
const NS_ICE: &str = "urn:xmpp:jingle:transports:ice-udp:1";
const NS_DTLS: &str = "urn:xmpp:jingle:apps:dtls:0";
const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";

const MEETING_ID: &str = "5c1a9a3e-2f4b-4b8e-9d0c-1f7d2e6a4b10";

fn el(xml: &str) -> Element {
    xml.parse()
        .unwrap_or_else(|e| panic!("bad XML in the test: {e}: {xml}"))
}

fn bridge(brewery: &str, nick: &str, region: &str, relay_id: &str, seed: u64) -> BridgeOptions {
    let mut o = BridgeOptions::new(brewery, nick);
    o.region = Some(region.into());
    o.relay_id = Some(relay_id.into());
    o.seed = seed;
    o.stats_interval = Duration::from_secs(1);
    o
}

fn health_check(id: &str, to: &str) -> Element {
    el(&format!(
        "<iq xmlns='jabber:client' type='get' id='{id}' to='{to}'>\
           <healthcheck xmlns='http://jitsi.org/protocol/healthcheck'/>\
         </iq>"
    ))
}

fn is_answer(s: &Element, id: &str) -> bool {
    s.name() == "iq"
        && s.attr("id") == Some(id)
        && matches!(s.attr("type"), Some("result" | "error"))
}

/// The next stats presence from `occupant`.
fn stats_presence(focus: &mut TestClient, occupant: &str) -> Element {
    focus
        .wait_for(WAIT, |s| {
            s.name() == "presence"
                && s.attr("from") == Some(occupant)
                && s.attr("type").is_none()
                && s.get_child("stats", NS_COLIBRI).is_some()
        })
        .unwrap_or_else(|e| panic!("no stats presence from {occupant}: {e}"))
}

/// Waits for the unavailable presence of `occupant` (it left the brewery);
/// panics with `what` when none comes.
fn wait_unavailable(focus: &mut TestClient, occupant: &str, what: &str) {
    focus
        .wait_for(WAIT, |s| {
            s.name() == "presence"
                && s.attr("from") == Some(occupant)
                && s.attr("type") == Some("unavailable")
        })
        .expect(what);
}

#[test]
fn two_emulators_join_the_brewery_and_answer_health_and_colibri2() {
    if !e2e_enabled() {
        return;
    }
    let prosody = Prosody::start(ProsodyOptions::default());
    let brewery = brewery_jid(&prosody);
    let us = bridge(&brewery, "jvb-us", "us-east", "relay-us", 1);
    let eu = bridge(&brewery, "jvb-eu", "eu-west", "relay-eu", 2);
    let mut jvb_us = BridgeEmulatorProcess::spawn(&prosody, &us);
    let mut jvb_eu = BridgeEmulatorProcess::spawn(&prosody, &eu);
    assert!(
        jvb_us.wait_ready(WAIT),
        "jvb-us never joined:\n{}",
        jvb_us.logs()
    );
    assert!(
        jvb_eu.wait_ready(WAIT),
        "jvb-eu never joined:\n{}",
        jvb_eu.logs()
    );
    let us_jid = jvb_us.occupant_jid().to_owned();
    let eu_jid = jvb_eu.occupant_jid().to_owned();
    assert_eq!(us_jid, format!("{brewery}/jvb-us"));

    // The focus account joins the brewery and sees both bridges' stats.
    let mut focus = TestClient::login(
        prosody.xmpp_port(),
        &prosody.ca_cert(),
        prosody.auth_domain(),
        "focus",
        prosody.focus_password(),
    )
    .expect("the focus account logs in");
    focus
        .send(&el(&format!(
            "<presence xmlns='jabber:client' to='{brewery}/focus'>\
               <x xmlns='http://jabber.org/protocol/muc'/>\
             </presence>"
        )))
        .expect("send the brewery join");
    for (jid, opts) in [(&us_jid, &us), (&eu_jid, &eu)] {
        let presence = stats_presence(&mut focus, jid);
        let stats = BridgeStats::parse(&presence).expect("the focus's parser reads it");
        assert_eq!(stats.region, opts.region, "{}", String::from(&presence));
        assert_eq!(stats.relay_id, opts.relay_id);
        assert_eq!(stats.version.as_deref(), Some(opts.version.as_str()));
        assert_eq!(stats.drain, Some(false));
        assert_eq!(stats.healthy, Some(true));
        assert_eq!(stats.graceful_shutdown, Some(false));
        assert_eq!(stats.shutting_down, Some(false));
        assert_eq!(stats.stress_level, Some(0.0));
        assert_eq!(stats.average_participant_stress, Some(0.01));
        assert_eq!(stats.conferences, Some(0));
        // The MUC shows the bridge's real JID to the focus (whois anyone
        // or not, the focus is an admin).
        let real = presence
            .get_child("x", NS_MUC_USER)
            .and_then(|x| x.get_child("item", NS_MUC_USER))
            .and_then(|i| i.attr("jid"))
            .unwrap_or_default();
        assert!(real.starts_with(prosody.jvb_jid()), "{real}");
    }

    // Health check through the MUC: result, from the occupant JID.
    let answer = focus
        .iq(&health_check("hc-1", &us_jid), WAIT)
        .expect("health check answered");
    assert_eq!(
        answer.attr("type"),
        Some("result"),
        "{}",
        String::from(&answer)
    );
    assert_eq!(answer.attr("from"), Some(us_jid.as_str()));
    assert!(jvb_us.wait_for_log("health check answered: healthy", WAIT));

    // Unhealthy: error wait / internal-server-error, and healthy=false.
    assert!(jvb_eu.control("healthy off"), "{}", jvb_eu.logs());
    let answer = focus
        .iq(&health_check("hc-2", &eu_jid), WAIT)
        .expect("health check answered");
    assert_eq!(
        answer.attr("type"),
        Some("error"),
        "{}",
        String::from(&answer)
    );
    let error = answer.get_child("error", "jabber:client").expect("error");
    assert_eq!(error.attr("type"), Some("wait"));
    assert!(
        error
            .get_child("internal-server-error", NS_STANZAS)
            .is_some()
    );
    let unhealthy = focus
        .wait_for(WAIT, |s| {
            s.name() == "presence"
                && s.attr("from") == Some(eu_jid.as_str())
                && BridgeStats::parse(s).is_ok_and(|st| st.healthy == Some(false))
        })
        .expect("a presence with healthy=false");
    drop(unhealthy);
    assert!(jvb_eu.control("healthy on"));

    // Unresponsive: no answer at all, but the presence keeps coming.
    assert!(jvb_us.control("unresponsive on"), "{}", jvb_us.logs());
    focus.take_matching(|_| true);
    focus
        .send(&health_check("hc-3", &us_jid))
        .expect("send health check");
    let answered = focus.wait_for(SILENCE, |s| is_answer(s, "hc-3"));
    assert!(
        answered.is_err(),
        "a wedged bridge answered: {}",
        String::from(&answered.unwrap())
    );
    assert!(jvb_us.wait_for_log("unresponsive: IQ", WAIT));
    stats_presence(&mut focus, &us_jid);
    assert!(jvb_us.control("unresponsive off"));
    let answer = focus
        .iq(&health_check("hc-4", &us_jid), WAIT)
        .expect("answered again");
    assert_eq!(answer.attr("type"), Some("result"));

    // COLIBRI2: conference create + endpoint allocation on jvb-eu.
    let create = el(&format!(
        "<iq xmlns='jabber:client' type='set' id='c2-1' to='{eu_jid}'>\
           <conference-modify xmlns='jitsi:colibri2' meeting-id='{MEETING_ID}' \
               name='myroom@muc.meet.jitsi' create='true'>\
             <endpoint id='a1b2c3d4' create='true' stats-id='Alice-Qx1'>\
               <media type='audio'>\
                 <payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='111' name='opus' clockrate='48000' channels='2'/>\
               </media>\
               <media type='video'>\
                 <payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='100' name='VP8' clockrate='90000'/>\
               </media>\
               <transport ice-controlling='true'><sctp/></transport>\
               <sources/>\
               <capability name='source-names'/>\
               <capability name='ssrc-rewriting'/>\
             </endpoint>\
           </conference-modify>\
         </iq>"
    ));
    let answer = focus.iq(&create, WAIT).expect("conference-modify answered");
    let text = String::from(&answer);
    assert_eq!(answer.attr("type"), Some("result"), "{text}");
    assert_eq!(answer.attr("from"), Some(eu_jid.as_str()));
    let modified = answer
        .get_child("conference-modified", NS_COLIBRI2)
        .unwrap_or_else(|| panic!("no conference-modified: {text}"));
    let endpoint = modified
        .get_child("endpoint", NS_COLIBRI2)
        .unwrap_or_else(|| panic!("no endpoint: {text}"));
    assert_eq!(endpoint.attr("id"), Some("a1b2c3d4"));
    let transport = endpoint
        .get_child("transport", NS_COLIBRI2)
        .unwrap_or_else(|| panic!("no transport: {text}"));
    let ice = transport
        .get_child("transport", NS_ICE)
        .unwrap_or_else(|| panic!("no ICE transport: {text}"));
    assert!(ice.attr("ufrag").is_some_and(|u| u.len() >= 4), "{text}");
    assert!(ice.attr("pwd").is_some_and(|p| p.len() >= 22), "{text}");
    let candidate = ice.get_child("candidate", NS_ICE).expect("a candidate");
    assert_eq!(candidate.attr("ip"), Some("127.0.0.1"));
    assert_eq!(candidate.attr("port"), Some("10000"));
    let fingerprint = ice.get_child("fingerprint", NS_DTLS).expect("fingerprint");
    assert_eq!(fingerprint.attr("setup"), Some("actpass"));
    assert_eq!(fingerprint.attr("hash"), Some("sha-256"));
    let sctp = transport.get_child("sctp", NS_COLIBRI2).expect("sctp");
    assert_eq!(
        (sctp.attr("port"), sctp.attr("role")),
        (Some("5000"), Some("server"))
    );
    let sources = modified
        .get_child("sources", NS_COLIBRI2)
        .unwrap_or_else(|| panic!("no feedback sources: {text}"));
    let ids: Vec<&str> = sources.children().filter_map(|m| m.attr("id")).collect();
    assert_eq!(ids, ["jvb-a0", "jvb-v0"]);
    assert!(jvb_eu.wait_for_log("conference created", WAIT));
    assert!(jvb_eu.wait_for_log("endpoint created: a1b2c3d4", WAIT));

    // The load shows in the next presence.
    focus
        .wait_for(WAIT, |s| {
            s.attr("from") == Some(eu_jid.as_str())
                && BridgeStats::parse(s)
                    .is_ok_and(|st| st.conferences == Some(1) && st.stress_level == Some(0.01))
        })
        .expect("a presence with the conference and its stress");

    // An update for a conference the bridge does not have: JVB's error,
    // with its colibri2 reason, through Prosody.
    let unknown = el(&format!(
        "<iq xmlns='jabber:client' type='set' id='c2-2' to='{eu_jid}'>\
           <conference-modify xmlns='jitsi:colibri2' meeting-id='no-such-meeting'>\
             <endpoint id='a1b2c3d4' expire='true'/>\
           </conference-modify>\
         </iq>"
    ));
    let answer = focus.iq(&unknown, WAIT).expect("answered");
    let text = String::from(&answer);
    assert_eq!(answer.attr("type"), Some("error"), "{text}");
    let error = answer.get_child("error", "jabber:client").expect("error");
    assert!(
        error.get_child("item-not-found", NS_STANZAS).is_some(),
        "{text}"
    );
    let reason = error
        .get_child("error", NS_COLIBRI2)
        .expect("colibri2 reason");
    assert_eq!(reason.attr("reason"), Some("conference_not_found"));

    // Conference expire.
    let expire = el(&format!(
        "<iq xmlns='jabber:client' type='set' id='c2-3' to='{eu_jid}'>\
           <conference-modify xmlns='jitsi:colibri2' meeting-id='{MEETING_ID}' expire='true'/>\
         </iq>"
    ));
    let answer = focus.iq(&expire, WAIT).expect("answered");
    assert_eq!(
        answer.attr("type"),
        Some("result"),
        "{}",
        String::from(&answer)
    );
    assert!(jvb_eu.wait_for_log("conference expired", WAIT));

    // quit: a clean leave; crash: Prosody removes the occupant.
    let status = jvb_us.quit();
    assert!(status.success(), "{status}:\n{}", jvb_us.logs());
    wait_unavailable(&mut focus, &us_jid, "jvb-us left the brewery");
    jvb_eu.crash();
    wait_unavailable(
        &mut focus,
        &eu_jid,
        "the crashed jvb-eu was removed from the brewery",
    );
    focus.close();
}
