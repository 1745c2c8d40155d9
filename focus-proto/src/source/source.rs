//! One media source: an SSRC with its media type, name, msid and video type.

use std::fmt;
use std::num::NonZeroU32;

/// An RTP synchronisation source identifier, `1 ..= 2^32-1`.
///
/// Zero is not a valid SSRC for the focus (Jicofo rejects it with
/// `Invalid SSRC: 0.`), so it cannot be represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ssrc(NonZeroU32);

impl Ssrc {
    /// The smallest SSRC, 1.
    pub const MIN: Ssrc = Ssrc(NonZeroU32::MIN);
    /// The largest SSRC, `2^32-1`.
    pub const MAX: Ssrc = Ssrc(NonZeroU32::MAX);

    /// The SSRC `value`, or `None` for zero.
    pub const fn new(value: u32) -> Option<Self> {
        match NonZeroU32::new(value) {
            Some(v) => Some(Ssrc(v)),
            None => None,
        }
    }

    /// The SSRC for a signed value as Jicofo reads it (a Java `long`), or
    /// `None` when it is outside `1 ..= 2^32-1`.
    pub fn from_i64(value: i64) -> Option<Self> {
        u32::try_from(value).ok().and_then(Ssrc::new)
    }

    /// The numeric value.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TryFrom<u32> for Ssrc {
    type Error = InvalidSsrc;

    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Ssrc::new(value).ok_or(InvalidSsrc(0))
    }
}

/// A value that is not a valid SSRC; displays as Jicofo's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Invalid SSRC: {0}.")]
pub struct InvalidSsrc(pub i64);

/// The media type of a source or group (Jingle `description/@media`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaType {
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// `data` (the SCTP data channel; never carries sources in practice).
    Data,
}

impl MediaType {
    /// The Jingle name: `audio`, `video` or `data`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MediaType::Audio => "audio",
            MediaType::Video => "video",
            MediaType::Data => "data",
        }
    }

    /// Reads a Jingle media name; only the exact lower-case names are known.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "audio" => Some(MediaType::Audio),
            "video" => Some(MediaType::Video),
            "data" => Some(MediaType::Data),
            _ => None,
        }
    }

    /// The letter used in source names: `a`, `v` or `d`.
    pub const fn letter(self) -> char {
        match self {
            MediaType::Audio => 'a',
            MediaType::Video => 'v',
            MediaType::Data => 'd',
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a video source carries (the `videoType` attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VideoType {
    /// `camera`.
    Camera,
    /// `desktop` (screen sharing).
    Desktop,
}

impl VideoType {
    /// The name as written: `camera` or `desktop`.
    pub const fn as_str(self) -> &'static str {
        match self {
            VideoType::Camera => "camera",
            VideoType::Desktop => "desktop",
        }
    }

    /// Reads `camera` or `desktop` in any case.
    pub fn parse(value: &str) -> Option<Self> {
        if value.eq_ignore_ascii_case("camera") {
            Some(VideoType::Camera)
        } else if value.eq_ignore_ascii_case("desktop") {
            Some(VideoType::Desktop)
        } else {
            None
        }
    }
}

impl fmt::Display for VideoType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One source: the `a=ssrc` lines of one SSRC.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source {
    /// The SSRC.
    pub ssrc: Ssrc,
    /// Audio, video or data.
    pub media_type: MediaType,
    /// The source name (`<endpoint>-v0`), if signaled.
    pub name: Option<String>,
    /// The msid (`STREAM TRACK`), if signaled.
    pub msid: Option<String>,
    /// Camera or desktop, if signaled.
    pub video_type: Option<VideoType>,
}

impl Source {
    /// A source with only an SSRC and a media type.
    pub fn new(ssrc: Ssrc, media_type: MediaType) -> Self {
        Source {
            ssrc,
            media_type,
            name: None,
            msid: None,
            video_type: None,
        }
    }

    /// This source with name `name`.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// This source with msid `msid`.
    pub fn with_msid(mut self, msid: impl Into<String>) -> Self {
        self.msid = Some(msid.into());
        self
    }

    /// This source with video type `video_type`.
    pub fn with_video_type(mut self, video_type: VideoType) -> Self {
        self.video_type = Some(video_type);
        self
    }
}

/// The source name jitsi-meet uses: `<endpoint>-<a|v|d><index>`, for example
/// `7f3e9a21-v1` for the second video source of endpoint `7f3e9a21`.
pub fn source_name(endpoint_id: &str, media_type: MediaType, index: u32) -> String {
    format!("{endpoint_id}-{}{index}", media_type.letter())
}

/// Writes a list of SSRCs as Jicofo (a Kotlin `List`) does: `[1, 2, 3]`.
#[derive(Debug, Clone, Copy)]
pub struct SsrcList<'a>(pub &'a [Ssrc]);

impl fmt::Display for SsrcList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, ssrc) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{ssrc}")?;
        }
        f.write_str("]")
    }
}
