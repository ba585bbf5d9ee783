//! The SQL doors' settings (`[doors]` in `icsw.toml`) and their TLS.
//!
//! ```toml
//! [doors]
//! pg_addr = "0.0.0.0:5432"        # the Postgres protocol (off unless set)
//! flight_addr = "0.0.0.0:32010"   # Arrow Flight SQL (off unless set)
//! tls_cert = "/etc/icsw/server.crt"   # PEM: the certificate chain
//! tls_key = "/etc/icsw/server.key"    # PEM: its private key
//! allow_plaintext = false         # listen beyond loopback without TLS
//! ```
//!
//! With a certificate and key both doors speak TLS (the Postgres door
//! answers `sslmode=require`; Flight SQL is `grpc+tls://`). A certificate
//! or key that cannot be read or does not parse stops the server at start:
//! there is never a silent fall-back to plaintext.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The `[doors]` section.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DoorsConfig {
    pub pg_addr: Option<SocketAddr>,
    pub flight_addr: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    #[serde(default)]
    pub allow_plaintext: bool,
}

impl DoorsConfig {
    /// The `[doors]` section of the configuration (all off when absent).
    pub fn from(config: &icsw_model::IcsConfig) -> Result<Self, String> {
        config.section("doors").map_err(|e| e.to_string())
    }

    /// The TLS set-up these settings ask for: none without a certificate
    /// and key, an error with only one of them or with either unreadable.
    pub fn tls(&self) -> Result<Option<Tls>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (None, None) => Ok(None),
            (Some(c), Some(k)) => Tls::load(c, k).map(Some),
            _ => Err("[doors]: tls_cert and tls_key go together: give both, or neither".into()),
        }
    }
}

/// A certificate chain and key, checked, for both doors.
#[derive(Clone)]
pub struct Tls {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    config: Arc<tokio_rustls::rustls::ServerConfig>,
}

impl Tls {
    /// Reads and checks a PEM certificate chain and private key.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, String> {
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let read = |p: &Path, what: &str| {
            std::fs::read(p).map_err(|e| format!("TLS {what} {}: {e}", p.display()))
        };
        let cert_pem = read(cert, "certificate")?;
        let key_pem = read(key, "key")?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("TLS certificate {}: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!(
                "TLS certificate {}: no PEM certificate in it",
                cert.display()
            ));
        }
        let private = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| format!("TLS key {}: {e}", key.display()))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(|e| {
                format!(
                    "TLS certificate {} and key {}: {e}",
                    cert.display(),
                    key.display()
                )
            })?;
        // Postgres 17 clients may negotiate TLS directly, by ALPN.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Tls {
            cert_pem,
            key_pem,
            config: Arc::new(config),
        })
    }

    /// The Postgres door's acceptor.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }

    /// The Flight SQL door's (tonic's) TLS settings.
    pub(crate) fn for_tonic(&self) -> tonic::transport::ServerTlsConfig {
        tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(
            &self.cert_pem,
            &self.key_pem,
        ))
    }
}
