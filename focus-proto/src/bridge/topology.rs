//! Relay topology between the bridges of one conference.
//! (Being written; see the bridges issue.)
