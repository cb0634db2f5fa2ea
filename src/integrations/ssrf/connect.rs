//! The guard inside the HTTP client, so that no caller can forget it: a connector layer
//! sees every destination before a connection is attempted (literal addresses included,
//! which never reach a resolver), and the resolver drops refused addresses of names.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::{Guard, Refused};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Installs the guard in a client being built.
pub fn install(builder: reqwest::ClientBuilder, guard: Guard) -> reqwest::ClientBuilder {
    builder.dns_resolver(Arc::new(Resolver(guard))).connector_layer(Layer(guard))
}

/// The guard's refusal behind a failed request, if that is why it failed.
pub fn refusal(error: &reqwest::Error) -> Option<&Refused> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        cause = e.source();
    }
    None
}

/// A failed request in words, without its URL (it may carry a token): the guard's refusal
/// when that is the cause.
pub fn describe(error: reqwest::Error) -> String {
    match refusal(&error) {
        Some(refused) => format!("refused: {refused}"),
        None => error.without_url().to_string(),
    }
}

/// The host a connection is for, read from reqwest's connector request. Its type is
/// sealed and shows the destination `Uri` only through `Debug` (`Unnameable(<uri>)`); a
/// reqwest whose format differs makes this `None`, and every connection is refused (the
/// guard's tests then fail) rather than made unchecked.
fn destination(request: &impl Debug) -> Option<String> {
    let shown = format!("{request:?}");
    let uri = shown.strip_prefix("Unnameable(")?.strip_suffix(')')?;
    let uri: axum::http::Uri = uri.parse().ok()?;
    uri.host().map(str::to_string)
}

#[derive(Clone, Copy)]
struct Layer(Guard);

impl<S> tower::Layer<S> for Layer {
    type Service = Guarded<S>;

    fn layer(&self, inner: S) -> Guarded<S> {
        Guarded { inner, guard: self.0 }
    }
}

#[derive(Clone)]
struct Guarded<S> {
    inner: S,
    guard: Guard,
}

impl<S, R> tower::Service<R> for Guarded<S>
where
    S: tower::Service<R, Error = BoxError>,
    S::Response: Send + 'static,
    S::Future: Send + 'static,
    R: Debug,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let checked = destination(&request).ok_or(Refused::Unreadable).and_then(|host| self.guard.check_host(&host));
        match checked {
            Ok(()) => Box::pin(self.inner.call(request)),
            Err(refused) => Box::pin(std::future::ready(Err(Box::new(refused) as BoxError))),
        }
    }
}

/// Resolves names to the addresses the guard allows: a name pointing inside the network
/// is refused at connection time, however it was spelled when saved.
struct Resolver(Guard);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addresses = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed = match guard.allowed(addresses) {
                Ok(allowed) => allowed,
                Err(refused) => {
                    let why = refused.map_or_else(|| "no address".to_string(), |r| r.to_string());
                    return Err(Box::new(Refused::Resolved { host, why }) as BoxError);
                }
            };
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A listener on loopback that counts the connections it accepts.
    async fn listener(addr: &str) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let _ = stream.read(&mut [0u8; 4096]).await; // the request, then the answer
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").await;
            }
        });
        (port, count)
    }

    fn client(allow_private: bool) -> reqwest::Client {
        install(reqwest::Client::builder().timeout(Duration::from_secs(5)), Guard::new(allow_private))
            .build()
            .expect("client")
    }

    #[tokio::test]
    async fn literal_addresses_and_local_names_are_refused_before_connecting() {
        let (port, count) = listener("127.0.0.1:0").await;
        let (port6, count6) = listener("[::1]:0").await;
        let guarded = client(false);
        for url in [
            format!("http://127.0.0.1:{port}/x"),
            format!("http://2130706433:{port}/x"),
            format!("http://0x7f.1:{port}/x"),
            format!("http://[::ffff:127.0.0.1]:{port}/x"),
            format!("http://localhost:{port}/x"),
            format!("http://LocalHost.:{port}/x"),
            format!("http://[::1]:{port6}/x"),
        ] {
            let error = guarded.post(&url).body("secret").send().await.expect_err(&url);
            let refused = refusal(&error).unwrap_or_else(|| panic!("{url}: not the guard's refusal: {error:?}"));
            assert!(matches!(refused, Refused::Private { .. } | Refused::Resolved { .. }), "{url}: {refused}");
            assert!(describe(error).starts_with("refused: "), "{url}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing reached 127.0.0.1");
        assert_eq!(count6.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing reached [::1]");

        // Allowed, the same client type connects (so the refusals above are the guard's).
        let open = client(true);
        for url in [format!("http://127.0.0.1:{port}/x"), format!("http://localhost:{port}/x")] {
            let res = open.get(&url).send().await.unwrap_or_else(|e| panic!("{url}: {e:?}"));
            assert_eq!(res.status(), reqwest::StatusCode::NO_CONTENT);
        }
        let res = open.get(format!("http://[::1]:{port6}/x")).send().await.expect("[::1] allowed");
        assert_eq!(res.status(), reqwest::StatusCode::NO_CONTENT);
        assert!(count.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    }

    #[tokio::test]
    async fn never_destinations_stay_refused_when_private_is_allowed() {
        let open = client(true);
        for url in
            ["http://0.0.0.0:9/", "http://169.254.169.254/latest/meta-data", "http://[::]:9/", "http://224.0.0.1/"]
        {
            let error = open.get(url).send().await.expect_err(url);
            assert!(matches!(refusal(&error), Some(Refused::Special { .. })), "{url}: {error:?}");
        }
    }

    #[tokio::test]
    async fn names_resolve_only_to_allowed_addresses() {
        use reqwest::dns::Resolve;
        let name = |n: &str| n.parse::<reqwest::dns::Name>().expect("name");
        let error = Resolver(Guard::new(false)).resolve(name("localhost")).await.err().expect("refused");
        assert!(matches!(error.downcast_ref::<Refused>(), Some(Refused::Resolved { .. })), "{error}");
        let allowed = Resolver(Guard::new(true)).resolve(name("localhost")).await.expect("allowed");
        assert!(allowed.into_iter().all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn the_destination_is_read_from_reqwests_connector_request() {
        #[derive(Debug)]
        #[expect(dead_code, reason = "read through Debug only, as reqwest's is")]
        struct Unnameable(axum::http::Uri);
        let shown = |s: &str| destination(&Unnameable(s.parse().expect("uri")));
        assert_eq!(shown("http://127.0.0.1:8080/").as_deref(), Some("127.0.0.1"));
        assert_eq!(shown("https://[::1]:443").as_deref(), Some("[::1]"));
        assert_eq!(shown("https://hooks.slack.com/x").as_deref(), Some("hooks.slack.com"));
        assert_eq!(destination(&"something else"), None);
    }
}
