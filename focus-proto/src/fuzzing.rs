//! Entry points of the fuzz targets in `fuzz/`, also replayed over the
//! committed corpora by `cargo test`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use minidom::Element;

use crate::config::Config;
use crate::ext::conference_iq::{
    ConferenceAnswer, ConferenceRequest, LoginUrlRequest, LogoutRequest, login_url_answer,
    logout_answer, parse_login_url_answer, parse_logout_answer, parse_room_jid,
};
use crate::ext::error::{StanzaError, iq_error, iq_result};
use crate::ext::muc::{MemberRole, parse_owner_form};
use crate::ext::presence::{FocusPresence, OccupantPresence, SourceInfoField};
use crate::focus::{Focus, HttpId, Input, Output};
use crate::http::{HttpConnection, HttpEvent};
use crate::xml::{Limits, StreamEvent as XmlEvent, StreamReader};
use crate::xmpp::{StreamConfig, StreamEvent, XmppStream};

/// Feeds `data` as server bytes to a client stream, in chunks whose sizes
/// come from the first byte, doing STARTTLS and timeouts as a runtime would.
pub fn xmpp_stream(data: &[u8]) {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let start = Instant::now();
    let mut now = start;
    let mut stream = XmppStream::new(
        StreamConfig::new("auth.meet.jitsi", "focus", "pw", "focus"),
        now,
        [0; 32],
    );
    let mut closed = false;
    for piece in data.chunks(chunk) {
        stream.handle_input(now, piece);
        while stream.poll_transmit().is_some() {}
        while let Some(event) = stream.poll_event() {
            assert!(!closed, "no event after Closed");
            match event {
                StreamEvent::StartTls => stream.handle_tls_established(now),
                StreamEvent::Closed(_) => closed = true,
                StreamEvent::Ready { .. } | StreamEvent::Stanza(_) => {}
            }
        }
        now += Duration::from_secs(1);
        if stream.poll_timeout().is_some_and(|t| t <= now) {
            stream.handle_timeout(now);
        }
    }
    stream.handle_eof();
    while stream.poll_event().is_some() {}
    assert!(stream.is_closed());
}

/// Feeds `data` to an HTTP connection and routes every request through a
/// fresh [`Focus`].
pub fn http_request(data: &[u8]) {
    let now = Instant::now();
    let mut focus = Focus::new(
        Arc::new(Config::default()),
        [0; 32],
        now,
        SystemTime::UNIX_EPOCH,
    );
    let mut conn = HttpConnection::new();
    let mut next = conn.handle_input(data);
    let mut served = 0;
    while let Some(event) = next.take() {
        match event {
            HttpEvent::Reject(bytes) => {
                assert!(bytes.starts_with(b"HTTP/1.1 "));
                assert!(conn.is_closed());
            }
            HttpEvent::Request(request) => {
                served += 1;
                let _ = focus.handle_input(
                    now,
                    Input::Http {
                        id: HttpId(served),
                        request,
                    },
                );
                // A conference request that creates a conference is
                // answered only once the room is joined: stop there.
                let Some(response) =
                    std::iter::from_fn(|| focus.poll_output()).find_map(|o| match o {
                        Output::Http { response, .. } => Some(response),
                        _ => None,
                    })
                else {
                    break;
                };
                conn.respond(&response);
                if !conn.is_closed() {
                    next = conn.handle_input(&[]);
                }
            }
        }
    }
}

/// Parses `data` as a `jicofo.conf`.
pub fn hocon(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::from_hocon_str(text, "fuzz.conf");
    }
}

/// The stanzas in `data`, read as the body of a `jabber:client` stream by
/// the bounded [`StreamReader`] (up to the first XML error).
pub fn stanzas(data: &[u8]) -> Vec<Element> {
    let mut reader = StreamReader::new(Limits {
        max_stanza_bytes: 256 << 10,
        max_depth: 32,
        max_stanza_elements: 4096,
        max_token_bytes: 128 << 10,
    });
    let header =
        b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
    let mut out = Vec::new();
    for chunk in [&header[..], data, b"</stream:stream>"] {
        let ok = reader.feed(chunk).is_ok();
        while let Some(event) = reader.next_event() {
            if let XmlEvent::Element(el) = event {
                out.push(el);
            }
        }
        if !ok {
            break;
        }
    }
    out
}

/// `data` as stanzas through every conference IQ parser
/// ([`conference_iq_element`]).
pub fn conference_iq(data: &[u8]) {
    for el in stanzas(data) {
        conference_iq_element(&el);
    }
}

/// Runs `el` and each of its children through the conference request,
/// answer, login-url and logout parsers, the stanza error reader and the
/// IQ reply builders; whatever parses must survive a write-and-read round
/// trip unchanged.
pub fn conference_iq_element(el: &Element) {
    let _ = StanzaError::from_stanza(el);
    let _ = iq_result(el, None);
    for candidate in std::iter::once(el).chain(el.children()) {
        if let Ok(request) = ConferenceRequest::parse(candidate) {
            assert_eq!(
                ConferenceRequest::parse(&request.to_element()).as_ref(),
                Ok(&request)
            );
            let _ = request.room.as_deref().map(parse_room_jid);
            let _ = (request.visitor_supported(), request.visitor_requested());
            let _ = (
                request.start_audio_muted(),
                request.start_video_muted(),
                request.rtcstats_enabled(),
            );
        }
        if let Ok(answer) = ConferenceAnswer::parse(candidate) {
            assert_eq!(
                ConferenceAnswer::parse(&answer.to_element()).as_ref(),
                Ok(&answer)
            );
        }
        if let Ok(request) = LoginUrlRequest::parse(candidate) {
            assert_eq!(
                LoginUrlRequest::parse(&request.to_element()).as_ref(),
                Ok(&request)
            );
        }
        if let Ok(Some(url)) = parse_login_url_answer(candidate) {
            assert_eq!(
                parse_login_url_answer(&login_url_answer(Some(&url))),
                Ok(Some(url))
            );
        }
        if let Ok(request) = LogoutRequest::parse(candidate) {
            assert_eq!(
                LogoutRequest::parse(&request.to_element()).as_ref(),
                Ok(&request)
            );
        }
        if let Ok(Some(url)) = parse_logout_answer(candidate) {
            assert_eq!(
                parse_logout_answer(&logout_answer(Some(&url))),
                Ok(Some(url))
            );
        }
        if let Some(error) = StanzaError::from_stanza(candidate) {
            let answer = iq_error(el, &error, None);
            assert_eq!(StanzaError::from_stanza(&answer).as_ref(), Some(&error));
        }
    }
}

/// `data` as stanzas through the MUC presence and room form parsers
/// ([`occupant_presence_element`]).
pub fn occupant_presence(data: &[u8]) {
    for el in stanzas(data) {
        occupant_presence_element(&el);
    }
}

/// Runs `el` through [`OccupantPresence::parse`], [`FocusPresence::parse`]
/// and [`parse_owner_form`]; a parsed occupant presence must survive a
/// write-and-read round trip (real JIDs compared after normalization, and
/// not when its re-written `SourceInfo` would exceed the size bound).
pub fn occupant_presence_element(el: &Element) {
    let _ = parse_owner_form(el);
    if let Ok(focus) = FocusPresence::parse(el) {
        let to = jid::FullJid::new("room@muc.example/focus").expect("a valid JID");
        assert_eq!(
            FocusPresence::parse(&focus.to_element(&to)).as_ref(),
            Ok(&focus)
        );
    }
    let Ok(mut presence) = OccupantPresence::parse(el) else {
        return;
    };
    let _ = (presence.audio_sending(), presence.video_sending());
    if let Some(item) = &presence.item {
        let role = MemberRole::from_muc(item.affiliation, item.role);
        let _ = role.has_moderator_rights();
    }
    if let SourceInfoField::Valid(info) = &presence.source_info
        && info.to_json().len() > crate::ext::presence::MAX_SOURCE_INFO_BYTES
    {
        return;
    }
    let again = OccupantPresence::parse(&presence.to_element()).expect("a written presence parses");
    if let Some(item) = &mut presence.item {
        item.jid = item
            .jid
            .as_ref()
            .and_then(|j| jid::Jid::new(j.as_str()).ok());
    }
    assert_eq!(again, presence);
}

/// The brewery room of the [`brewery`] target.
const FUZZ_BREWERY: &str = "jvbbrewery@internal-muc.meet.jitsi";

/// `data` as stanzas to a focus that is in the bridge brewery: each one
/// also goes through the brewery stats and health answer parsers (stats
/// must survive a write-and-read round trip), then to the focus, with ten
/// seconds passing in between so that health checks go out. An IQ answer
/// whose id is `HC` takes the id of the last health check sent, so answers
/// reach the health-check code. Whatever happens, the pool holds only
/// brewery occupants and `/debug` and `/stats` answer.
pub fn brewery(data: &[u8]) {
    use crate::ext::brewery::{BridgeStats, HealthCheckOutcome};
    use crate::focus::{ConnId, Event};
    let mut config = Config::default();
    config.xmpp.client.xmpp_domain = Some("meet.jitsi".into());
    config.bridge.brewery_jid = Some(FUZZ_BREWERY.into());
    let start = Instant::now();
    let mut now = start;
    let mut focus = Focus::new(Arc::new(config), [0; 32], now, SystemTime::UNIX_EPOCH);
    let jid = jid::FullJid::new("focus@auth.meet.jitsi/focus").expect("a valid JID");
    let feed = |focus: &mut Focus, now: Instant, stanza: Element| {
        let input = Input::Stanza {
            conn: ConnId::Client,
            stanza,
        };
        focus.handle_input(now, input).expect("connected");
    };
    let _ = focus.handle_input(
        now,
        Input::Connected {
            conn: ConnId::Client,
            jid,
        },
    );
    // Join: own presence, then answer the form request and the submit.
    let own: Element = format!(
        "<presence xmlns='jabber:client' from='{FUZZ_BREWERY}/focus'><x xmlns='http://jabber.org/protocol/muc#user'>\
         <item affiliation='owner' role='moderator'/><status code='110'/></x></presence>"
    )
    .parse()
    .expect("valid XML");
    feed(&mut focus, now, own);
    let mut last_health_id = String::new();
    let mut pending_form = true;
    for el in stanzas(data) {
        if let Ok(mut stats) = BridgeStats::parse(&el) {
            let again = BridgeStats::from_stats(&stats.to_element());
            stats.rejected.clear();
            assert_eq!(again, stats, "stats survive a round trip");
        }
        let _ = HealthCheckOutcome::parse(&el);
        let mut el = el;
        if el.name() == "iq" && el.attr("id") == Some("HC") {
            el.set_attr(
                rxml::Namespace::NONE,
                crate::xml::ncname("id"),
                last_health_id.as_str(),
            );
        }
        feed(&mut focus, now, el);
        now += Duration::from_secs(10);
        focus.handle_timeout(now);
        while let Some(out) = focus.poll_output() {
            match out {
                Output::Send { stanza, .. } if stanza.name() == "iq" => {
                    let id = stanza.attr("id").unwrap_or_default().to_owned();
                    if stanza.attr("to") == Some(FUZZ_BREWERY) && pending_form {
                        // Answer the room configuration at once.
                        let mut answer = iq_result(&stanza, None);
                        answer.set_attr(
                            rxml::Namespace::NONE,
                            crate::xml::ncname("from"),
                            FUZZ_BREWERY,
                        );
                        feed(&mut focus, now, answer);
                    } else if stanza.has_child("healthcheck", crate::ext::brewery::NS_HEALTHCHECK) {
                        last_health_id = id;
                    }
                }
                Output::Event(Event::Bridge(crate::bridge::BridgeEvent::BreweryJoined)) => {
                    pending_form = false;
                }
                _ => {}
            }
        }
    }
    if let Some(registry) = focus.bridges() {
        assert!(
            registry
                .iter()
                .all(|b| b.jid.to_bare().as_str() == FUZZ_BREWERY)
        );
        assert!(registry.iter().all(|b| b.stress_level.is_finite()));
    }
    for path in ["/debug", "/stats"] {
        let request = crate::http::HttpRequest::new(crate::http::Method::Get, path);
        let _ = focus.handle_input(
            now,
            Input::Http {
                id: HttpId(1),
                request,
            },
        );
        let answered = std::iter::from_fn(|| focus.poll_output())
            .any(|o| matches!(o, Output::Http { response, .. } if response.status == 200));
        assert!(answered, "{path} answers");
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Replays every committed corpus entry through its target.
    #[test]
    fn replay_corpora() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 9] = [
            ("xmpp_stream", super::xmpp_stream),
            ("http_request", super::http_request),
            ("hocon", super::hocon),
            ("conference_iq", super::conference_iq),
            ("occupant_presence", super::occupant_presence),
            ("brewery", super::brewery),
            ("sources", crate::source::fuzz_sources),
            ("jingle", crate::ext::jingle::fuzz_jingle),
            ("colibri2", crate::ext::colibri2::fuzz_colibri2),
        ];
        let mut replayed = 0;
        for (name, target) in targets {
            let dir = root.join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                let data = std::fs::read(&path).unwrap();
                target(&data);
                replayed += 1;
            }
        }
        assert!(replayed > 0, "the corpora under fuzz/corpus are committed");
    }

    /// The stanza targets' seeds are stanzas, not bytes the reader drops.
    #[test]
    fn stanza_seeds_hold_stanzas() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        for name in [
            "conference_iq",
            "occupant_presence",
            "brewery",
            "sources",
            "jingle",
            "colibri2",
        ] {
            let Ok(entries) = std::fs::read_dir(root.join(name)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                assert!(!super::stanzas(&data).is_empty(), "{}", path.display());
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Arbitrary server bytes never panic the stream, and it always ends
        /// closed after end of file.
        #[test]
        fn xmpp_stream_survives_anything(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            super::xmpp_stream(&data);
        }

        /// Arbitrary bytes after a valid negotiation prefix never panic.
        #[test]
        fn xmpp_stream_survives_mutated_streams(
            seed in 0usize..4,
            cut in 0usize..4096,
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        ) {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/xmpp_stream");
            let mut names: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
            names.sort();
            let mut data = std::fs::read(&names[seed % names.len()]).unwrap();
            data.truncate(cut.max(1));
            data.extend_from_slice(&tail);
            super::xmpp_stream(&data);
        }

        /// Arbitrary bytes never panic the HTTP layer, and every request
        /// gets an answer.
        #[test]
        fn http_survives_anything(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1024)) {
            super::http_request(&data);
        }

        /// Arbitrary bytes never panic the conference IQ and presence
        /// targets.
        #[test]
        fn stanza_targets_survive_anything(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1024)) {
            super::conference_iq(&data);
            super::occupant_presence(&data);
            super::brewery(&data);
        }
    }
}
