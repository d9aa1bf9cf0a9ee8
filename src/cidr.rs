//! IP networks (`10.20.0.0/16`, `2001:db8::/32`) for `trusted_networks`, and
//! the remote address of a login as far as it can be trusted.
//!
//! Both sides are compared in one canonical form: an IPv4-mapped IPv6 address
//! (`::ffff:10.20.1.2`, what a dual-stack socket reports for an IPv4 client)
//! is the IPv4 address it carries, and a network inside `::ffff:0:0/96` is the
//! IPv4 network it covers. So `10.20.0.0/16` matches `::ffff:10.20.1.2`, and
//! `::/0` (all of IPv6) does not match IPv4 clients.
//!
//! [`rhost_address`] accepts only a literal address: a host name (sshd with
//! `UseDNS yes`), an empty rhost, an address with a port or with a zone
//! (`fe80::1%eth0`: the config cannot name interfaces) is never an address
//! here, so it never matches a network (fail closed).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::Deserialize;

/// One network: an address with its host bits zero, and a prefix length.
#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a `trusted_networks` entry is not a network (shown with the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CidrError {}

impl Cidr {
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `addr` (in any form, see the module doc) is inside this network.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.addr, addr.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => same_prefix(&net.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(a)) => same_prefix(&net.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

/// Whether the first `prefix` bits of `a` and `b` are equal.
fn same_prefix(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    rest == 0 || (a[full] ^ b[full]) >> (8 - rest) == 0
}

/// `bytes` with every bit after the first `prefix` cleared.
fn masked<const N: usize>(mut bytes: [u8; N], prefix: u8) -> [u8; N] {
    for (i, b) in bytes.iter_mut().enumerate() {
        let kept = (usize::from(prefix)).saturating_sub(i * 8).min(8);
        *b &= if kept == 0 { 0 } else { 0xffu8 << (8 - kept) };
    }
    bytes
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// `ADDRESS/PREFIX`, or a bare address for that one host (`/32`, `/128`).
    /// Host bits must be zero (`10.20.1.0/16` is refused as a likely typo);
    /// no brackets, zones, spaces or signs.
    fn from_str(text: &str) -> Result<Cidr, CidrError> {
        let bad = |why: &str| {
            Err(CidrError(format!("{text:?} is not a network ({why}); write ADDRESS/PREFIX, e.g. \"10.20.0.0/16\"")))
        };
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let Ok(addr) = addr.parse::<IpAddr>() else { return bad("not an IPv4 or IPv6 address") };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return bad(&format!("the prefix length must be 0 to {max}")),
            },
            Some(_) => return bad(&format!("the prefix length must be 0 to {max}")),
        };
        let cidr = match addr {
            IpAddr::V4(a) => Cidr { addr: IpAddr::V4(Ipv4Addr::from(masked(a.octets(), prefix))), prefix },
            IpAddr::V6(a) => Cidr { addr: IpAddr::V6(Ipv6Addr::from(masked(a.octets(), prefix))), prefix },
        };
        if cidr.addr != addr {
            return bad(&format!("host bits set: did you mean \"{}/{prefix}\"?", cidr.addr));
        }
        Ok(cidr.canonical())
    }
}

impl Cidr {
    /// A network inside `::ffff:0:0/96` as the IPv4 network it covers.
    fn canonical(self) -> Cidr {
        match self.addr {
            IpAddr::V6(a) if self.prefix >= 96 => match a.to_ipv4_mapped() {
                Some(v4) => Cidr { addr: IpAddr::V4(v4), prefix: self.prefix - 96 },
                None => self,
            },
            _ => self,
        }
    }
}

impl TryFrom<String> for Cidr {
    type Error = CidrError;

    fn try_from(text: String) -> Result<Cidr, CidrError> {
        text.parse().map_err(|e: CidrError| CidrError(format!("trusted_networks: {e}")))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The remote address of a login, when `rhost` (PAM_RHOST) is a literal IP
/// address: `10.20.1.2`, `2001:db8::1`, `[2001:db8::1]`, `::ffff:10.20.1.2`.
/// Anything else (empty, a host name, a zone `%eth0`, a port) is `None`.
pub fn rhost_address(rhost: &str) -> Option<IpAddr> {
    if let Some(inner) = rhost.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    rhost.parse::<IpAddr>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Cidr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv4_networks_contain_exactly_their_range() {
        let n = net("10.20.0.0/16");
        assert!(n.contains(ip("10.20.0.0")) && n.contains(ip("10.20.255.255")) && n.contains(ip("10.20.1.2")));
        assert!(!n.contains(ip("10.19.255.255")) && !n.contains(ip("10.21.0.0")));
        let n = net("192.0.2.128/25");
        assert!(n.contains(ip("192.0.2.128")) && n.contains(ip("192.0.2.255")));
        assert!(!n.contains(ip("192.0.2.127")));
        let n = net("192.0.2.7/32");
        assert!(n.contains(ip("192.0.2.7")) && !n.contains(ip("192.0.2.6")) && !n.contains(ip("192.0.2.8")));
        assert_eq!(net("192.0.2.7"), n, "a bare address is that one host");
        let all = net("0.0.0.0/0");
        assert!(all.contains(ip("0.0.0.0")) && all.contains(ip("255.255.255.255")));
        assert!(!all.contains(ip("2001:db8::1")), "IPv4 networks never contain IPv6 addresses");
    }

    #[test]
    fn ipv6_networks_contain_exactly_their_range() {
        let n = net("2001:db8::/32");
        assert!(n.contains(ip("2001:db8::")) && n.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(!n.contains(ip("2001:db9::")) && !n.contains(ip("2001:db7:ffff::")));
        let n = net("2001:db8::80/121");
        assert!(n.contains(ip("2001:db8::80")) && n.contains(ip("2001:db8::ff")) && !n.contains(ip("2001:db8::7f")));
        let n = net("::1/128");
        assert!(n.contains(ip("::1")) && !n.contains(ip("::2")) && !n.contains(ip("::")));
        assert_eq!(net("::1"), n);
        assert!(!n.contains(ip("127.0.0.1")), "IPv6 loopback is not IPv4 loopback");
        let all = net("::/0");
        assert!(all.contains(ip("::")) && all.contains(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(!all.contains(ip("10.0.0.1")) && !all.contains(ip("::ffff:10.0.0.1")), "IPv4 clients are not IPv6");
    }

    #[test]
    fn ipv4_mapped_addresses_and_networks_are_their_ipv4_form() {
        let n = net("10.20.0.0/16");
        assert!(n.contains(ip("::ffff:10.20.1.2")) && !n.contains(ip("::ffff:10.21.1.2")));
        assert_eq!(net("::ffff:10.20.0.0/112"), n);
        assert_eq!(net("::ffff:0:0/96"), net("0.0.0.0/0"));
        assert_eq!(net("::ffff:10.20.1.2").to_string(), "10.20.1.2/32");
        // The deprecated IPv4-compatible form is plain IPv6.
        assert!(!n.contains(ip("::10.20.1.2")));
    }

    #[test]
    fn bad_networks_are_refused_with_the_value_and_a_hint() {
        for (text, why) in [
            ("10.20.0.0/33", "0 to 32"),
            ("2001:db8::/129", "0 to 128"),
            ("10.20.0.0/", "0 to 32"),
            ("10.20.0.0/+16", "0 to 32"),
            ("10.20.0.0/0016", "0 to 32"),
            ("10.20.0.0/ 16", "0 to 32"),
            ("10.20.1.0/16", "did you mean \"10.20.0.0/16\"?"),
            ("2001:db8::1/32", "did you mean \"2001:db8::/32\"?"),
            ("10.20/16", "not an IPv4 or IPv6 address"),
            ("010.20.0.0/16", "not an IPv4 or IPv6 address"),
            ("office.example.org/24", "not an IPv4 or IPv6 address"),
            ("fe80::%eth0/64", "not an IPv4 or IPv6 address"),
            ("[2001:db8::]/32", "not an IPv4 or IPv6 address"),
            (" 10.0.0.0/8", "not an IPv4 or IPv6 address"),
            ("", "not an IPv4 or IPv6 address"),
        ] {
            let e = text.parse::<Cidr>().unwrap_err().to_string();
            assert!(e.starts_with(&format!("{text:?} is not a network")) && e.contains(why), "{text}: {e}");
        }
        assert_eq!(net("10.20.0.0/016"), net("10.20.0.0/16"), "three digits at most");
    }

    #[test]
    fn only_literal_addresses_are_rhost_addresses() {
        assert_eq!(rhost_address("10.20.1.2"), Some(ip("10.20.1.2")));
        assert_eq!(rhost_address("2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(rhost_address("[2001:db8::1]"), Some(ip("2001:db8::1")));
        assert_eq!(rhost_address("::ffff:10.20.1.2"), Some(ip("::ffff:10.20.1.2")));
        for not in [
            "",
            "localhost",
            "office.example.org",
            "10.20.1.2.example.org",
            "fe80::1%eth0",
            "[fe80::1%eth0]",
            "[10.20.1.2]",
            "10.20.1.2:22",
            "[2001:db8::1]:22",
            " 10.20.1.2",
            "10.20.1.2\n",
            "10.20.1",
            "0x0a.20.1.2",
            "167772162",
        ] {
            assert_eq!(rhost_address(not), None, "{not:?}");
        }
    }
}
