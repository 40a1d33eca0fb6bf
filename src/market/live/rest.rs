//! REST plumbing shared by the venues: one `reqwest` client with connect and request timeouts,
//! JSON decoding into typed structs, and a weight-based [`RateLimiter`].
//!
//! Rate limits are the venues' documented per-IP request-weight budgets (Binance USDⓈ-M 2400
//! and spot 6000 weight per minute, Hyperliquid 1200 per minute). The limiter spends at most
//! half of that, so other tools on the same IP keep room, paces requests instead of failing
//! them, and stops all requests for as long as a `429`/`418` response's `Retry-After` says.
//! Loopback base URLs never go through a proxy, so a proxy variable in the environment cannot
//! reroute traffic meant for a local fake or a local gateway.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

/// Why a REST request failed. Messages say what to check.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RestError {
    #[error("cannot reach {url}: {message} (check the network, a firewall or proxy, and the venue's rest_url)")]
    Unreachable { url: String, message: String },
    #[error("{url} answered HTTP {status}: {body}")]
    Status { url: String, status: u16, body: String },
    #[error("{url} is rate limiting us (HTTP {status}); retry after {retry_after_secs} s")]
    RateLimited { url: String, status: u16, retry_after_secs: u64 },
    #[error("{url} answered with a body we cannot read: {message}")]
    Decode { url: String, message: String },
    #[error("{venue} has no market {symbol}{hint}")]
    UnknownSymbol { venue: String, symbol: String, hint: String },
    #[error("{0}")]
    Other(String),
}

/// Timeouts and proxy use of the HTTP client.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Never use a proxy (always true for loopback URLs).
    pub no_proxy: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self { connect_timeout: Duration::from_secs(5), timeout: Duration::from_secs(15), no_proxy: false }
    }
}

/// True when `url`'s host is a loopback address or `localhost`.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_port = rest.split(['/', '?']).next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Token bucket over request weight, refilled continuously.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
    blocked_until: Option<Instant>,
}

impl RateLimiter {
    /// A budget of `weight_per_minute` (the bucket starts full).
    pub fn new(weight_per_minute: u32) -> Self {
        let per_minute = f64::from(weight_per_minute.max(1));
        Self {
            per_minute,
            state: Mutex::new(Bucket { tokens: per_minute, updated: Instant::now(), blocked_until: None }),
        }
    }

    /// Waits until `weight` can be spent, then spends it.
    pub async fn acquire(&self, weight: u32) {
        loop {
            match self.try_take(weight, Instant::now()) {
                Ok(()) => return,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Spends `weight` at `now`, or says how long to wait before trying again.
    fn try_take(&self, weight: u32, now: Instant) -> Result<(), Duration> {
        let weight = f64::from(weight).min(self.per_minute);
        let mut b = match self.state.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let refill = now.saturating_duration_since(b.updated).as_secs_f64() * self.per_minute / 60.0;
        b.tokens = (b.tokens + refill).min(self.per_minute);
        b.updated = b.updated.max(now);
        if let Some(until) = b.blocked_until {
            if until > now {
                return Err(until - now);
            }
            b.blocked_until = None;
        }
        if b.tokens >= weight {
            b.tokens -= weight;
            return Ok(());
        }
        Err(Duration::from_secs_f64((weight - b.tokens) * 60.0 / self.per_minute))
    }

    /// Stops every request for `secs` (a `Retry-After` from the venue).
    pub fn block_for(&self, secs: u64) {
        let mut b = match self.state.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let until = Instant::now() + Duration::from_secs(secs);
        b.blocked_until = Some(b.blocked_until.map_or(until, |u| u.max(until)));
        b.tokens = 0.0;
    }

    /// The venue says `used` of `limit` weight is spent this minute (Binance
    /// `X-MBX-USED-WEIGHT-1M`): past 80 % of it, our bucket is emptied so we slow down.
    pub fn observe_used(&self, used: u32, limit: u32) {
        if limit > 0 && f64::from(used) >= 0.8 * f64::from(limit) {
            let mut b = match self.state.lock() {
                Ok(b) => b,
                Err(poisoned) => poisoned.into_inner(),
            };
            b.tokens = 0.0;
        }
    }
}

/// A venue's REST endpoint: base URL, client, limiter.
#[derive(Debug, Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
    limiter: std::sync::Arc<RateLimiter>,
    /// Documented per-minute weight limit of the venue (for `observe_used`).
    venue_limit: u32,
}

/// Longest `Retry-After` we wait out inside one request before giving up with an error.
const MAX_INLINE_RETRY_SECS: u64 = 30;

impl RestClient {
    /// `base` without a trailing slash, e.g. `https://fapi.binance.com`.
    pub fn new(
        base: &str,
        settings: &HttpSettings,
        limiter: std::sync::Arc<RateLimiter>,
        venue_limit: u32,
    ) -> Result<Self, RestError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .user_agent(concat!("alphatx/", env!("CARGO_PKG_VERSION")));
        if settings.no_proxy || is_loopback_url(base) {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| RestError::Other(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, base: base.trim_end_matches('/').to_owned(), limiter, venue_limit })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET base + path_and_query`, spending `weight`, decoded into `T`.
    pub async fn get<T: DeserializeOwned>(&self, path_and_query: &str, weight: u32) -> Result<T, RestError> {
        let url = format!("{}{}", self.base, path_and_query);
        self.send(&url, weight, || self.http.get(&url)).await
    }

    /// `POST base + path` with a JSON body, spending `weight`, decoded into `T`.
    pub async fn post<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        weight: u32,
    ) -> Result<T, RestError> {
        let url = format!("{}{}", self.base, path);
        let bytes = serde_json::to_vec(body).map_err(|e| RestError::Other(format!("cannot encode a request: {e}")))?;
        self.send(&url, weight, || {
            self.http.post(&url).header(reqwest::header::CONTENT_TYPE, "application/json").body(bytes.clone())
        })
        .await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        url: &str,
        weight: u32,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, RestError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.limiter.acquire(weight).await;
            let response = request()
                .send()
                .await
                .map_err(|e| RestError::Unreachable { url: url.to_owned(), message: error_chain(&e) })?;
            let status = response.status().as_u16();
            let headers = response.headers();
            if let Some(used) = header_u32(headers, "x-mbx-used-weight-1m") {
                self.limiter.observe_used(used, self.venue_limit);
            }
            if status == 429 || status == 418 {
                let retry_after_secs = header_u32(headers, "retry-after").map_or(60, u64::from);
                self.limiter.block_for(retry_after_secs);
                tracing::warn!(url, status, retry_after_secs, "rate limited by the venue");
                // 418 is an IP ban: waiting inside the request would only prolong it.
                if status == 429 && retry_after_secs <= MAX_INLINE_RETRY_SECS && attempts < 3 {
                    continue;
                }
                return Err(RestError::RateLimited { url: url.to_owned(), status, retry_after_secs });
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| RestError::Unreachable { url: url.to_owned(), message: error_chain(&e) })?;
            if !(200..300).contains(&status) {
                let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
                return Err(RestError::Status { url: url.to_owned(), status, body: text });
            }
            return serde_json::from_slice(&body)
                .map_err(|e| RestError::Decode { url: url.to_owned(), message: e.to_string() });
        }
    }
}

fn header_u32(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u32> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// An error and its causes on one line (reqwest hides the useful part in `source()`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_recognised() {
        for u in ["http://127.0.0.1:8080/x", "ws://localhost:1/ws", "http://[::1]:80", "http://127.1.2.3"] {
            assert!(is_loopback_url(u), "{u}");
        }
        for u in ["https://fapi.binance.com", "wss://api.hyperliquid.xyz/ws", "http://10.0.0.1:80"] {
            assert!(!is_loopback_url(u), "{u}");
        }
    }

    #[test]
    fn limiter_paces_requests_to_the_budget() {
        let limiter = RateLimiter::new(60); // one weight per second
        let t0 = Instant::now();
        assert_eq!(limiter.try_take(60, t0), Ok(())); // the bucket starts full
        let wait = limiter.try_take(30, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 30.0).abs() < 0.01, "{wait:?}");
        assert_eq!(limiter.try_take(30, t0 + Duration::from_secs(31)), Ok(()));
        limiter.block_for(100);
        let wait = limiter.try_take(1, t0 + Duration::from_secs(40)).unwrap_err();
        assert!(wait > Duration::from_secs(50), "{wait:?}");
        // Once the block is over, refill resumes (more than 60 s later the bucket is full).
        assert_eq!(limiter.try_take(60, Instant::now() + Duration::from_secs(200)), Ok(()));
    }

    #[test]
    fn heavy_usage_reported_by_the_venue_empties_the_bucket() {
        let limiter = RateLimiter::new(600);
        let t0 = Instant::now();
        limiter.observe_used(100, 2400);
        assert_eq!(limiter.try_take(10, t0), Ok(()));
        limiter.observe_used(2000, 2400);
        assert!(limiter.try_take(10, t0).is_err());
    }
}
