//! The brewery through the focus: joining, the pool, health checks,
//! connection loss, hostile input.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use jid::FullJid;
use minidom::Element;

use crate::bridge::BridgeEvent;
use crate::bridge::test_support::{bridge_jid, unavailable};
use crate::config::Config;
use crate::ext::brewery::BridgeStats;
use crate::focus::{ConnId, Event, Focus, HttpId, Input, Output};
use crate::http::{HttpRequest, Method};
use crate::xmpp::ns;

pub(crate) use crate::bridge::test_support::BREWERY;

/// Jicofo's defaults with an XMPP domain and the brewery.
pub(crate) fn config_with_brewery() -> Config {
    let mut config = Config::default();
    config.xmpp.client.xmpp_domain = Some("meet.jitsi".into());
    config.bridge.brewery_jid = Some(BREWERY.into());
    config
}

/// A focus, connected and in the brewery, with no bridge yet.
pub(crate) struct Bench {
    pub(crate) focus: Focus,
    pub(crate) now: Instant,
    pub(crate) out: Vec<Output>,
}

impl Bench {
    pub(crate) fn new(config: Config) -> Self {
        let mut bench = Self::offline(config);
        bench.connect();
        bench.join();
        bench
    }

    /// A focus that is not connected yet.
    pub(crate) fn offline(config: Config) -> Self {
        let now = Instant::now();
        Self {
            focus: Focus::new(Arc::new(config), [3; 32], now, SystemTime::UNIX_EPOCH),
            now,
            out: Vec::new(),
        }
    }

    pub(crate) fn connect(&mut self) {
        let jid = FullJid::new("focus@auth.meet.jitsi/focus").expect("valid");
        let input = Input::Connected {
            conn: ConnId::Client,
            jid,
        };
        self.focus.handle_input(self.now, input).expect("input");
        self.drain();
    }

    /// Answers the join: own presence, the owner form, the submit.
    pub(crate) fn join(&mut self) {
        assert!(
            self.sent()
                .iter()
                .any(|s| s.name() == "presence"
                    && s.attr("to") == Some(&*format!("{BREWERY}/focus"))),
            "the focus joins the brewery as 'focus'"
        );
        self.feed(&format!(
            "<presence xmlns='jabber:client' from='{BREWERY}/focus' to='focus@auth.meet.jitsi/focus'>\
               <x xmlns='http://jabber.org/protocol/muc#user'>\
                 <item affiliation='owner' role='moderator' jid='focus@auth.meet.jitsi/focus'/>\
                 <status code='110'/></x></presence>"
        ));
        let form = self.take_iq_to(BREWERY).expect("owner form requested");
        assert_eq!(form.attr("type"), Some("get"));
        self.answer(&form, "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='form'/></query>");
        let submit = self.take_iq_to(BREWERY).expect("form submitted");
        assert_eq!(submit.attr("type"), Some("set"));
        self.answer(&submit, "");
        assert!(self.events().contains(&BridgeEvent::BreweryJoined));
    }

    pub(crate) fn drain(&mut self) {
        self.out
            .extend(std::iter::from_fn(|| self.focus.poll_output()));
    }

    pub(crate) fn feed(&mut self, xml: &str) {
        self.deliver(xml.parse().expect("test XML"));
    }

    /// Hands `stanza` to the focus as received on the client connection.
    pub(crate) fn deliver(&mut self, stanza: Element) {
        let input = Input::Stanza {
            conn: ConnId::Client,
            stanza,
        };
        self.focus.handle_input(self.now, input).expect("input");
        self.drain();
    }

    /// Moves time to `at` and fires what is due.
    pub(crate) fn advance_to(&mut self, at: Instant) {
        self.now = at;
        self.focus.handle_timeout(at);
        self.drain();
    }

    /// Fires timers up to `now + d`, one deadline at a time.
    pub(crate) fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.focus.poll_timeout().filter(|t| *t <= end) {
            self.advance_to(t.max(self.now));
        }
        self.now = end;
        self.focus.handle_timeout(end);
        self.drain();
    }

    pub(crate) fn sent(&self) -> Vec<Element> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Send { stanza, .. } => Some(stanza.clone()),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn events(&self) -> Vec<BridgeEvent> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Event(Event::Bridge(e)) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// Removes and returns the first IQ sent to `to`; forgets all output
    /// before it.
    pub(crate) fn take_iq_to(&mut self, to: &str) -> Option<Element> {
        let pos = self.out.iter().position(|o| {
            matches!(o, Output::Send { stanza, .. } if stanza.name() == "iq" && stanza.attr("to") == Some(to))
        })?;
        let taken = self.out.drain(..=pos).next_back();
        match taken {
            Some(Output::Send { stanza, .. }) => Some(stanza),
            _ => None,
        }
    }

    /// A `result` for `request` with `payload` (XML, may be empty).
    pub(crate) fn answer(&mut self, request: &Element, payload: &str) {
        let (id, to) = (
            request.attr("id").unwrap_or(""),
            request.attr("to").unwrap_or(""),
        );
        self.feed(&format!(
            "<iq xmlns='jabber:client' type='result' id='{id}' from='{to}' to='focus@auth.meet.jitsi/focus'>{payload}</iq>"
        ));
    }

    /// An error answer for `request` with `condition`.
    pub(crate) fn answer_error(&mut self, request: &Element, condition: &str) {
        let (id, to) = (
            request.attr("id").unwrap_or(""),
            request.attr("to").unwrap_or(""),
        );
        self.feed(&format!(
            "<iq xmlns='jabber:client' type='error' id='{id}' from='{to}' to='focus@auth.meet.jitsi/focus'>\
               <error type='wait'><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
        ));
    }

    /// Bridge `nick` publishes `stats`.
    pub(crate) fn bridge(&mut self, nick: &str, stats: &BridgeStats) {
        let presence = Element::builder("presence", ns::CLIENT)
            .attr(crate::xml::ncname("from"), format!("{BREWERY}/{nick}"))
            .attr(crate::xml::ncname("to"), "focus@auth.meet.jitsi/focus")
            .append(
                Element::builder("x", "http://jabber.org/protocol/muc#user").append(
                    Element::builder("item", "http://jabber.org/protocol/muc#user")
                        .attr(crate::xml::ncname("affiliation"), "none")
                        .attr(crate::xml::ncname("role"), "participant"),
                ),
            )
            .append(stats.to_element())
            .build();
        self.deliver(presence);
    }

    pub(crate) fn bridge_leaves(&mut self, nick: &str) {
        self.deliver(unavailable(nick));
    }

    pub(crate) fn get(&mut self, path: &str) -> (u16, String) {
        let input = Input::Http {
            id: HttpId(77),
            request: HttpRequest::new(Method::Get, path),
        };
        self.focus.handle_input(self.now, input).expect("input");
        self.drain();
        let pos = self
            .out
            .iter()
            .rposition(|o| matches!(o, Output::Http { id: HttpId(77), .. }))
            .expect("an HTTP answer");
        match self.out.remove(pos) {
            Output::Http { response, .. } => (
                response.status,
                String::from_utf8_lossy(&response.body).into_owned(),
            ),
            _ => unreachable!("matched above"),
        }
    }

    pub(crate) fn operational(&self, nick: &str) -> bool {
        let jid = bridge_jid(nick);
        let threshold = self.focus.config().bridge.failure_reset_threshold;
        self.focus
            .bridges()
            .and_then(|r| r.get(&jid))
            .is_some_and(|b| b.is_operational(self.now, threshold))
    }
}

/// A healthy, active bridge in `region`.
pub(crate) fn stats(region: &str, stress: f64) -> BridgeStats {
    BridgeStats {
        stress_level: Some(stress),
        region: Some(region.into()),
        relay_id: Some(format!("relay-{region}")),
        version: Some("2.3.250".into()),
        drain: Some(false),
        healthy: Some(true),
        ..BridgeStats::default()
    }
}

#[test]
fn joins_the_brewery_and_lists_bridges() {
    let mut b = Bench::new(config_with_brewery());
    b.bridge("jvb-a", &stats("eu-west", 0.1));
    b.bridge("jvb-b", &stats("us-east", 0.4));
    let events = b.events();
    assert!(events.contains(&BridgeEvent::Added {
        jid: bridge_jid("jvb-a")
    }));
    assert!(events.contains(&BridgeEvent::Added {
        jid: bridge_jid("jvb-b")
    }));
    let registry = b.focus.bridges().expect("a pool");
    assert_eq!(registry.len(), 2);

    let (status, body) = b.get("/debug");
    assert_eq!(status, 200);
    let debug: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let a = &debug["bridge_selector"]["bridge"][format!("{BREWERY}/jvb-a")];
    assert_eq!(a["region"], "eu-west");
    assert_eq!(a["relay-id"], "relay-eu-west");
    assert_eq!(a["stress"], 0.1);
    assert_eq!(a["drain"], false);
    assert_eq!(a["operational"], true);
    assert_eq!(a["release"], "null");
    assert_eq!(
        debug["bridge_selector"]["strategy"],
        "SingleBridgeSelectionStrategy"
    );
}

#[test]
fn health_needs_an_operational_bridge() {
    let mut config = config_with_brewery();
    config.health.interval = Duration::from_secs(10);
    let mut b = Bench::new(config);
    let (status, body) = b.get("/about/health");
    assert_eq!(status, 500);
    assert_eq!(
        body,
        "No operational bridges available (total bridge count: 0)"
    );

    // A bridge in graceful shutdown does not count.
    let mut graceful = stats("eu-west", 0.1);
    graceful.graceful_shutdown = Some(true);
    b.bridge("jvb-a", &graceful);
    b.advance(Duration::from_secs(10));
    let (status, body) = b.get("/about/health");
    assert_eq!(status, 500);
    assert_eq!(
        body,
        "No operational bridges available (total bridge count: 1)"
    );

    b.bridge("jvb-b", &stats("eu-west", 0.1));
    b.advance(Duration::from_secs(10));
    let ping = b.take_iq_to("meet.jitsi").expect("the self-check pings");
    b.answer(&ping, "");
    assert_eq!(b.get("/about/health"), (200, "OK".to_owned()));
}

#[test]
fn a_refused_join_is_retried_after_the_reply_timeout() {
    let mut config = config_with_brewery();
    config.bridge.health_checks.enabled = false;
    let mut b = Bench::offline(config);
    b.connect();
    b.feed(&format!(
        "<presence xmlns='jabber:client' from='{BREWERY}/focus'>\
           <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/>\
           <status code='110'/></x></presence>"
    ));
    let form = b.take_iq_to(BREWERY).expect("form requested");
    b.out.clear();
    b.answer_error(&form, "forbidden");
    let leave = b.sent();
    assert!(
        leave.iter().any(|s| s.attr("type") == Some("unavailable")),
        "leaves the room"
    );
    assert!(!b.events().contains(&BridgeEvent::BreweryJoined));
    b.out.clear();
    b.advance(Duration::from_secs(14));
    assert!(b.sent().iter().all(|s| s.name() != "presence"), "not yet");
    b.advance(Duration::from_secs(1));
    b.join();
}

#[test]
fn health_checks_pass_fail_and_recover_after_the_threshold() {
    let mut config = config_with_brewery();
    config.bridge.health_checks.interval = Duration::from_secs(10);
    config.bridge.failure_reset_threshold = Duration::from_secs(60);
    let mut b = Bench::new(config);
    b.bridge("jvb-a", &stats("eu-west", 0.1));
    let bridge = format!("{BREWERY}/jvb-a");

    b.out.clear();
    b.advance(Duration::from_secs(9));
    assert!(
        b.take_iq_to(&bridge).is_none(),
        "first check one interval after joining"
    );
    b.advance(Duration::from_secs(1));
    let check = b.take_iq_to(&bridge).expect("health check");
    assert!(check.has_child("healthcheck", "http://jitsi.org/protocol/healthcheck"));
    b.answer(&check, "");
    assert!(b.events().contains(&BridgeEvent::HealthCheckPassed {
        jid: bridge_jid("jvb-a")
    }));

    // Fixed delay: the next one an interval after the answer.
    b.out.clear();
    b.advance(Duration::from_secs(10));
    let check = b.take_iq_to(&bridge).expect("second check");
    b.answer_error(&check, "internal-server-error");
    assert!(b.events().contains(&BridgeEvent::HealthCheckFailed {
        jid: bridge_jid("jvb-a")
    }));
    assert!(!b.operational("jvb-a"));
    let failed_at = b.now;

    // Passing again is not enough until a minute after the failure.
    for _ in 0..5 {
        b.out.clear();
        b.advance(Duration::from_secs(10));
        let check = b.take_iq_to(&bridge).expect("periodic check");
        b.answer(&check, "");
        assert_eq!(
            b.operational("jvb-a"),
            b.now.duration_since(failed_at) >= Duration::from_secs(60)
        );
    }
    b.advance(Duration::from_secs(10));
    let check = b.take_iq_to(&bridge).expect("periodic check");
    b.answer(&check, "");
    assert!(b.operational("jvb-a"));

    // Other error conditions change nothing.
    b.out.clear();
    b.advance(Duration::from_secs(10));
    let check = b.take_iq_to(&bridge).expect("periodic check");
    b.answer_error(&check, "bad-request");
    assert!(b.operational("jvb-a"));
    assert!(b.events().is_empty());
}

#[test]
fn a_silent_bridge_gets_a_second_chance_then_times_out() {
    let mut config = config_with_brewery();
    config.bridge.health_checks.interval = Duration::from_secs(10);
    let mut b = Bench::new(config);
    b.bridge("jvb-a", &stats("eu-west", 0.1));
    let bridge = format!("{BREWERY}/jvb-a");
    b.advance(Duration::from_secs(10));
    let first = b.take_iq_to(&bridge).expect("health check");
    // An impostor's answer with the right id does not count.
    let id = first.attr("id").unwrap_or_default().to_owned();
    b.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='{BREWERY}/jvb-b'/>"
    ));
    b.feed(&format!(
        "<iq xmlns='jabber:client' type='result' id='{id}' from='mallory@meet.jitsi/x'/>"
    ));
    assert!(b.events().is_empty());
    // Reply timeout (15 s), then the retry delay (interval / 2).
    b.advance(Duration::from_secs(15));
    assert!(b.take_iq_to(&bridge).is_none());
    assert!(b.operational("jvb-a"), "one silence is not a verdict");
    b.advance(Duration::from_secs(5));
    let retry = b.take_iq_to(&bridge).expect("second chance");
    assert_ne!(retry.attr("id"), first.attr("id"));
    b.advance(Duration::from_secs(15));
    assert!(b.events().contains(&BridgeEvent::HealthCheckTimedOut {
        jid: bridge_jid("jvb-a")
    }));
    assert!(!b.operational("jvb-a"));
}

#[test]
fn presence_health_reads_the_healthy_stat_and_silence() {
    let mut config = config_with_brewery();
    config.bridge.health_checks.interval = Duration::from_secs(10);
    config.bridge.health_checks.use_presence = true;
    config.bridge.health_checks.presence_timeout = Duration::from_secs(25);
    let mut b = Bench::new(config);
    b.bridge("jvb-a", &stats("eu-west", 0.1));
    b.out.clear();
    b.advance(Duration::from_secs(10));
    assert!(
        b.sent()
            .iter()
            .all(|s| s.name() != "iq" || s.attr("to") == Some("meet.jitsi"))
    );
    assert!(b.events().contains(&BridgeEvent::HealthCheckPassed {
        jid: bridge_jid("jvb-a")
    }));
    let mut unhealthy = stats("eu-west", 0.1);
    unhealthy.healthy = Some(false);
    b.bridge("jvb-a", &unhealthy);
    b.out.clear();
    b.advance(Duration::from_secs(10));
    assert_eq!(
        b.events(),
        vec![BridgeEvent::HealthCheckFailed {
            jid: bridge_jid("jvb-a")
        }]
    );
    // No presence for longer than the presence timeout.
    b.out.clear();
    b.advance(Duration::from_secs(20));
    assert!(b.events().contains(&BridgeEvent::HealthCheckTimedOut {
        jid: bridge_jid("jvb-a")
    }));
}

#[test]
fn bridges_leave_and_the_connection_loss_drops_all() {
    let mut b = Bench::new(config_with_brewery());
    let mut graceful = stats("eu-west", 0.1);
    b.bridge("jvb-a", &graceful);
    graceful.graceful_shutdown = Some(true);
    b.bridge("jvb-a", &graceful);
    b.bridge("jvb-b", &stats("eu-west", 0.1));
    b.bridge("jvb-c", &stats("eu-west", 0.1));
    b.out.clear();
    b.bridge_leaves("jvb-a");
    b.bridge_leaves("jvb-b");
    assert_eq!(
        b.events(),
        vec![
            BridgeEvent::Removed {
                jid: bridge_jid("jvb-a"),
                lost: false
            },
            BridgeEvent::Removed {
                jid: bridge_jid("jvb-b"),
                lost: true
            },
        ]
    );
    let (status, body) = b.get("/stats");
    assert_eq!(status, 200);
    let stats: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        stats["bridge_selector"],
        serde_json::json!({
            "bridge_count": 1, "operational_bridge_count": 1, "in_shutdown_bridge_count": 0,
            "lost_bridges": 1, "bridge_version_count": 1,
        })
    );
    b.out.clear();
    let input = Input::Disconnected {
        conn: ConnId::Client,
        reason: "reset".into(),
    };
    b.focus.handle_input(b.now, input).expect("input");
    b.drain();
    assert_eq!(
        b.events(),
        vec![
            BridgeEvent::Removed {
                jid: bridge_jid("jvb-c"),
                lost: true
            },
            BridgeEvent::BreweryLeft,
        ]
    );
    assert_eq!(b.focus.bridges().map(|r| r.len()), Some(0));
    assert_eq!(b.focus.poll_timeout(), None, "no health checks while down");
    b.out.clear();
    b.connect();
    b.join();
}

#[test]
fn kicked_from_the_brewery_rejoins() {
    let mut b = Bench::new(config_with_brewery());
    b.bridge("jvb-a", &stats("eu-west", 0.1));
    b.out.clear();
    b.feed(&format!(
        "<presence xmlns='jabber:client' type='unavailable' from='{BREWERY}/focus'>\
           <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/>\
           <status code='307'/><status code='110'/></x></presence>"
    ));
    assert_eq!(
        b.events(),
        vec![
            BridgeEvent::Removed {
                jid: bridge_jid("jvb-a"),
                lost: true
            },
            BridgeEvent::BreweryLeft,
        ]
    );
    b.out.clear();
    b.advance(Duration::from_secs(15));
    b.join();
}

#[test]
fn hostile_brewery_input_is_ignored() {
    let mut b = Bench::new(config_with_brewery());
    // Built, not parsed: minidom's own parser caps attribute values at
    // 8 KiB; the focus's stream reader allows 64 KiB.
    let stat = |name: &str, value: &str| {
        Element::builder("stat", "http://jitsi.org/protocol/colibri")
            .attr(crate::xml::ncname("name"), name)
            .attr(crate::xml::ncname("value"), value)
    };
    let long = "r".repeat(10 * 1024);
    let presence = Element::builder("presence", ns::CLIENT)
        .attr(crate::xml::ncname("from"), format!("{BREWERY}/evil"))
        .append(
            Element::builder("stats", "http://jitsi.org/protocol/colibri")
                .append(stat("stress_level", "NaN"))
                .append(stat("participants", "-5"))
                .append(stat("region", &long))
                .append(stat("drain", "false"))
                .append(stat("frobnication", "7"))
                .append(Element::builder("unknown", "urn:x")),
        )
        .build();
    b.deliver(presence);
    // An unreadable load: the presence is not applied at all.
    assert_eq!(b.focus.bridges().map(|r| r.len()), Some(0));
    // Other bad stats read as absent.
    let presence = Element::builder("presence", ns::CLIENT)
        .attr(crate::xml::ncname("from"), format!("{BREWERY}/odd"))
        .append(
            Element::builder("stats", "http://jitsi.org/protocol/colibri")
                .append(stat("stress_level", "0.25"))
                .append(stat("participants", "-5"))
                .append(stat("region", &long))
                .append(stat("drain", "false")),
        )
        .build();
    b.deliver(presence);
    let registry = b.focus.bridges().expect("pool");
    let odd = registry.get(&bridge_jid("odd")).expect("added");
    assert_eq!(odd.stress_level, 0.25);
    assert_eq!(odd.region, None);
    // Not from the brewery, or without stats: nothing.
    b.out.clear();
    b.feed(
        "<presence xmlns='jabber:client' from='otherbrewery@internal-muc.meet.jitsi/jvb'>\
           <stats xmlns='http://jitsi.org/protocol/colibri'><stat name='drain' value='false'/></stats></presence>",
    );
    b.feed(&format!(
        "<presence xmlns='jabber:client' from='{BREWERY}/plain'/>"
    ));
    b.feed(&format!(
        "<presence xmlns='jabber:client' from='{BREWERY}'/>"
    ));
    assert!(b.events().is_empty());
    assert_eq!(b.focus.bridges().map(|r| r.len()), Some(1));
}

#[test]
fn no_brewery_configured_means_no_pool() {
    let mut config = Config::default();
    config.xmpp.client.xmpp_domain = Some("meet.jitsi".into());
    let focus = Focus::new(
        Arc::new(config),
        [0; 32],
        Instant::now(),
        SystemTime::UNIX_EPOCH,
    );
    assert!(focus.bridges().is_none());
    let mut config = Config::default();
    config.bridge.brewery_jid = Some("not a jid@@".into());
    let focus = Focus::new(
        Arc::new(config),
        [0; 32],
        Instant::now(),
        SystemTime::UNIX_EPOCH,
    );
    assert!(focus.bridges().is_none());
}
