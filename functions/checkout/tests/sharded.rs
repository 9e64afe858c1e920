//! Checkout of a sharded SKU, counted on the wire against the emulator:
//! the fast path is the usual 4 calls; a line no single shard can cover
//! reads every bin and spans them (2 more calls), and never oversells.

// Helpers outside #[test] functions may panic too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use checkout::Deps;
use quiet_core::{
    auth::{Role, UserId},
    clock,
    domain::{Quantity, Sku},
    store::{
        Cart, CartLine, CartStore, CheckoutStore, DynamoCarts, DynamoCheckout, DynamoPricing,
        ProductPatch, ProductStore,
    },
};

async fn cart_of(user: &UserId, sku: &Sku, quantity: u32) {
    let product = testkit::products()
        .get(sku)
        .await
        .expect("read")
        .expect("live");
    let mut cart = Cart::default();
    cart.set(CartLine {
        sku: sku.clone(),
        quantity: Quantity::try_from(u64::from(quantity)).expect("quantity"),
        name: product.name.as_str().to_string(),
        unit_price: product.price,
        category: Some(product.category.clone()),
    })
    .expect("room");
    DynamoCarts::new(testkit::dynamodb(), testkit::table())
        .save(user, &cart)
        .await
        .expect("cart saved");
}

#[tokio::test]
async fn a_sharded_checkout_takes_four_calls_and_six_when_it_must_span_shards() {
    let (signer, verifier) = testkit::token_keys();
    testkit::ships_to("GB", 2000).await;
    let products = testkit::products();
    let (_, skus) = testkit::seed_category(&products, 1).await;
    let sku: Sku = skus[0].clone().try_into().expect("sku");
    // 5 seeded + 3 = 8 units over 4 shards: 2 each.
    products
        .adjust_stock(&sku, 3.try_into().expect("delta"))
        .await
        .expect("stocked");
    let patch: ProductPatch =
        serde_json::from_value(serde_json::json!({"stock_shards": 4})).expect("patch");
    products
        .update(&sku, None, &patch, &clock::now_rfc3339())
        .await
        .expect("sharded");

    let (client, calls) = testkit::counting_dynamodb();
    let deps = Deps {
        checkout: DynamoCheckout::new(client.clone(), testkit::table()),
        carts: DynamoCarts::new(client.clone(), testkit::table()),
        pricing: DynamoPricing::new(client, testkit::table()),
        verifier,
        prices_include_tax: false,
    };
    let buy = |quantity: u32, key: &'static str| {
        let deps = &deps;
        let signer = &signer;
        let calls = &calls;
        let sku = &sku;
        async move {
            let user = UserId::generate();
            cart_of(&user, sku, quantity).await;
            let token = signer.sign(&user, Role::Customer, clock::now());
            calls.reset();
            let response =
                match checkout::handler(deps, testkit::checkout_request(&token, key)).await {
                    Ok(response) => response,
                    Err(err) => err.into_response(),
                };
            (response.status().as_u16(), calls.get())
        }
    };

    // Two units: any shard holds them.
    assert_eq!(buy(2, "sharded-fast").await, (201, 4));
    // Five: no shard does, so the bins are read and three of them taken.
    assert_eq!(buy(5, "sharded-span").await, (201, 6));
    let left = products.get(&sku).await.expect("read").expect("live");
    assert_eq!(left.stock, 1);
    // Two more than there are: refused after the read shows it.
    let (status, _) = buy(2, "sharded-short").await;
    assert_eq!(status, 409);
    assert_eq!(
        products.get(&sku).await.expect("read").expect("live").stock,
        1
    );
}

#[tokio::test]
async fn a_retry_sees_the_shards_added_since_its_first_read() {
    let products = testkit::products();
    let (_, skus) = testkit::seed_category(&products, 1).await;
    let sku: Sku = skus[0].clone().try_into().expect("sku");
    let patch: ProductPatch =
        serde_json::from_value(serde_json::json!({"stock_shards": 4})).expect("patch");
    products
        .update(&sku, None, &patch, &clock::now_rfc3339())
        .await
        .expect("sharded");

    // Asked as if the product were still unsharded (its first read):
    // the product item's layout leads to all four shards.
    let bins = DynamoCheckout::new(testkit::dynamodb(), testkit::table())
        .bins(&[(sku.clone(), 0)])
        .await
        .expect("read");
    let bins = &bins[&sku];
    assert_eq!(bins.total(), 5, "{bins:?}");
    assert_eq!(bins.shards.len(), 4, "{bins:?}");
    assert_eq!(bins.product, 0);
}
