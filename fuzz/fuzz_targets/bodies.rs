//! Every JSON request body the API accepts, parsed exactly as the handlers
//! parse it (`quiet_core::http::json_body`): any bytes give a value or a
//! 400/422, never a panic, and the edge's depth limit holds.
#![no_main]

use lambda_http::{Body, Request};
use libfuzzer_sys::fuzz_target;
use quiet_core::{
    http::json_body,
    payments::PaymentEvent,
    store::{NewProduct, ProductPatch},
};
use serde::de::DeserializeOwned;

fn parse<T: DeserializeOwned>(request: &Request) {
    if let Err(err) = json_body::<T>(request) {
        let status = err.status().as_u16();
        assert!(status == 400 || status == 422, "{status}: {err:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .header("content-type", "application/json")
        .body(Body::Binary(data.to_vec()))
        .expect("request");
    parse::<adjust_stock::Adjustment>(&request);
    parse::<checkout::CheckoutRequest>(&request);
    parse::<create_report::ReportRequest>(&request);
    parse::<login::Login>(&request);
    parse::<logout::Logout>(&request);
    parse::<put_cart_item::SetQuantity>(&request);
    parse::<refresh::Refresh>(&request);
    parse::<register::Registration>(&request);
    parse::<NewProduct>(&request);
    parse::<ProductPatch>(&request);
    parse::<PaymentEvent>(&request);
});
