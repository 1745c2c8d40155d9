//! From `jicofo.xmpp.*` to what each connection task needs, with the checks
//! that make a missing key a clear startup error.

use std::time::Duration;

use rustls_pki_types::ServerName;

use super::tls::Verification;
use crate::ConnId;
use crate::config::{Config, XmppConnectionConfig};
use crate::xmpp::StreamConfig;

/// Interval of the stream's keepalive pings.
const PING_INTERVAL: Duration = Duration::from_secs(30);

/// Everything one connection task needs.
#[derive(Debug, Clone)]
pub struct ConnSettings {
    /// Which connection.
    pub conn: ConnId,
    /// Where to connect (`hostname`).
    pub host: String,
    /// The port (`port`).
    pub port: u16,
    /// The stream's login and timings.
    pub stream: StreamConfig,
    /// The name the server's certificate must be valid for: the login
    /// `domain`, as Smack (and so Jicofo) verifies it.
    pub tls_name: ServerName<'static>,
    /// How the certificate is checked.
    pub verification: Verification,
}

/// A configuration the connections cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A required key has no value.
    #[error("{key} is not set")]
    Missing {
        /// The full key, e.g. `jicofo.xmpp.client.password`.
        key: String,
    },
    /// A key has a value that cannot be used.
    #[error("{key} = {value:?} is not usable: {why}")]
    Invalid {
        /// The full key.
        key: String,
        /// The value found.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// No connection is enabled.
    #[error("jicofo.xmpp.client.enabled is false: the focus needs its client connection")]
    NoConnection,
}

/// The connection tasks to run for `config`: the client connection, and the
/// service connection when it is enabled and differs from the client one
/// (otherwise the client connection serves both).
pub fn connection_settings(config: &Config) -> Result<Vec<ConnSettings>, SettingsError> {
    let client = &config.xmpp.client;
    if !client.enabled {
        return Err(SettingsError::NoConnection);
    }
    // The self-check pings the XMPP domain: required as in Jicofo.
    if client.xmpp_domain.as_deref().is_none_or(str::is_empty) {
        return Err(SettingsError::Missing {
            key: "jicofo.xmpp.client.xmpp-domain".to_owned(),
        });
    }
    let mut out = vec![one(ConnId::Client, "client", client)?];
    let service = &config.xmpp.service;
    if service.enabled && !client.same_account(service) {
        out.push(one(ConnId::Service, "service", service)?);
    }
    Ok(out)
}

fn one(conn: ConnId, name: &str, c: &XmppConnectionConfig) -> Result<ConnSettings, SettingsError> {
    let key = |k: &str| format!("jicofo.xmpp.{name}.{k}");
    let domain = match c.domain.as_deref() {
        Some(d) if !d.is_empty() => d.to_owned(),
        _ => return Err(SettingsError::Missing { key: key("domain") }),
    };
    let password = match c.password.as_deref() {
        Some(p) if !p.is_empty() => p.to_owned(),
        _ => {
            return Err(SettingsError::Missing {
                key: key("password"),
            });
        }
    };
    if c.username.is_empty() {
        return Err(SettingsError::Missing {
            key: key("username"),
        });
    }
    if c.hostname.is_empty() {
        return Err(SettingsError::Missing {
            key: key("hostname"),
        });
    }
    if c.port == 0 {
        return Err(SettingsError::Invalid {
            key: key("port"),
            value: "0".to_owned(),
            why: "not a TCP port".to_owned(),
        });
    }
    let tls_name = ServerName::try_from(domain.clone()).map_err(|e| SettingsError::Invalid {
        key: key("domain"),
        value: domain.clone(),
        why: format!("not a host name: {e}"),
    })?;
    let resource = c.resource().to_owned();
    let mut stream = StreamConfig::new(&domain, &c.username, &password, &resource);
    stream.use_tls = c.use_tls;
    stream.reply_timeout = c.reply_timeout;
    stream.ping_interval = PING_INTERVAL;
    Ok(ConnSettings {
        conn,
        host: c.hostname.clone(),
        port: c.port,
        stream,
        tls_name,
        verification: Verification::from_disable_flag(c.disable_certificate_verification),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::selftest::loopback_config;

    #[test]
    fn client_only_by_default() {
        let config = loopback_config(5222, 8888);
        let s = connection_settings(&config).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].conn, ConnId::Client);
        assert_eq!(s[0].stream.domain, "auth.meet.jitsi");
        assert_eq!(s[0].stream.resource, "focus");
        assert_eq!(
            s[0].tls_name,
            ServerName::try_from("auth.meet.jitsi").unwrap()
        );
        assert_eq!(s[0].stream.ping_interval, PING_INTERVAL);
        assert!(config.xmpp.service_is_client());
    }

    #[test]
    fn missing_keys_are_named() {
        let mut config = loopback_config(5222, 8888);
        config.xmpp.client.password = None;
        let e = connection_settings(&config).unwrap_err();
        assert_eq!(e.to_string(), "jicofo.xmpp.client.password is not set");

        let mut config = loopback_config(5222, 8888);
        config.xmpp.client.domain = None;
        let e = connection_settings(&config).unwrap_err();
        assert_eq!(e.to_string(), "jicofo.xmpp.client.domain is not set");

        let mut config = loopback_config(5222, 8888);
        config.xmpp.client.xmpp_domain = None;
        let e = connection_settings(&config).unwrap_err();
        assert_eq!(e.to_string(), "jicofo.xmpp.client.xmpp-domain is not set");
    }

    #[test]
    fn separate_service_connection() {
        let mut config = loopback_config(5222, 8888);
        let mut service = config.xmpp.client.clone();
        service.enabled = true;
        config.xmpp.service = service.clone();
        // Same account: the client connection serves both.
        assert_eq!(connection_settings(&config).unwrap().len(), 1);
        assert!(config.xmpp.service_is_client());

        service.hostname = "xmpp.jvb.meet.jitsi".to_owned();
        service.port = 6222;
        service.domain = Some("auth.jvb.meet.jitsi".to_owned());
        service.disable_certificate_verification = true;
        config.xmpp.service = service;
        let s = connection_settings(&config).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].conn, ConnId::Service);
        assert_eq!(s[1].verification, Verification::Disabled);
        assert_eq!(
            s[1].tls_name,
            ServerName::try_from("auth.jvb.meet.jitsi").unwrap()
        );
        assert!(!config.xmpp.service_is_client());

        config.xmpp.service.password = None;
        let e = connection_settings(&config).unwrap_err();
        assert_eq!(e.to_string(), "jicofo.xmpp.service.password is not set");
    }
}
