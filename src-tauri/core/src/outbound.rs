//! Where a server may connect out to. On a desktop the user types the ingest URL of their own
//! choosing and Twitcher connects there (it is their machine). A `serve` reachable by others must
//! not become their door into its network: anyone could link an account with
//! `rtmp://127.0.0.1:22/app` or `rtmp://169.254.169.254/app` and read the answers back from the
//! destination's error. So `serve` restricts ingests to Twitch's own hosts and the hosts its
//! operator allows (`--allow-ingest HOST[:PORT]`), and a Twitch host must resolve to public
//! addresses only. The check runs when an ingest is saved and again at every connect, on the
//! addresses then connected to (a name that resolved to a public address when saved and to a
//! private one later — DNS rebinding — is refused at connect time).

use std::net::{IpAddr, SocketAddr};

/// Twitch's ingest hosts end with one of these.
const TWITCH_SUFFIXES: [&str; 2] = [".live-video.net", ".twitch.tv"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Off on the desktop and the CLI; `serve` turns it on.
    pub restricted: bool,
    /// What the operator allows besides Twitch: (host, port or any), compared case-insensitively.
    pub allowed: Vec<(String, Option<u16>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("this server streams only to Twitch's ingest servers and the hosts its operator allows ({host}:{port} is neither): use an ingest from the list, or ask the operator to start serve with --allow-ingest {host}:{port}")]
    NotAllowed { host: String, port: u16 },
    #[error("{host} leads to an address this server does not connect to (a loopback, private, link-local or multicast one)")]
    PrivateAddress { host: String },
    #[error("cannot find {host}: {reason}")]
    Unresolvable { host: String, reason: String },
}

impl OutboundPolicy {
    /// Parses `HOST[:PORT]` (an IPv6 address in brackets).
    pub fn parse_allowed(text: &str) -> Result<(String, Option<u16>), String> {
        let text = text.trim();
        let bad = || format!("'{text}' is not HOST or HOST:PORT");
        let (host, port) = match text.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && !p.contains(']') && (h.starts_with('[') || !h.contains(':')) => {
                (h.trim_start_matches('[').trim_end_matches(']'), Some(p.parse::<u16>().map_err(|_| bad())?))
            }
            _ => (text.trim_start_matches('[').trim_end_matches(']'), None),
        };
        if host.is_empty() || host.contains('/') {
            return Err(bad());
        }
        Ok((host.to_ascii_lowercase(), port))
    }

    fn allows_by_name(&self, host: &str, port: u16) -> bool {
        self.allowed.iter().any(|(h, p)| h.eq_ignore_ascii_case(host) && p.is_none_or(|p| p == port))
    }

    /// The addresses to connect to for `host:port`, checked: every address when restricted.
    /// An operator's own entry may be anything (a relay on this machine); a Twitch host must
    /// resolve to public addresses only.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, OutboundError> {
        let host_lc = host.trim_end_matches('.').to_ascii_lowercase();
        // A URL gives an IPv6 address in brackets; the operator's entry and the lookup take it bare.
        let bare = host_lc.trim_start_matches('[').trim_end_matches(']');
        let operators = self.allows_by_name(bare, port);
        let twitch = TWITCH_SUFFIXES.iter().any(|s| host_lc.ends_with(s));
        if self.restricted && !operators && !twitch {
            return Err(OutboundError::NotAllowed { host: host_lc, port });
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| OutboundError::Unresolvable { host: host_lc.clone(), reason: e.kind().to_string() })?
            .collect();
        if addrs.is_empty() {
            return Err(OutboundError::Unresolvable { host: host_lc, reason: "no address".into() });
        }
        if self.restricted && !operators && addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(OutboundError::PrivateAddress { host: host_lc });
        }
        Ok(addrs)
    }
}

impl OutboundPolicy {
    /// For alert webhooks: where a restricted process may POST — any host that resolves to
    /// public addresses only, or one the operator allows (`--allow-ingest HOST`, any port).
    pub async fn resolve_webhook(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, OutboundError> {
        let host_lc = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host_lc.as_str(), port))
            .await
            .map_err(|e| OutboundError::Unresolvable { host: host_lc.clone(), reason: e.kind().to_string() })?
            .collect();
        let operators = self.allowed.iter().any(|(h, _)| *h == host_lc);
        if self.restricted && !operators && addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(OutboundError::PrivateAddress { host: host_lc });
        }
        Ok(addrs)
    }
}

/// The HTTP client's resolver for webhooks: every connection's addresses pass
/// [`OutboundPolicy::resolve_webhook`], so a name that turns private later (DNS rebinding) is
/// refused at connect time too. (Addresses written in the URL skip resolvers: see
/// [`OutboundPolicy::check_webhook_url`].)
pub struct WebhookResolver(pub OutboundPolicy);

impl reqwest::dns::Resolve for WebhookResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            // The port is the URL's: reqwest sets it on the addresses it gets.
            let addrs = policy.resolve_webhook(&host, 0).await.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl OutboundPolicy {
    /// A webhook URL whose host is an address literal, checked as the resolver checks names.
    pub fn check_webhook_url(&self, url: &url::Url) -> Result<(), OutboundError> {
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        let host = literal.to_string();
        if self.restricted && !is_public(literal) && !self.allowed.iter().any(|(h, _)| *h == host) {
            return Err(OutboundError::PrivateAddress { host });
        }
        Ok(())
    }
}

/// Whether an address is on the public internet: not loopback, private, link-local, multicast,
/// unspecified, broadcast, shared (CGNAT) or documentation space, in IPv4 or IPv6. An IPv6 form
/// that carries an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64
/// `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`) is judged by that IPv4 address: a
/// NAT64 gateway or 6to4 relay would carry the connection to it. Teredo (`2001::/32`), whose
/// server and client addresses are obfuscated, and site-local `fec0::/10` are never public.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x2001 && s[1] == 0x0000)
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]))
        }
    }
}

/// The IPv4 address an IPv6 address stands for, in the forms a gateway translates.
fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let s = v6.segments();
    let low = |hi: u16, lo: u16| std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    // IPv4-compatible (deprecated, still routed by some stacks); `::` and `::1` are not.
    if s[..6] == [0; 6] && (s[6] != 0 || s[7] > 1) {
        return Some(low(s[6], s[7]));
    }
    // NAT64: the well-known prefix and the local-use one (RFC 6052, RFC 8215).
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) {
        return Some(low(s[6], s[7]));
    }
    // 6to4: the IPv4 address follows the prefix.
    if s[0] == 0x2002 {
        return Some(low(s[1], s[2]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for private in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "2001:db8::1",
            // IPv4 carried in IPv6 (issue 30: a NAT64 form of 127.0.0.1 was connected to).
            "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1", "2002:7f00:1::1", "2002:c0a8:101::", "::127.0.0.1", "::10.0.0.1",
            "fec0::1", "2001:0:4136:e378::1", "100::1"] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["52.223.192.1", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn allowed_hosts_parse_with_and_without_a_port() {
        assert_eq!(OutboundPolicy::parse_allowed("Relay.Example.net:1935").unwrap(), ("relay.example.net".into(), Some(1935)));
        assert_eq!(OutboundPolicy::parse_allowed("relay.example.net").unwrap(), ("relay.example.net".into(), None));
        assert_eq!(OutboundPolicy::parse_allowed("[::1]:1935").unwrap(), ("::1".into(), Some(1935)));
        assert!(OutboundPolicy::parse_allowed("relay:port").is_err());
        assert!(OutboundPolicy::parse_allowed("").is_err());
    }

    #[tokio::test]
    async fn a_restricted_server_refuses_other_hosts_and_private_addresses_but_allows_the_operators() {
        let open = OutboundPolicy::default();
        assert!(open.resolve("127.0.0.1", 1935).await.is_ok(), "the desktop connects where its user says");
        let restricted = OutboundPolicy { restricted: true, allowed: vec![("127.0.0.1".into(), Some(1935))] };
        assert!(restricted.resolve("127.0.0.1", 1935).await.is_ok(), "the operator's relay");
        assert!(matches!(restricted.resolve("127.0.0.1", 22).await, Err(OutboundError::NotAllowed { .. })));
        assert!(matches!(restricted.resolve("localhost", 1935).await, Err(OutboundError::NotAllowed { .. })));
    }
}
