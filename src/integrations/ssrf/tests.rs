//! The guard's table: every special-purpose range in the spellings a URL parser lets
//! through, refused without `allow_private`, and with it only where it is a private network.

use super::*;

/// A URL and what the guard says of it: `Private` (refused unless private networks are
/// allowed), `Never` (refused always) or `Public` (accepted).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    Public,
    Private,
    Never,
}
use Verdict::*;

const TABLE: &[(&str, Verdict)] = &[
    // Loopback, in every spelling the URL parser turns into 127.0.0.1 or ::1.
    ("http://127.0.0.1:8080/api", Private),
    ("http://127.1/", Private),
    ("http://127.0.0.1./", Private),
    ("http://2130706433/", Private),
    ("http://017700000001/", Private),
    ("http://0x7f000001/", Private),
    ("http://0x7f.1/", Private),
    ("http://0177.0.0.1/", Private),
    ("http://0x7f.0x0.0x0.0x1/", Private),
    ("http://127.000.000.001/", Private),
    ("http://%31%32%37.0.0.1/", Private),
    ("http://\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}/", Private), // fullwidth digits
    ("http://127.255.255.254/", Private),
    ("http://[::1]/", Private),
    ("http://[0:0:0:0:0:0:0:1]/", Private),
    ("http://localhost/x", Private),
    ("http://LOCALHOST/x", Private),
    ("http://localhost./x", Private),
    ("http://localhost../x", Private),
    ("http://loc%61lhost/x", Private),
    ("http://\u{24db}ocalhost/x", Private), // circled l, mapped by IDNA
    ("http://api.localhost/x", Private),
    ("http://localhost.localdomain/x", Private),
    ("http://user-supplied@127.0.0.1/", Never), // credentials: refused whatever the host
    // IPv4 embedded in IPv6.
    ("http://[::ffff:127.0.0.1]/", Private),
    ("http://[::ffff:7f00:1]/", Private),
    ("http://[::127.0.0.1]/", Never), // IPv4-compatible: deprecated
    ("http://[::8.8.8.8]/", Never),
    ("http://[64:ff9b::7f00:1]/", Private),
    ("http://[64:ff9b::10.0.0.1]/", Private),
    ("http://[64:ff9b::a9fe:a9fe]/", Never), // NAT64 of the metadata service
    ("http://[64:ff9b:1::7f00:1]/", Private),
    ("http://[2002:7f00:1::1]/", Private),   // 6to4 of 127.0.0.1
    ("http://[2002:c0a8:101::1]/", Private), // 6to4 of 192.168.1.1
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", Private), // Teredo, client 127.0.0.1
    ("http://[2001:0:7f00:1:0:0:f7f7:f7f7]/", Private), // Teredo, server 127.0.0.1
    // Private, shared, link-local, benchmarking, unique and site local.
    ("http://10.1.2.3", Private),
    ("http://172.16.5.4", Private),
    ("http://172.31.255.255", Private),
    ("http://192.168.0.1", Private),
    ("http://100.64.0.1", Private),
    ("http://100.127.255.254", Private),
    ("http://169.254.1.1", Private),
    ("http://198.18.0.1", Private),
    ("http://198.19.255.254", Private),
    ("http://[fd00::1]/", Private),
    ("http://[fc00::1]/", Private),
    ("http://[fe80::1]/", Private),
    ("http://[febf::1]/", Private),
    ("http://[fec0::1]/", Private),
    ("http://[2001:2::1]/", Private),
    // Never a destination, whatever the setting.
    ("http://169.254.169.254/latest/meta-data", Never),
    ("http://[fd00:ec2::254]/", Never),
    ("http://[::ffff:169.254.169.254]/", Never),
    ("http://0.0.0.0/", Never),
    ("http://0/", Never),
    ("http://0.1.2.3/", Never),
    ("http://[::]/", Never),
    ("http://224.0.0.1/", Never),
    ("http://239.255.255.250/", Never),
    ("http://[ff02::1]/", Never),
    ("http://240.0.0.1/", Never),
    ("http://255.255.255.254/", Never),
    ("http://255.255.255.255/", Never),
    ("http://192.0.2.1/", Never),
    ("http://198.51.100.7/", Never),
    ("http://203.0.113.9/", Never),
    ("http://[2001:db8::1]/", Never),
    ("http://[3fff::1]/", Never),
    ("http://192.0.0.8/", Never),
    ("http://192.88.99.1/", Never),
    ("http://[100::1]/", Never),
    ("http://[2001:10::1]/", Never),
    ("http://[5f00::1]/", Never),
    ("http://[4000::1]/", Never),
    ("http://[::ffff:0:7f00:1]/", Never), // IPv4-translated
    // Public: accepted.
    ("https://slack.com/api", Public),
    ("https://hooks.slack.com/commands/T1/2/x", Public),
    ("http://8.8.8.8/", Public),
    ("http://1.1.1.1:8443/", Public),
    ("http://100.63.255.255/", Public),
    ("http://100.128.0.1/", Public),
    ("http://172.32.0.1/", Public),
    ("http://198.20.0.1/", Public),
    ("http://169.255.0.1/", Public),
    ("http://[2606:4700:4700::1111]/", Public),
    ("http://[::ffff:8.8.8.8]/", Public),
    ("http://[64:ff9b::808:808]/", Public),
    ("http://[2002:808:808::1]/", Public),
    ("https://localhost.example.com/", Public), // a name: checked when resolved
    ("https://127.0.0.1.nip.io/", Public),      // likewise
];

#[test]
fn every_range_in_every_spelling() {
    for &(url, verdict) in TABLE {
        let strict = Guard::new(false).check_url(url);
        let open = Guard::new(true).check_url(url);
        let credentials = url.contains('@');
        match verdict {
            Public => {
                assert!(strict.is_ok(), "{url}: {strict:?}");
                assert!(open.is_ok(), "{url}: {open:?}");
            }
            Private => {
                assert!(matches!(strict, Err(Refused::Private { .. })), "{url}: {strict:?}");
                assert!(open.is_ok(), "{url} with private allowed: {open:?}");
            }
            Never if credentials => {
                assert_eq!(strict.err(), Some(Refused::Credentials), "{url}");
                assert_eq!(open.err(), Some(Refused::Credentials), "{url}");
            }
            Never => {
                assert!(matches!(strict, Err(Refused::Special { .. })), "{url}: {strict:?}");
                assert!(matches!(open, Err(Refused::Special { .. })), "{url} with private allowed: {open:?}");
            }
        }
    }
}

#[test]
fn only_web_urls_without_credentials() {
    for url in ["ftp://example.com", "file:///etc/passwd", "gopher://x", "not a url", "https://user:pw@example.com"] {
        assert!(Guard::new(true).check_url(url).is_err(), "{url}");
    }
    assert_eq!(
        Guard::new(true).check_url("http://[::1%25eth0]/").err().map(|e| matches!(e, Refused::NotAUrl(_))),
        Some(true)
    );
}

#[test]
fn refusals_say_why_and_how() {
    let why = Guard::new(false).check_url("http://[::127.0.0.1]/").err().map(|e| e.to_string());
    assert_eq!(
        why.as_deref(),
        Some("[::7f00:1] is a deprecated IPv4-compatible or relay address, never a destination")
    );
    let why = Guard::new(false).check_url("http://2130706433/").err().map(|e| e.to_string());
    assert_eq!(
        why.as_deref(),
        Some("127.0.0.1 is a loopback address (set TASKBRIDGE_ALLOW_PRIVATE_URLS=true to allow)")
    );
}

#[test]
fn platform_urls_stay_on_the_platforms_hosts() {
    let slack = vec!["hooks.slack.com".to_string()];
    for ok in [
        "https://hooks.slack.com/commands/T1/2/x",
        "https://HOOKS.slack.com./commands/T1/2/x",
        "https://hooks.slack.com:443/commands",
    ] {
        assert!(check_on_hosts(ok, &slack, "Slack response_url").is_ok(), "{ok}");
    }
    for bad in [
        "https://hooks.slack.com.evil.example/x",
        "https://evil.example/hooks.slack.com",
        "https://evil.example/?hooks.slack.com",
        "https://hooks.slack.com@evil.example/",
        "https://slack.com/x",
        "https://x.hooks.slack.com/x",
        "http://127.0.0.1/x",
        "ftp://hooks.slack.com/x",
    ] {
        assert!(check_on_hosts(bad, &slack, "Slack response_url").is_err(), "{bad}");
    }
    let why = check_on_hosts("https://evil.example/x", &slack, "Slack response_url").err().map(|e| e.to_string());
    assert_eq!(
        why.as_deref(),
        Some("evil.example is not one of the hosts allowed for Slack response_url (hooks.slack.com)")
    );
    // Tests list their fakes' addresses, in either IPv6 spelling.
    let local = vec!["127.0.0.1".to_string(), "[::1]".to_string(), "0:0::1".to_string()];
    assert!(check_on_hosts("http://127.0.0.1:9/x", &local, "x").is_ok());
    assert!(check_on_hosts("http://[::1]:9/x", &local, "x").is_ok());
    assert!(check_on_hosts("http://2130706433:9/x", &local, "x").is_ok());
    assert!(check_on_hosts("http://localhost:9/x", &local, "x").is_err());
}
