//! The signing key is fetched from init on, not awaited there. A login
//! while it cannot be read is 503 and leaves no session behind; the next
//! login fetches it again and gets tokens that verify.

use std::collections::HashMap;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use ed25519_dalek::SigningKey;
use lambda_http::{Body, Request};
use login::{handler, Deps};
use quiet_core::{
    auth::{
        keys::PendingSigner, password, Email, Password, Role, TokenScope, TokenVerifier, UserId,
    },
    clock,
    keys::{session, GSI1},
    store::{DynamoSessions, DynamoUsers, User, UserStore},
};

fn login_request(email: &str, password: &str) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/v1/auth/login")
        .header("content-type", "application/json")
        .body(Body::Text(
            serde_json::json!({ "email": email, "password": password }).to_string(),
        ))
        .unwrap_or_else(|err| panic!("a valid request: {err}"))
}

fn body(response: &lambda_http::Response<Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).unwrap_or_else(|err| panic!("json: {err}"))
}

async fn families_of(user: &UserId) -> usize {
    let out = testkit::dynamodb()
        .query()
        .table_name(testkit::table())
        .index_name(GSI1.name)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", GSI1.pk)
        .expression_attribute_values(":pk", session::owner_partition(user))
        .send()
        .await
        .unwrap_or_else(|err| panic!("query: {err:?}"));
    out.items().len()
}

#[tokio::test]
async fn a_login_while_the_key_is_unreadable_is_503_and_the_next_one_fetches_it() {
    let sdk = testkit::config().sdk().clone();
    let scope = TokenScope {
        issuer: "signing-key-test".into(),
        audience: "signing-key-test-api".into(),
    };
    let email = format!("{}@example.com", testkit::unique("signing-key"));
    let secret = "correct horse battery staple";
    let users = DynamoUsers::new(testkit::dynamodb(), testkit::table());
    let user = User {
        id: UserId::generate(),
        email: Email::try_from(email.clone()).unwrap_or_else(|err| panic!("{err}")),
        name: "Ada"
            .to_string()
            .try_into()
            .unwrap_or_else(|err| panic!("{err:?}")),
        role: Role::Customer,
        created_at: clock::now_rfc3339(),
    };
    let hash = password::hash(
        &Password::try_from(secret.to_string()).unwrap_or_else(|err| panic!("{err}")),
    )
    .unwrap_or_else(|err| panic!("{err}"));
    users
        .create(&user, &hash)
        .await
        .unwrap_or_else(|err| panic!("{err}"));

    // Not in SSM yet: the fetch started here fails.
    let parameter = format!("/quiet/test/{}", testkit::unique("signing-key"));
    let deps = Deps {
        users,
        sessions: DynamoSessions::new(testkit::dynamodb(), testkit::table()),
        signer: PendingSigner::prefetch(&sdk, parameter.clone(), scope.clone()),
    };

    let refused = handler(&deps, login_request(&email, secret))
        .await
        .unwrap_or_else(|err| err.into_response());
    assert_eq!(refused.status(), 503);
    assert_eq!(body(&refused)["type"], "/problems/unavailable");
    assert_eq!(
        families_of(&user.id).await,
        0,
        "a refused login started a session"
    );

    let key = SigningKey::from_bytes(&[42; 32]);
    let jwk = serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "kid": "signing-key-test",
        "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
        "d": URL_SAFE_NO_PAD.encode(key.to_bytes()),
    });
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(&parameter)
        .value(jwk.to_string())
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap_or_else(|err| panic!("put parameter: {err:?}"));

    let signed_in = handler(&deps, login_request(&email, secret))
        .await
        .unwrap_or_else(|err| err.into_response());
    assert_eq!(signed_in.status(), 200);
    let access = body(&signed_in)["access_token"].as_str().map(str::to_owned);
    let access = access.unwrap_or_else(|| panic!("no access token"));
    let verifier = TokenVerifier::new(
        HashMap::from([("signing-key-test".to_string(), key.verifying_key())]),
        scope,
    );
    let claims = verifier
        .verify(&access, clock::now())
        .unwrap_or_else(|err| panic!("the token does not verify: {err:?}"));
    assert_eq!(claims.sub.as_str(), user.id.as_str());
    assert_eq!(families_of(&user.id).await, 1);
}
