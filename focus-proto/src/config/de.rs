//! A lenient serde `Deserializer` over a resolved HOCON [`Value`], converting
//! the way Typesafe config (and so Jicofo) does: `"5222"` reads as a number,
//! `"true"` / `yes` / `on` as a boolean, a number as a string where a string
//! is wanted. Errors carry the full key and the origin of the value; keys the
//! types do not read are collected, never rejected.

use std::cell::RefCell;
use std::fmt;
use std::time::Duration;

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::forward_to_deserialize_any;

use super::hocon::{Origin, Value, ValueKind};

/// A key path for messages: `jicofo.xmpp.client.port`, `….region-groups[1]`.
#[derive(Clone, Copy)]
pub(crate) enum KeyPath<'a> {
    Root(&'a str),
    Key(&'a KeyPath<'a>, &'a str),
    Index(&'a KeyPath<'a>, usize),
}

/// Writes `key` as a path element, quoted when it is not a plain word.
pub(crate) fn write_key(f: &mut impl fmt::Write, key: &str) -> fmt::Result {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        f.write_str(key)
    } else {
        write!(f, "\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

impl fmt::Display for KeyPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyPath::Root(name) => f.write_str(name),
            KeyPath::Key(parent, key) => {
                if !matches!(parent, KeyPath::Root("")) {
                    write!(f, "{parent}.")?;
                }
                write_key(f, key)
            }
            KeyPath::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// A deserialization error, located at the innermost key it concerns.
#[derive(Debug)]
pub(crate) struct DeError {
    /// The full key, once known.
    pub(crate) key: Option<String>,
    /// Where the offending value was written, once known.
    pub(crate) origin: Option<Origin>,
    /// What is wrong.
    pub(crate) message: String,
}

impl DeError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            key: None,
            origin: None,
            message: message.into(),
        }
    }

    /// Sets the location unless an inner one is already known.
    pub(crate) fn at(mut self, path: &KeyPath<'_>, origin: &Origin) -> Self {
        if self.key.is_none() {
            self.key = Some(path.to_string());
            self.origin = Some(origin.clone());
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::new(msg.to_string())
    }
}

/// Keys present in the tree that the types did not read.
pub(crate) type Unread = RefCell<Vec<(String, Origin)>>;

/// The deserializer over one value.
pub(crate) struct De<'a> {
    value: &'a Value,
    path: KeyPath<'a>,
    unread: &'a Unread,
}

impl<'a> De<'a> {
    /// Deserializes `value`, found at `path`, noting unread keys in `unread`.
    pub(crate) fn new(value: &'a Value, path: KeyPath<'a>, unread: &'a Unread) -> Self {
        Self {
            value,
            path,
            unread,
        }
    }

    fn scalar_text(&self) -> Option<&'a str> {
        match &self.value.kind {
            ValueKind::String(s) => Some(s.trim()),
            ValueKind::Number(n) => Some(n),
            ValueKind::Bool(true) => Some("true"),
            ValueKind::Bool(false) => Some("false"),
            _ => None,
        }
    }

    fn expected(&self, what: &str) -> DeError {
        DeError::new(format!("expected {what}, found {}", self.value.describe()))
    }

    fn int<T: TryFrom<i128>>(&self, ty: &str) -> Result<T, DeError> {
        let text = match &self.value.kind {
            ValueKind::String(_) | ValueKind::Number(_) => self.scalar_text().unwrap_or(""),
            _ => return Err(self.expected(&format!("an integer ({ty})"))),
        };
        let n: i128 = text
            .parse()
            .map_err(|_| self.expected(&format!("an integer ({ty})")))?;
        T::try_from(n).map_err(|_| DeError::new(format!("{n} is out of range for {ty}")))
    }

    fn float(&self) -> Result<f64, DeError> {
        let text = match &self.value.kind {
            ValueKind::String(_) | ValueKind::Number(_) => self.scalar_text().unwrap_or(""),
            _ => return Err(self.expected("a number")),
        };
        // Rust also parses `inf` and `NaN`; HOCON numbers are digits only.
        let numeric = text
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
        match text.parse::<f64>() {
            Ok(f) if numeric && f.is_finite() => Ok(f),
            _ => Err(self.expected("a number")),
        }
    }
}

macro_rules! ints {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            visitor.$visit(self.int::<$ty>(stringify!($ty))?)
        }
    )*};
}

impl<'de> Deserializer<'de> for De<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.value.kind {
            ValueKind::Object(_) => self.deserialize_map(visitor),
            ValueKind::Array(_) => self.deserialize_seq(visitor),
            ValueKind::String(s) => visitor.visit_str(s),
            ValueKind::Number(n) => {
                if let Ok(u) = n.parse::<u64>() {
                    visitor.visit_u64(u)
                } else if let Ok(i) = n.parse::<i64>() {
                    visitor.visit_i64(i)
                } else {
                    match n.parse::<f64>() {
                        Ok(f) if f.is_finite() => visitor.visit_f64(f),
                        _ => visitor.visit_str(n),
                    }
                }
            }
            ValueKind::Bool(b) => visitor.visit_bool(*b),
            ValueKind::Null => visitor.visit_unit(),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = match &self.value.kind {
            ValueKind::Bool(b) => return visitor.visit_bool(*b),
            ValueKind::String(_) => self.scalar_text().unwrap_or(""),
            _ => "",
        };
        match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => visitor.visit_bool(true),
            "false" | "no" | "off" => visitor.visit_bool(false),
            _ => Err(self.expected("a boolean (true/false, yes/no, on/off)")),
        }
    }

    ints! {
        deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32, deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32, deserialize_u64 => visit_u64: u64,
        deserialize_i128 => visit_i128: i128, deserialize_u128 => visit_u128: u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        #[allow(clippy::cast_possible_truncation)]
        visitor.visit_f32(self.float()? as f32)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_f64(self.float()?)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.value.kind {
            ValueKind::String(s) | ValueKind::Number(s) => visitor.visit_str(s),
            ValueKind::Bool(b) => visitor.visit_str(if *b { "true" } else { "false" }),
            _ => Err(self.expected("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value.kind {
            ValueKind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value.kind {
            ValueKind::Null => visitor.visit_unit(),
            _ => Err(self.expected("null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.value.kind {
            ValueKind::Array(items) => visitor.visit_seq(Items {
                items: items.iter().enumerate(),
                path: self.path,
                unread: self.unread,
            }),
            _ => Err(self.expected("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.value.kind {
            ValueKind::Object(o) => visitor.visit_map(Fields {
                entries: o.entries().iter(),
                pending: None,
                path: self.path,
                unread: self.unread,
            }),
            _ => Err(self.expected("an object")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.scalar_text() {
            Some(name) => visitor.visit_enum(name.into_deserializer()),
            None => Err(self.expected(&format!("one of {}", variants.join(", ")))),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.unread
            .borrow_mut()
            .push((self.path.to_string(), self.value.origin.clone()));
        visitor.visit_unit()
    }

    forward_to_deserialize_any! { bytes byte_buf }
}

struct Fields<'a> {
    entries: std::slice::Iter<'a, (String, Value)>,
    pending: Option<&'a (String, Value)>,
    path: KeyPath<'a>,
    unread: &'a Unread,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some(entry);
        let (key, value) = entry;
        let path = KeyPath::Key(&self.path, key);
        seed.deserialize(KeyDe(key))
            .map(Some)
            .map_err(|e| e.at(&path, &value.origin))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.pending.take() else {
            return Err(DeError::new("internal: a value without a key"));
        };
        let path = KeyPath::Key(&self.path, key);
        seed.deserialize(De {
            value,
            path,
            unread: self.unread,
        })
        .map_err(|e| e.at(&path, &value.origin))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct Items<'a> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Value>>,
    path: KeyPath<'a>,
    unread: &'a Unread,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((i, value)) = self.items.next() else {
            return Ok(None);
        };
        let path = KeyPath::Index(&self.path, i);
        seed.deserialize(De {
            value,
            path,
            unread: self.unread,
        })
        .map(Some)
        .map_err(|e| e.at(&path, &value.origin))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// An object key: a string, or a number where a number is wanted
/// (`source-signaling-delays { 50 = 500 }`).
struct KeyDe<'a>(&'a str);

impl KeyDe<'_> {
    fn int<T: std::str::FromStr>(&self, ty: &str) -> Result<T, DeError> {
        self.0
            .trim()
            .parse()
            .map_err(|_| DeError::new(format!("the key \"{}\" is not an integer ({ty})", self.0)))
    }
}

macro_rules! key_ints {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            visitor.$visit(self.int::<$ty>(stringify!($ty))?)
        }
    )*};
}

impl<'de> Deserializer<'de> for KeyDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.0)
    }

    key_ints! {
        deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32, deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32, deserialize_u64 => visit_u64: u64,
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    forward_to_deserialize_any! {
        bool f32 f64 i128 u128 char str string bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

// ---------------------------------------------------------------------------
// Durations.

/// Parses a HOCON duration: `15 seconds`, `20s`, `500 ms`, `2 minutes`,
/// `24 hours`, `1 day`, `1.5 h`; a bare number means milliseconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    let nanos_per_unit = match unit.trim() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => MS,
        "us" | "micro" | "micros" | "microsecond" | "microseconds" => 1_000,
        "ns" | "nano" | "nanos" | "nanosecond" | "nanoseconds" => 1,
        "s" | "second" | "seconds" => S,
        "m" | "minute" | "minutes" => 60 * S,
        "h" | "hour" | "hours" => 3600 * S,
        "d" | "day" | "days" => 86400 * S,
        _ => return None,
    };
    // Whole numbers exactly, without float rounding.
    if let Ok(n) = number.parse::<u64>() {
        let nanos = u128::from(n) * u128::from(nanos_per_unit);
        let secs = u64::try_from(nanos / u128::from(S)).ok()?;
        let sub = u32::try_from(nanos % u128::from(S)).ok()?;
        return Some(Duration::new(secs, sub));
    }
    let number: f64 = number.parse().ok()?;
    if !number.is_finite() {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let scale = nanos_per_unit as f64 / 1e9;
    Duration::try_from_secs_f64(number * scale).ok()
}

const DURATION_HINT: &str =
    "use e.g. `15 seconds`, `500 ms`, `2 minutes`, `24 hours`; a bare number means milliseconds";

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as `15 seconds`")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        Ok(Duration::from_millis(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .map(Duration::from_millis)
            .map_err(|_| E::custom("a duration cannot be negative"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v)
            .ok_or_else(|| E::custom(format!("\"{v}\" is not a duration ({DURATION_HINT})")))
    }
}

/// `deserialize_with` for a [`Duration`].
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_str(DurationVisitor)
}

/// `deserialize_with` for an optional [`Duration`] (`null` or absent: none).
pub(crate) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    struct Opt;
    impl<'de> Visitor<'de> for Opt {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as `15 seconds`, or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            duration(d).map(Some)
        }
    }
    d.deserialize_option(Opt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = parse_duration;
        assert_eq!(d("15 seconds"), Some(Duration::from_secs(15)));
        assert_eq!(d("20s"), Some(Duration::from_secs(20)));
        assert_eq!(d("500 ms"), Some(Duration::from_millis(500)));
        assert_eq!(d("250 millis"), Some(Duration::from_millis(250)));
        assert_eq!(d("1 minute"), Some(Duration::from_secs(60)));
        assert_eq!(d("2 minutes"), Some(Duration::from_secs(120)));
        assert_eq!(d("3m"), Some(Duration::from_secs(180)));
        assert_eq!(d("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(d("24 hours"), Some(Duration::from_secs(86400)));
        assert_eq!(d("1 day"), Some(Duration::from_secs(86400)));
        assert_eq!(d("2d"), Some(Duration::from_secs(172_800)));
        assert_eq!(d("7 days"), Some(Duration::from_secs(604_800)));
        assert_eq!(d("1.5 h"), Some(Duration::from_secs(5400)));
        assert_eq!(d("50"), Some(Duration::from_millis(50)));
        assert_eq!(d(" 10 us "), Some(Duration::from_micros(10)));
        assert_eq!(d("0"), Some(Duration::ZERO));
        assert_eq!(d("soon"), None);
        assert_eq!(d("-3s"), None);
        assert_eq!(d("3 fortnights"), None);
        assert_eq!(d(""), None);
        assert_eq!(d("1e999 s"), None);
        assert_eq!(d("99999999999999999999 d"), None);
        assert_eq!(d("18446744073709551615 d"), None);
    }

    #[test]
    fn key_paths_quote_odd_keys() {
        let root = KeyPath::Root("jicofo");
        let a = KeyPath::Key(&root, "transcription");
        let b = KeyPath::Key(&a, "CF-Access-Client-Id");
        assert_eq!(b.to_string(), "jicofo.transcription.CF-Access-Client-Id");
        let c = KeyPath::Key(&a, "a.b");
        assert_eq!(c.to_string(), "jicofo.transcription.\"a.b\"");
        let d = KeyPath::Index(&a, 2);
        assert_eq!(d.to_string(), "jicofo.transcription[2]");
        let top = KeyPath::Root("");
        assert_eq!(KeyPath::Key(&top, "akka").to_string(), "akka");
    }
}
