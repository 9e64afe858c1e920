//! The worker against the real emulator: partial batch failures, poison
//! messages and redelivery.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use notifications_worker::{handle, Deps};
use quiet_core::{
    domain::PageLimit,
    events::{Change, Event, OrderRef, Topic},
    store::{
        DynamoNotifications, DynamoOrders, DynamoOutbox, NotificationStore, Order, OrderReads,
        OutboxStore,
    },
    worker::{process_batch, DeadLetterQueue, DeadLetters, Receipt, WorkerError},
};

fn deps() -> Deps<DynamoOrders, DynamoNotifications, DynamoOutbox> {
    Deps {
        orders: DynamoOrders::new(testkit::dynamodb(), testkit::table()),
        notifications: DynamoNotifications::new(testkit::dynamodb(), testkit::table()),
        outbox: DynamoOutbox::new(testkit::dynamodb(), testkit::table()),
    }
}

fn message(id: &str, body: &str) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_string());
    message.body = Some(body.to_string());
    message
        .attributes
        .insert("ApproximateReceiveCount".into(), "1".into());
    message
}

fn batch(records: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

fn paid(order: &Order) -> Event {
    Event::new(Change::OrderPaid(OrderRef {
        order_id: order.order_id.clone(),
        user_id: order.user_id.clone(),
    }))
}

async fn new_orders(count: usize) -> Vec<Order> {
    let products = testkit::products();
    let (_, skus) = testkit::seed_category(&products, 1).await;
    let mut orders = Vec::new();
    for _ in 0..count {
        orders.push(testkit::place_order(&skus[0], 1, quiet_core::clock::now_ms()).await);
    }
    orders
}

async fn inbox(order: &Order) -> Vec<String> {
    let (items, _) = deps()
        .notifications
        .list(&order.user_id, PageLimit::LARGEST, None)
        .await
        .expect("list");
    items
        .into_iter()
        .map(|n| n.kind.as_str().to_string())
        .collect()
}

/// A message that can never be applied goes to the DLQ on its first
/// delivery (issue 37, defect 11); the rest of its batch is applied, and
/// nothing is reported failed.
#[tokio::test]
async fn a_batch_parks_exactly_its_malformed_messages_at_once() {
    // Given 8 payment events for real orders and 2 messages that are not events.
    let orders = new_orders(5).await;
    let mut records = Vec::new();
    for (i, order) in orders.iter().enumerate() {
        // Each event twice in one batch: the copy must not notify twice.
        let body = paid(order).to_json().expect("json");
        records.push(message(&format!("ok-{i}-a"), &body));
        if i < 3 {
            records.push(message(&format!("ok-{i}-b"), &body));
        }
    }
    let bad_type = r#"{"event_id":"evt_00000000000000000000000000000000","occurred_ms":1,"type":"order.teleported"}"#;
    records.insert(2, message("bad-json", "{not json"));
    records.insert(7, message("bad-type", bad_type));
    assert_eq!(records.len(), 10);

    let (_, dlq) = testkit::queue_with_dlq(1).await;
    let deps = deps();
    let handler = |event, delivery| handle(&deps, event, delivery);
    let response = process_batch(batch(records), &handler, &dead_letters(&dlq))
        .await
        .expect("batch processed");

    assert!(response.batch_item_failures.is_empty(), "nothing to retry");
    let mut parked = bodies(&dlq).await;
    parked.sort();
    assert_eq!(parked, [bad_type, "{not json"]);
    for order in &orders {
        assert_eq!(
            inbox(order).await,
            ["order_confirmation"],
            "{}",
            order.order_id
        );
    }
}

/// Where parking fails, the message is reported failed: SQS keeps it.
#[tokio::test]
async fn a_message_that_cannot_be_parked_is_retried() {
    struct Unreachable;
    impl DeadLetters for Unreachable {
        async fn park(&self, _: &SqsMessage, _: &str) -> Result<(), String> {
            Err("SQS is down".into())
        }
    }
    let deps = deps();
    let handler = |event, delivery| handle(&deps, event, delivery);
    let response = process_batch(
        batch(vec![message("bad-json", "{not json")]),
        &handler,
        &Unreachable,
    )
    .await
    .expect("batch processed");
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["bad-json"]);
}

fn dead_letters(url: &str) -> DeadLetterQueue {
    DeadLetterQueue::new(testkit::sqs(), url)
}

/// A local event source mapping over a real queue: receive up to 10,
/// process, delete what succeeded; failures come back once their
/// visibility timeout passes, until SQS moves them to the DLQ.
async fn drain<H, Fut>(queue: &str, dlq: &str, handler: &H) -> HashMap<String, u32>
where
    H: Fn(Event, Receipt) -> Fut,
    Fut: std::future::Future<Output = Result<(), WorkerError>>,
{
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    let sqs = testkit::sqs();
    let mut receives: HashMap<String, u32> = HashMap::new();
    let mut idle = 0;
    while idle < 20 {
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        let received = out.messages.unwrap_or_default();
        if received.is_empty() {
            idle += 1;
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            continue;
        }
        idle = 0;
        let records = received
            .iter()
            .map(|m| {
                let mut record = message(
                    m.message_id.as_deref().unwrap_or_default(),
                    m.body.as_deref().unwrap_or_default(),
                );
                record.attributes = m
                    .attributes
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.as_str().to_string(), v))
                    .collect();
                *receives
                    .entry(record.body.clone().unwrap_or_default())
                    .or_default() += 1;
                record
            })
            .collect();
        let response = process_batch(batch(records), handler, &dead_letters(dlq))
            .await
            .expect("batch");
        let failed: HashSet<_> = response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect();
        for m in &received {
            if !failed.contains(m.message_id.as_deref().unwrap_or_default()) {
                sqs.delete_message()
                    .queue_url(queue)
                    .receipt_handle(m.receipt_handle.as_deref().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }
    receives
}

async fn bodies(queue: &str) -> Vec<String> {
    let out = testkit::sqs()
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive");
    out.messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect()
}

#[tokio::test]
async fn a_poison_message_reaches_the_dlq_after_five_receives_and_harms_nothing_else() {
    let (queue, dlq) = testkit::queue_with_dlq(1).await;
    let orders = new_orders(4).await;
    // An event whose order does not exist: it fails on every delivery.
    let poison = Event::new(Change::OrderShipped(OrderRef {
        order_id: quiet_core::domain::OrderId::generate(),
        user_id: quiet_core::auth::UserId::generate(),
    }))
    .to_json()
    .expect("json");
    let sqs = testkit::sqs();
    let mut sent = vec![poison.clone()];
    sent.extend(orders.iter().map(|o| paid(o).to_json().expect("json")));
    for body in &sent {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }

    let deps = deps();
    let handler = |event, delivery| handle(&deps, event, delivery);
    let receives = drain(&queue, &dlq, &handler).await;

    assert_eq!(receives.get(&poison), Some(&5), "poison delivered 5 times");
    for body in &sent[1..] {
        assert_eq!(receives.get(body), Some(&1), "good messages delivered once");
    }
    assert_eq!(
        bodies(&dlq).await,
        vec![poison],
        "only the poison is in the DLQ"
    );
    assert!(bodies(&queue).await.is_empty(), "nothing left behind");
    for order in &orders {
        assert_eq!(inbox(order).await, ["order_confirmation"]);
    }
}

#[tokio::test]
async fn applying_an_event_acknowledges_it_in_the_outbox() {
    let orders = new_orders(1).await;
    let order = &orders[0];
    let outbox = DynamoOutbox::new(testkit::dynamodb(), testkit::table());
    let pending = outbox
        .due(quiet_core::clock::now_ms(), 100)
        .await
        .expect("due");
    let placed = pending
        .iter()
        .find(|p| matches!(&p.event.change, Change::OrderPlaced(r) if r.order_id == order.order_id))
        .expect("checkout wrote order.placed to the outbox")
        .event
        .clone();
    let deps = deps();
    handle(
        &deps,
        placed.clone(),
        Receipt {
            receive_count: 1,
            receipt_handle: String::new(),
        },
    )
    .await
    .expect("applied");
    let after = outbox
        .due(quiet_core::clock::now_ms(), 100)
        .await
        .expect("due");
    // Only this consumer's copy is acknowledged; the webhooks copy stays.
    assert!(after
        .iter()
        .all(|p| p.event.event_id != placed.event_id || p.topic != Topic::Orders));
    assert!(after
        .iter()
        .any(|p| p.event.event_id == placed.event_id && p.topic == Topic::Webhooks));
    // order.placed sends nothing; the confirmation waits for payment.
    assert!(inbox(order).await.is_empty());
    // Applying it again (a late duplicate) is harmless.
    handle(
        &deps,
        placed,
        Receipt {
            receive_count: 2,
            receipt_handle: String::new(),
        },
    )
    .await
    .expect("applied again");
    let _ = deps.orders.get(&order.order_id).await.expect("order");
}
