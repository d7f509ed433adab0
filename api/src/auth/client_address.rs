//! Who the client is, by address, for rate limits. A client connected directly is the socket's
//! peer. Behind load balancers listed as trusted proxies (addresses or CIDR ranges, setting
//! `trusted_proxies`), the client is the right-most address in `X-Forwarded-For` that is not one
//! of those proxies: each proxy appends the address it saw, and only trusted ones are believed.
//! Without trusted proxies the header is ignored, since any client can write it.

use std::net::IpAddr;

/// The networks load balancers sit in besides public ones: private, shared (carrier-grade NAT),
/// loopback and link-local, IPv4 then IPv6. A trusted range inside one may be as wide as it.
const INTERNAL_NETWORKS: [&str; 8] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
];
/// The widest public IPv4 range trusted as proxies (a provider's published ranges are narrower,
/// e.g. /13). A wider one (`0.0.0.0/0`, say) would believe many clients' `X-Forwarded-For`.
const WIDEST_PUBLIC_IPV4_PREFIX: u8 = 12;
/// The widest public IPv6 range trusted as proxies (providers publish /29 to /32).
const WIDEST_PUBLIC_IPV6_PREFIX: u8 = 24;

/// One trusted range: a network address and how many leading bits must match.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Range {
    network: IpAddr,
    prefix: u8,
}

impl Range {
    fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))?;
        let most = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|bits| *bits <= most)
                .ok_or_else(|| format!("{text:?} has a prefix outside 0..={most}"))?,
            None => most,
        };
        let range = Self { network, prefix };
        let widest = range.widest_allowed();
        if prefix < widest {
            return Err(format!(
                "{text:?} would let many clients say their own address (and so pick their rate \
                 limits): list the load balancers' own addresses or networks, /{widest} at the \
                 widest there"
            ));
        }
        Ok(range)
    }

    /// The widest prefix a trusted range at this network may have: that of the internal network
    /// it lies in ([`INTERNAL_NETWORKS`]), else the public bound of its family.
    fn widest_allowed(&self) -> u8 {
        INTERNAL_NETWORKS
            .iter()
            .filter_map(|text| internal(text))
            .find(|block| block.contains(self.network))
            .map_or(
                if self.network.is_ipv4() {
                    WIDEST_PUBLIC_IPV4_PREFIX
                } else {
                    WIDEST_PUBLIC_IPV6_PREFIX
                },
                |block| block.prefix,
            )
    }

    /// Whether `address` is in the range.
    fn contains(&self, address: IpAddr) -> bool {
        let leading = |bits: u128, width: u32| {
            let shift = width - u32::from(self.prefix);
            if shift >= width { 0 } else { bits >> shift }
        };
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                leading(u32::from(network).into(), 32) == leading(u32::from(address).into(), 32)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                leading(network.into(), 128) == leading(address.into(), 128)
            }
            _ => false,
        }
    }
}

/// One of [`INTERNAL_NETWORKS`], read.
fn internal(text: &str) -> Option<Range> {
    let (network, prefix) = text.split_once('/')?;
    Some(Range {
        network: network.parse().ok()?,
        prefix: prefix.parse().ok()?,
    })
}

/// The proxies whose `X-Forwarded-For` is believed; none by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Range>);

impl TrustedProxies {
    /// Reads a comma-separated list of addresses and CIDR ranges, e.g. `10.0.0.0/8, ::1`.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(Range::parse)
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether no proxy is trusted (the default).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(address))
    }

    /// The client's address, from the socket's `peer` and the `X-Forwarded-For` values.
    pub fn client<'a>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        let peer = peer.map(|peer| peer.to_canonical());
        if !peer.is_some_and(|peer| self.trusts(peer)) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .collect();
        // From the nearest hop outwards: the first one no trusted proxy is is the client. A hop
        // that cannot be read ends the walk at the nearest known one (skipping it would let the
        // entries the client wrote itself choose its address).
        let mut nearest = peer;
        for hop in hops.iter().rev() {
            let Some(hop) = hop_address(hop) else {
                return nearest;
            };
            if !self.trusts(hop) {
                return Some(hop);
            }
            nearest = Some(hop);
        }
        nearest
    }
}

/// The address of one `X-Forwarded-For` entry: bare (`203.0.113.9`, `2001:db8::1`) or with the
/// port some proxies add (`203.0.113.9:51514`, `[2001:db8::1]:443`).
fn hop_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|at| at.ip()))
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(Some(ip("198.51.100.7")), ["203.0.113.9"]),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").expect("list");
        let peer = Some(ip("10.1.2.3"));
        // A client that writes its own header cannot choose its address.
        assert_eq!(
            proxies.client(peer, ["1.1.1.1, 203.0.113.9, 10.9.9.9"]),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            proxies.client(peer, ["1.1.1.1", "203.0.113.9"]),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(proxies.client(peer, ["10.2.2.2"]), Some(ip("10.2.2.2")));
        assert_eq!(proxies.client(peer, ["not an address"]), peer);
        // Ports some proxies add are read; an entry that cannot be read is never skipped.
        assert_eq!(
            proxies.client(peer, ["198.51.100.7, 203.0.113.9:51514"]),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            proxies.client(peer, ["198.51.100.7, [2001:db8::9]:443"]),
            Some(ip("2001:db8::9"))
        );
        assert_eq!(proxies.client(peer, ["198.51.100.7, unknown"]), peer);
        assert_eq!(
            proxies.client(peer, ["198.51.100.7, unknown, 10.4.4.4"]),
            Some(ip("10.4.4.4"))
        );
        assert_eq!(proxies.client(peer, []), peer);
        // An untrusted peer is the client, whatever it says.
        assert_eq!(
            proxies.client(Some(ip("198.51.100.7")), ["203.0.113.9"]),
            Some(ip("198.51.100.7"))
        );
    }

    #[test]
    fn ranges_match_by_prefix_in_both_families() {
        let proxies = TrustedProxies::parse("192.168.0.0/16,fd00::/8,::1").expect("list");
        assert!(proxies.trusts(ip("192.168.44.1")));
        assert!(!proxies.trusts(ip("192.169.0.1")));
        assert!(proxies.trusts(ip("fd12::1")));
        assert!(proxies.trusts(ip("::1")));
        assert!(!proxies.trusts(ip("fe80::1")));
        assert!(proxies.trusts(ip("::ffff:192.168.1.1").to_canonical()));
        let widest = TrustedProxies::parse("10.0.0.0/8, fc00::/7, 104.16.0.0/13, 2a06:98c0::/29")
            .expect("internal networks whole, published provider ranges");
        assert!(widest.trusts(ip("10.200.0.1")) && widest.trusts(ip("fd00::1")));
        assert!(widest.trusts(ip("104.20.0.1")) && widest.trusts(ip("2a06:98c1::1")));
    }

    #[test]
    fn a_range_wider_than_its_network_allows_is_refused() {
        for everyone in [
            "0.0.0.0/0",
            "::/0",
            "128.0.0.0/1",
            "10.0.0.0/7",
            "172.16.0.0/8",
            "8.0.0.0/8",
            "2000::/3",
            "2000::/7",
            "fc00::/6",
        ] {
            let refused = TrustedProxies::parse(&format!("10.1.0.0/16, {everyone}"));
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|why| why.contains("would let many clients say their own address")),
                "{everyone}: {refused:?}"
            );
        }
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
        assert_eq!(TrustedProxies::parse(""), Ok(TrustedProxies::default()));
    }
}
