//! Refunds: what staff may ask for, and what a request is worth.
//!
//! A refund gives back money that was captured, never more: the order keeps
//! its captured and refunded totals, and [`plan`] prices a request against
//! them and against the refunds already made. Everything is integer minor
//! units. A line's paid amount (after its discount, with its tax) is
//! refunded per unit cumulatively: after `r` of `Q` units the line has given
//! back `paid * r / Q` (rounded down), so refunding every unit, in any
//! number of steps, returns exactly what was paid for the line.

use serde::{Deserialize, Serialize};

use super::{money::Total, product::Sku, text::Text, Currency, Line, Quantity};

/// At most this many refunds per order: each one is kept on the order.
pub const MAX_REFUNDS: usize = 20;

quiet_support::id_type!(
    /// A refund id: `rfd_` and 32 lowercase hex digits.
    RefundId,
    "rfd_",
    random_id,
    "must be rfd_ and 32 lowercase hex digits"
);

/// `pending` (written, waiting for the provider), `submitted` (the provider
/// accepted it), then `succeeded` or `failed` as the provider reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    Submitted,
    Succeeded,
    Failed,
}

impl RefundStatus {
    /// Whether the provider has had its final word.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

/// Units of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLine {
    #[schema(value_type = String, pattern = "^[A-Z0-9-]{3,40}$")]
    pub sku: Sku,
    #[schema(value_type = u32, minimum = 1, maximum = 99)]
    pub quantity: Quantity,
}

/// Why staff refund: shown to them, kept with the refund.
pub type Reason = Text<1, 500>;

/// A refund as the order keeps and shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Refund {
    #[schema(value_type = String, pattern = "^rfd_[0-9a-f]{32}$")]
    pub refund_id: RefundId,
    pub amount: Total,
    /// The units this refund is for (empty for an amount-only refund).
    pub lines: Vec<RefundLine>,
    /// The units it put back in stock.
    pub restocked: Vec<RefundLine>,
    #[schema(value_type = String, min_length = 1, max_length = 500)]
    pub reason: Reason,
    pub status: RefundStatus,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// A positive refund amount: 1 to 10^12 minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Positive(u64);

impl TryFrom<u64> for Positive {
    type Error = String;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        if (1..=1_000_000_000_000).contains(&value) {
            Ok(Self(value))
        } else {
            Err("must be between 1 and 1000000000000".into())
        }
    }
}

impl From<Positive> for u64 {
    fn from(value: Positive) -> Self {
        value.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedAmount {
    #[schema(value_type = u64, minimum = 1, maximum = 1_000_000_000_000_u64)]
    pub amount: Positive,
    #[schema(value_type = String, pattern = "^[A-Z]{3}$")]
    pub currency: Currency,
}

/// 1 to 50 lines, one per SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<RefundLine>", into = "Vec<RefundLine>")]
pub struct RefundLines(Vec<RefundLine>);

impl RefundLines {
    pub fn as_slice(&self) -> &[RefundLine] {
        &self.0
    }
}

impl TryFrom<Vec<RefundLine>> for RefundLines {
    type Error = String;

    fn try_from(lines: Vec<RefundLine>) -> Result<Self, Self::Error> {
        if !(1..=super::line::MAX_CART_LINES).contains(&lines.len()) {
            return Err(format!(
                "must list 1 to {} lines",
                super::line::MAX_CART_LINES
            ));
        }
        let mut skus: Vec<&Sku> = lines.iter().map(|line| &line.sku).collect();
        skus.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        if skus.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err("must list each sku once".into());
        }
        Ok(Self(lines))
    }
}

impl From<RefundLines> for Vec<RefundLine> {
    fn from(value: RefundLines) -> Self {
        value.0
    }
}

/// `POST /v1/admin/orders/{id}/refunds`. Without `amount` the refund is
/// worth its lines, or, without lines either, everything still refundable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<RequestedAmount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<RefundLine>>, min_items = 1, max_items = 50)]
    pub lines: Option<RefundLines>,
    /// Put the refunded units (all not yet restocked, without `lines`) back
    /// in stock, exactly once.
    pub restock: bool,
    #[schema(value_type = String, min_length = 1, max_length = 500)]
    pub reason: Reason,
}

/// What an order holds that a refund is priced against.
#[derive(Debug, Clone, Copy)]
pub struct Refundable<'a> {
    pub lines: &'a [Line],
    pub captured: Total,
    pub refunded: Total,
    pub refunds: &'a [Refund],
    pub prices_include_tax: bool,
    /// The order was cancelled or expired: its stock went back then.
    pub stock_released: bool,
}

/// A priced request: what to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub amount: Total,
    pub lines: Vec<RefundLine>,
    pub restocked: Vec<RefundLine>,
    /// Refunded in all once this one is made.
    pub refunded: Total,
    /// Whether that is everything captured.
    pub complete: bool,
}

impl Plan {
    /// The pending refund this plan makes, requested `now` for `reason`.
    pub fn refund(&self, reason: Reason, now: &str) -> Refund {
        Refund {
            refund_id: RefundId::generate(),
            amount: self.amount,
            lines: self.lines.clone(),
            restocked: self.restocked.clone(),
            reason,
            status: RefundStatus::Pending,
            created_at: now.to_string(),
            updated_at: now.to_string(),
        }
    }

    /// The order's status once this refund is made.
    pub fn status(&self) -> super::order_status::OrderStatus {
        if self.complete {
            super::order_status::OrderStatus::Refunded
        } else {
            super::order_status::OrderStatus::PartiallyRefunded
        }
    }
}

/// The order's status once a refund failed and its money is the shop's
/// again: `refunded` is what the other refunds still take back, `before`
/// the status the first refund found.
///
/// A refund's restock stands when it fails (the units are on sale again,
/// and may be sold already), so an unshipped order any refund restocked
/// never goes back to `paid`, from where it could be shipped with units it
/// no longer holds: it stays `partially_refunded` until staff refund it
/// again (without restock: that stands). Taking the units back instead
/// would fail exactly when they were sold meanwhile.
pub fn status_after_failure(
    before: super::order_status::OrderStatus,
    refunded: u64,
    refunds: &[Refund],
) -> super::order_status::OrderStatus {
    use super::order_status::OrderStatus;
    let restocked = refunds.iter().any(|r| !r.restocked.is_empty());
    match before {
        OrderStatus::Paid if restocked => OrderStatus::PartiallyRefunded,
        before if refunded == 0 => before,
        _ => OrderStatus::PartiallyRefunded,
    }
}

/// Why a refund cannot be made; each is a 409 or 422 a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    #[error("no payment was captured for this order")]
    NothingCaptured,
    #[error("everything captured for this order has been refunded")]
    NothingLeft,
    #[error("only {left} minor units are left to refund")]
    ExceedsRemaining { left: u64 },
    #[error("the order is in {order}, not {requested}")]
    Currency {
        order: &'static str,
        requested: &'static str,
    },
    #[error("{0} is not in this order")]
    UnknownSku(Sku),
    #[error("only {left} units of {sku} are left to refund")]
    TooManyUnits { sku: Sku, left: u32 },
    #[error("only {left} units of {sku} are left to restock")]
    AlreadyRestocked { sku: Sku, left: u32 },
    #[error("nothing is left to restock")]
    NothingToRestock,
    #[error("the order's stock was already returned when it was cancelled or expired")]
    StockReleased,
    #[error("the lines are worth nothing; give an amount")]
    Worthless,
    #[error("an order takes at most {MAX_REFUNDS} refunds")]
    TooMany,
}

impl RefundRefusal {
    /// The request field at fault, for a 422; `None` for a 409 (the order's
    /// state refuses it, not the request's form).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Currency { .. } => Some("amount.currency"),
            Self::UnknownSku(_) | Self::TooManyUnits { .. } | Self::Worthless => Some("lines"),
            Self::AlreadyRestocked { .. } | Self::NothingToRestock | Self::StockReleased => {
                Some("restock")
            }
            _ => None,
        }
    }
}

/// What a line's customer paid for it: after its discount, with its tax
/// unless the price already held it.
pub fn paid_for(line: &Line, prices_include_tax: bool) -> Option<u64> {
    let net = line.line_total.amount.checked_sub(line.discount.amount)?;
    if prices_include_tax {
        Some(net)
    } else {
        net.checked_add(line.tax.amount)
    }
}

/// The share of `paid` that `units` of `quantity` units are worth, rounded
/// down; `units == quantity` is all of it.
pub fn share(paid: u64, units: u32, quantity: u32) -> u64 {
    share_of(paid, u64::from(units), u64::from(quantity))
}

/// `part / whole` of `amount`, rounded down: the tax share of a refund of
/// `part` out of an order `whole`. Zero for an empty whole.
pub fn share_of(amount: u64, part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    // part <= whole, so the result is at most amount and fits.
    (u128::from(amount) * u128::from(part.min(whole)) / u128::from(whole)) as u64
}

fn units_of<'a>(refunds: impl Iterator<Item = &'a RefundLine>, sku: &Sku) -> u32 {
    refunds
        .filter(|line| &line.sku == sku)
        .map(|line| line.quantity.get())
        .sum()
}

/// Prices `request` against `order`.
pub fn plan(order: Refundable<'_>, request: &RefundRequest) -> Result<Plan, RefundRefusal> {
    let currency = order.captured.currency;
    if order.captured.amount == 0 {
        return Err(RefundRefusal::NothingCaptured);
    }
    let left = order.captured.amount.saturating_sub(order.refunded.amount);
    if left == 0 {
        return Err(RefundRefusal::NothingLeft);
    }
    if order.refunds.len() >= MAX_REFUNDS {
        return Err(RefundRefusal::TooMany);
    }
    // Failed refunds gave their money back, so their units are refundable
    // again; restocking happened when they were made and stands.
    let live = || {
        order
            .refunds
            .iter()
            .filter(|r| r.status != RefundStatus::Failed)
            .flat_map(|r| r.lines.iter())
    };
    let restocked = || order.refunds.iter().flat_map(|r| r.restocked.iter());
    let line_of = |sku: &Sku| order.lines.iter().find(|line| &line.sku == sku);

    let mut worth = 0u64;
    let mut lines = Vec::new();
    if let Some(requested) = &request.lines {
        for wanted in requested.as_slice() {
            let line = line_of(&wanted.sku)
                .ok_or_else(|| RefundRefusal::UnknownSku(wanted.sku.clone()))?;
            let quantity = line.quantity.get();
            let before = units_of(live(), &wanted.sku);
            let available = quantity.saturating_sub(before);
            if wanted.quantity.get() > available {
                return Err(RefundRefusal::TooManyUnits {
                    sku: wanted.sku.clone(),
                    left: available,
                });
            }
            let paid = paid_for(line, order.prices_include_tax).unwrap_or(0);
            worth += share(paid, before + wanted.quantity.get(), quantity)
                - share(paid, before, quantity);
            lines.push(wanted.clone());
        }
    }

    let amount = match (&request.amount, &request.lines) {
        (Some(requested), _) => {
            if requested.currency != currency {
                return Err(RefundRefusal::Currency {
                    order: currency.code(),
                    requested: requested.currency.code(),
                });
            }
            u64::from(requested.amount)
        }
        (None, Some(_)) if worth == 0 => return Err(RefundRefusal::Worthless),
        (None, Some(_)) => worth,
        (None, None) => left,
    };
    if amount > left {
        return Err(RefundRefusal::ExceedsRemaining { left });
    }

    let mut restock = Vec::new();
    if request.restock {
        if order.stock_released {
            return Err(RefundRefusal::StockReleased);
        }
        let candidates: Vec<RefundLine> = match &request.lines {
            Some(requested) => requested.as_slice().to_vec(),
            None => order
                .lines
                .iter()
                .filter_map(|line| {
                    let left = line.quantity.get()
                        - units_of(restocked(), &line.sku).min(line.quantity.get());
                    Quantity::try_from(u64::from(left))
                        .ok()
                        .map(|quantity| RefundLine {
                            sku: line.sku.clone(),
                            quantity,
                        })
                })
                .collect(),
        };
        for wanted in candidates {
            let quantity = line_of(&wanted.sku).map_or(0, |line| line.quantity.get());
            let available = quantity.saturating_sub(units_of(restocked(), &wanted.sku));
            if wanted.quantity.get() > available {
                return Err(RefundRefusal::AlreadyRestocked {
                    sku: wanted.sku,
                    left: available,
                });
            }
            restock.push(wanted);
        }
        if restock.is_empty() {
            return Err(RefundRefusal::NothingToRestock);
        }
    }

    let refunded = order.refunded.amount + amount;
    Ok(Plan {
        amount: Total { amount, currency },
        lines,
        restocked: restock,
        refunded: Total {
            amount: refunded,
            currency,
        },
        complete: refunded == order.captured.amount,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_failed_refund_that_restocked_never_makes_an_order_shippable_again() {
        use crate::OrderStatus::{Paid, PartiallyRefunded, Shipped};
        let refund = |restocked: &[&str]| Refund {
            refund_id: RefundId::generate(),
            amount: Total {
                amount: 100,
                currency: Currency::Usd,
            },
            lines: Vec::new(),
            restocked: restocked
                .iter()
                .map(|sku| RefundLine {
                    sku: Sku::try_from(sku.to_string()).expect("sku"),
                    quantity: Quantity::try_from(1).expect("quantity"),
                })
                .collect(),
            reason: Reason::try_from("x".to_string()).expect("reason"),
            status: RefundStatus::Failed,
            created_at: String::new(),
            updated_at: String::new(),
        };
        assert_eq!(status_after_failure(Paid, 0, &[refund(&[])]), Paid);
        assert_eq!(
            status_after_failure(Paid, 0, &[refund(&["TEA-001"])]),
            PartiallyRefunded
        );
        assert_eq!(
            status_after_failure(Shipped, 0, &[refund(&["TEA-001"])]),
            Shipped
        );
        assert_eq!(
            status_after_failure(Shipped, 50, &[refund(&[])]),
            PartiallyRefunded
        );
    }

    fn line(sku: &str, quantity: u32, unit: u64, discount: u64, tax: u64) -> Line {
        let usd = |amount| Total {
            amount,
            currency: Currency::Usd,
        };
        Line {
            sku: Sku::try_from(sku.to_string()).expect("sku"),
            name: sku.into(),
            quantity: Quantity::try_from(u64::from(quantity)).expect("quantity"),
            unit_price: serde_json::from_value(
                serde_json::json!({"amount": unit, "currency": "USD"}),
            )
            .expect("price"),
            line_total: usd(unit * u64::from(quantity)),
            discount: usd(discount),
            tax: usd(tax),
        }
    }

    fn usd(amount: u64) -> Total {
        Total {
            amount,
            currency: Currency::Usd,
        }
    }

    fn request(json: serde_json::Value) -> RefundRequest {
        serde_json::from_value(json).expect("request")
    }

    fn refund(plan: &Plan) -> Refund {
        Refund {
            refund_id: RefundId::generate(),
            amount: plan.amount,
            lines: plan.lines.clone(),
            restocked: plan.restocked.clone(),
            reason: Reason::try_from("test".to_string()).expect("reason"),
            status: RefundStatus::Pending,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn without_amount_or_lines_refunds_everything_left() {
        let lines = [line("MUG-1", 2, 1000, 200, 360)];
        let order = Refundable {
            lines: &lines,
            captured: usd(2160),
            refunded: usd(160),
            refunds: &[],
            prices_include_tax: false,
            stock_released: false,
        };
        let plan = plan(
            order,
            &request(serde_json::json!({"restock": false, "reason": "x"})),
        )
        .expect("plan");
        assert_eq!(plan.amount, usd(2000));
        assert!(plan.complete);
    }

    #[test]
    fn lines_are_worth_what_was_paid_for_them_and_restock_once() {
        // 3 units, 3000 - 100 discount + 580 tax = 3480 paid: 1160 each.
        let lines = [
            line("MUG-1", 3, 1000, 100, 580),
            line("TEA-1", 1, 500, 0, 100),
        ];
        let body = serde_json::json!({"lines": [{"sku": "MUG-1", "quantity": 2}], "restock": true, "reason": "broken"});
        let order = Refundable {
            lines: &lines,
            captured: usd(4080),
            refunded: usd(0),
            refunds: &[],
            prices_include_tax: false,
            stock_released: false,
        };
        let first = plan(order, &request(body.clone())).expect("plan");
        assert_eq!(first.amount, usd(2320));
        assert_eq!(first.restocked.len(), 1);
        let made = [refund(&first)];
        let again = Refundable {
            refunded: first.refunded,
            refunds: &made,
            ..order
        };
        assert_eq!(
            plan(again, &request(body)).map(|p| p.amount),
            Err(RefundRefusal::TooManyUnits {
                sku: lines[0].sku.clone(),
                left: 1
            })
        );
        let rest = plan(
            again,
            &request(serde_json::json!({"restock": true, "reason": "all"})),
        )
        .expect("the rest");
        assert_eq!(rest.amount, usd(1760));
        assert!(rest.complete);
        let restocked: u32 = rest.restocked.iter().map(|l| l.quantity.get()).sum();
        assert_eq!(restocked, 2, "one MUG-1 and one TEA-1 were left");
    }

    #[test]
    fn refuses_more_than_captured_other_currencies_and_released_stock() {
        let lines = [line("MUG-1", 1, 1000, 0, 0)];
        let order = Refundable {
            lines: &lines,
            captured: usd(1000),
            refunded: usd(400),
            refunds: &[],
            prices_include_tax: false,
            stock_released: true,
        };
        let too_much = request(
            serde_json::json!({"amount": {"amount": 601, "currency": "USD"}, "restock": false, "reason": "x"}),
        );
        assert_eq!(
            plan(order, &too_much),
            Err(RefundRefusal::ExceedsRemaining { left: 600 })
        );
        let restock = request(serde_json::json!({"restock": true, "reason": "x"}));
        assert_eq!(plan(order, &restock), Err(RefundRefusal::StockReleased));
        let nothing = Refundable {
            captured: usd(0),
            ..order
        };
        assert_eq!(
            plan(
                nothing,
                &request(serde_json::json!({"restock": false, "reason": "x"}))
            ),
            Err(RefundRefusal::NothingCaptured)
        );
    }

    #[test]
    fn requests_are_parsed_strictly() {
        for bad in [
            serde_json::json!({"restock": false, "reason": ""}),
            serde_json::json!({"restock": false, "reason": "x", "amount": {"amount": 0, "currency": "USD"}}),
            serde_json::json!({"restock": false, "reason": "x", "lines": []}),
            serde_json::json!({"restock": false, "reason": "x", "lines": [{"sku": "MUG-1", "quantity": 1}, {"sku": "MUG-1", "quantity": 1}]}),
            serde_json::json!({"restock": false, "reason": "x", "status": "succeeded"}),
            serde_json::json!({"reason": "x"}),
        ] {
            assert!(
                serde_json::from_value::<RefundRequest>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    proptest! {
        /// Refunding every unit of every line, one random step at a time,
        /// gives back exactly what was paid: never a minor unit more or less.
        #[test]
        fn unit_refunds_sum_to_what_was_paid(
            specs in proptest::collection::vec((1u32..=99, 0u64..=100_000, 0u64..=100, 0u64..=2_000), 1..6),
            steps in proptest::collection::vec(1u32..=99, 1..40),
            include in any::<bool>(),
        ) {
            let lines: Vec<Line> = specs
                .iter()
                .enumerate()
                .map(|(i, &(q, unit, off_pct, tax_bps))| {
                    let total = unit * u64::from(q);
                    let discount = total * off_pct / 100;
                    line(&format!("SKU-{i}"), q, unit, discount, (total - discount) * tax_bps / 10_000)
                })
                .collect();
            let paid: u64 = lines.iter().map(|l| paid_for(l, include).expect("paid")).sum();
            prop_assume!(paid > 0);
            let mut made: Vec<Refund> = Vec::new();
            let mut refunded = 0u64;
            let mut step = steps.iter().cycle();
            for line in &lines {
                let mut left = line.quantity.get();
                while left > 0 {
                    let take = (*step.next().expect("cycle")).min(left);
                    left -= take;
                    let body = request(serde_json::json!({
                        "lines": [{"sku": line.sku.as_str(), "quantity": take}],
                        "restock": false, "reason": "p"
                    }));
                    let order = Refundable {
                        lines: &lines,
                        captured: usd(paid),
                        refunded: usd(refunded),
                        refunds: &made,
                        prices_include_tax: include,
                        stock_released: false,
                    };
                    match plan(order, &body) {
                        Ok(p) => refunded = p.refunded.amount,
                        // A step too small to be worth a minor unit, or
                        // the rest of the order is free.
                        Err(RefundRefusal::Worthless) => {}
                        Err(RefundRefusal::NothingLeft) if refunded == paid => {}
                        Err(other) => prop_assert!(false, "refused: {other}"),
                    }
                    record(&mut made, &line.sku, take);
                }
            }
            prop_assert_eq!(refunded, paid);
        }
    }

    /// Keeps one refund per SKU, its units accumulated, so any number of
    /// steps stays under MAX_REFUNDS; units count the same either way.
    fn record(made: &mut Vec<Refund>, sku: &Sku, take: u32) {
        let quantity = |q: u32| Quantity::try_from(u64::from(q)).expect("quantity");
        match made.iter_mut().find(|m| &m.lines[0].sku == sku) {
            Some(prev) => prev.lines[0].quantity = quantity(prev.lines[0].quantity.get() + take),
            None => made.push(Refund {
                lines: vec![RefundLine {
                    sku: sku.clone(),
                    quantity: quantity(take),
                }],
                ..refund(&Plan {
                    amount: usd(0),
                    lines: Vec::new(),
                    restocked: Vec::new(),
                    refunded: usd(0),
                    complete: false,
                })
            }),
        }
    }
}
