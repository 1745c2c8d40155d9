//! A tiny blocking HTTP/1.1 client for the focus's REST API.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, decoded from chunked encoding when needed (lossy UTF-8).
    pub body: String,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` from `127.0.0.1:port`, with `Connection: close`; the whole
/// exchange must finish within `timeout`.
pub fn http_get(port: u16, path: &str, timeout: Duration) -> io::Result<HttpResponse> {
    http_request(port, "GET", path, &[("Accept", "*/*")], &[], timeout)
}

/// `POST path` with a JSON body (`Content-Type: application/json`) to
/// `127.0.0.1:port`, with `Connection: close`; the whole exchange must
/// finish within `timeout`.
pub fn http_post_json(
    port: u16,
    path: &str,
    json: &str,
    timeout: Duration,
) -> io::Result<HttpResponse> {
    http_request(
        port,
        "POST",
        path,
        &[("Accept", "*/*"), ("Content-Type", "application/json")],
        json.as_bytes(),
        timeout,
    )
}

/// `method path` to `127.0.0.1:port` with `headers` and `body` (a
/// `Content-Length` is added when the body is not empty or the method is
/// not `GET`/`HEAD`), with `Connection: close`; the whole exchange must
/// finish within `timeout`.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<HttpResponse> {
    let deadline = Instant::now() + timeout;
    let addr = ("127.0.0.1", port);
    let mut stream = TcpStream::connect_timeout(
        &std::net::ToSocketAddrs::to_socket_addrs(&addr)?
            .next()
            .ok_or_else(|| io::Error::other("no address"))?,
        timeout,
    )?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;

    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(response) = parse_response(&raw, false)? {
            return Ok(response);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no complete HTTP response in time",
            ));
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(io::ErrorKind::TimedOut, e));
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            return parse_response(&raw, true)?.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed in the middle of a response: {:?}",
                        String::from_utf8_lossy(&raw)
                    ),
                )
            });
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Parses a complete response from `raw`; `None` when more bytes are
/// needed. `eof`: the peer has closed, so a body without a length ends here.
fn parse_response(raw: &[u8], eof: bool) -> io::Result<Option<HttpResponse>> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().unwrap_or_default().starts_with("HTTP/1.") {
        return Err(bad("not an HTTP/1.x response"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or_else(|| bad("bad header"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let rest = &raw[head_end + 4..];
    let chunked = find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None if eof => return Err(bad("chunked body cut short")),
            None => return Ok(None),
        }
    } else if let Some(len) = find("content-length") {
        let len: usize = len.parse().map_err(|_| bad("bad content-length"))?;
        if rest.len() < len {
            return if eof {
                Err(bad("body shorter than content-length"))
            } else {
                Ok(None)
            };
        }
        rest[..len].to_vec()
    } else if eof || status == 204 || status == 304 || (100..200).contains(&status) {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }))
}

/// Decodes a chunked body; `None` when incomplete.
fn dechunk(mut raw: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = raw.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if raw.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(answer: &'static [u8]) -> u16 {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                req.extend_from_slice(&buf[..n]);
            }
            assert!(req.starts_with(b"GET /about/health HTTP/1.1\r\n"));
            // Answer in two writes to exercise partial reads; keep the
            // connection open to check that content-length ends the read.
            s.write_all(&answer[..10]).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            s.write_all(&answer[10..]).unwrap();
            std::thread::sleep(Duration::from_secs(2));
        });
        port
    }

    #[test]
    fn content_length_response() {
        let port = serve_once(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nOK",
        );
        let r = http_get(port, "/about/health", Duration::from_secs(1)).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "OK");
        assert_eq!(r.header("Content-Type"), Some("text/plain"));
    }

    #[test]
    fn chunked_response() {
        let port = serve_once(
            b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ndown\r\n3\r\n!!!\r\n0\r\n\r\n",
        );
        let r = http_get(port, "/about/health", Duration::from_secs(1)).unwrap();
        assert_eq!(r.status, 503);
        assert_eq!(r.body, "down!!!");
    }

    #[test]
    fn post_sends_the_body_with_its_length() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.ends_with(b"{\"a\":1}") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "{:?}", String::from_utf8_lossy(&req));
                req.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                .unwrap();
            String::from_utf8(req).unwrap()
        });
        let r = http_post_json(port, "/x", r#"{"a":1}"#, Duration::from_secs(1)).unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "{}"));
        let req = server.join().unwrap();
        assert!(req.starts_with("POST /x HTTP/1.1\r\n"), "{req}");
        assert!(req.contains("Content-Type: application/json\r\n"), "{req}");
        assert!(req.contains("Content-Length: 7\r\n"), "{req}");
    }

    #[test]
    fn refused_connection_is_an_error() {
        let port = crate::e2e::free_port();
        assert!(http_get(port, "/", Duration::from_secs(1)).is_err());
    }
}
