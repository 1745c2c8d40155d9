//! [`BridgeEvent`]: what the focus observed about its bridges.

use jid::FullJid;

/// Something that happened to the bridge pool, for metrics, logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BridgeEvent {
    /// The focus joined the brewery room.
    BreweryJoined,
    /// The focus is no longer in the brewery room (connection lost, left,
    /// kicked); every bridge was removed.
    BreweryLeft,
    /// A bridge appeared in the brewery.
    Added {
        /// Its occupant JID.
        jid: FullJid,
    },
    /// A bridge left the brewery.
    Removed {
        /// Its occupant JID.
        jid: FullJid,
        /// It went without announcing a shutdown.
        lost: bool,
    },
    /// A bridge entered its final shutdown phase.
    ShuttingDown {
        /// Its occupant JID.
        jid: FullJid,
    },
    /// A health check passed.
    HealthCheckPassed {
        /// Its occupant JID.
        jid: FullJid,
    },
    /// A health check failed (the bridge said it is unhealthy): the bridge
    /// is non-operational and its participants must move.
    HealthCheckFailed {
        /// Its occupant JID.
        jid: FullJid,
    },
    /// A health check and its retry went unanswered: the bridge is
    /// non-operational, nobody is moved.
    HealthCheckTimedOut {
        /// Its occupant JID.
        jid: FullJid,
    },
}
