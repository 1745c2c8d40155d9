//! `jicofo.conf`: the HOCON file operators already have, read into typed
//! settings with Jicofo's `reference.conf` defaults.
//!
//! Loading works as in Jicofo (Typesafe config): the built-in
//! `reference.conf` (Jicofo's default values) is the lowest layer, the
//! operator's file (with its includes) is merged over it, then `${…}`
//! substitutions are resolved against the merged tree (so the default
//! `resource = ${jicofo.xmpp.client.username}` follows an overridden
//! username), falling back to environment variables. The `jicofo` subtree is
//! then deserialized leniently: quoted numbers, booleans and durations
//! convert on read. Keys the focus does not read become warnings, never
//! errors; a bad value is an error naming the key and the file and line.
//!
//! The parser ([`hocon`]) does no I/O itself: [`Config::load_with`] takes a
//! file reader and an environment lookup; [`Config::load`] uses `std::fs`
//! and `std::env`.

mod de;
pub mod hocon;
mod types;

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;

pub use de::parse_duration;
pub use hocon::Origin;
pub use types::*;

use hocon::{Document, HoconError, Value, ValueKind};

/// The path Jicofo's packages install the file at.
pub const DEFAULT_PATH: &str = "/etc/jitsi/jicofo/jicofo.conf";

/// The built-in defaults (Jicofo's values, own wording).
pub const REFERENCE_CONF: &str = include_str!("reference.conf");

/// How the built-in defaults are named in messages.
const REFERENCE_ORIGIN: &str = "reference.conf (built in)";

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file cannot be read (the main file, or a required include).
    #[error("{}: cannot read the configuration{}: {source}", path.display(), included_from.as_ref().map(|o| format!(" (included at {o})")).unwrap_or_default())]
    Io {
        /// The file.
        path: PathBuf,
        /// The include statement naming it, if any.
        included_from: Option<Origin>,
        /// The reader's error.
        source: io::Error,
    },
    /// The text is not valid HOCON.
    #[error("{origin}:{line}: syntax error: {message}")]
    Syntax {
        /// The file.
        origin: String,
        /// The line, counting from 1.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// A `${…}` substitution cannot be resolved.
    #[error("{origin}:{line}: cannot resolve {key}: {message}")]
    Substitution {
        /// The key whose value holds the substitution.
        key: String,
        /// The file.
        origin: String,
        /// The line of the substitution.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// A key has a value of the wrong kind.
    #[error("{origin}:{line}: bad value for {key}: {message}")]
    BadValue {
        /// The full key, e.g. `jicofo.xmpp.client.port`.
        key: String,
        /// The file the value was written in.
        origin: String,
        /// Its line.
        line: u32,
        /// What is wrong.
        message: String,
    },
    /// A key the focus needs is not set.
    #[error("{file}: {key} must be set ({why})")]
    Missing {
        /// The configuration file.
        file: String,
        /// The full key.
        key: String,
        /// What it is needed for.
        why: &'static str,
    },
}

impl From<HoconError> for ConfigError {
    fn from(e: HoconError) -> Self {
        match e {
            HoconError::Syntax { origin, message } => Self::Syntax {
                origin: origin.file.to_string(),
                line: origin.line,
                message,
            },
            HoconError::Io {
                path,
                included_from,
                source,
            } => Self::Io {
                path,
                included_from,
                source,
            },
            HoconError::Resolve {
                key,
                origin,
                message,
            } => Self::Substitution {
                key,
                origin: origin.file.to_string(),
                line: origin.line,
                message,
            },
        }
    }
}

/// A key set in the configuration that the focus does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The full key, e.g. `jicofo.conference.enable-multi-stream-backward-compat`.
    pub key: String,
    /// Where it was set.
    pub origin: Origin,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (set at {})", self.key, self.origin)
    }
}

/// A configuration and what was noticed while reading it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The settings.
    pub config: Config,
    /// Keys set that the focus does not read (known sections first, in
    /// the order of the built-in defaults, then new ones as written).
    pub unknown_keys: Vec<ConfigWarning>,
}

impl Default for Config {
    /// Jicofo's defaults: the built-in reference layer alone.
    fn default() -> Self {
        static REFERENCE: OnceLock<Config> = OnceLock::new();
        REFERENCE
            .get_or_init(|| {
                match Config::from_document(Document::empty(REFERENCE_ORIGIN), &hocon::no_env) {
                    Ok(loaded) => loaded.config,
                    // The built-in text is a constant covered by the tests.
                    Err(e) => panic!("the built-in reference.conf is broken: {e}"),
                }
            })
            .clone()
    }
}

impl Config {
    /// Reads the file at `path` with `std::fs`, environment substitutions
    /// from the process environment. A missing file is an error naming it.
    pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
        Self::load_with(path, &|p| std::fs::read_to_string(p), &|k| {
            std::env::var(k).ok()
        })
    }

    /// Reads the file at `path` through `read` (includes too; `NotFound`
    /// skips an include), substitutions not in the tree from `env`.
    pub fn load_with(
        path: &Path,
        read: &dyn Fn(&Path) -> io::Result<String>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Loaded, ConfigError> {
        let user = Document::load(path, read)?;
        Self::from_document(user, env)
    }

    /// Parses `text` as a `jicofo.conf`; `origin` names it in messages.
    /// Includes are skipped and there is no environment.
    pub fn from_hocon_str(text: &str, origin: &str) -> Result<Loaded, ConfigError> {
        Self::from_hocon_str_with(text, origin, &hocon::no_env)
    }

    /// Parses `text` as a `jicofo.conf` with substitutions falling back to
    /// `env`. Includes are skipped.
    pub fn from_hocon_str_with(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Loaded, ConfigError> {
        let user = Document::parse(text, origin, &hocon::no_files)?;
        Self::from_document(user, env)
    }

    /// Merges `user` over the reference layer, resolves and deserializes.
    fn from_document(
        user: Document,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Loaded, ConfigError> {
        let mut doc = Document::parse(REFERENCE_CONF, REFERENCE_ORIGIN, &hocon::no_files)?;
        doc.merge(user);
        let root = doc.resolve(env)?;
        Self::from_tree(&root)
    }

    /// Deserializes the `jicofo` subtree of a resolved tree.
    fn from_tree(root: &Value) -> Result<Loaded, ConfigError> {
        let unread = RefCell::new(Vec::new());
        let top = de::KeyPath::Root("");
        let mut jicofo = None;
        if let ValueKind::Object(o) = &root.kind {
            for (key, value) in o.iter() {
                if key == "jicofo" {
                    jicofo = Some(value);
                } else {
                    let path = de::KeyPath::Key(&top, key);
                    unread
                        .borrow_mut()
                        .push((path.to_string(), value.origin.clone()));
                }
            }
        }
        let Some(jicofo) = jicofo else {
            return Err(ConfigError::BadValue {
                key: "jicofo".into(),
                origin: root.origin.file.to_string(),
                line: root.origin.line,
                message: "the `jicofo` section is missing".into(),
            });
        };
        let path = de::KeyPath::Root("jicofo");
        let config = Config::deserialize(de::De::new(jicofo, path, &unread)).map_err(|e| {
            let e = e.at(&path, &jicofo.origin);
            let origin = e.origin.unwrap_or_else(|| jicofo.origin.clone());
            ConfigError::BadValue {
                key: e.key.unwrap_or_else(|| "jicofo".into()),
                origin: origin.file.to_string(),
                line: origin.line,
                message: e.message,
            }
        })?;
        let unknown_keys = unread
            .into_inner()
            .into_iter()
            .map(|(key, origin)| ConfigWarning { key, origin })
            .collect();
        Ok(Loaded {
            config,
            unknown_keys,
        })
    }

    /// Checks that what the focus needs is set: the client connection's
    /// `domain` and `xmpp-domain` (when it is enabled) and the service
    /// connection's `domain` (when it is enabled). `file` names the
    /// configuration in the error.
    pub fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let missing = |key: &str, why| {
            Err(ConfigError::Missing {
                file: file.to_owned(),
                key: key.to_owned(),
                why,
            })
        };
        let unset = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        let client = &self.xmpp.client;
        if client.enabled {
            if unset(&client.domain) {
                return missing(
                    "jicofo.xmpp.client.domain",
                    "the domain the focus logs in to",
                );
            }
            if unset(&client.xmpp_domain) {
                return missing("jicofo.xmpp.client.xmpp-domain", "the main XMPP domain");
            }
        }
        let service = &self.xmpp.service;
        if service.enabled && unset(&service.domain) {
            return missing(
                "jicofo.xmpp.service.domain",
                "the service connection's login domain",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
