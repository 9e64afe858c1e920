//! A shop whose prices include tax (`PRICES_INCLUDE_TAX=true`): the
//! customer pays the price, and the order says how much of it was tax.

use checkout::Deps;
use quiet_core::{
    auth::{Role, UserId},
    clock,
    domain::Quantity,
    store::{Cart, CartLine, CartStore, DynamoCarts, DynamoCheckout, DynamoPricing, ProductStore},
};

#[tokio::test]
async fn with_tax_included_the_total_is_the_price_and_the_tax_is_inside_it() {
    let (signer, verifier) = testkit::token_keys();
    let user = UserId::generate();
    let token = signer.sign(&user, Role::Customer, clock::now());
    testkit::ships_to("GB", 2000).await;
    let products = testkit::products();
    let sku = testkit::unique("TAXINC");
    products
        .create(
            &testkit::new_product(&sku, "tax", 10),
            &clock::now_rfc3339(),
        )
        .await
        .expect("product");
    let product = products
        .get(&sku.clone().try_into().expect("sku"))
        .await
        .expect("read")
        .expect("live");
    let carts = DynamoCarts::new(testkit::dynamodb(), testkit::table());
    let mut cart = Cart::default();
    cart.set(CartLine {
        sku: product.sku.clone(),
        quantity: Quantity::try_from(3).expect("quantity"),
        name: product.name.as_str().to_string(),
        unit_price: product.price,
        category: Some(product.category.clone()),
    })
    .expect("room");
    carts.save(&user, &cart).await.expect("cart saved");
    let deps = Deps {
        checkout: DynamoCheckout::new(testkit::dynamodb(), testkit::table()),
        carts,
        pricing: DynamoPricing::new(testkit::dynamodb(), testkit::table()),
        verifier,
        prices_include_tax: true,
    };

    let response = checkout::handler(&deps, testkit::checkout_request(&token, "incl"))
        .await
        .expect("answers");

    assert_eq!(response.status(), 201);
    let order: serde_json::Value =
        serde_json::from_slice(response.body().as_ref()).expect("order JSON");
    // 3 x 12.34 = 37.02 including 20%: 37.02 / 1.2 = 30.85, so 6.17 is tax.
    assert_eq!(order["subtotal"]["amount"], 3702);
    assert_eq!(order["total"]["amount"], 3702);
    assert_eq!(order["tax"]["amount"], 617);
    assert_eq!(order["items"][0]["tax"]["amount"], 617);
    assert_eq!(order["tax_rate"]["prices_include_tax"], true);
    assert_eq!(order["tax_rate"]["rate_bps"], 2000);
}
