//! Namespaces and small element helpers for the emulator. The emulator
//! writes its XML by hand with minidom builders (on purpose independent of
//! focus-proto's encoders, so it can cross-check them).

use minidom::{Element, ElementBuilder};

pub(crate) const NS_CLIENT: &str = "jabber:client";
pub(crate) const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
pub(crate) const NS_MUC: &str = "http://jabber.org/protocol/muc";
pub(crate) const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";
pub(crate) const NS_COLIBRI: &str = "http://jitsi.org/protocol/colibri";
pub(crate) const NS_HEALTH: &str = "http://jitsi.org/protocol/healthcheck";
pub(crate) const NS_PING: &str = "urn:xmpp:ping";
pub(crate) const NS_VERSION: &str = "jabber:iq:version";
pub(crate) const NS_COLIBRI2: &str = "jitsi:colibri2";
pub(crate) const NS_RTP: &str = "urn:xmpp:jingle:apps:rtp:1";
pub(crate) const NS_HDREXT: &str = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0";
pub(crate) const NS_ICE: &str = "urn:xmpp:jingle:transports:ice-udp:1";
pub(crate) const NS_DTLS: &str = "urn:xmpp:jingle:apps:dtls:0";
pub(crate) const NS_SSMA: &str = "urn:xmpp:jingle:apps:rtp:ssma:0";

/// A builder for `<name xmlns=ns>`.
pub(crate) fn elem(name: &str, ns: &str) -> ElementBuilder {
    Element::builder(name, ns)
}

/// Attribute setting on builders with a literal attribute name.
pub(crate) trait Attr: Sized {
    /// Sets attribute `name` to `value`.
    fn at(self, name: &'static str, value: impl Into<String>) -> Self;

    /// Sets attribute `name` when `value` is `Some`.
    fn at_opt(self, name: &'static str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.at(name, v),
            None => self,
        }
    }
}

impl Attr for ElementBuilder {
    fn at(self, name: &'static str, value: impl Into<String>) -> Self {
        self.attr(focus_proto::xml::ncname(name), value.into())
    }
}

/// A boolean attribute read the way Java's `Boolean.parseBoolean` does:
/// `true` in any case is true, anything else (or absent) false.
pub(crate) fn bool_attr(el: &Element, name: &str) -> bool {
    el.attr(name)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The answer skeleton to `request`: `to` = its `from`, `from` = its `to`,
/// same `id`.
pub(crate) fn reply(request: &Element, kind: &str) -> ElementBuilder {
    elem("iq", NS_CLIENT)
        .at("type", kind)
        .at_opt("id", request.attr("id"))
        .at_opt("to", request.attr("from"))
        .at_opt("from", request.attr("to"))
}

/// An empty `result` to `request`.
pub(crate) fn result(request: &Element) -> Element {
    reply(request, "result").build()
}

/// The `type` of a stanza error with `condition` (RFC 6120's usual one).
pub(crate) fn error_type(condition: &str) -> &'static str {
    match condition {
        "bad-request" | "not-acceptable" | "jid-malformed" => "modify",
        "internal-server-error" | "resource-constraint" => "wait",
        "not-authorized" | "forbidden" => "auth",
        _ => "cancel",
    }
}

/// An error answer to `request`: `<error type>` with the condition, an
/// optional text, then `extra` children (application elements).
pub(crate) fn error_reply(
    request: &Element,
    condition: &str,
    text: Option<&str>,
    extra: Vec<Element>,
) -> Element {
    let mut error = elem("error", NS_CLIENT)
        .at("type", error_type(condition))
        .append(elem(condition, NS_STANZAS));
    if let Some(text) = text {
        error = error.append(elem("text", NS_STANZAS).append(text));
    }
    for child in extra {
        error = error.append(child);
    }
    reply(request, "error").append(error).build()
}

/// The bare part of a JID (everything before the first `/`).
pub(crate) fn bare(jid: &str) -> &str {
    jid.split_once('/').map_or(jid, |(b, _)| b)
}
