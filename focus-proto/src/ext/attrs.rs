//! Attribute and element helpers shared by the COLIBRI2 and Jingle types:
//! attribute reading that keeps what it does not know, attribute writing,
//! and the bounds on lists read from a peer.

use std::str::FromStr;

use minidom::Element;
use rxml::{AttrMap, Namespace};

use super::{ParseError, java_bool};
use crate::xml::ncname;

/// The attributes of one element, taken out one by one as they are read;
/// what is left at the end is kept as the element's unknown attributes.
pub(super) struct Attrs(AttrMap);

impl Attrs {
    /// All attributes of `el`.
    pub(super) fn of(el: &Element) -> Self {
        Self(el.attrs().clone())
    }

    /// Attribute `name` (no namespace), empty read as absent.
    pub(super) fn take(&mut self, name: &str) -> Option<String> {
        self.0
            .remove(&Namespace::NONE, name)
            .filter(|v| !v.is_empty())
    }

    /// Attribute `name`, which must be present and non-empty.
    pub(super) fn required(&mut self, name: &'static str) -> Result<String, ParseError> {
        self.take(name).ok_or(ParseError::MissingAttribute(name))
    }

    /// Attribute `name` as Java's `Boolean.parseBoolean`, absent is false.
    pub(super) fn flag(&mut self, name: &str) -> bool {
        self.boolean(name).unwrap_or(false)
    }

    /// Attribute `name` read as Java's `Boolean.parseBoolean`; absent is `None`.
    pub(super) fn boolean(&mut self, name: &str) -> Option<bool> {
        self.take(name).map(|v| java_bool(&v))
    }

    /// Attribute `name` as a number; absent or empty is `None`, anything
    /// that does not parse (surrounding blanks included, as Java's
    /// `parseInt`) is an error.
    pub(super) fn number<T: FromStr>(
        &mut self,
        name: &'static str,
    ) -> Result<Option<T>, ParseError> {
        self.parsed(name, |v| v.parse().ok())
    }

    /// Attribute `name` as a number, which must be present.
    pub(super) fn required_number<T: FromStr>(
        &mut self,
        name: &'static str,
    ) -> Result<T, ParseError> {
        self.number(name)?.ok_or(ParseError::MissingAttribute(name))
    }

    /// Attribute `name` through `parse`; absent is `None`.
    pub(super) fn parsed<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, ParseError> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => parse(&v)
                .map(Some)
                .ok_or_else(|| ParseError::invalid_attribute(name, &v)),
        }
    }

    /// The attributes not taken.
    pub(super) fn rest(self) -> AttrMap {
        self.0
    }
}

/// Sets attribute `name` of `el`.
pub(super) fn set(el: &mut Element, name: &'static str, value: impl ToString) {
    el.set_attr(Namespace::NONE, ncname(name), value.to_string());
}

/// Sets attribute `name` of `el` when `value` is present.
pub(super) fn set_opt<T: ToString>(el: &mut Element, name: &'static str, value: Option<T>) {
    if let Some(value) = value {
        set(el, name, value);
    }
}

/// Sets `name='true'` when `value` is true (the Java builders omit a
/// boolean equal to its default, false).
pub(super) fn set_flag(el: &mut Element, name: &'static str, value: bool) {
    if value {
        set(el, name, "true");
    }
}

/// `true` or `false`, as Java writes a boolean.
pub(super) fn bool_str(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// Adds the kept unknown attributes to `el` (known ones already set win).
pub(super) fn set_rest(el: &mut Element, rest: &AttrMap) {
    for ((ns, name), value) in rest.iter() {
        if !el.attrs().contains_key(ns, name) {
            el.attrs_mut()
                .insert(ns.clone(), name.clone(), value.clone());
        }
    }
}

/// Fails once a known list read from a peer would grow past `max`.
pub(super) fn check_len(len: usize, max: usize, what: &'static str) -> Result<(), ParseError> {
    if len >= max {
        Err(ParseError::Invalid(format!(
            "more than {max} <{what}/> elements"
        )))
    } else {
        Ok(())
    }
}

/// Appends a clone of every element of `children` to `el`.
pub(super) fn append_all<'a>(el: &mut Element, children: impl IntoIterator<Item = &'a Element>) {
    for child in children {
        el.append_child(child.clone());
    }
}
