//! Incremental, bounded XML stream reading and stanza writing.
//!
//! An XMPP connection carries two XML documents, one each way, that are
//! never complete while the connection lives: a `<stream:stream>` root whose
//! depth-1 children are the stanzas (and stream-level elements such as
//! `stream:features` or SASL's `success`).
//!
//! * [`StreamReader`] turns the bytes the server sends, in any chunking, into
//!   [`StreamEvent`]s, bounded by [`Limits`]; what goes wrong is an
//!   [`XmlError`] that names the stream error condition to answer with.
//! * [`stream_header`], [`write_element`], [`stream_error`] and
//!   [`stream_close`] produce what the client sends.
//!
//! Both sides use restricted XML as RFC 6120 section 11 requires: UTF-8, no
//! DTD, no processing instructions, no comments.

mod reader;
mod writer;

pub use reader::{Limits, StreamEvent, StreamHeader, StreamReader, XmlError};
pub use writer::{stream_close, stream_error, stream_header, write_element};

/// The namespace of `<stream:stream>`, `stream:features` and `stream:error`.
pub const NS_STREAMS: &str = "http://etherx.jabber.org/streams";
/// The default namespace of a client-to-server stream.
pub const NS_CLIENT: &str = "jabber:client";
/// The namespace of stream error conditions.
pub const NS_STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";

/// An attribute name known at compile time, for `ElementBuilder::attr`.
///
/// Only for literal names in our own code; a name that is not an NCName is
/// a bug, caught by the unit tests that build every stanza.
pub fn ncname(name: &'static str) -> rxml::NcName {
    match rxml::NcName::try_from(name) {
        Ok(n) => n,
        Err(_) => panic!("not an NCName: {name}"),
    }
}
