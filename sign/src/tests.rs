//! Tests of keys, trust files and signatures, with OpenSSL as the independent reader of the keys and verifier of
//! the signatures.

use super::*;

const PASS: &str = "correct horse battery";

fn trust_with(dir: &Path, entries: &[(&str, &str, &KeyFiles)]) -> TrustStore {
    let keys: Vec<String> = entries
        .iter()
        .map(|(name, roles, k)| format!("(name: \"{name}\", roles: [{roles}], public_key: \"{}\")", k.public_key))
        .collect();
    let path = dir.join("trusted.ron");
    std::fs::write(&path, format!("(keys: [{}])", keys.join(", "))).unwrap();
    TrustStore::load(&path).unwrap()
}

#[test]
fn a_new_key_pair_signs_and_only_its_passphrase_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    let files = new_key_pair(dir.path(), "alice", PASS).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files.private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the private key is readable by its owner only");
    }
    let key = load_signing_key(&files.private, PASS).unwrap();
    assert_eq!(public_key_text(&key.verifying_key()), files.public_key);
    assert_eq!(load_public_key(&files.public).unwrap(), key.verifying_key());
    let err = load_signing_key(&files.private, "not the passphrase").unwrap_err();
    assert!(err.to_string().contains("wrong passphrase"), "{err}");
    assert!(new_key_pair(dir.path(), "alice", PASS).unwrap_err().to_string().contains("exists already"));
    assert!(new_key_pair(dir.path(), "bob", "short").unwrap_err().to_string().contains("at least 8"));
    assert!(new_key_pair(dir.path(), "../bob", PASS).is_err());
    let text = std::fs::read_to_string(&files.private).unwrap();
    assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"), "{text}");
}

#[test]
fn openssl_opens_the_private_key_with_its_passphrase_and_verifies_a_signature() {
    let dir = tempfile::tempdir().unwrap();
    let files = new_key_pair(dir.path(), "alice", PASS).unwrap();
    let key = load_signing_key(&files.private, PASS).unwrap();
    let hash = sha256_hex(b"a change set");
    let sig = SignatureFile::sign(&key, "alice", &hash, 0.0);
    let raw = B64.decode(&sig.signature).unwrap();
    std::fs::write(dir.path().join("msg"), change_set_message(&hash)).unwrap();
    std::fs::write(dir.path().join("sig"), &raw).unwrap();
    let openssl = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("openssl must be installed (scripts/test.sh)")
    };
    let out =
        openssl(&["pkeyutl", "-verify", "-pubin", "-inkey", "alice.pub", "-rawin", "-in", "msg", "-sigfile", "sig"]);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // OpenSSL derives the same public key from the encrypted private key.
    let out = openssl(&["pkey", "-in", "alice.key", "-passin", &format!("pass:{PASS}"), "-pubout"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), std::fs::read_to_string(&files.public).unwrap());
    let out = openssl(&["pkey", "-in", "alice.key", "-passin", "pass:wrong-passphrase", "-pubout"]);
    assert!(!out.status.success(), "a wrong passphrase does not open it for OpenSSL either");
    // A flipped message bit fails OpenSSL's verification.
    std::fs::write(dir.path().join("msg"), change_set_message(&sha256_hex(b"another change set"))).unwrap();
    let out =
        openssl(&["pkeyutl", "-verify", "-pubin", "-inkey", "alice.pub", "-rawin", "-in", "msg", "-sigfile", "sig"]);
    assert!(!out.status.success());
}

#[test]
fn a_signature_counts_by_a_trusted_engineer_or_admin_key_and_only_over_this_hash() {
    let dir = tempfile::tempdir().unwrap();
    let alice = new_key_pair(dir.path(), "alice", PASS).unwrap();
    let olga = new_key_pair(dir.path(), "olga", PASS).unwrap();
    let mallory = new_key_pair(dir.path(), "mallory", PASS).unwrap();
    let bob = new_key_pair(dir.path(), "bob", PASS).unwrap();
    let trust = trust_with(
        dir.path(),
        &[("alice", "Engineer", &alice), ("olga", "Operator", &olga), ("bob", "Operator, Admin", &bob)],
    );
    let hash = sha256_hex(b"change set");
    let sign = |k: &KeyFiles, name: &str, h: &str| {
        SignatureFile::sign(&load_signing_key(&k.private, PASS).unwrap(), name, h, 0.0)
    };

    let ok = trust.check_approval(&sign(&alice, "alice", &hash), &hash).unwrap();
    assert_eq!(
        ok,
        Approver { name: "alice".into(), public_key: alice.public_key.clone(), engineer: true, admin: false }
    );
    // An admin's signature counts, to enable writes, not as an approval.
    let ok = trust.check_approval(&sign(&bob, "bob", &hash), &hash).unwrap();
    assert_eq!((ok.name.as_str(), ok.engineer, ok.admin), ("bob", false, true));
    // The name a signer gives is not what counts: mallory signing as "alice" is untrusted.
    let e = trust.check_approval(&sign(&mallory, "alice", &hash), &hash).unwrap_err();
    assert!(e.contains("is not a trusted key of this site"), "{e}");
    let e = trust.check_approval(&sign(&olga, "olga", &hash), &hash).unwrap_err();
    assert!(e.contains("has no engineer or admin role (roles: operator)"), "{e}");
    let e = trust.check_approval(&sign(&alice, "alice", &hash), &sha256_hex(b"modified")).unwrap_err();
    assert!(e.contains("the change set was modified after it was signed"), "{e}");
    // The hash in the file edited to match another change set: the signature no longer verifies.
    let mut forged = sign(&alice, "alice", &hash);
    forged.change_hash = sha256_hex(b"modified");
    let e = trust.check_approval(&forged, &forged.change_hash.clone()).unwrap_err();
    assert!(e.contains("does not verify"), "{e}");
    // One bit of the signature flipped.
    let mut tampered = sign(&alice, "alice", &hash);
    let mut raw = B64.decode(&tampered.signature).unwrap();
    raw[10] ^= 1;
    tampered.signature = B64.encode(raw);
    assert!(trust.check_approval(&tampered, &hash).unwrap_err().contains("does not verify"));
    assert!(tampered.verify().is_err());
}

#[test]
fn a_trust_file_with_a_bad_key_a_duplicate_or_no_roles_is_refused_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let alice = new_key_pair(dir.path(), "alice", PASS).unwrap();
    let p = Path::new("trusted.ron");
    let k = &alice.public_key;
    let cases = [
        (
            format!(
                "(keys: [(name: \"a\", roles: [Engineer], public_key: \"{k}\"), (name: \"b\", roles: [Admin], public_key: \"{k}\")])"
            ),
            "keys[1] (\"b\"): the same public key as \"a\"",
        ),
        (format!("(keys: [(name: \"a\", roles: [], public_key: \"{k}\")])"), "keys[0] (\"a\"): no roles"),
        (
            "(keys: [(name: \"a\", roles: [Engineer], public_key: \"AAAA\")])".to_string(),
            "keys[0] (\"a\"): public_key: 3 bytes",
        ),
        ("(keys: [(name: \"a\", roles: [Boss], public_key: \"AAAA\")])".to_string(), "trusted.ron: 1:"),
    ];
    for (text, want) in cases {
        let e = TrustStore::parse(&text, p).unwrap_err().to_string();
        assert!(e.contains(want), "{e} (wanted {want})");
    }
}

#[test]
fn a_signature_file_round_trips_and_a_wrong_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let alice = new_key_pair(dir.path(), "alice", PASS).unwrap();
    let sig = SignatureFile::sign(&load_signing_key(&alice.private, PASS).unwrap(), "alice", "ab", 1.5);
    let path = dir.path().join("c.alice.sig");
    sig.save(&path).unwrap();
    assert_eq!(SignatureFile::load(&path).unwrap(), sig);
    assert!(sig.save(&path).is_err(), "not over an existing file");
    std::fs::write(&path, "{\"format\": 1}").unwrap();
    assert!(SignatureFile::load(&path).unwrap_err().to_string().contains("not a signature file"));
}
