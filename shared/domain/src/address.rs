//! Where an order goes: the shipping address, its country and region.

use serde::{Deserialize, Serialize};

use super::text::Text;

/// The longest address field, in characters, before or after trimming.
pub const ADDRESS_FIELD_MAX: usize = 100;
pub type AddressField = Text<1, ADDRESS_FIELD_MAX>;

/// A shipping address. Every field is trimmed and must then be 1 to 100
/// characters with no control characters; the untrimmed value may not be
/// longer than 100 either, so the documented `maxLength` holds as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddress {
    #[serde(deserialize_with = "trimmed")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub name: AddressField,
    #[serde(deserialize_with = "trimmed")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub line1: AddressField,
    #[serde(
        default,
        deserialize_with = "trimmed_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub line2: Option<AddressField>,
    #[serde(deserialize_with = "trimmed")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub city: AddressField,
    #[serde(deserialize_with = "trimmed")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub postal_code: AddressField,
    pub country: Country,
    /// The state or province (the ISO 3166-2 code after the dash, like
    /// `CA` for US-CA) where the shop taxes by region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, pattern = r"^\s*[A-Z0-9]{1,3}\s*$")]
    pub region: Option<Region>,
}

fn address_field(raw: &str) -> Result<AddressField, String> {
    if raw.chars().count() > ADDRESS_FIELD_MAX {
        return Err(format!("must be 1 to {ADDRESS_FIELD_MAX} characters long"));
    }
    AddressField::try_from(raw.trim().to_string())
}

fn trimmed<'de, D: serde::Deserializer<'de>>(de: D) -> Result<AddressField, D::Error> {
    address_field(&String::deserialize(de)?).map_err(serde::de::Error::custom)
}

fn trimmed_opt<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<AddressField>, D::Error> {
    Option::<String>::deserialize(de)?
        .map(|raw| address_field(&raw).map_err(serde::de::Error::custom))
        .transpose()
}

/// ISO 3166-1 alpha-2 country code (two capital letters; the format, not
/// the registry, so a newly assigned code needs no release).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country(String);

impl TryFrom<String> for Country {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let code = value.trim();
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code.to_string()))
        } else {
            Err("must be an ISO 3166-1 alpha-2 code, like US or DE".into())
        }
    }
}

impl Country {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Country> for String {
    fn from(value: Country) -> Self {
        value.0
    }
}

/// A region of a country (the part of an ISO 3166-2 code after the dash):
/// 1 to 3 capital letters or digits, like `CA` or `BY`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(String);

impl Region {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Region {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let code = value.trim();
        if (1..=3).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            Ok(Self(code.to_string()))
        } else {
            Err("must be a region code of 1 to 3 capital letters or digits, like CA".into())
        }
    }
}

impl From<Region> for String {
    fn from(value: Region) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_are_trimmed_and_bounded() {
        let address: ShippingAddress = serde_json::from_value(json!({
            "name": "  Ada Lovelace ", "line1": "12 St James's Sq", "city": "London",
            "postal_code": " SW1Y 4JH", "country": "GB"
        }))
        .expect("valid");
        assert_eq!(address.name.as_str(), "Ada Lovelace");
        assert_eq!(address.postal_code.as_str(), "SW1Y 4JH");
        for bad in [
            json!({"name": "   ", "line1": "x", "city": "x", "postal_code": "x", "country": "GB"}),
            json!({"name": "x", "line1": "x", "city": "x", "postal_code": "x", "country": "gb"}),
            json!({"name": "x", "line1": "x", "city": "x", "postal_code": "x", "country": "GBR"}),
            json!({"name": "x", "line1": "x", "city": "x", "postal_code": "x", "country": "GB", "phone": "1"}),
            json!({"name": "x".repeat(101), "line1": "x", "city": "x", "postal_code": "x", "country": "GB"}),
            // Over the documented maxLength before trimming, even if not after.
            json!({"name": format!(" {}", "x".repeat(100)), "line1": "x", "city": "x", "postal_code": "x", "country": "GB"}),
        ] {
            assert!(
                serde_json::from_value::<ShippingAddress>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
