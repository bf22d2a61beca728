//! Host names: what a sample is filed under.

use std::fmt;

use serde::Serialize;

use super::FleetError;

/// The longest host name (a DNS label's limit; NetBIOS names are shorter still).
pub const MAX_HOST_NAME: usize = 63;

/// A validated host name: 1 to 63 letters, digits, `-`, `_` or `.`, and not `.` or `..`
/// (the name appears in URLs and page titles, so nothing there needs escaping).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct HostName(String);

impl HostName {
    pub fn parse(text: &str) -> Result<Self, FleetError> {
        let bad = |why: &str| {
            FleetError::BadHostName(format!(
                "bad host name {:?}: {why}; use 1 to {MAX_HOST_NAME} letters, digits, '-', '_' or '.'",
                crate::excerpt::bound_message(text)
            ))
        };
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if text.len() > MAX_HOST_NAME {
            return Err(bad(&format!("it has {} characters", text.chars().count())));
        }
        if let Some(c) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(bad(&format!("{c:?} is not allowed")));
        }
        if text == "." || text == ".." {
            return Err(bad("it is a path step"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_checked() {
        for good in [
            "web-01",
            "SQL_02.corp",
            "a",
            &"x".repeat(63),
            "..x",
            "1.2.3",
        ] {
            assert_eq!(HostName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            ".",
            "..",
            &"x".repeat(64),
            "a b",
            "a/b",
            "é",
            "a%2f",
            "a\0",
        ] {
            assert!(HostName::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn a_parsed_name_is_always_safe_in_a_path(text in "\\PC{0,80}") {
            if let Ok(name) = HostName::parse(&text) {
                prop_assert!((1..=MAX_HOST_NAME).contains(&name.as_str().len()));
                prop_assert!(name.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
                prop_assert!(name.as_str() != "." && name.as_str() != "..");
            }
        }
    }
}
