//! Bounded, printable text. Lengths count Unicode scalar values, so an emoji
//! is one character and any valid Unicode is stored and returned exactly.

use serde::{Deserialize, Serialize};

/// Text of `MIN..=MAX` characters with no control characters. When
/// `MULTILINE` is set, line breaks and tabs are allowed (descriptions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text<const MIN: usize, const MAX: usize, const MULTILINE: bool = false>(String);

impl<const MIN: usize, const MAX: usize, const MULTILINE: bool> Text<MIN, MAX, MULTILINE> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MIN: usize, const MAX: usize, const MULTILINE: bool> TryFrom<String>
    for Text<MIN, MAX, MULTILINE>
{
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let allowed = |c: char| !c.is_control() || (MULTILINE && matches!(c, '\n' | '\r' | '\t'));
        if let Some(bad) = value.chars().find(|&c| !allowed(c)) {
            return Err(format!(
                "must not contain control characters (found U+{:04X})",
                bad as u32
            ));
        }
        let len = value.chars().count();
        if !(MIN..=MAX).contains(&len) {
            return Err(format!("must be {MIN} to {MAX} characters long"));
        }
        Ok(Self(value))
    }
}

impl<const MIN: usize, const MAX: usize, const MULTILINE: bool> From<Text<MIN, MAX, MULTILINE>>
    for String
{
    fn from(value: Text<MIN, MAX, MULTILINE>) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Name = Text<1, 5>;
    type Body = Text<0, 5, true>;

    #[test]
    fn counts_characters_not_bytes() {
        assert!(Name::try_from("🦀🦀🦀🦀🦀".to_string()).is_ok());
        assert!(Name::try_from("🦀🦀🦀🦀🦀🦀".to_string()).is_err());
    }

    #[test]
    fn rejects_empty_and_control_characters() {
        assert!(Name::try_from(String::new()).is_err());
        assert!(Name::try_from("a\u{0}b".to_string()).is_err());
        assert!(Name::try_from("a\nb".to_string()).is_err());
        assert!(Body::try_from("a\nb".to_string()).is_ok());
        assert!(Body::try_from("a\u{7}b".to_string()).is_err());
    }
}
