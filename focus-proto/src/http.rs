//! A sans-IO HTTP/1.1 server connection for the REST API.
//!
//! The runtime accepts a TCP connection and moves bytes; [`HttpConnection`]
//! turns them into [`HttpRequest`]s (parsed with `httparse`) and turns
//! [`HttpResponse`]s into bytes. Requests are bounded: a head over
//! [`MAX_HEAD`] bytes or a body over [`MAX_BODY`] bytes is answered with an
//! error and the connection is closed.

use std::fmt;

/// Largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;
/// Most headers accepted in one request.
const MAX_HEADERS: usize = 64;

/// An HTTP method the API distinguishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD` (answered like `GET` without a body).
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
    /// `OPTIONS`.
    Options,
    /// Anything else.
    Other(String),
}

impl Method {
    fn parse(s: &str) -> Self {
        match s {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// One parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The path, without the query string.
    pub path: String,
    /// The raw query string (after `?`), empty if none.
    pub query: String,
    /// Headers, names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A request with no headers and no body, for tests and internal use.
    pub fn new(method: Method, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Self {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == name).then(|| percent_decode(v))
        })
    }
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`, if there is a body.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A `text/plain` answer.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into().into_bytes(),
        }
    }

    /// An `application/json` answer.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    /// The server's plain 404.
    pub fn not_found() -> Self {
        Self::text(404, "Not Found")
    }

    /// Serialises the response; `head_only` leaves the body out (for HEAD).
    pub fn to_bytes(&self, keep_alive: bool, head_only: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
            self.status,
            reason_phrase(self.status),
            self.content_type,
            self.body.len(),
            if keep_alive { "keep-alive" } else { "close" },
        )
        .into_bytes();
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

impl fmt::Display for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, String::from_utf8_lossy(&self.body))
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// What an [`HttpConnection`] asks of its runtime next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpEvent {
    /// A complete request: answer it with [`HttpConnection::respond`].
    Request(HttpRequest),
    /// Write these bytes and close the connection (a malformed request).
    Reject(Vec<u8>),
}

/// One server-side HTTP/1.1 connection: bytes in, requests out, one request
/// at a time.
#[derive(Debug, Default)]
pub struct HttpConnection {
    buf: Vec<u8>,
    /// A request is out and not yet answered.
    busy: bool,
    keep_alive: bool,
    head_only: bool,
    closed: bool,
}

impl HttpConnection {
    /// A fresh connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds received bytes; returns what to do next, if anything is
    /// complete. Call again with an empty slice after answering, to pick up
    /// a pipelined request.
    pub fn handle_input(&mut self, data: &[u8]) -> Option<HttpEvent> {
        if self.closed {
            return None;
        }
        self.buf.extend_from_slice(data);
        if self.busy {
            if self.buf.len() > MAX_HEAD + MAX_BODY {
                return Some(self.reject(413, "request too large"));
            }
            return None;
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let head_len = match req.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if self.buf.len() > MAX_HEAD {
                    return Some(self.reject(431, "request head too large"));
                }
                return None;
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Some(self.reject(431, "too many headers"));
            }
            Err(e) => return Some(self.reject(400, &format!("malformed request: {e}"))),
        };
        if head_len > MAX_HEAD {
            return Some(self.reject(431, "request head too large"));
        }
        let method = Method::parse(req.method.unwrap_or(""));
        let target = req.path.unwrap_or("/");
        let http10 = req.version == Some(0);
        let headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.trim())
        };
        if header("transfer-encoding").is_some() {
            return Some(self.reject(501, "chunked request bodies are not supported"));
        }
        let body_len = match header("content-length").map(str::parse::<usize>) {
            None => 0,
            Some(Ok(n)) if n <= MAX_BODY => n,
            Some(Ok(_)) => return Some(self.reject(413, "request body too large")),
            Some(Err(_)) => return Some(self.reject(400, "bad Content-Length")),
        };
        if self.buf.len() < head_len + body_len {
            return None;
        }
        let connection = header("connection").map(str::to_ascii_lowercase);
        self.keep_alive = match connection.as_deref() {
            Some("close") => false,
            Some("keep-alive") => true,
            _ => !http10,
        };
        self.head_only = method == Method::Head;
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let request = HttpRequest {
            method,
            path: percent_decode(path),
            query: query.to_owned(),
            body: self.buf[head_len..head_len + body_len].to_vec(),
            headers,
        };
        self.buf.drain(..head_len + body_len);
        self.busy = true;
        Some(HttpEvent::Request(request))
    }

    /// The bytes answering the current request. Afterwards, close the
    /// connection if [`HttpConnection::is_closed`] says so.
    pub fn respond(&mut self, response: &HttpResponse) -> Vec<u8> {
        self.busy = false;
        if !self.keep_alive {
            self.closed = true;
        }
        response.to_bytes(self.keep_alive, self.head_only)
    }

    /// Whether the connection should be closed once written.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn reject(&mut self, status: u16, why: &str) -> HttpEvent {
        self.closed = true;
        self.buf.clear();
        HttpEvent::Reject(HttpResponse::text(status, why).to_bytes(false, false))
    }
}

/// Decodes `%XX` escapes (and `+` as space in queries is left alone);
/// invalid escapes are kept literally.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(conn: &mut HttpConnection, bytes: &[u8]) -> HttpRequest {
        match conn.handle_input(bytes) {
            Some(HttpEvent::Request(r)) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn get_split_anywhere_and_keep_alive() {
        let raw = b"GET /about/health?x=a%20b HTTP/1.1\r\nHost: h\r\n\r\n";
        for split in 0..raw.len() {
            let mut c = HttpConnection::new();
            assert_eq!(c.handle_input(&raw[..split]), None, "split {split}");
            let r = request(&mut c, &raw[split..]);
            assert_eq!(r.method, Method::Get);
            assert_eq!(r.path, "/about/health");
            assert_eq!(r.query_param("x").as_deref(), Some("a b"));
            assert_eq!(r.header("host"), Some("h"));
            let out = c.respond(&HttpResponse::text(200, "OK"));
            let out = String::from_utf8(out).unwrap();
            assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
            assert!(out.ends_with("\r\n\r\nOK"));
            assert!(!c.is_closed());
        }
    }

    #[test]
    fn post_body_and_pipelining() {
        let mut c = HttpConnection::new();
        let raw = b"POST /conference-request/v1 HTTP/1.1\r\nContent-Length: 4\r\n\r\n{\"a\"GET /x HTTP/1.0\r\n\r\n";
        // The body is incomplete until its last byte arrives.
        assert_eq!(c.handle_input(&raw[..60]), None);
        let r = request(&mut c, &raw[60..]);
        assert_eq!(r.body, b"{\"a\"");
        c.respond(&HttpResponse::text(200, ""));
        let r = request(&mut c, b"");
        assert_eq!(r.path, "/x");
        c.respond(&HttpResponse::not_found());
        assert!(c.is_closed(), "HTTP/1.0 closes by default");
    }

    #[test]
    fn bounds_and_garbage() {
        let mut c = HttpConnection::new();
        assert!(matches!(
            c.handle_input(b"\x00\x01 nonsense\r\n\r\n"),
            Some(HttpEvent::Reject(_))
        ));
        assert!(c.is_closed());
        assert_eq!(c.handle_input(b"GET / HTTP/1.1\r\n\r\n"), None);

        let mut c = HttpConnection::new();
        let huge = vec![b'a'; MAX_HEAD + 10];
        let mut raw = b"GET /".to_vec();
        raw.extend_from_slice(&huge);
        match c.handle_input(&raw) {
            Some(HttpEvent::Reject(bytes)) => assert!(bytes.starts_with(b"HTTP/1.1 431")),
            other => panic!("{other:?}"),
        }

        let mut c = HttpConnection::new();
        let raw = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        match c.handle_input(raw.as_bytes()) {
            Some(HttpEvent::Reject(bytes)) => assert!(bytes.starts_with(b"HTTP/1.1 413")),
            other => panic!("{other:?}"),
        }
        let mut c = HttpConnection::new();
        match c.handle_input(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") {
            Some(HttpEvent::Reject(bytes)) => assert!(bytes.starts_with(b"HTTP/1.1 501")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn head_has_no_body() {
        let mut c = HttpConnection::new();
        request(&mut c, b"HEAD /about/version HTTP/1.1\r\n\r\n");
        let out = c.respond(&HttpResponse::text(200, "hello"));
        assert!(out.ends_with(b"Content-Length: 5\r\nConnection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
        assert_eq!(percent_decode("%"), "%");
    }
}
