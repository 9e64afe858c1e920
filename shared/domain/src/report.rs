//! Sales reports: a job over a window of orders, and what it sums.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Currency, Order, Sku, Total, UserId};

quiet_support::id_type!(
    /// A report job id: `rpt_` and 32 hex digits.
    JobId,
    "rpt_",
    random_id,
    "must be rpt_ and 32 lowercase hex digits"
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

impl TryFrom<String> for ReportStatus {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        serde_json::from_value(serde_json::Value::String(value))
            .map_err(|_| "unknown report status".to_string())
    }
}

/// Units and revenue of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SkuSales {
    pub sku: Sku,
    pub units: u64,
    pub revenue: Total,
}

/// What a report found: orders that were paid (or since shipped or
/// refunded) among those placed in its window, their revenue, and per-SKU
/// units and revenue in SKU order. Revenue is net sales: after discounts
/// and refunds, before tax; the tax collected on those orders, less the
/// share refunds gave back, is its own figure. `refunded` is what refunds
/// gave back (or are giving back) in all. Per-SKU figures are as sold,
/// before refunds: an amount-only refund belongs to no SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportSummary {
    pub orders: u64,
    pub revenue: Total,
    /// Reports written before tax existed have none: zero.
    #[serde(default = "Total::zero_usd")]
    pub tax: Total,
    /// Reports written before refunds existed have none: zero.
    #[serde(default = "Total::zero_usd")]
    pub refunded: Total,
    pub skus: Vec<SkuSales>,
}

impl ReportSummary {
    /// Sums `orders` with checked arithmetic; `None` on overflow or mixed
    /// currencies (the shop sells in USD only).
    pub fn of(orders: &[Order]) -> Option<Self> {
        let mut revenue = Total::zero(Currency::Usd);
        let mut tax = Total::zero(Currency::Usd);
        let mut refunded = Total::zero(Currency::Usd);
        let mut refunds = (0u64, 0u64);
        let mut skus: BTreeMap<Sku, (u64, Total)> = BTreeMap::new();
        for order in orders {
            let inclusive = order
                .tax_rate
                .as_ref()
                .is_some_and(|t| t.prices_include_tax);
            tax = tax.checked_add(order.tax)?;
            refunded = refunded.checked_add(order.refunded)?;
            // A refund gives back net sales and tax in the order's own
            // proportion; money beyond the total (a second payment) was
            // never a sale.
            let back = order.refunded.amount.min(order.total.amount);
            let back_tax = crate::refund::share_of(order.tax.amount, back, order.total.amount);
            refunds.0 = refunds.0.checked_add(back - back_tax)?;
            refunds.1 = refunds.1.checked_add(back_tax)?;
            for line in &order.items {
                // Net of the line's share of the discount and of the tax
                // its price included, so the SKUs add up to the revenue.
                let mut sales = line.line_total.checked_sub(line.discount)?;
                if inclusive {
                    sales = sales.checked_sub(line.tax)?;
                }
                revenue = revenue.checked_add(sales)?;
                let entry = skus
                    .entry(line.sku.clone())
                    .or_insert((0, Total::zero(Currency::Usd)));
                entry.0 = entry.0.checked_add(u64::from(line.quantity.get()))?;
                entry.1 = entry.1.checked_add(sales)?;
            }
        }
        let revenue = Total {
            amount: revenue.amount.checked_sub(refunds.0)?,
            ..revenue
        };
        let tax = Total {
            amount: tax.amount.checked_sub(refunds.1)?,
            ..tax
        };
        Some(Self {
            orders: u64::try_from(orders.len()).ok()?,
            revenue,
            tax,
            refunded,
            skus: skus
                .into_iter()
                .map(|(sku, (units, revenue))| SkuSales {
                    sku,
                    units,
                    revenue,
                })
                .collect(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub job_id: JobId,
    pub status: ReportStatus,
    /// The window as requested (RFC 3339), `from` inclusive, `to` exclusive.
    pub from: String,
    pub to: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub result: Option<ReportSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub from_ms: u64,
    #[serde(skip)]
    pub to_ms: u64,
    #[serde(skip)]
    pub requested_by: UserId,
}
