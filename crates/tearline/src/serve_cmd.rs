//! `tearline serve`: the TAXII 2.1 service over HTTP (loopback by default)
//! or HTTPS (rustls) when given a certificate, plus an optional Prometheus
//! listener.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use server::{AppState, Settings};

use crate::config::{self, DEFAULT_LISTEN, DataArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub data: DataArgs,
    /// Address for the TAXII service. Config key: `listen`.
    #[arg(long, env = "TEARLINE_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Address for Prometheus metrics (`GET /metrics`); off when absent.
    /// Config key: `metrics_listen`.
    #[arg(long, env = "TEARLINE_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// PEM certificate chain; serves HTTPS (TLS 1.2 and 1.3) with --tls-key.
    #[arg(
        long,
        env = "TEARLINE_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(
        long,
        env = "TEARLINE_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (behind a TLS proxy).
    #[arg(long, env = "TEARLINE_ALLOW_PLAIN_HTTP")]
    pub allow_plain_http: bool,
    /// Largest request body in bytes, advertised as TAXII
    /// `max_content_length` (default 67108864 = 64 MiB).
    #[arg(long, env = "TEARLINE_MAX_CONTENT_LENGTH", value_name = "BYTES")]
    pub max_content_length: Option<usize>,
    /// Log format: `text` or `json`. Filter with RUST_LOG (default info).
    #[arg(long, env = "TEARLINE_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// The ledger signing key, when not the data directory's `ledger.key`
    /// (several nodes share one key file). Config key: `ledger_key`.
    #[arg(long, env = "TEARLINE_LEDGER_KEY", value_name = "FILE")]
    pub ledger_key: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (file, data) = args.data.resolve()?;
    init_logging(args.log_format.as_deref().or(file.log_format.as_deref()))?;
    let listen: SocketAddr = args
        .listen
        .clone()
        .or(file.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned())
        .parse()
        .context("--listen must be an IP address and port, e.g. 127.0.0.1:7272")?;
    let metrics_listen: Option<SocketAddr> = args
        .metrics_listen
        .clone()
        .or(file.metrics_listen.clone())
        .map(|addr| addr.parse())
        .transpose()
        .context("--metrics-listen must be an IP address and port")?;
    let tls = match (
        args.tls_cert.clone().or(file.tls_cert.clone()),
        args.tls_key.clone().or(file.tls_key.clone()),
    ) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => anyhow::bail!("TLS needs both a certificate and a key"),
    };
    let allow_plain = args.allow_plain_http || file.allow_plain_http.unwrap_or(false);
    if tls.is_none() && !listen.ip().is_loopback() && !allow_plain {
        anyhow::bail!(
            "refusing plain HTTP on {listen}: give --tls-cert and --tls-key, or \
             --allow-plain-http when a TLS proxy is in front"
        );
    }
    let mut settings = Settings::default();
    if let Some(title) = file.title.clone() {
        settings.title = title;
    }
    if file.description.is_some() {
        settings.description = file.description.clone();
    }
    settings.contact = file.contact.clone();
    if let Some(max) = args.max_content_length.or(file.max_content_length) {
        anyhow::ensure!(max > 0, "max_content_length must be positive");
        settings.limits.max_content_length = max;
    }
    if let Some(max) = file.max_objects_per_envelope {
        settings.limits.max_objects_per_envelope = max;
    }
    if let Some(max) = file.max_page_size {
        anyhow::ensure!(max > 0, "max_page_size must be positive");
        settings.limits.max_page_size = max;
    }
    if let Some(size) = file.default_page_size {
        settings.default_page_size = size;
    }
    let signer = config::load_ledger_signer(
        data.data.as_deref(),
        args.ledger_key.as_deref().or(file.ledger_key.as_deref()),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(data, listen, metrics_listen, tls, settings, signer))?;
    Ok(ExitCode::SUCCESS)
}

fn init_logging(format: Option<&str>) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format.unwrap_or("text") {
        "json" => builder.json().init(),
        "text" => builder.init(),
        other => anyhow::bail!("unknown log format '{other}' (text or json)"),
    }
    Ok(())
}

async fn serve(
    data: config::Target,
    listen: SocketAddr,
    metrics_listen: Option<SocketAddr>,
    tls: Option<(PathBuf, PathBuf)>,
    settings: Settings,
    signer: server::ledger_ops::LogSigner,
) -> anyhow::Result<()> {
    let store = config::open_store(&data).await?;
    server::ledger_ops::bind_signer(store.as_ref(), &signer).await?;
    let state = AppState::new(store, settings).with_ledger_signer(signer);
    let app = server::router(state.clone());

    if let Some(address) = metrics_listen {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("binding the metrics listener {address}"))?;
        let metrics = server::metrics_router(state.clone());
        tracing::info!(address = %listener.local_addr()?, "metrics listening");
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, metrics).await {
                tracing::error!(error = %err, "metrics listener failed");
            }
        });
    }

    match tls {
        None => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let bound = listener.local_addr()?;
            // One line on stdout, so scripts and tests can find the port
            // when they asked for port 0.
            println!("listening on http://{bound}/taxii2/");
            tracing::info!(address = %bound, "TAXII service listening (plain HTTP)");
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("serving HTTP")?;
        }
        Some((cert, key)) => {
            // ring: pure Rust and assembly, no C toolchain beyond what
            // the build already needs.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| {
                    format!(
                        "loading TLS certificate {} and key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            let handle = axum_server::Handle::new();
            let shutdown = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                shutdown.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
            });
            let server = axum_server::bind_rustls(listen, config).handle(handle.clone());
            let waiter = handle.clone();
            tokio::spawn(async move {
                if let Some(bound) = waiter.listening().await {
                    println!("listening on https://{bound}/taxii2/");
                    tracing::info!(address = %bound, "TAXII service listening (TLS)");
                }
            });
            server
                .serve(app.into_make_service())
                .await
                .context("serving HTTPS")?;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
