//! Simulation and end-to-end test support for the focus.
//!
//! - [`e2e`]: a real Prosody from `scripts/prosody/`, the focus binaries as
//!   child processes with their logs, and a small HTTP client;
//! - [`emulator`]: a Jitsi Videobridge stand-in, for the simulation and
//!   the `bridge-emulator` binary;
//! - [`fuzz`]: structured fuzzing of the focus through the simulation
//!   (the `jingle_session` fuzz target);
//! - [`xmpp_client`]: a blocking XMPP client built on the focus's own
//!   sans-IO stream, to play a peer of the focus.

pub mod e2e;
pub mod emulator;
pub mod fuzz;
pub mod sim;
pub mod xmpp_client;
