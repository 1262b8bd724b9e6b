//! The reference for per-request cost: a pingora 0.9.1 proxy that does nothing but pick its one
//! upstream (`ProxyHttp` with only `upstream_peer`), with the same thread count as dialect-proxy.
//!
//! Usage: null_proxy LISTEN UPSTREAM   (e.g. 127.0.0.1:8081 127.0.0.1:9000)

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use std::net::SocketAddr;

struct Null {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for Null {
    type CTX = ();
    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

pub fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(listen), Some(upstream)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: null_proxy LISTEN UPSTREAM");
        std::process::exit(2);
    };
    let upstream = upstream.parse().expect("UPSTREAM is address:port");
    let conf = ServerConf {
        threads: 2,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(0),
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut svc = http_proxy_service(&server.configuration, Null { upstream });
    svc.add_tcp(listen);
    server.add_service(svc);
    server.run_forever();
}
