//! The XMPP client side: the sans-IO stream, SASL, and namespaces.

pub mod iq;
pub mod ns;
pub mod sasl;
pub mod stream;

pub use stream::{CloseReason, StreamConfig, StreamEvent, XmppStream};
