//! Jitsi's stanza extensions as Rust types: parsed from and written to
//! [`minidom::Element`]s, kept apart from the logic that uses them.
//!
//! * [`error`]: stanza errors (RFC 6120 section 8.3) and IQ replies.
//! * [`conference_iq`]: the conference request (`http://jitsi.org/protocol/focus`),
//!   login URL and logout.
//! * [`muc`]: what the focus sends to the conference MUC (join, leave, room
//!   configuration, affiliation grants) and MUC roles.
//! * [`presence`]: what the focus reads from an occupant's presence and what
//!   it publishes in its own.
//!
//! Parsers are lenient where Jicofo is (unknown children and attributes are
//! ignored) and never panic: anything a peer sends either parses or yields a
//! [`ParseError`].

mod attrs;
pub mod brewery;
pub mod colibri2;
pub mod conference_iq;
pub mod error;
pub mod jingle;
pub mod muc;
pub mod presence;
pub mod room_metadata;

use minidom::Element;

/// Longest attribute value quoted back in a [`ParseError`].
const QUOTE_MAX: usize = 64;

/// Why an element could not be read as the extension asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The element has another name or namespace than the one expected.
    #[error("expected a <{expected}/> element")]
    WrongElement {
        /// The expected element name.
        expected: &'static str,
    },
    /// A required attribute is missing.
    #[error("missing attribute '{0}'")]
    MissingAttribute(&'static str),
    /// An attribute has a value that cannot be used.
    #[error("invalid value {value:?} for attribute '{name}'")]
    InvalidAttribute {
        /// The attribute name.
        name: &'static str,
        /// The value (cut to a few dozen characters).
        value: String,
    },
    /// A required child element is missing.
    #[error("missing child element <{0}/>")]
    MissingChild(&'static str),
    /// Anything else.
    #[error("{0}")]
    Invalid(String),
}

impl ParseError {
    /// An [`ParseError::InvalidAttribute`] quoting at most a few dozen
    /// characters of `value`.
    pub(crate) fn invalid_attribute(name: &'static str, value: &str) -> Self {
        ParseError::InvalidAttribute {
            name,
            value: quote(value),
        }
    }
}

/// At most [`QUOTE_MAX`] characters of `value`, with `…` when cut.
fn quote(value: &str) -> String {
    let mut chars = value.char_indices();
    match chars.nth(QUOTE_MAX) {
        Some((at, _)) => {
            let mut cut = value.get(..at).unwrap_or_default().to_owned();
            cut.push('…');
            cut
        }
        None => value.to_owned(),
    }
}

/// Attribute `name` of `el`, with an empty value read as absent.
pub(crate) fn non_empty_attr<'a>(el: &'a Element, name: &'a str) -> Option<&'a str> {
    el.attr(name).filter(|v| !v.is_empty())
}

/// Attribute `name` of `el` as an owned string, empty read as absent.
pub(crate) fn owned_attr(el: &Element, name: &str) -> Option<String> {
    non_empty_attr(el, name).map(str::to_owned)
}

/// Java's `Boolean.parseBoolean`: `true` in any case, everything else false.
pub(crate) fn java_bool(value: &str) -> bool {
    value.eq_ignore_ascii_case("true")
}

/// Fails with [`ParseError::WrongElement`] unless `el` is `name` in `ns`.
pub(crate) fn expect_element(el: &Element, name: &'static str, ns: &str) -> Result<(), ParseError> {
    if el.is(name, ns) {
        Ok(())
    } else {
        Err(ParseError::WrongElement { expected: name })
    }
}

#[cfg(test)]
pub(crate) mod test_support;
