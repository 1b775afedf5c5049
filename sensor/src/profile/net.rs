//! IP networks (CIDR) for zones and for the address forms of targets and hosts.

use std::fmt;
use std::net::IpAddr;

use serde::{Serialize, Serializer};

/// An IPv4 or IPv6 network: an address with no host bits set and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// Why a text is not an acceptable network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CidrProblem {
    /// Not `ADDRESS/PREFIX` with a valid address and a number.
    NotANetwork,
    /// A bare address where a zone needs a network.
    MissingPrefix,
    /// The prefix is longer than the address (32 for IPv4, 128 for IPv6).
    PrefixTooLong {
        /// Longest prefix for this address family.
        max: u8,
    },
    /// Bits are set after the prefix, as in `10.20.1.0/16`; `network` is what was probably meant.
    HostBitsSet {
        /// The network with the host bits cleared.
        network: IpNet,
    },
}

impl fmt::Display for CidrProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidrProblem::NotANetwork => f.write_str("is not an IP network"),
            CidrProblem::MissingPrefix => f.write_str("has no prefix length (write ADDRESS/PREFIX)"),
            CidrProblem::PrefixTooLong { max } => write!(f, "has a prefix longer than {max}"),
            CidrProblem::HostBitsSet { network } => {
                write!(f, "has host bits set (the network is {network})")
            }
        }
    }
}

const fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & mask).into())
        }
    }
}

impl IpNet {
    /// The network `addr/prefix`, or why it is not one (prefix too long, host bits set).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<IpNet, CidrProblem> {
        let max = max_prefix(addr);
        if prefix > max {
            return Err(CidrProblem::PrefixTooLong { max });
        }
        let network = masked(addr, prefix);
        if network != addr {
            return Err(CidrProblem::HostBitsSet { network: IpNet { addr: network, prefix } });
        }
        Ok(IpNet { addr, prefix })
    }

    /// The network holding only `ip` (/32 or /128).
    pub fn host(ip: IpAddr) -> IpNet {
        let ip = ip.to_canonical();
        IpNet { addr: ip, prefix: max_prefix(ip) }
    }

    /// Parses `ADDRESS/PREFIX` strictly (no host bits); a bare address is
    /// [`CidrProblem::MissingPrefix`].
    pub fn parse_cidr(s: &str) -> Result<IpNet, CidrProblem> {
        let Some((a, p)) = s.split_once('/') else {
            return Err(if s.parse::<IpAddr>().is_ok() {
                CidrProblem::MissingPrefix
            } else {
                CidrProblem::NotANetwork
            });
        };
        let addr: IpAddr = a.parse().map_err(|_| CidrProblem::NotANetwork)?;
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CidrProblem::NotANetwork);
        }
        let prefix: u8 = p.parse().map_err(|_| CidrProblem::PrefixTooLong { max: max_prefix(addr) })?;
        IpNet::new(addr, prefix)
    }

    /// Parses a network, or a bare address as a one-host network.
    pub fn parse_net_or_host(s: &str) -> Result<IpNet, CidrProblem> {
        match s.parse::<IpAddr>() {
            Ok(ip) => Ok(IpNet::host(ip)),
            Err(_) => IpNet::parse_cidr(s),
        }
    }

    /// The network address.
    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in this network. IPv4-mapped IPv6 addresses count as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                masked(ip, self.prefix) == self.addr
            }
            _ => false,
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for IpNet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
// Tests fail by panicking.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn parses_and_contains() {
        let n = IpNet::parse_cidr("10.20.0.0/16").expect("valid");
        assert!(n.contains(ip("10.20.1.10")));
        assert!(!n.contains(ip("10.21.0.1")));
        assert!(n.contains(ip("::ffff:10.20.3.4")));
        assert!(!n.contains(ip("fd00::1")));
        let all = IpNet::parse_cidr("0.0.0.0/0").expect("valid");
        assert!(all.contains(ip("192.0.2.1")));
        let v6 = IpNet::parse_cidr("fd00:20::/32").expect("valid");
        assert!(v6.contains(ip("fd00:20::5")) && !v6.contains(ip("fd00:21::5")));
        assert_eq!(IpNet::parse_cidr("::/0").map(|n| n.prefix_len()), Ok(0));
    }

    #[test]
    fn rejects() {
        assert_eq!(IpNet::parse_cidr("10.0.0.300/24"), Err(CidrProblem::NotANetwork));
        assert_eq!(IpNet::parse_cidr("10.0.0.0/"), Err(CidrProblem::NotANetwork));
        assert_eq!(IpNet::parse_cidr("10.0.0.0/-1"), Err(CidrProblem::NotANetwork));
        assert_eq!(IpNet::parse_cidr("10.0.0.1"), Err(CidrProblem::MissingPrefix));
        assert_eq!(IpNet::parse_cidr("10.0.0.0/33"), Err(CidrProblem::PrefixTooLong { max: 32 }));
        assert_eq!(IpNet::parse_cidr("10.0.0.0/999"), Err(CidrProblem::PrefixTooLong { max: 32 }));
        let Err(CidrProblem::HostBitsSet { network }) = IpNet::parse_cidr("10.20.1.0/16") else {
            panic!("host bits not caught")
        };
        assert_eq!(network.to_string(), "10.20.0.0/16");
    }

    #[test]
    fn hosts() {
        let h = IpNet::parse_net_or_host("10.30.0.12").expect("valid");
        assert_eq!(h.to_string(), "10.30.0.12/32");
        assert!(h.contains(ip("10.30.0.12")) && !h.contains(ip("10.30.0.13")));
        assert_eq!(IpNet::parse_net_or_host("fd00::1").map(|n| n.prefix_len()), Ok(128));
    }
}
