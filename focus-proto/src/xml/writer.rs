//! What the client writes: the stream header, stanzas, stream errors and
//! the stream's end.
//!
//! [`write_element`] is a small serializer of its own rather than minidom's
//! `write_to`, for three reasons: it knows the stream's default namespace is
//! `jabber:client` and its `stream` prefix is declared, so stanzas do not
//! repeat `xmlns='jabber:client'`; it cannot fail (minidom's writer returns
//! an error, and panics in some namespace corner cases); and characters XML
//! cannot carry are replaced rather than breaking the stream.

use minidom::{Element, Node};

use super::{NS_CLIENT, NS_STREAM_ERRORS, NS_STREAMS};

/// The opening of the client's stream to the domain `to`, with an XML
/// declaration: `<?xml version='1.0'?><stream:stream xmlns='jabber:client'
/// xmlns:stream='http://etherx.jabber.org/streams' to='…' version='1.0'>`
/// (and `xml:lang` when given). Attribute values are escaped.
pub fn stream_header(to: &str, lang: Option<&str>) -> String {
    let mut out = Vec::with_capacity(160);
    out.extend_from_slice(b"<?xml version='1.0'?><stream:stream xmlns='");
    out.extend_from_slice(NS_CLIENT.as_bytes());
    out.extend_from_slice(b"' xmlns:stream='");
    out.extend_from_slice(NS_STREAMS.as_bytes());
    out.extend_from_slice(b"' to='");
    escape_into(&mut out, to, true);
    if let Some(lang) = lang {
        out.extend_from_slice(b"' xml:lang='");
        escape_into(&mut out, lang, true);
    }
    out.extend_from_slice(b"' version='1.0'>");
    into_string(out)
}

/// The end of the client's stream.
pub fn stream_close() -> &'static str {
    "</stream:stream>"
}

/// A stream error: `<stream:error><CONDITION
/// xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>` and, with `text`, a
/// `<text>` in the same namespace (escaped). A `condition` that is not a
/// plain lowercase name becomes `undefined-condition`.
pub fn stream_error(condition: &str, text: Option<&str>) -> String {
    let valid = condition.starts_with(|c: char| c.is_ascii_lowercase())
        && condition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let condition = if valid {
        condition
    } else {
        "undefined-condition"
    };
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"<stream:error><");
    out.extend_from_slice(condition.as_bytes());
    out.extend_from_slice(b" xmlns='");
    out.extend_from_slice(NS_STREAM_ERRORS.as_bytes());
    out.extend_from_slice(b"'/>");
    if let Some(text) = text {
        out.extend_from_slice(b"<text xmlns='");
        out.extend_from_slice(NS_STREAM_ERRORS.as_bytes());
        out.extend_from_slice(b"'>");
        escape_into(&mut out, text, false);
        out.extend_from_slice(b"</text>");
    }
    out.extend_from_slice(b"</stream:error>");
    into_string(out)
}

/// Appends `el` to `out` compactly (no whitespace added), for a stream opened
/// by [`stream_header`]:
///
/// * an element in `jabber:client` where that is the default namespace gets
///   no `xmlns` (so a stanza has none); any other namespace is declared as
///   the default where it changes, as XMPP implementations write it;
/// * an element in the streams namespace uses the stream's `stream:` prefix;
/// * namespaced attributes use `xml:` or a prefix declared on the element;
///   unprefixed `xmlns` attributes and attributes in the `xmlns` namespace
///   are namespace declarations, not attributes, and are skipped;
/// * text and attribute values are escaped so that they read back exactly
///   (`\r`, and tab and newline in attributes, as character references);
///   characters XML 1.0 cannot carry (most C0 controls, U+FFFE, U+FFFF)
///   become U+FFFD.
///
/// Element names are written as they are: minidom does not validate them,
/// so they must be valid XML names.
pub fn write_element(el: &Element, out: &mut Vec<u8>) {
    struct Frame<'a> {
        el: &'a Element,
        nodes: std::slice::Iter<'a, Node>,
        /// The default namespace this element declared, if it changed it.
        declared: Option<String>,
    }
    fn default_ns<'a>(stack: &'a [Frame<'_>]) -> &'a str {
        stack
            .iter()
            .rev()
            .find_map(|f| f.declared.as_deref())
            .unwrap_or(NS_CLIENT)
    }

    // Iterative, so that no element tree can exhaust the call stack.
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let declared = open_tag(el, NS_CLIENT, out);
    if el.nodes().len() == 0 {
        out.extend_from_slice(b"/>");
        return;
    }
    out.push(b'>');
    stack.push(Frame {
        el,
        nodes: el.nodes(),
        declared,
    });
    while let Some(top) = stack.last_mut() {
        match top.nodes.next() {
            Some(Node::Text(text)) => escape_into(out, text, false),
            Some(Node::Element(child)) => {
                let declared = open_tag(child, default_ns(&stack), out);
                if child.nodes().len() == 0 {
                    out.extend_from_slice(b"/>");
                } else {
                    out.push(b'>');
                    stack.push(Frame {
                        el: child,
                        nodes: child.nodes(),
                        declared,
                    });
                }
            }
            None => {
                let el = top.el;
                out.extend_from_slice(b"</");
                write_qname(el, out);
                out.push(b'>');
                stack.pop();
            }
        }
    }
}

fn write_qname(el: &Element, out: &mut Vec<u8>) {
    if el.has_ns(NS_STREAMS) {
        out.extend_from_slice(b"stream:");
    }
    out.extend_from_slice(el.name().as_bytes());
}

/// Writes `<name` with namespace declarations and attributes, leaving the
/// tag open. Returns the default namespace the element declared, if any.
fn open_tag(el: &Element, default_ns: &str, out: &mut Vec<u8>) -> Option<String> {
    out.push(b'<');
    write_qname(el, out);
    let declared = if el.has_ns(NS_STREAMS) || el.has_ns(default_ns) {
        None
    } else {
        let ns = el.ns();
        out.extend_from_slice(b" xmlns='");
        escape_into(out, &ns, true);
        out.push(b'\'');
        Some(ns)
    };
    // Prefixes for namespaced attributes, local to this element.
    let mut prefixes: Vec<&str> = Vec::new();
    for ((ns, name), value) in el.attrs() {
        let ns = ns.as_str();
        let name = name.as_str();
        out.push(b' ');
        if ns.is_empty() {
            if name == "xmlns" {
                out.pop();
                continue;
            }
        } else if ns == rxml::XMLNS_XML {
            out.extend_from_slice(b"xml:");
        } else if ns == rxml::XMLNS_XMLNS {
            out.pop();
            continue;
        } else {
            let index = match prefixes.iter().position(|p| *p == ns) {
                Some(index) => index,
                None => {
                    prefixes.push(ns);
                    let index = prefixes.len() - 1;
                    out.extend_from_slice(format!("xmlns:ns{index}='").as_bytes());
                    escape_into(out, ns, true);
                    out.extend_from_slice(b"' ");
                    index
                }
            };
            out.extend_from_slice(format!("ns{index}:").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"='");
        escape_into(out, value, true);
        out.push(b'\'');
    }
    declared
}

/// Appends `s` escaped for element content (`attr == false`) or for an
/// attribute value in single or double quotes (`attr == true`).
fn escape_into(out: &mut Vec<u8>, s: &str, attr: bool) {
    let mut last = 0;
    for (i, c) in s.char_indices() {
        let replacement = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '\'' if attr => "&apos;",
            '"' if attr => "&quot;",
            '\r' => "&#13;",
            '\n' if attr => "&#10;",
            '\t' if attr => "&#9;",
            '\t' | '\n' => continue,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => "\u{fffd}",
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[last..i]);
        out.extend_from_slice(replacement.as_bytes());
        last = i + c.len_utf8();
    }
    out.extend_from_slice(&s.as_bytes()[last..]);
}

fn into_string(bytes: Vec<u8>) -> String {
    // Everything written is UTF-8: &str input, ASCII markup, and escapes
    // that replace whole chars.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use minidom::rxml::{Namespace, NcName};

    fn ncname(s: &str) -> NcName {
        s.try_into().expect("valid NCName")
    }

    fn written(el: &Element) -> String {
        let mut out = Vec::new();
        write_element(el, &mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn header_is_escaped_and_complete() {
        assert_eq!(
            stream_header("meet.jitsi", None),
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' to='meet.jitsi' version='1.0'>"
        );
        assert_eq!(
            stream_header("a'b<c&\"", Some("en")),
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
             xmlns:stream='http://etherx.jabber.org/streams' to='a&apos;b&lt;c&amp;&quot;' \
             xml:lang='en' version='1.0'>"
        );
        assert_eq!(stream_close(), "</stream:stream>");
    }

    #[test]
    fn stream_errors() {
        assert_eq!(
            stream_error("not-well-formed", None),
            "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
             </stream:error>"
        );
        assert_eq!(
            stream_error("policy-violation", Some("too <big> & \"bad\"")),
            "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>\
             <text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>too &lt;big&gt; &amp; \"bad\"</text>\
             </stream:error>"
        );
        for bad in ["", "a b", "<x/>", "Caps", "-x", "x'"] {
            assert!(
                stream_error(bad, None).contains("<undefined-condition "),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn stanza_in_default_namespace_has_no_xmlns() {
        let iq = Element::builder("iq", NS_CLIENT)
            .attr(ncname("type"), "get")
            .attr(ncname("id"), "p1")
            .append(Element::builder("ping", "urn:xmpp:ping").build())
            .build();
        assert_eq!(
            written(&iq),
            "<iq id='p1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>"
        );
    }

    #[test]
    fn namespaces_change_and_return() {
        let el = Element::builder("presence", NS_CLIENT)
            .append(
                Element::builder("x", "http://jabber.org/protocol/muc")
                    .append(Element::builder("history", "http://jabber.org/protocol/muc").build())
                    .append(Element::builder("inner", NS_CLIENT).build())
                    .build(),
            )
            .append(Element::builder("status", NS_CLIENT).append("hi").build())
            .append(Element::builder("bare", "").build())
            .build();
        assert_eq!(
            written(&el),
            "<presence><x xmlns='http://jabber.org/protocol/muc'><history/>\
             <inner xmlns='jabber:client'/></x><status>hi</status><bare xmlns=''/></presence>"
        );
    }

    #[test]
    fn stream_namespace_uses_prefix_and_other_roots_declare() {
        let features = Element::builder("features", NS_STREAMS)
            .append(Element::builder("bind", "urn:ietf:params:xml:ns:xmpp-bind").build())
            .build();
        assert_eq!(
            written(&features),
            "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
        );
        let auth = Element::builder("auth", "urn:ietf:params:xml:ns:xmpp-sasl")
            .attr(ncname("mechanism"), "PLAIN")
            .append("AGZvY3VzAHB3")
            .build();
        assert_eq!(
            written(&auth),
            "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGZvY3VzAHB3</auth>"
        );
    }

    #[test]
    fn escaping_and_unrepresentable_chars() {
        let el = Element::builder("message", NS_CLIENT)
            .attr(ncname("to"), "a'b\"c<d>&e\tf\ng\rh")
            .append(
                Element::builder("body", NS_CLIENT)
                    .append("x < y & z > w ' \" \t\n\r \u{1}\u{fffe}é")
                    .build(),
            )
            .build();
        assert_eq!(
            written(&el),
            "<message to='a&apos;b&quot;c&lt;d&gt;&amp;e&#9;f&#10;g&#13;h'><body>\
             x &lt; y &amp; z &gt; w ' \" \t\n&#13; \u{fffd}\u{fffd}é</body></message>"
        );
    }

    #[test]
    fn namespaced_attributes() {
        let el = Element::builder("body", NS_CLIENT)
            .attr_ns(Namespace::from(rxml::XMLNS_XML), ncname("lang"), "de")
            .attr_ns(Namespace::from("urn:a"), ncname("x"), "1")
            .attr_ns(Namespace::from("urn:a"), ncname("y"), "2")
            .attr_ns(Namespace::from("urn:b"), ncname("x"), "3")
            .attr(ncname("xmlns"), "bogus")
            .build();
        let s = written(&el);
        assert!(s.contains(" xml:lang='de'"), "{s}");
        assert!(!s.contains("bogus"), "{s}");
        assert_eq!(s.matches("xmlns:").count(), 2, "{s}");
        // Reads back with the same attributes.
        let back: Element = format!("<wrap xmlns='jabber:client'>{s}</wrap>")
            .parse()
            .expect("parses");
        let child = back.children().next().expect("child");
        assert_eq!(child.attr_ns("urn:a", "x"), Some("1"));
        assert_eq!(child.attr_ns("urn:a", "y"), Some("2"));
        assert_eq!(child.attr_ns("urn:b", "x"), Some("3"));
        assert_eq!(child.attr_ns(rxml::XMLNS_XML, "lang"), Some("de"));
    }

    #[test]
    fn deep_tree_does_not_recurse() {
        let mut el = Element::builder("leaf", "urn:x").build();
        for _ in 0..5000 {
            el = Element::builder("n", "urn:x").append(el).build();
        }
        let s = written(&el);
        assert_eq!(s.matches("<n").count(), 5000);
        assert_eq!(s.matches("xmlns=").count(), 1);
        // minidom's Drop recurses; keep the tree from being dropped here.
        std::mem::forget(el);
    }
}
