//! Outgoing webhooks to merchant systems: what an endpoint subscribes to,
//! how a delivery is signed (the Standard Webhooks scheme), and the guard
//! that keeps deliveries off loopback, link-local (the metadata address)
//! and private networks.
//!
//! The guard decides twice: at registration (the URL's host, resolved) and
//! at delivery, where the webhooks worker connects only to addresses this
//! module has checked in that same resolution, so a DNS answer that changes
//! between the check and the connection (rebinding) gains nothing. An IP
//! literal is checked as it is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::events::WEBHOOK_EVENT_TYPES;

/// A name that has not resolved by then is treated as not resolving.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The longest URL an endpoint may have.
pub const MAX_URL_LEN: usize = 2048;

/// The dev-only setting that lets deliveries reach loopback (the local
/// stack's test receiver). template.yaml never sets it; a contract test
/// checks that.
pub const ALLOW_LOOPBACK_VARIABLE: &str = "DEV_WEBHOOK_ALLOW_LOOPBACK";

/// An endpoint's signing secret: `whsec_` and the base64 of 24 random
/// bytes, the form Standard Webhooks libraries accept as is.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

const SECRET_PREFIX: &str = "whsec_";

impl Secret {
    pub fn generate() -> Self {
        let key = quiet_support::id::random_bytes::<24>();
        Self(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)))
    }

    /// A stored secret; `None` if it is not one of ours.
    pub fn parse(text: &str) -> Option<Self> {
        Self::key(text).map(|_| Self(text.to_string()))
    }

    fn key(text: &str) -> Option<Vec<u8>> {
        let key = STANDARD.decode(text.strip_prefix(SECRET_PREFIX)?).ok()?;
        (key.len() >= 16).then_some(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `webhook-signature` value for one delivery:
    /// `v1,` and the base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` keyed
    /// with the secret's decoded bytes.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let key = Self::key(&self.0).unwrap_or_default();
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// What an endpoint subscribes to: a non-empty set of
/// [`WEBHOOK_EVENT_TYPES`], sorted, without repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(value_type = Vec<String>, example = json!(["order.paid", "refund.succeeded"]))]
pub struct EventTypes(Vec<String>);

impl EventTypes {
    pub fn parse(names: &[String]) -> Result<Self, String> {
        if names.is_empty() {
            return Err("must name at least one event type".into());
        }
        let mut types = Vec::with_capacity(names.len());
        for name in names {
            if !WEBHOOK_EVENT_TYPES.contains(&name.as_str()) {
                return Err(format!(
                    "unknown event type {:?}; one of {}",
                    name.chars().take(64).collect::<String>(),
                    WEBHOOK_EVENT_TYPES.join(", ")
                ));
            }
            types.push(name.clone());
        }
        types.sort();
        types.dedup();
        Ok(Self(types))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|t| t == name)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// Where deliveries may go: refuses anything that is not a public unicast
/// address, except loopback when the dev-only setting allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Guard {
    allow_loopback: bool,
}

impl Guard {
    /// Production: public addresses only.
    pub const PUBLIC_ONLY: Guard = Guard {
        allow_loopback: false,
    };
    /// The local stack: loopback too (never private or link-local).
    pub const DEV_LOOPBACK: Guard = Guard {
        allow_loopback: true,
    };

    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        match crate::config::env(ALLOW_LOOPBACK_VARIABLE).as_deref() {
            None | Some("") | Some("0") | Some("false") => Ok(Self::PUBLIC_ONLY),
            Some("1") | Some("true") => {
                tracing::warn!("{ALLOW_LOOPBACK_VARIABLE} is set: webhook deliveries may reach loopback (dev only)");
                Ok(Self::DEV_LOOPBACK)
            }
            Some(_) => Err(crate::config::ConfigError::Invalid {
                name: ALLOW_LOOPBACK_VARIABLE,
                reason: "must be 1/true or 0/false".into(),
            }),
        }
    }

    /// Why a delivery must not connect to `ip`, or `None` if it may.
    pub fn refusal(self, ip: IpAddr) -> Option<&'static str> {
        match ip {
            IpAddr::V4(v4) => self.refusal_v4(v4),
            IpAddr::V6(v6) => self.refusal_v6(v6),
        }
    }

    fn refusal_v4(self, ip: Ipv4Addr) -> Option<&'static str> {
        let [a, b, c, _] = ip.octets();
        if ip.is_loopback() {
            return (!self.allow_loopback).then_some("a loopback address");
        }
        Some(match (a, b, c) {
            (0, _, _) => "an unspecified (\"this network\") address",
            (10, _, _) | (192, 168, _) => "a private address",
            (172, 16..=31, _) => "a private address",
            (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
            (169, 254, _) => "a link-local address (the cloud metadata service lives there)",
            (192, 0, 0) => "an IETF protocol address",
            (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
            (198, 18..=19, _) => "a benchmarking address",
            (224..=239, _, _) => "a multicast address",
            (240..=255, _, _) => "a reserved or broadcast address",
            _ => return None,
        })
    }

    fn refusal_v6(self, ip: Ipv6Addr) -> Option<&'static str> {
        if ip.is_loopback() {
            return (!self.allow_loopback).then_some("a loopback address");
        }
        if let Some(v4) = embedded_v4(ip) {
            return self
                .refusal_v4(v4)
                .map(|_| "an IPv6 form of a refused IPv4 address");
        }
        let segments = ip.segments();
        let first = segments[0];
        if ip.is_unspecified() {
            Some("an unspecified address")
        } else if first & 0xfe00 == 0xfc00 {
            Some("a unique local (private) address, the cloud metadata service's among them")
        } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
            Some("a link-local address")
        } else if first & 0xff00 == 0xff00 {
            Some("a multicast address")
        } else if first == 0x2001 && segments[1] == 0x0db8 {
            Some("a documentation address")
        } else if first == 0x2001 && segments[1] < 0x0200 {
            // 2001::/23: IETF protocol assignments, Teredo among them.
            Some("an IETF protocol address")
        } else if first & 0xe000 != 0x2000 {
            Some("not a global unicast address")
        } else {
            None
        }
    }

    /// The addresses a delivery may connect to: all of `addresses`, or an
    /// error if there are none or any one is refused (a name that also
    /// resolves somewhere private is not trusted with the public answer).
    pub fn check(self, addresses: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, String> {
        if addresses.is_empty() {
            return Err("the host does not resolve".into());
        }
        for address in &addresses {
            if let Some(reason) = self.refusal(address.ip()) {
                return Err(format!("the host resolves to {reason}"));
            }
        }
        Ok(addresses)
    }

    /// Resolves `host` and checks every answer.
    pub async fn resolve(self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.check(vec![SocketAddr::new(ip, port)]);
        }
        let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| "the host did not resolve in time".to_string())?
            .map_err(|_| "the host does not resolve".to_string())?;
        self.check(found.collect())
    }

    /// Parses an endpoint URL: `https://` (plain `http://` only to
    /// loopback, when loopback is allowed), a host, no credentials.
    /// Addresses are checked later, by [`Guard::resolve`].
    pub fn destination(self, url: &str) -> Result<Destination, String> {
        if url.len() > MAX_URL_LEN {
            return Err(format!("must be at most {MAX_URL_LEN} characters"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain spaces or control characters".into());
        }
        let uri: lambda_http::http::Uri = url.parse().map_err(|_| "is not a URL".to_string())?;
        let authority = uri.authority().ok_or("has no host")?;
        if authority.as_str().contains('@') {
            return Err("must not carry credentials".into());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err("has no host".into());
        }
        let loopback = host == "localhost"
            || host.parse::<IpAddr>().is_ok_and(|ip| {
                ip.is_loopback() || embedded_v4(ip_v6(ip)).is_some_and(|v4| v4.is_loopback())
            });
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if loopback && self.allow_loopback => false,
            _ => return Err("must be https".into()),
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            if let Some(reason) = self.refusal(ip) {
                return Err(format!("is {reason}"));
            }
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Destination {
            url: url.to_string(),
            host,
            port,
        })
    }
}

fn ip_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4 (`2002:aabb:ccdd::`)
/// address: each reaches that IPv4 host, so each is judged as it.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, _, _] if !ip.is_loopback() && !ip.is_unspecified() => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x2002, high, low, ..] => Some(Ipv4Addr::new(
            (high >> 8) as u8,
            high as u8,
            (low >> 8) as u8,
            low as u8,
        )),
        _ => None,
    }
}

/// A parsed endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub url: String,
    /// Lowercase, without IPv6 brackets.
    pub host: String,
    pub port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(guard: Guard, ip: &str) -> bool {
        guard.refusal(ip.parse().expect("ip")).is_some()
    }

    #[test]
    fn metadata_private_and_special_addresses_are_refused() {
        for ip in [
            "169.254.169.254",
            "169.254.170.2",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "127.0.0.1",
            "127.8.9.10",
            "192.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2002:0a00:0001::1",
        ] {
            assert!(refused(Guard::PUBLIC_ONLY, ip), "{ip} must be refused");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "2a00:1450::1",
            "::ffff:93.184.215.14",
            "2002:5db8:d70e::1",
        ] {
            assert!(!refused(Guard::PUBLIC_ONLY, ip), "{ip} must be allowed");
        }
    }

    #[test]
    fn the_dev_setting_allows_loopback_and_nothing_else() {
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(!refused(Guard::DEV_LOOPBACK, ip), "{ip}");
        }
        for ip in ["169.254.169.254", "10.0.0.1", "fd00:ec2::254", "0.0.0.0"] {
            assert!(refused(Guard::DEV_LOOPBACK, ip), "{ip}");
        }
    }

    #[test]
    fn one_refused_answer_refuses_the_host() {
        let public: SocketAddr = "93.184.215.14:443".parse().expect("addr");
        let metadata: SocketAddr = "169.254.169.254:443".parse().expect("addr");
        assert!(Guard::PUBLIC_ONLY.check(vec![public]).is_ok());
        assert!(Guard::PUBLIC_ONLY.check(vec![public, metadata]).is_err());
        assert!(Guard::PUBLIC_ONLY.check(vec![]).is_err());
    }

    #[test]
    fn urls_must_be_https_with_a_host_and_no_credentials() {
        let ok = Guard::PUBLIC_ONLY
            .destination("https://erp.example.com:8443/hooks?shop=1")
            .expect("ok");
        assert_eq!((ok.host.as_str(), ok.port), ("erp.example.com", 8443));
        assert_eq!(
            Guard::PUBLIC_ONLY
                .destination("https://[2606:4700::1111]/h")
                .expect("v6")
                .host,
            "2606:4700::1111"
        );
        for bad in [
            "http://erp.example.com/hooks",
            "ftp://erp.example.com/hooks",
            "https://user:pw@erp.example.com/hooks",
            "https:///hooks",
            "erp.example.com/hooks",
            "https://169.254.169.254/latest/meta-data",
            "https://10.1.2.3/hooks",
            "https://[fd00:ec2::254]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://127.0.0.1/hooks",
            "http://127.0.0.1:9000/hooks",
            "https://erp.example.com/a b",
            "https://erp.example.com/\n",
        ] {
            assert!(Guard::PUBLIC_ONLY.destination(bad).is_err(), "{bad}");
        }
        let long = format!("https://erp.example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(Guard::PUBLIC_ONLY.destination(&long).is_err());
    }

    #[test]
    fn plain_http_only_to_loopback_in_dev() {
        let local = Guard::DEV_LOOPBACK
            .destination("http://127.0.0.1:9000/hooks")
            .expect("dev loopback");
        assert_eq!(local.port, 9000);
        assert!(Guard::DEV_LOOPBACK
            .destination("http://localhost:9000/h")
            .is_ok());
        assert!(Guard::DEV_LOOPBACK
            .destination("http://[::1]:9000/h")
            .is_ok());
        assert!(Guard::DEV_LOOPBACK
            .destination("http://erp.example.com/h")
            .is_err());
        assert!(Guard::DEV_LOOPBACK
            .destination("http://10.0.0.1/h")
            .is_err());
    }

    #[tokio::test]
    async fn resolving_checks_literals_without_a_lookup() {
        assert!(Guard::PUBLIC_ONLY
            .resolve("169.254.169.254", 443)
            .await
            .is_err());
        assert!(Guard::DEV_LOOPBACK.resolve("127.0.0.1", 9).await.is_ok());
        assert!(Guard::PUBLIC_ONLY.resolve("127.0.0.1", 9).await.is_err());
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let fresh = Secret::generate();
        assert!(Secret::parse(fresh.as_str()).is_some());
        assert_ne!(fresh, Secret::generate());
        assert!(Secret::parse("whsec_short").is_none());
        assert_eq!(format!("{fresh:?}"), "Secret(..)");
    }

    #[test]
    fn event_types_are_a_known_nonempty_set() {
        let types = EventTypes::parse(&[
            "order.paid".into(),
            "order.placed".into(),
            "order.paid".into(),
        ])
        .expect("ok");
        assert_eq!(types.as_slice(), ["order.paid", "order.placed"]);
        assert!(types.contains("order.paid") && !types.contains("refund.failed"));
        assert!(EventTypes::parse(&[]).is_err());
        assert!(EventTypes::parse(&["report.requested".into()]).is_err());
        assert!(EventTypes::parse(&["webhook.replay_requested".into()]).is_err());
    }
}
