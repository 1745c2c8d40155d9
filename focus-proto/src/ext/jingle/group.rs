//! `<group/>` (XEP-0338, `urn:xmpp:jingle:apps:grouping:0`): the BUNDLE
//! group listing the contents that share one transport.

use minidom::Element;

use super::MAX_CONTENTS;
use crate::ext::ParseError;
use crate::ext::attrs::{Attrs, check_len, set};

/// XEP-0338 grouping framework.
pub const NS_GROUPING: &str = "urn:xmpp:jingle:apps:grouping:0";

/// A `<group/>` of content names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `semantics` (`BUNDLE` for Jitsi), as received.
    pub semantics: String,
    /// The `name` of each `<content/>` child, in order. Children without a
    /// name and other elements are ignored.
    pub contents: Vec<String>,
}

impl Group {
    /// The semantics of a bundle group.
    pub const BUNDLE: &'static str = "BUNDLE";

    /// A BUNDLE group of `names`.
    pub fn bundle<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            semantics: Self::BUNDLE.to_owned(),
            contents: names.into_iter().map(str::to_owned).collect(),
        }
    }

    /// Reads a `<group/>`: `semantics` is required, at most
    /// [`MAX_CONTENTS`] contents.
    pub fn parse(el: &Element) -> Result<Self, ParseError> {
        crate::ext::expect_element(el, "group", NS_GROUPING)?;
        let semantics = Attrs::of(el).required("semantics")?;
        let mut contents = Vec::new();
        for child in el.children().filter(|c| c.is("content", NS_GROUPING)) {
            if let Some(name) = crate::ext::owned_attr(child, "name") {
                check_len(contents.len(), MAX_CONTENTS, "content")?;
                contents.push(name);
            }
        }
        Ok(Group {
            semantics,
            contents,
        })
    }

    /// The `<group/>` element.
    pub fn to_element(&self) -> Element {
        let mut el = Element::bare("group", NS_GROUPING);
        set(&mut el, "semantics", &self.semantics);
        for name in &self.contents {
            let mut content = Element::bare("content", NS_GROUPING);
            set(&mut content, "name", name);
            el.append_child(content);
        }
        el
    }
}
