//! The server loop: hyper's HTTP/1 connection builder with the limits the gateway
//! owns (10 s to send headers, a read buffer and header count big enough that
//! oversized headers reach our 431 in the contract's shape), and graceful shutdown.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;

pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests whose headers exceed this reach the app, which answers 431 itself for
/// anything over `app::MAX_HEADER_BYTES`; only beyond this buffer does hyper refuse.
const READ_BUFFER: usize = 1024 * 1024;
/// hyper refuses more than 100 headers with a bare 431 by default. The shortest header
/// line (`a:\r\n`) is 4 bytes, so a request with more headers than this is over
/// `app::MAX_HEADER_BYTES` anyway: below it, our byte check decides (in the contract's
/// shape). hyper sizes its parse scratch by this, but leaves it mostly untouched.
const MAX_HEADERS: usize = crate::app::MAX_HEADER_BYTES / 4 + 1;

pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(READ_BUFFER)
        .max_headers(MAX_HEADERS)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of descriptors and the like: wait briefly rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(30)) => tracing::warn!("connections still open after 30 s; closing"),
    }
    Ok(())
}
