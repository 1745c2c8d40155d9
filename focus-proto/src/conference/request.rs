//! Conference requests: the `conference` IQ (`http://jitsi.org/protocol/focus`)
//! and its REST twin `POST /conference-request/v1`, decided as Jicofo does.
//!
//! Both forms become a [`ConferenceRequest`] and one [`decide`] step; only
//! how the answer travels differs ([`Waiter`]). A request that creates a
//! conference is answered when the focus has joined the room (`ready`), or
//! with `internal-server-error` if the join fails (Jicofo stays silent then;
//! clients treat any error as fatal, which is better than a timeout).

use std::collections::VecDeque;
use std::time::Instant;

use jid::{BareJid, FullJid};
use minidom::Element;
use serde_json::{Map, Value, json};
use tracing::{info, warn};

use super::ConferenceProps;
use super::manager::{Conferences, Ctx, Ensured};
use crate::auth::AuthError;
use crate::ext::conference_iq::{
    ConferenceAnswer, ConferenceRequest, NS_FOCUS, Property, parse_room_jid, session_invalid,
};
use crate::ext::error::{Condition, StanzaError, iq_error, iq_result};
use crate::focus::{ConnId, HttpId, Output};
use crate::http::{HttpRequest, HttpResponse};
use crate::xml::ncname;

/// How many conferences one requester may have created that nobody has
/// joined yet; more is a flood (answered `policy-violation`).
pub const MAX_UNJOINED_PER_REQUESTER: usize = 16;

/// Where the answer to a request goes.
#[derive(Debug, Clone)]
pub(crate) enum ReplyTo {
    /// An IQ: the original request, for the reply's addressing.
    Iq { conn: ConnId, request: Element },
    /// A REST request.
    Http { id: HttpId },
}

impl ReplyTo {
    fn reject(self, out: &mut VecDeque<Output>, error: &StanzaError, room: Option<&str>) {
        match self {
            ReplyTo::Iq { conn, request } => {
                let stanza = iq_error(&request, error, Some(echo(room)));
                out.push_back(Output::Send { conn, stanza });
            }
            ReplyTo::Http { id } => out.push_back(Output::Http {
                id,
                response: http_error(error),
            }),
        }
    }
}

/// A request whose answer is decided, waiting to be sent (at once, or when
/// the join of its room ends).
#[derive(Debug, Clone)]
pub(crate) struct Waiter {
    reply_to: ReplyTo,
    answer: ConferenceAnswer,
}

impl Waiter {
    /// Sends the answer: `Ok(ready)` or `Err(why the conference failed)`.
    pub(crate) fn answer(self, out: &mut VecDeque<Output>, outcome: Result<bool, String>) {
        let Waiter {
            reply_to,
            mut answer,
        } = self;
        match (reply_to, outcome) {
            (ReplyTo::Iq { conn, request }, Ok(ready)) => {
                answer.ready = ready;
                let stanza = iq_result(&request, Some(answer.to_element()));
                out.push_back(Output::Send { conn, stanza });
            }
            (ReplyTo::Iq { conn, request }, Err(why)) => {
                let error = StanzaError::new(Condition::InternalServerError).with_text(why);
                let stanza = iq_error(&request, &error, Some(echo(Some(&answer.room))));
                out.push_back(Output::Send { conn, stanza });
            }
            (ReplyTo::Http { id }, Ok(ready)) => {
                answer.ready = ready;
                out.push_back(Output::Http {
                    id,
                    response: HttpResponse::json(200, &answer_json(&answer)),
                });
            }
            (ReplyTo::Http { id }, Err(why)) => {
                out.push_back(Output::Http {
                    id,
                    response: HttpResponse::text(400, format!("Bad request: {why}")),
                });
            }
        }
    }
}

/// `<conference room=…/>`, echoed in error answers as Jicofo does.
fn echo(room: Option<&str>) -> Element {
    let mut el = Element::builder("conference", NS_FOCUS);
    if let Some(room) = room {
        el = el.attr(ncname("room"), room);
    }
    el.build()
}

/// Who sent an IQ: its `from`, or for requests relayed by the
/// `client_proxy` component (`from` = `<proxy>/<real full JID>`), the JID
/// in the resource. A resource that is not a JID leaves the proxy address.
pub(crate) fn real_sender(from: Option<&str>, client_proxy: Option<&str>) -> Option<FullJid> {
    let from = FullJid::new(from?).ok()?;
    let Some(proxy) = client_proxy else {
        return Some(from);
    };
    if from.node().is_none()
        && from.domain().as_str().eq_ignore_ascii_case(proxy)
        && let Ok(inner) = FullJid::new(from.resource().as_str())
    {
        return Some(inner);
    }
    Some(from)
}

/// The decision on one request.
enum Decision {
    /// Answer now.
    Answer(ConferenceAnswer),
    /// Answer when the join completes.
    Wait(ConferenceAnswer, BareJid),
    /// An error answer.
    Reject(StanzaError),
}

/// Decides a request from `sender` (None over REST).
fn decide(
    now: Instant,
    ctx: &mut Ctx<'_>,
    conferences: &mut Conferences,
    focus_jid: &str,
    request: &ConferenceRequest,
    sender: Option<&FullJid>,
) -> Decision {
    conferences.stats_mut().conference_requests += 1;
    let Some(raw_room) = request.room.as_deref() else {
        return Decision::Reject(
            StanzaError::new(Condition::BadRequest).with_text("No 'room' specified."),
        );
    };
    let room = match parse_room_jid(raw_room) {
        Ok(room) => room,
        Err(e) => {
            return Decision::Reject(
                StanzaError::new(Condition::BadRequest)
                    .with_text(format!("Invalid room name: {e}")),
            );
        }
    };
    let mut answer = skeleton(ctx, focus_jid, raw_room);
    // Rooms of the breakout component skip authentication (as in Jicofo).
    let breakout = conferences
        .breakout_component
        .as_deref()
        .is_some_and(|b| room.domain().as_str().eq_ignore_ascii_case(b));
    if ctx.auth.enabled() && !breakout {
        match ctx.auth.authenticate(
            now,
            ctx.rng,
            sender,
            &room,
            request.machine_uid.as_deref(),
            request.session_id.as_deref(),
        ) {
            Ok(Some(session)) => {
                answer.session_id = Some(session.id);
                answer.identity = Some(session.identity);
                if let Some(sender) = sender {
                    conferences.authenticated(now, ctx, sender);
                }
            }
            Ok(None) => {}
            Err(e) => return Decision::Reject(auth_error(&e)),
        }
        let exists = conferences.get(&room).is_some();
        let authenticated = sender.is_some_and(|s| ctx.auth.is_authenticated(s));
        if !exists && !authenticated {
            return Decision::Reject(
                StanzaError::new(Condition::NotAuthorized).with_text("not authorized user domain"),
            );
        }
    }
    let creator = sender.map(|s| s.to_string());
    if conferences.get(&room).is_none()
        && let Some(creator) = &creator
        && conferences.unjoined_created_by(creator) >= MAX_UNJOINED_PER_REQUESTER
    {
        return Decision::Reject(
            StanzaError::new(Condition::PolicyViolation)
                .with_text("too many new conferences requested; join one first"),
        );
    }
    let props = ConferenceProps {
        start_audio_muted: request.start_audio_muted(),
        start_video_muted: request.start_video_muted(),
        rtcstats_enabled: request.rtcstats_enabled(),
    };
    answer
        .properties
        .push(("visitors-supported".to_owned(), "false".to_owned()));
    match conferences.ensure(now, ctx, &room, props, creator) {
        Ensured::Created => {
            conferences.stats_mut().conference_requests_new += 1;
            Decision::Wait(answer, room)
        }
        Ensured::Joining => Decision::Answer(answer),
        Ensured::Joined => {
            answer.ready = true;
            Decision::Answer(answer)
        }
    }
}

/// The answer's fixed part (conference-iq.md §3), not ready yet.
fn skeleton(ctx: &Ctx<'_>, focus_jid: &str, room: &str) -> ConferenceAnswer {
    let mut properties = vec![("authentication".to_owned(), ctx.auth.enabled().to_string())];
    if ctx.auth.enabled() {
        properties.push((
            "externalAuth".to_owned(),
            ctx.auth.is_external().to_string(),
        ));
    }
    if ctx.config.jigasi.brewery_jid.is_some() {
        properties.push(("sipGatewayEnabled".to_owned(), "true".to_owned()));
    }
    ConferenceAnswer {
        room: room.to_owned(),
        focus_jid: focus_jid.to_owned(),
        session_id: None,
        identity: None,
        vnode: None,
        ready: false,
        properties,
    }
}

fn auth_error(e: &AuthError) -> StanzaError {
    let error = StanzaError::new(Condition::NotAcceptable).with_text(e.to_string());
    match e {
        AuthError::InvalidSession => error.with_app(session_invalid()),
        _ => error,
    }
}

/// Handles a conference IQ (`set`, payload `conference`) received on `conn`.
pub(crate) fn handle_iq(
    now: Instant,
    ctx: &mut Ctx<'_>,
    conferences: &mut Conferences,
    focus_jid: &str,
    conn: ConnId,
    iq: &Element,
    payload: &Element,
) {
    let sender = real_sender(
        iq.attr("from"),
        ctx.config.xmpp.client.client_proxy.as_deref(),
    );
    let requester = sender
        .as_ref()
        .map_or_else(|| "?".to_owned(), |s| s.to_string());
    let request = match ConferenceRequest::parse(payload) {
        Ok(r) => r,
        Err(e) => {
            warn!(requester = %requester, error = %e, "malformed conference request");
            let error = StanzaError::new(Condition::BadRequest).with_text(e.to_string());
            ctx.out.push_back(Output::Send {
                conn,
                stanza: iq_error(iq, &error, Some(echo(None))),
            });
            return;
        }
    };
    let reply_to = ReplyTo::Iq {
        conn,
        request: iq.clone(),
    };
    finish(
        now,
        ctx,
        conferences,
        focus_jid,
        &request,
        sender.as_ref(),
        reply_to,
        &requester,
    );
}

#[allow(clippy::too_many_arguments)]
fn finish(
    now: Instant,
    ctx: &mut Ctx<'_>,
    conferences: &mut Conferences,
    focus_jid: &str,
    request: &ConferenceRequest,
    sender: Option<&FullJid>,
    reply_to: ReplyTo,
    requester: &str,
) {
    let room = request.room.as_deref();
    match decide(now, ctx, conferences, focus_jid, request, sender) {
        Decision::Answer(answer) => {
            let ready = answer.ready;
            info!(requester, room, ready, "conference request answered");
            Waiter { reply_to, answer }.answer(ctx.out, Ok(ready));
        }
        Decision::Wait(answer, room) => {
            info!(requester, conference = %room, "conference request: creating the conference");
            conferences.add_waiter(&room, Waiter { reply_to, answer });
        }
        Decision::Reject(error) => {
            conferences.stats_mut().conference_requests_failed += 1;
            warn!(
                requester,
                room,
                condition = error.condition.as_str(),
                text = error.text.as_deref().unwrap_or(""),
                "conference request refused"
            );
            reply_to.reject(ctx.out, &error, room);
        }
    }
}

/// Handles `POST /conference-request/v1` (and `OPTIONS`).
pub(crate) fn handle_http(
    now: Instant,
    ctx: &mut Ctx<'_>,
    conferences: &mut Conferences,
    focus_jid: &str,
    id: HttpId,
    request: &HttpRequest,
) {
    let mut parsed = match request_from_json(&request.body) {
        Ok(r) => r,
        Err(e) => {
            ctx.out.push_back(Output::Http {
                id,
                response: HttpResponse::text(400, format!("Bad request: {e}")),
            });
            return;
        }
    };
    if let Some(auth) = request.header("authorization") {
        let token = auth.strip_prefix("Bearer ").unwrap_or(auth).trim();
        if !token.is_empty() {
            parsed.token = Some(token.to_owned());
        }
    }
    finish(
        now,
        ctx,
        conferences,
        focus_jid,
        &parsed,
        None,
        ReplyTo::Http { id },
        "http",
    );
}

/// The REST body as a conference request (unknown keys ignored, scalars in
/// `properties` coerced to strings).
fn request_from_json(body: &[u8]) -> Result<ConferenceRequest, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let Value::Object(map) = value else {
        return Err("expected a JSON object".to_owned());
    };
    let text = |key: &str| -> Result<Option<String>, String> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("'{key}' must be a string, not {other}")),
        }
    };
    let mut properties = Vec::new();
    match map.get("properties") {
        None | Some(Value::Null) => {}
        Some(Value::Object(props)) => {
            for (name, value) in props {
                let value = match value {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    Value::Bool(b) => Some(b.to_string()),
                    Value::Number(n) => Some(n.to_string()),
                    other => {
                        return Err(format!("property '{name}' must be a scalar, not {other}"));
                    }
                };
                properties.push(Property {
                    name: name.clone(),
                    value,
                });
            }
        }
        Some(other) => return Err(format!("'properties' must be an object, not {other}")),
    }
    Ok(ConferenceRequest {
        room: text("room")?,
        machine_uid: text("machineUid")?,
        session_id: text("sessionId")?,
        token: None,
        properties,
    })
}

/// The JSON answer: empty fields omitted, property values as strings.
fn answer_json(answer: &ConferenceAnswer) -> Value {
    let mut obj = Map::new();
    obj.insert("room".into(), json!(answer.room));
    obj.insert("ready".into(), json!(answer.ready));
    obj.insert("focusJid".into(), json!(answer.focus_jid));
    if let Some(s) = &answer.session_id {
        obj.insert("sessionId".into(), json!(s));
    }
    if let Some(s) = &answer.identity {
        obj.insert("identity".into(), json!(s));
    }
    if let Some(s) = &answer.vnode {
        obj.insert("vnode".into(), json!(s));
    }
    let props: Map<String, Value> = answer
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    obj.insert("properties".into(), Value::Object(props));
    Value::Object(obj)
}

/// An error answer over REST (conference-iq.md §7).
fn http_error(error: &StanzaError) -> HttpResponse {
    match error.condition {
        Condition::NotAuthorized => HttpResponse::text(403, "Error"),
        Condition::NotAcceptable => HttpResponse::text(400, "Bad request: invalid-session"),
        _ => {
            let text = error
                .text
                .clone()
                .unwrap_or_else(|| error.condition.as_str().to_owned());
            HttpResponse::text(400, format!("Bad request: {text}"))
        }
    }
}
