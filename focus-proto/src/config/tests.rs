//! Reading real deployments' files.

use super::*;

fn load(text: &str) -> Loaded {
    Config::from_hocon_str(text, "test.conf").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn defaults_are_jicofos() {
    let c = load("").config;
    assert_eq!(c.xmpp.client.port, 5222);
    assert_eq!(c.xmpp.client.hostname, "localhost");
    assert_eq!(c.xmpp.client.resource(), "focus");
    assert_eq!(c.xmpp.client.reply_timeout, Duration::from_secs(15));
    assert!(c.xmpp.client.use_tls);
    assert!(!c.xmpp.service.enabled);
    assert_eq!(c.xmpp.service.port, 6222);
    assert_eq!(c.rest.listen_port(), Some(8888));
    assert_eq!(c.rest.host, "127.0.0.1");
    assert_eq!(c.conference.initial_timeout, Duration::from_secs(15));
    assert_eq!(c.conference.max_ssrc_groups_per_user(), 20);
    assert_eq!(c.bridge.health_checks.retry_delay(), Duration::from_secs(5));
    assert_eq!(
        c.bridge.selection_strategy,
        SelectionStrategy::SingleBridgeSelectionStrategy
    );
    assert_eq!(c.bridge.xmpp_connection_name, ConnectionName::Service);
    assert_eq!(c.health.interval, Duration::from_secs(10));
    assert_eq!(c.authentication.kind, AuthType::None);
    assert_eq!(c.jibri.pending_timeout, Duration::from_secs(90));
}

#[test]
fn debian_postinst_file() {
    let c = load(
        r#"# Jicofo HOCON configuration.
jicofo {
}
jicofo.xmpp.client.client-proxy = "focus.example.com"
jicofo.xmpp.client.xmpp-domain = "example.com"
jicofo.xmpp.client.domain = "auth.example.com"
jicofo.xmpp.client.username = "jicofo"
jicofo.xmpp.client.password = "Abc123def456ghi7"
jicofo.bridge.brewery-jid = "JvbBrewery@internal.auth.example.com"
jicofo.xmpp.trusted-domains = [ "recorder.example.com" ]
"#,
    )
    .config;
    assert_eq!(
        c.xmpp.client.client_proxy.as_deref(),
        Some("focus.example.com")
    );
    // The username override propagates to the resource, as in Jicofo.
    assert_eq!(c.xmpp.client.resource(), "jicofo");
    assert_eq!(
        c.xmpp.client.conference_muc_jid().as_deref(),
        Some("conference.example.com")
    );
    assert_eq!(c.xmpp.trusted_domains, vec!["recorder.example.com"]);
    assert!(c.validate("test.conf").is_ok());
}

const DOCKER: &str = r#"
jicofo {
  authentication {
    enabled = true
    type = JWT
    login-url = "meet.jitsi"
    enable-auto-login = true
    authentication-lifetime = 24 hours
  }
  bridge {
    max-bridge-participants = "80"
    brewery-jid = "jvbbrewery@internal-muc.meet.jitsi"
    health-checks { use-presence = "true" }
  }
  codec {
    rtp-extensions {
      video-layers-allocation { enabled = false }
      mid { enabled = false }
    }
  }
  conference {
    max-ssrcs-per-user = "20"
    max-ssrc-groups-per-user = "20"
    initial-timeout = "15 seconds"
    enable-multi-stream-backward-compat = true
    source-signaling-delays { 50 = 500, 100 = 1000 }
  }
  jibri { pending-timeout = "90 seconds" }
  octo { enabled = false, sctp-datachannels = true }
  sctp { enabled = true }
  visitors { enabled = true }
  xmpp {
    client {
      enabled = true
      hostname = "xmpp.meet.jitsi"
      port = "5222"
      domain = "auth.meet.jitsi"
      xmpp-domain = "meet.jitsi"
      username = "focus"
      password = "s3cr3t"
      conference-muc-jid = "muc.meet.jitsi"
      client-proxy = "focus.meet.jitsi"
      disable-certificate-verification = true
    }
    visitors {
      v1 {
        enabled = true
        conference-service = muc.v1.meet.jitsi
        hostname = 10.0.0.9
        port = 52220
        domain = "auth.meet.jitsi"
        xmpp-domain = "v1.meet.jitsi"
        password = "pw"
        disable-certificate-verification = true
      }
    }
    trusted-domains = [ "hidden.meet.jitsi" ]
  }
}
include "custom-jicofo.conf"
"#;

#[test]
fn docker_jitsi_meet_file() {
    let dir = std::env::temp_dir().join(format!("focus-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("jicofo.conf");
    std::fs::write(&path, DOCKER).unwrap();
    // The include names a file that does not exist: not an error.
    let loaded = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_dir_all(&dir).ok();
    let c = loaded.config;
    assert_eq!(c.xmpp.client.port, 5222);
    assert_eq!(c.xmpp.client.hostname, "xmpp.meet.jitsi");
    assert!(c.xmpp.client.disable_certificate_verification);
    assert_eq!(
        c.xmpp.client.conference_muc_jid().as_deref(),
        Some("muc.meet.jitsi")
    );
    assert_eq!(c.authentication.kind, AuthType::Jwt);
    assert_eq!(
        c.authentication.authentication_lifetime,
        Duration::from_secs(86400)
    );
    assert_eq!(c.bridge.max_bridge_participants, 80);
    assert!(c.bridge.health_checks.use_presence);
    assert_eq!(c.conference.source_signaling_delays.get(&100), Some(&1000));
    assert_eq!(c.jibri.pending_timeout, Duration::from_secs(90));
    assert_eq!(c.octo.sctp_datachannels, Some(true));
    let v1 = &c.xmpp.visitors["v1"];
    assert_eq!(v1.conference_service.as_deref(), Some("muc.v1.meet.jitsi"));
    assert_eq!(v1.port, 52220);
    // The dead key docker still writes is a warning, not an error.
    assert_eq!(
        loaded.unknown_keys,
        vec!["jicofo.conference.enable-multi-stream-backward-compat".to_owned()]
    );
}

#[test]
fn includes_are_relative_to_the_file() {
    let dir = std::env::temp_dir().join(format!("focus-config-inc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("custom-jicofo.conf"), "jicofo.rest.port = 9999\n").unwrap();
    std::fs::write(
        dir.join("jicofo.conf"),
        "jicofo.rest.port = 1\ninclude \"custom-jicofo.conf\"\n",
    )
    .unwrap();
    let c = Config::load(&dir.join("jicofo.conf")).unwrap().config;
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(c.rest.port, 9999);
}

#[test]
fn bad_values_name_key_and_file() {
    let e = Config::from_hocon_str(
        "jicofo.xmpp.client.port = \"abc\"",
        "/etc/jitsi/jicofo/jicofo.conf",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("jicofo.xmpp.client.port"), "{e}");
    assert!(e.contains("/etc/jitsi/jicofo/jicofo.conf"), "{e}");

    let e = Config::from_hocon_str("jicofo { conference { initial-timeout = soon } }", "x.conf")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("jicofo.conference.initial-timeout") && e.contains("not a duration"),
        "{e}"
    );

    let e = Config::from_hocon_str(
        "jicofo.bridge.selection-strategy = com.example.Mine",
        "x.conf",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("jicofo.bridge.selection-strategy"), "{e}");

    let e = Config::load(Path::new("/nonexistent/jicofo.conf"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/nonexistent/jicofo.conf: cannot read"),
        "{e}"
    );
}

#[test]
fn missing_required_keys() {
    let c = load("jicofo.xmpp.client.domain = auth.meet.jitsi").config;
    let e = c.validate("j.conf").unwrap_err().to_string();
    assert!(e.contains("jicofo.xmpp.client.xmpp-domain"), "{e}");
}

#[test]
fn optional_env_substitution() {
    // SAFETY-free: a variable name nobody sets.
    let c = load("jicofo.xmpp.client.password = default\njicofo.xmpp.client.password = ${?FOCUS_TEST_SURELY_UNSET_VAR}\n").config;
    assert_eq!(c.xmpp.client.password.as_deref(), Some("default"));
    let c = load("jicofo.xmpp.client.password = ${?HOME}\n").config;
    assert_eq!(c.xmpp.client.password, std::env::var("HOME").ok());
}

proptest::proptest! {
    /// Arbitrary text never panics the reader.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Config::from_hocon_str(&text, "p.conf");
    }
}
