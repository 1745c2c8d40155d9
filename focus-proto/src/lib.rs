//! Sans-IO core of the conference focus.
//!
//! Nothing in this crate owns a socket, a clock, a task or an OS random
//! source: bytes, stanzas, HTTP requests and time come in as arguments, and
//! bytes, stanzas, HTTP answers, events and deadlines come out.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
// Tests may read the clock; the core itself never does (see clippy.toml).
#![cfg_attr(any(test, feature = "fuzzing"), allow(clippy::disallowed_methods))]

pub mod auth;
pub mod bridge;
pub mod conference;
pub mod config;
#[cfg(feature = "driver")]
pub mod driver;
pub mod ext;
pub mod focus;
pub mod http;
pub mod metrics;
pub mod rest;
pub mod rng;
pub mod source;
pub mod timers;
pub mod xml;
pub mod xmpp;

pub use focus::{ApiMisuse, ConnId, Event, Focus, HttpId, Input, Output};
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
