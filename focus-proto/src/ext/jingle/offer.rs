//! The offer the focus sends in `session-initiate` (and
//! `transport-replace`), built from `jicofo.codec` and the per-participant
//! [`OfferOptions`] exactly as Jicofo's `JingleOfferFactory` and
//! `CodecUtil` build it, with the bridge's transport added as
//! `ParticipantInviteRunnable` does (jingle.md section 2).
//!
//! The three steps are separate so that callers can use the middle ones on
//! their own:
//! 1. [`media_contents`]: contents with descriptions only (payload types,
//!    header extensions), also what the COLIBRI2 endpoint's media list is
//!    made from;
//! 2. [`add_transport`]: the bridge's transport copied into every content,
//!    `sctpmap` into `data`, `rtcp-mux` appended to every description
//!    ([`offer_contents`] does 1 and 2);
//! 3. [`session_initiate`] / [`transport_replace`]: the `<jingle/>` with
//!    the BUNDLE group and the Jitsi extensions.
//!
//! Sources for clients without JSON-encoded sources are added by the
//! caller to each [`Description::other`] between steps 2 and 3 (after
//! `rtcp-mux`, as Jicofo does).

use jid::Jid;

use super::content::{Content, Creator, Description, Media, PayloadType, RtpHdrExt, Senders};
use super::group::Group;
use super::jitsi::{BridgeSession, JsonMessage, StartMuted, TraceParent};
use super::transport::{SctpMap, Transport};
use super::{Action, Jingle};
use crate::config::{CodecConfig, Config, RtpExtension, VideoCodec};

/// Disco feature: the client takes audio.
pub const FEATURE_AUDIO: &str = "urn:xmpp:jingle:apps:rtp:audio";
/// Disco feature: the client takes video.
pub const FEATURE_VIDEO: &str = "urn:xmpp:jingle:apps:rtp:video";
/// Disco feature: the client takes an SCTP data channel.
pub const FEATURE_SCTP: &str = "urn:xmpp:jingle:transports:dtls-sctp:1";
/// Disco feature: the client does RTX (RFC 4588).
pub const FEATURE_RTX: &str = "urn:ietf:rfc:4588";
/// Disco feature: the client does REMB.
pub const FEATURE_REMB: &str = "http://jitsi.org/remb";
/// Disco feature: the client does transport-wide congestion control.
pub const FEATURE_TCC: &str = "http://jitsi.org/tcc";
/// Disco feature: the client does RED for Opus.
pub const FEATURE_OPUS_RED: &str = "http://jitsi.org/opus-red";

const CLOCK_AUDIO: u32 = 48000;
const CLOCK_VIDEO: u32 = 90000;
const URI_AUDIO_LEVEL: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
const URI_MID: &str = "urn:ietf:params:rtp-hdrext:sdes:mid";
const URI_TCC: &str = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
const URI_VLA: &str = "http://www.webrtc.org/experiments/rtp-hdrext/video-layers-allocation00";
const URI_AV1_DD: &str =
    "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension";
const URI_TOF: &str = "urn:ietf:params:rtp-hdrext:toffset";
const URI_ABS_SEND_TIME: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
const URI_FRAMEMARKING: &str = "http://tools.ietf.org/html/draft-ietf-avtext-framemarking-07";
const URI_VIDEO_CONTENT_TYPE: &str =
    "http://www.webrtc.org/experiments/rtp-hdrext/video-content-type";
const URI_RID: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
/// H.264's fmtp, written as one parameter (Jicofo's form, trailing `;`).
const H264_FMTP: &str = "42e01f;level-asymmetry-allowed=1;packetization-mode=1;";

/// What a participant's client supports, from its disco#info features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientFeatures {
    /// [`FEATURE_AUDIO`].
    pub audio: bool,
    /// [`FEATURE_VIDEO`].
    pub video: bool,
    /// [`FEATURE_SCTP`].
    pub sctp: bool,
    /// [`FEATURE_RTX`].
    pub rtx: bool,
    /// [`FEATURE_REMB`].
    pub remb: bool,
    /// [`FEATURE_TCC`].
    pub tcc: bool,
    /// [`FEATURE_OPUS_RED`].
    pub opus_red: bool,
}

impl ClientFeatures {
    /// The features among `features` (disco#info `var`s, exact match).
    pub fn from_disco<'a>(features: impl IntoIterator<Item = &'a str>) -> Self {
        let mut f = Self::default();
        for feature in features {
            match feature {
                FEATURE_AUDIO => f.audio = true,
                FEATURE_VIDEO => f.video = true,
                FEATURE_SCTP => f.sctp = true,
                FEATURE_RTX => f.rtx = true,
                FEATURE_REMB => f.remb = true,
                FEATURE_TCC => f.tcc = true,
                FEATURE_OPUS_RED => f.opus_red = true,
                _ => {}
            }
        }
        f
    }

    /// What Jicofo assumes when feature discovery fails: audio, video and
    /// SCTP only.
    pub fn discovery_failed() -> Self {
        Self {
            audio: true,
            video: true,
            sctp: true,
            ..Self::default()
        }
    }
}

/// Per-participant switches of the offer (Jicofo's `OfferOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferOptions {
    /// An `audio` content.
    pub audio: bool,
    /// A `video` content.
    pub video: bool,
    /// A `data` content (also needs `jicofo.sctp.enabled`).
    pub sctp: bool,
    /// Transport-wide CC (also needs `rtp-extensions.tcc.enabled`).
    pub tcc: bool,
    /// `goog-remb` feedback (also needs the codec's `enable-remb`).
    pub remb: bool,
    /// RTX payload types.
    pub rtx: bool,
    /// RED for Opus (also needs `audio.opus.red.enabled`).
    pub opus_red: bool,
}

impl Default for OfferOptions {
    /// Jicofo's defaults: everything on except REMB.
    fn default() -> Self {
        Self {
            audio: true,
            video: true,
            sctp: true,
            tcc: true,
            remb: false,
            rtx: true,
            opus_red: true,
        }
    }
}

impl OfferOptions {
    /// The options for a client (Jicofo's `applyConstraints` on the
    /// defaults, then REMB on only when TCC is off and the client has REMB).
    pub fn for_client(features: &ClientFeatures) -> Self {
        let d = Self::default();
        let tcc = d.tcc && features.tcc;
        Self {
            audio: d.audio && features.audio,
            video: d.video && features.video,
            sctp: d.sctp && features.sctp,
            tcc,
            remb: features.remb && (d.remb || !tcc),
            rtx: d.rtx && features.rtx,
            opus_red: d.opus_red && features.opus_red,
        }
    }
}

/// Why an offer could not be completed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    /// The offer has a `data` content but the bridge returned no SCTP port.
    #[error("the offer has a data content but the bridge gave no SCTP port")]
    NoSctpPort,
}

/// The Jitsi children of a session-initiate or transport-replace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OfferExtensions {
    /// Start-muted flags; written only when at least one is set.
    pub start_muted: StartMuted,
    /// The bridge session (always written).
    pub bridge_session: BridgeSession,
    /// JSON-encoded sources (see [`JsonMessage::sources`]), for clients
    /// that take them.
    pub json_message: Option<JsonMessage>,
    /// Trace context, with tracing on.
    pub trace_parent: Option<TraceParent>,
}

impl JsonMessage {
    /// `{"sources":SOURCES}`, where `sources` is the compact JSON of the
    /// source map (Jicofo's `toJsonMessageExtension`).
    pub fn sources(sources: &str) -> Self {
        Self {
            json: format!("{{\"sources\":{sources}}}"),
        }
    }
}

/// Jicofo's `CodecConfig.enabled()`: on and a positive payload type.
fn codec_on(enabled: bool, pt: u8) -> bool {
    enabled && pt > 0
}

/// The RTX payload type of a video codec, when the codec and RTX are on.
fn rtx_pt(codec: &VideoCodec) -> Option<u8> {
    if codec_on(codec.enabled, codec.pt) {
        codec.rtx().filter(|&pt| pt > 0)
    } else {
        None
    }
}

fn tcc_on(codec: &CodecConfig, options: &OfferOptions) -> bool {
    codec.rtp_extensions.tcc.enabled && options.tcc
}

/// The video payload types, in Jicofo's order: AV1, VP8, H264, VP9, then
/// the RTX ones for AV1, VP8, VP9, H264 when `options.rtx`.
pub fn video_payload_types(codec: &CodecConfig, options: &OfferOptions) -> Vec<PayloadType> {
    let video = &codec.video;
    let tcc = tcc_on(codec, options);
    let with_feedback = |c: &VideoCodec, name: &str| {
        let mut pt = PayloadType::new(c.pt, name, CLOCK_VIDEO)
            .with_rtcp_fb("ccm", Some("fir"))
            .with_rtcp_fb("nack", None)
            .with_rtcp_fb("nack", Some("pli"));
        if c.enable_remb && options.remb {
            pt = pt.with_rtcp_fb("goog-remb", None);
        }
        if tcc {
            pt = pt.with_rtcp_fb("transport-cc", None);
        }
        pt
    };
    let mut out = Vec::new();
    for (c, name) in [
        (&video.av1, "AV1"),
        (&video.vp8, "VP8"),
        (&video.h264, "H264"),
        (&video.vp9, "VP9"),
    ] {
        if codec_on(c.enabled, c.pt) {
            let mut pt = with_feedback(c, name);
            if name == "H264" {
                pt = pt.with_parameter(Some("profile-level-id"), H264_FMTP);
            }
            out.push(pt);
        }
    }
    if options.rtx {
        for (c, feedback) in [
            (&video.av1, true),
            (&video.vp8, true),
            (&video.vp9, true),
            (&video.h264, false),
        ] {
            if let Some(rtx) = rtx_pt(c) {
                let mut pt = PayloadType::new(rtx, "rtx", CLOCK_VIDEO)
                    .with_parameter(Some("apt"), &c.pt.to_string());
                if feedback {
                    pt = pt
                        .with_rtcp_fb("ccm", Some("fir"))
                        .with_rtcp_fb("nack", None)
                        .with_rtcp_fb("nack", Some("pli"));
                }
                out.push(pt);
            }
        }
    }
    out
}

/// The audio payload types, in Jicofo's order: RED (if on in config and
/// `options.opus_red`), Opus, telephone-event.
pub fn audio_payload_types(codec: &CodecConfig, options: &OfferOptions) -> Vec<PayloadType> {
    let opus = &codec.audio.opus;
    let red_on = codec_on(opus.red.enabled, opus.red.pt);
    let mut out = Vec::new();
    if codec_on(opus.enabled, opus.pt) {
        if red_on && options.opus_red {
            let mut red = PayloadType::new(opus.red.pt, "red", CLOCK_AUDIO)
                .with_parameter(None, &format!("{0}/{0}", opus.pt));
            red.channels = Some(2);
            out.push(red);
        }
        let mut pt = PayloadType::new(opus.pt, "opus", CLOCK_AUDIO)
            .with_parameter(Some("minptime"), &opus.minptime.to_string());
        pt.channels = Some(2);
        // No in-band FEC when RED is on in the config (whatever the client).
        if opus.use_inband_fec && !red_on {
            pt = pt.with_parameter(Some("useinbandfec"), "1");
        }
        if tcc_on(codec, options) {
            pt = pt.with_rtcp_fb("transport-cc", None);
        }
        out.push(pt);
    }
    let dtmf = &codec.audio.telephone_event;
    if codec_on(dtmf.enabled, dtmf.pt) {
        out.push(PayloadType::new(dtmf.pt, "telephone-event", 8000));
    }
    out
}

fn hdrexts<'a>(
    list: impl IntoIterator<Item = (&'a RtpExtension, &'a str, bool)>,
) -> Vec<RtpHdrExt> {
    list.into_iter()
        .filter(|(ext, _, extra)| ext.enabled && *extra)
        .map(|(ext, uri, _)| RtpHdrExt::new(ext.id, uri))
        .collect()
}

/// The audio header extensions: audio-level, mid, TCC.
pub fn audio_hdrexts(codec: &CodecConfig, options: &OfferOptions) -> Vec<RtpHdrExt> {
    let e = &codec.rtp_extensions;
    hdrexts([
        (&e.audio_level, URI_AUDIO_LEVEL, true),
        (&e.mid, URI_MID, true),
        (&e.tcc, URI_TCC, options.tcc),
    ])
}

/// The video header extensions: video-layers-allocation, AV1 dependency
/// descriptor, toffset, mid, abs-send-time, framemarking,
/// video-content-type, rid, TCC.
pub fn video_hdrexts(codec: &CodecConfig, options: &OfferOptions) -> Vec<RtpHdrExt> {
    let e = &codec.rtp_extensions;
    hdrexts([
        (&e.video_layers_allocation, URI_VLA, true),
        (&e.av1_dependency_descriptor, URI_AV1_DD, true),
        (&e.tof, URI_TOF, true),
        (&e.mid, URI_MID, true),
        (&e.abs_send_time, URI_ABS_SEND_TIME, true),
        (&e.framemarking, URI_FRAMEMARKING, true),
        (&e.video_content_type, URI_VIDEO_CONTENT_TYPE, true),
        (&e.rid, URI_RID, true),
        (&e.tcc, URI_TCC, options.tcc),
    ])
}

fn offer_content(name: &str, description: Description) -> Content {
    let mut content = Content::new(name, Creator::Initiator);
    content.senders = Some(Senders::Both);
    content.description = Some(description);
    content
}

/// The contents of an offer without transport (Jicofo's
/// `JingleOfferFactory.createOffer`): `audio` (with `maxptime='60'`) if
/// `options.audio`, `video` if `options.video`, `data` (media
/// `application`, empty) if `jicofo.sctp.enabled` and `options.sctp`. Every
/// content has `creator='initiator'` and `senders='both'`.
pub fn media_contents(config: &Config, options: &OfferOptions) -> Vec<Content> {
    let codec = &config.codec;
    let mixed = codec.rtp_extensions.extmap_allow_mixed;
    let mut contents = Vec::new();
    if options.audio {
        let mut d = Description::new(Media::Audio);
        d.maxptime = Some(60);
        d.payload_types = audio_payload_types(codec, options);
        d.hdrexts = audio_hdrexts(codec, options);
        d.extmap_allow_mixed = mixed;
        contents.push(offer_content("audio", d));
    }
    if options.video {
        let mut d = Description::new(Media::Video);
        d.payload_types = video_payload_types(codec, options);
        d.hdrexts = video_hdrexts(codec, options);
        d.extmap_allow_mixed = mixed;
        contents.push(offer_content("video", d));
    }
    if config.sctp.enabled && options.sctp {
        contents.push(offer_content("data", Description::new(Media::Application)));
    }
    contents
}

/// Puts the bridge's transport into every content (its
/// [offer copy](Transport::offer_copy), replacing any transport there),
/// adds `<sctpmap number=sctp_port protocol='webrtc-datachannel'
/// streams='1024'/>` to the transport of the content named `data` (any
/// case), and sets `rtcp-mux` on every description. Fails if there is a
/// `data` content and no `sctp_port`.
pub fn add_transport(
    contents: &mut [Content],
    transport: &Transport,
    sctp_port: Option<u16>,
) -> Result<(), OfferError> {
    let copy = transport.offer_copy();
    for content in contents.iter_mut() {
        let mut t = copy.clone();
        if content.name.eq_ignore_ascii_case("data") {
            t.sctpmap = Some(SctpMap::webrtc(sctp_port.ok_or(OfferError::NoSctpPort)?));
        }
        content.transport = Some(t);
        if let Some(d) = &mut content.description {
            d.rtcp_mux = true;
        }
    }
    Ok(())
}

/// [`media_contents`] with [`add_transport`] applied.
pub fn offer_contents(
    config: &Config,
    options: &OfferOptions,
    transport: &Transport,
    sctp_port: Option<u16>,
) -> Result<Vec<Content>, OfferError> {
    let mut contents = media_contents(config, options);
    add_transport(&mut contents, transport, sctp_port)?;
    Ok(contents)
}

fn offer_jingle(
    action: Action,
    sid: &str,
    initiator: Jid,
    contents: Vec<Content>,
    ext: &OfferExtensions,
) -> Jingle {
    let mut jingle = Jingle::new(action, sid);
    jingle.initiator = Some(initiator);
    jingle
        .groups
        .push(Group::bundle(contents.iter().map(|c| c.name.as_str())));
    jingle.contents = contents;
    if ext.start_muted.audio || ext.start_muted.video {
        jingle.start_muted = Some(ext.start_muted);
    }
    jingle.bridge_session = Some(ext.bridge_session.clone());
    jingle.json_message = ext.json_message.clone();
    jingle.trace_parent = ext.trace_parent.clone();
    jingle
}

/// The `session-initiate`: `initiator` (the focus's full JID), `sid`, the
/// contents, a BUNDLE group of their names, then startmuted (if any flag
/// is set), bridge-session, json-message and traceparent.
pub fn session_initiate(
    sid: &str,
    initiator: Jid,
    contents: Vec<Content>,
    ext: &OfferExtensions,
) -> Jingle {
    offer_jingle(Action::SessionInitiate, sid, initiator, contents, ext)
}

/// The `transport-replace` on an existing session: the same as
/// [`session_initiate`] with another action.
pub fn transport_replace(
    sid: &str,
    initiator: Jid,
    contents: Vec<Content>,
    ext: &OfferExtensions,
) -> Jingle {
    offer_jingle(Action::TransportReplace, sid, initiator, contents, ext)
}
