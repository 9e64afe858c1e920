//! Who a customer or a member of staff is: their id, role, email and
//! password as the client sent it.

use serde::{Deserialize, Serialize};

use crate::text::Text;

/// Access tokens live 15 minutes.
pub const ACCESS_TTL_SECS: u64 = 15 * 60;

/// How long an erased account's revocation marker is kept: every access
/// token issued before it has expired by then (with a minute for clock skew).
pub const REVOCATION_KEEP_SECS: u64 = ACCESS_TTL_SECS + 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
        }
    }
}

impl TryFrom<String> for Role {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "customer" => Ok(Self::Customer),
            "admin" => Ok(Self::Admin),
            _ => Err("unknown role".into()),
        }
    }
}

quiet_support::id_type!(
    /// A user id: `usr_` and 32 lowercase hex digits (128 random bits).
    UserId,
    "usr_",
    random_id,
    "not a user id"
);

/// An email address, normalised (trimmed, lower-cased) so that one mailbox
/// is one account whatever the client typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let email = value.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && match email.split_once('@') {
                Some((local, domain)) => {
                    (1..=64).contains(&local.len())
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Self(email))
        } else {
            Err("must be an email address".into())
        }
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// A password as the client sent it: 12..=128 characters. Its `Debug`
/// output is redacted, so it cannot reach a log line by accident.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Password(String);

impl Password {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl TryFrom<String> for Password {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        if (12..=128).contains(&value.chars().count()) {
            Ok(Self(value))
        } else {
            Err("must be 12 to 128 characters long".into())
        }
    }
}

/// A name as the customer gave it.
pub type UserName = Text<1, 100>;

/// A user as `GET /v1/me` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    #[schema(inline)]
    pub name: UserName,
    pub role: Role,
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        let email = Email::try_from("  Ada.Lovelace@Example.COM ".to_string()).expect("valid");
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@example.com",
            "ada@.com",
        ] {
            assert!(Email::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_bounded_and_never_debug_printed() {
        assert!(Password::try_from("short".to_string()).is_err());
        assert!(Password::try_from("x".repeat(129)).is_err());
        let password = Password::try_from("correct horse battery".to_string()).expect("valid");
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn user_ids_round_trip_and_reject_lookalikes() {
        let id = UserId::generate();
        assert_eq!(UserId::try_from(id.as_str().to_string()), Ok(id));
        for bad in [
            "usr_",
            "usr_XYZ",
            "user_0123456789abcdef0123456789abcdef",
            "usr_0123456789ABCDEF0123456789abcdef",
        ] {
            assert!(UserId::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }
}
