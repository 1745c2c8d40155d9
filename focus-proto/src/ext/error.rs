//! Stanza errors (RFC 6120 section 8.3) and the IQ envelopes the focus
//! answers and asks with.
//!
//! Error types default per condition as Smack (and so Jicofo) does, so an
//! error the focus sends looks like Jicofo's.

use std::fmt;

use minidom::Element;

use crate::xml::ncname;
use crate::xmpp::ns;

/// The `type` of a stanza error: what the sender may do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// Retry after providing credentials.
    Auth,
    /// Do not retry.
    Cancel,
    /// Proceed; the condition was only a warning.
    Continue,
    /// Retry after changing the data sent.
    Modify,
    /// Retry after waiting.
    Wait,
}

impl ErrorType {
    /// The attribute value.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorType::Auth => "auth",
            ErrorType::Cancel => "cancel",
            ErrorType::Continue => "continue",
            ErrorType::Modify => "modify",
            ErrorType::Wait => "wait",
        }
    }

    /// Reads an attribute value (exact, lowercase as RFC 6120 defines it).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "auth" => ErrorType::Auth,
            "cancel" => ErrorType::Cancel,
            "continue" => ErrorType::Continue,
            "modify" => ErrorType::Modify,
            "wait" => ErrorType::Wait,
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A defined stanza error condition (RFC 6120 section 8.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Condition {
    /// `bad-request`
    BadRequest,
    /// `conflict`
    Conflict,
    /// `feature-not-implemented`
    FeatureNotImplemented,
    /// `forbidden`
    Forbidden,
    /// `gone`
    Gone,
    /// `internal-server-error`
    InternalServerError,
    /// `item-not-found`
    ItemNotFound,
    /// `jid-malformed`
    JidMalformed,
    /// `not-acceptable`
    NotAcceptable,
    /// `not-allowed`
    NotAllowed,
    /// `not-authorized`
    NotAuthorized,
    /// `policy-violation`
    PolicyViolation,
    /// `recipient-unavailable`
    RecipientUnavailable,
    /// `redirect`
    Redirect,
    /// `registration-required`
    RegistrationRequired,
    /// `remote-server-not-found`
    RemoteServerNotFound,
    /// `remote-server-timeout`
    RemoteServerTimeout,
    /// `resource-constraint`
    ResourceConstraint,
    /// `service-unavailable`
    ServiceUnavailable,
    /// `subscription-required`
    SubscriptionRequired,
    /// `undefined-condition`
    UndefinedCondition,
    /// `unexpected-request`
    UnexpectedRequest,
}

impl Condition {
    /// Every condition, in RFC order.
    pub const ALL: [Condition; 22] = [
        Condition::BadRequest,
        Condition::Conflict,
        Condition::FeatureNotImplemented,
        Condition::Forbidden,
        Condition::Gone,
        Condition::InternalServerError,
        Condition::ItemNotFound,
        Condition::JidMalformed,
        Condition::NotAcceptable,
        Condition::NotAllowed,
        Condition::NotAuthorized,
        Condition::PolicyViolation,
        Condition::RecipientUnavailable,
        Condition::Redirect,
        Condition::RegistrationRequired,
        Condition::RemoteServerNotFound,
        Condition::RemoteServerTimeout,
        Condition::ResourceConstraint,
        Condition::ServiceUnavailable,
        Condition::SubscriptionRequired,
        Condition::UndefinedCondition,
        Condition::UnexpectedRequest,
    ];

    /// The element name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Condition::BadRequest => "bad-request",
            Condition::Conflict => "conflict",
            Condition::FeatureNotImplemented => "feature-not-implemented",
            Condition::Forbidden => "forbidden",
            Condition::Gone => "gone",
            Condition::InternalServerError => "internal-server-error",
            Condition::ItemNotFound => "item-not-found",
            Condition::JidMalformed => "jid-malformed",
            Condition::NotAcceptable => "not-acceptable",
            Condition::NotAllowed => "not-allowed",
            Condition::NotAuthorized => "not-authorized",
            Condition::PolicyViolation => "policy-violation",
            Condition::RecipientUnavailable => "recipient-unavailable",
            Condition::Redirect => "redirect",
            Condition::RegistrationRequired => "registration-required",
            Condition::RemoteServerNotFound => "remote-server-not-found",
            Condition::RemoteServerTimeout => "remote-server-timeout",
            Condition::ResourceConstraint => "resource-constraint",
            Condition::ServiceUnavailable => "service-unavailable",
            Condition::SubscriptionRequired => "subscription-required",
            Condition::UndefinedCondition => "undefined-condition",
            Condition::UnexpectedRequest => "unexpected-request",
        }
    }

    /// Reads an element name.
    pub fn parse(s: &str) -> Option<Self> {
        Condition::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The error type Smack (4.4) gives this condition when none is set,
    /// which is what Jicofo sends.
    pub fn default_type(&self) -> ErrorType {
        match self {
            Condition::BadRequest
            | Condition::JidMalformed
            | Condition::NotAcceptable
            | Condition::PolicyViolation
            | Condition::Redirect
            | Condition::UndefinedCondition => ErrorType::Modify,
            Condition::Conflict
            | Condition::FeatureNotImplemented
            | Condition::Gone
            | Condition::InternalServerError
            | Condition::ItemNotFound
            | Condition::NotAllowed
            | Condition::RemoteServerNotFound
            | Condition::ServiceUnavailable => ErrorType::Cancel,
            Condition::Forbidden
            | Condition::NotAuthorized
            | Condition::RegistrationRequired
            | Condition::SubscriptionRequired => ErrorType::Auth,
            Condition::RecipientUnavailable
            | Condition::RemoteServerTimeout
            | Condition::ResourceConstraint
            | Condition::UnexpectedRequest => ErrorType::Wait,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stanza error: `<error type=…><condition/>[<text/>][app]</error>`.
#[derive(Debug, Clone, PartialEq)]
pub struct StanzaError {
    /// `type`.
    pub kind: ErrorType,
    /// The defined condition.
    pub condition: Condition,
    /// The human-readable `<text>`.
    pub text: Option<String>,
    /// An application-specific condition element, e.g. Jitsi's
    /// `<session-invalid/>`.
    pub app: Option<Element>,
}

impl StanzaError {
    /// An error with `condition`, of its [default type](Condition::default_type).
    pub fn new(condition: Condition) -> Self {
        Self {
            kind: condition.default_type(),
            condition,
            text: None,
            app: None,
        }
    }

    /// With a `<text>`.
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// With an application-specific condition.
    pub fn with_app(mut self, app: Element) -> Self {
        self.app = Some(app);
        self
    }

    /// With another type than the condition's default.
    pub fn with_kind(mut self, kind: ErrorType) -> Self {
        self.kind = kind;
        self
    }

    /// The `<error>` element, in `jabber:client`.
    pub fn to_element(&self) -> Element {
        let mut error = Element::builder("error", ns::CLIENT)
            .attr(ncname("type"), self.kind.as_str())
            .append(Element::builder(self.condition.as_str(), ns::STANZAS));
        if let Some(text) = &self.text {
            error = error.append(Element::builder("text", ns::STANZAS).append(text.as_str()));
        }
        if let Some(app) = &self.app {
            error = error.append(app.clone());
        }
        error.build()
    }

    /// The error carried by `stanza` (an iq, presence or message): its
    /// `<error>` child, or `None` without one. An error without a known
    /// condition reads as `undefined-condition`, one without a valid type
    /// gets the condition's default type; the first `<text>` is kept, and the
    /// first child outside the stanzas namespace is the application
    /// condition.
    pub fn from_stanza(stanza: &Element) -> Option<Self> {
        let error = stanza
            .children()
            .find(|c| c.name() == "error" && (c.ns() == stanza.ns() || c.ns() == ns::CLIENT))?;
        Some(Self::from_error_element(error))
    }

    /// Reads an `<error>` element itself (its name is not checked).
    pub fn from_error_element(error: &Element) -> Self {
        let condition = error
            .children()
            .filter(|c| c.ns() == ns::STANZAS && c.name() != "text")
            .find_map(|c| Condition::parse(c.name()))
            .unwrap_or(Condition::UndefinedCondition);
        let kind = error
            .attr("type")
            .and_then(ErrorType::parse)
            .unwrap_or_else(|| condition.default_type());
        let text = error.get_child("text", ns::STANZAS).map(Element::text);
        let app = error.children().find(|c| c.ns() != ns::STANZAS).cloned();
        Self {
            kind,
            condition,
            text,
            app,
        }
    }
}

impl fmt::Display for StanzaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.condition, self.kind)?;
        if let Some(text) = &self.text {
            write!(f, ": {text}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StanzaError {}

/// The two IQ request types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IqKind {
    /// `get`
    Get,
    /// `set`
    Set,
}

impl IqKind {
    /// The attribute value.
    pub fn as_str(&self) -> &'static str {
        match self {
            IqKind::Get => "get",
            IqKind::Set => "set",
        }
    }
}

/// The envelope of an answer to `request`: same `id`, `to` = the request's
/// `from` (omitted if it had none); no `from` (the server stamps it).
fn reply(request: &Element, kind: &'static str) -> minidom::ElementBuilder {
    let mut iq = Element::builder("iq", ns::CLIENT).attr(ncname("type"), kind);
    if let Some(id) = request.attr("id") {
        iq = iq.attr(ncname("id"), id);
    }
    if let Some(from) = request.attr("from") {
        iq = iq.attr(ncname("to"), from);
    }
    iq
}

/// A result answering `request`: same id, `to` = request's `from` (omitted
/// if none), no `from` attribute (Prosody stamps it).
pub fn iq_result(request: &Element, payload: Option<Element>) -> Element {
    let mut iq = reply(request, "result");
    if let Some(payload) = payload {
        iq = iq.append(payload);
    }
    iq.build()
}

/// An error answering `request` (same addressing rule as [`iq_result`]);
/// `echo`, if given, is put before the `<error>` (Jicofo echoes the
/// request's `<conference room=…/>`).
pub fn iq_error(request: &Element, error: &StanzaError, echo: Option<Element>) -> Element {
    let mut iq = reply(request, "error");
    if let Some(echo) = echo {
        iq = iq.append(echo);
    }
    iq.append(error.to_element()).build()
}

/// An IQ request: `<iq type=get|set id=… to=…>payload</iq>`.
pub fn iq_request(kind: IqKind, id: &str, to: &str, payload: Element) -> Element {
    Element::builder("iq", ns::CLIENT)
        .attr(ncname("type"), kind.as_str())
        .attr(ncname("id"), id)
        .attr(ncname("to"), to)
        .append(payload)
        .build()
}

#[cfg(test)]
mod tests;
