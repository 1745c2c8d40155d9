//! Jingle with Jitsi's additions. (Being written; see the conference issue.)
