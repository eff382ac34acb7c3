//! Identity topics: an asset's configuration and firmware, as it reports them, kept for the assessment.

use super::*;

/// What an asset reported about its configuration and firmware.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct IdentityReport {
    /// Asset id.
    pub asset: String,
    /// Configuration version it runs.
    pub config_version: String,
    /// Firmware it runs.
    pub firmware: String,
    /// When the twin received the report, s on the receive clock (Unix s for live sources).
    pub received_s: f64,
}

/// Identity reports kept until taken (a newer report of an asset replaces its older one, so this is only reached
/// with that many assets).
pub(super) const MAX_PENDING_IDENTITIES: usize = 1024;

impl Ingestor {
    /// Takes the configuration and firmware reports received since the last call, oldest first.
    pub fn take_identities(&mut self) -> Vec<IdentityReport> {
        std::mem::take(&mut self.identities)
    }

    /// An identity report: `{"config_version": "…", "firmware": "…"}` (both strings).
    pub(super) fn ingest_identity(&mut self, msg: &RawMessage, asset: String) {
        let v: Option<serde_json::Value> = serde_json::from_slice(&msg.payload).ok();
        let field = |k: &str| v.as_ref().and_then(|v| v.get(k)).and_then(|x| x.as_str()).map(str::to_owned);
        let (Some(config_version), Some(firmware)) = (field("config_version"), field("firmware")) else {
            self.count(None, Outcome::BadPayload);
            return;
        };
        self.count(None, Outcome::Identity);
        self.identities.retain(|r| r.asset != asset);
        if self.identities.len() < MAX_PENDING_IDENTITIES {
            self.identities.push(IdentityReport { asset, config_version, firmware, received_s: msg.received_s });
        }
    }
}
