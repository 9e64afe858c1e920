//! Moving an order along: cancel, ship, expire (stock goes back with a cancel or an expiry).

use std::future::Future;

use super::DynamoOrders;
use super::OrderReads;

use crate::domain::order::Order;
use crate::domain::UserId;
use crate::domain::{OrderId, OrderStatus};
use crate::store::StoreError;

/// Moving an order along: cancel, ship, expire (stock goes back with a cancel or an expiry).
pub trait OrderLifecycle: Send + Sync {
    /// `pending_payment → cancelled` for its owner, returning the stock in
    /// the same transaction; the status condition makes the return happen
    /// exactly once. `NotFound` for a missing or foreign order,
    /// `ConditionFailed` for any other status.
    fn cancel(
        &self,
        id: &OrderId,
        owner: &UserId,
        now: &str,
    ) -> impl Future<Output = Result<Order, StoreError>> + Send;

    /// `paid → shipped`. `NotFound` / `ConditionFailed` otherwise.
    fn ship(
        &self,
        id: &OrderId,
        now: &str,
    ) -> impl Future<Output = Result<Order, StoreError>> + Send;

    /// `pending_payment → expired`, returning the stock in the same
    /// transaction; `ConditionFailed` when the order moved on (paid,
    /// cancelled, or expired by an overlapping run), which changes nothing.
    fn expire(
        &self,
        order: &Order,
        now: &str,
    ) -> impl Future<Output = Result<Order, StoreError>> + Send;
}

impl OrderLifecycle for DynamoOrders {
    async fn cancel(&self, id: &OrderId, owner: &UserId, now: &str) -> Result<Order, StoreError> {
        let order = self
            .get(id)
            .await?
            .filter(|order| &order.user_id == owner)
            .ok_or(StoreError::NotFound)?;
        if order.status != OrderStatus::PendingPayment {
            return Err(StoreError::ConditionFailed);
        }
        let returns = self.stock_returns(&order)?;
        self.transition(&order, OrderStatus::Cancelled, now, returns, None)
            .await
    }

    async fn ship(&self, id: &OrderId, now: &str) -> Result<Order, StoreError> {
        let order = self.get(id).await?.ok_or(StoreError::NotFound)?;
        if order.status != OrderStatus::Paid {
            return Err(StoreError::ConditionFailed);
        }
        self.transition(&order, OrderStatus::Shipped, now, Vec::new(), None)
            .await
    }

    async fn expire(&self, order: &Order, now: &str) -> Result<Order, StoreError> {
        if order.status != OrderStatus::PendingPayment {
            return Err(StoreError::ConditionFailed);
        }
        let returns = self.stock_returns(order)?;
        self.transition(order, OrderStatus::Expired, now, returns, None)
            .await
    }
}
