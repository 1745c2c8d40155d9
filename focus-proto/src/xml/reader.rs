//! The incremental, bounded reader of an XMPP stream.
//!
//! [`StreamReader`] is a thin layer over [`rxml::Parser`] (a restricted XML
//! 1.0 push parser: no DTD, no processing instructions, no comments, UTF-8
//! only) that turns the bytes of one XML stream into [`StreamEvent`]s: the
//! stream header, each complete depth-1 element as a [`minidom::Element`],
//! and the end of the stream.
//!
//! # Bounds
//!
//! Every byte the parser consumes is attributed either to an event rxml has
//! already emitted (via its `EventMetrics`) or to the event still being
//! lexed. The reader never hands the parser more bytes than the stanza in
//! progress may still grow by (plus one, to notice the overflow), so a stanza
//! over [`Limits::max_stanza_bytes`] fails while it is arriving, however the
//! bytes are chunked, and even inside one start tag with endless attributes.
//! rxml's own token limit ([`Limits::max_token_bytes`]) caps one name or
//! attribute value; text is split by rxml at that size and counted like any
//! other part of the stanza. Whitespace between stanzas is discarded as it
//! arrives and never counts against a limit.
//!
//! A stanza in minidom's representation takes more memory than its bytes:
//! about 20 times for typical Jingle, up to about 120 times for a stanza
//! made only of tiny elements with one attribute each (BTreeMap nodes per
//! attribute map). [`Limits::max_stanza_elements`] caps the latter: with the
//! defaults a stanza in progress costs at most about 40 MiB, whatever the
//! bytes. Completed events wait in a queue, so callers should drain it after
//! each [`StreamReader::feed`].

use std::collections::VecDeque;

use minidom::Element;
use rxml::error::EndOrError;
use rxml::{Event, Parse, Parser, WithOptions};

use super::NS_STREAMS;

/// The `xml:` namespace, for `xml:lang`.
const NS_XML: &str = rxml::XMLNS_XML;

/// Bounds on what a [`StreamReader`] accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest depth-1 element (stanza, features, …), in bytes as received,
    /// from the `<` of its start tag to the `>` of its end tag. Also bounds
    /// the stream header (with any XML declaration before it).
    pub max_stanza_bytes: usize,
    /// Deepest nesting inside a stanza; the stanza itself is depth 1.
    /// minidom drops, compares and writes elements recursively, so keep this
    /// modest (thousands, not millions).
    pub max_depth: usize,
    /// Most elements in one depth-1 element, itself included. A parsed
    /// element costs far more memory than its bytes (about 0.2 KiB bare,
    /// 1.2 KiB with an attribute, in minidom's representation), so this
    /// bounds what many tiny elements such as `<a b='c'/>` can cost.
    pub max_stanza_elements: usize,
    /// Largest single name or attribute value, in bytes (rxml's
    /// `max_token_length`; rxml keeps two buffers of this size per reader).
    /// Capped at `max_stanza_bytes`.
    pub max_token_bytes: usize,
}

impl Default for Limits {
    /// 1 MiB stanzas, 64 levels, 32768 elements, 64 KiB tokens.
    fn default() -> Self {
        Self {
            max_stanza_bytes: 1 << 20,
            max_depth: 64,
            max_stanza_elements: 32_768,
            max_token_bytes: 64 << 10,
        }
    }
}

impl Limits {
    fn token_limit(&self) -> usize {
        self.max_token_bytes.min(self.max_stanza_bytes).max(1)
    }
}

/// The attributes of a `<stream:stream>` start tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamHeader {
    /// `from`: the server's domain.
    pub from: Option<String>,
    /// `to`.
    pub to: Option<String>,
    /// `id`: the stream id.
    pub id: Option<String>,
    /// `version`; `1.0` for RFC 6120 streams.
    pub version: Option<String>,
    /// `xml:lang`.
    pub lang: Option<String>,
}

/// What a [`StreamReader`] makes of the bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// `<stream:stream …>` opened.
    Header(StreamHeader),
    /// A complete depth-1 element: a stanza, `stream:features`,
    /// `stream:error`, a SASL or STARTTLS element. Unprefixed elements carry
    /// the default namespace of the stream header (e.g. `jabber:client`).
    Element(Element),
    /// `</stream:stream>` arrived.
    End,
}

/// Why a [`StreamReader`] gave up on a stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The bytes are not well-formed (namespaced) XML.
    #[error("XML is not well-formed: {0}")]
    NotWellFormed(String),
    /// The bytes are not valid UTF-8.
    #[error("invalid UTF-8 byte {0:#04x}")]
    InvalidUtf8(u8),
    /// The XML declaration names an encoding other than UTF-8.
    #[error("unsupported encoding (only UTF-8 is allowed)")]
    UnsupportedEncoding,
    /// A construct XMPP forbids: DTD, processing instruction, comment, …
    #[error("restricted XML: {0}")]
    RestrictedXml(String),
    /// A depth-1 element (or the stream header) grew over
    /// [`Limits::max_stanza_bytes`].
    #[error("stanza larger than {limit} bytes")]
    StanzaTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// A name or attribute value grew over [`Limits::max_token_bytes`].
    #[error("XML name or attribute value larger than {limit} bytes")]
    TokenTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// A depth-1 element has more than [`Limits::max_stanza_elements`]
    /// elements.
    #[error("stanza with more than {limit} elements")]
    TooManyElements {
        /// The limit in force.
        limit: usize,
    },
    /// Elements nested deeper than [`Limits::max_depth`] inside a stanza.
    #[error("elements nested deeper than {limit}")]
    TooDeep {
        /// The limit in force.
        limit: usize,
    },
    /// The root element is not `stream` in the streams namespace.
    #[error("root element is {{{ns}}}{name}, not a stream:stream")]
    InvalidRoot {
        /// Namespace of the root element.
        ns: String,
        /// Local name of the root element.
        name: String,
    },
    /// Non-whitespace text between stanzas.
    #[error("text outside of any stanza")]
    TextAtStreamLevel,
}

impl XmlError {
    /// The RFC 6120 stream error condition (section 4.9.3) to answer with.
    pub fn condition(&self) -> &'static str {
        match self {
            Self::NotWellFormed(_) => "not-well-formed",
            Self::InvalidUtf8(_) | Self::UnsupportedEncoding => "unsupported-encoding",
            Self::RestrictedXml(_) => "restricted-xml",
            // Prosody answers stanza-too-big with policy-violation too.
            Self::StanzaTooLarge { .. }
            | Self::TokenTooLarge { .. }
            | Self::TooManyElements { .. }
            | Self::TooDeep { .. } => "policy-violation",
            Self::InvalidRoot { .. } => "invalid-namespace",
            Self::TextAtStreamLevel => "bad-format",
        }
    }

    fn from_rxml(e: rxml::Error, limits: &Limits) -> Self {
        match e {
            rxml::Error::InvalidUtf8Byte(b) => Self::InvalidUtf8(b),
            // rxml reports its own bounds as restricted XML; the strings are
            // those of rxml 0.14 (see `reader::tests::rxml_limit_messages`).
            rxml::Error::RestrictedXml("long name or reference") => Self::TokenTooLarge {
                limit: limits.token_limit(),
            },
            rxml::Error::RestrictedXml("event too long") => Self::StanzaTooLarge {
                limit: limits.max_stanza_bytes,
            },
            rxml::Error::RestrictedXml("only utf-8 encoding is allowed") => {
                Self::UnsupportedEncoding
            }
            rxml::Error::RestrictedXml(what) => Self::RestrictedXml(what.to_owned()),
            // `<!` not followed by `--` or `[CDATA[`: a DTD or another
            // markup declaration.
            rxml::Error::InvalidSyntax("malformed cdata or comment section start") => {
                Self::RestrictedXml("markup declaration (DTD)".to_owned())
            }
            other => Self::NotWellFormed(other.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the stream header (an XML declaration may come first).
    Prolog,
    /// Inside `<stream:stream>`.
    Open,
    /// After `</stream:stream>`: further input is ignored.
    Closed,
}

/// Incremental, bounded reader of one XMPP stream (restartable with
/// [`reset`](Self::reset)).
///
/// Feed it bytes as they arrive, in any chunking, and take
/// [`StreamEvent`]s out:
///
/// ```
/// use focus_proto::xml::{Limits, StreamEvent, StreamReader};
///
/// let mut reader = StreamReader::new(Limits::default());
/// reader
///     .feed(b"<stream:stream xmlns='jabber:client' \
///         xmlns:stream='http://etherx.jabber.org/streams' from='meet.jitsi' version='1.0'>\
///         <message><body>hi</bo")
///     .unwrap();
/// assert!(matches!(reader.next_event(), Some(StreamEvent::Header(h)) if h.version.as_deref() == Some("1.0")));
/// assert_eq!(reader.next_event(), None);
/// reader.feed(b"dy></message>").unwrap();
/// let Some(StreamEvent::Element(msg)) = reader.next_event() else { panic!() };
/// assert!(msg.is("message", "jabber:client"));
/// ```
///
/// [`feed`](Self::feed) parses everything it is given at once; the events
/// wait in a queue until taken. Once `feed` failed, it fails again with the
/// same error on every call until [`reset`](Self::reset); events completed
/// before the error stay in the queue.
#[derive(Debug)]
pub struct StreamReader {
    limits: Limits,
    parser: Parser,
    state: State,
    /// Open elements of the depth-1 element in progress, outermost first.
    stack: Vec<Element>,
    /// Bytes of the depth-1 element in progress covered by emitted events.
    stanza_bytes: usize,
    /// Elements started in the depth-1 element in progress.
    stanza_elements: usize,
    /// Bytes the parser consumed that no emitted event covers yet.
    pending: usize,
    events: VecDeque<StreamEvent>,
    failed: Option<XmlError>,
}

impl StreamReader {
    /// A reader waiting for a stream header, enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            parser: new_parser(&limits),
            limits,
            state: State::Prolog,
            stack: Vec::new(),
            stanza_bytes: 0,
            stanza_elements: 0,
            pending: 0,
            events: VecDeque::new(),
            failed: None,
        }
    }

    /// The limits this reader enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Starts over for a new stream (after STARTTLS and after SASL success):
    /// the next bytes may bring an XML declaration and must bring a new
    /// stream header. Queued events, any half-read stanza and a past error
    /// are dropped: bytes that came in the same read after `<proceed/>` or
    /// `<success/>` belong to the old stream and are gone, so no plain-text
    /// bytes can be taken for part of the stream over TLS. (Servers send
    /// nothing there: they wait for the client's TLS handshake or new
    /// header.)
    pub fn reset(&mut self) {
        self.parser = new_parser(&self.limits);
        self.state = State::Prolog;
        self.stack.clear();
        self.stanza_bytes = 0;
        self.stanza_elements = 0;
        self.pending = 0;
        self.events.clear();
        self.failed = None;
    }

    /// Parses `data`, queueing the events it completes. Bytes after
    /// `</stream:stream>` are ignored.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), XmlError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.feed_inner(data);
        if let Err(e) = &result {
            tracing::debug!(error = %e, "XML stream reader failed");
            self.failed = Some(e.clone());
            // Whatever half-built stanza there was is useless now.
            self.stack.clear();
        }
        result
    }

    /// The next queued event, if any.
    pub fn next_event(&mut self) -> Option<StreamEvent> {
        self.events.pop_front()
    }

    /// Whether `</stream:stream>` was read.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    fn feed_inner(&mut self, mut data: &[u8]) -> Result<(), XmlError> {
        // rxml consumes at least one byte whenever it asks for more data;
        // this only guards against looping forever should it not.
        let mut stalls = 0u8;
        loop {
            if self.state == State::Closed {
                return Ok(());
            }
            let take = data.len().min(self.budget());
            let mut chunk = data.get(..take).unwrap_or_default();
            let result = self.parser.parse(&mut chunk, false);
            let consumed = take.saturating_sub(chunk.len());
            data = data.get(consumed..).unwrap_or_default();
            self.pending = self.pending.saturating_add(consumed);
            match result {
                Ok(Some(ev)) => {
                    stalls = 0;
                    self.handle(ev)?;
                }
                // `None` only comes at end of file, which we never claim.
                Ok(None) | Err(EndOrError::NeedMoreData) => {
                    if data.is_empty() {
                        return self.check_size();
                    }
                    if consumed == 0 {
                        stalls = stalls.saturating_add(1);
                        if stalls > 2 {
                            return Err(XmlError::NotWellFormed("parser stalled".to_owned()));
                        }
                    } else {
                        stalls = 0;
                    }
                }
                Err(EndOrError::Error(e)) => return Err(XmlError::from_rxml(e, &self.limits)),
            }
            self.check_size()?;
        }
    }

    /// Bytes of the depth-1 element (or header) in progress, emitted or not.
    fn used(&self) -> usize {
        self.stanza_bytes.saturating_add(self.pending)
    }

    /// How many bytes the parser may consume next: what is left of the
    /// stanza limit, plus one to notice the overflow.
    fn budget(&self) -> usize {
        self.limits
            .max_stanza_bytes
            .saturating_sub(self.used())
            .saturating_add(1)
    }

    fn check_size(&self) -> Result<(), XmlError> {
        if self.state != State::Closed && self.used() > self.limits.max_stanza_bytes {
            return Err(XmlError::StanzaTooLarge {
                limit: self.limits.max_stanza_bytes,
            });
        }
        Ok(())
    }

    fn handle(&mut self, ev: Event) -> Result<(), XmlError> {
        // The event's bytes are still in `pending`: check before the event
        // completes a stanza (or the header) and its count is dropped.
        self.check_size()?;
        let len = ev.metrics().len();
        self.pending = self.pending.saturating_sub(len);
        if !self.stack.is_empty() {
            self.stanza_bytes = self.stanza_bytes.saturating_add(len);
        }
        match ev {
            Event::XmlDeclaration(..) => Ok(()),
            Event::StartElement(_, (ns, name), attrs) => match self.state {
                State::Prolog => {
                    if ns.as_str() != NS_STREAMS || name.as_str() != "stream" {
                        return Err(XmlError::InvalidRoot {
                            ns: ns.as_str().to_owned(),
                            name: name.as_str().to_owned(),
                        });
                    }
                    let get = |ns: &str, name: &str| attrs.get(ns, name).cloned();
                    let header = StreamHeader {
                        from: get("", "from"),
                        to: get("", "to"),
                        id: get("", "id"),
                        version: get("", "version"),
                        lang: get(NS_XML, "lang"),
                    };
                    self.state = State::Open;
                    self.pending = 0;
                    self.events.push_back(StreamEvent::Header(header));
                    Ok(())
                }
                State::Open => {
                    if self.stack.len() >= self.limits.max_depth {
                        return Err(XmlError::TooDeep {
                            limit: self.limits.max_depth,
                        });
                    }
                    if self.stack.is_empty() {
                        self.stanza_bytes = len;
                        self.stanza_elements = 0;
                    }
                    self.stanza_elements += 1;
                    if self.stanza_elements > self.limits.max_stanza_elements {
                        return Err(XmlError::TooManyElements {
                            limit: self.limits.max_stanza_elements,
                        });
                    }
                    let mut el = Element::bare(name.as_str(), ns);
                    *el.attrs_mut() = attrs;
                    self.stack.push(el);
                    Ok(())
                }
                State::Closed => Ok(()),
            },
            Event::EndElement(_) => {
                match self.stack.pop() {
                    Some(el) => match self.stack.last_mut() {
                        Some(parent) => {
                            parent.append_child(el);
                        }
                        None => {
                            // rxml stops right after the `>`: every byte
                            // consumed so far is accounted for. Resync, as
                            // rxml's metrics lose the bytes of a UTF-8
                            // sequence split between two reads in text.
                            self.stanza_bytes = 0;
                            self.pending = 0;
                            self.events.push_back(StreamEvent::Element(el));
                        }
                    },
                    None => {
                        // rxml pairs start and end tags, so this is the
                        // stream's own end tag.
                        self.state = State::Closed;
                        self.pending = 0;
                        self.events.push_back(StreamEvent::End);
                    }
                }
                Ok(())
            }
            Event::Text(_, text) => {
                match self.stack.last_mut() {
                    Some(el) => el.append_text(text),
                    None => {
                        if !text
                            .bytes()
                            .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                        {
                            return Err(XmlError::TextAtStreamLevel);
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

fn new_parser(limits: &Limits) -> Parser {
    let mut parser = Parser::with_options(rxml::Options {
        max_token_length: limits.token_limit(),
        ..rxml::Options::default()
    });
    // Hand out text as soon as it is read: whitespace keepalives must not
    // sit in rxml's buffer, where they would count against the next stanza.
    parser.set_text_buffering(false);
    parser
}

#[cfg(test)]
mod tests;
