//! Signed approvals: an approval of a set-point change is an ed25519 signature by an engineer's key over the change
//! set's canonical hash, not a name typed on a command line, so that two-person control holds whoever sits at the
//! keyboard.
//!
//! - Key pairs ([`new_key_pair`]): the private key is PKCS#8 PEM encrypted with a passphrase (PBES2: scrypt
//!   log₂N = 14, r = 8, p = 1, the parameters of `openssl pkcs8 -scrypt`, within OpenSSL's 32 MiB limit; then
//!   AES-256-CBC), the public key SPKI PEM; OpenSSL reads both.
//! - The site's trusted keys ([`TrustStore`]): a RON file naming each key's holder and roles (operator: may draft;
//!   engineer: may approve; admin: may enable writes), the file a scenario names in `change: (trusted_keys: …)`.
//! - Signature files ([`SignatureFile`]): JSON with the signer, the public key, the hash signed and the signature.
//!   The message signed is `twin-change-set/1:` followed by the hash in lower-case hex, so that a signature made
//!   for anything else never passes for an approval.
//!
//! No cryptography is written here: ed25519-dalek signs and verifies (strictly), pkcs8/pkcs5/scrypt protect the
//! key, sha2 hashes.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer};
use pkcs8::LineEnding;
use pkcs8::der::pem::PemLabel;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// What a change-set signature signs: this prefix, then the hash in hex.
pub const CHANGE_SET_CONTEXT: &str = "twin-change-set/1:";
/// The `format` of a signature file.
pub const SIGNATURE_FORMAT: &str = "twin-signature/1";
/// The shortest passphrase accepted for a new key, characters.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// Why a key, a trust file or a signature could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file that is not what it should be; `what` says where and why.
    #[error("{}: {what}", path.display())]
    Invalid { path: PathBuf, what: String },
    #[error("{}: wrong passphrase, or not an encrypted ed25519 private key", path.display())]
    Passphrase { path: PathBuf },
    #[error("{0}")]
    Other(String),
}

/// What a holder of a trusted key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// May draft changes.
    Operator,
    /// May approve changes (sign them).
    Engineer,
    /// May enable writes.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Engineer => "engineer",
            Role::Admin => "admin",
        }
    }
}

/// The SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The canonical hash of a document: the SHA-256 of its compact JSON (fields in declaration order, numbers in
/// their shortest round-trip form), so that the same content hashes alike whatever its file's layout.
pub fn canonical_hash<T: Serialize>(doc: &T) -> Result<String, SignError> {
    serde_json::to_vec(doc).map(|b| sha256_hex(&b)).map_err(|e| SignError::Other(format!("cannot encode: {e}")))
}

/// A public key as the trust file and signature files write it: its 32 bytes in base64.
pub fn public_key_text(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

/// A short fingerprint of a public key for messages: the first 16 hex digits of its SHA-256.
pub fn fingerprint(key: &VerifyingKey) -> String {
    sha256_hex(key.as_bytes())[..16].to_string()
}

/// Decodes a base64 public key.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = B64.decode(text.trim()).map_err(|e| format!("not base64: {e}"))?;
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|b: Vec<u8>| format!("{} bytes, an ed25519 public key has 32", b.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "not a valid ed25519 public key".to_string())
}

/// A new key pair's files.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    /// The encrypted private key (PEM, mode 0600).
    pub private: PathBuf,
    /// The public key (SPKI PEM).
    pub public: PathBuf,
    /// The public key in base64, as the trust file takes it.
    pub public_key: String,
}

/// Makes a key pair for `name` in `dir`: `NAME.key` (the private key, encrypted with `passphrase`) and `NAME.pub`.
/// Refuses a short passphrase, a name that is not a plain file name, and existing files.
pub fn new_key_pair(dir: &Path, name: &str, passphrase: &str) -> Result<KeyFiles, SignError> {
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(SignError::Other(format!("key name \"{name}\": use letters, digits, '-', '_' and '.'")));
    }
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(SignError::Other(format!("the passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")));
    }
    std::fs::create_dir_all(dir).map_err(|source| SignError::Io { path: dir.to_owned(), source })?;
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    for p in [&private, &public] {
        if p.exists() {
            return Err(SignError::Invalid { path: p.clone(), what: "exists already: not overwritten".into() });
        }
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    let mut rng = rand::rng();
    rng.fill_bytes(seed.as_mut());
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut iv);
    let key = SigningKey::from_bytes(&seed);
    let other = |e: &dyn std::fmt::Display| SignError::Other(format!("cannot encode the key: {e}"));
    let scrypt = pkcs8::pkcs5::scrypt::Params::new(14, 8, 1, 32).map_err(|e| other(&e))?;
    let params = pkcs8::pkcs5::pbes2::Parameters::scrypt_aes256cbc(scrypt, &salt, &iv).map_err(|e| other(&e))?;
    let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&key).map_err(|e| other(&e))?;
    let mut info = pkcs8::PrivateKeyInfo::try_from(der.as_bytes()).map_err(|e| other(&e))?;
    // PKCS#8 v1 (no embedded public key, which OpenSSL 3.0 cannot read): the public key follows from the secret.
    info.public_key = None;
    let encrypted = info.encrypt_with_params(params, passphrase.as_bytes()).map_err(|e| other(&e))?;
    let pem = encrypted.to_pem(pkcs8::EncryptedPrivateKeyInfo::PEM_LABEL, LineEnding::LF).map_err(|e| other(&e))?;
    let public_pem = key.verifying_key().to_public_key_pem(LineEnding::LF).map_err(|e| other(&e))?;
    write_new(&private, pem.as_bytes(), 0o600)?;
    write_new(&public, public_pem.as_bytes(), 0o644)?;
    Ok(KeyFiles { private, public, public_key: public_key_text(&key.verifying_key()) })
}

/// Writes a file that must not exist yet, with `mode` on Unix.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SignError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let io = |source| SignError::Io { path: path.to_owned(), source };
    let mut f = opts.open(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Reads the private key at `path`, decrypting it with `passphrase`.
pub fn load_signing_key(path: &Path, passphrase: &str) -> Result<SigningKey, SignError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|source| SignError::Io { path: path.to_owned(), source })?,
    );
    if !text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(SignError::Invalid {
            path: path.to_owned(),
            what: "not an encrypted private key (expected -----BEGIN ENCRYPTED PRIVATE KEY-----; make one with \
                   `twin keys new`)"
                .into(),
        });
    }
    SigningKey::from_pkcs8_encrypted_pem(&text, passphrase.as_bytes())
        .map_err(|_| SignError::Passphrase { path: path.to_owned() })
}

/// Reads a public key file (SPKI PEM).
pub fn load_public_key(path: &Path) -> Result<VerifyingKey, SignError> {
    let text = std::fs::read_to_string(path).map_err(|source| SignError::Io { path: path.to_owned(), source })?;
    VerifyingKey::from_public_key_pem(&text)
        .map_err(|e| SignError::Invalid { path: path.to_owned(), what: format!("not an ed25519 public key: {e}") })
}

/// One trusted key of the site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    /// Who holds it (as approvals are recorded).
    pub name: String,
    /// What its holder may do.
    pub roles: Vec<Role>,
    /// The ed25519 public key, base64 of its 32 bytes (`twin keys new` prints it).
    pub public_key: String,
}

/// The trust file's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    keys: Vec<TrustedKey>,
}

/// The site's trusted keys and their roles, read from a RON file:
/// `(keys: [(name: "alice", roles: [Engineer], public_key: "…"), …])`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustStore {
    path: PathBuf,
    keys: Vec<(TrustedKey, VerifyingKey)>,
}

/// A signature that counts, by a trusted key with the engineer role (an approval), the admin role (writes
/// enabled for the change), or both: whose key, by its trusted name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approver {
    /// The holder's name in the trust file.
    pub name: String,
    /// The public key, base64 (distinct keys count as distinct approvals).
    pub public_key: String,
    /// The key has the engineer role: the signature approves the change.
    pub engineer: bool,
    /// The key has the admin role: the signature enables writes for the change.
    pub admin: bool,
}

impl TrustStore {
    /// Reads and checks the trust file at `path`: every key valid, names and keys unique, roles given.
    pub fn load(path: &Path) -> Result<Self, SignError> {
        let text = std::fs::read_to_string(path).map_err(|source| SignError::Io { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Parses a trust file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SignError> {
        let bad = |what: String| SignError::Invalid { path: path.to_owned(), what };
        let file: TrustFile =
            ron::from_str(text).map_err(|e| bad(format!("{}:{}: {}", e.span.start.line, e.span.start.col, e.code)))?;
        let mut keys: Vec<(TrustedKey, VerifyingKey)> = Vec::new();
        for (i, k) in file.keys.into_iter().enumerate() {
            let at = format!("keys[{i}] (\"{}\")", k.name);
            if k.name.trim().is_empty() {
                return Err(bad(format!("keys[{i}]: the name is empty")));
            }
            if k.roles.is_empty() {
                return Err(bad(format!("{at}: no roles (Operator, Engineer, Admin)")));
            }
            let key = parse_public_key(&k.public_key).map_err(|e| bad(format!("{at}: public_key: {e}")))?;
            if let Some((other, _)) = keys.iter().find(|(o, _)| o.name == k.name) {
                return Err(bad(format!("{at}: the name \"{}\" is given twice", other.name)));
            }
            if let Some((other, _)) = keys.iter().find(|(_, v)| *v == key) {
                return Err(bad(format!("{at}: the same public key as \"{}\"", other.name)));
            }
            keys.push((k, key));
        }
        Ok(Self { path: path.to_owned(), keys })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The trusted keys.
    pub fn keys(&self) -> impl Iterator<Item = &TrustedKey> {
        self.keys.iter().map(|(k, _)| k)
    }

    /// The trusted entry of `key`, if any.
    pub fn find(&self, key: &VerifyingKey) -> Option<&TrustedKey> {
        self.keys.iter().find(|(_, v)| v == key).map(|(k, _)| k)
    }

    /// Whether `sig` counts for the change set whose canonical hash is `hash`: a valid signature over it by a
    /// trusted key with the engineer role (an approval) or the admin role (writes enabled). The refusal says why,
    /// naming the signer.
    pub fn check_approval(&self, sig: &SignatureFile, hash: &str) -> Result<Approver, String> {
        let who = format!("the signature of \"{}\"", sig.signer);
        let key = parse_public_key(&sig.public_key).map_err(|e| format!("{who}: public key: {e}"))?;
        let Some(trusted) = self.find(&key) else {
            return Err(format!(
                "{who}: key {} is not a trusted key of this site ({})",
                fingerprint(&key),
                self.path.display()
            ));
        };
        let (engineer, admin) = (trusted.roles.contains(&Role::Engineer), trusted.roles.contains(&Role::Admin));
        if !engineer && !admin {
            let roles: Vec<&str> = trusted.roles.iter().map(|r| r.as_str()).collect();
            return Err(format!(
                "{who}: the key of \"{}\" has no engineer or admin role (roles: {}), so it can neither approve nor \
                 enable writes",
                trusted.name,
                roles.join(", ")
            ));
        }
        if sig.change_hash != hash {
            return Err(format!(
                "{who}: it signs another change set (hash {}…, this one {}…): the change set was modified after \
                 it was signed",
                short(&sig.change_hash),
                short(hash)
            ));
        }
        sig.verify_with(&key).map_err(|e| format!("{who}: {e}"))?;
        Ok(Approver { name: trusted.name.clone(), public_key: sig.public_key.clone(), engineer, admin })
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// A signature over a change set's canonical hash, as `twin approve` writes it and the audit log records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// [`SIGNATURE_FORMAT`].
    pub format: String,
    /// Who signed, as they named themselves (the trust file's name is what counts).
    pub signer: String,
    /// The signer's public key, base64.
    pub public_key: String,
    /// The change set's canonical hash, hex.
    pub change_hash: String,
    /// The ed25519 signature of [`CHANGE_SET_CONTEXT`] + `change_hash`, base64.
    pub signature: String,
    /// When it was signed, unix s (informative: not signed).
    pub signed_unix_s: f64,
}

/// The message a change-set signature signs.
pub fn change_set_message(hash: &str) -> Vec<u8> {
    format!("{CHANGE_SET_CONTEXT}{hash}").into_bytes()
}

impl SignatureFile {
    /// `key`'s signature, as `signer`, of the change set whose canonical hash is `hash`.
    pub fn sign(key: &SigningKey, signer: &str, hash: &str, unix_s: f64) -> Self {
        let sig = key.sign(&change_set_message(hash));
        Self {
            format: SIGNATURE_FORMAT.into(),
            signer: signer.into(),
            public_key: public_key_text(&key.verifying_key()),
            change_hash: hash.into(),
            signature: B64.encode(sig.to_bytes()),
            signed_unix_s: unix_s,
        }
    }

    /// Whether the signature is `key`'s over this file's `change_hash` (strict verification).
    pub fn verify_with(&self, key: &VerifyingKey) -> Result<(), String> {
        let bytes = B64.decode(self.signature.trim()).map_err(|e| format!("the signature is not base64: {e}"))?;
        let bytes: [u8; 64] =
            bytes.try_into().map_err(|b: Vec<u8>| format!("the signature has {} bytes, not 64", b.len()))?;
        key.verify_strict(&change_set_message(&self.change_hash), &Signature::from_bytes(&bytes))
            .map_err(|_| "the signature does not verify (forged, altered, or by another key)".to_string())
    }

    /// Whether the signature verifies with the public key it names (says nothing of trust).
    pub fn verify(&self) -> Result<(), String> {
        let key = parse_public_key(&self.public_key).map_err(|e| format!("public key: {e}"))?;
        self.verify_with(&key)
    }

    /// Reads a signature file.
    pub fn load(path: &Path) -> Result<Self, SignError> {
        let text = std::fs::read_to_string(path).map_err(|source| SignError::Io { path: path.to_owned(), source })?;
        Self::parse(&text, path)
    }

    /// Parses the text of a signature file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SignError> {
        let sig: Self = serde_json::from_str(text)
            .map_err(|e| SignError::Invalid { path: path.to_owned(), what: format!("not a signature file: {e}") })?;
        if sig.format != SIGNATURE_FORMAT {
            return Err(SignError::Invalid {
                path: path.to_owned(),
                what: format!("format \"{}\", expected \"{SIGNATURE_FORMAT}\"", sig.format),
            });
        }
        Ok(sig)
    }

    /// Writes it to `path` (not over an existing file).
    pub fn save(&self, path: &Path) -> Result<(), SignError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| SignError::Other(e.to_string()))? + "\n";
        write_new(path, text.as_bytes(), 0o644)
    }
}

#[cfg(test)]
mod tests;
