//! Entry points of the fuzz targets in `fuzz/`, also replayed over the
//! committed corpora by `cargo test`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;
use crate::focus::{Focus, HttpId, Input, Output};
use crate::http::{HttpConnection, HttpEvent};
use crate::xmpp::{StreamConfig, StreamEvent, XmppStream};

/// Feeds `data` as server bytes to a client stream, in chunks whose sizes
/// come from the first byte, doing STARTTLS and timeouts as a runtime would.
pub fn xmpp_stream(data: &[u8]) {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let start = Instant::now();
    let mut now = start;
    let mut stream = XmppStream::new(
        StreamConfig::new("auth.meet.jitsi", "focus", "pw", "focus"),
        now,
        [0; 32],
    );
    let mut closed = false;
    for piece in data.chunks(chunk) {
        stream.handle_input(now, piece);
        while stream.poll_transmit().is_some() {}
        while let Some(event) = stream.poll_event() {
            assert!(!closed, "no event after Closed");
            match event {
                StreamEvent::StartTls => stream.handle_tls_established(now),
                StreamEvent::Closed(_) => closed = true,
                StreamEvent::Ready { .. } | StreamEvent::Stanza(_) => {}
            }
        }
        now += Duration::from_secs(1);
        if stream.poll_timeout().is_some_and(|t| t <= now) {
            stream.handle_timeout(now);
        }
    }
    stream.handle_eof();
    while stream.poll_event().is_some() {}
    assert!(stream.is_closed());
}

/// Feeds `data` to an HTTP connection and routes every request through a
/// fresh [`Focus`].
pub fn http_request(data: &[u8]) {
    let now = Instant::now();
    let mut focus = Focus::new(
        Arc::new(Config::default()),
        [0; 32],
        now,
        SystemTime::UNIX_EPOCH,
    );
    let mut conn = HttpConnection::new();
    let mut next = conn.handle_input(data);
    let mut served = 0;
    while let Some(event) = next.take() {
        match event {
            HttpEvent::Reject(bytes) => {
                assert!(bytes.starts_with(b"HTTP/1.1 "));
                assert!(conn.is_closed());
            }
            HttpEvent::Request(request) => {
                served += 1;
                let _ = focus.handle_input(
                    now,
                    Input::Http {
                        id: HttpId(served),
                        request,
                    },
                );
                let response = std::iter::from_fn(|| focus.poll_output())
                    .find_map(|o| match o {
                        Output::Http { response, .. } => Some(response),
                        _ => None,
                    })
                    .expect("every request is answered");
                conn.respond(&response);
                if !conn.is_closed() {
                    next = conn.handle_input(&[]);
                }
            }
        }
    }
}

/// Parses `data` as a `jicofo.conf`.
pub fn hocon(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::from_hocon_str(text, "fuzz.conf");
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Replays every committed corpus entry through its target.
    #[test]
    fn replay_corpora() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 3] = [
            ("xmpp_stream", super::xmpp_stream),
            ("http_request", super::http_request),
            ("hocon", super::hocon),
        ];
        let mut replayed = 0;
        for (name, target) in targets {
            let dir = root.join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                let data = std::fs::read(&path).unwrap();
                target(&data);
                replayed += 1;
            }
        }
        assert!(replayed > 0, "the corpora under fuzz/corpus are committed");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Arbitrary server bytes never panic the stream, and it always ends
        /// closed after end of file.
        #[test]
        fn xmpp_stream_survives_anything(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            super::xmpp_stream(&data);
        }

        /// Arbitrary bytes after a valid negotiation prefix never panic.
        #[test]
        fn xmpp_stream_survives_mutated_streams(
            seed in 0usize..4,
            cut in 0usize..4096,
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        ) {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/xmpp_stream");
            let mut names: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
            names.sort();
            let mut data = std::fs::read(&names[seed % names.len()]).unwrap();
            data.truncate(cut.max(1));
            data.extend_from_slice(&tail);
            super::xmpp_stream(&data);
        }

        /// Arbitrary bytes never panic the HTTP layer, and every request
        /// gets an answer.
        #[test]
        fn http_survives_anything(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1024)) {
            super::http_request(&data);
        }
    }
}
