//! Free loopback ports for the servers a test starts.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::Mutex;

/// Every port handed out by this process, so that two tests running in
/// parallel never get the same one (the kernel may offer a released port
/// again at once).
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// `N` distinct free TCP ports on 127.0.0.1.
///
/// The ports are found by binding port 0 and released before returning, so
/// another process may still take one in between; the callers that start
/// servers on them retry with new ports when that happens.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    // Hold every listener until all N are chosen, so they differ.
    let mut held = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    let mut found = 0;
    let mut tries = 0;
    while found < N {
        tries += 1;
        assert!(tries < 1000, "no free loopback port found");
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        held.push(listener);
        if handed_out.insert(port) {
            ports[found] = port;
            found += 1;
        }
    }
    ports
}

/// One free TCP port on 127.0.0.1; see [`free_ports`].
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let ports = free_ports::<5>();
        let unique: BTreeSet<_> = ports.iter().collect();
        assert_eq!(unique.len(), 5);
        for port in ports {
            TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
        }
        assert!(!ports.contains(&free_port()));
    }
}
