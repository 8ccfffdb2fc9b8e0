//! `x-mock-fault` (DESIGN §3): `status=<code>`, `delay_ms=<n>`, `reset`,
//! `cut_after=<chunks>`, comma-separated; applied to every attempt.

use crate::UpstreamError;
use modelgate_core::GatewayError;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fault {
    pub status: Option<u16>,
    pub delay_ms: u64,
    pub reset: bool,
    pub cut_after: Option<usize>,
}

impl Fault {
    pub fn parse(header: &str) -> Result<Fault, UpstreamError> {
        let mut fault = Fault::default();
        for part in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let ok = match key.trim() {
                "status" => value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|s| (100..=599).contains(s))
                    .map(|s| fault.status = Some(s)),
                "delay_ms" => value
                    .trim()
                    .parse()
                    .ok()
                    .map(|d: u64| fault.delay_ms = d.min(600_000)),
                "cut_after" => value.trim().parse().ok().map(|n| fault.cut_after = Some(n)),
                "reset" => {
                    fault.reset = true;
                    Some(())
                }
                _ => None,
            };
            if ok.is_none() {
                return Err(UpstreamError::fatal(GatewayError::invalid(
                    format!("The x-mock-fault header has an invalid part \"{part}\". Use status=<code>, delay_ms=<n>, reset or cut_after=<chunks>, comma-separated."),
                    Some("x-mock-fault"),
                )));
            }
        }
        Ok(fault)
    }

    /// The failure this fault makes of an attempt, mapped as a real upstream's would be.
    pub fn failure(&self, model: &str) -> Option<UpstreamError> {
        if self.reset {
            return Some(broken_connection(model));
        }
        let status = self.status.filter(|s| !(200..300).contains(s))?;
        let body = format!(
            r#"{{"error":{{"message":"Mock fault: HTTP {status} as requested by x-mock-fault.","type":"mock_fault","code":null}}}}"#
        );
        let retry_after = (status == 429).then_some(std::time::Duration::from_secs(1));
        Some(crate::openai::map_error(
            status,
            body.as_bytes(),
            retry_after,
            model,
        ))
    }
}

pub fn broken_connection(model: &str) -> UpstreamError {
    UpstreamError::retriable(GatewayError::ProviderError {
        model: model.to_owned(),
        reason: "the connection to the provider broke before a complete answer.".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_combined_faults() {
        let f = Fault::parse("status=503, delay_ms=20,cut_after=2").unwrap();
        assert_eq!(f.status, Some(503));
        assert_eq!(f.delay_ms, 20);
        assert_eq!(f.cut_after, Some(2));
        assert!(Fault::parse("explode").is_err());
    }
}
