//! Error answers to COLIBRI2 requests and what the focus does about them
//! (colibri2.md §2.9, §2.10).
//!
//! A bridge adds `<error xmlns='jitsi:colibri2' reason/>` (and, for an
//! unknown endpoint, `<endpoint xmlns='jitsi:colibri2' id/>`) to the stanza
//! error; without it the error came from the XMPP server or the MUC
//! service (typically: the bridge left the brewery). Jicofo looks only at
//! the condition and the reason, as [`BridgeError::on_allocation`] and
//! [`BridgeError::on_request`] do.

use minidom::Element;

use super::NS_COLIBRI2;
use super::conference::{Answer, ConferenceModified};
use crate::ext::error::{Condition, ErrorType, StanzaError};
use crate::ext::jingle::Transport as IceTransport;
use crate::source::EndpointSourceSet;
use crate::xml::ncname;
use crate::xmpp::ns;

/// Longest `reason` value kept by [`Reason::Other`], and longest endpoint id
/// and text kept from an error (longer ones are cut).
pub const MAX_ERROR_VALUE: usize = 1024;

/// The `reason` of a COLIBRI2 `<error/>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    /// `conference_not_found`: no conference with this meeting-id.
    ConferenceNotFound,
    /// `conference_already_exists`: a create for an existing meeting-id.
    ConferenceAlreadyExists,
    /// `feature_not_implemented`: request shape or feature not supported.
    FeatureNotImplemented,
    /// `graceful_shutdown`: a create on a bridge shutting down.
    GracefulShutdown,
    /// `unknown_endpoint`: an update for an endpoint the bridge lacks.
    UnknownEndpoint,
    /// `unspecified`, or no `reason` attribute.
    Unspecified,
    /// Any other value, as received (cut to [`MAX_ERROR_VALUE`] bytes).
    /// Smack would refuse the whole stanza; the focus treats it as a
    /// bridge error without a special meaning.
    Other(String),
}

impl Reason {
    const KNOWN: [Reason; 6] = [
        Self::ConferenceNotFound,
        Self::ConferenceAlreadyExists,
        Self::FeatureNotImplemented,
        Self::GracefulShutdown,
        Self::UnknownEndpoint,
        Self::Unspecified,
    ];

    /// The wire value (lower case).
    pub fn as_str(&self) -> &str {
        match self {
            Self::ConferenceNotFound => "conference_not_found",
            Self::ConferenceAlreadyExists => "conference_already_exists",
            Self::FeatureNotImplemented => "feature_not_implemented",
            Self::GracefulShutdown => "graceful_shutdown",
            Self::UnknownEndpoint => "unknown_endpoint",
            Self::Unspecified => "unspecified",
            Self::Other(value) => value,
        }
    }

    /// Reads a `reason` as Jitsi does (in any case); absent is
    /// [`Reason::Unspecified`].
    pub fn from_wire(value: Option<&str>) -> Self {
        let Some(value) = value else {
            return Self::Unspecified;
        };
        Self::KNOWN
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(value))
            .unwrap_or_else(|| Self::Other(cut(value)))
    }
}

/// At most [`MAX_ERROR_VALUE`] bytes of `value`, cut at a character
/// boundary.
fn cut(value: &str) -> String {
    let mut end = value.len().min(MAX_ERROR_VALUE);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value.get(..end).unwrap_or_default().to_owned()
}

/// An error answer to a COLIBRI2 request.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeError {
    /// `type` of the error.
    pub kind: ErrorType,
    /// The defined condition (`undefined-condition` when none is known).
    pub condition: Condition,
    /// `<text/>` (cut to [`MAX_ERROR_VALUE`] bytes).
    pub text: Option<String>,
    /// The reason of the COLIBRI2 `<error/>` child; `None` without one
    /// (the error did not come from a bridge).
    pub reason: Option<Reason>,
    /// `id` of the COLIBRI2 `<endpoint/>` child (an unknown endpoint).
    pub endpoint_id: Option<String>,
}

/// What kind of failure an error answer reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// `bad-request`: the focus sent something wrong.
    BadRequest,
    /// `item-not-found` + `conference_not_found`: the conference is gone
    /// from the bridge (it expired it, or restarted).
    ConferenceGone,
    /// `conflict` + `conference_already_exists`.
    ConferenceAlreadyExists,
    /// `unknown_endpoint` with an `<endpoint id/>`: that endpoint is gone.
    EndpointUnknown(String),
    /// `service-unavailable` + `graceful_shutdown`.
    GracefulShutdown,
    /// `item-not-found` without a COLIBRI2 reason: the MUC service answered
    /// (the bridge left the brewery).
    NotFound,
    /// Any other error: the bridge failed.
    BridgeFailed,
}

/// What to record about the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BridgeMark {
    /// `operational = false` (sticky for `failure-reset-threshold`).
    NonOperational,
    /// `graceful-shutdown = true`: never select it again.
    GracefulShutdown,
}

/// What the focus does when an allocation request (one creating an
/// endpoint) fails (Jicofo's `handleResponse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AllocationFailure {
    /// Give up on this participant only (no retry); the session stays.
    #[error("allocation failed for this participant")]
    FailParticipant {
        /// What to record about the bridge, if anything.
        mark: Option<BridgeMark>,
    },
    /// Remove (and expire) the session and re-invite all its participants,
    /// this one included.
    #[error("allocation failed, the session is removed")]
    RemoveSession {
        /// What to record about the bridge, if anything.
        mark: Option<BridgeMark>,
    },
    /// `conference_already_exists`: remove the session and re-invite its
    /// participants; this participant's invite is cancelled (a warning,
    /// not an error).
    #[error("conference already exists on the bridge")]
    ConferenceAlreadyExists,
}

/// What the focus does when a fire-and-forget request (update, force-mute,
/// expire, relay update) gets no good answer (Jicofo's
/// `Colibri2Session.sendRequest`), or a relay create fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestFailure {
    /// Nothing (a timeout, logged).
    #[error("request timed out, ignored")]
    Ignore,
    /// Drop this endpoint from the session and re-invite that participant.
    #[error("endpoint {endpoint_id} unknown to the bridge")]
    EndpointFailed {
        /// The endpoint the bridge does not know.
        endpoint_id: String,
    },
    /// The session failed: remove and expire it, expire the relays to it
    /// on the other bridges, re-invite its participants (the bridge is not
    /// marked).
    #[error("session failed")]
    SessionFailed,
}

impl BridgeError {
    /// An error with a condition of its default type, a text and a reason.
    pub fn new(condition: Condition, text: Option<&str>, reason: Option<Reason>) -> Self {
        Self {
            kind: condition.default_type(),
            condition,
            text: text.map(str::to_owned),
            reason,
            endpoint_id: None,
        }
    }

    /// Reads the error of an IQ (its `<error/>` child); an IQ without one
    /// reads as `undefined-condition` with no reason.
    pub fn from_iq(iq: &Element) -> Self {
        let error = iq
            .children()
            .find(|c| c.name() == "error" && (c.ns() == iq.ns() || c.ns() == ns::CLIENT));
        match error {
            Some(error) => Self::from_error_element(error),
            None => Self::new(Condition::UndefinedCondition, None, None),
        }
    }

    /// Reads an `<error/>` element (its name is not checked): the stanza
    /// error as [`StanzaError::from_error_element`] reads it, plus the
    /// first COLIBRI2 `<error reason/>` and `<endpoint id/>` children.
    pub fn from_error_element(error: &Element) -> Self {
        let stanza = StanzaError::from_error_element(error);
        let reason = error
            .get_child("error", NS_COLIBRI2)
            .map(|e| Reason::from_wire(e.attr("reason")));
        let endpoint_id = error
            .get_child("endpoint", NS_COLIBRI2)
            .and_then(|e| e.attr("id"))
            .map(cut);
        Self {
            kind: stanza.kind,
            condition: stanza.condition,
            text: stanza.text.as_deref().map(cut),
            reason,
            endpoint_id,
        }
    }

    /// The `<error/>` element (in `jabber:client`): condition, text, the
    /// COLIBRI2 `<error reason/>`, the COLIBRI2 `<endpoint id/>` (JVB's
    /// order).
    pub fn to_element(&self) -> Element {
        let mut el = StanzaError {
            kind: self.kind,
            condition: self.condition,
            text: self.text.clone(),
            app: None,
        }
        .to_element();
        if let Some(reason) = &self.reason {
            el.append_child(
                Element::builder("error", NS_COLIBRI2)
                    .attr(ncname("reason"), reason.as_str())
                    .build(),
            );
        }
        if let Some(id) = &self.endpoint_id {
            el.append_child(
                Element::builder("endpoint", NS_COLIBRI2)
                    .attr(ncname("id"), id.as_str())
                    .build(),
            );
        }
        el
    }

    /// Whether the error came from a bridge (it has a COLIBRI2 reason).
    pub fn from_bridge(&self) -> bool {
        self.reason.is_some()
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        if let (Some(Reason::UnknownEndpoint), Some(id)) = (&self.reason, &self.endpoint_id) {
            return ErrorKind::EndpointUnknown(id.clone());
        }
        match (self.condition, &self.reason) {
            (Condition::BadRequest, _) => ErrorKind::BadRequest,
            (Condition::ItemNotFound, Some(Reason::ConferenceNotFound)) => {
                ErrorKind::ConferenceGone
            }
            (Condition::ItemNotFound, None) => ErrorKind::NotFound,
            (Condition::Conflict, Some(Reason::ConferenceAlreadyExists)) => {
                ErrorKind::ConferenceAlreadyExists
            }
            (Condition::ServiceUnavailable, Some(Reason::GracefulShutdown)) => {
                ErrorKind::GracefulShutdown
            }
            _ => ErrorKind::BridgeFailed,
        }
    }

    /// What to do when this answers an allocation request:
    ///
    /// | condition | reason | action |
    /// |---|---|---|
    /// | `bad-request` | any | fail the participant |
    /// | `item-not-found` | `conference_not_found` | remove the session |
    /// | `item-not-found` | other or none | fail the participant |
    /// | `conflict` | `conference_already_exists` | [`AllocationFailure::ConferenceAlreadyExists`] |
    /// | `conflict` | other or none | remove the session |
    /// | `service-unavailable` | `graceful_shutdown` | remove the session, mark graceful shutdown |
    /// | `service-unavailable` | other or none | remove the session, mark non-operational |
    /// | anything else | any | remove the session, mark non-operational |
    pub fn on_allocation(&self) -> AllocationFailure {
        use AllocationFailure::*;
        match (self.condition, &self.reason) {
            (Condition::BadRequest, _) => FailParticipant { mark: None },
            (Condition::ItemNotFound, Some(Reason::ConferenceNotFound)) => {
                RemoveSession { mark: None }
            }
            (Condition::ItemNotFound, _) => FailParticipant { mark: None },
            (Condition::Conflict, Some(Reason::ConferenceAlreadyExists)) => ConferenceAlreadyExists,
            (Condition::Conflict, _) => RemoveSession { mark: None },
            (Condition::ServiceUnavailable, Some(Reason::GracefulShutdown)) => RemoveSession {
                mark: Some(BridgeMark::GracefulShutdown),
            },
            _ => RemoveSession {
                mark: Some(BridgeMark::NonOperational),
            },
        }
    }

    /// What to do when this answers a fire-and-forget request:
    /// `unknown_endpoint` with an endpoint id fails that endpoint, anything
    /// else fails the session.
    pub fn on_request(&self) -> RequestFailure {
        match (&self.reason, &self.endpoint_id) {
            (Some(Reason::UnknownEndpoint), Some(id)) => RequestFailure::EndpointFailed {
                endpoint_id: id.clone(),
            },
            _ => RequestFailure::SessionFailed,
        }
    }
}

/// A successful allocation: what the focus puts into the participant's
/// offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocated {
    /// The bridge's ICE-UDP transport for the endpoint.
    pub transport: IceTransport,
    /// The SCTP port, when the answer has an `<sctp/>` with a port.
    pub sctp_port: Option<u16>,
    /// The feedback sources of the answer (see
    /// [`ConferenceModified::feedback_sources`]); Jicofo keeps them only
    /// from the answer that created the session.
    pub feedback_sources: EndpointSourceSet,
}

/// The outcome of an allocation request for `endpoint_id`: `answer` is
/// `None` on a timeout. `sctp` tells whether SCTP was asked for.
///
/// Besides [`BridgeError::on_allocation`] for errors: a timeout removes
/// the session and marks the bridge non-operational; a result without
/// `<conference-modified/>` fails the participant and marks the bridge
/// non-operational; an answer without a transport (or without an ICE-UDP
/// transport) for the endpoint, or without an SCTP port when SCTP was
/// asked, fails the participant.
pub fn allocation_outcome(
    answer: Option<&Answer>,
    endpoint_id: &str,
    sctp: bool,
) -> Result<Allocated, AllocationFailure> {
    let modified = match answer {
        None => {
            return Err(AllocationFailure::RemoveSession {
                mark: Some(BridgeMark::NonOperational),
            });
        }
        Some(Answer::Error(error)) => return Err(error.on_allocation()),
        Some(Answer::WrongResult) => {
            return Err(AllocationFailure::FailParticipant {
                mark: Some(BridgeMark::NonOperational),
            });
        }
        Some(Answer::Modified(modified)) => modified,
    };
    let fail = AllocationFailure::FailParticipant { mark: None };
    let transport = modified
        .endpoint(endpoint_id)
        .and_then(|e| e.transport.as_ref())
        .ok_or(fail)?;
    let sctp_port = transport.sctp.as_ref().and_then(|s| s.port);
    if sctp && sctp_port.is_none() {
        return Err(fail);
    }
    Ok(Allocated {
        transport: transport.ice.clone().ok_or(fail)?,
        sctp_port,
        feedback_sources: modified.feedback_sources(),
    })
}

/// The outcome of a fire-and-forget request: `answer` is `None` on a
/// timeout ([`RequestFailure::Ignore`]); an error gives
/// [`BridgeError::on_request`], a result without
/// `<conference-modified/>` fails the session.
pub fn request_outcome(answer: Option<&Answer>) -> Result<&ConferenceModified, RequestFailure> {
    match answer {
        None => Err(RequestFailure::Ignore),
        Some(Answer::Error(error)) => Err(error.on_request()),
        Some(Answer::WrongResult) => Err(RequestFailure::SessionFailed),
        Some(Answer::Modified(modified)) => Ok(modified),
    }
}

/// The outcome of a relay create request (`Relay.start`): the bridge's
/// ICE-UDP transport of the first answered relay (Jicofo does not check its
/// id). A timeout, any error, a result without `<conference-modified/>`,
/// or no relay transport fails the session.
pub fn relay_create_outcome(answer: Option<&Answer>) -> Result<IceTransport, RequestFailure> {
    match answer {
        Some(Answer::Modified(modified)) => modified
            .relays
            .first()
            .and_then(|r| r.ice())
            .cloned()
            .ok_or(RequestFailure::SessionFailed),
        _ => Err(RequestFailure::SessionFailed),
    }
}
