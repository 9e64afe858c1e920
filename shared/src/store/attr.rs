//! Reading typed attributes out of an item, with errors that name the field.

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;
use crate::keys::Item;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError::Corrupt(format!("missing string attribute {name}")))
}

pub fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("missing or bad number attribute {name}")))
}

/// Parses a string attribute through a domain type's constructor.
pub fn get_parsed<T: TryFrom<String>>(item: &Item, name: &str) -> Result<T, StoreError> {
    T::try_from(get_s(item, name)?.to_string())
        .map_err(|_| StoreError::Corrupt(format!("attribute {name} does not parse")))
}

/// An optional number attribute; absent means 0.
pub fn counter<T: std::str::FromStr + Default>(item: &Item, name: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    match item.get(name) {
        Some(_) => get_n(item, name),
        None => Ok(T::default()),
    }
}
