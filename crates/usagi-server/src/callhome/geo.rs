//! Geography of call-home clients from a MaxMind-format database (callhome §9.5).
//!
//! The address is used for the lookup and then forgotten: it is never stored or logged.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use usagi_ingest::Geo;

/// An opened MMDB file.
pub struct GeoLookup {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl GeoLookup {
    /// Opens a GeoLite2/GeoIP2 City or Country database.
    pub fn open(path: &Path) -> Result<Self, String> {
        maxminddb::Reader::open_readfile(path).map(|reader| Self { reader }).map_err(|e| e.to_string())
    }

    /// Continent, country and US state of an address; None when nothing matches.
    pub fn lookup(&self, ip: IpAddr) -> Option<Geo> {
        let city: maxminddb::geoip2::City = self.reader.lookup(ip).ok().flatten()?;
        let continent = city.continent.as_ref().and_then(|c| c.code).map(str::to_string);
        let country = city.country.as_ref().and_then(|c| c.iso_code).map(str::to_string);
        let us_state = if country.as_deref() == Some("US") {
            city.subdivisions.as_ref().and_then(|s| s.first()).and_then(|s| s.iso_code).map(|code| format!("US-{code}"))
        } else {
            None
        };
        if continent.is_none() && country.is_none() {
            return None;
        }
        Some(Geo { continent, country, us_state })
    }
}

/// The client address: the TCP peer, or — only behind a trusted proxy — the first
/// untrusted address of `X-Forwarded-For`, read right to left.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if trusted.is_empty() || !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else { return peer };
    let mut last = peer;
    for part in header.rsplit(',') {
        match part.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => last = ip,
            Ok(ip) => return ip,
            Err(_) => return last,
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_only_behind_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.1.1.1".parse().unwrap();
        let outsider: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            client_ip(proxy, Some("198.51.100.7, 10.2.2.2"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(outsider, Some("198.51.100.7"), &trusted), outsider);
        assert_eq!(client_ip(proxy, Some("198.51.100.7"), &[]), proxy);
        assert_eq!(client_ip(proxy, Some("garbage"), &trusted), proxy);
    }
}
