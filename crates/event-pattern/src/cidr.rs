//! `cidr` operands and IP-address parsing shared with exact matching.

use crate::error::{err, PatternError};
use std::net::IpAddr;

/// An address range from a `cidr` operand.
///
/// Like AWS, the range runs from the address as written up to that address
/// with all host bits set; the host bits of the written address are not
/// cleared (so `10.0.0.5/24` covers `10.0.0.5`..`10.0.0.255`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    v6: bool,
    low: u128,
    high: u128,
}

/// Parses an IPv4 or IPv6 literal (no zone, no brackets).
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok()
}

fn ip_bits(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

impl Cidr {
    /// Parses `address/maskbits`.
    ///
    /// # Errors
    /// With AWS's messages for a missing `/`, a non-integer or out-of-range
    /// mask, or an address that is not an IP literal.
    pub(crate) fn parse(src: &str) -> Result<Self, PatternError> {
        // Java's String.split drops trailing empty pieces; AWS inherits that.
        let mut parts: Vec<&str> = src.split('/').collect();
        while parts.last() == Some(&"") {
            parts.pop();
        }
        if parts.len() != 2 {
            return err("Malformed CIDR, one '/' required");
        }
        let Ok(bits) = parts[1].parse::<i32>() else {
            return err("Malformed CIDR, mask bits must be an integer");
        };
        if bits < 0 {
            return err("Malformed CIDR, mask bits must not be negative");
        }
        let Some(ip) = parse_ip(parts[0]) else {
            return err(format!("Nonstandard IP address: {}", parts[0]));
        };
        let (v6, base) = ip_bits(ip);
        let width: u32 = if v6 { 128 } else { 32 };
        // `bits` is non-negative here, so the conversion cannot fail.
        let bits = u32::try_from(bits).unwrap_or(u32::MAX);
        if bits >= width {
            return err(if v6 {
                "IPv6 mask bits must be < 128"
            } else {
                "IPv4 mask bits must be < 32"
            });
        }
        let host_bits = width - bits;
        let host_mask = u128::MAX.checked_shr(128 - host_bits).unwrap_or(0);
        Ok(Self {
            v6,
            low: base,
            high: base | host_mask,
        })
    }

    /// Whether `ip` falls in the range (the address family must agree).
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let (v6, bits) = ip_bits(ip);
        v6 == self.v6 && (self.low..=self.high).contains(&bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(c: &str, ip: &str) -> bool {
        Cidr::parse(c).unwrap().contains(parse_ip(ip).unwrap())
    }

    #[test]
    fn ranges() {
        assert!(has("10.0.0.0/24", "10.0.0.255"));
        assert!(!has("10.0.0.0/24", "10.0.1.0"));
        assert!(has(
            "2001:db8:1234:1a00::/64",
            "2001:0db8:1234:1a00:0000:0000:0000:0001"
        ));
        assert!(!has("2001:db8:1234:1a00::/64", "2001:0db8:123f:1a01::"));
        assert!(!has("10.0.0.0/8", "::ffff:10.0.0.1"));
        assert!(has("0.0.0.0/0", "255.255.255.255"));
        assert!(has("::/0", "ffff::1"));
    }

    #[test]
    fn errors() {
        let r = |s: &str| Cidr::parse(s).unwrap_err().reason().to_string();
        assert_eq!(r("bad-filter"), "Malformed CIDR, one '/' required");
        assert_eq!(
            r("bad-/64filter"),
            "Malformed CIDR, mask bits must be an integer"
        );
        assert_eq!(r("xx.11.xx/8"), "Nonstandard IP address: xx.11.xx");
        assert_eq!(r("10.0.0.0/32"), "IPv4 mask bits must be < 32");
        assert_eq!(r("::/128"), "IPv6 mask bits must be < 128");
        assert_eq!(
            r("10.0.0.0/-1"),
            "Malformed CIDR, mask bits must not be negative"
        );
    }
}
