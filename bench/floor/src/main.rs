//! Hello world on `lambda_runtime`, started like the functions (one
//! current-thread runtime): what any Rust Lambda costs before it does work.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn hello(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({"statusCode": 200, "body": "hello"}))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(hello)).await
}
