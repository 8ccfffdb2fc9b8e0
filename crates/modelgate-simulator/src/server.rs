//! The accept loop and per-connection serving.
//!
//! Connections are served with hyper directly (not `axum::serve`) so that a handler
//! can abort its own connection: `reset` must close the socket without any HTTP
//! response, which no response value can express.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::state::Shared;

/// Lets a handler abort the connection it is running on (request extension).
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnHandle(Arc<Notify>);

impl ConnHandle {
    /// Closes the connection with a TCP reset; the caller's future is dropped with it.
    pub(crate) fn kill(&self) {
        // notify_one stores a permit, so the kill is not lost if the
        // connection task is not waiting at this very moment.
        self.0.notify_one();
    }

    async fn killed(&self) {
        self.0.notified().await;
    }
}

/// Accepts connections until dropped; connections live in a JoinSet so that
/// dropping this future (Simulator::drop aborts it) ends them too.
pub(crate) async fn run(listener: TcpListener, shared: Arc<Shared>) -> io::Result<()> {
    let app = crate::routes::router(shared);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    conns.spawn(serve_conn(stream, app.clone()));
                }
                // Accept errors (EMFILE, ECONNABORTED) are transient for a test
                // server; pause briefly so a persistent one does not spin a core.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

async fn serve_conn(stream: TcpStream, app: axum::Router) {
    // Stream chunks must leave one by one for chunk_delay_ms tests.
    let _ = stream.set_nodelay(true);
    let handle = ConnHandle::default();
    let ext = handle.clone();
    let svc = app.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ext.clone());
        req
    });
    let mut conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
    tokio::select! {
        _ = &mut conn => return,
        () = handle.killed() => {}
    }
    // A zero linger makes the close send RST rather than FIN: the client sees
    // "connection reset" instead of a clean end of stream.
    let io = conn.into_parts().io.into_inner();
    let _ = io.set_zero_linger();
    drop(io);
}
