//! What an approval is over: the change set as a document (the drafts with their ramps, every layer's verdict, the
//! target, the live values they were based on) and its canonical hash, which engineers sign (`twin approve`, or
//! the workbench's change panel) with their keys; and the policy that says whether a scenario's changes need
//! signed approvals. Any change to the document changes its hash and voids the signatures made over it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::PlcTarget;
use super::validate::Validation;
use crate::scenario::Scenario;

/// The `format` of a change-set file.
pub const CHANGE_SET_FORMAT: &str = "twin-change-set/1";

/// A change set as engineers sign it (`CHANGE.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeSetDoc {
    /// [`CHANGE_SET_FORMAT`].
    pub format: String,
    /// The scenario's name.
    pub scenario: String,
    /// The PLC it is written to, as the audit log names it.
    pub target: String,
    /// The drafts, in order.
    pub drafts: Vec<DraftDoc>,
    /// Every layer's verdict of every draft, in order.
    pub verdicts: Vec<VerdictDoc>,
}

/// One drafted set-point change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftDoc {
    pub setpoint: String,
    /// The set-point's unit, which the values below are in.
    pub unit: String,
    /// The live value the draft was based on (read from the PLC, or the twin's), in `unit`.
    pub based_on: f64,
    /// The proposed value, in `unit`.
    pub value: f64,
    /// The writes that get there (one, or a ramp), in `unit`.
    pub ramp: Vec<f64>,
}

/// One layer's verdict on one draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictDoc {
    pub setpoint: String,
    /// The validation layer.
    pub layer: String,
    pub passed: bool,
    /// Why, as the engineer read it.
    pub reason: String,
}

impl ChangeSetDoc {
    /// The document of validated drafts going to `target`.
    pub fn of(scenario: &Scenario, target: Option<&PlcTarget>, validations: &[&Validation]) -> Self {
        Self {
            format: CHANGE_SET_FORMAT.into(),
            scenario: scenario.name.clone(),
            // The virtual plant's PLC listens on a new port at every run: named without it, so that a change
            // set signed on one run is the same change on the next.
            target: match target {
                None => "no PLC".to_string(),
                Some(t) if t.is_virtual() => "the virtual plant's PLC".to_string(),
                Some(t) => t.to_string(),
            },
            drafts: validations
                .iter()
                .map(|v| DraftDoc {
                    setpoint: v.setpoint.clone(),
                    unit: v.unit.clone(),
                    based_on: v.from,
                    value: v.to,
                    ramp: v.ramp.clone(),
                })
                .collect(),
            verdicts: validations
                .iter()
                .flat_map(|v| {
                    v.verdicts.iter().map(|x| VerdictDoc {
                        setpoint: v.setpoint.clone(),
                        layer: format!("{:?}", x.layer),
                        passed: x.passed,
                        reason: x.reason.clone(),
                    })
                })
                .collect(),
        }
    }

    /// The canonical hash that approvals sign (SHA-256 of the compact JSON, hex).
    pub fn hash(&self) -> String {
        // A document of strings, finite numbers and booleans always encodes.
        twin_sign::canonical_hash(self).unwrap_or_default()
    }

    /// Whether `other` asks for the same writes: same scenario, target and drafts (values, ramps, the live values
    /// they were based on). The verdicts' reasons may differ (a validation made again on fresher data).
    pub fn same_change(&self, other: &Self) -> bool {
        self.format == other.format
            && self.scenario == other.scenario
            && self.target == other.target
            && self.drafts == other.drafts
            && self
                .verdicts
                .iter()
                .map(|v| (&v.setpoint, &v.layer, v.passed))
                .eq(other.verdicts.iter().map(|v| (&v.setpoint, &v.layer, v.passed)))
    }

    /// What differs from `other`, for a person (empty when [`Self::same_change`]).
    pub fn differences(&self, other: &Self) -> Vec<String> {
        let mut out = Vec::new();
        if self.scenario != other.scenario {
            out.push(format!("scenario \"{}\" here, \"{}\" there", self.scenario, other.scenario));
        }
        if self.target != other.target {
            out.push(format!("target {} here, {} there", self.target, other.target));
        }
        if self.drafts != other.drafts {
            let show = |d: &[DraftDoc]| {
                d.iter()
                    .map(|d| format!("{} {} → {} {} (ramp {:?})", d.setpoint, d.based_on, d.value, d.unit, d.ramp))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push(format!("drafts [{}] here, [{}] there", show(&self.drafts), show(&other.drafts)));
        }
        if out.is_empty() && !self.same_change(other) {
            out.push("the validation's verdicts differ".into());
        }
        out
    }

    /// Reads a change-set file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses the text of a change-set file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, String> {
        let doc: Self =
            serde_json::from_str(text).map_err(|e| format!("{}: not a change-set file: {e}", path.display()))?;
        if doc.format != CHANGE_SET_FORMAT {
            return Err(format!("{}: format \"{}\", expected \"{CHANGE_SET_FORMAT}\"", path.display(), doc.format));
        }
        Ok(doc)
    }

    /// Writes it to `path` (pretty JSON; the hash does not depend on the layout).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())? + "\n";
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A person's summary: one line per draft and per failed or passed layer.
    pub fn summary(&self) -> String {
        let mut s = format!("change set for {} → {}\n", self.scenario, self.target);
        for d in &self.drafts {
            s += &format!("  {}: {} → {} {} ({} write(s))\n", d.setpoint, d.based_on, d.value, d.unit, d.ramp.len());
        }
        for v in &self.verdicts {
            let verdict = if v.passed { "PASS" } else { "FAIL" };
            s += &format!("  {} {:<12} {verdict} {}\n", v.setpoint, v.layer, v.reason);
        }
        s + &format!("  hash {}", self.hash())
    }
}

/// How a scenario's changes are approved.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Signatures by the scenario's trusted keys with the engineer role.
    Signed(twin_sign::TrustStore),
    /// Names, for the virtual plant's PLC only (training, trials): nothing real is written.
    Names,
    /// No approval can count: a real PLC and no trusted keys. Why.
    Refused(String),
}

/// The approval policy of `scenario` for changes written to `target`: signed approvals when the scenario names
/// trusted keys (`change: (trusted_keys: …)`); names only for the virtual plant's PLC; nothing else counts for a
/// real PLC.
pub fn policy(scenario: &Scenario, target: Option<&PlcTarget>) -> Policy {
    match &scenario.change.trusted_keys {
        Some(path) => match twin_sign::TrustStore::load(Path::new(path)) {
            Ok(t) => Policy::Signed(t),
            Err(e) => Policy::Refused(format!("trusted keys: {e}")),
        },
        None if target.is_none_or(PlcTarget::is_virtual) => Policy::Names,
        None => Policy::Refused(
            "a change for a real PLC needs signed approvals: name the site's trusted keys in the scenario \
             (change: (trusted_keys: \"…\"))"
                .into(),
        ),
    }
}
