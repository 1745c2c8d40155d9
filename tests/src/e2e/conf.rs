//! `jicofo.conf` texts for the focus under test.

use super::Prosody;

/// A `jicofo.conf` (HOCON) for a focus that logs in to `prosody` as
/// docker-jitsi-meet's Jicofo does, with the REST API on
/// `127.0.0.1:rest_port`:
///
/// ```text
/// jicofo {
///   xmpp {
///     client {
///       hostname = "127.0.0.1"
///       port = <c2s port>
///       domain = "auth.meet.jitsi"
///       xmpp-domain = "meet.jitsi"
///       username = "focus"
///       password = "<focus password>"
///       client-proxy = "focus.meet.jitsi"
///       conference-muc-jid = "muc.meet.jitsi"
///     }
///     trusted-domains = []
///   }
///   bridge {
///     brewery-jid = "jvbbrewery@internal-muc.meet.jitsi"
///   }
///   rest {
///     port = <rest_port>
///   }
/// }
/// ```
///
/// `overrides` are (dotted key, HOCON value) pairs: a key already there gets
/// the new value in place, a new key is added where its path says, e.g.
/// `("jicofo.xmpp.client.password", &hocon_string("wrong"))` or
/// `("jicofo.xmpp.client.disable-certificate-verification", "true")`.
pub fn jicofo_conf(prosody: &Prosody, rest_port: u16, overrides: &[(&str, &str)]) -> String {
    let mut conf = HoconTree::default();
    let client = "jicofo.xmpp.client";
    conf.set(&format!("{client}.hostname"), &hocon_string("127.0.0.1"));
    conf.set(&format!("{client}.port"), &prosody.xmpp_port().to_string());
    conf.set(
        &format!("{client}.domain"),
        &hocon_string(prosody.auth_domain()),
    );
    conf.set(
        &format!("{client}.xmpp-domain"),
        &hocon_string(prosody.domain()),
    );
    conf.set(&format!("{client}.username"), &hocon_string("focus"));
    conf.set(
        &format!("{client}.password"),
        &hocon_string(prosody.focus_password()),
    );
    conf.set(
        &format!("{client}.client-proxy"),
        &hocon_string(prosody.focus_domain()),
    );
    conf.set(
        &format!("{client}.conference-muc-jid"),
        &hocon_string(prosody.muc_domain()),
    );
    conf.set("jicofo.xmpp.trusted-domains", "[]");
    conf.set(
        "jicofo.bridge.brewery-jid",
        &hocon_string(&format!("jvbbrewery@{}", prosody.internal_muc_domain())),
    );
    conf.set("jicofo.rest.port", &rest_port.to_string());
    for (key, value) in overrides {
        conf.set(key, value);
    }
    conf.render()
}

/// `s` as a quoted HOCON string.
pub fn hocon_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Nested HOCON objects in insertion order; a leaf holds a raw value.
#[derive(Default)]
struct HoconTree {
    entries: Vec<(String, Node)>,
}

enum Node {
    Value(String),
    Object(HoconTree),
}

impl HoconTree {
    /// Sets `dotted.key` to the raw HOCON `value`, replacing what was there.
    fn set(&mut self, key: &str, value: &str) {
        let (first, rest) = match key.split_once('.') {
            Some((first, rest)) => (first, Some(rest)),
            None => (key, None),
        };
        let slot = match self.entries.iter().position(|(k, _)| k == first) {
            Some(i) => &mut self.entries[i].1,
            None => {
                self.entries
                    .push((first.to_owned(), Node::Object(HoconTree::default())));
                &mut self.entries.last_mut().expect("just pushed").1
            }
        };
        match rest {
            None => *slot = Node::Value(value.to_owned()),
            Some(rest) => {
                if !matches!(slot, Node::Object(_)) {
                    *slot = Node::Object(HoconTree::default());
                }
                if let Node::Object(tree) = slot {
                    tree.set(rest, value);
                }
            }
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out, 0);
        out
    }

    fn render_into(&self, out: &mut String, depth: usize) {
        let indent = "  ".repeat(depth);
        for (key, node) in &self.entries {
            match node {
                Node::Value(value) => out.push_str(&format!("{indent}{key} = {value}\n")),
                Node::Object(tree) => {
                    out.push_str(&format!("{indent}{key} {{\n"));
                    tree.render_into(out, depth + 1);
                    out.push_str(&format!("{indent}}}\n"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_in_place_and_add_keys() {
        let mut t = HoconTree::default();
        t.set("jicofo.xmpp.client.port", "5222");
        t.set("jicofo.xmpp.client.password", "\"a\"");
        t.set("jicofo.rest.port", "8888");
        t.set("jicofo.xmpp.client.password", "\"b\"");
        t.set(
            "jicofo.xmpp.client.disable-certificate-verification",
            "true",
        );
        assert_eq!(
            t.render(),
            "jicofo {\n  xmpp {\n    client {\n      port = 5222\n      password = \"b\"\n      \
             disable-certificate-verification = true\n    }\n  }\n  rest {\n    port = 8888\n  }\n}\n"
        );
    }

    #[test]
    fn quotes_strings() {
        assert_eq!(hocon_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
