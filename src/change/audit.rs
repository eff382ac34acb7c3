//! The audit log of set-point changes: append-only JSON Lines, each record carrying the SHA-256 of the one
//! before it and its own, and flushed to disk before the action it describes is taken, so that what reached a
//! PLC can always be traced and any later edit, removal or reordering of a record is detected.
//!
//! A record is one line, `{"seq":…,"unix_s":…,"actor":…,"event":…,"data":{…},"prev":"<hex>","hash":"<hex>"}`,
//! with `hash` always last: it is the SHA-256 of the line's text up to `,"hash"` followed by `}` (the record
//! exactly as written, `prev` included), so verification needs no JSON re-serialisation. The first record's
//! `prev` is 64 zeros.
//!
//! A hash chain shows edits only to whoever kept the last hash: someone rewriting the whole file can recompute it.
//! Signed approvals are what a rewrite cannot forge: verification checks every recorded signature against its
//! public key and change-set hash, and that every signed push had the approvals it needed over its change set.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Why the log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The existing log is broken: nothing is appended to it.
    #[error("{}: cannot append to a broken log: {problem}", path.display())]
    Broken { path: PathBuf, problem: Problem },
    #[error("cannot encode the audit record: {0}")]
    Encode(String),
}

/// Why a log did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// It could not be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// It was read, and its first broken or altered record is this one.
    #[error(transparent)]
    Broken(Problem),
}

/// The first problem found in a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct Problem {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

/// The record as hashed (every field but the hash, in this order).
#[derive(Serialize)]
struct Body<'a, T: Serialize> {
    seq: u64,
    unix_s: f64,
    actor: &'a str,
    event: &'a str,
    data: &'a T,
    prev: &'a str,
}

/// The hash of a record's text without its hash field (which ends with `}`).
fn digest(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// An open, append-only audit log.
pub struct AuditLog {
    path: PathBuf,
    file: File,
    last_hash: String,
    next_seq: u64,
}

impl AuditLog {
    /// Opens (or creates) the log at `path`; an existing log is verified first and extended.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let io = |source| AuditError::Io { path: path.to_owned(), source };
        let (last_hash, next_seq) = if path.exists() {
            match verify(path) {
                Ok(summary) => (summary.last_hash, summary.records as u64),
                Err(VerifyError::Broken(problem)) => return Err(AuditError::Broken { path: path.to_owned(), problem }),
                Err(VerifyError::Io(e)) => return Err(io(e)),
            }
        } else {
            (GENESIS.to_owned(), 0)
        };
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(io)?;
        Ok(Self { path: path.to_owned(), file, last_hash, next_seq })
    }

    /// The log's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and makes it durable (`fsync`) before returning: call it before the action it
    /// describes. Returns the record's hash.
    pub fn append<T: Serialize>(&mut self, actor: &str, event: &str, data: &T) -> Result<String, AuditError> {
        let unix_s = crate::scenario::unix_now_s();
        let body = Body { seq: self.next_seq, unix_s, actor, event, data, prev: &self.last_hash };
        let text = serde_json::to_string(&body).map_err(|e| AuditError::Encode(e.to_string()))?;
        let hash = digest(&text);
        let line = format!("{},\"hash\":\"{hash}\"}}\n", &text[..text.len() - 1]);
        let io = |source| AuditError::Io { path: self.path.clone(), source };
        self.file.write_all(line.as_bytes()).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.last_hash = hash.clone();
        self.next_seq += 1;
        Ok(hash)
    }
}

/// What a verified log holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Records in the log.
    pub records: usize,
    /// Hash of the last record (`GENESIS` for an empty log).
    pub last_hash: String,
    /// Signatures (approvals, and admins' write enables) that verified.
    pub signed_approvals: usize,
}

/// Verifies the chain of the log at `path`: every line is a record whose hash matches its text, whose `prev` is
/// the previous record's hash and whose `seq` follows it.
pub fn verify(path: &Path) -> Result<Summary, VerifyError> {
    verify_from(BufReader::new(File::open(path)?))
}

/// Verifies the chain of a log read from `reader` (see [`verify`]).
pub fn verify_from(reader: impl BufRead) -> Result<Summary, VerifyError> {
    let mut prev = GENESIS.to_owned();
    let mut records = 0usize;
    let mut signed = Signed::default();
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line?;
        let n = i + 1;
        let bad = |what: String| Problem { line: n, what };
        let Ok(text) = std::str::from_utf8(&line) else {
            return Err(VerifyError::Broken(bad("not UTF-8 text".into())));
        };
        if text.is_empty() {
            return Err(VerifyError::Broken(bad("empty line".into())));
        }
        let Some(cut) = text.rfind(",\"hash\":\"") else {
            return Err(VerifyError::Broken(bad("no hash field at the end of the record".into())));
        };
        let (body, tail) = text.split_at(cut);
        let claimed = tail.trim_start_matches(",\"hash\":\"").trim_end_matches("\"}");
        let body = format!("{body}}}");
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return Err(VerifyError::Broken(bad(format!("not a JSON record: {e}")))),
        };
        if claimed.len() != 64 || digest(&body) != claimed {
            return Err(VerifyError::Broken(bad(format!(
                "record {records} was altered: its hash does not match its content"
            ))));
        }
        if value.get("prev").and_then(|p| p.as_str()) != Some(prev.as_str()) {
            return Err(VerifyError::Broken(bad(format!(
                "record {records} does not follow the record before it (a record was removed, inserted or reordered)"
            ))));
        }
        if value.get("seq").and_then(|s| s.as_u64()) != Some(records as u64) {
            return Err(VerifyError::Broken(bad(format!(
                "record {records} has seq {}, expected {records}",
                value["seq"]
            ))));
        }
        if let Err(what) = signed.check(&value) {
            return Err(VerifyError::Broken(bad(format!("record {records}: {what}"))));
        }
        prev = claimed.to_owned();
        records += 1;
    }
    Ok(Summary { records, last_hash: prev, signed_approvals: signed.verified })
}

/// The signatures seen so far in a log: by change-set hash, the distinct keys whose approvals verified, and every
/// key whose signature verified (approvals and admins' write enables).
#[derive(Default)]
struct Signed {
    by_hash: std::collections::HashMap<String, std::collections::BTreeSet<String>>,
    signers: std::collections::HashMap<String, std::collections::BTreeSet<String>>,
    verified: usize,
}

impl Signed {
    /// Checks a record: a signed approval's or write enable's signature must verify; a signed push must follow
    /// enough approvals, and the write enables it names.
    fn check(&mut self, record: &serde_json::Value) -> Result<(), String> {
        let data = &record["data"];
        let text = |k: &str| data.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let event = record["event"].as_str();
        match event {
            Some("approval" | "writes_enabled") if data.get("signature").is_some() => {
                let (Some(signer), Some(public_key), Some(change_hash), Some(signature)) =
                    (text("signer"), text("public_key"), text("change_hash"), text("signature"))
                else {
                    return Err("a signed approval without its signer, public key, change hash or signature".into());
                };
                let sig = twin_sign::SignatureFile {
                    format: twin_sign::SIGNATURE_FORMAT.into(),
                    signer: signer.clone(),
                    public_key: public_key.clone(),
                    change_hash: change_hash.clone(),
                    signature,
                    signed_unix_s: 0.0,
                };
                let what = if event == Some("approval") { "signed approval" } else { "write enable" };
                sig.verify().map_err(|e| format!("the {what} by {signer}: {e}"))?;
                self.verified += 1;
                self.signers.entry(change_hash.clone()).or_default().insert(public_key.clone());
                if event == Some("approval") {
                    self.by_hash.entry(change_hash).or_default().insert(public_key);
                }
                Ok(())
            }
            Some("push_start") if data.get("signed").and_then(|v| v.as_bool()) == Some(true) => {
                let hash = text("change_hash").unwrap_or_default();
                let need = data.get("approvals_required").and_then(|v| v.as_u64()).unwrap_or(1) as usize;
                let have = self.by_hash.get(&hash).map_or(0, |keys| keys.len());
                let short = hash.get(..12).unwrap_or(&hash);
                if have < need {
                    return Err(format!(
                        "a push of change set {short}… with {have} valid signed approval(s) of the {need} it needed"
                    ));
                }
                let enables: Vec<&str> = data
                    .get("writes_enabled_keys")
                    .and_then(|v| v.as_array())
                    .map_or(Vec::new(), |keys| keys.iter().filter_map(|k| k.as_str()).collect());
                if enables.is_empty() {
                    return Err(format!("a push of change set {short}… that no admin's signature enabled writes for"));
                }
                let signed = self.signers.get(&hash);
                if let Some(key) = enables.iter().find(|k| !signed.is_some_and(|s| s.contains(**k))) {
                    return Err(format!(
                        "a push of change set {short}… names key {key} as enabling writes, with no valid signature \
                         of it over the change set"
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The problem `verify` finds in a log that must be broken.
    fn broken(path: &Path) -> Problem {
        match verify(path) {
            Err(VerifyError::Broken(p)) => p,
            other => panic!("expected a broken log, got {other:?}"),
        }
    }
    use serde_json::json;

    fn log_with(dir: &Path, n: usize) -> PathBuf {
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::open(&path).unwrap();
        for i in 0..n {
            log.append("alice", "write", &json!({"setpoint": "P-101.speed", "value": 1400 + i})).unwrap();
        }
        path
    }

    #[test]
    fn an_intact_log_verifies_and_reopening_extends_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_with(dir.path(), 3);
        let mut log = AuditLog::open(&path).unwrap();
        log.append("bob", "approval", &json!({"draft": 1})).unwrap();
        let s = verify(&path).unwrap();
        assert_eq!(s.records, 4);
        let text = std::fs::read_to_string(&path).unwrap();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!((last["seq"].as_u64(), last["actor"].as_str()), (Some(3), Some("bob")));
    }

    #[test]
    fn an_altered_removed_or_reordered_record_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_with(dir.path(), 4);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();

        // One value changed in record 1.
        let altered = text.replacen("\"value\":1401", "\"value\":1450", 1);
        assert_ne!(altered, text);
        std::fs::write(&path, &altered).unwrap();
        let p = broken(&path);
        assert_eq!(p, Problem { line: 2, what: "record 1 was altered: its hash does not match its content".into() });
        assert!(matches!(AuditLog::open(&path), Err(AuditError::Broken { .. })), "nothing is appended to it");

        // Record 2 removed.
        std::fs::write(&path, format!("{}\n{}\n{}\n", lines[0], lines[1], lines[3])).unwrap();
        let p = broken(&path);
        assert_eq!(p.line, 3);
        assert!(p.what.contains("does not follow"), "{p}");

        // Records swapped.
        std::fs::write(&path, format!("{}\n{}\n{}\n{}\n", lines[0], lines[2], lines[1], lines[3])).unwrap();
        assert_eq!(broken(&path).line, 2);

        // Garbage.
        std::fs::write(&path, format!("{}\nnot json\n", lines[0])).unwrap();
        assert_eq!(broken(&path).line, 2);
    }
}
