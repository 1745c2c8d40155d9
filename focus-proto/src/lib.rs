//! Sans-IO core of the conference focus.
//!
//! Nothing in this crate owns a socket, a clock, a task or an OS random
//! source: bytes, stanzas, HTTP requests and time come in as arguments, and
//! bytes, stanzas, HTTP answers, events and deadlines come out.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod config;
pub mod xml;
