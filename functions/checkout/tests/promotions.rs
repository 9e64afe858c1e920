//! The redemption conditions inside checkout's transaction, where no HTTP
//! race can reach them reliably: a customer who already holds a
//! once-per-customer redemption is refused by the transaction itself, even
//! when the cart's code got past the advisory check.

use checkout::Deps;
use quiet_core::{
    auth::{Role, UserId},
    clock,
    domain::{promotion::Rules, Quantity},
    store::{
        Cart, CartLine, CartStore, DynamoCarts, DynamoCheckout, DynamoPricing, DynamoPromotions,
        ProductStore, PromotionStore,
    },
};

#[tokio::test]
async fn a_second_redemption_by_one_customer_is_refused_by_the_transaction() {
    let (signer, verifier) = testkit::token_keys();
    let user = UserId::generate();
    let token = signer.sign(&user, Role::Customer, clock::now());
    testkit::ships_to("GB", 0).await;
    let products = testkit::products();
    let (_, skus) = testkit::seed_category(&products, 1).await;
    let sku = skus[0].clone().try_into().expect("sku");
    let product = products.get(&sku).await.expect("read").expect("live");
    let promotions = DynamoPromotions::new(testkit::dynamodb(), testkit::table());
    let code = testkit::unique("PROMO");
    let rules: Rules = serde_json::from_value(serde_json::json!({
        "code": code, "discount": {"kind": "percent", "percent": 50}, "once_per_customer": true
    }))
    .expect("rules");
    promotions
        .create(&rules, &clock::now_rfc3339())
        .await
        .expect("created");
    let carts = DynamoCarts::new(testkit::dynamodb(), testkit::table());
    // The cart as put-cart-promotion leaves it; written directly so the
    // second one skips that advisory check.
    let fill = || async {
        let mut cart = carts.get(&user).await.expect("cart");
        cart.set(CartLine {
            sku: sku.clone(),
            quantity: Quantity::try_from(1).expect("quantity"),
            name: product.name.as_str().to_string(),
            unit_price: product.price,
            category: Some(product.category.clone()),
        })
        .expect("room");
        cart.promotion = Some(rules.clone());
        carts.save(&user, &cart).await.expect("cart saved");
    };
    let deps = Deps {
        checkout: DynamoCheckout::new(testkit::dynamodb(), testkit::table()),
        carts: DynamoCarts::new(testkit::dynamodb(), testkit::table()),
        pricing: DynamoPricing::new(testkit::dynamodb(), testkit::table()),
        verifier,
        prices_include_tax: false,
    };

    fill().await;
    let first = checkout::handler(&deps, testkit::checkout_request(&token, "first"))
        .await
        .expect("answers");
    assert_eq!(first.status(), 201);
    let stock_after_first = products.get(&sku).await.expect("read").expect("live").stock;

    fill().await;
    let second = checkout::handler(&deps, testkit::checkout_request(&token, "second"))
        .await
        .unwrap_or_else(quiet_core::ApiError::into_response);
    assert_eq!(second.status(), 409);
    let problem: serde_json::Value =
        serde_json::from_slice(second.body().as_ref()).expect("problem JSON");
    assert_eq!(problem["promotion_code"], code.as_str());
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("already used")),
        "{problem}"
    );
    // Nothing was written: one redemption, the stock as it was, the cart
    // still there with its code, and the key given back.
    let promotion = promotions
        .get(&rules.code)
        .await
        .expect("read")
        .expect("live");
    assert_eq!(promotion.redemptions, 1);
    assert_eq!(
        products.get(&sku).await.expect("read").expect("live").stock,
        stock_after_first
    );
    let cart: Cart = carts.get(&user).await.expect("cart");
    assert_eq!(cart.lines.len(), 1);
    assert!(cart.promotion.is_some());
    let mut cart = cart;
    cart.promotion = None;
    carts.save(&user, &cart).await.expect("code removed");
    let retried = checkout::handler(&deps, testkit::checkout_request(&token, "second"))
        .await
        .expect("answers");
    assert_eq!(retried.status(), 201, "the key was given back");
}
