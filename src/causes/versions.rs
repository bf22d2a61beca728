//! The affected versions of a case whose versions are a driver file's: a few clauses
//! (`=32.0.11002.41`, `<5.0.2195.2096`, `>=1.76,<=1.77`) checked against the version a driver
//! list shows.

use crate::version::Version;

/// One clause's comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Less,
    AtMost,
    Greater,
    AtLeast,
}

/// The versions a case names: any of the exact versions (when there are some), within every
/// bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange {
    exact: Vec<Version>,
    bounds: Vec<(Bound, Version)>,
}

impl VersionRange {
    /// Reads comma-separated clauses: `=V` or a bare `V` (exactly V), `<V`, `<=V`, `>V`, `>=V`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut range = Self {
            exact: Vec::new(),
            bounds: Vec::new(),
        };
        for clause in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let (bound, version) = if let Some(v) = clause.strip_prefix("<=") {
                (Some(Bound::AtMost), v)
            } else if let Some(v) = clause.strip_prefix(">=") {
                (Some(Bound::AtLeast), v)
            } else if let Some(v) = clause.strip_prefix('<') {
                (Some(Bound::Less), v)
            } else if let Some(v) = clause.strip_prefix('>') {
                (Some(Bound::Greater), v)
            } else {
                (None, clause.strip_prefix('=').unwrap_or(clause))
            };
            let version = version.trim();
            let Some(version) = Version::parse(version).filter(|_| is_version(version)) else {
                return Err(format!(
                    "{clause:?} is not a version clause (=1.2.3.4, <2.0, <=2.0, >1.0, >=1.0)"
                ));
            };
            match bound {
                Some(bound) => range.bounds.push((bound, version)),
                None => range.exact.push(version),
            }
        }
        if range.exact.is_empty() && range.bounds.is_empty() {
            return Err("no version clause".into());
        }
        Ok(range)
    }

    /// Whether `version` is one the case names.
    pub fn contains(&self, version: &Version) -> bool {
        let exact = self.exact.is_empty() || self.exact.iter().any(|v| version.same_version(v));
        exact
            && self.bounds.iter().all(|(bound, v)| {
                let order = version.cmp_version(v);
                match bound {
                    Bound::Less => order.is_lt(),
                    Bound::AtMost => order.is_le(),
                    Bound::Greater => order.is_gt(),
                    Bound::AtLeast => order.is_ge(),
                }
            })
    }
}

/// A version as driver lists and vendors write them: numbers separated by dots.
pub fn is_version(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap()
    }

    #[test]
    fn exact_versions_and_bounds() {
        let one = VersionRange::parse("=32.0.11002.41").unwrap();
        assert!(one.contains(&v("32.0.11002.41")));
        assert!(!one.contains(&v("32.0.21045.1000")));
        let span = VersionRange::parse(">=1.76,<=1.77").unwrap();
        assert!(span.contains(&v("1.76")) && span.contains(&v("1.77.0.0")));
        assert!(!span.contains(&v("1.75")) && !span.contains(&v("1.78")));
        let below = VersionRange::parse("<5.0.2195.2096").unwrap();
        assert!(below.contains(&v("5.0.2195.1600")));
        assert!(!below.contains(&v("5.0.2195.2096")));
        let list = VersionRange::parse("7.01, 7.03").unwrap();
        assert!(list.contains(&v("7.3")) && !list.contains(&v("7.02")));
    }

    #[test]
    fn words_are_not_versions() {
        assert!(VersionRange::parse("Windows NT 4.0").is_err());
        assert!(VersionRange::parse("").is_err());
        assert!(VersionRange::parse("<").is_err());
        assert!(!is_version("v4-1.24"));
    }

    #[test]
    fn a_driver_lists_build_suffix_is_ignored() {
        let range = VersionRange::parse("=10.0.19041.1").unwrap();
        assert!(range.contains(&v("10.0.19041.1 (WinBuild.160101.0800)")));
    }
}
