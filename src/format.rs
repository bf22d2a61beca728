//! How numbers of an analysis read, once for every surface: the page, the text report and the
//! vendor report.

use crate::tag::PoolTag;

/// `1536` → `1.5 KiB`; powers of 1024 as Windows tools count.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A change in bytes with its sign: `+1.5 KiB`, `-12 B`.
pub fn signed_bytes(v: f64) -> String {
    if v < 0.0 {
        format!("-{}", human_bytes((-v) as u64))
    } else {
        format!("+{}", human_bytes(v as u64))
    }
}

/// A tag as people read it, with its trailing blanks shown as `·` (`Io  ` reads `Io··`): the
/// blanks are part of the tag.
pub fn tag_shown(tag: PoolTag) -> String {
    let exact = tag.to_string();
    let trimmed = exact.trim_end_matches(' ');
    format!("{trimmed}{}", "·".repeat(exact.len() - trimmed.len()))
}

/// What a growth rate is counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatePer {
    Hour,
    Snapshot,
}

/// A tag's growth rate: per hour when the snapshots carry times, per snapshot otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrowthRate {
    pub bytes: f64,
    pub per: RatePer,
}

impl GrowthRate {
    /// The rate of a growth measured per hour (when known) and per snapshot.
    pub fn of(per_hour: Option<f64>, per_snapshot: Option<f64>) -> Option<Self> {
        match (per_hour, per_snapshot) {
            (Some(bytes), _) => Some(Self {
                bytes,
                per: RatePer::Hour,
            }),
            (None, Some(bytes)) => Some(Self {
                bytes,
                per: RatePer::Snapshot,
            }),
            (None, None) => None,
        }
    }

    /// For tables: `+1.5 KiB/h`, `-12 B/snapshot`.
    pub fn short(&self) -> String {
        match self.per {
            RatePer::Hour => format!("{}/h", signed_bytes(self.bytes)),
            RatePer::Snapshot => format!("{}/snapshot", signed_bytes(self.bytes)),
        }
    }

    /// For prose: `+1.5 KiB/hour`.
    pub fn long(&self) -> String {
        match self.per {
            RatePer::Hour => format!("{}/hour", signed_bytes(self.bytes)),
            RatePer::Snapshot => format!("{}/snapshot", signed_bytes(self.bytes)),
        }
    }
}

/// A count with thousands separators: `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `1 source`, `2 sources`, `1,204 entries`.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_windows_tools() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(33_930_272), "32.4 MiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }

    #[test]
    fn trailing_blanks_of_a_tag_show() {
        assert_eq!(tag_shown(PoolTag::parse("Io  ").unwrap()), "Io··");
        assert_eq!(tag_shown(PoolTag::parse("Leak").unwrap()), "Leak");
    }

    #[test]
    fn growth_reads_per_hour_when_times_are_known() {
        let hourly = GrowthRate::of(Some(1536.0), Some(9.0)).unwrap();
        assert_eq!(hourly.short(), "+1.5 KiB/h");
        assert_eq!(hourly.long(), "+1.5 KiB/hour");
        let sampled = GrowthRate::of(None, Some(-12.0)).unwrap();
        assert_eq!(sampled.short(), "-12 B/snapshot");
        assert_eq!(GrowthRate::of(None, None), None);
    }

    #[test]
    fn counts_read_as_words() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(counted(1, "source", "sources"), "1 source");
        assert_eq!(counted(12_000, "entry", "entries"), "12,000 entries");
    }
}
