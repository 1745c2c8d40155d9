//! Jitsi Videobridges: the pool the brewery MUC shows, and each bridge's
//! state as the focus judges it.
//!
//! * [`Bridge`] is one bridge: the stats it last published (with Jicofo's
//!   sticky and initial values), whether it is operational (with the
//!   `failure-reset-threshold` rule), and the load the focus put on it.
//! * [`BridgeRegistry`] is the pool, fed by brewery presence.
//!
//! Selection and health checks build on these (see the bridges issue).

pub(crate) mod brewery;
mod events;
mod registry;
pub mod selection;
pub mod topology;

pub use events::BridgeEvent;
pub use registry::{Bridge, BridgeChange, BridgeRegistry};
