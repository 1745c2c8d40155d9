//! Jitsi Videobridges: the pool the brewery MUC shows, and each bridge's
//! state as the focus judges it.
//!
//! * [`Bridge`] is one bridge: the stats it last published (with Jicofo's
//!   sticky and initial values), whether it is operational (with the
//!   `failure-reset-threshold` rule), and the load the focus put on it.
//! * [`BridgeRegistry`] is the pool, fed by brewery presence.
//! * [`selection`] chooses a bridge for a new participant (Jicofo's
//!   selector and strategies, as a pure function of the pool).
//! * [`topology`] decides which relays connect a conference's bridges.

pub(crate) mod brewery;
mod events;
mod registry;
pub mod selection;
pub mod topology;

#[cfg(test)]
pub(crate) mod test_support;

pub use events::BridgeEvent;
pub use registry::{Bridge, BridgeChange, BridgeRegistry};
pub use selection::{
    BridgeSelector, ConferenceBridge, ParticipantProperties, Selected, SelectionError,
    SelectorConfigError,
};
pub use topology::{Cascade, CascadeError, NewLink, NodeLoad, Removal, TopologySelection};
