//! Keep-alive for answers that take long (copies, Complete): once `delay` has passed without the
//! outcome, the client gets `200`, the XML declaration and then a space per interval, so that its
//! read timeout does not fire; the outcome ends the body. This is the documented contract of all
//! three clouds for these operations: a 200 is a success only if its body holds the result.

use super::write::{
    client_gone, error_document, hung_up, respond, respond_error, response_header, Origin,
};
use crate::dialect::wire::Headers;
use crate::dialect::Dialect;
use crate::error::ApiError;
use crate::metrics;
use bytes::Bytes;
use pingora::prelude::*;
use pingora::protocols::http::ServerSession as Session;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

const DECLARATION: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// A whole answer for the client: status, headers and rendered body.
pub struct Reply {
    pub status: u16,
    pub headers: Headers,
    pub body: Option<Vec<u8>>,
}

/// When to start keeping the client's connection alive, and how often to send a byte.
#[derive(Clone, Copy, Default)]
pub struct KeepAlive {
    pub delay: Option<Duration>,
    pub interval: Duration,
    /// A failure may end in an error document (the client's SDK raises it); else in a cut.
    pub error_document: bool,
}

/// Run `work` and answer its outcome; if it is not done after the delay, keep the client alive.
/// A client that hangs up drops `work` (and its backend connections) at once.
pub async fn answer(
    session: &mut Session,
    keep: KeepAlive,
    client: Dialect,
    resource: &str,
    rid: &str,
    head: bool,
    // Pinned by the caller where it is made: moving a large future into this one would copy it.
    mut work: Pin<&mut impl Future<Output = Result<Reply, ApiError>>>,
) -> Result<()> {
    let delay = async {
        match keep.delay {
            Some(d) => pingora_timeout::fast_timeout::fast_sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let early = tokio::select! {
        biased;
        r = &mut work => Some(r),
        _ = delay => None,
        _ = client_gone(session) => return Err(hung_up()),
    };
    if let Some(outcome) = early {
        return match outcome {
            Ok(r) => respond(session, r.status, r.headers, r.body, head).await,
            Err(e) => respond_error(session, client, &e, resource, rid, head).await,
        };
    }
    // From here the status is 200 whatever happens; the outcome goes into the body.
    let mut headers = vec![
        ("content-type".into(), "application/xml".to_string()),
        ("transfer-encoding".into(), "chunked".to_string()),
    ];
    super::finish(client, &mut headers, rid);
    session
        .write_response_header(Box::new(response_header(200, headers)?))
        .await?;
    session
        .write_response_body(Bytes::from_static(DECLARATION), false)
        .await?;
    metrics::keepalive_started();
    let outcome = loop {
        tokio::select! {
            biased;
            r = &mut work => break r,
            _ = pingora_timeout::fast_timeout::fast_sleep(keep.interval) => {}
            _ = client_gone(session) => return Err(hung_up()),
        }
        session
            .write_response_body(Bytes::from_static(b" "), false)
            .await?;
    };
    let (status, doc, ok) = match outcome {
        Ok(r) => {
            let ok = r.status < 300;
            (r.status, r.body.unwrap_or_default(), ok)
        }
        Err(e) => {
            let doc = error_document(client, &e, resource, rid, Origin::Proxy);
            (e.status, doc, false)
        }
    };
    let doc = Bytes::from(doc);
    let body = doc.slice(without_declaration(&doc)..);
    session.write_response_body(body, false).await?;
    if ok || keep.error_document {
        session.write_response_body(Bytes::new(), true).await?;
        return Ok(());
    }
    // Its SDK would take the error document for a result: the answer is cut instead, so it fails.
    tracing::info!(request_id = %rid, status, "a kept-alive answer failed; cutting it");
    Err(Error::explain(ErrorType::InternalError, "the kept-alive operation failed").into_down())
}

/// Where the document starts after its own XML declaration, if it has one.
fn without_declaration(doc: &[u8]) -> usize {
    let lead = doc.iter().take_while(|b| b.is_ascii_whitespace()).count();
    if doc[lead..].starts_with(b"<?xml") {
        if let Some(end) = doc.windows(2).position(|w| w == b"?>") {
            return end + 2;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::without_declaration;

    #[test]
    fn declaration_is_skipped_once() {
        let d = b"<?xml version='1.0' encoding='utf-8' ?>\n<Error/>";
        assert_eq!(&d[without_declaration(d)..], b"\n<Error/>");
        assert_eq!(without_declaration(b"<CopyPartResult/>"), 0);
    }
}
