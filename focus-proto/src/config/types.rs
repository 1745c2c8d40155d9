//! The typed sections of `jicofo { … }`. Every default lives in
//! `reference.conf`; fields without one there are `Option`s.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::de;

/// Everything under `jicofo { … }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Config {
    /// `jicofo.xmpp`.
    pub xmpp: XmppConfig,
    /// `jicofo.rest`.
    pub rest: RestConfig,
    /// `jicofo.bridge`.
    pub bridge: BridgeConfig,
    /// `jicofo.conference`.
    pub conference: ConferenceConfig,
    /// `jicofo.codec`.
    pub codec: CodecConfig,
    /// `jicofo.health`.
    pub health: HealthConfig,
    /// `jicofo.authentication`.
    pub authentication: AuthConfig,
    /// `jicofo.jibri`.
    pub jibri: JibriConfig,
    /// `jicofo.jibri-sip`.
    pub jibri_sip: JibriSipConfig,
    /// `jicofo.jigasi`.
    pub jigasi: JigasiConfig,
    /// `jicofo.octo`.
    pub octo: OctoConfig,
    /// `jicofo.sctp`.
    pub sctp: Toggle,
    /// `jicofo.visitors`.
    pub visitors: VisitorsConfig,
    /// `jicofo.local-region`: the region this focus runs in.
    pub local_region: Option<String>,
    /// `jicofo.metrics`.
    pub metrics: MetricsConfig,
    /// `jicofo.transcription`.
    pub transcription: TranscriptionConfig,
    /// `jicofo.translation`.
    pub translation: TranslationConfig,
}

/// A section holding only `enabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Toggle {
    /// Whether the feature is on.
    pub enabled: bool,
}

// ---------------------------------------------------------------------------
// XMPP

/// `jicofo.xmpp`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct XmppConfig {
    /// The connection for clients and conferences.
    pub client: XmppConnectionConfig,
    /// The connection for bridges, when `enabled`.
    pub service: XmppConnectionConfig,
    /// Domains whose users may act as Jibri or Jigasi.
    pub trusted_domains: Vec<String>,
    /// Jitsi's JID validation instead of plain stringprep.
    pub use_jitsi_jid_validation: bool,
    /// Visitor-node connections by name (`jicofo.xmpp.visitors.<name>`).
    #[serde(deserialize_with = "visitor_nodes")]
    pub visitors: BTreeMap<String, XmppConnectionConfig>,
}

impl XmppConfig {
    /// The conference MUC service of the client connection:
    /// `conference-muc-jid`, or `conference.<xmpp-domain>`.
    pub fn client_conference_muc_jid(&self) -> Option<String> {
        self.client.conference_muc_jid()
    }

    /// Whether the service connection is served by the client connection:
    /// it is disabled, or it logs in to the same account.
    pub fn service_is_client(&self) -> bool {
        !self.service.enabled || self.client.same_account(&self.service)
    }

    /// The connection a brewery named `name` lives on: the service
    /// connection only when it is enabled, as in Jicofo.
    pub fn connection(&self, name: ConnectionName) -> &XmppConnectionConfig {
        match name {
            ConnectionName::Service if self.service.enabled => &self.service,
            _ => &self.client,
        }
    }
}

/// One XMPP connection (`jicofo.xmpp.client`, `.service`, `.visitors.<name>`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct XmppConnectionConfig {
    /// Whether to open it.
    pub enabled: bool,
    /// The server's host name or address.
    pub hostname: String,
    /// The server's port.
    pub port: u16,
    /// The login domain (e.g. `auth.meet.jitsi`).
    pub domain: Option<String>,
    /// The main XMPP domain (e.g. `meet.jitsi`): pings, component discovery.
    pub xmpp_domain: Option<String>,
    /// The account's local part, also the MUC nickname.
    pub username: String,
    /// The resource (Jicofo's default: the username).
    pub resource: String,
    /// The password.
    pub password: Option<String>,
    /// How long to wait for IQ answers.
    #[serde(deserialize_with = "de::duration")]
    pub reply_timeout: Duration,
    /// The conference MUC service; unset: `conference.<xmpp-domain>`.
    pub conference_muc_jid: Option<String>,
    /// Accept any server certificate.
    pub disable_certificate_verification: bool,
    /// The `mod_client_proxy` component whose resource carries the real sender.
    pub client_proxy: Option<String>,
    /// Use STARTTLS.
    pub use_tls: bool,
    /// A visitor node's MUC service (visitor connections only).
    pub conference_service: Option<String>,
}

impl XmppConnectionConfig {
    /// The resource to bind.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The conference MUC service: `conference-muc-jid`, or
    /// `conference.<xmpp-domain>`.
    pub fn conference_muc_jid(&self) -> Option<String> {
        self.conference_muc_jid
            .clone()
            .or_else(|| self.xmpp_domain.as_ref().map(|d| format!("conference.{d}")))
    }

    /// Whether `other` logs in to the same account on the same server.
    pub fn same_account(&self, other: &Self) -> bool {
        self.hostname == other.hostname
            && self.port == other.port
            && self.domain == other.domain
            && self.username == other.username
            && self.resource == other.resource
    }
}

/// A visitor node as written: Jicofo's defaults apply per entry.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct VisitorNode {
    #[serde(default = "yes")]
    enabled: bool,
    conference_service: String,
    hostname: String,
    #[serde(default = "xmpp_port")]
    port: u16,
    domain: Option<String>,
    xmpp_domain: Option<String>,
    #[serde(default = "focus")]
    username: String,
    resource: Option<String>,
    password: Option<String>,
    #[serde(default = "fifteen_seconds", deserialize_with = "de::duration")]
    reply_timeout: Duration,
    #[serde(default)]
    disable_certificate_verification: bool,
    #[serde(default = "yes")]
    use_tls: bool,
}

fn yes() -> bool {
    true
}

fn xmpp_port() -> u16 {
    5222
}

fn focus() -> String {
    "focus".into()
}

fn fifteen_seconds() -> Duration {
    Duration::from_secs(15)
}

impl From<VisitorNode> for XmppConnectionConfig {
    fn from(v: VisitorNode) -> Self {
        Self {
            enabled: v.enabled,
            domain: Some(v.domain.unwrap_or_else(|| v.hostname.clone())),
            hostname: v.hostname,
            port: v.port,
            xmpp_domain: v.xmpp_domain,
            resource: v.resource.unwrap_or_else(|| v.username.clone()),
            username: v.username,
            password: v.password,
            reply_timeout: v.reply_timeout,
            conference_muc_jid: None,
            disable_certificate_verification: v.disable_certificate_verification,
            client_proxy: None,
            use_tls: v.use_tls,
            conference_service: Some(v.conference_service),
        }
    }
}

fn visitor_nodes<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, XmppConnectionConfig>, D::Error> {
    let nodes = BTreeMap::<String, VisitorNode>::deserialize(d)?;
    Ok(nodes
        .into_iter()
        .map(|(name, node)| (name, node.into()))
        .collect())
}

// ---------------------------------------------------------------------------
// REST

/// `jicofo.rest`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RestConfig {
    /// Whether the HTTP API runs.
    pub enabled: bool,
    /// Its port (0 or less turns it off).
    pub port: i32,
    /// Its bind address.
    pub host: String,
    /// `/metrics`.
    pub prometheus: Toggle,
    /// `/conference-request/v1`.
    pub conference_request: Toggle,
    /// `/move-endpoints/*`.
    pub move_endpoints: Toggle,
    /// `/debug*`.
    pub debug: Toggle,
    /// `/pin*`.
    pub pin: Toggle,
}

impl RestConfig {
    /// The port to listen on, if the API is on.
    pub fn listen_port(&self) -> Option<u16> {
        if !self.enabled {
            return None;
        }
        u16::try_from(self.port).ok().filter(|p| *p > 0)
    }
}

// ---------------------------------------------------------------------------
// Bridges

/// Bridge selection strategies Jicofo ships (custom Java classes cannot be
/// supported). The fully qualified class names are accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SelectionStrategy {
    /// All participants of a conference on one bridge.
    #[serde(alias = "org.jitsi.jicofo.bridge.SingleBridgeSelectionStrategy")]
    SingleBridgeSelectionStrategy,
    /// Each participant on a different bridge (testing).
    #[serde(alias = "org.jitsi.jicofo.bridge.SplitBridgeSelectionStrategy")]
    SplitBridgeSelectionStrategy,
    /// Prefer bridges in the participant's region.
    #[serde(alias = "org.jitsi.jicofo.bridge.RegionBasedBridgeSelectionStrategy")]
    RegionBasedBridgeSelectionStrategy,
    /// More bridges only when one is overloaded.
    #[serde(alias = "org.jitsi.jicofo.bridge.IntraRegionBridgeSelectionStrategy")]
    IntraRegionBridgeSelectionStrategy,
    /// Separate strategies for visitors and participants.
    #[serde(alias = "org.jitsi.jicofo.bridge.VisitorSelectionStrategy")]
    VisitorSelectionStrategy,
}

/// Relay topology strategies Jicofo ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TopologyStrategy {
    /// All bridges of a conference in one mesh.
    #[serde(alias = "org.jitsi.jicofo.bridge.SingleMeshTopologyStrategy")]
    SingleMeshTopologyStrategy,
    /// Participant bridges in a mesh, visitor bridges in trees below it.
    #[serde(alias = "org.jitsi.jicofo.bridge.VisitorTopologyStrategy")]
    VisitorTopologyStrategy,
}

/// Which XMPP connection a brewery lives on (case-sensitive, as in Jicofo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ConnectionName {
    /// `jicofo.xmpp.client`.
    Client,
    /// `jicofo.xmpp.service` (the client connection when it is disabled).
    Service,
}

/// `jicofo.bridge`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BridgeConfig {
    /// Participants of one conference on one bridge (−1: no limit).
    pub max_bridge_participants: i32,
    /// Participants one conference may add to a bridge per interval (−1: off).
    pub max_bridge_participants_per_interval: i32,
    /// The interval of the previous key.
    #[serde(deserialize_with = "de::duration")]
    pub max_bridge_participants_interval: Duration,
    /// Stress assumed per new participant.
    pub average_participant_stress: f64,
    /// Window in which new endpoints inflate stress.
    #[serde(deserialize_with = "de::duration")]
    pub participant_rampup_interval: Duration,
    /// Stress at which a bridge is overloaded.
    pub stress_threshold: f64,
    /// Minimum time a failed bridge stays out.
    #[serde(deserialize_with = "de::duration")]
    pub failure_reset_threshold: Duration,
    /// The selection strategy.
    pub selection_strategy: SelectionStrategy,
    /// Strategy for visitors under `VisitorSelectionStrategy`.
    pub visitor_selection_strategy: Option<SelectionStrategy>,
    /// Strategy for participants under `VisitorSelectionStrategy`.
    pub participant_selection_strategy: Option<SelectionStrategy>,
    /// The relay topology strategy.
    pub topology_strategy: TopologyStrategy,
    /// Groups of regions considered close to each other.
    pub region_groups: Vec<Vec<String>>,
    /// Bridge health checks.
    pub health_checks: BridgeHealthChecks,
    /// The bridge brewery MUC.
    pub brewery_jid: Option<String>,
    /// Which connection the brewery is on.
    pub xmpp_connection_name: ConnectionName,
    /// ICE failure detection.
    pub ice_failure_detection: IceFailureDetection,
    /// Load redistribution.
    pub load_redistribution: LoadRedistribution,
}

/// `jicofo.bridge.health-checks`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct BridgeHealthChecks {
    /// Send health-check requests to bridges.
    pub enabled: bool,
    /// Their period.
    #[serde(deserialize_with = "de::duration")]
    pub interval: Duration,
    /// Delay before retrying a timed-out check, when set.
    #[serde(default, deserialize_with = "de::opt_duration")]
    pub retry_delay: Option<Duration>,
    /// Infer health from brewery presence instead.
    pub use_presence: bool,
    /// Presence age that counts as a failure.
    #[serde(deserialize_with = "de::duration")]
    pub presence_timeout: Duration,
}

impl BridgeHealthChecks {
    /// The retry delay: as set, or half the interval (Jicofo's default).
    pub fn retry_delay(&self) -> Duration {
        self.retry_delay.unwrap_or(self.interval / 2)
    }
}

/// `jicofo.bridge.ice-failure-detection`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct IceFailureDetection {
    /// Whether bridges are judged by participants' ICE restart requests.
    pub enabled: bool,
    /// The counting window.
    #[serde(deserialize_with = "de::duration")]
    pub interval: Duration,
    /// Endpoints a bridge needs before the check applies.
    pub min_endpoints: u32,
    /// Restart fraction above which the bridge is failing ICE.
    pub threshold: f64,
    /// Minimum time in the failing state.
    #[serde(deserialize_with = "de::duration")]
    pub timeout: Duration,
}

/// `jicofo.bridge.load-redistribution`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct LoadRedistribution {
    /// Whether endpoints are moved off overloaded bridges.
    pub enabled: bool,
    /// Run period.
    #[serde(deserialize_with = "de::duration")]
    pub interval: Duration,
    /// Stress above which endpoints are moved.
    pub stress_threshold: f64,
    /// Pause per bridge between moves.
    #[serde(deserialize_with = "de::duration")]
    pub timeout: Duration,
    /// Endpoints moved at a time.
    pub endpoints: u32,
}

// ---------------------------------------------------------------------------
// Conferences

/// How a participant is re-invited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ReinviteMethod {
    /// Terminate and re-create the Jingle session.
    RestartJingle,
    /// Keep the live Jingle session and send the new bridge's transport in
    /// a `transport-replace` (lib-jitsi-meet acks it without applying it).
    ReplaceTransport,
}

/// `jicofo.conference`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ConferenceConfig {
    /// The first participant (then the next) becomes moderator.
    pub enable_auto_owner: bool,
    /// Require a moderator for recording and dial-out.
    pub enable_moderator_checks: bool,
    /// End a conference nobody joined within this time.
    #[serde(deserialize_with = "de::duration")]
    pub initial_timeout: Duration,
    /// Sources one endpoint may signal.
    pub max_ssrcs_per_user: u32,
    /// Source groups one endpoint may signal.
    pub max_ssrc_groups_per_user: u32,
    /// Keep a lone participant's session this long.
    #[serde(deserialize_with = "de::duration")]
    pub single_participant_timeout: Duration,
    /// Participants needed before sessions start.
    pub min_participants: u32,
    /// Concurrent audio senders.
    pub max_audio_senders: u32,
    /// Concurrent video senders.
    pub max_video_senders: u32,
    /// Signal only the first simulcast SSRC to receivers.
    pub strip_simulcast: bool,
    /// SSRC rewriting for capable clients.
    pub use_ssrc_rewriting: bool,
    /// Mid-based demultiplexing with rewriting.
    pub use_rtp_mid_demux: bool,
    /// JSON-encoded sources for capable clients.
    pub use_json_encoded_sources: bool,
    /// Conference size → source signaling delay in milliseconds.
    pub source_signaling_delays: BTreeMap<u32, u64>,
    /// The re-invite method.
    pub reinvite_method: ReinviteMethod,
    /// Honour in-place ICE restart requests.
    pub enable_ice_restart: bool,
    /// Rate limits of restart requests.
    pub restart_request_rate_limits: RestartRateLimits,
    /// The shared document.
    pub shared_document: SharedDocument,
}

impl ConferenceConfig {
    /// The source signaling delay for a conference of `size` participants:
    /// the entry with the largest size not above it, or none.
    pub fn source_signaling_delay(&self, size: usize) -> Duration {
        let size = u32::try_from(size).unwrap_or(u32::MAX);
        self.source_signaling_delays
            .range(..=size)
            .next_back()
            .map_or(Duration::ZERO, |(_, ms)| Duration::from_millis(*ms))
    }
}

/// `jicofo.conference.restart-request-rate-limits`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RestartRateLimits {
    /// Minimum spacing of one participant's requests.
    #[serde(deserialize_with = "de::duration")]
    pub min_interval: Duration,
    /// Requests allowed per interval.
    pub max_requests: u32,
    /// The window.
    #[serde(deserialize_with = "de::duration")]
    pub interval: Duration,
}

/// `jicofo.conference.shared-document`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SharedDocument {
    /// A random Etherpad name instead of the room name.
    pub use_random_name: bool,
}

// ---------------------------------------------------------------------------
// Codecs

/// `jicofo.codec`: what the offer to participants contains.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CodecConfig {
    /// Video codecs.
    pub video: VideoCodecs,
    /// Audio codecs.
    pub audio: AudioCodecs,
    /// RTP header extensions.
    pub rtp_extensions: RtpExtensions,
}

/// `jicofo.codec.video`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VideoCodecs {
    /// AV1.
    pub av1: VideoCodec,
    /// VP8.
    pub vp8: VideoCodec,
    /// VP9.
    pub vp9: VideoCodec,
    /// H.264 (profile-level-id 42e01f, packetization-mode 1).
    pub h264: VideoCodec,
}

/// One video codec.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VideoCodec {
    /// Offered at all.
    pub enabled: bool,
    /// Payload type.
    pub pt: u8,
    /// RTX payload type (−1: no RTX).
    pub rtx_pt: i16,
    /// REMB feedback.
    pub enable_remb: bool,
}

impl VideoCodec {
    /// The RTX payload type, if RTX is on.
    pub fn rtx(&self) -> Option<u8> {
        u8::try_from(self.rtx_pt).ok()
    }
}

/// `jicofo.codec.audio`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AudioCodecs {
    /// Opus 48000/2.
    pub opus: OpusConfig,
    /// `telephone-event` (DTMF).
    pub telephone_event: PayloadToggle,
}

/// `jicofo.codec.audio.opus`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct OpusConfig {
    /// Offered at all.
    pub enabled: bool,
    /// Payload type.
    pub pt: u8,
    /// fmtp `minptime`.
    pub minptime: u32,
    /// fmtp `useinbandfec=1` (skipped when RED is on).
    pub use_inband_fec: bool,
    /// RED for Opus (offered to clients that support it).
    pub red: PayloadToggle,
}

/// A payload type that can be switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PayloadToggle {
    /// Offered at all.
    pub enabled: bool,
    /// Payload type.
    pub pt: u8,
}

/// `jicofo.codec.rtp-extensions`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RtpExtensions {
    /// `urn:ietf:params:rtp-hdrext:ssrc-audio-level`.
    pub audio_level: RtpExtension,
    /// `urn:ietf:params:rtp-hdrext:toffset`.
    pub tof: RtpExtension,
    /// `http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time`.
    pub abs_send_time: RtpExtension,
    /// `urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id`.
    pub rid: RtpExtension,
    /// Transport-wide congestion control.
    pub tcc: RtpExtension,
    /// `http://www.webrtc.org/experiments/rtp-hdrext/video-content-type`.
    pub video_content_type: RtpExtension,
    /// Frame marking.
    pub framemarking: RtpExtension,
    /// `urn:ietf:params:rtp-hdrext:sdes:mid`.
    pub mid: RtpExtension,
    /// The AV1 dependency descriptor.
    pub av1_dependency_descriptor: RtpExtension,
    /// `http://www.webrtc.org/experiments/rtp-hdrext/video-layers-allocation00`.
    pub video_layers_allocation: RtpExtension,
    /// Offer `extmap-allow-mixed`.
    pub extmap_allow_mixed: bool,
}

/// One RTP header extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RtpExtension {
    /// Offered at all.
    pub enabled: bool,
    /// Its id.
    pub id: u8,
}

// ---------------------------------------------------------------------------
// Other sections

/// `jicofo.health`: the focus's self-check.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct HealthConfig {
    /// Jicofo runs self checks only when set (the focus serves
    /// `/about/health` regardless).
    pub enabled: bool,
    /// Period of the self-check (zero: none).
    #[serde(deserialize_with = "de::duration")]
    pub interval: Duration,
    /// Results older than this count as a failure.
    #[serde(deserialize_with = "de::duration")]
    pub timeout: Duration,
    /// Slower checks count as failed.
    #[serde(deserialize_with = "de::duration")]
    pub max_check_duration: Duration,
    /// Prefix of the test rooms.
    pub room_name_prefix: String,
}

/// Authentication modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum AuthType {
    /// No authentication.
    #[serde(rename = "NONE")]
    None,
    /// Users log in to an XMPP domain.
    #[serde(rename = "XMPP")]
    Xmpp,
    /// Tokens checked by Prosody.
    #[serde(rename = "JWT")]
    Jwt,
}

/// `jicofo.authentication`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AuthConfig {
    /// False means the same as `type = NONE`.
    pub enabled: bool,
    /// The mode as written.
    #[serde(rename = "type")]
    pub kind: AuthType,
    /// The domain authenticated users come from.
    pub login_url: Option<String>,
    /// How long an authenticated session lasts.
    #[serde(deserialize_with = "de::duration")]
    pub authentication_lifetime: Duration,
    /// Reuse authenticated sessions.
    pub enable_auto_login: bool,
}

impl AuthConfig {
    /// The mode in effect: `NONE` unless `enabled`.
    pub fn effective_type(&self) -> AuthType {
        if self.enabled {
            self.kind
        } else {
            AuthType::None
        }
    }
}

/// `jicofo.jibri`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct JibriConfig {
    /// The Jibri brewery MUC.
    pub brewery_jid: Option<String>,
    /// Retries on other instances (−1: unlimited).
    pub num_retries: i32,
    /// Wait for Jibri to start after it accepted.
    #[serde(deserialize_with = "de::duration")]
    pub pending_timeout: Duration,
    /// The connection of the brewery.
    pub xmpp_connection_name: ConnectionName,
    /// COLIBRI2 `private-address-connectivity` for Jibri.
    pub use_private_address_connectivity: bool,
}

/// `jicofo.jibri-sip`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct JibriSipConfig {
    /// The SIP Jibri brewery MUC (on the client connection).
    pub brewery_jid: Option<String>,
}

/// `jicofo.jigasi`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct JigasiConfig {
    /// The Jigasi brewery MUC.
    pub brewery_jid: Option<String>,
    /// The connection of the brewery and dial requests.
    pub xmpp_connection_name: ConnectionName,
    /// COLIBRI2 `private-address-connectivity` for Jigasi.
    pub use_private_address_connectivity: bool,
}

/// `jicofo.octo`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct OctoConfig {
    /// Several bridges per conference.
    pub enabled: bool,
    /// Bridges of different versions in one conference (testing).
    pub allow_mixed_versions: bool,
    /// SCTP between bridges instead of relay websockets (default:
    /// `jicofo.sctp.enabled`).
    pub sctp_datachannels: bool,
}

/// `jicofo.visitors`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VisitorsConfig {
    /// Whether visitors are invited.
    pub enabled: bool,
    /// Main-room size after which requests go to visitor nodes.
    pub max_participants: u32,
    /// Soft cap of visitors per node.
    pub max_visitors_per_node: u32,
    /// Minimum interval of visitor count updates.
    #[serde(deserialize_with = "de::duration")]
    pub notification_interval: Duration,
    /// Connect visitor MUCs as soon as visitors join.
    pub auto_enable_broadcast: bool,
    /// Require `visitorsEnabled` in the room configuration.
    pub require_muc_config_flag: bool,
    /// Honour the `visitorsLive` room flag.
    pub enable_live_room: bool,
    /// Count a redirected visitor towards its node for this long.
    #[serde(deserialize_with = "de::duration")]
    pub vnode_join_latency_interval: Duration,
}

/// `jicofo.metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct MetricsConfig {
    /// Period of recomputed metrics.
    #[serde(deserialize_with = "de::duration")]
    pub update_interval: Duration,
}

/// Websocket keepalive (`….ping`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PingConfig {
    /// Whether pings are sent.
    pub enabled: bool,
    /// Their period.
    #[serde(deserialize_with = "de::duration")]
    pub interval: Duration,
    /// How long to wait for the answer.
    #[serde(deserialize_with = "de::duration")]
    pub timeout: Duration,
}

/// `jicofo.transcription`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TranscriptionConfig {
    /// The transcriber websocket; `{{MEETING_ID}}` and `{{REGION}}` are filled in.
    pub url_template: Option<String>,
    /// Headers for the transcriber websocket.
    pub http_headers: BTreeMap<String, String>,
    /// Keepalive.
    pub ping: PingConfig,
}

/// How translation connects are placed on bridges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum TranslationMode {
    /// Each sender translated on its own bridge (`per-source`).
    PerSource,
    /// One connect on one bridge for everything (`single-bridge`).
    SingleBridge,
}

impl TryFrom<String> for TranslationMode {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        // Jicofo upper-cases the name and turns `-` into `_`.
        match s.trim().to_ascii_uppercase().replace('-', "_").as_str() {
            "PER_SOURCE" => Ok(Self::PerSource),
            "SINGLE_BRIDGE" => Ok(Self::SingleBridge),
            _ => Err(format!(
                "unknown translation mode \"{s}\", expected per-source or single-bridge"
            )),
        }
    }
}

/// `jicofo.translation`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TranslationConfig {
    /// The translation websocket (unset: no live translation).
    pub url_template: Option<String>,
    /// Headers for the translation websocket.
    pub http_headers: BTreeMap<String, String>,
    /// How connects are placed.
    pub mode: TranslationMode,
    /// Languages per connect in per-source mode.
    pub max_languages_per_connect: u32,
    /// Keepalive.
    pub ping: PingConfig,
}

impl TranslationConfig {
    /// Whether live translation is configured.
    pub fn enabled(&self) -> bool {
        self.url_template.is_some()
    }
}
