use super::*;

#[test]
fn header_synonyms() {
    assert_eq!(role_of("Tag"), Role::Tag);
    assert_eq!(role_of("Pool tag"), Role::Tag);
    assert_eq!(role_of("PoolType"), Role::Pool);
    assert_eq!(role_of("NumberOfAllocs"), Role::Plain(Measure::Allocs));
    assert_eq!(role_of("TotalBytes"), Role::Plain(Measure::Bytes(1)));
    assert_eq!(role_of("Bytes"), Role::Plain(Measure::Bytes(1)));
    assert_eq!(role_of("Bytes (MB)"), Role::Plain(Measure::Bytes(1 << 20)));
    assert_eq!(role_of("Bytes [MiB]"), Role::Plain(Measure::Bytes(1 << 20)));
    assert_eq!(role_of("SizeKB"), Role::Plain(Measure::Bytes(1 << 10)));
    assert_eq!(role_of("SizeGB"), Role::Plain(Measure::Bytes(1 << 30)));
    assert_eq!(role_of("Used"), Role::Plain(Measure::Bytes(1)));
    assert_eq!(role_of("Current"), Role::Plain(Measure::Bytes(1)));
    assert_eq!(
        role_of("PagedUsed"),
        Role::Split(PoolKind::Paged, Measure::Bytes(1))
    );
    assert_eq!(
        role_of("Paged_KB"),
        Role::Split(PoolKind::Paged, Measure::Bytes(1 << 10))
    );
    assert_eq!(
        role_of("NP (MB)"),
        Role::Split(PoolKind::NonPaged, Measure::Bytes(1 << 20))
    );
    assert_eq!(
        role_of("Non Paged"),
        Role::Split(PoolKind::NonPaged, Measure::Bytes(1))
    );
    assert_eq!(
        role_of("NonPagedAllocs"),
        Role::Split(PoolKind::NonPaged, Measure::Allocs)
    );
    assert_eq!(
        role_of("NonPagedFrees"),
        Role::Split(PoolKind::NonPaged, Measure::Frees)
    );
    assert_eq!(
        role_of("Paged (MB)"),
        Role::Split(PoolKind::Paged, Measure::Bytes(1 << 20))
    );
    assert_eq!(role_of("Per Alloc"), Role::Ignore);
    assert_eq!(role_of("% of pool"), Role::Ignore);
    assert_eq!(role_of("Share"), Role::Ignore);
    assert!(matches!(
        role_of("Delta (MB)"),
        Role::Change {
            measure: Measure::Bytes(1_048_576),
            period_hours: None,
            ..
        }
    ));
    assert!(matches!(
        role_of("change over 3 days"),
        Role::Change {
            period_hours: Some(72.0),
            ..
        }
    ));
    assert!(matches!(role_of("Δ"), Role::Change { .. }));
    assert_eq!(role_of("Mapped_Driver"), Role::Driver);
    assert_eq!(
        role_of("Allocations in use"),
        Role::Plain(Measure::Outstanding)
    );
    assert_eq!(role_of("Uptime (h)"), Role::Uptime(1.0));
    assert!(matches!(
        role_of("Day 1 (MB)"),
        Role::Series {
            unit: 1_048_576,
            ..
        }
    ));
    assert!(matches!(
        role_of("2026-11-01"),
        Role::Series { unit: 1, .. }
    ));
    assert_eq!(role_of("Diff"), Role::Plain(Measure::Outstanding));
}

#[test]
fn state_columns_are_not_times() {
    use State::*;
    assert_eq!(state_of("while leaking"), Some(Leaking));
    assert_eq!(state_of("during the leak"), Some(Leaking));
    assert_eq!(state_of("before the fix"), Some(Leaking));
    assert_eq!(state_of("after reboot"), Some(AfterChange));
    assert_eq!(state_of("after uninstalling QxAgent"), Some(AfterChange));
    assert_eq!(state_of("post-patch"), Some(AfterChange));
    assert_eq!(state_of("after update"), Some(AfterChange));
    assert_eq!(state_of("before"), None);
    assert_eq!(state_of("after (14:00)"), None);
    assert!(matches!(
        role_of("after reboot"),
        Role::Series {
            state: Some(AfterChange),
            ..
        }
    ));
    assert!(matches!(
        role_of("Bytes while leaking (MB)"),
        Role::Series {
            unit: 1_048_576,
            state: Some(Leaking),
            ..
        }
    ));
    // Two poolmon readings hours apart are still a time series.
    assert!(matches!(
        role_of("Before"),
        Role::Series { state: None, .. }
    ));
    assert!(matches!(role_of("After"), Role::Series { state: None, .. }));
    assert!(matches!(role_of("change over 3 days"), Role::Change { .. }));
}

#[test]
fn pool_totals_without_tags() {
    let roles = |hs: &[&str]| hs.iter().map(|h| role_of(h)).collect::<Vec<_>>();
    assert!(names_pool_totals(&roles(&[
        "Time",
        "PagedPoolMB",
        "NonpagedPoolMB"
    ])));
    assert!(names_pool_totals(&roles(&[
        "PoolPagedBytes",
        "PoolNonpagedBytes"
    ])));
    assert!(names_pool_totals(&roles(&[
        "(PDH-CSV 4.0) (UTC)(0)",
        "\\\\HOST\\memory\\pool nonpaged bytes"
    ])));
    assert!(!names_pool_totals(&roles(&["Tag", "NP (MB)"])));
    assert!(!names_pool_totals(&roles(&["Time", "Bytes"])));
}

#[test]
fn tag_columns() {
    assert_eq!(
        tag_series_of("`Abcd` outstanding"),
        Some((PoolTag::parse("Abcd").unwrap(), Measure::Outstanding))
    );
    assert_eq!(
        tag_series_of("LkaL (MB)"),
        Some((PoolTag::parse("LkaL").unwrap(), Measure::Bytes(1 << 20)))
    );
    assert_eq!(tag_series_of("Used (MB)"), None);
    assert_eq!(tag_series_of("live processes"), None);
}

#[test]
fn pool_cells() {
    assert_eq!(pool_of("Nonp"), Some(PoolKind::NonPaged));
    assert_eq!(pool_of("Non-paged"), Some(PoolKind::NonPaged));
    assert_eq!(pool_of("Non Paged"), Some(PoolKind::NonPaged));
    assert_eq!(pool_of("PagedPool"), Some(PoolKind::Paged));
    assert_eq!(pool_of("Paged"), Some(PoolKind::Paged));
    assert_eq!(pool_of("P"), Some(PoolKind::Paged));
    assert_eq!(pool_of("Sess"), Some(PoolKind::Session));
    assert_eq!(pool_of("weird"), None);
}
