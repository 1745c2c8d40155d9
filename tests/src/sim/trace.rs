//! The transcript of a run: every stanza delivered (or lost) with its virtual
//! time, every focus event, every HTTP exchange and every harness action.
//! [`Trace::text`] renders it deterministically, so two runs with the same
//! seed can be compared byte for byte.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use minidom::Element;

use super::stanza::to_xml;

/// What one trace line records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceKind {
    /// A stanza reached the server from the session `from`.
    Sent {
        /// The sender's full JID.
        from: String,
        /// The stanza as the server received it (before `from` stamping).
        xml: String,
    },
    /// A stanza reached the session `to`.
    Received {
        /// The receiver's full JID.
        to: String,
        /// The stanza.
        xml: String,
    },
    /// A stanza was lost: dropped by a fault, or its session closed.
    Lost {
        /// The session at the end of the hop.
        session: String,
        /// Why.
        why: String,
        /// The stanza.
        xml: String,
    },
    /// A fault delivered a stanza twice.
    Duplicated {
        /// The session at the end of the hop.
        session: String,
    },
    /// The focus emitted an event (its `Debug` form).
    FocusEvent(String),
    /// An HTTP request to the focus and, when it came, its answer.
    Http(String),
    /// A connection opened or closed, or the harness did something.
    Note(String),
}

/// One trace line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// Virtual time since the start.
    pub at: Duration,
    /// What happened.
    pub kind: TraceKind,
}

/// The transcript.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    enabled: bool,
    entries: Vec<TraceEntry>,
}

impl Trace {
    /// A trace that records when `enabled`.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            entries: Vec::new(),
        }
    }

    /// Whether entries are recorded.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// All entries in order.
    pub fn entries(&self) -> &[TraceEntry] {
        &self.entries
    }

    /// Records an entry.
    pub fn push(&mut self, at: Duration, kind: TraceKind) {
        if self.enabled {
            self.entries.push(TraceEntry { at, kind });
        }
    }

    /// Records that `from` sent `stanza` to the server.
    pub(crate) fn sent(&mut self, at: Duration, from: &str, stanza: &Element) {
        if self.enabled {
            let xml = to_xml(stanza);
            self.push(
                at,
                TraceKind::Sent {
                    from: from.to_owned(),
                    xml,
                },
            );
        }
    }

    /// Records that `to` received `stanza`.
    pub(crate) fn received(&mut self, at: Duration, to: &str, stanza: &Element) {
        if self.enabled {
            let xml = to_xml(stanza);
            self.push(
                at,
                TraceKind::Received {
                    to: to.to_owned(),
                    xml,
                },
            );
        }
    }

    /// Records a lost stanza.
    pub(crate) fn lost(&mut self, at: Duration, session: &str, why: &str, stanza: &Element) {
        if self.enabled {
            let xml = to_xml(stanza);
            self.push(
                at,
                TraceKind::Lost {
                    session: session.to_owned(),
                    why: why.to_owned(),
                    xml,
                },
            );
        }
    }

    /// Records a note.
    pub(crate) fn note(&mut self, at: Duration, text: impl Into<String>) {
        if self.enabled {
            self.push(at, TraceKind::Note(text.into()));
        }
    }

    /// The stanzas `jid` received, as XML, in order.
    pub fn received_by(&self, jid: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Received { to, xml } if to == jid => Some(xml.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The stanzas `jid` sent, as XML, in order.
    pub fn sent_by(&self, jid: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Sent { from, xml } if from == jid => Some(xml.as_str()),
                _ => None,
            })
            .collect()
    }

    /// How many stanzas were lost.
    pub fn lost_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.kind, TraceKind::Lost { .. }))
            .count()
    }

    /// How many stanzas were duplicated.
    pub fn duplicated_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.kind, TraceKind::Duplicated { .. }))
            .count()
    }

    /// The whole trace, one line per entry:
    /// `<ms since start> <kind> <who>: <detail>`.
    pub fn text(&self) -> String {
        let mut out = String::with_capacity(self.entries.len() * 160);
        for e in &self.entries {
            let micros = e.at.as_micros();
            let _ = write!(out, "{:>8}.{:03} ", micros / 1000, micros % 1000);
            let _ = match &e.kind {
                TraceKind::Sent { from, xml } => writeln!(out, "send {from}: {xml}"),
                TraceKind::Received { to, xml } => writeln!(out, "recv {to}: {xml}"),
                TraceKind::Lost { session, why, xml } => {
                    writeln!(out, "LOST {session} ({why}): {xml}")
                }
                TraceKind::Duplicated { session } => writeln!(out, "DUPL {session}"),
                TraceKind::FocusEvent(ev) => writeln!(out, "event {ev}"),
                TraceKind::Http(text) => writeln!(out, "http {text}"),
                TraceKind::Note(text) => writeln!(out, "note {text}"),
            };
        }
        out
    }
}

/// `(seconds, nanoseconds)` of an `Instant`'s `Debug` form
/// (`Instant { tv_sec: 1, tv_nsec: 2 }` on Unix).
fn instant_parts(text: &str) -> Option<(u64, u64, usize)> {
    let rest = text.strip_prefix("Instant { tv_sec: ")?;
    let sec_end = rest.find(',')?;
    let secs = rest[..sec_end].trim().parse().ok()?;
    let rest2 = rest[sec_end..].strip_prefix(", tv_nsec: ")?;
    let nsec_end = rest2.find(" }")?;
    let nanos = rest2[..nsec_end].trim().parse().ok()?;
    let len = "Instant { tv_sec: ".len() + sec_end + ", tv_nsec: ".len() + nsec_end + " }".len();
    Some((secs, nanos, len))
}

/// `text` (a `Debug` rendering) with every `Instant` written relative to
/// `start` (`Instant(+1.500ms)`), so traces do not depend on the real clock
/// reading the simulation started from.
pub(crate) fn stable_debug(text: &str, start: Instant) -> String {
    let Some((s0, n0, _)) = instant_parts(&format!("{start:?}")) else {
        return text.to_owned();
    };
    let origin = i128::from(s0) * 1_000_000_000 + i128::from(n0);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("Instant { tv_sec: ") {
        out.push_str(&rest[..pos]);
        match instant_parts(&rest[pos..]) {
            Some((s, n, len)) => {
                let delta = i128::from(s) * 1_000_000_000 + i128::from(n) - origin;
                let micros = delta / 1000;
                let _ = write!(
                    out,
                    "Instant(+{}.{:03}ms)",
                    micros / 1000,
                    (micros % 1000).abs()
                );
                rest = &rest[pos + len..];
            }
            None => {
                out.push_str("Instant");
                rest = &rest[pos + "Instant".len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_become_relative() {
        let start = Instant::now();
        let later = start + Duration::from_micros(1500);
        let text = format!("Ev {{ at: {later:?}, n: 1 }}");
        let stable = stable_debug(&text, start);
        if cfg!(unix) {
            assert_eq!(stable, "Ev { at: Instant(+1.500ms), n: 1 }");
        }
    }
}
