//! Reading real deployments' files into typed settings.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::*;

fn load(text: &str) -> Loaded {
    Config::from_hocon_str(text, "test.conf").unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(text: &str, origin: &str) -> String {
    match Config::from_hocon_str(text, origin) {
        Ok(_) => panic!("loaded: {text}"),
        Err(e) => e.to_string(),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A reader over in-memory files.
fn files(list: &[(&str, &str)]) -> impl Fn(&Path) -> io::Result<String> + use<> {
    let map: HashMap<PathBuf, String> = list
        .iter()
        .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
        .collect();
    move |p: &Path| {
        map.get(p)
            .cloned()
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }
}

#[test]
fn reference_alone_gives_jicofos_defaults() {
    let loaded = load("");
    assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
    let c = loaded.config;

    let a = &c.authentication;
    assert!(!a.enabled);
    assert_eq!(a.kind, AuthType::None);
    assert_eq!(a.effective_type(), AuthType::None);
    assert_eq!(a.login_url, None);
    assert_eq!(a.authentication_lifetime, secs(24 * 3600));
    assert!(a.enable_auto_login);

    let b = &c.bridge;
    assert_eq!(b.max_bridge_participants, 80);
    assert_eq!(b.max_bridge_participants_per_interval, -1);
    assert_eq!(b.max_bridge_participants_interval, secs(60));
    assert!((b.average_participant_stress - 0.01).abs() < 1e-12);
    assert_eq!(b.participant_rampup_interval, secs(20));
    assert!((b.stress_threshold - 0.8).abs() < 1e-12);
    assert_eq!(b.failure_reset_threshold, secs(60));
    assert_eq!(
        b.selection_strategy,
        SelectionStrategy::SingleBridgeSelectionStrategy
    );
    assert_eq!(b.visitor_selection_strategy, None);
    assert_eq!(b.participant_selection_strategy, None);
    assert_eq!(
        b.topology_strategy,
        TopologyStrategy::SingleMeshTopologyStrategy
    );
    assert!(b.region_groups.is_empty());
    assert!(b.health_checks.enabled);
    assert_eq!(b.health_checks.interval, secs(10));
    assert_eq!(b.health_checks.retry_delay, None);
    assert_eq!(b.health_checks.retry_delay(), secs(5));
    assert!(!b.health_checks.use_presence);
    assert_eq!(b.health_checks.presence_timeout, secs(45));
    assert_eq!(b.brewery_jid, None);
    assert_eq!(b.xmpp_connection_name, ConnectionName::Service);
    let ice = &b.ice_failure_detection;
    assert!(!ice.enabled);
    assert_eq!(
        (ice.interval, ice.min_endpoints, ice.timeout),
        (secs(120), 30, secs(600))
    );
    assert!((ice.threshold - 0.1).abs() < 1e-12);
    let lr = &b.load_redistribution;
    assert!(!lr.enabled);
    assert_eq!(
        (lr.interval, lr.timeout, lr.endpoints),
        (secs(60), secs(180), 10)
    );
    assert!((lr.stress_threshold - 0.9).abs() < 1e-12);

    let v = &c.codec.video;
    let codec = |x: &VideoCodec| (x.enabled, x.pt, x.rtx_pt, x.enable_remb);
    assert_eq!(codec(&v.av1), (true, 41, 42, true));
    assert_eq!(codec(&v.vp8), (true, 100, 96, true));
    assert_eq!(codec(&v.vp9), (true, 101, 97, true));
    assert_eq!(codec(&v.h264), (true, 107, 99, true));
    assert_eq!(v.vp8.rtx(), Some(96));
    let opus = &c.codec.audio.opus;
    assert_eq!(
        (opus.enabled, opus.pt, opus.minptime, opus.use_inband_fec),
        (true, 111, 10, true)
    );
    assert_eq!(
        opus.red,
        PayloadToggle {
            enabled: false,
            pt: 112
        }
    );
    assert_eq!(
        c.codec.audio.telephone_event,
        PayloadToggle {
            enabled: true,
            pt: 126
        }
    );
    let x = &c.codec.rtp_extensions;
    let ext = |e: RtpExtension| (e.enabled, e.id);
    assert_eq!(ext(x.audio_level), (true, 1));
    assert_eq!(ext(x.tof), (false, 2));
    assert_eq!(ext(x.abs_send_time), (true, 3));
    assert_eq!(ext(x.rid), (false, 4));
    assert_eq!(ext(x.tcc), (true, 5));
    assert_eq!(ext(x.video_content_type), (false, 7));
    assert_eq!(ext(x.framemarking), (false, 9));
    assert_eq!(ext(x.mid), (true, 10));
    assert_eq!(ext(x.av1_dependency_descriptor), (true, 11));
    assert_eq!(ext(x.video_layers_allocation), (false, 12));
    assert!(x.extmap_allow_mixed);

    let conf = &c.conference;
    assert!(conf.enable_auto_owner && conf.enable_moderator_checks);
    assert_eq!(conf.initial_timeout, secs(15));
    assert_eq!(
        (conf.max_ssrcs_per_user, conf.max_ssrc_groups_per_user),
        (20, 20)
    );
    assert_eq!(conf.single_participant_timeout, secs(20));
    assert_eq!(conf.min_participants, 2);
    assert_eq!(
        (conf.max_audio_senders, conf.max_video_senders),
        (999_999, 999_999)
    );
    assert!(conf.strip_simulcast && conf.use_ssrc_rewriting && conf.use_rtp_mid_demux);
    assert!(conf.use_json_encoded_sources && conf.enable_ice_restart);
    assert!(!conf.shared_document.use_random_name);
    assert!(conf.source_signaling_delays.is_empty());
    assert_eq!(conf.source_signaling_delay(500), Duration::ZERO);
    assert_eq!(conf.reinvite_method, ReinviteMethod::RestartJingle);
    let rl = &conf.restart_request_rate_limits;
    assert_eq!(
        (rl.min_interval, rl.max_requests, rl.interval),
        (secs(5), 5, secs(60))
    );

    let h = &c.health;
    assert!(!h.enabled);
    assert_eq!(
        (h.interval, h.timeout, h.max_check_duration),
        (secs(10), secs(30), secs(20))
    );
    assert_eq!(h.room_name_prefix, "__jicofo-health-check");

    assert_eq!(c.jibri.brewery_jid, None);
    assert_eq!(c.jibri.num_retries, 5);
    assert_eq!(c.jibri.pending_timeout, secs(90));
    assert_eq!(c.jibri.xmpp_connection_name, ConnectionName::Client);
    assert!(c.jibri.use_private_address_connectivity);
    assert_eq!(c.jibri_sip.brewery_jid, None);
    assert_eq!(c.jigasi.brewery_jid, None);
    assert_eq!(c.jigasi.xmpp_connection_name, ConnectionName::Client);
    assert!(c.jigasi.use_private_address_connectivity);

    assert_eq!(c.local_region, None);
    assert_eq!(c.metrics.update_interval, secs(30));
    assert!(!c.octo.enabled && !c.octo.allow_mixed_versions);
    assert!(c.octo.sctp_datachannels);
    assert!(c.sctp.enabled);

    let r = &c.rest;
    assert!(r.enabled);
    assert_eq!(
        (r.port, r.host.as_str(), r.listen_port()),
        (8888, "127.0.0.1", Some(8888))
    );
    assert!(r.prometheus.enabled && r.conference_request.enabled && r.move_endpoints.enabled);
    assert!(r.debug.enabled && r.pin.enabled);

    let t = &c.transcription;
    assert_eq!(t.url_template, None);
    assert!(t.http_headers.is_empty());
    assert_eq!(
        t.ping,
        PingConfig {
            enabled: true,
            interval: secs(10),
            timeout: secs(3)
        }
    );
    let tr = &c.translation;
    assert!(!tr.enabled());
    assert_eq!(tr.mode, TranslationMode::PerSource);
    assert_eq!(tr.max_languages_per_connect, 5);
    assert_eq!(
        tr.ping,
        PingConfig {
            enabled: true,
            interval: secs(10),
            timeout: secs(3)
        }
    );

    let vis = &c.visitors;
    assert!(!vis.enabled);
    assert_eq!((vis.max_participants, vis.max_visitors_per_node), (50, 500));
    assert_eq!(vis.notification_interval, secs(15));
    assert!(vis.auto_enable_broadcast && !vis.require_muc_config_flag && !vis.enable_live_room);
    assert_eq!(vis.vnode_join_latency_interval, secs(60));

    let x = &c.xmpp;
    assert!(x.use_jitsi_jid_validation);
    assert!(x.trusted_domains.is_empty());
    assert!(x.visitors.is_empty());
    let cl = &x.client;
    assert!(cl.enabled);
    assert_eq!((cl.hostname.as_str(), cl.port), ("localhost", 5222));
    assert_eq!(
        (cl.domain.as_deref(), cl.xmpp_domain.as_deref()),
        (None, None)
    );
    assert_eq!((cl.username.as_str(), cl.resource()), ("focus", "focus"));
    assert_eq!(cl.password, None);
    assert_eq!(cl.reply_timeout, secs(15));
    assert_eq!(cl.conference_muc_jid, None);
    assert_eq!(x.client_conference_muc_jid(), None);
    assert!(!cl.disable_certificate_verification && cl.use_tls);
    assert_eq!(cl.client_proxy, None);
    let sv = &x.service;
    assert!(!sv.enabled);
    assert_eq!((sv.hostname.as_str(), sv.port), ("localhost", 6222));
    assert_eq!(
        (sv.username.as_str(), sv.resource.as_str()),
        ("focus", "focus")
    );
    assert_eq!(sv.reply_timeout, secs(15));
    assert!(!sv.disable_certificate_verification && sv.use_tls);
    // The service connection is off: bridges use the client connection.
    assert!(std::ptr::eq(
        x.connection(ConnectionName::Service),
        &x.client
    ));

    // `Default` is the reference layer.
    assert_eq!(Config::default(), c);
}

#[test]
fn reference_text_parses_on_its_own() {
    let v = hocon::parse_str(REFERENCE_CONF, "reference.conf", &hocon::no_env)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        v.get_path("jicofo.xmpp.client.resource")
            .and_then(hocon::Value::as_str),
        Some("focus")
    );
}

/// What Debian's postinst leaves behind: the skeleton, then `hocon set` lines.
const DEBIAN: &str = r#"# Jicofo HOCON configuration. See reference.conf in /usr/share/jicofo/jicofo.jar for
#available options, syntax, and default values.
jicofo {
}
jicofo.xmpp.client.client-proxy = "focus.meet.example.com"
jicofo.xmpp.client.xmpp-domain = "meet.example.com"
jicofo.xmpp.client.domain = "auth.meet.example.com"
jicofo.xmpp.client.username = "focus"
jicofo.xmpp.client.password = "Abc123def456ghi7"
jicofo.bridge.brewery-jid = "JvbBrewery@internal.auth.meet.example.com"
jicofo.xmpp.trusted-domains = [ "recorder.meet.example.com" ]
"#;

#[test]
fn debian_file() {
    let loaded = Config::from_hocon_str(DEBIAN, "/etc/jitsi/jicofo/jicofo.conf")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
    let c = loaded.config;
    let cl = &c.xmpp.client;
    assert_eq!(cl.client_proxy.as_deref(), Some("focus.meet.example.com"));
    assert_eq!(cl.xmpp_domain.as_deref(), Some("meet.example.com"));
    assert_eq!(cl.domain.as_deref(), Some("auth.meet.example.com"));
    assert_eq!(cl.password.as_deref(), Some("Abc123def456ghi7"));
    assert_eq!(
        (cl.hostname.as_str(), cl.port, cl.use_tls),
        ("localhost", 5222, true)
    );
    assert_eq!(cl.resource(), "focus");
    assert_eq!(
        c.xmpp.client_conference_muc_jid().as_deref(),
        Some("conference.meet.example.com")
    );
    assert_eq!(
        c.bridge.brewery_jid.as_deref(),
        Some("JvbBrewery@internal.auth.meet.example.com")
    );
    assert_eq!(c.xmpp.trusted_domains, ["recorder.meet.example.com"]);
    // Everything else is default.
    assert!(!c.xmpp.service.enabled);
    assert_eq!(c.rest.listen_port(), Some(8888));
    assert!(!c.health.enabled && !c.octo.enabled);
    assert!(c.validate("j.conf").is_ok());
}

/// docker-jitsi-meet's template rendered with auth, the JVB XMPP server,
/// visitors, recording, ICE failure detection and the rest switched on.
const DOCKER: &str = r#"
jicofo {
    authentication {
      enabled = true
      // The type of authentication. Supported values are XMPP, JWT or NONE.
      type = JWT
      login-url = "meet.jitsi"
      enable-auto-login=true
      authentication-lifetime = 24 hours
    }

    // Configuration related to jitsi-videobridge
    bridge {
      max-bridge-participants = "80"
      average-participant-stress = "0.005"
      stress-threshold = "0.85"
      selection-strategy = VisitorSelectionStrategy
      visitor-selection-strategy = RegionBasedBridgeSelectionStrategy
      participant-selection-strategy = RegionBasedBridgeSelectionStrategy
      topology-strategy = VisitorTopologyStrategy
      health-checks {
        enabled = true
        use-presence = "true"
      }
      ice-failure-detection {
        enabled = true
        interval = 60 seconds
        min-endpoints = 40
        threshold = 0.1
      }
      load-redistribution {
        enabled = true
      }
      brewery-jid = "jvbbrewery@muc.jvb.meet.jitsi"
      region-groups = [["us-east","us-west"],["eu-central","eu-west"]]
    }
    // Configure the codecs and RTP extensions to be used in the offer sent to clients.
    codec {
      video {
        vp8 {
          enabled = "true"
        }
        vp9 {
          enabled = "true"
        }
        av1 {
          enabled = "false"
        }
        h264 {
          enabled = "true"
        }
      }
      audio {
        opus {
          red {
            enabled = "true"
          }
        }
      }
      rtp-extensions {
        video-layers-allocation {
          enabled = false
        }
        mid {
          enabled = false
        }
      }
    }

    conference {
      enable-auto-owner = true
      enable-moderator-checks = true
      initial-timeout = "15 seconds"
      single-participant-timeout = "20 seconds"
      max-ssrcs-per-user = "20"
      max-ssrc-groups-per-user = "20"
      source-signaling-delays = { 50 = 500, 100 = 1000 }
      max-audio-senders = 999999
      max-video-senders = 999999
      strip-simulcast = true
      use-ssrc-rewriting = true
      enable-multi-stream-backward-compat = true
      shared-document {
        use-random-name = true
      }
      restart-request-rate-limits {
        max-requests = 3
        interval = 60 seconds
      }
    }

    // Configuration for the internal health checks performed by jicofo.
    health {
      // Whether to perform health checks.
      enabled = true
    }

    jibri {
      brewery-jid = "jibribrewery@internal-muc.meet.jitsi"
      num-retries = "5"
      pending-timeout = "90 seconds"
    }
    jibri-sip {
      brewery-jid = "jibrisipbrewery@internal-muc.meet.jitsi"
    }
    jigasi {
      brewery-jid = "jigasibrewery@internal-muc.meet.jitsi"
    }
    local-region = "us-east"

    octo {
      // Whether or not to use Octo.
      enabled = true
      sctp-datachannels = true
    }

    rest {
      host = "0.0.0.0"
    }

    sctp {
      enabled = true
    }

    translation {
      url-template = "wss://translate.example.com/{{MEETING_ID}}?region={{REGION}}"
      http-headers {
        "CF-Access-Client-Id" = "abc.access"
        "CF-Access-Client-Secret" = "s3cr3t"
      }
    }

    visitors {
      enabled = true
      max-participants = "30"
      max-visitors-per-node = 250
      require-muc-config-flag = true
    }

    xmpp {
      client {
        enabled = true
        hostname = "xmpp.meet.jitsi"
        port = "5222"
        domain = "auth.meet.jitsi"
        xmpp-domain = "meet.jitsi"
        username = "focus"
        password = "passw0rd"
        conference-muc-jid = "muc.meet.jitsi"
        client-proxy = "focus.meet.jitsi"
        disable-certificate-verification = true
      }
      service {
        enabled = true
        hostname = "xmpp.jvb.meet.jitsi"
        port = "6222"
        domain =  "auth.jvb.meet.jitsi"
        username = "focus"
        password = "passw0rd"
        disable-certificate-verification = true
      }
      visitors {
        v0 {
          enabled = true
          conference-service = muc.v0.meet.jitsi
          hostname = 10.0.0.20
          port = 52220
          domain = "auth.meet.jitsi"
          xmpp-domain = "v0.meet.jitsi"
          password = "passw0rd"
          disable-certificate-verification = true
        }
        v1 {
          conference-service = muc.v1.meet.jitsi
          hostname = vnode1.meet.jitsi
        }
      }
      trusted-domains = [ "hidden.meet.jitsi" ]
    }
}
include "custom-jicofo.conf"
"#;

fn check_docker(loaded: &Loaded) {
    let c = &loaded.config;
    let a = &c.authentication;
    assert!(a.enabled && a.enable_auto_login);
    assert_eq!(a.kind, AuthType::Jwt);
    assert_eq!(a.effective_type(), AuthType::Jwt);
    assert_eq!(a.login_url.as_deref(), Some("meet.jitsi"));
    assert_eq!(a.authentication_lifetime, secs(86400));

    let b = &c.bridge;
    assert_eq!(b.max_bridge_participants, 80);
    assert!((b.average_participant_stress - 0.005).abs() < 1e-12);
    assert!((b.stress_threshold - 0.85).abs() < 1e-12);
    assert_eq!(
        b.selection_strategy,
        SelectionStrategy::VisitorSelectionStrategy
    );
    assert_eq!(
        b.visitor_selection_strategy,
        Some(SelectionStrategy::RegionBasedBridgeSelectionStrategy)
    );
    assert_eq!(
        b.participant_selection_strategy,
        Some(SelectionStrategy::RegionBasedBridgeSelectionStrategy)
    );
    assert_eq!(
        b.topology_strategy,
        TopologyStrategy::VisitorTopologyStrategy
    );
    assert!(b.health_checks.enabled && b.health_checks.use_presence);
    assert!(b.ice_failure_detection.enabled);
    assert_eq!(b.ice_failure_detection.interval, secs(60));
    assert_eq!(b.ice_failure_detection.min_endpoints, 40);
    assert_eq!(b.ice_failure_detection.timeout, secs(600));
    assert!(b.load_redistribution.enabled);
    assert_eq!(
        b.brewery_jid.as_deref(),
        Some("jvbbrewery@muc.jvb.meet.jitsi")
    );
    assert_eq!(
        b.region_groups,
        [vec!["us-east", "us-west"], vec!["eu-central", "eu-west"]]
    );

    assert!(c.codec.video.vp8.enabled && !c.codec.video.av1.enabled);
    assert_eq!(c.codec.video.av1.pt, 41);
    assert!(c.codec.audio.opus.red.enabled);
    assert_eq!(c.codec.audio.opus.red.pt, 112);
    assert!(!c.codec.rtp_extensions.mid.enabled);
    assert_eq!(c.codec.rtp_extensions.mid.id, 10);

    let conf = &c.conference;
    assert_eq!(
        (conf.max_ssrcs_per_user, conf.max_ssrc_groups_per_user),
        (20, 20)
    );
    assert_eq!(conf.initial_timeout, secs(15));
    assert_eq!(
        conf.source_signaling_delays,
        BTreeMap::from([(50, 500), (100, 1000)])
    );
    assert_eq!(conf.source_signaling_delay(49), Duration::ZERO);
    assert_eq!(conf.source_signaling_delay(50), Duration::from_millis(500));
    assert_eq!(conf.source_signaling_delay(99), Duration::from_millis(500));
    assert_eq!(conf.source_signaling_delay(1000), secs(1));
    assert!(conf.shared_document.use_random_name);
    let rl = &conf.restart_request_rate_limits;
    assert_eq!(
        (rl.min_interval, rl.max_requests, rl.interval),
        (secs(5), 3, secs(60))
    );

    assert!(c.health.enabled);
    assert_eq!(
        c.jibri.brewery_jid.as_deref(),
        Some("jibribrewery@internal-muc.meet.jitsi")
    );
    assert_eq!(c.jibri.num_retries, 5);
    assert_eq!(c.jibri.pending_timeout, secs(90));
    assert_eq!(
        c.jibri_sip.brewery_jid.as_deref(),
        Some("jibrisipbrewery@internal-muc.meet.jitsi")
    );
    assert_eq!(
        c.jigasi.brewery_jid.as_deref(),
        Some("jigasibrewery@internal-muc.meet.jitsi")
    );
    assert_eq!(c.local_region.as_deref(), Some("us-east"));
    assert!(c.octo.enabled && c.octo.sctp_datachannels);
    assert_eq!(c.rest.host, "0.0.0.0");
    assert_eq!(c.rest.listen_port(), Some(8888));

    assert!(c.translation.enabled());
    assert_eq!(
        c.translation
            .http_headers
            .get("CF-Access-Client-Id")
            .map(String::as_str),
        Some("abc.access")
    );
    assert_eq!(c.translation.http_headers.len(), 2);

    assert!(c.visitors.enabled && c.visitors.require_muc_config_flag);
    assert_eq!(
        (
            c.visitors.max_participants,
            c.visitors.max_visitors_per_node
        ),
        (30, 250)
    );

    let cl = &c.xmpp.client;
    assert_eq!((cl.hostname.as_str(), cl.port), ("xmpp.meet.jitsi", 5222));
    assert_eq!(cl.domain.as_deref(), Some("auth.meet.jitsi"));
    assert_eq!(cl.password.as_deref(), Some("passw0rd"));
    assert!(cl.disable_certificate_verification);
    assert_eq!(
        c.xmpp.client_conference_muc_jid().as_deref(),
        Some("muc.meet.jitsi")
    );
    let sv = &c.xmpp.service;
    assert!(sv.enabled);
    assert_eq!(
        (sv.hostname.as_str(), sv.port),
        ("xmpp.jvb.meet.jitsi", 6222)
    );
    assert_eq!(sv.domain.as_deref(), Some("auth.jvb.meet.jitsi"));
    assert_eq!(sv.resource(), "focus");
    assert!(std::ptr::eq(
        c.xmpp.connection(c.bridge.xmpp_connection_name),
        sv
    ));
    assert!(std::ptr::eq(
        c.xmpp.connection(c.jibri.xmpp_connection_name),
        cl
    ));

    let v0 = &c.xmpp.visitors["v0"];
    assert!(v0.enabled);
    assert_eq!(v0.conference_service.as_deref(), Some("muc.v0.meet.jitsi"));
    assert_eq!((v0.hostname.as_str(), v0.port), ("10.0.0.20", 52220));
    assert_eq!(v0.domain.as_deref(), Some("auth.meet.jitsi"));
    assert_eq!(v0.xmpp_domain.as_deref(), Some("v0.meet.jitsi"));
    assert!(v0.disable_certificate_verification);
    // Jicofo's per-node defaults.
    let v1 = &c.xmpp.visitors["v1"];
    assert!(v1.enabled && v1.use_tls && !v1.disable_certificate_verification);
    assert_eq!(v1.port, 5222);
    assert_eq!(v1.domain.as_deref(), Some("vnode1.meet.jitsi"));
    assert_eq!((v1.username.as_str(), v1.resource()), ("focus", "focus"));
    assert_eq!(v1.reply_timeout, secs(15));
    assert_eq!(v1.password, None);

    assert_eq!(c.xmpp.trusted_domains, ["hidden.meet.jitsi"]);
    assert!(c.validate("j.conf").is_ok());

    // The dead key docker still writes is a warning, not an error.
    let keys: Vec<&str> = loaded.unknown_keys.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(
        keys,
        ["jicofo.conference.enable-multi-stream-backward-compat"]
    );
    assert_eq!(loaded.unknown_keys[0].origin.line, 82);
}

#[test]
fn docker_jitsi_meet_file() {
    // The trailing include names a file that does not exist: skipped.
    let read = files(&[("/config/jicofo.conf", DOCKER)]);
    let loaded = Config::load_with(Path::new("/config/jicofo.conf"), &read, &hocon::no_env)
        .unwrap_or_else(|e| panic!("{e}"));
    check_docker(&loaded);
    assert_eq!(
        loaded.unknown_keys[0].origin.file.as_ref(),
        "/config/jicofo.conf"
    );
}

#[test]
fn docker_custom_include_is_merged() {
    let read = files(&[
        ("/config/jicofo.conf", DOCKER),
        (
            "/config/custom-jicofo.conf",
            "jicofo.conference.max-ssrcs-per-user = 50\njicofo.xmpp.client.port = 5223\n",
        ),
    ]);
    let c = Config::load_with(Path::new("/config/jicofo.conf"), &read, &hocon::no_env)
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    assert_eq!(c.xmpp.client.port, 5223);
    assert_eq!(c.conference.max_ssrcs_per_user, 50);
    // Set explicitly in the main file: not following the substitution.
    assert_eq!(c.conference.max_ssrc_groups_per_user, 20);
}

#[test]
fn overrides_propagate_through_reference_substitutions() {
    let c = load(
        "jicofo.xmpp.client.username = jicofo\njicofo.xmpp.service.username = jvbfocus\n\
         jicofo.conference.max-ssrcs-per-user = 50\njicofo.sctp.enabled = false\n",
    )
    .config;
    assert_eq!(c.xmpp.client.resource(), "jicofo");
    assert_eq!(c.xmpp.service.resource(), "jvbfocus");
    assert_eq!(c.conference.max_ssrc_groups_per_user, 50);
    assert!(!c.octo.sctp_datachannels);
    // An explicit resource wins.
    let c = load("jicofo.xmpp.client { username = jicofo, resource = r1 }").config;
    assert_eq!(c.xmpp.client.resource(), "r1");
}

#[test]
fn password_from_the_environment() {
    let env = |k: &str| (k == "JICOFO_AUTH_PASSWORD").then(|| "from-env".to_owned());
    let text = "jicofo.xmpp.client.password = ${?JICOFO_AUTH_PASSWORD}\n";
    let c = Config::from_hocon_str_with(text, "j.conf", &env)
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    assert_eq!(c.xmpp.client.password.as_deref(), Some("from-env"));
    // Unset: the earlier value stays, or the key stays unset.
    let text = "jicofo.xmpp.client.password = fallback\njicofo.xmpp.client.password = ${?JICOFO_AUTH_PASSWORD}\n";
    let c = Config::from_hocon_str(text, "j.conf")
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    assert_eq!(c.xmpp.client.password.as_deref(), Some("fallback"));
    let c = load("jicofo.xmpp.client.password = ${?JICOFO_AUTH_PASSWORD}\n").config;
    assert_eq!(c.xmpp.client.password, None);
    // Environment values convert like quoted text.
    let env = |k: &str| (k == "XMPP_PORT").then(|| "5280".to_owned());
    let c = Config::from_hocon_str_with("jicofo.xmpp.client.port = ${XMPP_PORT}", "j.conf", &env)
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    assert_eq!(c.xmpp.client.port, 5280);
    // A required variable that is not set.
    let e = load_err(
        "jicofo.xmpp.client.password = ${JICOFO_AUTH_PASSWORD}",
        "/etc/jitsi/jicofo/jicofo.conf",
    );
    assert!(
        e.starts_with(
            "/etc/jitsi/jicofo/jicofo.conf:1: cannot resolve jicofo.xmpp.client.password"
        ),
        "{e}"
    );
}

#[test]
fn unknown_keys_are_warnings() {
    let loaded = load(
        "akka { loglevel = INFO }\njicofo {\n  conference { enable-multi-stream-backward-compat = true }\n\
           bridge { health-checks { frequency = 5 s } }\n  xmpp.client.nickname = x\n  tracing.enabled = true\n\
           transcription.http-headers { \"X-Ok\" = 1 }\n}\n",
    );
    let got: Vec<String> = loaded
        .unknown_keys
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        [
            "akka (set at test.conf:1)",
            "jicofo.bridge.health-checks.frequency (set at test.conf:4)",
            "jicofo.conference.enable-multi-stream-backward-compat (set at test.conf:3)",
            "jicofo.xmpp.client.nickname (set at test.conf:5)",
            "jicofo.tracing (set at test.conf:6)",
        ]
    );
    // Maps read every key: not warnings.
    assert_eq!(
        loaded
            .config
            .transcription
            .http_headers
            .get("X-Ok")
            .map(String::as_str),
        Some("1")
    );
}

#[test]
fn lenient_conversions() {
    let c = load(
        "jicofo {\n rest { port = \"9090\", enabled = \"yes\" }\n health.enabled = on\n\
         bridge { stress-threshold = \"0.7\", max-bridge-participants = \" 12 \" }\n\
         conference { initial-timeout = 500, single-participant-timeout = \"2 minutes\", source-signaling-delays { \"10\" = \"100\" } }\n\
         jibri { pending-timeout = 2m, brewery-jid = 42 }\n authentication.authentication-lifetime = \"1 d\"\n\
         translation.mode = SINGLE_BRIDGE\n bridge.health-checks.retry-delay = 250 millis\n}\n",
    )
    .config;
    assert_eq!(c.rest.listen_port(), Some(9090));
    assert!(c.health.enabled);
    assert!((c.bridge.stress_threshold - 0.7).abs() < 1e-12);
    assert_eq!(c.bridge.max_bridge_participants, 12);
    assert_eq!(c.conference.initial_timeout, Duration::from_millis(500));
    assert_eq!(c.conference.single_participant_timeout, secs(120));
    assert_eq!(
        c.conference.source_signaling_delays,
        BTreeMap::from([(10, 100)])
    );
    assert_eq!(c.jibri.pending_timeout, secs(120));
    assert_eq!(c.jibri.brewery_jid.as_deref(), Some("42"));
    assert_eq!(c.authentication.authentication_lifetime, secs(86400));
    assert_eq!(c.translation.mode, TranslationMode::SingleBridge);
    assert_eq!(
        c.bridge.health_checks.retry_delay(),
        Duration::from_millis(250)
    );
    // Fully qualified strategy names, as Jicofo accepts them.
    let c = load(
        "jicofo.bridge.selection-strategy = org.jitsi.jicofo.bridge.SplitBridgeSelectionStrategy",
    )
    .config;
    assert_eq!(
        c.bridge.selection_strategy,
        SelectionStrategy::SplitBridgeSelectionStrategy
    );
    // A null clears an optional key.
    let c = load("jicofo.xmpp.client.domain = x\njicofo.xmpp.client.domain = null").config;
    assert_eq!(c.xmpp.client.domain, None);
}

#[test]
fn bad_values_name_key_and_file() {
    let e = load_err(
        "jicofo.xmpp.client.port = \"abc\"",
        "/etc/jitsi/jicofo/jicofo.conf",
    );
    assert_eq!(
        e,
        "/etc/jitsi/jicofo/jicofo.conf:1: bad value for jicofo.xmpp.client.port: expected an integer (u16), found \"abc\""
    );
    let e = load_err("jicofo {\n  xmpp.client.port = 70000\n}", "j.conf");
    assert!(
        e.starts_with("j.conf:2: bad value for jicofo.xmpp.client.port: 70000 is out of range"),
        "{e}"
    );

    let e = load_err(
        "jicofo {\n  conference {\n    initial-timeout = \"soon\"\n  }\n}",
        "x.conf",
    );
    assert!(
        e.starts_with("x.conf:3: bad value for jicofo.conference.initial-timeout"),
        "{e}"
    );
    assert!(e.contains("\"soon\" is not a duration"), "{e}");

    let e = load_err(
        "jicofo.bridge.selection-strategy = com.example.Mine",
        "x.conf",
    );
    assert!(
        e.contains("jicofo.bridge.selection-strategy")
            && e.contains("unknown variant `com.example.Mine`"),
        "{e}"
    );
    let e = load_err("jicofo.authentication.type = LDAP", "x.conf");
    assert!(
        e.contains("jicofo.authentication.type") && e.contains("`NONE`, `XMPP`, `JWT`"),
        "{e}"
    );
    let e = load_err("jicofo.bridge.xmpp-connection-name = client", "x.conf");
    assert!(
        e.contains("jicofo.bridge.xmpp-connection-name")
            && e.contains("expected `Client` or `Service`"),
        "{e}"
    );
    let e = load_err("jicofo.conference.reinvite-method = Reboot", "x.conf");
    assert!(
        e.contains("jicofo.conference.reinvite-method") && e.contains("RestartJingle"),
        "{e}"
    );
    let e = load_err("jicofo.translation.mode = everywhere", "x.conf");
    assert!(
        e.contains("jicofo.translation.mode") && e.contains("per-source or single-bridge"),
        "{e}"
    );

    let e = load_err("jicofo.rest.enabled = maybe", "x.conf");
    assert!(e.contains("jicofo.rest.enabled: expected a boolean"), "{e}");
    let e = load_err("jicofo.bridge.stress-threshold = high", "x.conf");
    assert!(
        e.contains("jicofo.bridge.stress-threshold: expected a number"),
        "{e}"
    );
    let e = load_err(
        "jicofo.xmpp.trusted-domains = recorder.example.com",
        "x.conf",
    );
    assert!(
        e.contains("jicofo.xmpp.trusted-domains: expected a list"),
        "{e}"
    );
    let e = load_err("jicofo.bridge.region-groups = [[a], [b, {}]]", "x.conf");
    assert!(
        e.contains("jicofo.bridge.region-groups[1][1]: expected a string, found an object"),
        "{e}"
    );
    let e = load_err(
        "jicofo.conference.source-signaling-delays { fifty = 500 }",
        "x.conf",
    );
    assert!(
        e.contains("jicofo.conference.source-signaling-delays.fifty")
            && e.contains("not an integer"),
        "{e}"
    );
    let e = load_err("jicofo.xmpp.client = localhost", "x.conf");
    assert!(e.contains("jicofo.xmpp.client: expected an object"), "{e}");
    let e = load_err("jicofo = 5", "x.conf");
    assert!(
        e.contains("bad value for jicofo: expected an object"),
        "{e}"
    );
    let e = load_err("jicofo.bridge.health-checks.interval = -5", "x.conf");
    assert!(e.contains("jicofo.bridge.health-checks.interval"), "{e}");

    // Visitor nodes need a host and a MUC service.
    let e = load_err("jicofo.xmpp.visitors.v1 {\n  hostname = h\n}", "x.conf");
    assert!(
        e.starts_with(
            "x.conf:1: bad value for jicofo.xmpp.visitors.v1: missing field `conference-service`"
        ),
        "{e}"
    );
    let e = load_err(
        "jicofo.xmpp.visitors.v1 { conference-service = m, hostname = h, port = x }",
        "x.conf",
    );
    assert!(e.contains("jicofo.xmpp.visitors.v1.port"), "{e}");
}

#[test]
fn syntax_errors_name_file_and_line() {
    let e = load_err(
        "jicofo {\n  rest {\n    port = 1\n  \n",
        "/etc/jitsi/jicofo/jicofo.conf",
    );
    assert!(
        e.starts_with("/etc/jitsi/jicofo/jicofo.conf:5: syntax error: unterminated object"),
        "{e}"
    );
}

#[test]
fn missing_main_file_is_an_error() {
    let read = files(&[]);
    let e = Config::load_with(
        Path::new("/etc/jitsi/jicofo/jicofo.conf"),
        &read,
        &hocon::no_env,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("/etc/jitsi/jicofo/jicofo.conf: cannot read the configuration"),
        "{e}"
    );
    let e = Config::load(Path::new("/nonexistent/focus-test/jicofo.conf")).unwrap_err();
    assert!(
        matches!(&e, ConfigError::Io { path, .. } if path == Path::new("/nonexistent/focus-test/jicofo.conf"))
    );
}

#[test]
fn load_reads_real_files() {
    let dir = std::env::temp_dir().join(format!("focus-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("custom-jicofo.conf"), "jicofo.rest.port = 9999\n").unwrap();
    std::fs::write(
        dir.join("jicofo.conf"),
        "jicofo.rest.port = 1\ninclude \"custom-jicofo.conf\"\n",
    )
    .unwrap();
    let loaded = Config::load(&dir.join("jicofo.conf"));
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        loaded.unwrap_or_else(|e| panic!("{e}")).config.rest.port,
        9999
    );
}

#[test]
fn validation_names_missing_keys() {
    let c = load("jicofo.xmpp.client.domain = auth.meet.jitsi").config;
    assert_eq!(
        c.validate("/etc/jitsi/jicofo/jicofo.conf")
            .unwrap_err()
            .to_string(),
        "/etc/jitsi/jicofo/jicofo.conf: jicofo.xmpp.client.xmpp-domain must be set (the main XMPP domain)"
    );
    let c = load("jicofo.xmpp.client.xmpp-domain = meet.jitsi").config;
    assert!(
        c.validate("j.conf")
            .unwrap_err()
            .to_string()
            .starts_with("j.conf: jicofo.xmpp.client.domain must be set")
    );
    let c = load(
        "jicofo.xmpp.client { domain = a, xmpp-domain = b }\njicofo.xmpp.service.enabled = true",
    )
    .config;
    assert!(
        c.validate("j.conf")
            .unwrap_err()
            .to_string()
            .starts_with("j.conf: jicofo.xmpp.service.domain must be set")
    );
    // A disabled client connection needs nothing.
    assert!(
        load("jicofo.xmpp.client.enabled = false")
            .config
            .validate("j.conf")
            .is_ok()
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Arbitrary text never panics the reader.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Config::from_hocon_str(&text, "p.conf");
    }

    /// Arbitrary values under real keys never panic the typed layer.
    #[test]
    fn arbitrary_values_never_panic(
        key in proptest::sample::select(vec![
            "xmpp.client.port", "xmpp.client", "bridge.region-groups", "conference.source-signaling-delays",
            "conference.initial-timeout", "bridge.selection-strategy", "xmpp.visitors", "xmpp.visitors.v1",
            "codec.video.vp8.pt", "bridge.health-checks.retry-delay", "rest", "translation.mode",
        ]),
        value in proptest::sample::select(vec![
            "1", "-1", "\"x\"", "[]", "[[1]]", "{}", "{ a = 1 }", "null", "true", "1.5", "99999999999999999999999",
            "24 hours", "${jicofo.rest}", "${?X}", "{ 1 = 2 }", "[{}]",
        ]),
    ) {
        let _ = Config::from_hocon_str(&format!("jicofo.{key} = {value}"), "p.conf");
    }
}
