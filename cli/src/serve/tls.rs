//! Optional TLS for `sluicegate serve`: a certificate chain and a private key from PEM files
//! (`--tls-cert`, `--tls-key`), served with rustls on the ring provider the core already uses.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// The acceptor for the two files; errors name the file and what to do.
pub fn acceptor(cert: &str, key: &str) -> Result<TlsAcceptor, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read the TLS certificate `{cert}`: {e}; give a PEM file (--tls-cert)"))?;
    if chain.is_empty() {
        return Err(format!("`{cert}` holds no PEM certificate (--tls-cert)"));
    }
    // The key's own error text may quote the file; it is never shown, only the path.
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|_| format!("cannot read a PEM private key from `{key}` (--tls-key: PKCS#8, PKCS#1 or SEC1)"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| format!("the TLS certificate and key do not fit together: {e}"))?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
