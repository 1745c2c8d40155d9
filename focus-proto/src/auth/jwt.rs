//! Reading a JWT's claims without validating it.
//!
//! Prosody validates the token when the client logs in; the focus only reads
//! `context.user.id` and `context.group` from the payload (for the visitors
//! main-room allow-list). This follows Jicofo's `JitsiToken.parseWithoutValidation`:
//! the second dot-separated part is decoded as unpadded-or-padded base64url,
//! read as UTF-8 (invalid sequences replaced) and parsed as JSON; duplicate
//! keys anywhere make the whole token unreadable, and scalar ids are read as
//! their text (`"id": 42` reads as `"42"`).

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Tokens longer than this (bytes) are not read at all.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The ids a JWT's payload names (`context.user.id`, `context.group`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JwtIds {
    /// `context.user.id`.
    pub user_id: Option<String>,
    /// `context.group`.
    pub group_id: Option<String>,
}

const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes a JWT's payload WITHOUT validation and reads `context.user.id` and
/// `context.group`.
///
/// Any failure (fewer than two parts, bad base64url, not a JSON object,
/// duplicate keys, `context` or `context.user` not an object, an id that is
/// an object or an array) gives `None`, as does a token over
/// [`MAX_TOKEN_LEN`] bytes. A readable token without these claims gives
/// `Some` with both ids `None`.
pub fn jwt_ids(token: &str) -> Option<JwtIds> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let mut parts = token.split('.');
    let _header = parts.next()?;
    let payload = parts.next()?;
    let bytes = BASE64URL.decode(payload).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let Strict(value) = serde_json::from_str(&text).ok()?;
    let claims = value.as_object()?;
    let Some(context) = non_null(claims.get("context")) else {
        return Some(JwtIds::default());
    };
    let context = context.as_object()?;
    let group_id = text_of(context.get("group"))?;
    let user_id = match non_null(context.get("user")) {
        Some(user) => text_of(user.as_object()?.get("id"))?,
        None => None,
    };
    Some(JwtIds { user_id, group_id })
}

fn non_null(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// A string-typed claim: `Some(None)` when absent or null, `None` when it
/// cannot be read as text (an object or an array).
fn text_of(v: Option<&Value>) -> Option<Option<String>> {
    match non_null(v) {
        None => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(Value::Number(n)) => Some(Some(n.to_string())),
        Some(Value::Bool(b)) => Some(Some(b.to_string())),
        Some(_) => None,
    }
}

/// A JSON value whose objects have no duplicate keys.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut seen = BTreeSet::new();
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}
