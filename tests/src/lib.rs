//! Simulation and end-to-end test support.
