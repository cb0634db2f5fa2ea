//! The SSRF guard: where taskbridge may connect. Every URL it calls — stored in an
//! integration, received in a webhook, or returned by a provider — is checked when the
//! connection is made, by the shared HTTP client ([`connect`]) and the SMTP client; URLs a
//! tenant saves are checked once more when saved, for a clear error at once.
//!
//! Refused: every special-purpose range of IANA's IPv4 and IPv6 registries ([`ranges`]),
//! and `localhost` names. `TASKBRIDGE_ALLOW_PRIVATE_URLS=true` lifts the refusal for
//! private networks (loopback, private, shared, link-local, benchmarking, unique local), for
//! a tracker on the LAN or a test's fake; never for the others (unspecified, multicast,
//! reserved, documentation, the cloud metadata service…).
//!
//! Endpoints from the operator's configuration are trusted and reached by clients no tenant
//! URL goes to, outside the guard: the language model and transcription servers (a local
//! Ollama is normal), the OAuth providers' and the Bot Framework's endpoints
//! (`outbound::Outbound::operator`).

pub mod connect;
pub mod ranges;

use std::net::IpAddr;

use reqwest::Url;

pub use connect::{describe, refusal};
pub use ranges::Range;

/// Why the guard refused a URL or an address.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    #[error("not a URL ({0})")]
    NotAUrl(String),
    #[error("only http and https URLs are allowed")]
    Scheme,
    #[error("credentials belong in secrets, not in the URL")]
    Credentials,
    #[error("the URL has no host")]
    NoHost,
    #[error("{host} is {} (set TASKBRIDGE_ALLOW_PRIVATE_URLS=true to allow)", .range.describe())]
    Private { host: String, range: Range },
    #[error("{host} is {}, never a destination", .range.describe())]
    Special { host: String, range: Range },
    #[error("{host} resolves only to refused addresses: {why}")]
    Resolved { host: String, why: String },
    #[error("{host} is not one of the hosts allowed for {what} ({allowed})")]
    NotAllowedHost { host: String, what: &'static str, allowed: String },
    /// Fails closed: a connection whose destination cannot be read is not made.
    #[error("the destination of the connection could not be read")]
    Unreadable,
}

/// The guard's policy: whether private networks are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    allow_private: bool,
}

impl Guard {
    pub fn new(allow_private: bool) -> Self {
        Guard { allow_private }
    }

    pub fn allows_private(self) -> bool {
        self.allow_private
    }

    /// Checks an address about to be connected to (`host` names it in the refusal).
    pub fn check_ip(self, ip: IpAddr, host: &str) -> Result<(), Refused> {
        match ranges::special(ip) {
            None => Ok(()),
            Some(range) if range.is_private() && self.allow_private => Ok(()),
            Some(range) if range.is_private() => Err(Refused::Private { host: host.to_string(), range }),
            Some(range) => Err(Refused::Special { host: host.to_string(), range }),
        }
    }

    /// The resolved `addresses` that may be connected to; when none may, why the first
    /// was refused (`None` when there was no address at all).
    pub fn allowed(
        self,
        addresses: impl IntoIterator<Item = std::net::SocketAddr>,
    ) -> Result<Vec<std::net::SocketAddr>, Option<Refused>> {
        let mut refused = None;
        let allowed: Vec<_> = addresses
            .into_iter()
            .filter(|a| match self.check_ip(a.ip(), &a.ip().to_string()) {
                Ok(()) => true,
                Err(why) => {
                    refused.get_or_insert(why);
                    false
                }
            })
            .collect();
        if allowed.is_empty() { Err(refused) } else { Ok(allowed) }
    }

    /// Checks a host as a URL parser wrote it (`reqwest::Url::host_str`, or the `Uri` a
    /// connection is made to: IPv4 canonical, IPv6 in brackets): a literal address by its
    /// range, a name only if it is this machine's (other names are checked when resolved).
    pub fn check_host(self, host: &str) -> Result<(), Refused> {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.check_ip(ip, host);
        }
        let name = normalise_name(host);
        if name.is_empty() {
            return Err(Refused::NoHost);
        }
        // Names any resolver answers with loopback (RFC 6761, Debian's /etc/hosts).
        let local = name == "localhost"
            || name.ends_with(".localhost")
            || matches!(name.as_str(), "localhost.localdomain" | "ip6-localhost" | "ip6-loopback");
        if local && !self.allow_private {
            return Err(Refused::Private { host: name, range: Range::Loopback });
        }
        Ok(())
    }

    /// Checks a URL's form (http or https, no credentials in it) and its host.
    pub fn check_url(self, raw: &str) -> Result<Url, Refused> {
        let url = parse(raw)?;
        self.check_host(url.host_str().ok_or(Refused::NoHost)?)?;
        Ok(url)
    }
}

/// Parses `raw` as the HTTP client will, refusing other schemes and embedded credentials.
fn parse(raw: &str) -> Result<Url, Refused> {
    let url = Url::parse(raw.trim()).map_err(|e| Refused::NotAUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Credentials);
    }
    Ok(url)
}

/// A host name as resolvers treat it: case and trailing dots do not matter.
fn normalise_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A host as written in an allow-list or a URL, in one spelling: addresses canonical and
/// without brackets, names normalised.
fn host_key(host: &str) -> String {
    let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => normalise_name(bare),
    }
}

/// Checks that `raw` points at one of `hosts` (any port): for URLs a platform sends in a
/// webhook that may only ever lead back to that platform (Slack's `response_url`). The
/// address guard still applies when the connection is made.
pub fn check_on_hosts(raw: &str, hosts: &[String], what: &'static str) -> Result<Url, Refused> {
    let url = parse(raw)?;
    let host = host_key(url.host_str().ok_or(Refused::NoHost)?);
    if hosts.iter().any(|h| host_key(h) == host) {
        return Ok(url);
    }
    Err(Refused::NotAllowedHost { host, what, allowed: hosts.join(", ") })
}

#[cfg(test)]
mod tests;
