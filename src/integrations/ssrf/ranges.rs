//! Which addresses are no destination: the special-purpose ranges of IANA's IPv4 and IPv6
//! registries, and IPv6 addresses that embed an IPv4 address (mapped, compatible, NAT64,
//! 6to4, Teredo) judged by the address inside.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A special-purpose range an address is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Loopback,
    Private,
    Shared,
    LinkLocal,
    Benchmarking,
    UniqueLocal,
    SiteLocal,
    LocalNat64,
    Unspecified,
    ThisNetwork,
    Metadata,
    Multicast,
    Broadcast,
    Reserved,
    Documentation,
    ProtocolAssignment,
    Deprecated,
    Discard,
}

impl Range {
    /// Whether `TASKBRIDGE_ALLOW_PRIVATE_URLS` lifts the refusal: networks a self-hosted
    /// tracker (or a test's fake) may live on. The others are never a server's address, or
    /// (the cloud metadata service) never one a tenant may reach.
    pub fn is_private(self) -> bool {
        matches!(
            self,
            Range::Loopback
                | Range::Private
                | Range::Shared
                | Range::LinkLocal
                | Range::Benchmarking
                | Range::UniqueLocal
                | Range::SiteLocal
                | Range::LocalNat64
        )
    }

    pub fn describe(self) -> &'static str {
        match self {
            Range::Loopback => "a loopback address",
            Range::Private => "a private address",
            Range::Shared => "a shared (carrier-grade NAT) address",
            Range::LinkLocal => "a link-local address",
            Range::Benchmarking => "a benchmarking address",
            Range::UniqueLocal => "a unique local address",
            Range::SiteLocal => "a site-local address",
            Range::LocalNat64 => "a local-use NAT64 address",
            Range::Unspecified => "the unspecified address",
            Range::ThisNetwork => "a 'this network' address",
            Range::Metadata => "the cloud metadata service",
            Range::Multicast => "a multicast address",
            Range::Broadcast => "the broadcast address",
            Range::Reserved => "a reserved address",
            Range::Documentation => "a documentation address",
            Range::ProtocolAssignment => "an IETF protocol assignment",
            Range::Deprecated => "a deprecated IPv4-compatible or relay address",
            Range::Discard => "the discard prefix",
        }
    }
}

/// The special-purpose range `ip` is in; `None` for an ordinary public address.
pub fn special(ip: IpAddr) -> Option<Range> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], bits: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn special_v4(ip: Ipv4Addr) -> Option<Range> {
    // Most specific first: the metadata address sits inside link-local.
    const TABLE: &[([u8; 4], u32, Range)] = &[
        ([169, 254, 169, 254], 32, Range::Metadata),
        ([255, 255, 255, 255], 32, Range::Broadcast),
        ([0, 0, 0, 0], 32, Range::Unspecified),
        ([0, 0, 0, 0], 8, Range::ThisNetwork),
        ([10, 0, 0, 0], 8, Range::Private),
        ([100, 64, 0, 0], 10, Range::Shared),
        ([127, 0, 0, 0], 8, Range::Loopback),
        ([169, 254, 0, 0], 16, Range::LinkLocal),
        ([172, 16, 0, 0], 12, Range::Private),
        ([192, 0, 0, 0], 24, Range::ProtocolAssignment),
        ([192, 0, 2, 0], 24, Range::Documentation),
        ([192, 31, 196, 0], 24, Range::ProtocolAssignment), // AS112
        ([192, 52, 193, 0], 24, Range::ProtocolAssignment), // AMT
        ([192, 88, 99, 0], 24, Range::Deprecated),          // 6to4 relay anycast
        ([192, 168, 0, 0], 16, Range::Private),
        ([192, 175, 48, 0], 24, Range::ProtocolAssignment), // AS112 direct delegation
        ([198, 18, 0, 0], 15, Range::Benchmarking),
        ([198, 51, 100, 0], 24, Range::Documentation),
        ([203, 0, 113, 0], 24, Range::Documentation),
        ([224, 0, 0, 0], 4, Range::Multicast),
        ([240, 0, 0, 0], 4, Range::Reserved),
    ];
    TABLE.iter().find(|(net, bits, _)| in_v4(ip, *net, *bits)).map(|(_, _, range)| *range)
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], bits: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

/// The IPv4 address in the last 32 bits.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    Ipv4Addr::from((u128::from(ip) & 0xffff_ffff) as u32)
}

fn special_v6(ip: Ipv6Addr) -> Option<Range> {
    let s = ip.segments();
    // Embeddings first: the address inside is where the packets end up.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4);
    }
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return special_v4(low_v4(ip)); // NAT64 well-known prefix
    }
    if in_v6(ip, [0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48) {
        // A local translator: private, unless what it embeds is never a destination.
        return Some(special_v4(low_v4(ip)).filter(|r| !r.is_private()).unwrap_or(Range::LocalNat64));
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return special_v4(Ipv4Addr::from(((s[1] as u32) << 16) | s[2] as u32)); // 6to4
    }
    if in_v6(ip, [0x2001, 0, 0, 0, 0, 0, 0, 0], 32) {
        // Teredo: the server's address, then the client's (stored inverted).
        let server = Ipv4Addr::from(((s[2] as u32) << 16) | s[3] as u32);
        let client = Ipv4Addr::from(!(((s[6] as u32) << 16) | s[7] as u32));
        return special_v4(client).or(special_v4(server));
    }
    const TABLE: &[([u16; 8], u32, Range)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 128, Range::Unspecified),
        ([0, 0, 0, 0, 0, 0, 0, 1], 128, Range::Loopback),
        ([0, 0, 0, 0, 0, 0, 0, 0], 96, Range::Deprecated), // IPv4-compatible
        ([0, 0, 0, 0, 0xffff, 0, 0, 0], 96, Range::Reserved), // IPv4-translated (SIIT)
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Range::Discard),
        ([0x2001, 0x2, 0, 0, 0, 0, 0, 0], 48, Range::Benchmarking),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, Range::ProtocolAssignment),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Range::Documentation),
        ([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, Range::ProtocolAssignment), // AS112
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Range::Documentation),
        ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, Range::Reserved), // SRv6 SIDs
        ([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128, Range::Metadata),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Range::UniqueLocal),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, Range::LinkLocal),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Range::SiteLocal),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Range::Multicast),
    ];
    if let Some((_, _, range)) = TABLE.iter().find(|(net, bits, _)| in_v6(ip, *net, *bits)) {
        return Some(*range);
    }
    // Only 2000::/3 is allocated for global unicast; the rest is reserved by IANA.
    (!in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3)).then_some(Range::Reserved)
}
