//! RTMPS: RTMP inside TLS (rustls), trusting the web's root certificates — and, for tests only,
//! one more CA given in [`super::EngineOptions::extra_ca`] (a PEM file), so a local ingest with a
//! self-signed certificate can be verified rather than trusted blindly.

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// Why a TLS session could not be set up; the publisher counts it as a connection error.
#[derive(Debug)]
pub struct TlsError(pub String);

pub async fn connect(host: &str, tcp: TcpStream, extra_ca: Option<&std::path::Path>) -> Result<tokio_rustls::client::TlsStream<TcpStream>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path).map_err(|e| TlsError(format!("cannot read the test CA: {e}")))?;
        for cert in rustls_pemfile::certs(&mut &pem[..]).flatten() {
            let _ = roots.add(CertificateDer::from(cert));
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string()).map_err(|e| TlsError(format!("bad host name: {e}")))?;
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| TlsError(format!("TLS with {host} failed: {e}")))
}
