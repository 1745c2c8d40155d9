//! `/metrics` through the focus, in every format.

use super::*;
use crate::bridge::brewery::tests::{Bench, config_with_brewery, stats};
use crate::focus::{HttpId, Input, Output};
use crate::http::{HttpRequest, HttpResponse, Method};

fn scrape(b: &mut Bench, accept: Option<&str>) -> HttpResponse {
    let mut request = HttpRequest::new(Method::Get, "/metrics");
    if let Some(a) = accept {
        request.headers.push(("accept".into(), a.into()));
    }
    let input = Input::Http {
        id: HttpId(5),
        request,
    };
    b.focus.handle_input(b.now, input).expect("input");
    std::iter::from_fn(|| b.focus.poll_output())
        .find_map(|o| match o {
            Output::Http { response, .. } => Some(response),
            _ => None,
        })
        .expect("an answer")
}

fn bench() -> Bench {
    let mut b = Bench::new(config_with_brewery());
    b.bridge("jvb-a", &stats("eu-west", 0.1));
    b.bridge("jvb-b", &stats("us-east", 0.2));
    b.bridge_leaves("jvb-b");
    b
}

#[test]
fn openmetrics_by_default() {
    let mut b = bench();
    let r = scrape(&mut b, None);
    assert_eq!(r.status, 200);
    assert!(
        r.content_type
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    let text = String::from_utf8(r.body).expect("UTF-8");
    for line in [
        "# TYPE jitsi_jicofo_bridge_selector_bridge_count gauge",
        "jitsi_jicofo_bridge_selector_bridge_count 1",
        "jitsi_jicofo_bridge_selector_bridge_count_operational 1",
        "# TYPE jitsi_jicofo_bridge_selector_lost_bridges counter",
        "jitsi_jicofo_bridge_selector_lost_bridges_total 1",
        "jitsi_jicofo_bridge_endpoints{jvb=\"jvb-a\"} 0",
        &format!("jitsi_jicofo_version_info{{version=\"{VERSION}\"}} 1"),
        "jitsi_jicofo_conferences 0",
        "jitsi_jicofo_xmpp_disconnects_total 0",
        "# EOF",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
    }
    assert!(
        !text.contains("jvb-b"),
        "a departed bridge's series are gone"
    );
}

#[test]
fn prometheus_text_for_text_plain() {
    let mut b = bench();
    let r = scrape(&mut b, Some("text/plain; version=0.0.4"));
    assert_eq!(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    let text = String::from_utf8(r.body).expect("UTF-8");
    for line in [
        "# TYPE jitsi_jicofo_bridge_selector_lost_bridges_total counter",
        "jitsi_jicofo_bridge_selector_lost_bridges_total 1.0",
        "jitsi_jicofo_bridge_endpoints{jvb=\"jvb-a\"} 0.0",
        "# TYPE jitsi_jicofo_version_info gauge",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
    }
    assert!(!text.contains("# EOF"));
}

#[test]
fn json_with_unprefixed_names() {
    let mut b = bench();
    let r = scrape(&mut b, Some("application/json"));
    assert_eq!(r.content_type, "application/json");
    let json: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(json["bridge_selector_lost_bridges_total"], 1);
    assert_eq!(json["bridge_selector_bridge_count"], 1);
    assert_eq!(json["bridge_endpoints"]["jvb-a"], 0);
    assert_eq!(json["version"], VERSION);
}

#[test]
fn accept_is_negotiated_by_q() {
    use Format::*;
    assert_eq!(Format::negotiate(None), OpenMetrics);
    assert_eq!(Format::negotiate(Some("*/*")), OpenMetrics);
    assert_eq!(Format::negotiate(Some("text/plain")), PrometheusText);
    assert_eq!(
        Format::negotiate(Some("application/json;q=0.5, text/plain;q=0.9")),
        PrometheusText
    );
    assert_eq!(
        Format::negotiate(Some("text/plain;q=0.1,application/json")),
        Json
    );
    assert_eq!(
        Format::negotiate(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
        )),
        OpenMetrics
    );
    assert_eq!(
        Format::negotiate(Some("text/plain;q=NaN, garbage;;q=")),
        PrometheusText
    );
}

#[test]
fn label_values_are_escaped() {
    let samples = [Sample {
        name: "bridge_endpoints".into(),
        help: "h",
        value: MetricValue::PerBridge(vec![("a\"b\\c\nd".into(), 1)]),
    }];
    let text = to_prometheus_text(&samples);
    assert!(text.contains(r#"jvb="a\"b\\c\nd""#), "{text}");
}
