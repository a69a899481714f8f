//! A fault-injecting TCP proxy on 127.0.0.1, between a device and the intake. Each new
//! connection takes the next fault from a queue (none once the queue is empty).

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
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
}

pub struct Proxy {
    pub url: String,
    pub faults: Arc<Mutex<VecDeque<Fault>>>,
    /// Connections that were given a fault.
    pub faulted: Arc<Mutex<Vec<Fault>>>,
}

/// Copies from `from` to `to`, at most `limit` bytes; returns false if the limit cut it.
async fn pump(mut from: tokio::net::tcp::OwnedReadHalf, mut to: tokio::net::tcp::OwnedWriteHalf, limit: Option<usize>) -> bool {
    let mut buf = vec![0u8; 8192];
    let mut passed = 0usize;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return true,
            Ok(n) => n,
        };
        let allowed = limit.map(|l| l.saturating_sub(passed).min(n)).unwrap_or(n);
        if to.write_all(&buf[..allowed]).await.is_err() {
            return true;
        }
        passed += allowed;
        if allowed < n {
            let _ = to.shutdown().await;
            return false;
        }
    }
}

pub fn start(runtime: &tokio::runtime::Runtime, upstream: &str) -> Proxy {
    let upstream = upstream.trim_start_matches("http://").to_string();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let faults: Arc<Mutex<VecDeque<Fault>>> = Default::default();
    let faulted: Arc<Mutex<Vec<Fault>>> = Default::default();
    let (queue, log) = (faults.clone(), faulted.clone());
    runtime.spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            let fault = queue.lock().unwrap().pop_front();
            if let Some(f) = fault {
                log.lock().unwrap().push(f);
            }
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let (mut request_limit, mut response_limit) = (None, None);
                match fault {
                    Some(Fault::Refuse) => return,
                    Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
                    Some(Fault::CutRequestAfter(n)) => request_limit = Some(n),
                    Some(Fault::CutResponseAfter(n)) => response_limit = Some(n),
                    None => {}
                }
                let Ok(server) = TcpStream::connect(&upstream).await else { return };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                // Whichever direction is cut ends the connection: dropping the halves closes it.
                tokio::select! {
                    _ = pump(client_read, server_write, request_limit) => {},
                    _ = pump(server_read, client_write, response_limit) => {},
                }
            });
        }
    });
    Proxy { url, faults, faulted }
}
