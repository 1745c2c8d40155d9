//! SASL client mechanisms: SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN.
//!
//! The SCRAM message flow (RFC 5802) is written here so that the client
//! nonce can come from the core's seeded RNG; the cryptography (hash, HMAC,
//! PBKDF2) is the `sasl` crate's [`ScramProvider`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sasl::common::scram::{ScramProvider, Sha1, Sha256};

/// A SASL mechanism the stream can use, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MechanismKind {
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-1`.
    ScramSha1,
    /// `PLAIN`, only over TLS.
    Plain,
}

impl MechanismKind {
    /// The IANA name sent in `<auth mechanism='…'>`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha1 => "SCRAM-SHA-1",
            Self::Plain => "PLAIN",
        }
    }

    /// Picks the best mechanism from the server's list. PLAIN is considered
    /// only when `tls` is true, so a password never crosses a plain socket.
    pub fn choose<'a>(offered: impl IntoIterator<Item = &'a str>, tls: bool) -> Option<Self> {
        offered
            .into_iter()
            .filter_map(|name| match name.trim() {
                "SCRAM-SHA-256" => Some(Self::ScramSha256),
                "SCRAM-SHA-1" => Some(Self::ScramSha1),
                "PLAIN" if tls => Some(Self::Plain),
                _ => None,
            })
            .min()
    }
}

/// Why a SASL exchange failed on our side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// A challenge was not valid base64 or not a SCRAM message.
    #[error("malformed SCRAM message from the server: {0}")]
    Malformed(&'static str),
    /// The server's nonce does not extend ours (a replay or a broken server).
    #[error("the server's SCRAM nonce does not start with the client nonce")]
    NonceMismatch,
    /// The server sent an iteration count we refuse to compute.
    #[error("the server asked for {0} PBKDF2 iterations")]
    BadIterations(u64),
    /// The server's final signature does not prove it knows the password.
    #[error("the server's SCRAM signature is wrong")]
    BadServerSignature,
    /// The server reported an error in its final message (`e=`).
    #[error("the server reported a SCRAM error: {0}")]
    ServerError(String),
    /// A message arrived in a state where it makes no sense.
    #[error("unexpected SASL message in this state")]
    UnexpectedMessage,
}

/// Highest PBKDF2 iteration count we accept (Prosody uses 10000 or 4096).
const MAX_ITERATIONS: u32 = 1_000_000;

enum ScramState {
    Initial,
    SentFirst { client_first_bare: String },
    SentFinal { server_signature: Vec<u8> },
    Done,
}

/// A client side of one SASL exchange.
pub struct SaslClient {
    kind: MechanismKind,
    username: String,
    password: String,
    nonce: String,
    state: ScramState,
}

impl std::fmt::Debug for SaslClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs.
        f.debug_struct("SaslClient")
            .field("kind", &self.kind)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl SaslClient {
    /// A client for `kind`; `nonce` is the SCRAM client nonce (printable,
    /// no commas), ignored for PLAIN.
    pub fn new(kind: MechanismKind, username: &str, password: &str, nonce: String) -> Self {
        Self {
            kind,
            username: username.to_owned(),
            password: password.to_owned(),
            nonce,
            state: ScramState::Initial,
        }
    }

    /// The mechanism in use.
    pub fn kind(&self) -> MechanismKind {
        self.kind
    }

    /// The initial response carried by `<auth>`.
    pub fn initial(&mut self) -> Vec<u8> {
        match self.kind {
            MechanismKind::Plain => {
                self.state = ScramState::Done;
                let mut out = Vec::with_capacity(self.username.len() + self.password.len() + 2);
                out.push(0);
                out.extend_from_slice(self.username.as_bytes());
                out.push(0);
                out.extend_from_slice(self.password.as_bytes());
                out
            }
            MechanismKind::ScramSha1 | MechanismKind::ScramSha256 => {
                let client_first_bare =
                    format!("n={},r={}", escape_username(&self.username), self.nonce);
                let out = format!("n,,{client_first_bare}").into_bytes();
                self.state = ScramState::SentFirst { client_first_bare };
                out
            }
        }
    }

    /// Answers a `<challenge>`.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        match std::mem::replace(&mut self.state, ScramState::Done) {
            ScramState::SentFirst { client_first_bare } => match self.kind {
                MechanismKind::ScramSha1 => {
                    self.client_final::<Sha1>(&client_first_bare, challenge)
                }
                MechanismKind::ScramSha256 => {
                    self.client_final::<Sha256>(&client_first_bare, challenge)
                }
                MechanismKind::Plain => Err(SaslError::UnexpectedMessage),
            },
            // Some servers send the server-final message as a challenge and
            // then an empty success: verify it here and answer empty.
            ScramState::SentFinal { server_signature } => {
                verify_server_final(challenge, &server_signature)?;
                Ok(Vec::new())
            }
            ScramState::Initial | ScramState::Done => Err(SaslError::UnexpectedMessage),
        }
    }

    /// Checks the additional data of `<success>` (the SCRAM server-final
    /// message), when the exchange has not already verified it.
    pub fn finish(&mut self, additional: &[u8]) -> Result<(), SaslError> {
        match std::mem::replace(&mut self.state, ScramState::Done) {
            ScramState::SentFinal { server_signature } => {
                verify_server_final(additional, &server_signature)
            }
            ScramState::Done => Ok(()),
            ScramState::Initial | ScramState::SentFirst { .. } => Err(SaslError::UnexpectedMessage),
        }
    }

    fn client_final<S: ScramProvider>(
        &mut self,
        client_first_bare: &str,
        server_first: &[u8],
    ) -> Result<Vec<u8>, SaslError> {
        let server_first =
            std::str::from_utf8(server_first).map_err(|_| SaslError::Malformed("not UTF-8"))?;
        let mut server_nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for part in server_first.split(',') {
            match part.split_once('=') {
                Some(("r", v)) => server_nonce = Some(v),
                Some(("s", v)) => {
                    salt = Some(BASE64.decode(v).map_err(|_| SaslError::Malformed("salt"))?)
                }
                Some(("i", v)) => {
                    iterations = Some(
                        v.parse::<u64>()
                            .map_err(|_| SaslError::Malformed("iterations"))?,
                    )
                }
                Some(("e", v)) => return Err(SaslError::ServerError(v.to_owned())),
                _ => {}
            }
        }
        let server_nonce = server_nonce.ok_or(SaslError::Malformed("no nonce"))?;
        let salt = salt.ok_or(SaslError::Malformed("no salt"))?;
        let iterations = iterations.ok_or(SaslError::Malformed("no iteration count"))?;
        if !server_nonce.starts_with(&self.nonce) || server_nonce.len() == self.nonce.len() {
            return Err(SaslError::NonceMismatch);
        }
        let iterations = u32::try_from(iterations)
            .ok()
            .filter(|i| (1..=MAX_ITERATIONS).contains(i))
            .ok_or(SaslError::BadIterations(iterations))?;

        // "biws" is base64("n,,"): no channel binding.
        let without_proof = format!("c=biws,r={server_nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let password = sasl::common::Password::Plain(self.password.clone());
        let salted = S::derive(&password, &salt, iterations)
            .map_err(|_| SaslError::Malformed("key derivation failed"))?;
        let hmac = |key: &[u8], data: &[u8]| {
            S::hmac(data, key).map_err(|_| SaslError::Malformed("HMAC key length"))
        };
        let client_key = hmac(&salted, b"Client Key")?;
        let server_key = hmac(&salted, b"Server Key")?;
        let stored_key = S::hash(&client_key);
        let client_signature = hmac(&stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_signature = hmac(&server_key, auth_message.as_bytes())?;
        self.state = ScramState::SentFinal { server_signature };
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }
}

fn verify_server_final(message: &[u8], expected: &[u8]) -> Result<(), SaslError> {
    let message = std::str::from_utf8(message).map_err(|_| SaslError::Malformed("not UTF-8"))?;
    for part in message.split(',') {
        match part.split_once('=') {
            Some(("v", v)) => {
                let got = BASE64
                    .decode(v)
                    .map_err(|_| SaslError::Malformed("signature"))?;
                return if got == expected {
                    Ok(())
                } else {
                    Err(SaslError::BadServerSignature)
                };
            }
            Some(("e", v)) => return Err(SaslError::ServerError(v.to_owned())),
            _ => {}
        }
    }
    Err(SaslError::Malformed("no server signature"))
}

/// RFC 5802 `saslname`: `=` and `,` are escaped.
fn escape_username(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vector of RFC 5802 section 5.
    #[test]
    fn scram_sha1_rfc5802_vector() {
        let mut c = SaslClient::new(
            MechanismKind::ScramSha1,
            "user",
            "pencil",
            "fyko+d2lbbFgONRv9qkxdawL".into(),
        );
        assert_eq!(c.initial(), b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
        let fin = c
            .respond(b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&fin).unwrap(),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        c.finish(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=").unwrap();
    }

    // Test vector of RFC 7677 section 3.
    #[test]
    fn scram_sha256_rfc7677_vector() {
        let mut c = SaslClient::new(
            MechanismKind::ScramSha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        c.initial();
        let fin = c
            .respond(
                b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&fin).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.finish(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
    }

    #[test]
    fn rejects_foreign_nonce_and_bad_signature() {
        let mut c = SaslClient::new(MechanismKind::ScramSha1, "u", "p", "abc".into());
        c.initial();
        assert_eq!(
            c.respond(b"r=xyz123,s=QSXCR+Q6sek8bf92,i=4096"),
            Err(SaslError::NonceMismatch)
        );

        let mut c = SaslClient::new(MechanismKind::ScramSha1, "u", "p", "abc".into());
        c.initial();
        c.respond(b"r=abc123,s=QSXCR+Q6sek8bf92,i=4096").unwrap();
        assert_eq!(c.finish(b"v=AAAA"), Err(SaslError::BadServerSignature));
    }

    #[test]
    fn rejects_absurd_iterations_and_garbage() {
        let mut c = SaslClient::new(MechanismKind::ScramSha1, "u", "p", "abc".into());
        c.initial();
        assert!(matches!(
            c.respond(b"r=abc1,s=QSXCR+Q6sek8bf92,i=99999999999"),
            Err(SaslError::BadIterations(_))
        ));
        let mut c = SaslClient::new(MechanismKind::ScramSha256, "u", "p", "abc".into());
        c.initial();
        assert!(c.respond(b"\xff\xfe").is_err());
        assert!(
            c.respond(b"r=abc1").is_err(),
            "second answer in the wrong state"
        );
    }

    #[test]
    fn plain_and_choice() {
        let mut c = SaslClient::new(MechanismKind::Plain, "focus", "pw", String::new());
        assert_eq!(c.initial(), b"\0focus\0pw");
        assert_eq!(
            MechanismKind::choose(["PLAIN", "SCRAM-SHA-1"], true),
            Some(MechanismKind::ScramSha1)
        );
        assert_eq!(
            MechanismKind::choose(["SCRAM-SHA-1", "SCRAM-SHA-256"], false),
            Some(MechanismKind::ScramSha256)
        );
        assert_eq!(MechanismKind::choose(["PLAIN"], false), None);
        assert_eq!(
            MechanismKind::choose(["PLAIN"], true),
            Some(MechanismKind::Plain)
        );
        assert_eq!(escape_username("a,b=c"), "a=2Cb=3Dc");
    }
}
