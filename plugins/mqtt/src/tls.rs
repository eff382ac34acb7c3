//! Builds the rustls client configuration from PEM files (CA, optional client certificate and key) with the
//! `ring` provider chosen explicitly, so that it never depends on a process-wide default crypto provider.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::{MqttError, TlsConfig};

pub(crate) fn client_config(tls: &TlsConfig) -> Result<Arc<ClientConfig>, MqttError> {
    let err = |s: String| MqttError::Tls(s);
    let mut roots = RootCertStore::empty();
    if tls.ca_file.as_os_str().is_empty() {
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            // Platform stores can hold certificates rustls cannot parse; skip those.
            let _ = roots.add(cert);
        }
        if roots.is_empty() {
            return Err(err("no CA file given and no usable platform root certificates found".into()));
        }
    } else {
        let certs = CertificateDer::pem_file_iter(&tls.ca_file)
            .map_err(|e| err(format!("cannot read CA file {}: {e}", tls.ca_file.display())))?;
        for cert in certs {
            let cert = cert.map_err(|e| err(format!("bad PEM in CA file {}: {e}", tls.ca_file.display())))?;
            roots.add(cert).map_err(|e| err(format!("bad CA certificate in {}: {e}", tls.ca_file.display())))?;
        }
        if roots.is_empty() {
            return Err(err(format!("CA file {} holds no certificate", tls.ca_file.display())));
        }
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| err(e.to_string()))?
        .with_root_certificates(roots);
    let config = match (&tls.client_cert_file, &tls.client_key_file) {
        (Some(cert_file), Some(key_file)) => {
            let chain = CertificateDer::pem_file_iter(cert_file)
                .map_err(|e| err(format!("cannot read client certificate {}: {e}", cert_file.display())))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(format!("bad PEM in client certificate {}: {e}", cert_file.display())))?;
            if chain.is_empty() {
                return Err(err(format!("client certificate file {} holds no certificate", cert_file.display())));
            }
            // The key's content is never printed, only its path.
            let key = PrivateKeyDer::from_pem_file(key_file)
                .map_err(|e| err(format!("cannot read client key {}: {e}", key_file.display())))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| err(format!("client certificate/key: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(err("client auth needs both client_cert_file and client_key_file".into())),
    };
    Ok(Arc::new(config))
}
