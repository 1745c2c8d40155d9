//! `bridge-emulator`: a Jitsi Videobridge stand-in over a real XMPP
//! connection. (Being written; see the bridges issue.)

fn main() {}
