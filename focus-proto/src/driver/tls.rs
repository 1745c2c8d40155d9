//! The TLS client configuration of the XMPP connections (rustls with the
//! `ring` provider).
//!
//! By default the server's certificate is verified against the system trust
//! store, loaded with `rustls-native-certs` (which honours `SSL_CERT_FILE`
//! and `SSL_CERT_DIR`, so `update-ca-certificates` or a pointed-at CA file
//! works). `disable-certificate-verification = true` swaps in a verifier
//! that accepts any certificate but still checks the handshake signatures,
//! as docker-jitsi-meet deployments expect.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tracing::{debug, warn};

/// How the server certificate of a connection is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Against the system trust store (the default).
    SystemRoots,
    /// Not at all (`disable-certificate-verification = true`).
    Disabled,
}

impl Verification {
    /// The mode for a connection's `disable-certificate-verification` value.
    pub fn from_disable_flag(disable_certificate_verification: bool) -> Self {
        if disable_certificate_verification {
            Self::Disabled
        } else {
            Self::SystemRoots
        }
    }
}

/// Why no TLS configuration could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// The trust store is empty.
    #[error(
        "no trusted CA certificates found (system store, SSL_CERT_FILE, SSL_CERT_DIR); install \
         ca-certificates, point SSL_CERT_FILE at the XMPP server's CA, or set \
         disable-certificate-verification = true"
    )]
    NoRoots,
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system trust store: every certificate `rustls-native-certs` finds.
fn system_roots() -> Vec<CertificateDer<'static>> {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        warn!(error = %e, "could not load some system CA certificates");
    }
    found.certs
}

/// The certificate verifier for `verification`; `roots` supplies the trust
/// anchors when they are needed.
pub fn verifier(
    verification: Verification,
    roots: impl FnOnce() -> Vec<CertificateDer<'static>>,
) -> Result<Arc<dyn ServerCertVerifier>, TlsSetupError> {
    let provider = provider();
    match verification {
        Verification::Disabled => Ok(Arc::new(AcceptAnyCertificate {
            algorithms: provider.signature_verification_algorithms,
        })),
        Verification::SystemRoots => {
            let mut store = RootCertStore::empty();
            let (added, ignored) = store.add_parsable_certificates(roots());
            debug!(added, ignored, "trust anchors loaded");
            if store.is_empty() {
                return Err(TlsSetupError::NoRoots);
            }
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
                .build()
                .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
            Ok(verifier)
        }
    }
}

/// A rustls client configuration for `verification`, with the `ring`
/// provider, TLS 1.2 and 1.3, and no client certificate.
pub fn client_config(verification: Verification) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let verifier = verifier(verification, system_roots)?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Rustls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts every certificate (`disable-certificate-verification = true`),
/// but still checks that the server signed the handshake with the key of the
/// certificate it sent.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rustls::{CertificateError, Error};
    use rustls_pki_types::pem::PemObject;

    use super::*;

    const CA: &[u8] = include_bytes!("testdata/ca.pem");
    const LEAF: &[u8] = include_bytes!("testdata/leaf-auth.meet.jitsi.pem");

    fn cert(pem: &[u8]) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem).expect("test PEM")
    }

    fn at_2030() -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000))
    }

    fn check(
        v: &dyn ServerCertVerifier,
        leaf: &CertificateDer<'_>,
        name: &str,
    ) -> Result<ServerCertVerified, Error> {
        let name = ServerName::try_from(name.to_owned()).unwrap();
        v.verify_server_cert(leaf, &[], &name, &[], at_2030())
    }

    #[test]
    fn flag_selects_mode() {
        assert_eq!(
            Verification::from_disable_flag(true),
            Verification::Disabled
        );
        assert_eq!(
            Verification::from_disable_flag(false),
            Verification::SystemRoots
        );
    }

    #[test]
    fn system_roots_verify_chain_and_name() {
        let v = verifier(Verification::SystemRoots, || vec![cert(CA)]).unwrap();
        let leaf = cert(LEAF);
        assert!(check(&*v, &leaf, "auth.meet.jitsi").is_ok());
        // The name checked is the login domain, not the socket's host.
        assert!(matches!(
            check(&*v, &leaf, "xmpp.meet.jitsi"),
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            ))
        ));
        assert!(matches!(
            check(&*v, &CertificateDer::from(vec![1, 2, 3]), "auth.meet.jitsi"),
            Err(Error::InvalidCertificate(CertificateError::BadEncoding))
        ));
    }

    #[test]
    fn unknown_issuer_is_rejected() {
        // The leaf is its own "root" here: its issuer is not trusted.
        let v = verifier(Verification::SystemRoots, || vec![cert(LEAF)]).unwrap();
        let err = check(&*v, &cert(LEAF), "auth.meet.jitsi").unwrap_err();
        assert_eq!(
            err,
            Error::InvalidCertificate(CertificateError::UnknownIssuer)
        );
        assert_eq!(err.to_string(), "invalid peer certificate: UnknownIssuer");
    }

    #[test]
    fn empty_store_is_an_error() {
        assert!(matches!(
            verifier(Verification::SystemRoots, Vec::new),
            Err(TlsSetupError::NoRoots)
        ));
    }

    #[test]
    fn disabled_accepts_anything_but_checks_signatures() {
        let v = verifier(Verification::Disabled, || panic!("roots not needed")).unwrap();
        assert!(check(&*v, &CertificateDer::from(vec![1, 2, 3]), "auth.meet.jitsi").is_ok());
        assert!(check(&*v, &cert(LEAF), "other.example").is_ok());
        // Handshake signatures are still checked, with the provider's
        // algorithms.
        let schemes = v.supported_verify_schemes();
        assert!(schemes.contains(&SignatureScheme::ECDSA_NISTP256_SHA256));
        assert!(schemes.contains(&SignatureScheme::RSA_PSS_SHA256));
    }

    #[test]
    fn client_config_builds_both_ways() {
        assert!(client_config(Verification::Disabled).is_ok());
    }
}
