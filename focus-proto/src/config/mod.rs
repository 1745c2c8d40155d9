//! `jicofo.conf`: the HOCON file operators already have, read into typed
//! settings with Jicofo's `reference.conf` defaults.
//!
//! The file is parsed with the `hocon` crate (includes relative to the file,
//! a missing include skipped, `${?ENV}` substitutions, dotted keys,
//! durations), turned into a JSON-shaped tree and deserialized leniently as
//! Typesafe config does: quoted numbers, booleans and durations convert on
//! read. Keys the focus does not know are reported as warnings, never as
//! errors; a bad value is an error naming the key and the file.
//!
//! Jicofo's reference.conf defines four defaults by substitution
//! (`resource = ${…username}` and the like). They are `Option`s here and
//! resolved by accessor methods, so an operator's override of the referenced
//! key propagates as it does in Jicofo.

mod de;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use de::parse_duration;

/// The path Jicofo's packages install the file at.
pub const DEFAULT_PATH: &str = "/etc/jitsi/jicofo/jicofo.conf";

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not parse as HOCON (or cannot be read).
    #[error("{file}: cannot read the configuration: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// A key has a value of the wrong kind.
    #[error("{file}: bad value for {key}: {message}")]
    BadValue {
        /// The file.
        file: String,
        /// The full key, e.g. `jicofo.xmpp.client.port`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A key the focus needs is not set.
    #[error("{file}: {key} must be set ({why})")]
    Missing {
        /// The file.
        file: String,
        /// The full key.
        key: String,
        /// What it is needed for.
        why: &'static str,
    },
}

/// A configuration and what was noticed while reading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The settings.
    pub config: Config,
    /// Keys set in the file that the focus does not read (full paths).
    pub unknown_keys: Vec<String>,
}

/// Everything under `jicofo { … }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
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
    pub jibri_sip: BreweryOnly,
    /// `jicofo.jigasi`.
    pub jigasi: JigasiConfig,
    /// `jicofo.octo`.
    pub octo: OctoConfig,
    /// `jicofo.sctp`.
    pub sctp: Enabled<true>,
    /// `jicofo.visitors`.
    pub visitors: VisitorsConfig,
    /// `jicofo.local-region`.
    pub local_region: Option<String>,
    /// `jicofo.metrics`.
    pub metrics: MetricsConfig,
}

/// A section that holds only `enabled`, with default `D`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Enabled<const D: bool> {
    /// Whether the feature is on.
    #[serde(default = "default_bool::<D>")]
    pub enabled: bool,
}

impl<const D: bool> Default for Enabled<D> {
    fn default() -> Self {
        Self { enabled: D }
    }
}

fn default_bool<const D: bool>() -> bool {
    D
}

/// `jicofo.xmpp`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct XmppConfig {
    /// The connection for clients and conferences.
    pub client: XmppConnectionConfig,
    /// The connection for bridges, when `enabled`.
    pub service: XmppConnectionConfig,
    /// Domains whose users may act as Jibri or Jigasi.
    pub trusted_domains: Vec<String>,
    /// Jitsi's JID validation.
    pub use_jitsi_jid_validation: bool,
    /// Visitor-node connections by name.
    pub visitors: BTreeMap<String, XmppConnectionConfig>,
}

impl Default for XmppConfig {
    fn default() -> Self {
        Self {
            client: XmppConnectionConfig::default(),
            service: XmppConnectionConfig {
                enabled: false,
                port: 6222,
                ..XmppConnectionConfig::default()
            },
            trusted_domains: Vec::new(),
            use_jitsi_jid_validation: true,
            visitors: BTreeMap::new(),
        }
    }
}

/// One XMPP connection (`jicofo.xmpp.client`, `.service`, `.visitors.*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct XmppConnectionConfig {
    /// Whether to open it.
    pub enabled: bool,
    /// The server's host name or address.
    pub hostname: String,
    /// The server's port.
    pub port: u16,
    /// The login domain (e.g. `auth.meet.jitsi`).
    pub domain: Option<String>,
    /// The main XMPP domain (e.g. `meet.jitsi`).
    pub xmpp_domain: Option<String>,
    /// The account's local part, also the MUC nickname.
    pub username: String,
    /// The resource; defaults to the username.
    pub resource: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// How long to wait for IQ answers.
    #[serde(deserialize_with = "de::duration")]
    pub reply_timeout: Duration,
    /// The conference MUC service; defaults to `conference.<xmpp-domain>`.
    pub conference_muc_jid: Option<String>,
    /// Accept any server certificate.
    pub disable_certificate_verification: bool,
    /// The `client_proxy` component whose resource carries the real sender.
    pub client_proxy: Option<String>,
    /// Use STARTTLS.
    pub use_tls: bool,
    /// A visitor node's MUC service.
    pub conference_service: Option<String>,
}

impl Default for XmppConnectionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            hostname: "localhost".into(),
            port: 5222,
            domain: None,
            xmpp_domain: None,
            username: "focus".into(),
            resource: None,
            password: None,
            reply_timeout: Duration::from_secs(15),
            conference_muc_jid: None,
            disable_certificate_verification: false,
            client_proxy: None,
            use_tls: true,
            conference_service: None,
        }
    }
}

impl XmppConnectionConfig {
    /// The resource to bind: `resource`, or the username as in Jicofo.
    pub fn resource(&self) -> &str {
        self.resource.as_deref().unwrap_or(&self.username)
    }

    /// The conference MUC service: `conference-muc-jid`, or
    /// `conference.<xmpp-domain>`.
    pub fn conference_muc_jid(&self) -> Option<String> {
        self.conference_muc_jid
            .clone()
            .or_else(|| self.xmpp_domain.as_ref().map(|d| format!("conference.{d}")))
    }

    /// Whether `other` would log in to the same account on the same server.
    pub fn same_account(&self, other: &Self) -> bool {
        self.hostname == other.hostname
            && self.port == other.port
            && self.domain == other.domain
            && self.username == other.username
            && self.resource() == other.resource()
    }
}

/// `jicofo.rest`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct RestConfig {
    /// Whether the HTTP API runs.
    pub enabled: bool,
    /// Its port (≤ 0 turns it off).
    pub port: i32,
    /// Its bind address.
    pub host: String,
    /// `/metrics`.
    pub prometheus: Enabled<true>,
    /// `/conference-request/v1`.
    pub conference_request: Enabled<true>,
    /// `/move-endpoints/*`.
    pub move_endpoints: Enabled<true>,
    /// `/debug*`.
    pub debug: Enabled<true>,
    /// `/pin*`.
    pub pin: Enabled<true>,
}

impl Default for RestConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            port: 8888,
            host: "127.0.0.1".into(),
            prometheus: Enabled::default(),
            conference_request: Enabled::default(),
            move_endpoints: Enabled::default(),
            debug: Enabled::default(),
            pin: Enabled::default(),
        }
    }
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

/// Bridge selection strategies Jicofo ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum SelectionStrategy {
    /// All participants of a conference on one bridge.
    #[default]
    SingleBridgeSelectionStrategy,
    /// Each participant on a different bridge (testing).
    SplitBridgeSelectionStrategy,
    /// Prefer bridges in the participant's region.
    RegionBasedBridgeSelectionStrategy,
    /// Prefer bridges in the conference's region.
    IntraRegionBridgeSelectionStrategy,
    /// Separate strategies for visitors and participants.
    VisitorSelectionStrategy,
}

/// Which connection a brewery lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ConnectionName {
    /// `jicofo.xmpp.client`.
    Client,
    /// `jicofo.xmpp.service`.
    Service,
}

/// `jicofo.bridge`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct BridgeConfig {
    /// Max participants of one conference on one bridge (−1: no limit).
    pub max_bridge_participants: i32,
    /// Max participants added per interval (−1: off).
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
    pub topology_strategy: String,
    /// Groups of regions considered close.
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

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            max_bridge_participants: 80,
            max_bridge_participants_per_interval: -1,
            max_bridge_participants_interval: Duration::from_secs(60),
            average_participant_stress: 0.01,
            participant_rampup_interval: Duration::from_secs(20),
            stress_threshold: 0.8,
            failure_reset_threshold: Duration::from_secs(60),
            selection_strategy: SelectionStrategy::default(),
            visitor_selection_strategy: None,
            participant_selection_strategy: None,
            topology_strategy: "SingleMeshTopologyStrategy".into(),
            region_groups: Vec::new(),
            health_checks: BridgeHealthChecks::default(),
            brewery_jid: None,
            xmpp_connection_name: ConnectionName::Service,
            ice_failure_detection: IceFailureDetection::default(),
            load_redistribution: LoadRedistribution::default(),
        }
    }
}

/// `jicofo.bridge.health-checks`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct BridgeHealthChecks {
    /// Whether bridges are checked.
    pub enabled: bool,
    /// Period of the checks.
    #[serde(deserialize_with = "de::duration")]
    pub interval: Duration,
    /// Delay before retrying a timed-out check; `interval / 2` when unset.
    #[serde(default, deserialize_with = "opt_duration")]
    pub retry_delay: Option<Duration>,
    /// Infer health from brewery presence.
    pub use_presence: bool,
    /// With `use-presence`: presence age that counts as a timeout.
    #[serde(deserialize_with = "de::duration")]
    pub presence_timeout: Duration,
}

impl Default for BridgeHealthChecks {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(10),
            retry_delay: None,
            use_presence: false,
            presence_timeout: Duration::from_secs(45),
        }
    }
}

impl BridgeHealthChecks {
    /// The retry delay: as set, or half the interval.
    pub fn retry_delay(&self) -> Duration {
        self.retry_delay.unwrap_or(self.interval / 2)
    }
}

fn opt_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de::duration(d).map(Some)
}

/// `jicofo.bridge.ice-failure-detection`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct IceFailureDetection {
    /// Whether it runs.
    pub enabled: bool,
    /// Counting window.
    #[serde(deserialize_with = "de::duration")]
    pub interval: Duration,
    /// Minimum endpoints on the bridge.
    pub min_endpoints: u32,
    /// Failing fraction.
    pub threshold: f64,
    /// Minimum time in the failing state.
    #[serde(deserialize_with = "de::duration")]
    pub timeout: Duration,
}

impl Default for IceFailureDetection {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: Duration::from_secs(120),
            min_endpoints: 30,
            threshold: 0.1,
            timeout: Duration::from_secs(600),
        }
    }
}

/// `jicofo.bridge.load-redistribution`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct LoadRedistribution {
    /// Whether it runs.
    pub enabled: bool,
    /// Period.
    #[serde(deserialize_with = "de::duration")]
    pub interval: Duration,
    /// Stress above which endpoints move.
    pub stress_threshold: f64,
    /// Pause per bridge between moves.
    #[serde(deserialize_with = "de::duration")]
    pub timeout: Duration,
    /// Endpoints moved at a time.
    pub endpoints: u32,
}

impl Default for LoadRedistribution {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: Duration::from_secs(60),
            stress_threshold: 0.9,
            timeout: Duration::from_secs(180),
            endpoints: 10,
        }
    }
}

/// How participants are re-invited after a bridge failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum ReinviteMethod {
    /// Terminate and start a new Jingle session.
    #[default]
    RestartJingle,
    /// `transport-replace` in the existing session.
    ReplaceTransport,
}

/// `jicofo.conference`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct ConferenceConfig {
    /// First participant (then the next) becomes moderator.
    pub enable_auto_owner: bool,
    /// Require moderator for recording and dial-out.
    pub enable_moderator_checks: bool,
    /// End a conference nobody joins within this.
    #[serde(deserialize_with = "de::duration")]
    pub initial_timeout: Duration,
    /// Source limit per endpoint.
    pub max_ssrcs_per_user: u32,
    /// Group limit per endpoint; defaults to `max-ssrcs-per-user`.
    pub max_ssrc_groups_per_user: Option<u32>,
    /// Keep a lone participant's media this long.
    #[serde(deserialize_with = "de::duration")]
    pub single_participant_timeout: Duration,
    /// Participants needed before sessions start.
    pub min_participants: u32,
    /// Concurrent audio senders.
    pub max_audio_senders: u32,
    /// Concurrent video senders.
    pub max_video_senders: u32,
    /// Signal only the first SIM SSRC.
    pub strip_simulcast: bool,
    /// SSRC rewriting for capable clients.
    pub use_ssrc_rewriting: bool,
    /// Mid-based demux with rewriting.
    pub use_rtp_mid_demux: bool,
    /// JSON-encoded sources for capable clients.
    pub use_json_encoded_sources: bool,
    /// Conference size → source signaling delay in ms.
    pub source_signaling_delays: BTreeMap<u32, u64>,
    /// Re-invite method.
    pub reinvite_method: ReinviteMethod,
    /// Honour ICE restart requests.
    pub enable_ice_restart: bool,
    /// Rate limits of restart requests.
    pub restart_request_rate_limits: RestartRateLimits,
    /// Shared document.
    pub shared_document: SharedDocument,
}

impl Default for ConferenceConfig {
    fn default() -> Self {
        Self {
            enable_auto_owner: true,
            enable_moderator_checks: true,
            initial_timeout: Duration::from_secs(15),
            max_ssrcs_per_user: 20,
            max_ssrc_groups_per_user: None,
            single_participant_timeout: Duration::from_secs(20),
            min_participants: 2,
            max_audio_senders: 999_999,
            max_video_senders: 999_999,
            strip_simulcast: true,
            use_ssrc_rewriting: true,
            use_rtp_mid_demux: true,
            use_json_encoded_sources: true,
            source_signaling_delays: BTreeMap::new(),
            reinvite_method: ReinviteMethod::default(),
            enable_ice_restart: true,
            restart_request_rate_limits: RestartRateLimits::default(),
            shared_document: SharedDocument::default(),
        }
    }
}

impl ConferenceConfig {
    /// The ssrc-group limit: as set, or the source limit.
    pub fn max_ssrc_groups_per_user(&self) -> u32 {
        self.max_ssrc_groups_per_user
            .unwrap_or(self.max_ssrcs_per_user)
    }
}

/// `jicofo.conference.restart-request-rate-limits`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct RestartRateLimits {
    /// Minimum spacing.
    #[serde(deserialize_with = "de::duration")]
    pub min_interval: Duration,
    /// Max requests per interval.
    pub max_requests: u32,
    /// The window.
    #[serde(deserialize_with = "de::duration")]
    pub interval: Duration,
}

impl Default for RestartRateLimits {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(5),
            max_requests: 5,
            interval: Duration::from_secs(60),
        }
    }
}

/// `jicofo.conference.shared-document`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct SharedDocument {
    /// Random Etherpad names.
    pub use_random_name: bool,
}

/// `jicofo.codec`: kept as a tree until the offer builder reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CodecConfig {
    /// `jicofo.codec.video`.
    pub video: BTreeMap<String, CodecEntry>,
    /// `jicofo.codec.audio`.
    pub audio: BTreeMap<String, serde_json::Value>,
    /// `jicofo.codec.rtp-extensions`.
    pub rtp_extensions: BTreeMap<String, serde_json::Value>,
}

/// One video codec.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CodecEntry {
    /// Offered at all.
    pub enabled: Option<bool>,
    /// Payload type.
    pub pt: Option<i32>,
    /// RTX payload type (−1: none).
    pub rtx_pt: Option<i32>,
    /// REMB feedback.
    pub enable_remb: Option<bool>,
}

/// `jicofo.health`: the focus's self-check.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct HealthConfig {
    /// Jicofo serves `/about/health` only when set; the focus serves it
    /// always (docker-jitsi-meet's container check polls it).
    pub enabled: bool,
    /// Period of the self-check (zero: none).
    #[serde(deserialize_with = "de::duration")]
    pub interval: Duration,
    /// Results older than this are a failure.
    #[serde(deserialize_with = "de::duration")]
    pub timeout: Duration,
    /// Slower checks count as failed.
    #[serde(deserialize_with = "de::duration")]
    pub max_check_duration: Duration,
    /// Prefix of test rooms.
    pub room_name_prefix: String,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_check_duration: Duration::from_secs(20),
            room_name_prefix: "__jicofo-health-check".into(),
        }
    }
}

/// Authentication modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum AuthType {
    /// No authentication.
    #[default]
    #[serde(rename = "NONE")]
    None,
    /// Users log in to an XMPP domain.
    #[serde(rename = "XMPP")]
    Xmpp,
    /// Token authentication in Prosody.
    #[serde(rename = "JWT")]
    Jwt,
}

/// `jicofo.authentication`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct AuthConfig {
    /// False is the same as `type = NONE`.
    pub enabled: bool,
    /// The mode.
    #[serde(rename = "type")]
    pub kind: AuthType,
    /// The domain authenticated users come from.
    pub login_url: Option<String>,
    /// How long an authentication session lasts.
    #[serde(deserialize_with = "de::duration")]
    pub authentication_lifetime: Duration,
    /// Reuse authenticated sessions.
    pub enable_auto_login: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            kind: AuthType::None,
            login_url: None,
            authentication_lifetime: Duration::from_secs(24 * 3600),
            enable_auto_login: true,
        }
    }
}

/// `jicofo.jibri`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct JibriConfig {
    /// The Jibri brewery.
    pub brewery_jid: Option<String>,
    /// Retries on other instances (−1: unlimited).
    pub num_retries: i32,
    /// Wait for Jibri to start.
    #[serde(deserialize_with = "de::duration")]
    pub pending_timeout: Duration,
    /// Connection of the brewery.
    pub xmpp_connection_name: ConnectionName,
    /// COLIBRI2 private-address connectivity.
    pub use_private_address_connectivity: bool,
}

impl Default for JibriConfig {
    fn default() -> Self {
        Self {
            brewery_jid: None,
            num_retries: 5,
            pending_timeout: Duration::from_secs(90),
            xmpp_connection_name: ConnectionName::Client,
            use_private_address_connectivity: true,
        }
    }
}

/// A section holding only a brewery (`jicofo.jibri-sip`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct BreweryOnly {
    /// The brewery MUC.
    pub brewery_jid: Option<String>,
}

/// `jicofo.jigasi`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct JigasiConfig {
    /// The Jigasi brewery.
    pub brewery_jid: Option<String>,
    /// Connection of the brewery.
    pub xmpp_connection_name: ConnectionName,
    /// COLIBRI2 private-address connectivity.
    pub use_private_address_connectivity: bool,
}

impl Default for JigasiConfig {
    fn default() -> Self {
        Self {
            brewery_jid: None,
            xmpp_connection_name: ConnectionName::Client,
            use_private_address_connectivity: true,
        }
    }
}

/// `jicofo.octo`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct OctoConfig {
    /// Several bridges per conference.
    pub enabled: bool,
    /// Different bridge versions in one conference.
    pub allow_mixed_versions: bool,
    /// SCTP between bridges; defaults to `jicofo.sctp.enabled`.
    pub sctp_datachannels: Option<bool>,
}

/// `jicofo.visitors`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct VisitorsConfig {
    /// Whether visitors are invited.
    pub enabled: bool,
    /// Main-room size after which requests go to visitor nodes.
    pub max_participants: u32,
    /// Soft cap per node.
    pub max_visitors_per_node: u32,
    /// Interval of visitor count updates.
    #[serde(deserialize_with = "de::duration")]
    pub notification_interval: Duration,
    /// Connect visitor MUCs when visitors join.
    pub auto_enable_broadcast: bool,
    /// Require `visitorsEnabled` in the room config.
    pub require_muc_config_flag: bool,
    /// Honour `visitorsLive`.
    pub enable_live_room: bool,
    /// Count redirected visitors towards their node this long.
    #[serde(deserialize_with = "de::duration")]
    pub vnode_join_latency_interval: Duration,
}

impl Default for VisitorsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_participants: 50,
            max_visitors_per_node: 500,
            notification_interval: Duration::from_secs(15),
            auto_enable_broadcast: true,
            require_muc_config_flag: false,
            enable_live_room: false,
            vnode_join_latency_interval: Duration::from_secs(60),
        }
    }
}

/// `jicofo.metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct MetricsConfig {
    /// Period of recomputed metrics.
    #[serde(deserialize_with = "de::duration")]
    pub update_interval: Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            update_interval: Duration::from_secs(30),
        }
    }
}

impl Config {
    /// Reads `path` (environment substitutions from the process environment).
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        let file = path.display().to_string();
        if let Err(e) = std::fs::metadata(path) {
            return Err(ConfigError::Parse {
                file,
                message: e.to_string(),
            });
        }
        let parse = || {
            hocon::HoconLoader::new()
                .load_file(PathBuf::from(path))
                .and_then(hocon::HoconLoader::hocon)
        };
        let hocon = guard(parse, &file)?.map_err(|e| ConfigError::Parse {
            file: file.clone(),
            message: e.to_string(),
        })?;
        Self::from_hocon(hocon, &file)
    }

    /// Parses `text` as a `jicofo.conf`; `origin` names it in messages.
    /// Includes are not followed.
    pub fn from_hocon_str(text: &str, origin: &str) -> Result<Loaded, ConfigError> {
        let parse = || {
            hocon::HoconLoader::new()
                .load_str(text)
                .and_then(hocon::HoconLoader::hocon)
        };
        let hocon = guard(parse, origin)?.map_err(|e| ConfigError::Parse {
            file: origin.to_owned(),
            message: e.to_string(),
        })?;
        Self::from_hocon(hocon, origin)
    }

    fn from_hocon(hocon: hocon::Hocon, file: &str) -> Result<Loaded, ConfigError> {
        let tree = to_json(hocon);
        let jicofo = match tree {
            serde_json::Value::Object(mut top) => top.remove("jicofo").unwrap_or_default(),
            _ => serde_json::Value::Null,
        };
        let jicofo = match jicofo {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            other => other,
        };
        let mut unknown_keys = Vec::new();
        let mut note = |path: serde_ignored::Path<'_>| unknown_keys.push(format!("jicofo.{path}"));
        let ignored = serde_ignored::Deserializer::new(de::Lenient(jicofo), &mut note);
        let config: Config =
            serde_path_to_error::deserialize(ignored).map_err(|e| ConfigError::BadValue {
                file: file.to_owned(),
                key: format!("jicofo.{}", e.path()),
                message: e.inner().to_string(),
            })?;
        Ok(Loaded {
            config,
            unknown_keys,
        })
    }

    /// Checks that what the focus needs to run is set: the client
    /// connection's `domain`, `xmpp-domain` and `password`.
    pub fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let missing = |key: &str, why| ConfigError::Missing {
            file: file.to_owned(),
            key: key.to_owned(),
            why,
        };
        let client = &self.xmpp.client;
        if client.enabled {
            if client.domain.is_none() {
                return Err(missing(
                    "jicofo.xmpp.client.domain",
                    "the domain the focus logs in to",
                ));
            }
            if client.xmpp_domain.is_none() {
                return Err(missing(
                    "jicofo.xmpp.client.xmpp-domain",
                    "the main XMPP domain",
                ));
            }
            if client.password.is_none() {
                return Err(missing(
                    "jicofo.xmpp.client.password",
                    "the focus account's password",
                ));
            }
        }
        let service = &self.xmpp.service;
        if service.enabled {
            if service.domain.is_none() {
                return Err(missing(
                    "jicofo.xmpp.service.domain",
                    "the service connection's login domain",
                ));
            }
            if service.password.is_none() {
                return Err(missing(
                    "jicofo.xmpp.service.password",
                    "the service account's password",
                ));
            }
        }
        Ok(())
    }
}

/// Runs the `hocon` crate's parser, turning a panic inside it (it panics on
/// some malformed input, e.g. a stray byte that is not UTF-8 after a
/// multi-byte character) into a parse error. Replacing that crate with our
/// own bounded parser is planned; until then no input panics the focus.
fn guard<T>(parse: impl FnOnce() -> T, file: &str) -> Result<T, ConfigError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).map_err(|_| ConfigError::Parse {
        file: file.to_owned(),
        message: "the HOCON parser failed on malformed input".into(),
    })
}

/// The parsed tree as JSON; values that failed to resolve (an unset
/// `${?ENV}`) are left out, as HOCON says.
fn to_json(h: hocon::Hocon) -> serde_json::Value {
    use hocon::Hocon;
    use serde_json::Value;
    match h {
        Hocon::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Hocon::Integer(i) => Value::from(i),
        Hocon::String(s) => Value::String(s),
        Hocon::Boolean(b) => Value::Bool(b),
        Hocon::Array(items) => Value::Array(
            items
                .into_iter()
                .filter(|v| !matches!(v, Hocon::BadValue(_)))
                .map(to_json)
                .collect(),
        ),
        Hocon::Hash(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !matches!(v, Hocon::BadValue(_)))
                .map(|(k, v)| (k, to_json(v)))
                .collect(),
        ),
        Hocon::Null | Hocon::BadValue(_) => Value::Null,
    }
}

#[cfg(test)]
mod tests;
