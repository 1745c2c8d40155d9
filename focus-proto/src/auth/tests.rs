use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use jid::{BareJid, FullJid};
use proptest::prelude::*;

use super::*;
use crate::config::{AuthConfig, AuthType};
use crate::rng::FocusRng;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn config(kind: AuthType, auto_login: bool) -> AuthConfig {
    AuthConfig {
        enabled: true,
        kind,
        login_url: Some("auth.example.com".to_owned()),
        authentication_lifetime: DAY,
        enable_auto_login: auto_login,
    }
}

fn xmpp() -> AuthSessions {
    AuthSessions::new(&config(AuthType::Xmpp, true))
}

fn full(s: &str) -> FullJid {
    FullJid::new(s).unwrap()
}

fn bare(s: &str) -> BareJid {
    BareJid::new(s).unwrap()
}

fn rng() -> FocusRng {
    FocusRng::from_seed([3; 32])
}

const USER1: &str = "user1@auth.example.com/web-1";
const GUEST1: &str = "abcd@guest.example.com/web-2";
const GUEST2: &str = "efgh@guest.example.com/web-3";
const MUID1: &str = "machine1uid";
const MUID2: &str = "machine2uid";

struct Fixture {
    auth: AuthSessions,
    rng: FocusRng,
    t0: Instant,
    room: BareJid,
}

impl Fixture {
    fn new(auth: AuthSessions) -> Self {
        Self {
            auth,
            rng: rng(),
            t0: Instant::now(),
            room: bare("room1@muc.example.com"),
        }
    }

    fn req(
        &mut self,
        at: Duration,
        sender: Option<&str>,
        muid: Option<&str>,
        sid: Option<&str>,
    ) -> Result<Option<SessionInfo>, AuthError> {
        let sender = sender.map(full);
        let room = self.room.clone();
        let r = self.auth.authenticate(
            self.t0 + at,
            &mut self.rng,
            sender.as_ref(),
            &room,
            muid,
            sid,
        );
        self.auth.assert_consistent();
        r
    }

    /// user1 logs in on the auth domain and gets a session.
    fn login(&mut self) -> SessionInfo {
        self.req(Duration::ZERO, Some(USER1), Some(MUID1), None)
            .unwrap()
            .expect("session created")
    }
}

#[test]
fn disabled_authentication_has_no_sessions() {
    for cfg in [
        AuthConfig {
            enabled: false,
            ..config(AuthType::Xmpp, true)
        },
        config(AuthType::None, true),
    ] {
        let mut f = Fixture::new(AuthSessions::new(&cfg));
        assert!(!f.auth.enabled());
        assert!(!f.auth.is_external());
        assert_eq!(f.auth.auth_domain(), None);
        assert_eq!(
            f.req(Duration::ZERO, Some(USER1), Some(MUID1), None),
            Ok(None)
        );
        assert_eq!(
            f.req(Duration::ZERO, Some(USER1), Some(MUID1), Some("nope")),
            Ok(None)
        );
        assert!(f.auth.is_empty());
        assert!(!f.auth.is_authenticated(&full(USER1)));
        assert_eq!(f.auth.poll_timeout(), None);
        assert_eq!(f.auth.login_url(&f.room, Some(MUID1)), Ok(None));
    }
}

#[test]
fn modes_and_auth_domain() {
    let x = xmpp();
    assert!(x.enabled());
    assert!(!x.is_external());
    assert_eq!(x.auth_domain(), Some("auth.example.com"));
    let j = AuthSessions::new(&config(AuthType::Jwt, true));
    assert!(j.enabled());
    assert!(j.is_external());
    assert_eq!(j.auth_domain(), Some("auth.example.com"));

    let domain = |url: Option<&str>| {
        let mut c = config(AuthType::Xmpp, true);
        c.login_url = url.map(str::to_owned);
        AuthSessions::new(&c).auth_domain().map(str::to_owned)
    };
    assert_eq!(domain(Some("meet.jitsi")).as_deref(), Some("meet.jitsi"));
    assert_eq!(domain(Some(" Meet.Jitsi ")).as_deref(), Some("meet.jitsi"));
    assert_eq!(
        domain(Some("XMPP:meet.jitsi")).as_deref(),
        Some("meet.jitsi")
    );
    assert_eq!(
        domain(Some("EXT_JWT:meet.jitsi")).as_deref(),
        Some("meet.jitsi")
    );
    assert_eq!(domain(Some("user@meet.jitsi")), None);
    assert_eq!(domain(Some("https://meet.jitsi/login")), None);
    assert_eq!(domain(Some("")), None);
    assert_eq!(domain(None), None);
}

#[test]
fn session_created_on_the_auth_domain() {
    let mut f = Fixture::new(xmpp());
    let s = f.login();
    assert_eq!(s.identity, "user1@auth.example.com");
    assert_eq!(s.id.len(), 36, "a UUID: {}", s.id);
    assert_eq!(f.auth.len(), 1);
    assert!(f.auth.is_authenticated(&full(USER1)));
    assert_eq!(f.auth.session_for(&full(USER1)), Some(s.clone()));
    // Another resource of the same user is another JID.
    assert!(
        !f.auth
            .is_authenticated(&full("user1@auth.example.com/other"))
    );
    // Each request without a session id creates a new session (as Jicofo).
    let s2 = f
        .req(Duration::ZERO, Some(USER1), Some(MUID1), None)
        .unwrap()
        .unwrap();
    assert_ne!(s2.id, s.id);
    assert_eq!(f.auth.len(), 2);
    assert_eq!(f.auth.session_for(&full(USER1)), Some(s2));
}

#[test]
fn guests_get_no_session() {
    let mut f = Fixture::new(xmpp());
    assert_eq!(
        f.req(Duration::ZERO, Some(GUEST1), Some(MUID1), None),
        Ok(None)
    );
    // A subdomain of the auth domain is not the auth domain.
    assert_eq!(
        f.req(
            Duration::ZERO,
            Some("u@x.auth.example.com/r"),
            Some(MUID1),
            None
        ),
        Ok(None)
    );
    // HTTP: no sender, no session.
    assert_eq!(f.req(Duration::ZERO, None, Some(MUID1), None), Ok(None));
    assert!(f.auth.is_empty());
    assert!(!f.auth.is_authenticated(&full(GUEST1)));
}

#[test]
fn new_session_needs_machine_uid() {
    let mut f = Fixture::new(xmpp());
    for muid in [None, Some(""), Some("  ")] {
        assert_eq!(
            f.req(Duration::ZERO, Some(USER1), muid, None),
            Err(AuthError::MissingMachineUid)
        );
    }
    assert!(f.auth.is_empty());
    // A guest without a machine uid is simply not authenticated.
    assert_eq!(f.req(Duration::ZERO, Some(GUEST1), None, None), Ok(None));
}

#[test]
fn session_reused_from_a_guest_jid() {
    let mut f = Fixture::new(xmpp());
    let s = f.login();
    let again = f
        .req(
            Duration::from_secs(5),
            Some(GUEST1),
            Some(MUID1),
            Some(&s.id),
        )
        .unwrap();
    assert_eq!(again, Some(s.clone()));
    assert_eq!(f.auth.len(), 1);
    assert!(f.auth.is_authenticated(&full(GUEST1)));
    // The session follows the JID that used it last.
    assert!(!f.auth.is_authenticated(&full(USER1)));
    assert_eq!(f.auth.session_for(&full(GUEST1)), Some(s.clone()));
    // The auth-domain user presenting its session id reuses it too.
    let back = f
        .req(
            Duration::from_secs(6),
            Some(USER1),
            Some(MUID1),
            Some(&s.id),
        )
        .unwrap();
    assert_eq!(back, Some(s));
    assert_eq!(f.auth.len(), 1);
    assert!(f.auth.is_authenticated(&full(USER1)));
    assert!(!f.auth.is_authenticated(&full(GUEST1)));
}

#[test]
fn a_jid_moves_to_the_last_session_it_used() {
    let mut f = Fixture::new(xmpp());
    let a = f.login();
    let b = f
        .req(
            Duration::ZERO,
            Some("user2@auth.example.com/x"),
            Some(MUID2),
            None,
        )
        .unwrap()
        .unwrap();
    f.req(Duration::ZERO, Some(GUEST1), Some(MUID1), Some(&a.id))
        .unwrap();
    assert_eq!(f.auth.session_for(&full(GUEST1)), Some(a.clone()));
    f.req(Duration::ZERO, Some(GUEST1), Some(MUID2), Some(&b.id))
        .unwrap();
    assert_eq!(f.auth.session_for(&full(GUEST1)), Some(b));
    // Session a still exists, bound to nobody.
    assert_eq!(f.auth.len(), 2);
    assert_eq!(
        f.req(Duration::ZERO, Some(GUEST2), Some(MUID1), Some(&a.id))
            .unwrap(),
        Some(a)
    );
}

#[test]
fn invalid_session_id() {
    let mut f = Fixture::new(xmpp());
    f.login();
    assert_eq!(
        f.req(
            Duration::ZERO,
            Some(GUEST1),
            Some(MUID1),
            Some("someinvalidsessionid")
        ),
        Err(AuthError::InvalidSession)
    );
    // Even from the auth domain: the session id is checked first.
    assert_eq!(
        f.req(Duration::ZERO, Some(USER1), Some(MUID1), Some("nope")),
        Err(AuthError::InvalidSession)
    );
    // Blank session ids are absent.
    assert_eq!(
        f.req(Duration::ZERO, Some(GUEST1), Some(MUID1), Some("")),
        Ok(None)
    );
    assert_eq!(
        f.req(Duration::ZERO, Some(GUEST1), Some(MUID1), Some(" ")),
        Ok(None)
    );
    assert_eq!(AuthError::InvalidSession.to_string(), "invalid session");
}

#[test]
fn machine_uid_mismatch() {
    let mut f = Fixture::new(xmpp());
    let s = f.login();
    for muid in [Some(MUID2), None, Some(""), Some("machine1uid ")] {
        assert_eq!(
            f.req(Duration::ZERO, Some(GUEST2), muid, Some(&s.id)),
            Err(AuthError::MachineUidMismatch),
            "{muid:?}"
        );
    }
    // A stolen session id does not help an auth-domain user either.
    assert_eq!(
        f.req(
            Duration::ZERO,
            Some("user2@auth.example.com/x"),
            Some(MUID2),
            Some(&s.id)
        ),
        Err(AuthError::MachineUidMismatch)
    );
    assert!(!f.auth.is_authenticated(&full(GUEST2)));
    assert_eq!(f.auth.len(), 1);
    assert_eq!(
        AuthError::MachineUidMismatch.to_string(),
        "machine UID mismatch or empty"
    );
    assert_eq!(
        AuthError::MissingMachineUid.to_string(),
        "Missing mandatory attribute 'machine-uid'"
    );
}

#[test]
fn expiry_by_inactivity() {
    let mut f = Fixture::new(xmpp());
    let s = f.login();
    assert_eq!(f.auth.poll_timeout(), Some(f.t0 + DAY));
    assert!(
        f.auth
            .handle_timeout(f.t0 + DAY - Duration::from_millis(1))
            .is_empty()
    );
    assert_eq!(f.auth.len(), 1);
    assert_eq!(f.auth.handle_timeout(f.t0 + DAY), vec![s.clone()]);
    assert!(f.auth.is_empty());
    assert!(!f.auth.is_authenticated(&full(USER1)));
    assert_eq!(f.auth.poll_timeout(), None);
    assert_eq!(
        f.req(DAY, Some(GUEST1), Some(MUID1), Some(&s.id)),
        Err(AuthError::InvalidSession)
    );
}

#[test]
fn use_refreshes_the_session() {
    let mut f = Fixture::new(xmpp());
    let s = f.login();
    let half = DAY / 2;
    f.req(half, Some(GUEST1), Some(MUID1), Some(&s.id)).unwrap();
    assert_eq!(f.auth.poll_timeout(), Some(f.t0 + half + DAY));
    assert!(f.auth.handle_timeout(f.t0 + DAY).is_empty());
    assert!(f.auth.is_authenticated(&full(GUEST1)));
    // HTTP use (no sender) refreshes too, and keeps the binding.
    f.req(DAY, None, Some(MUID1), Some(&s.id)).unwrap();
    assert!(f.auth.handle_timeout(f.t0 + half + DAY).is_empty());
    assert!(f.auth.is_authenticated(&full(GUEST1)));
    assert_eq!(f.auth.handle_timeout(f.t0 + DAY + DAY).len(), 1);
}

#[test]
fn expiry_is_per_session_and_in_order() {
    let mut f = Fixture::new(xmpp());
    let a = f.login();
    let b = f
        .req(
            Duration::from_secs(10),
            Some("u2@auth.example.com/r"),
            Some(MUID2),
            None,
        )
        .unwrap()
        .unwrap();
    assert_eq!(f.auth.poll_timeout(), Some(f.t0 + DAY));
    assert_eq!(f.auth.handle_timeout(f.t0 + DAY), vec![a]);
    assert_eq!(
        f.auth.poll_timeout(),
        Some(f.t0 + DAY + Duration::from_secs(10))
    );
    assert_eq!(f.auth.handle_timeout(f.t0 + DAY * 2), vec![b]);
}

#[test]
fn conference_end_with_and_without_auto_login() {
    // Auto-login on: sessions outlive the conference.
    let mut f = Fixture::new(xmpp());
    f.login();
    f.auth.conference_ended(&f.room.clone());
    assert_eq!(f.auth.len(), 1);

    // Auto-login off: the sessions created for that room go.
    let mut f = Fixture::new(AuthSessions::new(&config(AuthType::Xmpp, false)));
    let s = f.login();
    f.room = bare("other@muc.example.com");
    let other = f
        .req(
            Duration::ZERO,
            Some("u2@auth.example.com/r"),
            Some(MUID2),
            None,
        )
        .unwrap()
        .unwrap();
    // Using a session for another room does not move it to that room.
    f.req(Duration::ZERO, Some(GUEST1), Some(MUID1), Some(&s.id))
        .unwrap();
    f.auth.conference_ended(&bare("room1@muc.example.com"));
    f.auth.assert_consistent();
    assert_eq!(f.auth.len(), 1);
    assert!(!f.auth.is_authenticated(&full(GUEST1)));
    assert_eq!(
        f.auth.session_for(&full("u2@auth.example.com/r")),
        Some(other)
    );
    f.auth.conference_ended(&bare("nothing@muc.example.com"));
    assert_eq!(f.auth.len(), 1);
}

#[test]
fn jwt_sessions() {
    // JWT ignores authentication-lifetime and enable-auto-login.
    let mut f = Fixture::new(AuthSessions::new(&config(AuthType::Jwt, true)));
    let s = f.login();
    assert_eq!(f.auth.poll_timeout(), Some(f.t0 + JWT_SESSION_LIFETIME));
    assert_eq!(
        f.auth.handle_timeout(f.t0 + Duration::from_secs(60)),
        vec![s]
    );

    let mut f = Fixture::new(AuthSessions::new(&config(AuthType::Jwt, true)));
    f.login();
    f.auth.conference_ended(&f.room.clone());
    assert!(f.auth.is_empty());
    assert_eq!(f.auth.login_url(&f.room, Some(MUID1)), Ok(None));
}

#[test]
fn logout() {
    let mut f = Fixture::new(xmpp());
    let s = f.login();
    assert_eq!(f.auth.logout("unknown"), Err(AuthError::InvalidSession));
    assert_eq!(f.auth.logout(""), Err(AuthError::InvalidSession));
    assert_eq!(f.auth.logout(&s.id), Ok(()));
    f.auth.assert_consistent();
    assert!(f.auth.is_empty());
    assert!(!f.auth.is_authenticated(&full(USER1)));
    assert_eq!(f.auth.logout(&s.id), Err(AuthError::InvalidSession));
}

#[test]
fn login_url() {
    let auth = xmpp();
    let room = bare("standup@muc.example.com");
    assert_eq!(
        auth.login_url(&room, Some(MUID1)),
        Ok(Some("./standup?login=true".to_owned()))
    );
    for muid in [None, Some(""), Some(" \t")] {
        assert_eq!(
            auth.login_url(&room, muid),
            Err(LoginUrlError::MissingMachineUid)
        );
    }
    assert_eq!(
        LoginUrlError::MissingMachineUid.to_string(),
        "missing mandatory attribute 'machineUID'"
    );
    assert_eq!(
        auth.login_url(&bare("muc.example.com"), Some(MUID1)),
        Err(LoginUrlError::InvalidRoom)
    );
}

#[test]
fn session_ids_are_deterministic() {
    let ids = || {
        let mut f = Fixture::new(xmpp());
        (0..3).map(|_| f.login().id).collect::<Vec<_>>()
    };
    assert_eq!(ids(), ids());
}

#[test]
fn sessions_per_identity_are_bounded() {
    let mut f = Fixture::new(xmpp());
    let first = f.login();
    for i in 1..200u64 {
        f.req(Duration::from_secs(i), Some(USER1), Some(MUID1), None)
            .unwrap();
    }
    assert_eq!(f.auth.len(), 64);
    assert_eq!(f.auth.logout(&first.id), Err(AuthError::InvalidSession));
    // Other identities are not affected.
    f.req(
        Duration::ZERO,
        Some("u2@auth.example.com/r"),
        Some(MUID2),
        None,
    )
    .unwrap();
    assert_eq!(f.auth.len(), 65);
}

// ---- JWT decoding ----

fn token(payload: &str) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(payload)
    )
}

fn ids(user: Option<&str>, group: Option<&str>) -> Option<JwtIds> {
    Some(JwtIds {
        user_id: user.map(str::to_owned),
        group_id: group.map(str::to_owned),
    })
}

#[test]
fn jwt_reads_user_and_group() {
    let t = token(
        r#"{"aud":"jitsi","iss":"app","sub":"meet.jitsi","room":"*","exp":1999999999,
            "context":{"user":{"id":"u-1","name":"Alice","email":"a@x"},"group":"g-7",
                       "features":{"recording":true}}}"#,
    );
    assert_eq!(jwt_ids(&t), ids(Some("u-1"), Some("g-7")));
    // Padding is accepted; the signature is never looked at.
    let payload = URL_SAFE.encode(r#"{"context":{"user":{"id":"??>>"}}}"#);
    assert!(payload.ends_with("==") && payload.contains('-') && payload.contains('_'));
    assert_eq!(jwt_ids(&format!("x.{payload}")), ids(Some("??>>"), None));
    assert_eq!(
        jwt_ids(&format!("x.{payload}.sig.extra")),
        ids(Some("??>>"), None)
    );
}

#[test]
fn jwt_missing_claims_and_coercion() {
    assert_eq!(jwt_ids(&token("{}")), ids(None, None));
    assert_eq!(jwt_ids(&token(r#"{"context":null}"#)), ids(None, None));
    assert_eq!(jwt_ids(&token(r#"{"context":{}}"#)), ids(None, None));
    assert_eq!(
        jwt_ids(&token(r#"{"context":{"user":null,"group":"g"}}"#)),
        ids(None, Some("g"))
    );
    assert_eq!(
        jwt_ids(&token(r#"{"context":{"user":{"id":42},"group":true}}"#)),
        ids(Some("42"), Some("true"))
    );
    assert_eq!(
        jwt_ids(&token(r#"{"context":{"user":{"name":"n"}}}"#)),
        ids(None, None)
    );
}

#[test]
fn jwt_garbage() {
    for bad in ["", "no-dots", "a.", "a.!!!!", "a.b.c", "..", "\u{0}.\u{0}"] {
        assert_eq!(jwt_ids(bad), None, "{bad:?}");
    }
    for payload in [
        "null",
        "[]",
        "\"s\"",
        "42",
        "{",
        r#"{"context":"x"}"#,
        r#"{"context":{"user":"x"}}"#,
        r#"{"context":{"user":{"id":{}}}}"#,
        r#"{"context":{"group":["g"]}}"#,
        // Duplicate keys anywhere make the token unreadable (as Jackson's
        // STRICT_DUPLICATE_DETECTION).
        r#"{"context":{"group":"a","group":"b"}}"#,
        r#"{"x":{"y":1,"y":2},"context":{"group":"a"}}"#,
        r#"{"context":{"group":"a"},"context":{"group":"b"}}"#,
    ] {
        assert_eq!(jwt_ids(&token(payload)), None, "{payload}");
    }
    // Invalid UTF-8 inside a string is replaced, not fatal.
    let mut raw = br#"{"context":{"group":"g"#.to_vec();
    raw.push(0xff);
    raw.extend_from_slice(br#""}}"#);
    let t = format!("h.{}", URL_SAFE_NO_PAD.encode(&raw));
    assert_eq!(jwt_ids(&t), ids(None, Some("g\u{fffd}")));
}

#[test]
fn jwt_size_bound() {
    let filler = "a".repeat(MAX_TOKEN_LEN);
    let big = token(&format!(
        r#"{{"context":{{"group":"g"}},"pad":"{filler}"}}"#
    ));
    assert!(big.len() > MAX_TOKEN_LEN);
    assert_eq!(jwt_ids(&big), None);
    let small = token(r#"{"context":{"group":"g"}}"#);
    assert!(small.len() <= MAX_TOKEN_LEN);
    assert_eq!(jwt_ids(&small), ids(None, Some("g")));
    // Deep nesting is refused by the JSON parser's recursion limit.
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    assert_eq!(jwt_ids(&token(&deep)), None);
}

// ---- property tests ----

#[derive(Debug, Clone)]
enum Op {
    Request {
        at: u16,
        sender: Option<usize>,
        room: usize,
        muid: Option<usize>,
        sid: Option<usize>,
    },
    Logout(usize),
    Ended(usize),
    Timeout(u16),
}

const SENDERS: &[&str] = &[
    "a@auth.example.com/1",
    "a@auth.example.com/2",
    "b@auth.example.com/1",
    "g1@guest.example.com/1",
    "g2@guest.example.com/1",
];
const ROOMS: &[&str] = &["r1@muc.example.com", "r2@muc.example.com"];
const MUIDS: &[&str] = &["", " ", "m1", "m2"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            any::<u16>(),
            proptest::option::of(0..SENDERS.len()),
            0..ROOMS.len(),
            proptest::option::of(0..MUIDS.len()),
            proptest::option::of(0..8usize),
        )
            .prop_map(|(at, sender, room, muid, sid)| Op::Request { at, sender, room, muid, sid }),
        1 => (0..8usize).prop_map(Op::Logout),
        1 => (0..ROOMS.len()).prop_map(Op::Ended),
        1 => any::<u16>().prop_map(Op::Timeout),
    ]
}

proptest! {
    #[test]
    fn sessions_never_panic_and_stay_bounded(
        kind in prop_oneof![Just(AuthType::None), Just(AuthType::Xmpp), Just(AuthType::Jwt)],
        auto_login in any::<bool>(),
        lifetime in 0u64..200,
        ops in proptest::collection::vec(op(), 0..60),
    ) {
        let mut cfg = config(kind, auto_login);
        cfg.authentication_lifetime = Duration::from_secs(lifetime);
        let mut auth = AuthSessions::new(&cfg);
        let mut rng = rng();
        let t0 = Instant::now();
        // Session ids seen, plus a few that never exist.
        let mut known: Vec<String> = vec!["bogus".into(), String::new()];
        let mut created = BTreeSet::new();
        for op in ops {
            match op {
                Op::Request { at, sender, room, muid, sid } => {
                    let sender = sender.map(|i| full(SENDERS[i]));
                    let sid = sid.map(|i| known[i % known.len()].clone());
                    let r = auth.authenticate(
                        t0 + Duration::from_secs(at.into()),
                        &mut rng,
                        sender.as_ref(),
                        &bare(ROOMS[room]),
                        muid.map(|i| MUIDS[i]),
                        sid.as_deref(),
                    );
                    if let Ok(Some(s)) = r {
                        prop_assert!(auth.enabled());
                        if let Some(sender) = &sender {
                            prop_assert!(auth.is_authenticated(sender));
                            prop_assert_eq!(auth.session_for(sender), Some(s.clone()));
                        }
                        if created.insert(s.id.clone()) {
                            known.push(s.id);
                        }
                    }
                }
                Op::Logout(i) => {
                    let id = known[i % known.len()].clone();
                    let _ = auth.logout(&id);
                }
                Op::Ended(room) => auth.conference_ended(&bare(ROOMS[room])),
                Op::Timeout(at) => {
                    let now = t0 + Duration::from_secs(at.into());
                    for s in auth.handle_timeout(now) {
                        prop_assert!(created.contains(&s.id));
                    }
                    if let Some(next) = auth.poll_timeout() {
                        prop_assert!(next > now);
                    }
                }
            }
            auth.assert_consistent();
            prop_assert!(auth.len() <= created.len());
            prop_assert_eq!(auth.is_empty(), auth.poll_timeout().is_none());
        }
    }

    #[test]
    fn jwt_ids_never_panics(s in ".{0,200}") {
        let _ = jwt_ids(&s);
        let _ = jwt_ids(&format!("h.{}", URL_SAFE_NO_PAD.encode(&s)));
    }

    #[test]
    fn jwt_ids_reads_any_string_ids(user in ".{0,40}", group in ".{0,40}") {
        let payload = serde_json::json!({"context": {"user": {"id": user}, "group": group}});
        let t = token(&payload.to_string());
        prop_assert_eq!(jwt_ids(&t), ids(Some(&user), Some(&group)));
    }
}
