//! WinDbg `!verifier 3` / `!verifier 0x...` pool-allocation listings, aggregated per module and
//! tag (count, bytes, distinct callers).
//!
//! Two layouts are known:
//! * Windows 7 era: a `Entry State NonPagedPool PagedPool Module` list, per module
//!   `Current Pool Bytes  000000a0  00000854`, then
//!   `PoolAddress  SizeInBytes  Tag  CallersAddress` rows (`fffff9800157efc0  0x0000003c  Vprt
//!   fffff88002c62963`).
//! * Windows 8 and later: `MODULE: 0x84226b28 MyDriver.sys (Loaded)`, `Current Pool Bytes: (
//!   0x00001058 / 0x00000000 )`, then `Address Length Tag Caller` with a dashes row, rows
//!   `0x982a8fe0  0x00000020  VMdl  0x9a3bf6ac  MyDriver!DeviceControlDispatch+0x4c`.
//!
//! Allocations carry no pool type; it is taken from the module's statistics when only one pool
//! holds bytes, and is `unknown` otherwise.

use std::collections::{HashMap, HashSet};

use super::poolmon::tokens;
use super::text::{Input, contains_ci, parse_hex, tag_from_text};
use super::{Ctx, PoolKind, PoolUsage, Snapshot, SnapshotError};
use crate::tag::PoolTag;

/// Distinct callers kept per tag.
const MAX_CALLERS: usize = 32;

/// `PoolAddress SizeInBytes Tag CallersAddress` or `Address Length Tag Caller`.
pub(crate) fn is_listing_header(t: &str) -> bool {
    t.contains("Tag")
        && t.contains("Address")
        && contains_ci(t, "caller")
        && (t.contains("Length") || t.contains("SizeInBytes") || t.contains("Size"))
}

struct Agg {
    tag: PoolTag,
    module: Option<String>,
    count: u64,
    bytes: u64,
    callers: Vec<String>,
    seen: HashSet<String>,
    pools: (Option<u64>, Option<u64>),
    /// The first line listing an allocation of it.
    line: usize,
}

fn is_long_hex(t: &str) -> bool {
    let h = t.strip_prefix("0x").unwrap_or(t).replace('`', "");
    h.len() >= 8 && parse_hex(&h).is_some()
}

/// `(address, length, tag, caller)` from a listing row. Under a listing header the length may
/// be short hex without `0x` (`b2`, as `!verifier 3` prints it on some builds); elsewhere it
/// takes three digits at least, so a stray line is not read as an allocation.
fn parse_alloc(line: &str, under_header: bool) -> Option<Result<(u64, PoolTag, String), String>> {
    let toks: Vec<&str> = tokens(line, 16).into_iter().map(|(_, t)| t).collect();
    if toks.len() < 3 || !is_long_hex(toks[0]) {
        return None;
    }
    let len = parse_hex(toks[1])?;
    if toks[1].len() < 3 && !under_header {
        return None;
    }
    // The caller is the first long hex token after the tag (which has at most 4 characters,
    // possibly with a space inside).
    let caller_idx = (3..toks.len().min(6)).find(|&i| is_long_hex(toks[i]));
    let tag_end = caller_idx.unwrap_or(toks.len().min(3));
    let tag_text = toks[2..tag_end].join(" ");
    let Some(tag) = (tag_text.chars().count() <= 4)
        .then(|| tag_from_text(&tag_text))
        .flatten()
    else {
        return Some(Err(format!(
            "{tag_text:?} is not a pool tag; allocation skipped"
        )));
    };
    let caller = match caller_idx {
        Some(i) if i + 1 < toks.len() => toks[i + 1..].join(" "),
        Some(i) => {
            let a = toks[i];
            if a.starts_with("0x") {
                a.to_owned()
            } else {
                format!("0x{a}")
            }
        }
        None => String::new(),
    };
    Some(Ok((len, tag, caller)))
}

/// The two numbers of `Current Pool Bytes: ( 0x00001058 / 0x00000000 )` or
/// `Current Pool Bytes        000000a0    00000854`.
fn two_hex_after(line: &str, key: &str) -> Option<(u64, u64)> {
    let i = line.find(key)?;
    let nums: Vec<u64> = line[i + key.len()..]
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '/' || c == ':')
        .filter(|s| !s.is_empty())
        .filter_map(parse_hex)
        .collect();
    (nums.len() >= 2).then(|| (nums[0], nums[1]))
}

pub(crate) fn parse(input: &Input<'_>, ctx: &mut Ctx) -> Result<Vec<Snapshot>, SnapshotError> {
    let mut out = Vec::new();
    let mut aggs: Vec<Agg> = Vec::new();
    let mut index: HashMap<(Option<String>, PoolTag), usize> = HashMap::new();
    let mut module: Option<String> = None;
    let mut pools: (Option<u64>, Option<u64>) = (None, None);
    let mut in_driver_list = false;
    let mut in_listing = false;
    let mut label: Option<String> = None;
    let mut last_line = 0;

    let finish = |aggs: &mut Vec<Agg>,
                  index: &mut HashMap<_, _>,
                  label: Option<String>,
                  out: &mut Vec<Snapshot>,
                  ctx: &mut Ctx,
                  line: usize| {
        index.clear();
        let mut snap = Snapshot {
            label,
            ..Snapshot::default()
        };
        for a in aggs.drain(..) {
            let pool = match a.pools {
                (Some(np), Some(0)) if np > 0 => PoolKind::NonPaged,
                (Some(0), Some(p)) if p > 0 => PoolKind::Paged,
                _ => PoolKind::Unknown,
            };
            let mut u = PoolUsage::new(a.tag, pool, a.bytes).at_line(a.line);
            u.outstanding = Some(a.count);
            u.mapped_driver = a.module;
            u.callers = a.callers;
            snap.rows.push(u);
        }
        ctx.push_snapshot(out, snap, line);
    };

    for (n, line) in input.lines() {
        last_line = n;
        if ctx.full() {
            break;
        }
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(i) = t.find("!verifier") {
            if !aggs.is_empty() {
                finish(&mut aggs, &mut index, label.take(), &mut out, ctx, n);
            }
            label = Some(t[i..].to_owned());
            in_listing = false;
            continue;
        }
        if let Some(rest) = t.strip_prefix("MODULE:") {
            let toks: Vec<&str> = rest.split_whitespace().collect();
            module = toks
                .iter()
                .find(|w| !is_long_hex(w) && !w.starts_with("0x"))
                .map(|s| (*s).to_owned());
            pools = (None, None);
            in_listing = false;
            continue;
        }
        if t.starts_with("Entry") && t.contains("Module") && t.contains("NonPagedPool") {
            in_driver_list = true;
            in_listing = false;
            continue;
        }
        if t.contains("Current Pool Bytes") {
            if let Some((np, p)) = two_hex_after(t, "Current Pool Bytes") {
                pools = (Some(np), Some(p));
            }
            continue;
        }
        if is_listing_header(t) {
            in_listing = true;
            continue;
        }
        if t.chars().all(|c| c == '-' || c == ' ' || c == '.') {
            continue;
        }
        // `fffffa8003b6f670 Loaded  000000a0  00000854  videoprt.sys`
        let toks: Vec<&str> = t.split_whitespace().take(6).collect();
        if (in_driver_list || toks.len() == 5)
            && toks.len() >= 5
            && is_long_hex(toks[0])
            && toks[1].chars().all(char::is_alphabetic)
            && parse_hex(toks[2]).is_some()
            && parse_hex(toks[3]).is_some()
        {
            module = Some(toks[4].to_owned());
            pools = (parse_hex(toks[2]), parse_hex(toks[3]));
            in_listing = false;
            continue;
        }
        if !in_listing && !toks.get(1).is_some_and(|t| t.starts_with("0x")) {
            continue;
        }
        match parse_alloc(line, in_listing) {
            Some(Ok((len, tag, caller))) => {
                let key = (module.clone(), tag);
                let i = match index.get(&key) {
                    Some(&i) => i,
                    None => {
                        if !ctx.take_row(n) {
                            break;
                        }
                        aggs.push(Agg {
                            tag,
                            module: module.clone(),
                            count: 0,
                            bytes: 0,
                            callers: Vec::new(),
                            seen: HashSet::new(),
                            pools,
                            line: n,
                        });
                        index.insert(key, aggs.len() - 1);
                        aggs.len() - 1
                    }
                };
                let a = &mut aggs[i];
                a.count += 1;
                a.bytes = a.bytes.saturating_add(len);
                if !caller.is_empty()
                    && a.callers.len() < MAX_CALLERS
                    && a.seen.insert(caller.clone())
                {
                    a.callers.push(caller);
                }
            }
            Some(Err(msg)) => ctx.skip(n, msg),
            None => {
                if in_listing && !t.starts_with('#') {
                    in_listing = false;
                }
            }
        }
    }
    if !aggs.is_empty() {
        finish(&mut aggs, &mut index, label, &mut out, ctx, last_line);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ParseOptions;

    #[test]
    fn hex_lengths_without_0x_and_a_label_on_the_header_line() {
        // The `Pool Allocations:` label pasted onto the header line, lengths as bare hex, and
        // a debugger command with its output after the listing.
        let text = "    Pool Allocations:     Address             Length      Tag   Caller Address\n\
            ------------------  ----------  ----  ------------------\n\
            0xffffc1017a2b1000  000000c4  Qzt1  0xfffff8054a1b2c3d  QzDrv!QzAlloc+0x2a\n\
            0xffffc1017a2b3000  c4        Qzt1  0xfffff8054a1b2c3d  QzDrv!QzAlloc+0x2a\n\
            0xffffc1017a2b5000  30        Qzt2  0xfffff8054a1b2e00  QzDrv!QzOpen+0x10\n\
            2: kd> du 0xffffc1017a2b1000\n\
            ffffc101`7a2b1000  \"\\Registry\\Machine\\System\"\n\
            ffffc101`7a2b1040  \"ControlSet001\"\n";
        let mut ctx = Ctx::new(&ParseOptions::default());
        let s = parse(&Input::from_str(text), &mut ctx).unwrap();
        let rows = &s[0].rows;
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].tag.to_string(), "Qzt1");
        assert_eq!(rows[0].outstanding, Some(2));
        assert_eq!(rows[0].bytes, 2 * 0xc4);
        assert_eq!(rows[0].callers, vec!["QzDrv!QzAlloc+0x2a"]);
        assert_eq!(rows[1].bytes, 0x30);
        assert_eq!(rows[1].line, 5);
        assert!(ctx.warnings.is_empty(), "{:?}", ctx.warnings);
        // Without a listing header, a short length is no allocation.
        assert!(parse_alloc("0xffffc1017a2b5000  30  Qzt2  0xfffff8054a1b2e00", false).is_none());
    }

    #[test]
    fn win8_listing_aggregates_per_tag() {
        let text = "  MODULE: 0x84226b28 MyDriver.sys (Loaded)\n\
            Current Pool Bytes:       ( 0x00001058 / 0x00000000 )\n\
            Address     Length      Tag   Caller\n\
            ----------  ----------  ----  ----------\n\
            0x982a8fe0  0x00000020  VMdl  0x9a3bf6ac  MyDriver!DeviceControlDispatch+0x4c\n\
            0x8645a000  0x00001008  mdrv  0x9a3bf687  MyDriver!DeviceControlDispatch+0x27\n\
            0x8645b000  0x00001008  mdrv  0x9a3bf687  MyDriver!DeviceControlDispatch+0x27\n";
        let mut ctx = Ctx::new(&ParseOptions::default());
        let s = parse(&Input::from_str(text), &mut ctx).unwrap();
        let rows = &s[0].rows;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].tag.to_string(), "mdrv");
        assert_eq!(rows[1].outstanding, Some(2));
        assert_eq!(rows[1].bytes, 0x2010);
        assert_eq!(rows[1].pool, PoolKind::NonPaged);
        assert_eq!(rows[1].callers, vec!["MyDriver!DeviceControlDispatch+0x27"]);
        assert_eq!(rows[1].mapped_driver.as_deref(), Some("MyDriver.sys"));
    }
}
