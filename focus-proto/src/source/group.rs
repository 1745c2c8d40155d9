//! SSRC groups (`a=ssrc-group` lines): simulcast layers and RTX pairs.

use std::fmt;

use super::source::{MediaType, Ssrc, SsrcList};

/// The semantics of an [`SsrcGroup`]; other semantics (`FEC-FR`, ...) are
/// rejected when parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Semantics {
    /// `SIM`: simulcast layers, lowest first.
    Sim,
    /// `FID`: a stream and its RTX stream, exactly two SSRCs once validated.
    Fid,
}

impl Semantics {
    /// The name as written: `SIM` or `FID`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Semantics::Sim => "SIM",
            Semantics::Fid => "FID",
        }
    }

    /// Reads `SIM` or `FID` in any case.
    pub fn parse(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("SIM") {
            Some(Semantics::Sim)
        } else if value.eq_ignore_ascii_case("FID") {
            Some(Semantics::Fid)
        } else {
            None
        }
    }

    /// The compact JSON letter: `s` or `f`.
    pub const fn json_letter(self) -> &'static str {
        match self {
            Semantics::Sim => "s",
            Semantics::Fid => "f",
        }
    }
}

impl fmt::Display for Semantics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A group of SSRCs with a semantics and the media type of the content it
/// was signaled in.
///
/// The SSRC list may be empty when parsed (an empty `<ssrc-group/>`); the
/// validating map silently drops such groups and never stores them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SsrcGroup {
    /// `SIM` or `FID`.
    pub semantics: Semantics,
    /// The SSRCs in signaled order.
    pub ssrcs: Vec<Ssrc>,
    /// The media type of the content the group was signaled in.
    pub media_type: MediaType,
}

impl SsrcGroup {
    /// A group of `ssrcs` with `semantics` in `media_type`.
    pub fn new(semantics: Semantics, ssrcs: Vec<Ssrc>, media_type: MediaType) -> Self {
        SsrcGroup {
            semantics,
            ssrcs,
            media_type,
        }
    }

    /// Whether `ssrc` is one of the group's SSRCs.
    pub fn contains(&self, ssrc: Ssrc) -> bool {
        self.ssrcs.contains(&ssrc)
    }
}

/// Jicofo's log form: `SIM[1, 2, 3]`.
impl fmt::Display for SsrcGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.semantics, SsrcList(&self.ssrcs))
    }
}
