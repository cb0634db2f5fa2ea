//! The SSRF guard for URLs a tenant configures: loopback, private, link-local and other
//! internal addresses are refused unless `TASKBRIDGE_ALLOW_PRIVATE_URLS=true`.

use std::net::IpAddr;

/// Checks the URL's form and, for a literal address or `localhost`, where it points.
/// (Names are checked again when resolved, at call time.)
pub fn check_url(raw: &str, allow_private: bool) -> Result<(), String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http and https URLs are allowed".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials belong in secrets, not in the URL".into());
    }
    let host = url.host_str().ok_or("the URL has no host")?;
    if allow_private {
        return Ok(());
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return Err("points at this machine (set TASKBRIDGE_ALLOW_PRIVATE_URLS=true to allow)".into());
    }
    if let Ok(ip) = host.parse::<IpAddr>()
        && is_internal(ip)
    {
        return Err("points at a private or internal address (set TASKBRIDGE_ALLOW_PRIVATE_URLS=true to allow)".into());
    }
    Ok(())
}

pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]) // carrier-grade NAT
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (v6.segments()[0] & 0xffc0) == 0xfe80 // link local
                || v6.to_ipv4_mapped().is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/api",
            "http://localhost/x",
            "http://10.1.2.3",
            "http://192.168.0.1",
            "http://172.16.5.4",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://0.0.0.0/",
        ] {
            assert!(check_url(url, false).is_err(), "{url}");
            assert!(check_url(url, true).is_ok(), "{url}");
        }
        assert!(check_url("https://slack.com/api", false).is_ok());
        assert!(check_url("ftp://example.com", true).is_err());
        assert!(check_url("https://user:pw@example.com", true).is_err());
        assert!(check_url("not a url", true).is_err());
    }
}
