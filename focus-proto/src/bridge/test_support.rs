//! Helpers shared by the bridge tests: the brewery room, its bridges' JIDs
//! and the presence they send.

use jid::{BareJid, FullJid};
use minidom::Element;

use super::BridgeRegistry;
use crate::ext::brewery::BridgeStats;

/// The brewery room of the tests.
pub(crate) const BREWERY: &str = "jvbbrewery@internal-muc.meet.jitsi";

/// The occupant JID of bridge `nick` in the brewery.
pub(crate) fn bridge_jid(nick: &str) -> FullJid {
    FullJid::new(&format!("{BREWERY}/{nick}")).expect("valid JID")
}

/// An empty pool for the brewery.
pub(crate) fn empty_registry() -> BridgeRegistry {
    BridgeRegistry::new(BareJid::new(BREWERY).expect("valid"))
}

/// Bridge `nick`'s presence carrying `stats`, as the MUC delivers it to
/// the focus.
pub(crate) fn stats_presence(nick: &str, stats: &BridgeStats) -> Element {
    Element::builder("presence", crate::xmpp::ns::CLIENT)
        .attr(crate::xml::ncname("from"), format!("{BREWERY}/{nick}"))
        .attr(crate::xml::ncname("to"), "focus@auth.meet.jitsi/focus")
        .append(stats.to_element())
        .build()
}

/// Bridge `nick` leaving the brewery.
pub(crate) fn unavailable(nick: &str) -> Element {
    format!(
        "<presence xmlns='jabber:client' type='unavailable' from='{BREWERY}/{nick}'>\
           <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/></x></presence>"
    )
    .parse()
    .expect("xml")
}
