//! Two-person control by signatures. A scenario that names the site's trusted keys takes approvals only as
//! ed25519 signatures over the change set's canonical hash: the tests make keys with `twin_sign` (as `twin keys
//! new` does), sign with `twin approve` as a second engineer would on another machine, and push with `twin change
//! --change-set … --signature …`. One valid signature of two required, an untrusted key, a key without the
//! engineer role, a signature over a modified change set, and approvals without an admin's signature enabling
//! writes push nothing and are logged; the same key twice counts once; and a signature altered in the audit log, or
//! a push record stripped of its admin, with the hash chain recomputed, is found by `twin audit verify`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{artifacts, stderr};

/// The passphrase of every test key.
pub(super) const PASSPHRASE: &str = "correct horse battery";

/// A site's keys: private key files by holder, and the trusted keys file.
pub(super) struct Site {
    pub keys: std::collections::BTreeMap<String, PathBuf>,
    pub trust: PathBuf,
}

impl Site {
    /// Makes a key for every (name, roles) in `trusted` (roles as RON, e.g. "[Engineer]") and for every name in
    /// `strangers` (not in the trust file), and writes `dir/trusted-keys.ron`.
    pub(super) fn new(dir: &Path, trusted: &[(&str, &str)], strangers: &[&str]) -> Site {
        let key_dir = dir.join("keys");
        let mut keys = std::collections::BTreeMap::new();
        let mut lines = String::from("(keys: [\n");
        for (name, roles) in trusted.iter().copied().chain(strangers.iter().map(|s| (*s, ""))) {
            let made = twin_sign::new_key_pair(&key_dir, name, PASSPHRASE).unwrap();
            if !roles.is_empty() {
                lines += &format!("    (name: \"{name}\", roles: {roles}, public_key: \"{}\"),\n", made.public_key);
            }
            keys.insert(name.to_string(), made.private);
        }
        lines += "])\n";
        let trust = dir.join("trusted-keys.ron");
        std::fs::write(&trust, lines).unwrap();
        Site { keys, trust }
    }

    pub(super) fn key(&self, name: &str) -> &str {
        self.keys[name].to_str().unwrap()
    }

    /// Names the trust file in the scenario at `scenario` (a copy in a test's directory) and sets the number of
    /// approvals a change needs.
    pub(super) fn require(&self, scenario: &Path, approvals: u8) {
        let text = std::fs::read_to_string(scenario).unwrap();
        let line = format!("approvals: {approvals}, trusted_keys: {:?},", self.trust.display().to_string());
        let mut found = false;
        let text: Vec<String> = text
            .lines()
            .map(|l| match l.trim_start().strip_prefix("approvals:") {
                Some(_) if !found => {
                    found = true;
                    format!("        {line}")
                }
                _ => l.to_string(),
            })
            .collect();
        assert!(found, "{}: no approvals line", scenario.display());
        std::fs::write(scenario, text.join("\n")).unwrap();
    }
}

/// Runs `twin` with the test keys' passphrase in $TWIN_PASSPHRASE, in `dir`.
pub(super) fn twin_signing(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .current_dir(dir)
        .env("TWIN_PASSPHRASE", PASSPHRASE)
        .output()
        .expect("start twin")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn events(audit: &Path) -> Vec<(String, serde_json::Value)> {
    std::fs::read_to_string(audit)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["event"].as_str().unwrap().to_string(), v["data"].clone())
        })
        .collect()
}

/// The bundled pump station (virtual plant and PLC), copied into `dir`, needing two signed approvals.
fn station(dir: &Path, site: &Site) -> PathBuf {
    let path = dir.join("station.ron");
    std::fs::copy(super::root().join("scenes/pump_station.ron"), &path).unwrap();
    site.require(&path, 2);
    path
}

#[test]
fn a_push_needs_valid_signatures_from_enough_distinct_trusted_engineers() {
    let dir = artifacts("approvals-signed");
    let site = Site::new(
        &dir,
        &[
            ("alice", "[Engineer]"),
            ("bob", "[Engineer, Admin]"),
            ("dave", "[Engineer]"),
            ("carol", "[Admin]"),
            ("olga", "[Operator]"),
        ],
        &["mallory"],
    );
    let scenario = station(&dir, &site);
    let s = scenario.to_str().unwrap();
    let audit = dir.join("audit.jsonl");
    let a = audit.to_str().unwrap();

    // The engineer who drafts exports the validated change set; nothing is written.
    let out = twin_signing(&dir, &["change", s, "--set", "P-101.speed=1400", "--export", "change.json", "--audit", a]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("change set written to change.json"), "{}", stdout(&out));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("change.json")).unwrap()).unwrap();
    assert_eq!(doc["drafts"][0]["value"], 1400.0);
    assert_eq!(doc["target"], "the virtual plant's PLC");

    // Each engineer signs on their own machine: `twin approve` writes a signature file.
    for who in ["alice", "bob", "dave", "carol", "olga", "mallory"] {
        let out = twin_signing(&dir, &["approve", "change.json", "--key", site.key(who), "-o", &format!("{who}.sig")]);
        assert_eq!(out.status.code(), Some(0), "{who}: {}\n{}", stdout(&out), stderr(&out));
    }
    let push = |sigs: &[&str], change: &str| {
        let mut args = vec!["change", s, "--change-set", change, "--allow-writes", "--audit", a];
        for sig in sigs {
            args.extend(["--signature", sig]);
        }
        twin_signing(&dir, &args)
    };
    let writes = |audit: &Path| events(audit).iter().filter(|(e, _)| e == "write" || e == "push_start").count();

    // One valid signature where two are required: nothing is written.
    let out = push(&["alice.sig"], "change.json");
    let text = stdout(&out);
    assert!(text.contains("approved by alice"), "{text}");
    assert!(text.contains("awaiting approval (1 of 2"), "{text}");
    assert!(text.contains("nothing written"), "{text}");
    assert_eq!(writes(&audit), 0, "no write with one signature of two");

    // Two engineers approve, but no admin enabled writes: nothing is written; the change waits for an admin's
    // signature as for a missing approval.
    let out = push(&["alice.sig", "dave.sig"], "change.json");
    let text = stdout(&out);
    assert!(text.contains("approved by alice") && text.contains("approved by dave"), "{text}");
    assert!(
        text.contains(
            "not written: writes are not enabled: the change needs the signature of a key with the admin \
                       role (bob, carol"
        ),
        "{text}"
    );
    assert_eq!(writes(&audit), 0, "no write without an admin's signature");

    // An admin's signature enables writes but is no approval: alice and carol are one approval of two.
    let out = push(&["alice.sig", "carol.sig"], "change.json");
    let text = stdout(&out);
    assert!(text.contains("writes enabled by carol (admin)"), "{text}");
    assert!(text.contains("awaiting approval (1 of 2"), "an admin-only key does not approve: {text}");
    assert_eq!(writes(&audit), 0);
    assert!(events(&audit).iter().any(|(e, d)| e == "writes_enabled" && d["signer"] == "carol"));

    // The same key twice counts once; an operator's key and an untrusted key are refused, and logged.
    let out = push(&["alice.sig", "alice.sig", "olga.sig", "mallory.sig"], "change.json");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "a refused approval fails the command: {text}");
    assert!(text.contains("awaiting approval (1 of 2"), "alice twice is one approval: {text}");
    assert!(text.contains("\"olga\": the key of \"olga\" has no engineer or admin role"), "{text}");
    assert!(text.contains("\"mallory\"") && text.contains("is not a trusted key of this site"), "{text}");
    assert_eq!(writes(&audit), 0);
    let refused: Vec<String> = events(&audit)
        .into_iter()
        .filter(|(e, _)| e == "approval_refused")
        .map(|(_, d)| format!("{} {}", d["signer"], d["reason"]))
        .collect();
    assert!(refused.iter().any(|r| r.contains("olga") && r.contains("engineer or admin role")), "{refused:?}");
    assert!(refused.iter().any(|r| r.contains("mallory") && r.contains("trusted")), "{refused:?}");

    // A change set modified after signing (another speed) voids every signature over it.
    let text = std::fs::read_to_string(dir.join("change.json")).unwrap();
    std::fs::write(dir.join("modified.json"), text.replace("1400.0", "1390.0")).unwrap();
    let out = push(&["alice.sig", "bob.sig"], "modified.json");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(text.matches("the change set was modified after it was signed").count(), 2, "{text}");
    assert!(text.contains("awaiting approval (0 of 2"), "{text}");
    assert_eq!(writes(&audit), 0);

    // Names do not approve where the scenario names trusted keys.
    let out = twin_signing(
        &dir,
        &["change", s, "--set", "P-101.speed=1400", "--approve", "--as", "alice", "--allow-writes", "--audit", a],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("need signed approvals (a key, not a name)"), "{}", stdout(&out));
    assert_eq!(writes(&audit), 0);

    // Two distinct engineers: pushed, read back, and the approvals are in the log.
    let out = push(&["alice.sig", "bob.sig"], "change.json");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("pushed and verified"), "{text}");
    let log = events(&audit);
    let start = log.iter().find(|(e, _)| e == "push_start").map(|(_, d)| d.clone()).unwrap();
    assert_eq!(start["change_hash"], doc_hash(&dir.join("change.json")), "{start}");
    let mut approvers: Vec<&str> = start["approvers"].as_array().unwrap().iter().filter_map(|a| a.as_str()).collect();
    approvers.sort_unstable();
    assert_eq!(approvers, ["alice", "bob"], "{start}");
    assert_eq!(start["writes_enabled_by"], serde_json::json!(["bob"]), "bob holds the admin role too: {start}");
    let out = super::twin(&["audit", "verify", a]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("signature(s) verified"), "{}", stdout(&out));

    // Someone rewrites the log: alice's approval of the pushed change carries bob's signature instead, and the
    // hash chain is recomputed over it. The chain holds; the signature does not.
    let text = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let hash = doc_hash(&dir.join("change.json"));
    let approval = |who: &str| {
        lines
            .iter()
            .rposition(|v| v["event"] == "approval" && v["data"]["signer"] == who && v["data"]["change_hash"] == hash)
            .unwrap()
    };
    let (alice, bob) = (approval("alice"), approval("bob"));
    let forged = lines[bob]["data"]["signature"].as_str().unwrap().to_string();
    let original = lines[alice]["data"]["signature"].as_str().unwrap().to_string();
    let mut rewritten: Vec<String> = text.lines().map(str::to_string).collect();
    rewritten[alice] = rewritten[alice].replace(&original, &forged);
    let tampered = dir.join("tampered.jsonl");
    std::fs::write(&tampered, rechain(&rewritten)).unwrap();
    let out = super::twin(&["audit", "verify", tampered.to_str().unwrap()]);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(&format!("tampered.jsonl:{}: record {alice}", alice + 1)), "names the record: {said}");
    assert!(said.contains("signature"), "{said}");

    // Someone removes the admin's write enable from the push record: the chain holds, the push does not.
    let mut rewritten: Vec<String> = text.lines().map(str::to_string).collect();
    let push_at = lines.iter().rposition(|v| v["event"] == "push_start").unwrap();
    let bob_key = lines[bob]["data"]["public_key"].as_str().unwrap();
    rewritten[push_at] =
        rewritten[push_at].replace(&format!("\"writes_enabled_keys\":[\"{bob_key}\"]"), "\"writes_enabled_keys\":[]");
    assert_ne!(rewritten[push_at], text.lines().nth(push_at).unwrap());
    std::fs::write(&tampered, rechain(&rewritten)).unwrap();
    let out = super::twin(&["audit", "verify", tampered.to_str().unwrap()]);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("that no admin's signature enabled writes for"), "{said}");

    // The same rewrite without the signature change verifies: the checks above failed on the signatures only.
    let plain = dir.join("rechained.jsonl");
    std::fs::write(&plain, rechain(&text.lines().map(str::to_string).collect::<Vec<_>>())).unwrap();
    assert_eq!(super::twin(&["audit", "verify", plain.to_str().unwrap()]).status.code(), Some(0));
}

/// The canonical hash of a change-set file, as `twin` computes it.
fn doc_hash(path: &Path) -> String {
    twin::change::approval::ChangeSetDoc::load(path).unwrap().hash()
}

/// The audit log's lines with every `prev` and `hash` recomputed (SHA-256 of the record's text without its hash
/// field, closed with `}`), as a forger who rewrote records would.
fn rechain(lines: &[String]) -> String {
    let mut prev = "0".repeat(64);
    let mut out = String::new();
    for line in lines {
        let cut = line.rfind(",\"hash\":\"").unwrap();
        let body = &line[..cut];
        let p = body.rfind(",\"prev\":\"").unwrap();
        let body = format!("{},\"prev\":\"{prev}\"", &body[..p]);
        let hash = twin_sign::sha256_hex(format!("{body}}}").as_bytes());
        out += &format!("{body},\"hash\":\"{hash}\"}}\n");
        prev = hash;
    }
    out
}

#[test]
fn a_key_signs_only_with_its_passphrase_and_a_bad_trust_file_is_named() {
    let dir = artifacts("approvals-errors");
    let site = Site::new(&dir, &[("alice", "[Engineer]"), ("bob", "[Engineer, Admin]")], &[]);
    let scenario = station(&dir, &site);
    let s = scenario.to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(["change", s, "--set", "P-101.speed=1400", "--sign-with", site.key("alice"), "--allow-writes"])
        .current_dir(&dir)
        .env("TWIN_PASSPHRASE", "not the passphrase")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("alice.key"), "names the key: {}", stderr(&out));

    // Signing here with both keys pushes (a second engineer at the same desk).
    let out = twin_signing(
        &dir,
        &["change", s, "--set", "P-101.speed=1400", "--allow-writes", "--sign-with", site.key("alice"), "--sign-with"]
            .into_iter()
            .chain([site.key("bob")])
            .collect::<Vec<_>>(),
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("approved by alice") && text.contains("approved by bob"), "{text}");

    // No admin key: no change could ever be written.
    let trust = std::fs::read_to_string(&site.trust).unwrap();
    std::fs::write(&site.trust, trust.replace("[Engineer, Admin]", "[Engineer]")).unwrap();
    let out = super::twin(&["check", s]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no key with the admin role"), "{}", stderr(&out));

    // One engineer key where two approvals are needed, and a file that is not a trust file.
    std::fs::write(&site.trust, "(keys: [])").unwrap();
    let out = super::twin(&["check", s]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("change.trusted_keys"), "{}", stderr(&out));
    assert!(stderr(&out).contains("fewer than the 2 approval(s)"), "{}", stderr(&out));
    std::fs::write(&site.trust, "not ron").unwrap();
    let out = super::twin(&["check", s]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("trusted-keys.ron"), "{}", stderr(&out));
}
