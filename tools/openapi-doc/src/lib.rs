//! The OpenAPI 3.1 document of the whole API, generated from the code:
//! each function describes its route next to its handler
//! (`#[utoipa::path]`), the domain types describe themselves, and
//! [`quiet_core::openapi::Edge`] adds what the shared HTTP edge answers on
//! every route.
//!
//! This is a tool crate, not a function: it depends on every function crate
//! to gather their routes, which no function may do. Its test keeps
//! `docs/openapi.json` equal to what it generates (`UPDATE_OPENAPI=1 cargo
//! test -p openapi-doc` rewrites it); the `openapi` function serves that
//! committed copy, compiled in.

use quiet_core::openapi::Edge;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Quiet Engine",
        description = "A serverless commerce API: catalog, accounts, cart, discount codes, \
                       checkout, orders, payments webhook, notifications and reports. Money is an integer \
                       count of minor units; errors are RFC 9457 problem+json.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        health::handler,
        docs::handler,
        list_products::handler,
        search_products::handler,
        get_product::handler,
        create_product::handler,
        update_product::handler,
        delete_product::handler,
        adjust_stock::handler,
        register::handler,
        login::handler,
        refresh::handler,
        logout::handler,
        me::handler,
        export_account::handler,
        erase_account::handler,
        get_erasure::handler,
        jwks::handler,
        get_cart::handler,
        put_cart_item::handler,
        delete_cart_item::handler,
        put_cart_promotion::handler,
        delete_cart_promotion::handler,
        checkout::handler,
        list_orders::handler,
        get_order::handler,
        cancel_order::handler,
        admin_list_orders::handler,
        ship_order::handler,
        create_refund::handler,
        create_promotion::handler,
        list_promotions::handler,
        get_promotion::handler,
        update_promotion::handler,
        delete_promotion::handler,
        create_webhook_endpoint::handler,
        list_webhook_endpoints::handler,
        delete_webhook_endpoint::handler,
        list_webhook_deliveries::handler,
        replay_webhook_delivery::handler,
        put_tax_rate::handler,
        payment_webhook::handler,
        list_notifications::handler,
        create_report::handler,
        get_report::handler,
        openapi::handler,
    ),
    // Parameter schemas are not collected from the paths.
    components(schemas(
        quiet_core::domain::PageLimit,
        quiet_core::domain::Sku,
        quiet_core::domain::OrderId,
        quiet_core::domain::OrderStatus,
        quiet_core::events::JobId
    )),
    modifiers(&Edge),
    tags(
        (name = "catalog", description = "Products anyone can browse"),
        (name = "auth", description = "Accounts and tokens"),
        (name = "cart", description = "The signed-in customer's cart"),
        (name = "orders", description = "Checkout and the customer's own orders"),
        (name = "payments", description = "The payment provider's signed webhook"),
        (name = "notifications", description = "Messages the system sent the customer"),
        (name = "admin", description = "Shop staff: catalog edits, promotions, tax rates, shipping, refunds, reports, webhook endpoints"),
        (name = "ops", description = "Health and this document"),
    )
)]
struct ApiDoc;

/// The document the code describes: pretty JSON.
pub fn document() -> String {
    let mut json = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|err| panic!("the OpenAPI document does not serialise: {err}"));
    json.push('\n');
    json
}
