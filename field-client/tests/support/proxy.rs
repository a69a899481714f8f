//! A fault-injecting TCP proxy on 127.0.0.1, between a device and the intake.
//!
//! Every connection goes through a [`Link`] (one-way latency, bandwidth); each new connection
//! also takes the next [`Fault`] from a queue (none once the queue is empty). Bytes are
//! counted both ways, HTTP headers included, for the bytes-on-the-wire benchmark.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        tcp::{OwnedReadHalf, OwnedWriteHalf},
        TcpListener, TcpStream,
    },
    time::Instant,
};

#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Close the connection at once.
    Refuse,
    /// Wait before connecting upstream.
    Delay(Duration),
    /// Pass this many request bytes upstream, then cut both sides.
    CutRequestAfter(usize),
    /// Pass the request, then only this many response bytes, then cut both sides.
    CutResponseAfter(usize),
    /// Take the request and never answer (a link that died silently).
    Blackhole,
}

/// What every connection goes through.
#[derive(Clone, Copy, Debug, Default)]
pub struct Link {
    /// Added to every byte, each way. A new connection also waits one round trip before its
    /// first byte moves on, as a TCP handshake over that link would.
    pub one_way_latency: Duration,
    /// Bytes per second, each way; `None` for the speed of loopback.
    pub bytes_per_sec: Option<u64>,
    /// Every this often, counted from the proxy's start, every open connection is cut at once,
    /// as a moving 2G phone loses its cell: what is in flight either way is lost.
    pub cut_every: Option<Duration>,
}

#[derive(Default)]
pub struct Counters {
    pub connections: AtomicU64,
    pub bytes_up: AtomicU64,
    pub bytes_down: AtomicU64,
    /// Connections cut by [`Link::cut_every`].
    pub cuts: AtomicU64,
}

pub struct Proxy {
    pub url: String,
    pub port: u16,
    pub faults: Arc<Mutex<VecDeque<Fault>>>,
    /// Connections that were given a fault.
    pub faulted: Arc<Mutex<Vec<Fault>>>,
    pub counters: Arc<Counters>,
    /// While set, every connection is closed at once: no signal.
    pub down: Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.counters.bytes_up.load(Ordering::Relaxed),
            self.counters.bytes_down.load(Ordering::Relaxed),
        )
    }
}

/// Copies from `from` to `to` through the link, at most `limit` bytes (then cuts); returns when
/// either side closes. Reading and writing are separate tasks joined by a queue, so latency
/// delays bytes without slowing how fast they are taken in — a delay line, as a long link is.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    link: Link,
    limit: Option<usize>,
    counter: Arc<Counters>,
    up: bool,
) {
    let (queue, mut line) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let handshake = link.one_way_latency * 2;
    let started = Instant::now();
    let reader = async move {
        let mut buf = vec![0u8; 1024];
        let mut passed = 0usize;
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let allowed = limit.map(|l| l.saturating_sub(passed).min(n)).unwrap_or(n);
            let due = (Instant::now() + link.one_way_latency)
                .max(started + handshake + link.one_way_latency);
            if queue.send((due, buf[..allowed].to_vec())).is_err() {
                return;
            }
            passed += allowed;
            if allowed < n {
                return; // cut: dropping the queue ends the writer after what was allowed
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = line.recv().await {
            tokio::time::sleep_until(due).await;
            for piece in chunk.chunks(256) {
                if to.write_all(piece).await.is_err() {
                    return;
                }
                let c = if up {
                    &counter.bytes_up
                } else {
                    &counter.bytes_down
                };
                c.fetch_add(piece.len() as u64, Ordering::Relaxed);
                if let Some(rate) = link.bytes_per_sec {
                    tokio::time::sleep(Duration::from_secs_f64(piece.len() as f64 / rate as f64))
                        .await;
                }
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

/// The next moment a multiple of `every` after `epoch`; never, without `every`.
async fn next_cut(epoch: Instant, every: Option<Duration>) {
    let Some(every) = every else {
        return std::future::pending().await;
    };
    let ticks = epoch.elapsed().as_nanos() / every.as_nanos() + 1;
    tokio::time::sleep_until(epoch + every * ticks as u32).await;
}

pub fn start(runtime: &tokio::runtime::Runtime, upstream: &str) -> Proxy {
    start_with_link(runtime, upstream, Link::default())
}

pub fn start_with_link(runtime: &tokio::runtime::Runtime, upstream: &str, link: Link) -> Proxy {
    let upstream = upstream.trim_start_matches("http://").to_string();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let faults: Arc<Mutex<VecDeque<Fault>>> = Default::default();
    let faulted: Arc<Mutex<Vec<Fault>>> = Default::default();
    let counters: Arc<Counters> = Default::default();
    let down: Arc<std::sync::atomic::AtomicBool> = Default::default();
    let epoch = Instant::now();
    let (queue, log, count, no_signal) = (
        faults.clone(),
        faulted.clone(),
        counters.clone(),
        down.clone(),
    );
    runtime.spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            count.connections.fetch_add(1, Ordering::Relaxed);
            if no_signal.load(Ordering::Relaxed) {
                continue; // dropping the connection closes it
            }
            let fault = queue.lock().unwrap().pop_front();
            if let Some(f) = fault {
                log.lock().unwrap().push(f);
            }
            let (upstream, count) = (upstream.clone(), count.clone());
            tokio::spawn(async move {
                let (mut request_limit, mut response_limit) = (None, None);
                match fault {
                    Some(Fault::Refuse) => return,
                    Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
                    Some(Fault::CutRequestAfter(n)) => request_limit = Some(n),
                    Some(Fault::CutResponseAfter(n)) => response_limit = Some(n),
                    Some(Fault::Blackhole) => {
                        let mut client = client;
                        let mut sink = vec![0u8; 8192];
                        while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {}
                        return;
                    }
                    None => {}
                }
                let Ok(server) = TcpStream::connect(&upstream).await else { return };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                // Whichever direction ends first ends the connection: dropping the halves closes it.
                tokio::select! {
                    _ = pump(client_read, server_write, link, request_limit, count.clone(), true) => {},
                    _ = pump(server_read, client_write, link, response_limit, count.clone(), false) => {},
                    _ = next_cut(epoch, link.cut_every) => {
                        count.cuts.fetch_add(1, Ordering::Relaxed);
                    },
                }
            });
        }
    });
    Proxy {
        url,
        port,
        faults,
        faulted,
        counters,
        down,
    }
}
