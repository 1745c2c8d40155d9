//! COLIBRI2 the way Jitsi Videobridge answers it (colibri2.md): the
//! per-conference state the focus builds with `conference-modify`, and the
//! `conference-modified` answers and errors.
//!
//! What is kept per conference is exactly what a test wants to inspect:
//! endpoints (with their media, transports, sources, force-mute), relays
//! (with their remote endpoints), connects, and the bridge's own transport
//! and feedback sources it handed out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use minidom::Element;

use super::xml::{
    Attr, NS_COLIBRI, NS_COLIBRI2, NS_DTLS, NS_HDREXT, NS_ICE, NS_RTP, NS_SSMA, bool_attr, elem,
    error_reply, reply,
};
use super::{EmulatorEvent, Rng};

/// The SCTP port a bridge always uses.
pub const SCTP_PORT: u16 = 5000;

/// One conference on the emulated bridge, keyed by its meeting id.
#[derive(Debug, Clone, PartialEq)]
pub struct Conference {
    /// `meeting-id`.
    pub meeting_id: String,
    /// `name` of the create request (the room JID), when given.
    pub name: Option<String>,
    /// The bridge's internal conference id (16 hex digits; it appears in
    /// the web-socket URLs).
    pub id: String,
    /// `rtcstats-enabled` of the create request (default true).
    pub rtcstats_enabled: bool,
    /// Local endpoints by id.
    pub endpoints: BTreeMap<String, Endpoint>,
    /// Relays by the remote bridge's relay id.
    pub relays: BTreeMap<String, Relay>,
    /// Transcriber/translator connects by id (or URL when without id).
    pub connects: BTreeMap<String, Connect>,
    /// SSRC of the audio feedback source `jvb-a0`.
    pub feedback_audio_ssrc: u32,
    /// SSRC of the video feedback source `jvb-v0`.
    pub feedback_video_ssrc: u32,
    /// How many `conference-modify` requests it has handled, the create
    /// included.
    pub requests: u64,
}

/// A local endpoint (a participant connected to this bridge).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Endpoint {
    /// The endpoint id (the participant's MUC nickname).
    pub id: String,
    /// `stats-id`, the latest given.
    pub stats_id: Option<String>,
    /// `muc-role`, the latest given.
    pub muc_role: Option<String>,
    /// Whether it is a visitor (`muc-role='visitor'`).
    pub visitor: bool,
    /// `diarize` of the create request.
    pub diarize: bool,
    /// `capability` names of the create request.
    pub capabilities: Vec<String>,
    /// Payload types received so far (JVB adds them up).
    pub payload_types: Vec<PayloadType>,
    /// Header extensions received so far.
    pub header_extensions: Vec<HeaderExtension>,
    /// Whether some `media` had `extmap-allow-mixed`.
    pub extmap_allow_mixed: bool,
    /// `ice-controlling` of the create request (the bridge's role).
    pub ice_controlling: bool,
    /// Whether the create request asked for SCTP.
    pub sctp: bool,
    /// The bridge's side of the transport as it hands it out now: the
    /// pending ICE restart's agent while one awaits the participant's
    /// answer, else the agent in use.
    pub local: LocalTransport,
    /// The password of the endpoint's web-socket URL (`?pwd=`), fixed at
    /// create like JVB's: an ICE restart does not change it.
    pub web_socket_pwd: String,
    /// The participant's transport, the latest given.
    pub remote: Option<RemoteTransport>,
    /// Whether a `sources` element was ever received.
    pub sources_signaled: bool,
    /// The latest complete source list.
    pub sources: Vec<MediaSource>,
    /// `force-mute audio`.
    pub force_mute_audio: bool,
    /// `force-mute video`.
    pub force_mute_video: bool,
    /// `initial-last-n value`.
    pub initial_last_n: Option<i64>,
    /// Whether the ICE agent in use counts as connected. The emulator does
    /// no ICE: it is connected once the focus relayed a participant
    /// transport with `ufrag` and `pwd` (session-accept / transport-info)
    /// to it, and a restart's agent once the participant answered it.
    pub ice_established: bool,
    /// While an ICE restart awaits the participant's answer: the agent in
    /// use that it would replace (`local` is then the restart's agent).
    /// `None` when no restart is pending.
    pub ice_previous: Option<LocalTransport>,
    /// When the pending ICE restart is given up (JVB's
    /// `videobridge.ice.restart.timeout`), if one is pending.
    pub ice_restart_deadline: Option<Instant>,
    /// The latest `ice-generation` a remote transport the focus relayed
    /// carried (the participant's answer to a restart); `None` until one
    /// did.
    pub remote_ice_generation: Option<u32>,
    /// Requests with `<transport ice-restart='true'/>`, whatever became of
    /// them.
    pub ice_restart_requests: u32,
    /// In-place ICE restarts started (new credentials handed out). Each
    /// got the next `ice-generation`, so this is also the latest
    /// generation handed out.
    pub ice_restarts: u32,
    /// Restarts the participant answered (the bridge then uses the new
    /// agent).
    pub ice_restarts_completed: u32,
    /// Restarts given up (not answered in time).
    pub ice_restarts_abandoned: u32,
    /// Update requests after the create.
    pub updates: u32,
}

impl Endpoint {
    /// Its ICE state, as [`EndpointIce`].
    pub fn ice(&self) -> EndpointIce {
        EndpointIce {
            generation: self.local.ice_generation,
            ufrag: self.local.ufrag.clone(),
            pwd: self.local.pwd.clone(),
            established: self.ice_established,
            restart_pending: self.ice_previous.is_some(),
            remote_generation: self.remote_ice_generation,
            restarts: self.ice_restarts,
        }
    }
}

/// A local endpoint's ICE state, for tests
/// ([`EmulatedBridge::endpoint_ice`](super::EmulatedBridge::endpoint_ice)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointIce {
    /// The `ice-generation` of the transport the bridge hands out now: 0
    /// before any ICE restart, N once restart N started (pending or
    /// answered); back to the old agent's if a pending restart is given up.
    pub generation: u32,
    /// The local ICE ufrag handed out now (the pending restart's while one
    /// awaits the participant's answer).
    pub ufrag: String,
    /// The local ICE password handed out now.
    pub pwd: String,
    /// Whether the agent in use counts as connected (see
    /// [`Endpoint::ice_established`]).
    pub established: bool,
    /// Whether a restart awaits the participant's answer.
    pub restart_pending: bool,
    /// The latest `ice-generation` a relayed participant transport carried.
    pub remote_generation: Option<u32>,
    /// ICE restarts started so far.
    pub restarts: u32,
}

/// What became of an ICE restart, for [`EmulatorEvent::IceRestart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceRestartOutcome {
    /// A restart started: new credentials with this `ice-generation` were
    /// answered.
    Started(u32),
    /// A restart of this generation is still waiting for the participant:
    /// its credentials were answered again (JVB does not roll another
    /// generation for a duplicate request).
    StillPending(u32),
    /// The transport is not established yet: the unchanged transport was
    /// answered, without `ice-generation`.
    KeptExisting,
    /// Restarts are disabled: no `transport` was answered.
    Declined,
    /// The participant answered restart N (a transport with
    /// `ice-generation` N was relayed): the bridge now uses its agent.
    Completed(u32),
    /// Restart N was not answered in time and was given up; the previous
    /// agent stays in use.
    Abandoned(u32),
}

/// A payload type of a `media`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadType {
    /// `audio` or `video`.
    pub media_type: String,
    /// `id`.
    pub id: u8,
    /// `name` (`opus`, `VP8`...).
    pub name: String,
    /// `clockrate`.
    pub clockrate: Option<u32>,
}

/// An RTP header extension of a `media`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderExtension {
    /// `audio` or `video`.
    pub media_type: String,
    /// `id`.
    pub id: u8,
    /// `uri`.
    pub uri: String,
}

/// The bridge's side of an ICE/DTLS transport.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalTransport {
    /// ICE username fragment.
    pub ufrag: String,
    /// ICE password (also the web-socket `pwd` of a relay, and of an
    /// endpoint as first allocated).
    pub pwd: String,
    /// The UDP port of its host candidate on 127.0.0.1.
    pub port: u16,
    /// The candidate id prefix.
    pub candidate_id: String,
    /// 0 for the agent allocated first, N for the agent of in-place ICE
    /// restart N.
    pub ice_generation: u32,
}

/// A transport received from the focus (the participant's, or the other
/// bridge's for a relay).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteTransport {
    /// `ufrag`.
    pub ufrag: Option<String>,
    /// `pwd`.
    pub pwd: Option<String>,
    /// How many `candidate`s it had.
    pub candidates: usize,
    /// The DTLS fingerprint text.
    pub fingerprint: Option<String>,
    /// The DTLS `setup` (`active`, `passive`, `actpass`).
    pub setup: Option<String>,
    /// Whether it carried `web-socket` URLs.
    pub web_sockets: usize,
    /// `ice-generation` (a participant's answer to an ICE restart).
    pub ice_generation: Option<u32>,
    /// The `ice:transport` element as received.
    pub element: Element,
}

/// One `media-source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSource {
    /// `audio` or `video`.
    pub media_type: String,
    /// `id`, the source name.
    pub id: String,
    /// `synthetic`.
    pub synthetic: bool,
    /// The `source` children.
    pub sources: Vec<Source>,
    /// The `ssrc-group` children: (semantics, SSRCs).
    pub groups: Vec<(String, Vec<u32>)>,
}

/// One `source` of a `media-source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// `ssrc`.
    pub ssrc: u32,
    /// `name`.
    pub name: Option<String>,
    /// `videoType`.
    pub video_type: Option<String>,
}

/// A relay: the link to another bridge in the same conference.
#[derive(Debug, Clone, PartialEq)]
pub struct Relay {
    /// The remote bridge's relay id.
    pub id: String,
    /// `mesh-id`.
    pub mesh_id: Option<String>,
    /// `ice-controlling` of the create request.
    pub ice_controlling: bool,
    /// `use-unique-port` of the create request.
    pub use_unique_port: bool,
    /// This bridge's SCTP role, when SCTP was asked (the opposite of the
    /// requested one).
    pub sctp_role: Option<String>,
    /// The bridge's side of the transport.
    pub local: LocalTransport,
    /// The other bridge's transport, once the focus forwarded it.
    pub remote: Option<RemoteTransport>,
    /// Payload types received.
    pub payload_types: Vec<PayloadType>,
    /// Header extensions received.
    pub header_extensions: Vec<HeaderExtension>,
    /// Endpoints living on the other bridge, by id.
    pub endpoints: BTreeMap<String, RemoteEndpoint>,
}

/// An endpoint behind a relay.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteEndpoint {
    /// Its id.
    pub id: String,
    /// `stats-id`.
    pub stats_id: Option<String>,
    /// The latest complete source list.
    pub sources: Vec<MediaSource>,
}

/// A `connect` (transcriber / translator / recorder export).
#[derive(Debug, Clone, PartialEq)]
pub struct Connect {
    /// `id`, or the URL when the request had no id.
    pub id: String,
    /// `url`.
    pub url: String,
    /// `protocol`.
    pub protocol: Option<String>,
    /// `type`.
    pub kind: Option<String>,
    /// `audio`.
    pub audio: bool,
    /// `video`.
    pub video: bool,
    /// `http-header`s: (name, value).
    pub headers: Vec<(String, String)>,
    /// `exports/export name`s.
    pub exports: Vec<String>,
    /// `requests/request name`s.
    pub requests: Vec<String>,
}

/// Counters since the bridge started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Conferences created.
    pub conferences_created: u64,
    /// Conferences expired (explicitly or when emptied).
    pub conferences_completed: u64,
    /// Local endpoints created.
    pub endpoints_created: u64,
    /// Relays created.
    pub relays_created: u64,
    /// `conference-modify` requests answered with an error.
    pub errors: u64,
}

/// A COLIBRI2 failure: the stanza error JVB would send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct C2Error {
    condition: &'static str,
    text: String,
    reason: Option<&'static str>,
    endpoint: Option<String>,
}

impl C2Error {
    fn new(condition: &'static str, text: impl Into<String>) -> Self {
        Self {
            condition,
            text: text.into(),
            reason: None,
            endpoint: None,
        }
    }

    fn bad_request(text: impl Into<String>) -> Self {
        Self::new("bad-request", text)
    }

    fn reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    fn reply_to(&self, request: &Element) -> Element {
        let mut extra = Vec::new();
        if let Some(reason) = self.reason {
            extra.push(elem("error", NS_COLIBRI2).at("reason", reason).build());
        }
        if let Some(id) = &self.endpoint {
            extra.push(elem("endpoint", NS_COLIBRI2).at("id", id.as_str()).build());
        }
        error_reply(request, self.condition, Some(&self.text), extra)
    }
}

/// What a request needs from the bridge around the conference state.
pub(crate) struct Ctx<'a> {
    pub rng: &'a mut Rng,
    /// The bridge's nickname (its web-socket server id).
    pub server_id: &'a str,
    /// The shared UDP port of the host candidates.
    pub media_port: u16,
    /// `wss://host:port` of the web-socket URLs, if any.
    pub web_socket_base: Option<&'a str>,
    /// The bridge-wide DTLS fingerprint.
    pub fingerprint: &'a str,
    /// Refuse `create` (graceful shutdown or shutting down).
    pub refuse_create: bool,
    /// Whether in-place ICE restarts are accepted.
    pub ice_restart: bool,
    /// How long a pending ICE restart waits for the participant's answer
    /// (zero: restarts are declined, as JVB does).
    pub ice_restart_timeout: Duration,
    /// The time of the request.
    pub now: Instant,
    pub events: &'a mut Vec<EmulatorEvent>,
}

/// Every conference of the bridge and its counters.
#[derive(Debug, Default)]
pub(crate) struct Colibri {
    pub conferences: BTreeMap<String, Conference>,
    pub totals: Totals,
    /// Unique ports handed out to relays so far.
    unique_ports: u16,
}

impl Colibri {
    /// When the earliest pending ICE restart is given up, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.conferences
            .values()
            .flat_map(|c| c.endpoints.values())
            .filter_map(|e| e.ice_restart_deadline)
            .min()
    }

    /// Gives up the pending ICE restarts due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant, events: &mut Vec<EmulatorEvent>) {
        for conference in self.conferences.values_mut() {
            for endpoint in conference.endpoints.values_mut() {
                abandon_ice_restart(endpoint, &conference.meeting_id, now, events);
            }
        }
    }

    /// Handles the IQ `request` whose payload is `modify`; the answer.
    pub(crate) fn handle(
        &mut self,
        ctx: &mut Ctx<'_>,
        request: &Element,
        modify: &Element,
    ) -> Element {
        match self.process(ctx, modify) {
            Ok(modified) => reply(request, "result").append(modified).build(),
            Err(e) => {
                self.totals.errors += 1;
                ctx.events.push(EmulatorEvent::Colibri2Error {
                    meeting_id: modify.attr("meeting-id").unwrap_or_default().to_owned(),
                    condition: e.condition.to_owned(),
                    text: e.text.clone(),
                });
                e.reply_to(request)
            }
        }
    }

    fn process(&mut self, ctx: &mut Ctx<'_>, modify: &Element) -> Result<Element, C2Error> {
        let meeting_id = modify
            .attr("meeting-id")
            .filter(|m| !m.trim().is_empty())
            .ok_or_else(|| C2Error::bad_request("Missing meeting-id"))?
            .to_owned();
        let create = bool_attr(modify, "create");
        let expire = bool_attr(modify, "expire");
        let endpoints: Vec<&Element> = modify
            .children()
            .filter(|c| c.is("endpoint", NS_COLIBRI2))
            .collect();
        let relays: Vec<&Element> = modify
            .children()
            .filter(|c| c.is("relay", NS_COLIBRI2))
            .collect();

        // The conference (Videobridge.getOrCreateConference).
        if create {
            if ctx.refuse_create {
                return Err(C2Error::new("service-unavailable", "In graceful shutdown")
                    .reason("graceful_shutdown"));
            }
            if let Some(name) = modify.attr("name")
                && !is_entity_bare_jid(name)
            {
                return Err(C2Error::bad_request("Invalid conference name (not a JID)"));
            }
            if self.conferences.contains_key(&meeting_id) {
                return Err(C2Error::new(
                    "conflict",
                    format!("Conference already exists for ID: {meeting_id}"),
                )
                .reason("conference_already_exists"));
            }
            let conference = Conference {
                meeting_id: meeting_id.clone(),
                name: modify.attr("name").map(str::to_owned),
                id: ctx.rng.hex(16),
                rtcstats_enabled: modify.attr("rtcstats-enabled") != Some("false"),
                endpoints: BTreeMap::new(),
                relays: BTreeMap::new(),
                connects: BTreeMap::new(),
                feedback_audio_ssrc: ctx.rng.ssrc(),
                feedback_video_ssrc: ctx.rng.ssrc(),
                requests: 0,
            };
            self.conferences.insert(meeting_id.clone(), conference);
            self.totals.conferences_created += 1;
            ctx.events.push(EmulatorEvent::ConferenceCreated {
                meeting_id: meeting_id.clone(),
                name: modify.attr("name").map(str::to_owned),
            });
        }
        let Some(conference) = self.conferences.get_mut(&meeting_id) else {
            return Err(C2Error::new(
                "item-not-found",
                format!("Conference not found for ID: {meeting_id}"),
            )
            .reason("conference_not_found"));
        };
        conference.requests += 1;

        validate_shape(&endpoints, &relays)?;
        let ignorable = only_expires_or_force_mutes(&endpoints, &relays);

        let mut modified = elem("conference-modified", NS_COLIBRI2);
        for e in &endpoints {
            let answer = handle_endpoint(conference, ctx, &mut self.totals, e, ignorable)?;
            modified = modified.append(answer);
        }
        for r in &relays {
            let answer = handle_relay(
                conference,
                ctx,
                &mut self.totals,
                &mut self.unique_ports,
                r,
                ignorable,
            )?;
            modified = modified.append(answer);
        }
        if let Some(connects) = modify.get_child("connects", NS_COLIBRI2) {
            handle_connects(conference, connects)?;
        }
        if create || endpoints.iter().any(|e| bool_attr(e, "create")) {
            modified = modified.append(feedback_sources(conference));
        }

        let emptied = conference.endpoints.is_empty() && conference.relays.is_empty();
        if expire || (!create && emptied) {
            self.conferences.remove(&meeting_id);
            self.totals.conferences_completed += 1;
            ctx.events.push(EmulatorEvent::ConferenceExpired {
                meeting_id,
                explicit: expire,
            });
        }
        Ok(modified.build())
    }
}

/// Whether `name` is a bare JID with a local part (`room@muc.example`).
fn is_entity_bare_jid(name: &str) -> bool {
    jid::BareJid::new(name).is_ok_and(|j| j.node().is_some())
}

/// The request-shape rules JVB enforces (colibri2.md §2.12).
fn validate_shape(endpoints: &[&Element], relays: &[&Element]) -> Result<(), C2Error> {
    let unsupported = |text: &str| {
        Err(C2Error::new("feature-not-implemented", text).reason("feature_not_implemented"))
    };
    if !endpoints.is_empty() && !relays.is_empty() {
        return unsupported("Using both 'relay' and 'endpoint' in a request");
    }
    if endpoints.len() > 1 {
        let heavy = endpoints.iter().any(|e| {
            bool_attr(e, "create")
                || ["media", "transport", "sources"]
                    .iter()
                    .any(|n| e.get_child(n, NS_COLIBRI2).is_some())
        });
        if heavy {
            return unsupported(
                "Multiple endpoints in a request, one of them with create, media, transport or sources",
            );
        }
    }
    if relays.len() > 1 {
        return unsupported("Multiple relays in a request");
    }
    Ok(())
}

/// Whether the request only expires things or only changes force-mute:
/// then unknown endpoints and relays are skipped silently.
fn only_expires_or_force_mutes(endpoints: &[&Element], relays: &[&Element]) -> bool {
    let endpoint_ok = |e: &Element| {
        bool_attr(e, "expire")
            || (!bool_attr(e, "create") && e.children().all(|c| c.is("force-mute", NS_COLIBRI2)))
    };
    let relay_ok = |r: &Element| {
        bool_attr(r, "expire")
            || (!bool_attr(r, "create")
                && r.children().all(|c| {
                    c.is("endpoints", NS_COLIBRI2) && c.children().all(|e| bool_attr(e, "expire"))
                }))
    };
    endpoints.iter().all(|e| endpoint_ok(e)) && relays.iter().all(|r| relay_ok(r))
}

fn required_id<'a>(el: &'a Element, what: &str) -> Result<&'a str, C2Error> {
    el.attr("id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| C2Error::bad_request(format!("Missing {what} id")))
}

fn new_local(rng: &mut Rng, port: u16) -> LocalTransport {
    LocalTransport {
        ufrag: rng.base32(8),
        pwd: rng.base32(24),
        port,
        candidate_id: rng.hex(8),
        ice_generation: 0,
    }
}

/// The SCTP `role` on create: absent or `server` for endpoints.
fn check_endpoint_sctp(sctp: &Element) -> Result<(), C2Error> {
    if let Some(role) = sctp.attr("role")
        && role != "server"
    {
        return Err(C2Error::new(
            "feature-not-implemented",
            format!("Unsupported SCTP role: {role}"),
        )
        .reason("feature_not_implemented"));
    }
    check_sctp_port(sctp)
}

fn check_sctp_port(sctp: &Element) -> Result<(), C2Error> {
    match sctp.attr("port") {
        None => Ok(()),
        Some(p) if p.parse::<u16>() == Ok(SCTP_PORT) => Ok(()),
        Some(_) => Err(C2Error::bad_request(
            "Specific SCTP port requested, not supported.",
        )),
    }
}

fn handle_endpoint(
    conference: &mut Conference,
    ctx: &mut Ctx<'_>,
    totals: &mut Totals,
    e: &Element,
    ignorable: bool,
) -> Result<Element, C2Error> {
    let id = required_id(e, "endpoint")?.to_owned();
    let answer = elem("endpoint", NS_COLIBRI2).at("id", id.as_str());
    if bool_attr(e, "expire") {
        if conference.endpoints.remove(&id).is_some() {
            ctx.events.push(EmulatorEvent::EndpointExpired {
                meeting_id: conference.meeting_id.clone(),
                endpoint: id,
            });
        }
        return Ok(answer.at("expire", "true").build());
    }
    let create = bool_attr(e, "create");
    let transport = e.get_child("transport", NS_COLIBRI2);
    let mut answer_transport = None;
    if create {
        if conference.endpoints.contains_key(&id) {
            return Err(C2Error::new(
                "conflict",
                format!("Endpoint with ID {id} already exists"),
            ));
        }
        let Some(transport) = transport else {
            return Err(C2Error::bad_request(format!(
                "Attempt to create endpoint {id} with no <transport>"
            )));
        };
        let capabilities: Vec<String> = e
            .children()
            .filter(|c| c.is("capability", NS_COLIBRI2))
            .filter_map(|c| c.attr("name").map(str::to_owned))
            .collect();
        if !capabilities.iter().any(|c| c == "source-names") {
            return Err(C2Error::bad_request("Source name support is mandatory."));
        }
        let sctp = transport.get_child("sctp", NS_COLIBRI2);
        if let Some(sctp) = sctp {
            check_endpoint_sctp(sctp)?;
        }
        if let Some(role) = e.attr("muc-role") {
            check_muc_role(role)?;
        }
        let mut endpoint = Endpoint {
            id: id.clone(),
            capabilities,
            diarize: bool_attr(e, "diarize"),
            ice_controlling: bool_attr(transport, "ice-controlling"),
            sctp: sctp.is_some(),
            local: new_local(ctx.rng, ctx.media_port),
            ..Endpoint::default()
        };
        endpoint.web_socket_pwd = endpoint.local.pwd.clone();
        answer_transport = Some(describe_endpoint(
            &endpoint,
            ctx,
            &conference.id,
            sctp.is_some(),
        ));
        conference.endpoints.insert(id.clone(), endpoint);
        totals.endpoints_created += 1;
        ctx.events.push(EmulatorEvent::EndpointCreated {
            meeting_id: conference.meeting_id.clone(),
            endpoint: id.clone(),
        });
    } else if !conference.endpoints.contains_key(&id) {
        if ignorable {
            return Ok(answer.build());
        }
        let mut err = C2Error::new("item-not-found", format!("Endpoint not found for ID: {id}"))
            .reason("unknown_endpoint");
        err.endpoint = Some(id);
        return Err(err);
    }
    let conference_id = conference.id.clone();
    let meeting_id = conference.meeting_id.clone();
    let Some(endpoint) = conference.endpoints.get_mut(&id) else {
        return Err(C2Error::new("internal-server-error", "endpoint vanished"));
    };

    if let Some(role) = e.attr("muc-role") {
        check_muc_role(role)?;
        endpoint.visitor = role == "visitor";
        endpoint.muc_role = Some(role.to_owned());
    }
    if let Some(stats_id) = e.attr("stats-id") {
        endpoint.stats_id = Some(stats_id.to_owned());
    }
    for media in e.children().filter(|c| c.is("media", NS_COLIBRI2)) {
        read_media(
            media,
            &mut endpoint.payload_types,
            &mut endpoint.header_extensions,
            &mut endpoint.extmap_allow_mixed,
        )?;
    }
    if let Some(ice) = transport.and_then(|t| t.get_child("transport", NS_ICE)) {
        let remote = read_remote(ice);
        apply_remote(endpoint, &remote, &meeting_id, ctx.events);
        endpoint.remote = Some(remote);
    }
    if let Some(sources) = e.get_child("sources", NS_COLIBRI2) {
        let parsed = read_sources(sources, &id)?;
        if endpoint.visitor && !parsed.is_empty() {
            return Err(C2Error::bad_request(format!(
                "Attempt to set sources for visitor endpoint {id}"
            )));
        }
        endpoint.sources = parsed;
        endpoint.sources_signaled = true;
    }
    if let Some(mute) = e.get_child("force-mute", NS_COLIBRI2) {
        endpoint.force_mute_audio = bool_attr(mute, "audio");
        endpoint.force_mute_video = bool_attr(mute, "video");
    }
    if let Some(last_n) = e.get_child("initial-last-n", NS_COLIBRI2) {
        let value = last_n
            .attr("value")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| C2Error::bad_request("Invalid initial-last-n"))?;
        endpoint.initial_last_n = Some(value);
    }
    if !create {
        endpoint.updates += 1;
    }
    // The restart comes last, as in JVB: nothing after it can fail the
    // request, so a restart is never armed for a request answered with an
    // error. A remote transport in the same request went to the agent in
    // use (above).
    if let Some(transport) = transport
        && bool_attr(transport, "ice-restart")
    {
        let restart = request_ice_restart(endpoint, &meeting_id, ctx);
        // Only a declined restart answers no transport (a create always
        // does).
        if !create && restart != IceRestartOutcome::Declined {
            let sctp = transport.get_child("sctp", NS_COLIBRI2).is_some();
            answer_transport = Some(describe_endpoint(endpoint, ctx, &conference_id, sctp));
        }
    }
    let mut answer = answer;
    if let Some(t) = answer_transport {
        answer = answer.append(t);
    }
    Ok(answer.build())
}

fn check_muc_role(role: &str) -> Result<(), C2Error> {
    match role {
        "moderator" | "participant" | "visitor" | "none" => Ok(()),
        other => Err(C2Error::bad_request(format!("Invalid muc-role: {other}"))),
    }
}

/// The `transport` JVB answers for a local endpoint (its
/// `describeTransport`): the agent handed out now, stamped with its
/// `ice-generation` only while it is a pending restart's; `sctp` when the
/// request's transport asked for it.
fn describe_endpoint(
    endpoint: &Endpoint,
    ctx: &Ctx<'_>,
    conference_id: &str,
    sctp: bool,
) -> Element {
    describe(
        &endpoint.local,
        ctx,
        &format!(
            "colibri-ws/{}/{conference_id}/{}",
            ctx.server_id, endpoint.id
        ),
        &endpoint.web_socket_pwd,
        sctp.then_some("server"),
        endpoint.ice_previous.is_some(),
    )
}

/// A participant transport the focus relayed reaches the endpoint's ICE
/// (JVB's `IceTransport.startConnectivityEstablishment`): one tagged with
/// an `ice-generation` while a restart is pending is the participant's
/// answer to it and, for that restart's generation and with credentials,
/// completes it (the emulator connects the new agent at once); a tagged
/// one for another generation is dropped. Anything else is for the agent
/// in use, which it connects once it carries `ufrag` and `pwd`.
fn apply_remote(
    endpoint: &mut Endpoint,
    remote: &RemoteTransport,
    meeting_id: &str,
    events: &mut Vec<EmulatorEvent>,
) {
    let credentials = remote.ufrag.as_deref().is_some_and(|u| !u.is_empty())
        && remote.pwd.as_deref().is_some_and(|p| !p.is_empty());
    if let Some(generation) = remote.ice_generation {
        endpoint.remote_ice_generation = Some(generation);
        if endpoint.ice_previous.is_some() {
            if generation == endpoint.local.ice_generation && credentials {
                endpoint.ice_previous = None;
                endpoint.ice_restart_deadline = None;
                endpoint.ice_established = true;
                endpoint.ice_restarts_completed += 1;
                events.push(EmulatorEvent::IceRestart {
                    meeting_id: meeting_id.to_owned(),
                    endpoint: endpoint.id.clone(),
                    outcome: IceRestartOutcome::Completed(generation),
                });
            }
            return;
        }
    }
    if credentials {
        endpoint.ice_established = true;
    }
}

/// An in-place ICE restart request (JVB's `IceTransport.requestIceRestart`):
/// declined when restarts are disabled (or their timeout is zero); the
/// transport kept when the agent in use is not connected yet; the pending
/// restart's credentials again while one awaits the participant's answer;
/// else a new agent with fresh credentials and the next `ice-generation`,
/// pending until the participant answers it or the timeout gives it up.
fn request_ice_restart(
    endpoint: &mut Endpoint,
    meeting_id: &str,
    ctx: &mut Ctx<'_>,
) -> IceRestartOutcome {
    endpoint.ice_restart_requests += 1;
    let outcome = if !ctx.ice_restart || ctx.ice_restart_timeout.is_zero() {
        IceRestartOutcome::Declined
    } else if !endpoint.ice_established {
        IceRestartOutcome::KeptExisting
    } else if endpoint.ice_previous.is_some() {
        IceRestartOutcome::StillPending(endpoint.local.ice_generation)
    } else {
        let generation = endpoint.ice_restarts + 1;
        let fresh = LocalTransport {
            ice_generation: generation,
            ..new_local(ctx.rng, ctx.media_port)
        };
        endpoint.ice_previous = Some(std::mem::replace(&mut endpoint.local, fresh));
        endpoint.ice_restart_deadline = ctx.now.checked_add(ctx.ice_restart_timeout);
        endpoint.ice_restarts = generation;
        IceRestartOutcome::Started(generation)
    };
    ctx.events.push(EmulatorEvent::IceRestart {
        meeting_id: meeting_id.to_owned(),
        endpoint: endpoint.id.clone(),
        outcome,
    });
    outcome
}

/// Gives up, on `endpoint`, a pending ICE restart due at `now`: the agent
/// it would have replaced is handed out again.
fn abandon_ice_restart(
    endpoint: &mut Endpoint,
    meeting_id: &str,
    now: Instant,
    events: &mut Vec<EmulatorEvent>,
) {
    if endpoint.ice_restart_deadline.is_none_or(|due| due > now) {
        return;
    }
    endpoint.ice_restart_deadline = None;
    if let Some(previous) = endpoint.ice_previous.take() {
        let generation = endpoint.local.ice_generation;
        endpoint.local = previous;
        endpoint.ice_restarts_abandoned += 1;
        events.push(EmulatorEvent::IceRestart {
            meeting_id: meeting_id.to_owned(),
            endpoint: endpoint.id.clone(),
            outcome: IceRestartOutcome::Abandoned(generation),
        });
    }
}

fn handle_relay(
    conference: &mut Conference,
    ctx: &mut Ctx<'_>,
    totals: &mut Totals,
    unique_ports: &mut u16,
    r: &Element,
    ignorable: bool,
) -> Result<Element, C2Error> {
    let id = required_id(r, "relay")?.to_owned();
    let answer = elem("relay", NS_COLIBRI2).at("id", id.as_str());
    if bool_attr(r, "expire") {
        if conference.relays.remove(&id).is_some() {
            ctx.events.push(EmulatorEvent::RelayExpired {
                meeting_id: conference.meeting_id.clone(),
                relay: id,
            });
        }
        return Ok(answer.at("expire", "true").build());
    }
    let create = bool_attr(r, "create");
    let transport = r.get_child("transport", NS_COLIBRI2);
    let mut answer_transport = None;
    if create {
        if conference.relays.contains_key(&id) {
            return Err(C2Error::new(
                "conflict",
                format!("Relay with ID {id} already exists"),
            ));
        }
        let Some(transport) = transport else {
            return Err(C2Error::bad_request(format!(
                "Attempt to create relay {id} with no <transport>"
            )));
        };
        let sctp_role = match transport.get_child("sctp", NS_COLIBRI2) {
            None => None,
            Some(sctp) => {
                check_sctp_port(sctp)?;
                Some(match sctp.attr("role") {
                    Some("client") => "server",
                    Some("server") => "client",
                    None => "server",
                    Some(other) => {
                        return Err(C2Error::new(
                            "feature-not-implemented",
                            format!("Unsupported SCTP role: {other}"),
                        )
                        .reason("feature_not_implemented"));
                    }
                })
            }
        };
        let use_unique_port = bool_attr(transport, "use-unique-port");
        let port = if use_unique_port {
            *unique_ports = unique_ports.wrapping_add(1);
            ctx.media_port.wrapping_add(*unique_ports)
        } else {
            ctx.media_port
        };
        let relay = Relay {
            id: id.clone(),
            mesh_id: r.attr("mesh-id").map(str::to_owned),
            ice_controlling: bool_attr(transport, "ice-controlling"),
            use_unique_port,
            sctp_role: sctp_role.map(str::to_owned),
            local: new_local(ctx.rng, port),
            remote: None,
            payload_types: Vec::new(),
            header_extensions: Vec::new(),
            endpoints: BTreeMap::new(),
        };
        answer_transport = Some(describe(
            &relay.local,
            ctx,
            &format!("colibri-relay-ws/{}/{}/{id}", ctx.server_id, conference.id),
            &relay.local.pwd,
            sctp_role,
            false,
        ));
        conference.relays.insert(id.clone(), relay);
        totals.relays_created += 1;
        ctx.events.push(EmulatorEvent::RelayCreated {
            meeting_id: conference.meeting_id.clone(),
            relay: id.clone(),
        });
    } else if !conference.relays.contains_key(&id) {
        if ignorable {
            return Ok(answer.build());
        }
        return Err(C2Error::bad_request(format!("Unknown relay {id}")));
    }
    let Some(relay) = conference.relays.get_mut(&id) else {
        return Err(C2Error::new("internal-server-error", "relay vanished"));
    };
    if let Some(ice) = transport.and_then(|t| t.get_child("transport", NS_ICE)) {
        relay.remote = Some(read_remote(ice));
    }
    let mut allow_mixed = false;
    for media in r.children().filter(|c| c.is("media", NS_COLIBRI2)) {
        read_media(
            media,
            &mut relay.payload_types,
            &mut relay.header_extensions,
            &mut allow_mixed,
        )?;
    }
    if let Some(list) = r.get_child("endpoints", NS_COLIBRI2) {
        for ep in list.children().filter(|c| c.is("endpoint", NS_COLIBRI2)) {
            let ep_id = required_id(ep, "endpoint")?.to_owned();
            if bool_attr(ep, "expire") {
                relay.endpoints.remove(&ep_id);
                continue;
            }
            let sources = match ep.get_child("sources", NS_COLIBRI2) {
                Some(s) => Some(read_sources(s, &ep_id)?),
                None => None,
            };
            if bool_attr(ep, "create") {
                relay.endpoints.insert(
                    ep_id.clone(),
                    RemoteEndpoint {
                        id: ep_id,
                        stats_id: ep.attr("stats-id").map(str::to_owned),
                        sources: sources.unwrap_or_default(),
                    },
                );
            } else if let Some(known) = relay.endpoints.get_mut(&ep_id)
                && let Some(sources) = sources
            {
                known.sources = sources;
            }
            // An update for a remote endpoint the relay does not have is
            // ignored, as JVB only logs it.
        }
    }
    let mut answer = answer;
    if let Some(t) = answer_transport {
        answer = answer.append(t);
    }
    Ok(answer.build())
}

fn handle_connects(conference: &mut Conference, connects: &Element) -> Result<(), C2Error> {
    let mut seen = BTreeSet::new();
    for c in connects.children().filter(|c| c.is("connect", NS_COLIBRI2)) {
        let url = c
            .attr("url")
            .ok_or_else(|| C2Error::bad_request("connect without url"))?;
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(C2Error::bad_request(format!(
                "Invalid connect URL (not ws/wss): {url}"
            )));
        }
        let key = c.attr("id").unwrap_or(url).to_owned();
        if !seen.insert(key.clone()) {
            return Err(C2Error::bad_request(format!("Duplicate connect: {key}")));
        }
        if bool_attr(c, "expire") {
            conference.connects.remove(&key);
            continue;
        }
        if bool_attr(c, "create") && conference.connects.contains_key(&key) {
            return Err(C2Error::bad_request(format!(
                "Connect already exists: {key}"
            )));
        }
        let mut headers = Vec::new();
        for h in c.children().filter(|h| h.is("http-header", NS_COLIBRI2)) {
            let name = h.attr("name").unwrap_or_default();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
            {
                return Err(C2Error::bad_request(format!(
                    "Invalid HTTP header name: {name:?}"
                )));
            }
            headers.push((
                name.to_owned(),
                h.attr("value").unwrap_or_default().to_owned(),
            ));
        }
        let names = |list: &str, item: &str| -> Vec<String> {
            c.get_child(list, NS_COLIBRI2)
                .map(|l| {
                    l.children()
                        .filter(|x| x.is(item, NS_COLIBRI2))
                        .filter_map(|x| x.attr("name").map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        conference.connects.insert(
            key.clone(),
            Connect {
                id: key,
                url: url.to_owned(),
                protocol: c.attr("protocol").map(str::to_owned),
                kind: c.attr("type").map(str::to_owned),
                audio: bool_attr(c, "audio"),
                video: bool_attr(c, "video"),
                headers,
                exports: names("exports", "export"),
                requests: names("requests", "request"),
            },
        );
    }
    Ok(())
}

/// Adds a `media`'s payload types and header extensions to the lists (JVB
/// adds what it recognises and never removes).
fn read_media(
    media: &Element,
    payload_types: &mut Vec<PayloadType>,
    header_extensions: &mut Vec<HeaderExtension>,
    allow_mixed: &mut bool,
) -> Result<(), C2Error> {
    let Some(media_type) = media
        .attr("type")
        .filter(|t| matches!(*t, "audio" | "video"))
    else {
        return Err(C2Error::bad_request(format!(
            "Invalid media type: {:?}",
            media.attr("type").unwrap_or_default()
        )));
    };
    for pt in media.children().filter(|c| c.is("payload-type", NS_RTP)) {
        let (Some(id), Some(name)) = (
            pt.attr("id").and_then(|v| v.trim().parse::<u8>().ok()),
            pt.attr("name"),
        ) else {
            continue; // unrecognised: logged and ignored by JVB
        };
        let entry = PayloadType {
            media_type: media_type.to_owned(),
            id,
            name: name.to_owned(),
            clockrate: pt.attr("clockrate").and_then(|v| v.trim().parse().ok()),
        };
        payload_types.retain(|p| !(p.media_type == media_type && p.id == id));
        payload_types.push(entry);
    }
    for ext in media.children().filter(|c| c.is("rtp-hdrext", NS_HDREXT)) {
        let (Some(id), Some(uri)) = (
            ext.attr("id").and_then(|v| v.trim().parse::<u8>().ok()),
            ext.attr("uri"),
        ) else {
            continue;
        };
        header_extensions.retain(|h| !(h.media_type == media_type && h.id == id));
        header_extensions.push(HeaderExtension {
            media_type: media_type.to_owned(),
            id,
            uri: uri.to_owned(),
        });
    }
    if media.get_child("extmap-allow-mixed", NS_HDREXT).is_some() {
        *allow_mixed = true;
    }
    Ok(())
}

fn read_remote(ice: &Element) -> RemoteTransport {
    let fingerprint = ice.get_child("fingerprint", NS_DTLS);
    RemoteTransport {
        ufrag: ice.attr("ufrag").map(str::to_owned),
        pwd: ice.attr("pwd").map(str::to_owned),
        candidates: ice.children().filter(|c| c.is("candidate", NS_ICE)).count(),
        fingerprint: fingerprint.map(|f| f.text().trim().to_owned()),
        setup: fingerprint.and_then(|f| f.attr("setup").map(str::to_owned)),
        web_sockets: ice
            .children()
            .filter(|c| c.is("web-socket", NS_COLIBRI))
            .count(),
        ice_generation: ice
            .attr("ice-generation")
            .and_then(|g| g.trim().parse().ok()),
        element: ice.clone(),
    }
}

/// Parses a `sources` element; `owner` names default source ids.
fn read_sources(sources: &Element, owner: &str) -> Result<Vec<MediaSource>, C2Error> {
    let mut out = Vec::new();
    for ms in sources
        .children()
        .filter(|c| c.is("media-source", NS_COLIBRI2))
    {
        let media_type = match ms.attr("type") {
            Some(t @ ("audio" | "video")) => t,
            other => {
                return Err(C2Error::bad_request(format!(
                    "Invalid media-source type: {:?}",
                    other.unwrap_or_default()
                )));
            }
        };
        let id = ms.attr("id").map(str::to_owned).unwrap_or_else(|| {
            format!("{owner}-{}0", if media_type == "audio" { 'a' } else { 'v' })
        });
        let mut entry = MediaSource {
            media_type: media_type.to_owned(),
            id,
            synthetic: bool_attr(ms, "synthetic"),
            sources: Vec::new(),
            groups: Vec::new(),
        };
        for s in ms.children().filter(|c| c.is("source", NS_SSMA)) {
            entry.sources.push(Source {
                ssrc: parse_ssrc(s)?,
                name: s.attr("name").map(str::to_owned),
                video_type: s.attr("videoType").map(str::to_owned),
            });
        }
        for g in ms.children().filter(|c| c.is("ssrc-group", NS_SSMA)) {
            let semantics = g.attr("semantics").unwrap_or_default().to_owned();
            let ssrcs = g
                .children()
                .filter(|c| c.is("source", NS_SSMA))
                .map(parse_ssrc)
                .collect::<Result<Vec<_>, _>>()?;
            entry.groups.push((semantics, ssrcs));
        }
        out.push(entry);
    }
    Ok(out)
}

fn parse_ssrc(source: &Element) -> Result<u32, C2Error> {
    source
        .attr("ssrc")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .ok_or_else(|| {
            C2Error::bad_request(format!(
                "Invalid ssrc: {:?}",
                source.attr("ssrc").unwrap_or_default()
            ))
        })
}

/// The COLIBRI2 `transport` JVB answers for `local`: ICE credentials
/// (with `ice-generation` when `with_generation`), one host candidate on
/// 127.0.0.1, rtcp-mux, the DTLS fingerprint (`setup='actpass'`), the
/// web-socket URL (`path` under the base, `?pwd=ws_pwd`), and the SCTP
/// port and role when asked.
fn describe(
    local: &LocalTransport,
    ctx: &Ctx<'_>,
    path: &str,
    ws_pwd: &str,
    sctp_role: Option<&str>,
    with_generation: bool,
) -> Element {
    let mut ice = elem("transport", NS_ICE)
        .at("ufrag", local.ufrag.as_str())
        .at("pwd", local.pwd.as_str());
    if with_generation {
        ice = ice.at("ice-generation", local.ice_generation.to_string());
    }
    ice = ice
        .append(
            elem("candidate", NS_ICE)
                .at("component", "1")
                .at("foundation", "1")
                .at("generation", "0")
                .at("id", format!("{}0", local.candidate_id))
                .at("network", "0")
                .at("priority", "2130706431")
                .at("protocol", "udp")
                .at("type", "host")
                .at("ip", "127.0.0.1")
                .at("port", local.port.to_string()),
        )
        .append(elem("rtcp-mux", NS_ICE))
        .append(
            elem("fingerprint", NS_DTLS)
                .at("hash", "sha-256")
                .at("setup", "actpass")
                .append(ctx.fingerprint),
        );
    if let Some(base) = ctx.web_socket_base {
        ice = ice.append(
            elem("web-socket", NS_COLIBRI).at("url", format!("{base}/{path}?pwd={ws_pwd}")),
        );
    }
    let mut transport = elem("transport", NS_COLIBRI2).append(ice);
    if let Some(role) = sctp_role {
        transport = transport.append(
            elem("sctp", NS_COLIBRI2)
                .at("port", SCTP_PORT.to_string())
                .at("role", role),
        );
    }
    transport.build()
}

/// The conference's feedback sources `jvb-a0` / `jvb-v0`.
fn feedback_sources(conference: &Conference) -> Element {
    let source = |kind: &str, id: &str, ssrc: u32| {
        elem("media-source", NS_COLIBRI2)
            .at("type", kind)
            .at("id", id)
            .append(
                elem("source", NS_SSMA)
                    .at("ssrc", ssrc.to_string())
                    .at("name", id),
            )
    };
    elem("sources", NS_COLIBRI2)
        .append(source("audio", "jvb-a0", conference.feedback_audio_ssrc))
        .append(source("video", "jvb-v0", conference.feedback_video_ssrc))
        .build()
}
