//! Serving on the open internet: devices on 2G anywhere, browsers behind office proxies, and
//! whoever else connects. Each connection is held to limits that a slow but honest client
//! passes and a hostile one does not:
//!
//! - **headers** must arrive whole within [`Limits::header_timeout`] (slowloris);
//! - a **body** must keep up a minimum rate once past a grace period
//!   ([`Limits::body_min_bytes_per_sec`]), so a 1 MiB batch at 40 kbit/s (~4 min) passes while a
//!   body trickling a byte at a time is cut: a rate, not a total;
//! - a connection that moves **no byte** either way for [`Limits::idle_timeout`] is closed
//!   (idle keep-alive, stalled bodies, clients that stop reading their response);
//! - at most [`Limits::max_connections`] are served at once; more wait in the kernel's queue;
//! - at most [`Limits::max_connections_per_address`] from one address (a trusted proxy, which
//!   carries many people's connections, excepted): one address trickling headers on a thousand
//!   connections closes its own extra ones, not everybody's door;
//! - with `--tls-cert`/`--tls-key`, TLS (rustls) with a handshake deadline, and HSTS.
//!
//! Every response also carries the security headers (see [`security_headers`]).

use axum::{
    body::Body,
    extract::{ConnectInfo, Request},
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
    Router,
};
use std::{
    future::Future,
    path::Path,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};
use tokio::{net::TcpListener, sync::Semaphore, time::Instant};
use tower::ServiceExt;

/// The limits of [the module's docs](self); every one configurable on `intake serve`.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_grace: Duration,
    pub body_min_bytes_per_sec: u64,
    pub max_connections: usize,
    /// Connections held at once from one address; more are closed as they come.
    pub max_connections_per_address: usize,
    pub tls_handshake_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            body_grace: Duration::from_secs(20),
            // 40 kbit/s is 5,000 bytes/s; a fifth of that leaves room for a poor 2G cell.
            body_min_bytes_per_sec: 1_000,
            max_connections: 1_000,
            // An office or a post office behind one NAT address: dozens of people, each a few
            // connections. A tenth of the whole leaves the rest for everyone else.
            max_connections_per_address: 100,
            tls_handshake_timeout: Duration::from_secs(20),
        }
    }
}

/// Reads a PEM certificate chain and private key for TLS.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls_pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("the TLS certificate {} cannot be read: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("the TLS key {} cannot be read: {e}", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the TLS certificate and key do not go together: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The security headers on every response: no framing, no sniffing, nothing kept in caches
/// (pages and exports carry personal data), and HSTS when served over TLS. Pages also get a
/// content policy that allows only their own inline style (they run no script) and no referrer.
/// The device protocol's answers (`/v1/`), read by the tablet over 2G and by no browser, carry
/// the short form of the same: a policy that loads and frames nothing, `nosniff` and `no-store`
/// — the browser-only headers cost a sixth of a sync's downloaded bytes.
pub fn security_headers(router: Router, tls: bool) -> Router {
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| async move {
            let device_protocol = sync_protocol::api::is_protocol_path(request.uri().path());
            let mut response = next.run(request).await;
            let fixed = HeaderValue::from_static;
            let headers = response.headers_mut();
            if device_protocol {
                headers.insert(
                    header::CONTENT_SECURITY_POLICY,
                    fixed("default-src 'none'; frame-ancestors 'none'"),
                );
            } else {
                headers.insert(header::CONTENT_SECURITY_POLICY, fixed("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'self'"));
                headers.insert(header::X_FRAME_OPTIONS, fixed("DENY"));
                headers.insert(header::REFERRER_POLICY, fixed("no-referrer"));
            }
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, fixed("nosniff"));
            headers
                .entry(header::CACHE_CONTROL)
                .or_insert(fixed("no-store"));
            if tls {
                headers.insert(header::STRICT_TRANSPORT_SECURITY, fixed("max-age=31536000"));
            }
            response
        },
    ))
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_behind(listener, router, limits, tls, &[], shutdown).await
}

/// [`serve`], with the addresses of trusted proxies, whose connections are many people's and
/// are not held to [`Limits::max_connections_per_address`].
pub async fn serve_behind(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    proxies: &[std::net::IpAddr],
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let per_address = PerAddress::new(limits.max_connections_per_address, proxies);
    raise_open_file_limit();
    let router = security_headers(router, tls.is_some())
        .layer(axum::middleware::from_fn(secret_requests_close))
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| body_min_rate(request, next, limits),
        ));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => return Ok(()),
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: wait, do not spin.
                Err(e) => { tracing::warn!(error = %e, "accept failed"); tokio::time::sleep(Duration::from_millis(100)).await; continue; }
            },
            () = &mut shutdown => return Ok(()),
        };
        // The slot this connection holds counts as in use already.
        let in_use = limits.max_connections - slots.available_permits();
        let Some(held) = per_address.take(peer.ip(), in_use, limits.max_connections) else {
            // Over its address's share: closed at once, its slot back for everyone else.
            tracing::debug!(%peer, "connection closed: too many from one address");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (router, tls) = (router.clone(), tls.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let _held = held;
            let mut timed = tokio_io_timeout::TimeoutStream::new(tcp);
            timed.set_read_timeout(Some(limits.idle_timeout));
            timed.set_write_timeout(Some(limits.idle_timeout));
            let timed = Box::pin(timed);
            let secret: crate::wipe::SecretFlag = Default::default();
            let flag = secret.clone();
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request.extensions_mut().insert(flag.clone());
                    let answered = router.clone().oneshot(request.map(Body::new));
                    async move { answered.await.map(allow_only_on_405) }
                },
            );
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            // The connection is polled and dropped with the thread marked once a request on
            // it carried a secret: its buffers are wiped when freed.
            let served = match tls {
                None => {
                    crate::wipe::WipeWhile::new(
                        http.serve_connection(hyper_util::rt::TokioIo::new(timed), service),
                        secret,
                    )
                    .await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(timed))
                        .await
                    {
                        Ok(Ok(stream)) => {
                            crate::wipe::WipeWhile::new(
                                http.serve_connection(
                                    hyper_util::rt::TokioIo::new(stream),
                                    service,
                                ),
                                secret,
                            )
                            .await
                        }
                        Ok(Err(e)) => {
                            return tracing::debug!(%peer, error = %e, "TLS handshake failed")
                        }
                        Err(_) => return tracing::debug!(%peer, "TLS handshake too slow"),
                    }
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
}

/// The router names the methods a path takes on every answer to a wrong method, after every
/// layer has run, even on the 404 that the pages give to whom a page is not for
/// (`web::wrong_method`): there the header would tell what the status hides.
fn allow_only_on_405(mut response: axum::response::Response) -> axum::response::Response {
    if response.status() != axum::http::StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().remove(header::ALLOW);
    }
    response
}

/// What a browser opens to one site at once (six in Chromium, Firefox and WebKit): the least
/// share an address keeps when the server is nearly full.
const BROWSER_CONNECTIONS: usize = 6;

/// Connections held per address, bounded in memory by the connections themselves (an address
/// with none is forgotten).
#[derive(Clone)]
struct PerAddress {
    most: usize,
    exempt: Arc<Vec<std::net::IpAddr>>,
    held: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
}

/// One held connection; let go when dropped.
struct Held {
    address: Option<std::net::IpAddr>,
    held: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
}

impl PerAddress {
    fn new(most: usize, exempt: &[std::net::IpAddr]) -> Self {
        PerAddress {
            most,
            exempt: Arc::new(exempt.to_vec()),
            held: Default::default(),
        }
    }

    /// A place for one more connection from `address`, or `None` when it holds its share.
    /// `in_use` of `capacity` connections are served: past three quarters, an address's share
    /// shrinks to a hundredth of the whole, so that a few addresses holding their full share
    /// cannot fill the rest — the last quarter is for many, not for a few. Never below
    /// [`BROWSER_CONNECTIONS`]: one person's page opens that many, and a connection just closed
    /// by its client still counts until the server reads its end.
    fn take(&self, address: std::net::IpAddr, in_use: usize, capacity: usize) -> Option<Held> {
        if self.exempt.contains(&address) {
            return Some(Held {
                address: None,
                held: self.held.clone(),
            });
        }
        let share = if in_use * 4 >= capacity * 3 {
            self.most.min((capacity / 100).max(BROWSER_CONNECTIONS))
        } else {
            self.most
        };
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(address).or_default();
        if *n >= share {
            return None;
        }
        *n += 1;
        Some(Held {
            address: Some(address),
            held: self.held.clone(),
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(address) = self.address else { return };
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&address) {
            *n -= 1;
            if *n == 0 {
                held.remove(&address);
            }
        }
    }
}

/// A server's file descriptors are its connections: use all the system allows (the soft limit
/// is often 1,024, the hard one far higher).
pub fn raise_open_file_limit() {
    // SAFETY: plain syscalls on a struct we own.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Whether a request carries a password or the passphrase: a login, an account's new password,
/// or a form of the ministry
/// that unlocks its key (the index, its files, the answers, one sheet under review).
fn carries_secret(request: &Request) -> bool {
    const UNLOCKING: [&str; 6] = [
        "/ministry/index",
        "/ministry/index.csv",
        "/ministry/index.xlsx",
        "/ministry/answers.csv",
        "/ministry/answers.xlsx",
        "/api/ministry/index",
    ];
    let path = request.uri().path();
    request.method() == axum::http::Method::POST
        && (path == "/login"
            || path == "/admin/account"
            || UNLOCKING.iter().any(|p| path.ends_with(p))
            || path.contains("/ministry/review/"))
}

/// Middleware: a request that brings a password or the passphrase marks its connection, whose
/// buffers are then wiped when freed (see [`crate::wipe`]), and closes it after the answer, so
/// they are freed at once, not kept for the next request of a keep-alive connection.
pub async fn secret_requests_close(request: Request, next: Next) -> Response {
    let secret = carries_secret(&request);
    if secret {
        if let Some(flag) = request.extensions().get::<crate::wipe::SecretFlag>() {
            crate::wipe::carried_secret(flag);
        }
    }
    let mut response = next.run(request).await;
    if secret {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Middleware: the request's body must keep up the minimum rate (see [`MinRate`]).
async fn body_min_rate(request: Request, next: Next, limits: Limits) -> Response {
    let request = request.map(|body| Body::new(MinRate::new(body, limits)));
    next.run(request).await
}

/// The error a too-slow body ends with; handlers that read it answer 400.
#[derive(Debug)]
pub struct TooSlow;

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body arrived too slowly")
    }
}
impl std::error::Error for TooSlow {}

/// A body that fails once it falls behind `min_bytes_per_sec` after `grace`: by then the next
/// byte is due at `start + grace + received / rate`.
struct MinRate {
    inner: Body,
    start: Instant,
    received: u64,
    limits: Limits,
    due: Pin<Box<tokio::time::Sleep>>,
}

impl MinRate {
    fn new(inner: Body, limits: Limits) -> MinRate {
        let start = Instant::now();
        MinRate {
            inner,
            start,
            received: 0,
            limits,
            due: Box::pin(tokio::time::sleep_until(start + limits.body_grace)),
        }
    }

    fn next_due(&self) -> Instant {
        let rate = self.limits.body_min_bytes_per_sec.max(1);
        self.start
            + self.limits.body_grace
            + Duration::from_millis(self.received.saturating_mul(1000) / rate)
    }
}

impl http_body::Body for MinRate {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.received += data.len() as u64;
                    let due = self.next_due();
                    self.due.as_mut().reset(due);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match self.due.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(TooSlow)))),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(last: u8) -> std::net::IpAddr {
        std::net::IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn an_address_keeps_its_full_share_until_three_quarters_are_taken() {
        let limit = PerAddress::new(50, &[]);
        let held: Vec<Held> = (0..50)
            .map(|_| limit.take(address(3), 10, 200).unwrap())
            .collect();
        assert!(
            limit.take(address(3), 60, 200).is_none(),
            "a 51st connection"
        );
        drop(held);
        assert!(
            limit.take(address(3), 60, 200).is_some(),
            "let go when closed"
        );
    }

    #[test]
    fn near_full_an_address_keeps_what_one_browser_opens_and_no_more() {
        let limit = PerAddress::new(50, &[]);
        // 150 of 200 taken: a hundredth would be 2, too few for one person's page.
        let page: Vec<Held> = (0..BROWSER_CONNECTIONS)
            .map(|_| {
                limit
                    .take(address(2), 150, 200)
                    .expect("a browser's connections")
            })
            .collect();
        assert!(limit.take(address(2), 150, 200).is_none());
        // On a server of 1,000 a hundredth is 10.
        let big = PerAddress::new(100, &[]);
        let held: Vec<Held> = (0..10)
            .map(|_| big.take(address(2), 900, 1_000).unwrap())
            .collect();
        assert!(big.take(address(2), 900, 1_000).is_none());
        // A trusted proxy carries many people and is never held to a share.
        let behind = PerAddress::new(50, &[address(9)]);
        let proxied: Vec<Held> = (0..300)
            .map(|_| behind.take(address(9), 199, 200).unwrap())
            .collect();
        drop((page, held, proxied));
    }
}
