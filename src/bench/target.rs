//! What `bench` drives: an address (`HOST:PORT`) or an `http://HOST[:PORT]/PATH` URL,
//! resolved once, with the `Host` header and path an HTTP request needs.

use std::net::{SocketAddr, ToSocketAddrs};

/// A resolved target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where connections go.
    pub addr: SocketAddr,
    /// `host[:port]` as the user wrote it, for the `Host` header.
    pub host: String,
    /// The request path (`/` for a bare address).
    pub path: String,
    /// How reports name the target: what the user wrote.
    pub display: String,
}

impl Target {
    /// Parses `http://host[:port][/path]` or `host:port`. `https` is refused: the
    /// load generator speaks plaintext only.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (rest, default_port) = if let Some(rest) = text.strip_prefix("http://") {
            (rest, Some(80))
        } else if text.starts_with("https://") {
            return Err(format!("'{text}': https is not supported (plaintext only)"));
        } else if text.contains("://") {
            return Err(format!("'{text}': only http:// URLs are supported"));
        } else {
            (text, None)
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(format!("'{text}' names no host"));
        }
        let has_port = authority
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.ends_with(':') && port.parse::<u16>().is_ok());
        let with_port = match (has_port, default_port) {
            (true, _) => authority.to_string(),
            (false, Some(port)) => format!("{authority}:{port}"),
            (false, None) => return Err(format!("'{text}' has no port (HOST:PORT)")),
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve '{authority}': {e}"))?
            .next()
            .ok_or_else(|| format!("'{authority}' resolves to no address"))?;
        Ok(Self {
            addr,
            host: authority.to_string(),
            path: path.to_string(),
            display: text.to_string(),
        })
    }

    /// Whether the user wrote a URL (`http://...`) rather than a bare address.
    pub fn is_url(&self) -> bool {
        self.display.starts_with("http://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_addresses() {
        let t = Target::parse("http://127.0.0.1:8080/hello?x=1").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(t.host, "127.0.0.1:8080");
        assert_eq!(t.path, "/hello?x=1");
        let t = Target::parse("http://127.0.0.1").unwrap();
        assert_eq!(t.addr.port(), 80);
        assert_eq!(t.path, "/");
        let t = Target::parse("127.0.0.1:7777").unwrap();
        assert_eq!(t.addr.port(), 7777);
        assert!(!t.is_url());
    }

    #[test]
    fn refuses_what_it_cannot_drive() {
        assert!(Target::parse("https://127.0.0.1/").is_err());
        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("127.0.0.1").is_err());
        assert!(Target::parse("http:///").is_err());
    }
}
