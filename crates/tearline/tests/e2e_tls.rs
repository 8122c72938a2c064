//! HTTPS end to end: `tearline serve --tls-cert --tls-key` with a
//! certificate made for the test (a throwaway CA and a server certificate
//! for localhost and 127.0.0.1, by the `openssl` command), and a rustls
//! client that trusts only that CA and verifies the server's certificate
//! and name. TAXII discovery, a POST and a GET go over TLS; a client that
//! does not trust the CA is refused.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;

const TAXII: &str = "application/taxii+json;version=2.1";

fn tearline(args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tearline"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("spawn: {err}"));
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin.as_bytes())
            .unwrap_or_else(|err| panic!("stdin: {err}"));
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|err| panic!("wait: {err}"));
    assert!(
        output.status.success(),
        "tearline {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|err| panic!("this test needs the openssl command: {err}"));
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A CA and a server certificate it signed, as ca.pem, cert.pem, key.pem.
fn make_certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "1",
        "-subj",
        "/CN=tearline test CA",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca-key.pem", "-out", "ca.pem"]);
    openssl(dir, &ca);
    let mut request = vec!["req", "-subj", "/CN=localhost"];
    request.extend(ec);
    request.extend(["-keyout", "key.pem", "-out", "server.csr"]);
    openssl(dir, &request);
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = DNS:localhost, IP:127.0.0.1\n",
    )
    .unwrap_or_else(|err| panic!("write: {err}"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "server.ext",
            "-out",
            "cert.pem",
        ],
    );
}

/// Kills the server when the test ends, however it ends.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_tls(data: &Path, dir: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tearline"))
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(dir.join("cert.pem"))
        .arg("--tls-key")
        .arg(dir.join("key.pem"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("spawn serve: {err}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|err| panic!("reading the listening line: {err}"));
    let port = line
        .trim()
        .strip_prefix("listening on https://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix("/taxii2/"))
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    Server { child, port }
}

fn client_config(trusted_ca: Option<&Path>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = trusted_ca {
        let certificate = CertificateDer::from_pem_file(ca)
            .unwrap_or_else(|err| panic!("reading {}: {err}", ca.display()));
        roots
            .add(certificate)
            .unwrap_or_else(|err| panic!("trusting the CA: {err}"));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap_or_else(|err| panic!("protocol versions: {err}"))
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}

/// One HTTPS request per connection; (status, body) or the TLS error.
fn https(
    config: &Arc<rustls::ClientConfig>,
    port: u16,
    method: &str,
    path: &str,
    auth: &str,
    body: Option<&str>,
) -> Result<(u16, String), std::io::Error> {
    let name = ServerName::try_from("localhost").unwrap_or_else(|err| panic!("name: {err}"));
    let connection = rustls::ClientConnection::new(config.clone(), name)
        .unwrap_or_else(|err| panic!("client connection: {err}"));
    let socket = TcpStream::connect(("127.0.0.1", port))?;
    let mut stream = rustls::StreamOwned::new(connection, socket);
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nAccept: {TAXII}\r\n\
         Authorization: {auth}\r\nConnection: close\r\n"
    );
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: {TAXII}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or(""));
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    // The server may close without a TLS close_notify; what arrived counts.
    match stream.read_to_end(&mut response) {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {}
        Err(err) => return Err(err),
    }
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    // Bodies may come chunked; TAXII bodies here are one JSON value, so
    // take it from its first brace to its last.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(start), Some(end)) if start <= end => body[start..=end].to_owned(),
        _ => body.to_owned(),
    };
    Ok((status, json))
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|err| panic!("not JSON ({err}): {body}"))
}

const IDENTITY: &str = r#"{"type":"identity","spec_version":"2.1","id":"identity--311b2d2d-f010-4473-83ec-1edf84858f4c","created":"2015-12-21T19:59:11.000Z","modified":"2015-12-21T19:59:11.000Z","name":"Cole Powers","identity_class":"individual"}"#;

#[test]
fn taxii_over_https_with_a_verified_certificate() {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("tempdir: {err}"));
    make_certificates(dir.path());
    let data = dir.path().join("data");
    let data_arg = data.to_string_lossy().into_owned();
    tearline(&["init", "--data", &data_arg], "");
    let collection = tearline(
        &[
            "collection",
            "create",
            "--data",
            &data_arg,
            "--title",
            "tls",
        ],
        "",
    );
    let collection = collection
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    tearline(
        &[
            "account",
            "create",
            "--data",
            &data_arg,
            "--name",
            "tls-user",
            "--password-stdin",
            "--read",
            &collection,
            "--write",
            &collection,
        ],
        "tls-password\n",
    );
    let server = serve_tls(&data, dir.path());
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("tls-user:tls-password")
    );
    let trusting = client_config(Some(&dir.path().join("ca.pem")));

    let (status, body) = https(&trusting, server.port, "GET", "/taxii2/", &auth, None)
        .unwrap_or_else(|err| panic!("discovery over TLS: {err}"));
    assert_eq!(status, 200, "{body}");
    let discovery = parse(&body);
    assert!(discovery["api_roots"].is_array(), "{body}");

    let objects = format!("/api1/collections/{collection}/objects/");
    let envelope = format!(r#"{{"objects":[{IDENTITY}]}}"#);
    let (status, body) = https(
        &trusting,
        server.port,
        "POST",
        &objects,
        &auth,
        Some(&envelope),
    )
    .unwrap_or_else(|err| panic!("POST over TLS: {err}"));
    assert_eq!(status, 202, "{body}");
    assert_eq!(parse(&body)["success_count"], 1, "{body}");

    let (status, body) = https(&trusting, server.port, "GET", &objects, &auth, None)
        .unwrap_or_else(|err| panic!("GET over TLS: {err}"));
    assert_eq!(status, 200, "{body}");
    let page = parse(&body);
    assert_eq!(
        page["objects"][0]["id"], "identity--311b2d2d-f010-4473-83ec-1edf84858f4c",
        "{body}"
    );

    // Without the CA the certificate cannot be verified: no answer at all.
    let untrusting = client_config(None);
    let refused = https(&untrusting, server.port, "GET", "/taxii2/", &auth, None);
    let err = refused
        .err()
        .unwrap_or_else(|| panic!("an unverified server was accepted"));
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "unexpected error: {err}"
    );
}
