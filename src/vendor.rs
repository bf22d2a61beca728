//! The vendor directory: canonical vendor names, the aliases under which they appear in driver
//! metadata (CompanyName, signer CN), and where their support pages are.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The directory compiled into the binary (`data/vendors.toml`).
const EMBEDDED_VENDORS: &str = include_str!("../data/vendors.toml");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vendor {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub support_url: Option<String>,
    pub notes: Option<String>,
}

#[derive(Debug, Deserialize)]
struct VendorFile {
    vendor: Vec<Vendor>,
}

#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    #[error("the vendor directory is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("the vendor directory names {0:?} twice (as a name or alias of two vendors)")]
    Ambiguous(String),
}

#[derive(Debug, Clone, Default)]
pub struct VendorDirectory {
    vendors: Vec<Vendor>,
    by_key: HashMap<String, usize>,
}

impl VendorDirectory {
    /// The embedded directory. It is checked by tests, so a failure here is a build defect.
    pub fn embedded() -> Self {
        Self::parse(EMBEDDED_VENDORS).expect("data/vendors.toml is valid (checked by tests)")
    }

    pub fn parse(text: &str) -> Result<Self, VendorError> {
        let file: VendorFile = toml::from_str(text)?;
        let mut by_key = HashMap::new();
        for (position, vendor) in file.vendor.iter().enumerate() {
            for name in std::iter::once(&vendor.name).chain(&vendor.aliases) {
                let key = vendor_key(name);
                if by_key.get(&key).is_some_and(|&other| other != position) {
                    return Err(VendorError::Ambiguous(name.clone()));
                }
                by_key.insert(key, position);
            }
        }
        Ok(Self {
            vendors: file.vendor,
            by_key,
        })
    }

    /// The vendor a CompanyName, signer CN or vendor column names, if the directory knows it.
    pub fn lookup(&self, name: &str) -> Option<&Vendor> {
        self.by_key
            .get(&vendor_key(name))
            .map(|&i| &self.vendors[i])
    }

    /// The canonical name for `name`, or `name` itself (trimmed) when unknown.
    pub fn canonical_name(&self, name: &str) -> String {
        self.lookup(name)
            .map_or_else(|| name.trim().to_owned(), |v| v.name.clone())
    }

    pub fn vendors(&self) -> &[Vendor] {
        &self.vendors
    }
}

/// Compares names the way people write companies: case, punctuation and legal suffixes aside.
/// "Condusiv Technologies Corporation" and "condusiv technologies corp." are the same key.
pub fn vendor_key(name: &str) -> String {
    const LEGAL_SUFFIXES: &[&str] = &[
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "ltd",
        "limited",
        "llc",
        "gmbh",
        "ag",
        "sa",
        "srl",
        "bv",
        "plc",
        "kk",
        "oy",
        "ab",
        "as",
        "pty",
        "lp",
    ];
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                ' '
            }
        })
        .collect();
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    while words.len() > 1 && words.last().is_some_and(|w| LEGAL_SUFFIXES.contains(w)) {
        words.pop();
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_directory_parses_and_resolves_aliases() {
        let directory = VendorDirectory::embedded();
        assert!(directory.vendors().len() >= 40);
        let microsoft = directory.lookup("Microsoft Corporation").unwrap();
        assert_eq!(microsoft.name, "Microsoft");
        assert_eq!(
            directory.canonical_name("Condusiv Technologies Corporation"),
            directory.canonical_name("condusiv technologies corp.")
        );
        assert_eq!(
            directory.canonical_name("  Nobody Knows Inc. "),
            "Nobody Knows Inc."
        );
    }

    #[test]
    fn keys_ignore_case_punctuation_and_legal_suffixes() {
        assert_eq!(vendor_key("VMware, Inc."), "vmware");
        assert_eq!(vendor_key("Acme GmbH & Co. KG"), "acme gmbh co kg");
        assert_eq!(vendor_key("Corp"), "corp");
    }

    #[test]
    fn ambiguous_aliases_are_refused() {
        let text = "[[vendor]]\nname = \"A\"\naliases = [\"X\"]\n[[vendor]]\nname = \"B\"\naliases = [\"x\"]\n";
        assert!(matches!(
            VendorDirectory::parse(text),
            Err(VendorError::Ambiguous(_))
        ));
    }
}
