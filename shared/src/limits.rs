//! Per-client rate limits, shared by every instance of every function: a
//! fixed-window counter item per client, route class and window in
//! DynamoDB, bumped by one conditional `UpdateItem` (`hits < quota`) before
//! the handler runs. The client is the signed-in user (its verified token)
//! or, for anonymous calls, the source IP; a forged or expired token counts
//! as anonymous, so it cannot spend another user's budget. The credential
//! routes always count by source IP, token or not.
//!
//! Budgets per class live in [`Budgets`]: reads 40 per 2 s (20/s, bursts
//! of 40), writes 10 per 2 s, and the credential routes (login, register,
//! refresh) 10 per minute. `RATE_LIMITS` overrides them
//! (`read=40/2,write=10/2,auth=10/60`, or `off`). A fixed window lets a
//! client spend up to twice its quota across a window boundary; the
//! budgets are set with that in mind.
//!
//! Every answer carries `RateLimit-Policy` and `RateLimit`
//! (draft-ietf-httpapi-ratelimit-headers); a refusal is 429 with
//! `Retry-After`. If DynamoDB cannot be reached the request is served
//! without limit (logged): a throttle must not turn an outage of itself
//! into an outage of the shop. An instance remembers a client it refused
//! until that window ends, so a client hammering a warm instance costs no
//! further writes.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_dynamodb::types::ReturnValue;
use lambda_http::{
    http::{HeaderValue, Method},
    request::RequestContext,
    Request, RequestExt,
};

use crate::auth::{AuthUser, TokenVerifier};
use crate::config::ConfigError;
use crate::keys;
use crate::store::attr_n;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Read,
    Write,
    /// Login, register, refresh: the routes a credential-stuffer uses.
    Auth,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Read => "read",
            Class::Write => "write",
            Class::Auth => "auth",
        }
    }

    /// The class of a request, `None` for a route that is not limited
    /// here: the payment provider's webhook, signed and retried by the
    /// provider, is bounded by the stage throttle instead.
    pub fn of(method: &Method, path: &str) -> Option<Class> {
        match path {
            "/v1/payments/webhook" => None,
            "/v1/auth/login" | "/v1/auth/register" | "/v1/auth/refresh" => Some(Class::Auth),
            _ if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS => {
                Some(Class::Read)
            }
            _ => Some(Class::Write),
        }
    }
}

/// `quota` requests per `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub quota: u32,
    pub window_secs: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    pub read: Budget,
    pub write: Budget,
    pub auth: Budget,
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            read: Budget {
                quota: 40,
                window_secs: 2,
            },
            write: Budget {
                quota: 10,
                window_secs: 2,
            },
            auth: Budget {
                quota: 10,
                window_secs: 60,
            },
        }
    }
}

impl Budgets {
    pub fn of(&self, class: Class) -> Budget {
        match class {
            Class::Read => self.read,
            Class::Write => self.write,
            Class::Auth => self.auth,
        }
    }

    /// `RATE_LIMITS`: absent means the defaults, `off` means no limits,
    /// else `class=quota/window_secs` pairs overriding the defaults.
    pub fn parse(spec: Option<&str>) -> Result<Option<Self>, String> {
        let Some(spec) = spec.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Some(Self::default()));
        };
        if spec == "off" {
            return Ok(None);
        }
        let mut budgets = Self::default();
        for part in spec.split(',') {
            let (class, budget) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not class=quota/seconds"))?;
            let (quota, window) = budget
                .split_once('/')
                .ok_or_else(|| format!("{budget:?} is not quota/seconds"))?;
            let parse = |text: &str| {
                text.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or_else(|| format!("{text:?} is not a whole number from 1 to 1000000"))
            };
            let budget = Budget {
                quota: parse(quota)?,
                window_secs: parse(window)?,
            };
            match class.trim() {
                "read" => budgets.read = budget,
                "write" => budgets.write = budget,
                "auth" => budgets.auth = budget,
                other => return Err(format!("no route class {other:?} (read, write, auth)")),
            }
        }
        Ok(Some(budgets))
    }
}

/// What the limiter says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not a limited route, limits off, or the counter unreachable.
    Unlimited,
    Allowed {
        class: Class,
        budget: Budget,
        remaining: u32,
        reset_secs: u32,
    },
    Refused {
        class: Class,
        budget: Budget,
        reset_secs: u32,
    },
}

impl Decision {
    /// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers),
    /// and on a refusal `Retry-After` naming the same moment.
    pub fn headers(&self) -> Vec<(&'static str, HeaderValue)> {
        let (class, budget, remaining, reset) = match *self {
            Decision::Unlimited => return Vec::new(),
            Decision::Allowed {
                class,
                budget,
                remaining,
                reset_secs,
            } => (class, budget, remaining, reset_secs),
            Decision::Refused {
                class,
                budget,
                reset_secs,
            } => (class, budget, 0, reset_secs),
        };
        let name = class.as_str();
        let mut headers = vec![
            (
                "ratelimit-policy",
                format!("\"{name}\";q={};w={}", budget.quota, budget.window_secs),
            ),
            ("ratelimit", format!("\"{name}\";r={remaining};t={reset}")),
        ];
        if matches!(self, Decision::Refused { .. }) {
            headers.push(("retry-after", reset.max(1).to_string()));
        }
        headers
            .into_iter()
            .filter_map(|(name, value)| Some((name, HeaderValue::from_str(&value).ok()?)))
            .collect()
    }
}

/// The window a moment falls in, and the seconds left in it (at least 1:
/// a client told 0 would retry into the same window).
pub fn window(now_ms: u64, budget: Budget) -> (u64, u32) {
    let length_ms = u64::from(budget.window_secs) * 1000;
    let index = now_ms / length_ms;
    let left_ms = (index + 1) * length_ms - now_ms;
    let reset = u32::try_from(left_ms.div_ceil(1000)).unwrap_or(budget.window_secs);
    (index, reset.max(1))
}

pub struct Limiter {
    client: aws_sdk_dynamodb::Client,
    table: String,
    budgets: Budgets,
    verifier: TokenVerifier,
    /// Clients this instance refused, until the end of that window (ms).
    refused: Mutex<HashMap<(Class, String), u64>>,
}

impl Limiter {
    /// Built once at init; `None` when `RATE_LIMITS=off`.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        let budgets =
            Budgets::parse(crate::config::env("RATE_LIMITS").as_deref()).map_err(|reason| {
                ConfigError::Invalid {
                    name: "RATE_LIMITS",
                    reason,
                }
            })?;
        let Some(budgets) = budgets else {
            return Ok(None);
        };
        let config = crate::Config::from_env()?;
        Ok(Some(Self {
            client: config.dynamodb(),
            table: config.table_name.clone(),
            budgets,
            verifier: crate::auth::keys::verifier_from_env()?,
            refused: Mutex::new(HashMap::new()),
        }))
    }

    /// Counts `req` against its client's budget. A verified caller is put
    /// in the request's extensions, so the handler does not verify again.
    pub async fn check(&self, req: &mut Request) -> Decision {
        let Some(class) = Class::of(req.method(), req.uri().path()) else {
            return Decision::Unlimited;
        };
        let budget = self.budgets.of(class);
        let client = match class {
            // The credential routes count by address whatever token comes
            // along: counted per account, every account registered would
            // bring a fresh budget of guesses.
            Class::Auth => format!("ip:{}", source_ip(req)),
            Class::Read | Class::Write => match crate::auth::authenticate(req, &self.verifier) {
                Ok(user) => {
                    let client = format!("user:{}", user.id.as_str());
                    req.extensions_mut().insert::<AuthUser>(user);
                    client
                }
                Err(_) => format!("ip:{}", source_ip(req)),
            },
        };
        let now_ms = crate::clock::now_ms();
        let (index, reset_secs) = window(now_ms, budget);
        let key = (class, client);
        if self.still_refused(&key, now_ms) {
            return Decision::Refused {
                class,
                budget,
                reset_secs,
            };
        }
        match self.count(class, &key.1, index, budget).await {
            Ok(Some(hits)) => Decision::Allowed {
                class,
                budget,
                remaining: budget.quota.saturating_sub(hits),
                reset_secs,
            },
            Ok(None) => {
                let ends_ms = (index + 1) * u64::from(budget.window_secs) * 1000;
                if let Ok(mut refused) = self.refused.lock() {
                    refused.retain(|_, until| *until > now_ms);
                    refused.insert(key, ends_ms);
                }
                Decision::Refused {
                    class,
                    budget,
                    reset_secs,
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "rate limit counter unavailable; request not limited");
                Decision::Unlimited
            }
        }
    }

    fn still_refused(&self, key: &(Class, String), now_ms: u64) -> bool {
        self.refused
            .lock()
            .ok()
            .and_then(|refused| refused.get(key).copied())
            .is_some_and(|until| until > now_ms)
    }

    /// The client's hits in this window after this one, `None` if the
    /// quota was already spent (nothing written then).
    async fn count(
        &self,
        class: Class,
        client: &str,
        index: u64,
        budget: Budget,
    ) -> Result<Option<u32>, crate::store::StoreError> {
        let expires = (index + 2) * u64::from(budget.window_secs) + 60;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::rate::window(class.as_str(), client, index)))
            .update_expression("ADD hits :one SET #ttl = if_not_exists(#ttl, :expires)")
            .condition_expression("attribute_not_exists(hits) OR hits < :quota")
            .expression_attribute_names("#ttl", keys::EXPIRES_AT)
            .expression_attribute_values(":one", attr_n(1))
            .expression_attribute_values(":expires", attr_n(expires))
            .expression_attribute_values(":quota", attr_n(budget.quota))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let hits = out
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get("hits"))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(budget.quota);
                Ok(Some(hits))
            }
            Err(err)
                if aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&err)
                    == Some("ConditionalCheckFailedException") =>
            {
                Ok(None)
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// The caller's address as API Gateway saw it (never a header a client
/// could set).
fn source_ip(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
    .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fall_in_their_class() {
        assert_eq!(Class::of(&Method::GET, "/v1/products"), Some(Class::Read));
        assert_eq!(Class::of(&Method::POST, "/v1/checkout"), Some(Class::Write));
        assert_eq!(
            Class::of(&Method::DELETE, "/v1/cart/items/A"),
            Some(Class::Write)
        );
        assert_eq!(
            Class::of(&Method::POST, "/v1/auth/login"),
            Some(Class::Auth)
        );
        assert_eq!(
            Class::of(&Method::POST, "/v1/auth/register"),
            Some(Class::Auth)
        );
        assert_eq!(
            Class::of(&Method::POST, "/v1/auth/logout"),
            Some(Class::Write)
        );
        assert_eq!(Class::of(&Method::POST, "/v1/payments/webhook"), None);
    }

    #[test]
    fn budgets_come_from_one_setting() {
        assert_eq!(Budgets::parse(None), Ok(Some(Budgets::default())));
        assert_eq!(Budgets::parse(Some("off")), Ok(None));
        let set = Budgets::parse(Some("auth=1000/60, read=5/1"))
            .expect("valid")
            .expect("on");
        assert_eq!(
            set.auth,
            Budget {
                quota: 1000,
                window_secs: 60
            }
        );
        assert_eq!(
            set.read,
            Budget {
                quota: 5,
                window_secs: 1
            }
        );
        assert_eq!(set.write, Budgets::default().write);
        for bad in [
            "read",
            "read=5",
            "read=0/1",
            "read=5/x",
            "reads=5/1",
            "read=5/1,",
        ] {
            assert!(Budgets::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_window_ends_where_the_next_begins() {
        let budget = Budget {
            quota: 10,
            window_secs: 2,
        };
        assert_eq!(window(10_000, budget), (5, 2));
        assert_eq!(window(10_001, budget), (5, 2));
        assert_eq!(window(11_000, budget), (5, 1));
        assert_eq!(window(11_999, budget), (5, 1));
        assert_eq!(window(12_000, budget), (6, 2));
    }

    #[test]
    fn headers_follow_the_draft() {
        let budget = Budget {
            quota: 10,
            window_secs: 2,
        };
        let allowed = Decision::Allowed {
            class: Class::Write,
            budget,
            remaining: 7,
            reset_secs: 1,
        };
        let text: Vec<(&str, String)> = allowed
            .headers()
            .into_iter()
            .map(|(n, v)| (n, v.to_str().expect("ascii").to_string()))
            .collect();
        assert_eq!(
            text,
            [
                ("ratelimit-policy", "\"write\";q=10;w=2".to_string()),
                ("ratelimit", "\"write\";r=7;t=1".to_string()),
            ]
        );
        let refused = Decision::Refused {
            class: Class::Auth,
            budget,
            reset_secs: 2,
        };
        let names: Vec<&str> = refused.headers().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["ratelimit-policy", "ratelimit", "retry-after"]);
        assert!(Decision::Unlimited.headers().is_empty());
    }
}
