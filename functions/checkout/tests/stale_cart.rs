//! A checkout that read the cart before another checkout emptied it, and
//! commits after the shopper filled it again (issue 37, defect 6).

use checkout::Deps;
use quiet_core::{
    auth::{Role, TokenVerifier, UserId},
    clock,
    domain::{Product, Quantity, Sku},
    store::{
        Cart, CartLine, CartStore, DynamoCarts, DynamoCheckout, DynamoPricing, ProductStore,
        StoreError,
    },
};

/// The cart as a slow checkout read it, earlier: every other call is the
/// real store.
struct StaleRead {
    carts: DynamoCarts,
    seen: Cart,
}

impl CartStore for StaleRead {
    async fn get(&self, _user: &UserId) -> Result<Cart, StoreError> {
        Ok(self.seen.clone())
    }

    async fn get_with_product(
        &self,
        user: &UserId,
        sku: &Sku,
    ) -> Result<(Cart, Option<Product>), StoreError> {
        self.carts.get_with_product(user, sku).await
    }

    async fn save(&self, user: &UserId, cart: &Cart) -> Result<(), StoreError> {
        self.carts.save(user, cart).await
    }
}

#[tokio::test]
async fn a_stale_checkout_never_matches_a_cart_filled_again() {
    let (signer, verifier) = testkit::token_keys();
    let user = UserId::generate();
    let token = signer.sign(&user, Role::Customer, clock::now());
    testkit::ships_to("GB", 0).await;
    let products = testkit::products();
    let (_, skus) = testkit::seed_category(&products, 2).await;
    let carts = DynamoCarts::new(testkit::dynamodb(), testkit::table());
    let add = |sku: String| {
        let carts = &carts;
        let products = &products;
        let user = &user;
        async move {
            let sku: Sku = sku.try_into().expect("sku");
            let product = products.get(&sku).await.expect("read").expect("live");
            let mut cart = carts.get(user).await.expect("cart");
            cart.set(CartLine {
                sku: sku.clone(),
                quantity: Quantity::try_from(1).expect("quantity"),
                name: product.name.as_str().to_string(),
                unit_price: product.price,
                category: Some(product.category.clone()),
            })
            .expect("room");
            carts.save(user, &cart).await.expect("cart saved");
        }
    };
    fn deps<C: CartStore>(
        carts: C,
        verifier: &TokenVerifier,
    ) -> Deps<DynamoCheckout, C, DynamoPricing> {
        Deps {
            checkout: DynamoCheckout::new(testkit::dynamodb(), testkit::table()),
            carts,
            pricing: DynamoPricing::new(testkit::dynamodb(), testkit::table()),
            verifier: verifier.clone(),
            prices_include_tax: false,
        }
    }

    add(skus[0].clone()).await;
    let read_by_the_slow_one = carts.get(&user).await.expect("cart");
    let first = checkout::handler(
        &deps(
            DynamoCarts::new(testkit::dynamodb(), testkit::table()),
            &verifier,
        ),
        testkit::checkout_request(&token, "first"),
    )
    .await
    .expect("answers");
    assert_eq!(first.status(), 201);

    // The shopper starts a new cart; then the slow checkout commits.
    add(skus[1].clone()).await;
    let slow = deps(
        StaleRead {
            carts: DynamoCarts::new(testkit::dynamodb(), testkit::table()),
            seen: read_by_the_slow_one,
        },
        &verifier,
    );
    let second = checkout::handler(&slow, testkit::checkout_request(&token, "second"))
        .await
        .unwrap_or_else(quiet_core::ApiError::into_response);
    assert_eq!(
        second.status(),
        409,
        "no second order from a cart already bought"
    );

    let cart = carts.get(&user).await.expect("cart");
    assert_eq!(
        cart.lines
            .iter()
            .map(|l| l.sku.as_str())
            .collect::<Vec<_>>(),
        [skus[1].as_str()],
        "the new cart is untouched"
    );
}
