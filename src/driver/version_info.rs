//! `VS_VERSIONINFO`: goblin's parse first, then our own bounded walker when goblin could not
//! read the resource tree (or found no version resource where one exists).

use serde::{Deserialize, Serialize};

use super::image::Image;

/// The version resource of a driver, as `sigcheck` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionInfo {
    pub company_name: Option<String>,
    pub file_description: Option<String>,
    /// The `FileVersion` *string* (may carry text such as "1.3 built by: WinDDK").
    pub file_version: Option<String>,
    pub product_name: Option<String>,
    pub product_version: Option<String>,
    pub original_filename: Option<String>,
    pub internal_name: Option<String>,
    pub legal_copyright: Option<String>,
    /// `VS_FIXEDFILEINFO.dwFileVersionMS/LS` as major, minor, build, revision.
    pub file_version_numeric: Option<[u16; 4]>,
    /// `VS_FIXEDFILEINFO.dwProductVersionMS/LS`.
    pub product_version_numeric: Option<[u16; 4]>,
}

impl VersionInfo {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    fn from_parts(
        strings: [Option<String>; 8],
        file: Option<[u16; 4]>,
        product: Option<[u16; 4]>,
    ) -> Self {
        let clean = |s: Option<String>| {
            s.map(|v| v.trim_end_matches('\0').trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let [c, d, fv, pn, pv, of, inn, lc] = strings;
        VersionInfo {
            company_name: clean(c),
            file_description: clean(d),
            file_version: clean(fv),
            product_name: clean(pn),
            product_version: clean(pv),
            original_filename: clean(of),
            internal_name: clean(inn),
            legal_copyright: clean(lc),
            file_version_numeric: file,
            product_version_numeric: product,
        }
    }
}

const KEYS: [&str; 8] = [
    "CompanyName",
    "FileDescription",
    "FileVersion",
    "ProductName",
    "ProductVersion",
    "OriginalFilename",
    "InternalName",
    "LegalCopyright",
];

/// Largest version blob we read.
const MAX_BLOB: usize = 1 << 20;
/// Most records visited in one blob.
const MAX_RECORDS: usize = 4096;

/// Goblin's strings first; our walker fills whatever goblin left out, and always supplies the
/// numeric `VS_FIXEDFILEINFO` versions (goblin 0.10.7 reports them as 0.0.0.0 on real drivers).
pub(crate) fn read(image: &Image<'_>, warnings: &mut Vec<String>) -> VersionInfo {
    let from_goblin = image
        .goblin_version
        .as_ref()
        .map(|g| VersionInfo::from_parts(g.strings.clone(), g.file_version, g.product_version))
        .unwrap_or_default();
    if image.resource_dir.is_none() {
        return from_goblin;
    }
    let walked = match walk(image) {
        Ok(Some(vi)) => vi,
        Ok(None) => VersionInfo::default(),
        Err(e) => {
            if from_goblin.is_empty() {
                warnings.push(format!("version resource unreadable: {e}"));
            }
            VersionInfo::default()
        }
    };
    let nonzero = |v: Option<[u16; 4]>| v.filter(|a| a.iter().any(|&x| x != 0));
    let g = from_goblin;
    VersionInfo {
        company_name: g.company_name.or(walked.company_name),
        file_description: g.file_description.or(walked.file_description),
        file_version: g.file_version.or(walked.file_version),
        product_name: g.product_name.or(walked.product_name),
        product_version: g.product_version.or(walked.product_version),
        original_filename: g.original_filename.or(walked.original_filename),
        internal_name: g.internal_name.or(walked.internal_name),
        legal_copyright: g.legal_copyright.or(walked.legal_copyright),
        file_version_numeric: walked
            .file_version_numeric
            .or(nonzero(g.file_version_numeric)),
        product_version_numeric: walked
            .product_version_numeric
            .or(nonzero(g.product_version_numeric)),
    }
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..off.checked_add(2)?)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off.checked_add(4)?)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Finds the `RT_VERSION` leaf: type 16, then the first name, then the first language.
fn find_version_leaf(image: &Image<'_>) -> Result<Option<(u32, u32)>, String> {
    let (rva, size) = image.resource_dir.ok_or("no resource directory")?;
    let sec = image
        .section_of_rva(rva)
        .ok_or("the resource directory is outside every section")?;
    let avail = (sec.rva as u64 + sec.raw_size as u64).saturating_sub(rva as u64) as usize;
    let len = (size as usize).min(avail);
    let root = image
        .read_rva(rva, len)
        .ok_or("the resource directory is not backed by file data")?;
    let mut dir_off = 0usize;
    for (depth, want) in [Some(16u32), None, None].into_iter().enumerate() {
        let named = u16_at(root, dir_off + 12).ok_or("truncated resource directory")? as usize;
        let ids = u16_at(root, dir_off + 14).ok_or("truncated resource directory")? as usize;
        let count = (named + ids).min(4096);
        let mut found = None;
        for i in 0..count {
            let e = dir_off + 16 + i * 8;
            let (Some(name), Some(data)) = (u32_at(root, e), u32_at(root, e + 4)) else {
                break;
            };
            let is_match = match want {
                Some(id) => name & 0x8000_0000 == 0 && name == id,
                None => true,
            };
            if is_match {
                found = Some(data);
                break;
            }
        }
        let Some(data) = found else { return Ok(None) };
        let is_dir = data & 0x8000_0000 != 0;
        let off = (data & 0x7fff_ffff) as usize;
        if depth < 2 {
            if !is_dir {
                return Err("the resource tree is shallower than type/name/language".into());
            }
            if off <= dir_off {
                return Err(format!(
                    "resource directory loop (entry at {dir_off:#x} points back to {off:#x})"
                ));
            }
            dir_off = off;
        } else {
            if is_dir {
                return Err("the resource tree is deeper than type/name/language".into());
            }
            let rva = u32_at(root, off).ok_or("truncated resource data entry")?;
            let size = u32_at(root, off + 4).ok_or("truncated resource data entry")?;
            return Ok(Some((rva, size)));
        }
    }
    Ok(None)
}

fn walk(image: &Image<'_>) -> Result<Option<VersionInfo>, String> {
    let Some((rva, size)) = find_version_leaf(image)? else {
        return Ok(None);
    };
    let size = (size as usize).min(MAX_BLOB);
    let blob = image
        .read_rva(rva, size)
        .or_else(|| {
            // Clip to what the section holds.
            let sec = image.section_of_rva(rva)?;
            let avail = (sec.rva as u64 + sec.raw_size as u64).saturating_sub(rva as u64) as usize;
            image.read_rva(rva, size.min(avail))
        })
        .ok_or("the version resource is not backed by file data")?;
    Ok(Some(parse_blob(blob)))
}

struct Record<'b> {
    key: String,
    value: &'b [u8],
    value_len: u16,
    children: &'b [u8],
    value_type: u16,
}

fn align4(x: usize) -> usize {
    (x + 3) & !3
}

/// Reads one `{wLength, wValueLength, wType, szKey, pad, Value, pad, Children}` record at `off`.
/// Returns the record and the offset just past it (aligned).
fn record(b: &[u8], off: usize) -> Option<(Record<'_>, usize)> {
    let len = u16_at(b, off)? as usize;
    if len < 6 {
        return None;
    }
    let end = off.checked_add(len)?.min(b.len());
    let value_len = u16_at(b, off + 2)?;
    let value_type = u16_at(b, off + 4)?;
    let mut p = off + 6;
    let mut key = Vec::new();
    while p + 2 <= end {
        let c = u16_at(b, p)?;
        p += 2;
        if c == 0 {
            break;
        }
        if key.len() < 256 {
            key.push(c);
        }
    }
    let value_start = align4(p).min(end);
    let value_bytes = if value_type == 1 {
        value_len as usize * 2
    } else {
        value_len as usize
    };
    let value_end = value_start.saturating_add(value_bytes).min(end);
    let children_start = align4(value_end).min(end);
    Some((
        Record {
            key: String::from_utf16_lossy(&key),
            value: &b[value_start..end],
            value_len,
            children: &b[children_start..end],
            value_type,
        },
        align4(end).max(off + 4),
    ))
}

fn children<'b>(b: &'b [u8], budget: &mut usize) -> Vec<Record<'b>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 6 <= b.len() && *budget > 0 {
        *budget -= 1;
        let Some((r, next)) = record(b, off) else {
            break;
        };
        out.push(r);
        if next <= off {
            break;
        }
        off = next;
    }
    out
}

fn utf16_value(v: &[u8]) -> String {
    let units: Vec<u16> = v
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&c| c != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

pub(crate) fn parse_blob(blob: &[u8]) -> VersionInfo {
    let mut strings: [Option<String>; 8] = Default::default();
    let mut fixed = None;
    let mut budget = MAX_RECORDS;
    let Some((root, _)) = record(blob, 0) else {
        return VersionInfo::default();
    };
    if root.value_len as usize >= 52 && u32_at(root.value, 0) == Some(0xFEEF_04BD) {
        let v = root.value;
        let ver = |ms: Option<u32>, ls: Option<u32>| {
            let (ms, ls) = (ms?, ls?);
            Some([(ms >> 16) as u16, ms as u16, (ls >> 16) as u16, ls as u16])
        };
        fixed = Some((
            ver(u32_at(v, 8), u32_at(v, 12)),
            ver(u32_at(v, 16), u32_at(v, 20)),
        ));
    }
    let kids_start = if root.value_len == 0 {
        root.value
    } else {
        root.children
    };
    for child in children(kids_start, &mut budget) {
        if child.key != "StringFileInfo" {
            continue;
        }
        let tables_area = if child.value_len == 0 {
            child.value
        } else {
            child.children
        };
        for table in children(tables_area, &mut budget) {
            let strs_area = if table.value_len == 0 {
                table.value
            } else {
                table.children
            };
            for s in children(strs_area, &mut budget) {
                if let Some(i) = KEYS.iter().position(|k| *k == s.key)
                    && strings[i].is_none()
                {
                    let _ = s.value_type;
                    strings[i] = Some(utf16_value(s.value));
                }
            }
        }
    }
    let (fv, pv) = fixed.unwrap_or((None, None));
    VersionInfo::from_parts(strings, fv, pv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16z(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(|c| c.to_le_bytes())
            .collect()
    }

    fn rec(key: &str, value_type: u16, value: &[u8], value_len: u16, kids: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0];
        b.extend(value_len.to_le_bytes());
        b.extend(value_type.to_le_bytes());
        b.extend(utf16z(key));
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b.extend(value);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b.extend(kids);
        let len = b.len() as u16;
        b[0..2].copy_from_slice(&len.to_le_bytes());
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b
    }

    #[test]
    fn walker_reads_strings_and_fixed_info() {
        let s1 = rec("CompanyName", 1, &utf16z("Acme"), 5, &[]);
        let s2 = rec("FileVersion", 1, &utf16z("1.2.3.4"), 8, &[]);
        let table = rec("040904B0", 1, &[], 0, &[s1, s2].concat());
        let sfi = rec("StringFileInfo", 1, &[], 0, &table);
        let mut fixed = vec![0u8; 52];
        fixed[0..4].copy_from_slice(&0xFEEF_04BDu32.to_le_bytes());
        fixed[8..12].copy_from_slice(&((1u32 << 16) | 2).to_le_bytes());
        fixed[12..16].copy_from_slice(&((3u32 << 16) | 4).to_le_bytes());
        let root = rec("VS_VERSION_INFO", 0, &fixed, 52, &sfi);
        let vi = parse_blob(&root);
        assert_eq!(vi.company_name.as_deref(), Some("Acme"));
        assert_eq!(vi.file_version.as_deref(), Some("1.2.3.4"));
        assert_eq!(vi.file_version_numeric, Some([1, 2, 3, 4]));
    }

    #[test]
    fn walker_survives_garbage() {
        for len in 0..64 {
            let blob: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            let _ = parse_blob(&blob);
        }
        // A record claiming zero length must not loop.
        let _ = parse_blob(&[0u8; 4096]);
        let _ = parse_blob(&[6, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0]);
    }
}
