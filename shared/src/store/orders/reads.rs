//! Reading orders: one, a page, the overdue, a window.

use std::future::Future;

use super::{DynamoOrders, OrderListing, OrderPage, OrderPosition};

use crate::domain::order::Order;
use crate::domain::{OrderId, OrderStatus, PageLimit};
use crate::keys;
use crate::store::order_item::decode_order;
use crate::store::StoreError;

/// Reading orders: one, a page, the overdue, a window.
pub trait OrderReads: Send + Sync {
    fn get(&self, id: &OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;

    fn list(
        &self,
        listing: &OrderListing,
        limit: PageLimit,
        after: Option<&OrderPosition>,
    ) -> impl Future<Output = Result<OrderPage, StoreError>> + Send;

    /// Orders still `pending_payment` that were placed before `cutoff_ms`,
    /// oldest first.
    fn overdue(
        &self,
        cutoff_ms: u64,
        limit: PageLimit,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;

    /// Every order now in `status` that was placed in `[from_ms, to_ms)`.
    fn placed_between(
        &self,
        status: OrderStatus,
        from_ms: u64,
        to_ms: u64,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;
}

impl OrderReads for DynamoOrders {
    async fn get(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::order::key(id)))
            .consistent_read(true)
            .send()
            .await?;
        out.item.as_ref().map(decode_order).transpose()
    }

    async fn list(
        &self,
        listing: &OrderListing,
        limit: PageLimit,
        after: Option<&OrderPosition>,
    ) -> Result<OrderPage, StoreError> {
        let (index, partition) = match listing {
            OrderListing::OwnedBy(user) => (keys::GSI1, keys::order::owner_partition(user)),
            OrderListing::WithStatus(status) => {
                (keys::GSI2, keys::order::status_partition(*status))
            }
        };
        let start = after.map(|position| {
            keys::order::resume_after(&position.id, position.created_ms, index, partition.clone())
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", index.pk)
            .expression_attribute_values(":pk", partition)
            .scan_index_forward(false)
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit.get()).unwrap_or(i32::MAX))
            .send()
            .await?;
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(decode_order)
            .collect::<Result<Vec<_>, _>>()?;
        let last = out
            .last_evaluated_key
            .and(items.last().map(|order| OrderPosition {
                created_ms: order.created_ms,
                id: order.order_id.clone(),
            }));
        Ok(OrderPage { items, last })
    }

    async fn overdue(&self, cutoff_ms: u64, limit: PageLimit) -> Result<Vec<Order>, StoreError> {
        let index = keys::GSI2;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#pk = :pk AND #sk < :cutoff")
            .expression_attribute_names("#pk", index.pk)
            .expression_attribute_names("#sk", index.sk)
            .expression_attribute_values(
                ":pk",
                keys::order::status_partition(OrderStatus::PendingPayment),
            )
            .expression_attribute_values(":cutoff", keys::order::created_bound(cutoff_ms))
            .limit(i32::try_from(limit.get()).unwrap_or(i32::MAX))
            .send()
            .await?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(decode_order)
            // The index is eventually consistent: it may still list an
            // order that just moved on; the transition's condition decides.
            .filter(|order| {
                order
                    .as_ref()
                    .map_or(true, |o| o.status == OrderStatus::PendingPayment)
            })
            .collect()
    }

    async fn placed_between(
        &self,
        status: OrderStatus,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<Order>, StoreError> {
        let index = keys::GSI2;
        let mut orders = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index.name)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", index.pk)
                .expression_attribute_names("#sk", index.sk)
                .expression_attribute_values(":pk", keys::order::status_partition(status))
                .expression_attribute_values(":from", keys::order::created_bound(from_ms))
                .expression_attribute_values(":to", keys::order::created_bound(to_ms))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in out.items.unwrap_or_default() {
                orders.push(decode_order(&item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(orders);
            }
        }
    }
}
