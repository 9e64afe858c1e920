//! The payment provider seam. The provider tells us about payments by
//! signed webhook; [`SignedWebhooks`] is its local (and production) form:
//! `Payment-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`,
//! compared in constant time, refused when older than five minutes.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::domain::{refund::RefundId, CurrencyCode, OrderId};

/// The header that carries the signature, both ways.
pub const SIGNATURE_HEADER: &str = "payment-signature";

/// Signatures older (or further in the future) than this are refused, so a
/// captured request cannot be replayed later.
pub const TOLERANCE_SECS: u64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed signature")]
    Invalid,
    #[error("signature timestamp outside the tolerance")]
    Stale,
}

/// Authenticates provider events.
pub trait PaymentProvider: Send + Sync {
    fn authenticate(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: u64,
    ) -> Result<(), SignatureError>;
}

/// A refund as the provider is asked for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefundSubmission {
    /// Also the request's `Idempotency-Key`: a resend after a lost answer
    /// refunds once.
    pub refund_id: RefundId,
    pub order_id: OrderId,
    pub amount: u64,
    pub currency: &'static str,
}

/// The provider did not take the refund (down, refusing, or unreachable);
/// the refund waits in its queue and is sent again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payment provider: {0}")]
pub struct GatewayError(pub String);

/// Sends refunds to the payment provider. Its answer about the money comes
/// later, by webhook; `Ok` only means it accepted the request.
pub trait RefundGateway: Send + Sync {
    fn submit(
        &self,
        refund: &RefundSubmission,
    ) -> impl std::future::Future<Output = Result<(), GatewayError>> + Send;
}

#[derive(Clone)]
pub struct SignedWebhooks {
    mac: Hmac<Sha256>,
}

impl SignedWebhooks {
    pub fn new(secret: &str) -> Result<Self, &'static str> {
        if secret.len() < 8 {
            return Err("the webhook secret is too short");
        }
        Hmac::new_from_slice(secret.as_bytes())
            .map(|mac| Self { mac })
            .map_err(|_| "unusable webhook secret")
    }

    /// `t=…,v1=…` for `body` at `timestamp`, as the provider would send it.
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        let digest = mac.finalize().into_bytes();
        format!("t={timestamp},v1={}", quiet_support::encoding::hex(&digest))
    }
}

fn parse_header(header: &str) -> Option<(u64, Vec<u8>)> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=')? {
            ("t", value) => timestamp = value.parse().ok(),
            ("v1", value) if value.len() == 64 => {
                signature = (0..64)
                    .step_by(2)
                    .map(|i| u8::from_str_radix(value.get(i..i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>();
            }
            _ => {}
        }
    }
    Some((timestamp?, signature?))
}

impl PaymentProvider for SignedWebhooks {
    fn authenticate(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: u64,
    ) -> Result<(), SignatureError> {
        let (timestamp, expected) = signature
            .and_then(parse_header)
            .ok_or(SignatureError::Invalid)?;
        let mut mac = self.mac.clone();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&expected)
            .map_err(|_| SignatureError::Invalid)?;
        // Checked after the signature, so a forged header learns nothing.
        if now.abs_diff(timestamp) > TOLERANCE_SECS {
            return Err(SignatureError::Stale);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
pub enum PaymentEventType {
    #[serde(rename = "payment.succeeded")]
    Succeeded,
    #[serde(rename = "payment.failed")]
    Failed,
    /// A refund we asked for went through (`refund_id` names it).
    #[serde(rename = "refund.succeeded")]
    RefundSucceeded,
    /// A refund we asked for was refused; its money is refundable again.
    #[serde(rename = "refund.failed")]
    RefundFailed,
}

impl PaymentEventType {
    pub fn is_refund(self) -> bool {
        matches!(self, Self::RefundSucceeded | Self::RefundFailed)
    }
}

/// A provider event, as the webhook body carries it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentEvent {
    /// The provider's event id; a repeated id is a no-op.
    #[schema(value_type = String, pattern = "^evt_[A-Za-z0-9_]{1,100}$")]
    pub id: ProviderEventId,
    #[serde(rename = "type")]
    pub kind: PaymentEventType,
    pub order_id: OrderId,
    /// The refund a `refund.*` event settles; required there, refused on
    /// `payment.*` events.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^rfd_[0-9a-f]{32}$")]
    pub refund_id: Option<RefundId>,
    /// Minor units; must equal the order's total (the refund's amount for
    /// a refund event).
    pub amount: u64,
    /// Any ISO 4217 code; one that differs from the order's is a 409.
    #[schema(value_type = String, pattern = "^[A-Z]{3}$")]
    pub currency: CurrencyCode,
}

/// A provider event id: `evt_` and up to 100 more characters of [A-Za-z0-9_].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ProviderEventId(String);

impl ProviderEventId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ProviderEventId {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.strip_prefix("evt_") {
            Some(rest)
                if (1..=100).contains(&rest.len())
                    && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                Ok(Self(value))
            }
            _ => Err("must be evt_ followed by 1 to 100 letters, digits or _".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn provider() -> SignedWebhooks {
        SignedWebhooks::new("whsec_test_secret").expect("valid")
    }

    #[test]
    fn accepts_its_own_signature_within_the_tolerance() {
        let body = br#"{"id":"evt_1"}"#;
        let header = provider().sign(NOW, body);
        assert_eq!(
            provider().authenticate(Some(&header), body, NOW + 299),
            Ok(())
        );
        assert_eq!(
            provider().authenticate(Some(&header), body, NOW + 301),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn refuses_changed_bodies_other_secrets_and_garbage() {
        let body = br#"{"id":"evt_1"}"#;
        let header = provider().sign(NOW, body);
        assert_eq!(
            provider().authenticate(Some(&header), br#"{"id":"evt_2"}"#, NOW),
            Err(SignatureError::Invalid)
        );
        let other = SignedWebhooks::new("whsec_other_secret")
            .expect("valid")
            .sign(NOW, body);
        assert_eq!(
            provider().authenticate(Some(&other), body, NOW),
            Err(SignatureError::Invalid)
        );
        let moved = header.replace(&format!("t={NOW}"), &format!("t={}", NOW + 1));
        assert_eq!(
            provider().authenticate(Some(&moved), body, NOW),
            Err(SignatureError::Invalid)
        );
        for bad in [
            None,
            Some(""),
            Some("t=1"),
            Some("v1=00"),
            Some("t=x,v1=zz"),
        ] {
            assert_eq!(
                provider().authenticate(bad, body, NOW),
                Err(SignatureError::Invalid)
            );
        }
    }
}
