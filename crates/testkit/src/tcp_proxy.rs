//! A TCP proxy a test can cut and restore, to take a dependency (Postgres) away from a
//! service and give it back.

use std::net::SocketAddr;
use std::sync::Mutex;

use sqlx::PgPool;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinSet};

/// Forwards connections on `127.0.0.1:<port>` to a target. While cut, the port refuses
/// connections (as a stopped server's does) and every forwarded connection has been closed.
pub struct TcpProxy {
    addr: SocketAddr,
    target: SocketAddr,
    /// The accept loop; it owns the connection tasks, so aborting it ends them too.
    running: Mutex<Option<AbortHandle>>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let proxy = Self {
            addr: listener.local_addr().expect("proxy address"),
            target,
            running: Mutex::new(None),
        };
        proxy.serve(listener);
        proxy
    }

    /// A proxy in front of the Postgres server `db` talks to, and a URL of the same database
    /// and user through it (no password: the test server trusts local connections).
    pub async fn postgres(db: &PgPool) -> (Self, String) {
        let options = db.connect_options();
        let target = tokio::net::lookup_host((options.get_host(), options.get_port()))
            .await
            .expect("resolve the database host")
            .next()
            .expect("an address for the database host");
        let proxy = Self::start(target).await;
        let url = format!(
            "postgres://{}@{}/{}",
            options.get_username(),
            proxy.addr(),
            options.get_database().unwrap_or("postgres"),
        );
        (proxy, url)
    }

    /// Where clients connect instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every forwarded connection and stops listening.
    pub fn cut(&self) {
        if let Some(running) = self.running.lock().unwrap().take() {
            running.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&self) {
        self.cut();
        let listener = TcpListener::bind(self.addr).await.expect("rebind proxy");
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let target = self.target;
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                // Reap finished connections so the set does not grow without bound.
                while connections.try_join_next().is_some() {}
            }
        });
        *self.running.lock().unwrap() = Some(task.abort_handle());
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
