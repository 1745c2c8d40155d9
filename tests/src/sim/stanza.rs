//! Small stanza helpers shared by the simulated server, MUC and peers:
//! namespaces, JID splitting the way Prosody's `util.jid` does it, replies
//! and error replies shaped like Prosody's `st.reply` / `st.error_reply`,
//! and a deterministic serializer for the trace.

use minidom::Element;
use minidom::rxml::{Namespace, NcName};

/// `jabber:client`.
pub const NS_CLIENT: &str = "jabber:client";
/// Stanza error conditions.
pub const NS_STANZAS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
/// XEP-0045 join element.
pub const NS_MUC: &str = "http://jabber.org/protocol/muc";
/// XEP-0045 occupant information.
pub const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";
/// XEP-0045 owner use cases (configuration form, destroy).
pub const NS_MUC_OWNER: &str = "http://jabber.org/protocol/muc#owner";
/// XEP-0045 admin use cases (affiliations, roles).
pub const NS_MUC_ADMIN: &str = "http://jabber.org/protocol/muc#admin";
/// XEP-0030 info.
pub const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
/// XEP-0030 items.
pub const NS_DISCO_ITEMS: &str = "http://jabber.org/protocol/disco#items";
/// XEP-0199 ping.
pub const NS_PING: &str = "urn:xmpp:ping";
/// XEP-0004 data forms.
pub const NS_DATA: &str = "jabber:x:data";
/// Jitsi's focus namespace (conference IQ, conference properties).
pub const NS_FOCUS: &str = "http://jitsi.org/protocol/focus";
/// XEP-0115 entity capabilities.
pub const NS_CAPS: &str = "http://jabber.org/protocol/caps";
/// XEP-0172 user nickname.
pub const NS_NICK: &str = "http://jabber.org/protocol/nick";
/// RFC 6121 roster.
pub const NS_ROSTER: &str = "jabber:iq:roster";

/// Parses `xml` into an element; a root without `xmlns` gets
/// `xmlns='jabber:client'`, so tests can write `<iq type='get' …>`.
///
/// # Panics
///
/// On malformed XML: this is for literals written in tests.
pub fn xml(xml: &str) -> Element {
    let text = with_client_ns(xml.trim());
    match text.parse::<Element>() {
        Ok(el) => el,
        Err(e) => panic!("sim::xml: cannot parse {xml:?}: {e}"),
    }
}

/// Inserts `xmlns='jabber:client'` into the root start tag when it has no
/// `xmlns` of its own.
fn with_client_ns(xml: &str) -> String {
    let Some(rest) = xml.strip_prefix('<') else {
        return xml.to_owned();
    };
    let end = rest.find('>').unwrap_or(rest.len());
    let start_tag = &rest[..end];
    if start_tag.contains("xmlns=") {
        return xml.to_owned();
    }
    let name_len = start_tag
        .find(|c: char| c.is_whitespace() || c == '/')
        .unwrap_or(start_tag.len());
    format!(
        "<{} xmlns='{NS_CLIENT}'{}",
        &rest[..name_len],
        &rest[name_len..]
    )
}

/// The stanza as compact XML, as the focus's own stream writer writes it:
/// no `xmlns='jabber:client'` on the stanza, attributes in a fixed (sorted)
/// order, so equal elements always give equal text.
pub fn to_xml(el: &Element) -> String {
    let mut out = Vec::with_capacity(256);
    focus_proto::xml::write_element(el, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The name of an attribute given as a literal.
pub(crate) fn name(n: &'static str) -> NcName {
    focus_proto::xml::ncname(n)
}

/// Sets (`Some`) or removes (`None`) the unqualified attribute `attr`.
pub(crate) fn set_attr(el: &mut Element, attr: &'static str, value: Option<&str>) {
    match value {
        Some(v) => {
            el.attrs_mut()
                .insert(Namespace::NONE, name(attr), v.to_owned());
        }
        None => {
            el.attrs_mut().remove(&Namespace::NONE, attr);
        }
    }
}

/// The parts of a JID as Prosody's `jid.split` sees them: the node is what
/// comes before an `@` that precedes the first `/`, the resource is
/// everything after the first `/` (it may contain `@` and `/`).
pub fn split_jid(jid: &str) -> (Option<&str>, &str, Option<&str>) {
    let (main, resource) = match jid.split_once('/') {
        Some((m, r)) => (m, Some(r)),
        None => (jid, None),
    };
    match main.split_once('@') {
        Some((node, domain)) => (Some(node), domain, resource),
        None => (None, main, resource),
    }
}

/// The bare part of `jid` (`node@domain` or `domain`).
pub fn bare(jid: &str) -> &str {
    jid.split_once('/').map_or(jid, |(b, _)| b)
}

/// The resource of `jid`, if any.
pub fn resource(jid: &str) -> Option<&str> {
    jid.split_once('/').map(|(_, r)| r)
}

/// Normalizes `jid` as the server does before routing (lower-case domain
/// and node, stringprep), or `None` when it is not a valid JID.
pub(crate) fn normalize(jid: &str) -> Option<String> {
    jid::Jid::new(jid).ok().map(|j| j.to_string())
}

/// Prosody's `st.reply`: same name and id, `to` and `from` swapped, type
/// `result` for an IQ and the original type otherwise; no children.
pub(crate) fn reply(orig: &Element) -> Element {
    let mut b = Element::builder(orig.name(), NS_CLIENT);
    if let Some(from) = orig.attr("from") {
        b = b.attr(name("to"), from);
    }
    if let Some(to) = orig.attr("to") {
        b = b.attr(name("from"), to);
    }
    if let Some(id) = orig.attr("id") {
        b = b.attr(name("id"), id);
    }
    let kind = if orig.name() == "iq" {
        Some("result")
    } else {
        orig.attr("type")
    };
    if let Some(kind) = kind {
        b = b.attr(name("type"), kind);
    }
    b.build()
}

/// An IQ result to `orig`, optionally carrying `payload`.
pub(crate) fn iq_result(orig: &Element, payload: Option<Element>) -> Element {
    let mut r = reply(orig);
    if let Some(p) = payload {
        r.append_child(p);
    }
    r
}

/// Prosody's `st.error_reply(orig, kind, condition, text, by)`: a reply of
/// type `error` with `<error type=kind [by=by]><condition/>[<text/>]</error>`
/// (`by` is left out when it equals the reply's `from`).
pub(crate) fn error_reply(
    orig: &Element,
    kind: &str,
    condition: &str,
    text: Option<&str>,
    by: Option<&str>,
) -> Element {
    let mut r = reply(orig);
    set_attr(&mut r, "type", Some("error"));
    let mut e = Element::builder("error", NS_CLIENT).attr(name("type"), kind);
    if let Some(by) = by.filter(|b| Some(*b) != r.attr("from")) {
        e = e.attr(name("by"), by);
    }
    // Condition names come from our own literals or from Prosody's list.
    let mut e = e.append(Element::builder(condition, NS_STANZAS));
    if let Some(text) = text {
        e = e.append(Element::builder("text", NS_STANZAS).append(text));
    }
    r.append_child(e.build());
    r
}

/// The defined condition of an error stanza (`service-unavailable`, …).
pub fn error_condition(stanza: &Element) -> Option<String> {
    let error = stanza.get_child("error", NS_CLIENT)?;
    error
        .children()
        .find(|c| c.ns() == NS_STANZAS && c.name() != "text")
        .map(|c| c.name().to_owned())
}

/// The text of an error stanza, if any.
pub fn error_text(stanza: &Element) -> Option<String> {
    let error = stanza.get_child("error", NS_CLIENT)?;
    error.get_child("text", NS_STANZAS).map(|t| t.text())
}

/// Whether `el` is an IQ request (`get` or `set`).
pub(crate) fn is_iq_request(el: &Element) -> bool {
    el.name() == "iq" && matches!(el.attr("type"), Some("get") | Some("set"))
}

/// Whether `el` may be answered with an error (Prosody never answers
/// errors, nor IQ results).
pub(crate) fn may_bounce(el: &Element) -> bool {
    match el.attr("type") {
        Some("error") => false,
        Some("result") => el.name() != "iq",
        _ => true,
    }
}

/// A `<field>` of a data form with one `<value>` (`label` and `type`
/// optional).
pub(crate) fn form_field(
    var: &str,
    kind: Option<&str>,
    label: Option<&str>,
    value: Option<&str>,
) -> Element {
    let mut f = Element::builder("field", NS_DATA);
    if let Some(kind) = kind {
        f = f.attr(name("type"), kind);
    }
    f = f.attr(name("var"), var);
    if let Some(label) = label {
        f = f.attr(name("label"), label);
    }
    if let Some(value) = value {
        f = f.append(Element::builder("value", NS_DATA).append(value));
    }
    f.build()
}

/// The first value of field `var` in data form `form`.
pub(crate) fn form_value(form: &Element, var: &str) -> Option<String> {
    form.children()
        .filter(|f| f.is("field", NS_DATA) && f.attr("var") == Some(var))
        .find_map(|f| f.get_child("value", NS_DATA).map(|v| v.text()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_prosody() {
        assert_eq!(split_jid("a@b/c"), (Some("a"), "b", Some("c")));
        assert_eq!(split_jid("b"), (None, "b", None));
        assert_eq!(
            split_jid("focus.meet.jitsi/x@meet.jitsi/r"),
            (None, "focus.meet.jitsi", Some("x@meet.jitsi/r"))
        );
    }

    #[test]
    fn xml_adds_the_client_namespace() {
        let el = xml("<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>");
        assert!(el.is("iq", NS_CLIENT));
        assert!(el.has_child("ping", NS_PING));
        let el = xml("<presence/>");
        assert!(el.is("presence", NS_CLIENT));
    }

    #[test]
    fn error_reply_shape() {
        let orig = xml("<iq type='get' id='7' from='a@b/c' to='d'><q xmlns='x'/></iq>");
        let e = error_reply(
            &orig,
            "cancel",
            "service-unavailable",
            Some("no"),
            Some("d"),
        );
        assert_eq!(
            to_xml(&e),
            "<iq from='d' id='7' to='a@b/c' type='error'><error type='cancel'>\
             <service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
             <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no</text></error></iq>"
        );
        assert_eq!(error_condition(&e).as_deref(), Some("service-unavailable"));
        assert_eq!(error_text(&e).as_deref(), Some("no"));
    }
}
