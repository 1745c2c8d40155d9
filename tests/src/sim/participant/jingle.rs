//! The participant's Jingle side, as lib-jitsi-meet behaves with the focus
//! (`strophe.jingle.js`, `JingleSessionPC.ts`): every Jingle set is acked at
//! once; a `session-initiate` is answered, after a short while, with a
//! `session-accept` carrying the client's own sources, transport and the
//! offer's codecs; remote sources arrive in the offer, `source-add` and
//! `source-remove`, as XML or as Jitsi's compact JSON; `session-terminate`
//! ends the session.
//!
//! Written from the protocol notes, independently of the focus's own
//! Jingle and source code, so that the two check each other.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use focus_proto::rng::FocusRng;
use minidom::Element;

use crate::sim::stanza::{NS_CLIENT, name};

/// `urn:xmpp:jingle:1`.
pub const NS_JINGLE: &str = "urn:xmpp:jingle:1";
/// The RTP description.
pub const NS_RTP: &str = "urn:xmpp:jingle:apps:rtp:1";
/// Sources and groups.
pub const NS_SSMA: &str = "urn:xmpp:jingle:apps:rtp:ssma:0";
/// ICE-UDP transport.
pub const NS_ICE_UDP: &str = "urn:xmpp:jingle:transports:ice-udp:1";
/// DTLS fingerprint.
pub const NS_DTLS: &str = "urn:xmpp:jingle:apps:dtls:0";
/// SCTP over DTLS.
pub const NS_SCTP: &str = "urn:xmpp:jingle:transports:dtls-sctp:1";
/// BUNDLE grouping.
pub const NS_GROUPING: &str = "urn:xmpp:jingle:apps:grouping:0";
/// Jitsi's `ssrc-info`, `json-message`, `bridge-session`.
pub const NS_JITMEET: &str = "http://jitsi.org/jitmeet";

/// What media a simulated client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSpec {
    /// One audio source.
    pub audio: bool,
    /// One camera source.
    pub video: bool,
    /// The camera with three simulcast layers (each with RTX); otherwise
    /// one SSRC with RTX.
    pub simulcast: bool,
    /// Answer session-initiate at all (false: ack only, never accept).
    pub accept: bool,
    /// How long applying an offer takes before the session-accept.
    pub accept_delay: Duration,
}

impl Default for MediaSpec {
    /// Audio and a simulcast camera; accepts after 100 ms (as measured for
    /// the captures).
    fn default() -> Self {
        Self {
            audio: true,
            video: true,
            simulcast: true,
            accept: true,
            accept_delay: Duration::from_millis(100),
        }
    }
}

/// One of the client's own sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnSource {
    /// `audio` or `video`.
    pub media: &'static str,
    /// The SSRC.
    pub ssrc: u32,
    /// `<endpoint>-a0` / `<endpoint>-v0`.
    pub name: String,
    /// `STREAM TRACK`.
    pub msid: String,
}

/// The client's own sources and groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnSources {
    /// Every SSRC with its properties.
    pub sources: Vec<OwnSource>,
    /// `(semantics, ssrcs)` of the video groups.
    pub video_groups: Vec<(&'static str, Vec<u32>)>,
}

impl OwnSources {
    /// lib-jitsi-meet's sources for `endpoint` with `spec`, SSRCs from `rng`.
    pub fn generate(endpoint: &str, spec: &MediaSpec, rng: &mut FocusRng) -> Self {
        let mut ssrc = || loop {
            let s = rng.next_u64() as u32;
            if s != 0 {
                break s;
            }
        };
        let mut out = Self::default();
        if spec.audio {
            out.sources.push(OwnSource {
                media: "audio",
                ssrc: ssrc(),
                name: format!("{endpoint}-a0"),
                msid: format!("{endpoint}-audio-0-1 {endpoint}-atrack"),
            });
        }
        if spec.video {
            let layers = if spec.simulcast { 3 } else { 1 };
            let primaries: Vec<u32> = (0..layers).map(|_| ssrc()).collect();
            let rtx: Vec<u32> = (0..layers).map(|_| ssrc()).collect();
            for s in primaries.iter().chain(&rtx) {
                out.sources.push(OwnSource {
                    media: "video",
                    ssrc: *s,
                    name: format!("{endpoint}-v0"),
                    msid: format!("{endpoint}-video-0-1 {endpoint}-vtrack"),
                });
            }
            if spec.simulcast {
                out.video_groups.push(("SIM", primaries.clone()));
            }
            for (p, r) in primaries.iter().zip(&rtx) {
                out.video_groups.push(("FID", vec![*p, *r]));
            }
        }
        out
    }

    /// Every own SSRC.
    pub fn ssrcs(&self) -> BTreeSet<u32> {
        self.sources.iter().map(|s| s.ssrc).collect()
    }
}

/// What the client knows of its Jingle session with the focus.
#[derive(Debug, Clone, Default)]
pub struct JingleState {
    /// The current session's id.
    pub sid: Option<String>,
    /// Who sent the offer (the focus's occupant JID).
    pub peer: Option<String>,
    /// The session-accept went out.
    pub accepted: bool,
    /// Sessions offered so far (restarts included).
    pub offers: u32,
    /// Why the last session ended, if it did (`<reason>` child name).
    pub terminated: Option<String>,
    /// Remote sources by owner (`ssrc-info owner`, or the JSON key).
    pub remote: BTreeMap<String, BTreeSet<u32>>,
    /// The bridge's ICE ufrag from the offer.
    pub bridge_ufrag: Option<String>,
    /// `bridge-session/@id` from the offer.
    pub bridge_session: Option<String>,
    /// Every Jingle action received, in order.
    pub actions: Vec<String>,
    /// Jingle stanzas that could not be understood (with why).
    pub problems: Vec<String>,
}

/// The Jingle client of one participant.
#[derive(Debug)]
pub(crate) struct JingleClient {
    pub(crate) own: OwnSources,
    pub(crate) state: JingleState,
    spec: MediaSpec,
    ufrag: String,
    pwd: String,
    fingerprint: String,
    /// The session-accept to send, and when.
    pending_accept: Option<(Instant, Element)>,
    next_id: u64,
}

impl JingleClient {
    pub(crate) fn new(endpoint: &str, spec: MediaSpec, rng: &mut FocusRng) -> Self {
        let own = OwnSources::generate(endpoint, &spec, rng);
        let fingerprint = (0..32)
            .map(|_| format!("{:02X}", rng.next_u64() as u8))
            .collect::<Vec<_>>()
            .join(":");
        Self {
            own,
            state: JingleState::default(),
            spec,
            ufrag: rng.token(4),
            pwd: rng.token(24),
            fingerprint,
            pending_accept: None,
            next_id: 0,
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.pending_accept.as_ref().map(|(at, _)| *at)
    }

    /// The session-accept, when due.
    pub(crate) fn take_due(&mut self, now: Instant) -> Option<Element> {
        if self
            .pending_accept
            .as_ref()
            .is_some_and(|(at, _)| *at <= now)
        {
            self.state.accepted = true;
            return self.pending_accept.take().map(|(_, el)| el);
        }
        None
    }

    /// A Jingle IQ set; the ack is the caller's. `me` is the client's
    /// full JID (the `responder`).
    pub(crate) fn on_jingle(&mut self, now: Instant, iq: &Element, jingle: &Element, me: &str) {
        let action = jingle.attr("action").unwrap_or("").to_owned();
        self.state.actions.push(action.clone());
        let sid = jingle.attr("sid").map(str::to_owned);
        if action != "session-initiate" && sid != self.state.sid {
            self.state
                .problems
                .push(format!("{action} for sid {sid:?}, not the current session"));
            return;
        }
        match action.as_str() {
            "session-initiate" => self.on_offer(now, iq, jingle, me),
            "source-add" => self.apply_sources(jingle, true),
            "source-remove" => self.apply_sources(jingle, false),
            "session-terminate" => {
                let reason = jingle
                    .get_child("reason", NS_JINGLE)
                    .and_then(|r| r.children().next())
                    .map(|c| c.name().to_owned())
                    .unwrap_or_else(|| "none".into());
                self.state.terminated = Some(reason);
                self.state.sid = None;
                self.pending_accept = None;
                self.state.remote.clear();
            }
            _ => {}
        }
    }

    fn on_offer(&mut self, now: Instant, iq: &Element, jingle: &Element, me: &str) {
        self.state.offers += 1;
        self.state.sid = jingle.attr("sid").map(str::to_owned);
        self.state.peer = iq.attr("from").map(str::to_owned);
        self.state.accepted = false;
        self.state.terminated = None;
        self.state.remote.clear();
        self.state.bridge_ufrag = jingle
            .children()
            .filter(|c| c.is("content", NS_JINGLE))
            .find_map(|c| c.get_child("transport", NS_ICE_UDP))
            .and_then(|t| t.attr("ufrag"))
            .map(str::to_owned);
        self.state.bridge_session = jingle
            .get_child("bridge-session", "http://jitsi.org/protocol/focus")
            .and_then(|b| b.attr("id"))
            .map(str::to_owned);
        self.apply_sources(jingle, true);
        if !self.spec.accept {
            return;
        }
        let accept = self.session_accept(iq, jingle, me);
        self.pending_accept = Some((now + self.spec.accept_delay, accept));
    }

    /// Adds or removes the sources of a Jingle element (XML in contents,
    /// or a `json-message`).
    fn apply_sources(&mut self, jingle: &Element, add: bool) {
        let mut found: Vec<(String, u32)> = Vec::new();
        for content in jingle.children().filter(|c| c.is("content", NS_JINGLE)) {
            let descriptions = content.children().filter(|c| c.is("description", NS_RTP));
            for holder in descriptions.chain(std::iter::once(content)) {
                for source in holder.children().filter(|c| c.is("source", NS_SSMA)) {
                    let Some(ssrc) = source.attr("ssrc").and_then(|s| s.parse::<u32>().ok()) else {
                        self.state
                            .problems
                            .push("a source without a valid ssrc".into());
                        continue;
                    };
                    let owner = source
                        .get_child("ssrc-info", NS_JITMEET)
                        .and_then(|i| i.attr("owner"))
                        .map(|o| o.rsplit('/').next().unwrap_or(o).to_owned());
                    match owner {
                        Some(owner) => found.push((owner, ssrc)),
                        None => self
                            .state
                            .problems
                            .push(format!("source {ssrc} without an owner")),
                    }
                }
            }
        }
        if let Some(json) = jingle.get_child("json-message", NS_JITMEET) {
            match json_sources(&json.text()) {
                Ok(sources) => found.extend(sources),
                Err(e) => self.state.problems.push(format!("json-message: {e}")),
            }
        }
        for (owner, ssrc) in found {
            if add {
                self.state.remote.entry(owner).or_default().insert(ssrc);
            } else if let Some(set) = self.state.remote.get_mut(&owner) {
                set.remove(&ssrc);
                if set.is_empty() {
                    self.state.remote.remove(&owner);
                }
            }
        }
    }

    /// lib-jitsi-meet's answer: the offer's contents, each with the
    /// offer's codecs and header extensions, the client's sources and its
    /// transport (fingerprint `setup='active'`), BUNDLE over them.
    fn session_accept(&mut self, iq: &Element, offer: &Element, me: &str) -> Element {
        let contents: Vec<&Element> = offer
            .children()
            .filter(|c| c.is("content", NS_JINGLE))
            .collect();
        let mut group = Element::builder("group", NS_GROUPING).attr(name("semantics"), "BUNDLE");
        for c in &contents {
            group = group.append(
                Element::builder("content", NS_GROUPING)
                    .attr(name("name"), c.attr("name").unwrap_or("")),
            );
        }
        let mut jingle = Element::builder("jingle", NS_JINGLE)
            .attr(name("action"), "session-accept")
            .attr(name("initiator"), offer.attr("initiator").unwrap_or(""))
            .attr(name("responder"), me)
            .attr(name("sid"), offer.attr("sid").unwrap_or(""))
            .append(group.build());
        for c in contents {
            jingle = jingle.append(self.answer_content(c));
        }
        self.next_id += 1;
        Element::builder("iq", NS_CLIENT)
            .attr(name("to"), iq.attr("from").unwrap_or(""))
            .attr(name("type"), "set")
            .attr(name("id"), format!("accept-{}:sendIQ", self.next_id))
            .append(jingle.build())
            .build()
    }

    fn answer_content(&self, offered: &Element) -> Element {
        let content_name = offered.attr("name").unwrap_or("");
        let mut content = Element::builder("content", NS_JINGLE)
            .attr(name("creator"), "responder")
            .attr(name("name"), content_name);
        // lib-jitsi-meet writes no description for the data channel.
        let description = offered
            .get_child("description", NS_RTP)
            .filter(|d| d.attr("media") != Some("application"));
        if let Some(d) = description {
            content = content.attr(name("senders"), "both");
            let media = d.attr("media").unwrap_or(content_name);
            let mut answer = Element::builder("description", NS_RTP).attr(name("media"), media);
            for pt in d.children().filter(|c| c.is("payload-type", NS_RTP)) {
                answer = answer.append(pt.clone());
            }
            for s in self.own.sources.iter().filter(|s| s.media == media) {
                answer = answer.append(
                    Element::builder("source", NS_SSMA)
                        .attr(name("name"), s.name.as_str())
                        .attr(name("ssrc"), s.ssrc.to_string())
                        .append(
                            Element::builder("parameter", NS_SSMA)
                                .attr(name("name"), "msid")
                                .attr(name("value"), s.msid.as_str()),
                        ),
                );
            }
            if media == "video" {
                for (semantics, ssrcs) in &self.own.video_groups {
                    let mut g =
                        Element::builder("ssrc-group", NS_SSMA).attr(name("semantics"), *semantics);
                    for s in ssrcs {
                        g = g.append(
                            Element::builder("source", NS_SSMA).attr(name("ssrc"), s.to_string()),
                        );
                    }
                    answer = answer.append(g);
                }
            }
            answer = answer.append(Element::builder("rtcp-mux", NS_RTP));
            for ext in d.children().filter(|c| c.name() == "rtp-hdrext") {
                answer = answer.append(ext.clone());
            }
            content = content.append(answer);
        }
        let mut transport = Element::builder("transport", NS_ICE_UDP)
            .attr(name("pwd"), self.pwd.as_str())
            .attr(name("ufrag"), self.ufrag.as_str());
        let data = offered
            .get_child("transport", NS_ICE_UDP)
            .is_some_and(|t| t.has_child("sctpmap", NS_SCTP));
        if data {
            transport = transport.append(
                Element::builder("sctpmap", NS_SCTP)
                    .attr(name("number"), "5000")
                    .attr(name("protocol"), "webrtc-datachannel")
                    .attr(name("streams"), "0"),
            );
        }
        transport = transport.append(
            Element::builder("fingerprint", NS_DTLS)
                .attr(name("hash"), "sha-256")
                .attr(name("setup"), "active")
                .append(self.fingerprint.as_str()),
        );
        content.append(transport).build()
    }
}

/// The `(owner, ssrc)` pairs of Jitsi's compact JSON sources
/// (`{"sources":{OWNER:[VIDEO, VIDEO_GROUPS, AUDIO, (AUDIO_GROUPS)]}}`).
pub fn json_sources(text: &str) -> Result<Vec<(String, u32)>, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let owners = value
        .get("sources")
        .and_then(|s| s.as_object())
        .ok_or("no sources object")?;
    let mut out = Vec::new();
    for (owner, lists) in owners {
        let lists = lists.as_array().ok_or("owner entry is not an array")?;
        for index in [0, 2] {
            let Some(list) = lists.get(index) else {
                return Err(format!("owner {owner}: element {index} missing"));
            };
            for source in list.as_array().ok_or("source list is not an array")? {
                let ssrc = source
                    .get("s")
                    .and_then(|s| s.as_u64())
                    .and_then(|s| u32::try_from(s).ok())
                    .ok_or("source without a valid s")?;
                out.push((owner.clone(), ssrc));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::stanza::xml;

    const OFFER: &str = "<iq xmlns='jabber:client' type='set' id='o1' \
        from='room@muc.meet.jitsi/focus' to='u@meet.jitsi/r'>\
        <jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s1' \
          initiator='focus@auth.meet.jitsi/focus'>\
          <content name='audio' creator='initiator' senders='both'>\
            <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>\
              <payload-type id='111' name='opus' clockrate='48000' channels='2'/>\
              <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='11' name='jvb-a0'>\
                <ssrc-info xmlns='http://jitsi.org/jitmeet' owner='jvb'/></source>\
            </description>\
            <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='bu' pwd='bp'/>\
          </content>\
          <content name='video' creator='initiator' senders='both'>\
            <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>\
              <payload-type id='100' name='VP8' clockrate='90000'/></description>\
            <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='bu' pwd='bp'/>\
          </content>\
          <content name='data' creator='initiator' senders='both'>\
            <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='bu' pwd='bp'>\
              <sctpmap xmlns='urn:xmpp:jingle:transports:dtls-sctp:1' number='5000' protocol='webrtc-datachannel' streams='0'/>\
            </transport>\
          </content>\
          <json-message xmlns='http://jitsi.org/jitmeet'>{\"sources\":{\"ab12\":[[{\"s\":21}],[],[{\"s\":22}]]}}</json-message>\
        </jingle></iq>";

    #[test]
    fn answers_an_offer_with_its_sources_and_tracks_remote_ones() {
        let now = Instant::now();
        let mut rng = FocusRng::from_seed([1; 32]);
        let mut client = JingleClient::new("cafe0001", MediaSpec::default(), &mut rng);
        let offer = xml(OFFER);
        let jingle = offer.get_child("jingle", NS_JINGLE).expect("jingle");
        client.on_jingle(now, &offer, jingle, "u@meet.jitsi/r");
        let remote: Vec<_> = client.state.remote.iter().collect();
        assert_eq!(remote.len(), 2, "{remote:?}");
        assert_eq!(client.state.remote["jvb"], BTreeSet::from([11]));
        assert_eq!(client.state.remote["ab12"], BTreeSet::from([21, 22]));
        assert_eq!(client.state.bridge_ufrag.as_deref(), Some("bu"));
        assert!(client.take_due(now).is_none(), "not before the delay");
        let accept = client
            .take_due(now + Duration::from_millis(100))
            .expect("accept");
        assert_eq!(accept.attr("to"), Some("room@muc.meet.jitsi/focus"));
        let j = accept.get_child("jingle", NS_JINGLE).expect("jingle");
        assert_eq!(j.attr("action"), Some("session-accept"));
        assert_eq!(j.attr("sid"), Some("s1"));
        let contents: Vec<_> = j
            .children()
            .filter(|c| c.is("content", NS_JINGLE))
            .collect();
        assert_eq!(contents.len(), 3);
        let video = contents[1].get_child("description", NS_RTP).expect("video");
        let ssrcs = video.children().filter(|c| c.is("source", NS_SSMA)).count();
        assert_eq!(ssrcs, 6, "three layers with RTX");
        let groups = video
            .children()
            .filter(|c| c.is("ssrc-group", NS_SSMA))
            .count();
        assert_eq!(groups, 4, "SIM and three FID");
        assert!(
            contents[2]
                .get_child("transport", NS_ICE_UDP)
                .is_some_and(|t| t.has_child("sctpmap", NS_SCTP))
        );
        assert!(client.state.accepted);

        // source-remove, then a stanza for another session.
        let remove = xml(
            "<iq xmlns='jabber:client' type='set' id='r1' from='room@muc.meet.jitsi/focus'>\
             <jingle xmlns='urn:xmpp:jingle:1' action='source-remove' sid='s1'>\
             <json-message xmlns='http://jitsi.org/jitmeet'>{\"sources\":{\"ab12\":[[{\"s\":21}],[],[{\"s\":22}]]}}</json-message>\
             </jingle></iq>",
        );
        let j = remove.get_child("jingle", NS_JINGLE).expect("jingle");
        client.on_jingle(now, &remove, j, "u@meet.jitsi/r");
        assert!(!client.state.remote.contains_key("ab12"));
        let stale = xml("<iq xmlns='jabber:client' type='set' id='r2'>\
             <jingle xmlns='urn:xmpp:jingle:1' action='source-add' sid='old'/></iq>");
        let j = stale.get_child("jingle", NS_JINGLE).expect("jingle");
        client.on_jingle(now, &stale, j, "u@meet.jitsi/r");
        assert_eq!(client.state.problems.len(), 1);
    }
}
