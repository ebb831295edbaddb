//! Parsers of the small endpoints: `license/check`, `license/set` (§7), `optout` and `ping` (§8).

use crate::error::SyntaxError;
use crate::json::parse_object;
use crate::limits::LICENSE_KEY_MAX;
use crate::validate::Obj;
use crate::wire::{LicenseCheckRequest, LicenseSetRequest, OptOutRequest, PingRequest};

/// Parses and validates a `license/check` body.
pub fn parse_license_check(json: &[u8]) -> Result<LicenseCheckRequest, SyntaxError> {
    let map = parse_object(json)?;
    let body = Obj::root(&map);
    Ok(LicenseCheckRequest { client_id: body.client_id("clientId")?, license_key: license_key(&body)? })
}

/// Parses and validates a `license/set` body.
pub fn parse_license_set(json: &[u8]) -> Result<LicenseSetRequest, SyntaxError> {
    let map = parse_object(json)?;
    let body = Obj::root(&map);
    Ok(LicenseSetRequest {
        client_id: body.client_id("clientId")?,
        license_key: license_key(&body)?,
        t: body.time_ms("t")?,
        session_id: body.session_id("sessionId")?,
    })
}

/// Parses and validates an `optout` body.
pub fn parse_optout(json: &[u8]) -> Result<OptOutRequest, SyntaxError> {
    let map = parse_object(json)?;
    let body = Obj::root(&map);
    Ok(OptOutRequest {
        client_id: body.client_id("clientId")?,
        app_name: body.app_name("appName")?,
        machine_id: body.machine_id("machineId")?,
        t: body.time_ms("t")?,
    })
}

/// Parses and validates a `ping` body; `{}` is allowed.
pub fn parse_ping(json: &[u8]) -> Result<PingRequest, SyntaxError> {
    let map = parse_object(json)?;
    Ok(PingRequest { client_id: Obj::root(&map).optional_client_id("clientId")? })
}

/// The key is a name, not a nullable value: `"<NULL>"` is kept as a (strange) key.
fn license_key(body: &Obj<'_>) -> Result<String, SyntaxError> {
    body.bounded_str("licenseKey", 1, LICENSE_KEY_MAX)
}

#[cfg(test)]
mod tests {
    use usagi_types::ClientId;

    use super::*;

    const CID: &str = "4F2A9C1E7B3D5A60";

    fn reason<T: std::fmt::Debug>(r: Result<T, SyntaxError>) -> String {
        r.unwrap_err().reason().to_owned()
    }

    fn cid() -> ClientId {
        ClientId::parse(CID).unwrap()
    }

    #[test]
    fn license_check() {
        let ok = parse_license_check(format!(r#"{{"clientId":"{CID}","licenseKey":"  ABcd-1234 "}}"#).as_bytes());
        assert_eq!(ok, Ok(LicenseCheckRequest { client_id: cid(), license_key: "ABcd-1234".into() }));
        let max = "k".repeat(256);
        let ok = parse_license_check(format!(r#"{{"clientId":"{CID}","licenseKey":"{max}"}}"#).as_bytes());
        assert_eq!(ok.map(|r| r.license_key.len()), Ok(256));
        for key in [r#""""#, r#""   ""#, &format!("\"{}\"", "k".repeat(257))] {
            let body = format!(r#"{{"clientId":"{CID}","licenseKey":{key}}}"#);
            assert_eq!(reason(parse_license_check(body.as_bytes())), "licenseKey must be 1-256 characters");
        }
        assert_eq!(
            reason(parse_license_check(format!(r#"{{"clientId":"{CID}"}}"#).as_bytes())),
            "licenseKey is required"
        );
        assert_eq!(
            reason(parse_license_check(format!(r#"{{"clientId":"{CID}","licenseKey":5}}"#).as_bytes())),
            "licenseKey must be a string"
        );
        assert_eq!(
            reason(parse_license_check(br#"{"clientId":"4f2a9c1e7b3d5a60","licenseKey":"x"}"#)),
            "clientId must be 16 uppercase hexadecimal characters"
        );
        assert_eq!(reason(parse_license_check(br#"{"licenseKey":"x"}"#)), "clientId is required");
        assert_eq!(reason(parse_license_check(b"[]")), "body must be a JSON object");
    }

    #[test]
    fn license_set() {
        let body = format!(r#"{{"clientId":"{CID}","licenseKey":"K","t":1710842400000,"sessionId":" s-1234567890 "}}"#);
        assert_eq!(
            parse_license_set(body.as_bytes()),
            Ok(LicenseSetRequest {
                client_id: cid(),
                license_key: "K".into(),
                t: 1_710_842_400_000,
                session_id: Some("s-1234567890".into()),
            })
        );
        let body = format!(r#"{{"clientId":"{CID}","licenseKey":"K","t":0,"sessionId":null}}"#);
        assert_eq!(parse_license_set(body.as_bytes()).map(|r| (r.t, r.session_id)), Ok((0, None)));
        let body = format!(r#"{{"clientId":"{CID}","licenseKey":"K"}}"#);
        assert_eq!(reason(parse_license_set(body.as_bytes())), "t is required");
        let body = format!(r#"{{"clientId":"{CID}","licenseKey":"K","t":-1}}"#);
        assert_eq!(reason(parse_license_set(body.as_bytes())), "t must be an integer from 0 to 9007199254740991");
        let body = format!(r#"{{"clientId":"{CID}","licenseKey":"K","t":1,"sessionId":"short"}}"#);
        assert_eq!(reason(parse_license_set(body.as_bytes())), "sessionId must be 10-64 characters");
    }

    #[test]
    fn optout() {
        let body = format!(r#"{{"clientId":"{CID}","appName":"DemoApp","machineId":"<NULL>","t":5}}"#);
        assert_eq!(
            parse_optout(body.as_bytes()),
            Ok(OptOutRequest { client_id: cid(), app_name: "DemoApp".into(), machine_id: None, t: 5 })
        );
        let body = format!(r#"{{"clientId":"{CID}","appName":"Demo App","t":5}}"#);
        assert_eq!(reason(parse_optout(body.as_bytes())), "appName must be 1-16 characters without whitespace");
        let body = format!(r#"{{"clientId":"{CID}","appName":"Demo","machineId":"a b","t":5}}"#);
        assert_eq!(reason(parse_optout(body.as_bytes())), "machineId must be 1-64 characters from [0-9A-Za-z._-]");
    }

    #[test]
    fn ping() {
        assert_eq!(parse_ping(b"{}"), Ok(PingRequest { client_id: None }));
        assert_eq!(parse_ping(br#"{"clientId":null,"extra":1}"#), Ok(PingRequest { client_id: None }));
        assert_eq!(
            parse_ping(format!(r#"{{"clientId":"{CID}"}}"#).as_bytes()),
            Ok(PingRequest { client_id: Some(cid()) })
        );
        assert_eq!(
            reason(parse_ping(br#"{"clientId":"nope"}"#)),
            "clientId must be 16 uppercase hexadecimal characters"
        );
        assert_eq!(reason(parse_ping(br#"{"clientId":7}"#)), "clientId must be a string");
        assert!(reason(parse_ping(b"")).starts_with("body is not valid JSON: "));
    }
}
