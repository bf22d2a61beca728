//! A parsed PE image: the facts the analysis needs, taken from goblin once, with bounded
//! fallbacks when a directory is malformed.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use goblin::pe::PE;
use goblin::pe::certificate_table::AttributeCertificateType;
use goblin::pe::options::{ParseMode, ParseOptions};
use goblin::pe::section_table::{IMAGE_SCN_CNT_CODE, IMAGE_SCN_MEM_EXECUTE, IMAGE_SCN_MEM_WRITE};

use super::DriverError;

pub const MACHINE_X86: u16 = 0x14c;
pub const MACHINE_X64: u16 = 0x8664;
pub const MACHINE_ARM64: u16 = 0xaa64;

#[derive(Debug, Clone)]
pub struct Section {
    pub rva: u32,
    pub vsize: u32,
    pub raw_off: u32,
    pub raw_size: u32,
    pub exec: bool,
    pub writable: bool,
}

#[derive(Debug, Clone)]
pub struct ImportRec {
    pub name: String,
    /// RVA of the IAT slot (goblin's `Import::offset`).
    pub slot_rva: u32,
}

/// Goblin's version-info strings, copied out of its borrowed structures.
#[derive(Debug, Clone, Default)]
pub struct GoblinVersion {
    pub strings: [Option<String>; 8],
    pub file_version: Option<[u16; 4]>,
    pub product_version: Option<[u16; 4]>,
}

pub struct Image<'a> {
    pub bytes: &'a [u8],
    pub machine: u16,
    pub timestamp: u32,
    pub image_base: u64,
    pub is_64: bool,
    pub entry_rva: u32,
    pub subsystem: Option<u16>,
    pub dll_characteristics: u16,
    pub sections: Vec<Section>,
    pub imports: Vec<ImportRec>,
    /// Lower-case names of imported DLLs.
    pub libraries: Vec<String>,
    pub export_rvas: Vec<u32>,
    /// Function ranges `[begin, end)` from `.pdata` (x64, ARM64), sorted by begin.
    pub functions: Vec<(u32, u32)>,
    /// Resource directory (rva, size), if the data directory names one.
    pub resource_dir: Option<(u32, u32)>,
    /// PKCS#7 SignedData payloads of WIN_CERTIFICATE entries.
    pub certificates: Vec<&'a [u8]>,
    pub goblin_version: Option<GoblinVersion>,
    pub warnings: Vec<String>,
    /// Map from the VA of an IAT slot to the index in `imports`.
    pub iat: HashMap<u64, usize>,
}

fn options(resources: bool, certificates: bool, imports: bool) -> ParseOptions {
    let mut opts = ParseOptions::default()
        .with_parse_mode(ParseMode::Permissive)
        .with_parse_resources(resources)
        .with_parse_imports(imports)
        .with_parse_tls_data(false);
    opts.parse_attribute_certificates = certificates;
    opts
}

fn goblin_parse<'a>(bytes: &'a [u8], opts: &ParseOptions) -> Result<PE<'a>, String> {
    match catch_unwind(AssertUnwindSafe(|| PE::parse_with_opts(bytes, opts))) {
        Ok(Ok(pe)) => Ok(pe),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the PE parser gave up on a malformed structure".to_owned()),
    }
}

fn le16(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..off.checked_add(2)?)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn le32(b: &[u8], off: usize) -> Option<u32> {
    b.get(off..off.checked_add(4)?)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Cheap header checks before goblin, so non-PE input gets a precise message.
fn precheck(bytes: &[u8]) -> Result<(), DriverError> {
    if bytes.len() < 2 || &bytes[..2] != b"MZ" {
        return Err(DriverError::NotPe(
            "the file does not start with the 'MZ' DOS signature".to_owned(),
        ));
    }
    let Some(lfanew) = le32(bytes, 0x3c) else {
        return Err(DriverError::NotPe(
            "the file is too short to hold a DOS header".to_owned(),
        ));
    };
    let lfanew = lfanew as usize;
    match bytes.get(lfanew..lfanew.saturating_add(4)) {
        Some(sig) if sig == b"PE\0\0" => {}
        Some(_) => {
            return Err(DriverError::NotPe(format!(
                "no 'PE' signature at offset {lfanew:#x} (an MZ/DOS file, not a Windows PE image)"
            )));
        }
        None => {
            return Err(DriverError::NotPe(format!(
                "the PE header offset {lfanew:#x} points past the end of the {}-byte file",
                bytes.len()
            )));
        }
    }
    let nsec = le16(bytes, lfanew + 6).unwrap_or(0);
    let opt_size = le16(bytes, lfanew + 20).unwrap_or(0) as usize;
    let table_end = lfanew + 24 + opt_size + nsec as usize * 40;
    if le16(bytes, lfanew + 24).is_none() {
        return Err(DriverError::Malformed(
            "the file ends inside the PE headers".to_owned(),
        ));
    }
    if nsec == 0 {
        return Err(DriverError::Malformed(
            "the PE image has no sections".to_owned(),
        ));
    }
    if table_end > bytes.len() {
        return Err(DriverError::Malformed(format!(
            "the section table ({nsec} sections) runs past the end of the {}-byte file",
            bytes.len()
        )));
    }
    check_complete(bytes, lfanew, opt_size, nsec)
}

/// A file cut short (a partial copy or download) still parses, and would read as an unsigned
/// driver with fewer tags: every section's raw data and the certificate table must lie inside
/// the file.
fn check_complete(
    bytes: &[u8],
    lfanew: usize,
    opt_size: usize,
    nsec: u16,
) -> Result<(), DriverError> {
    let len = bytes.len() as u64;
    let truncated = |what: String, end: u64| {
        DriverError::Malformed(format!(
            "the file is truncated: {what} ends at byte {end} of a {len}-byte file"
        ))
    };
    let table = lfanew + 24 + opt_size;
    for i in 0..usize::from(nsec) {
        let header = table + i * 40;
        let name: String = bytes[header..header + 8]
            .iter()
            .take_while(|&&b| b != 0)
            .map(|&b| char::from(b))
            .collect();
        let raw_size = u64::from(le32(bytes, header + 16).unwrap_or(0));
        let raw_offset = u64::from(le32(bytes, header + 20).unwrap_or(0));
        if raw_size > 0 && raw_offset + raw_size > len {
            return Err(truncated(
                format!("section {name:?}"),
                raw_offset + raw_size,
            ));
        }
    }
    // The certificate table is data directory 4; its address is a file offset, not an RVA.
    let directories = match le16(bytes, lfanew + 24) {
        Some(0x20b) => 112,
        _ => 96,
    };
    let entry = lfanew + 24 + directories + 4 * 8;
    if entry + 8 <= lfanew + 24 + opt_size {
        let offset = u64::from(le32(bytes, entry).unwrap_or(0));
        let size = u64::from(le32(bytes, entry + 4).unwrap_or(0));
        if size > 0 && offset + size > len {
            return Err(truncated("the certificate table".to_owned(), offset + size));
        }
    }
    Ok(())
}

impl<'a> Image<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DriverError> {
        precheck(bytes)?;
        let mut warnings = Vec::new();
        let attempts: [(bool, bool, bool, &str); 4] = [
            (true, true, true, ""),
            (
                false,
                true,
                true,
                "the resource directory is malformed and was skipped",
            ),
            (
                false,
                false,
                true,
                "the certificate table is malformed and was skipped",
            ),
            (
                false,
                false,
                false,
                "the import directory is malformed and was skipped; code-site analysis is blind",
            ),
        ];
        let mut last_err = String::new();
        let mut parsed = None;
        for (res, certs, imps, note) in attempts {
            match goblin_parse(bytes, &options(res, certs, imps)) {
                Ok(pe) => {
                    if !note.is_empty() {
                        warnings.push(format!("{note} ({last_err})"));
                    }
                    parsed = Some(pe);
                    break;
                }
                Err(e) => {
                    if last_err.is_empty() {
                        last_err = e;
                    }
                }
            }
        }
        let Some(pe) = parsed else {
            return Err(DriverError::Malformed(format!(
                "the PE structure could not be read: {last_err}"
            )));
        };
        let Some(opt) = pe.header.optional_header else {
            return Err(DriverError::Malformed(
                "the PE image has no optional header (an object file, not an image)".to_owned(),
            ));
        };
        let machine = pe.header.coff_header.machine;
        let sections: Vec<Section> = pe
            .sections
            .iter()
            .map(|s| Section {
                rva: s.virtual_address,
                vsize: s.virtual_size,
                raw_off: s.pointer_to_raw_data,
                raw_size: s.size_of_raw_data,
                exec: s.characteristics & (IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE) != 0,
                writable: s.characteristics & IMAGE_SCN_MEM_WRITE != 0,
            })
            .collect();
        let imports: Vec<ImportRec> = pe
            .imports
            .iter()
            .filter_map(|i| {
                Some(ImportRec {
                    name: i.name.to_string(),
                    slot_rva: u32::try_from(i.offset).ok()?,
                })
            })
            .collect();
        let mut libraries: Vec<String> = pe
            .libraries
            .iter()
            .map(|l| l.to_ascii_lowercase())
            .collect();
        libraries.sort();
        libraries.dedup();
        let image_base = pe.image_base;
        let mut iat = HashMap::new();
        for (i, imp) in imports.iter().enumerate() {
            iat.insert(image_base.wrapping_add(u64::from(imp.slot_rva)), i);
        }
        let export_rvas = pe
            .exports
            .iter()
            .filter(|e| e.reexport.is_none())
            .filter_map(|e| u32::try_from(e.rva).ok())
            .collect();
        // `.pdata` read by hand: goblin 0.10.7's `ExceptionData::functions()` slices without a
        // bounds check and panics on truncated files (found by the mutation tests).
        let mut functions = Vec::new();
        if let Some(dir) = opt.data_directories.get_exception_table()
            && dir.size > 0
        {
            const MAX_FUNCS: usize = 1 << 20;
            let entry = if machine == MACHINE_ARM64 { 8 } else { 12 };
            let count = (dir.size as usize / entry).min(MAX_FUNCS);
            let avail = sections
                .iter()
                .find(|s| dir.virtual_address >= s.rva && dir.virtual_address - s.rva < s.raw_size)
                .map_or(0, |s| {
                    (s.raw_size - (dir.virtual_address - s.rva)) as usize / entry
                });
            let count = count.min(avail);
            if let Some(table) =
                read_rva_static(bytes, &sections, dir.virtual_address, count * entry)
            {
                for e in table.chunks_exact(entry) {
                    let w = |i: usize| u32::from_le_bytes([e[i], e[i + 1], e[i + 2], e[i + 3]]);
                    let begin = w(0);
                    if machine == MACHINE_ARM64 {
                        let unwind = w(4);
                        let len = if unwind & 3 != 0 {
                            ((unwind >> 2) & 0x7ff) * 4
                        } else {
                            read_rva_static(bytes, &sections, unwind & !3, 4)
                                .map(|b| {
                                    (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) & 0x3_ffff) * 4
                                })
                                .unwrap_or(0)
                        };
                        if len > 0 {
                            functions.push((begin, begin.saturating_add(len)));
                        }
                    } else if machine == MACHINE_X64 {
                        let end = w(4);
                        if end > begin {
                            functions.push((begin, end));
                        }
                    }
                }
            }
        }
        functions.sort_unstable();
        functions.dedup();
        let certificates = pe
            .certificates
            .iter()
            .filter(|c| c.certificate_type == AttributeCertificateType::PkcsSignedData)
            .map(|c| c.certificate)
            .collect();
        let resource_dir = opt
            .data_directories
            .get_resource_table()
            .filter(|d| d.virtual_address != 0 && d.size != 0)
            .map(|d| (d.virtual_address, d.size));
        let goblin_version = pe
            .resource_data
            .as_ref()
            .and_then(|r| r.version_info.as_ref())
            .map(|vi| {
                let s = &vi.string_info;
                let fixed = vi.fixed_info.filter(|f| f.is_valid());
                GoblinVersion {
                    strings: [
                        s.company_name(),
                        s.file_description(),
                        s.file_version(),
                        s.product_name(),
                        s.product_version(),
                        s.original_filename(),
                        s.internal_name(),
                        s.legal_copyright(),
                    ],
                    file_version: fixed.map(|f| {
                        let v = f.file_version();
                        [v.major, v.minor, v.build, v.revision]
                    }),
                    product_version: fixed.map(|f| {
                        let v = f.product_version();
                        [v.major, v.minor, v.build, v.revision]
                    }),
                }
            });
        Ok(Image {
            bytes,
            machine,
            timestamp: pe.header.coff_header.time_date_stamp,
            image_base,
            is_64: pe.is_64,
            entry_rva: pe.entry,
            subsystem: Some(opt.windows_fields.subsystem),
            dll_characteristics: opt.windows_fields.dll_characteristics,
            sections,
            imports,
            libraries,
            export_rvas,
            functions,
            resource_dir,
            certificates,
            goblin_version,
            warnings,
            iat,
        })
    }

    pub fn section_of_rva(&self, rva: u32) -> Option<&Section> {
        self.sections.iter().find(|s| {
            let size = s.vsize.max(s.raw_size);
            rva >= s.rva && u64::from(rva) < u64::from(s.rva) + u64::from(size)
        })
    }

    /// File bytes at `rva`, `len` long, if they are backed by the file.
    pub fn read_rva(&self, rva: u32, len: usize) -> Option<&'a [u8]> {
        read_rva_static(self.bytes, &self.sections, rva, len)
    }

    pub fn va_to_rva(&self, va: u64) -> Option<u32> {
        va.checked_sub(self.image_base)
            .and_then(|r| u32::try_from(r).ok())
    }

    pub fn read_u32_va(&self, va: u64) -> Option<u32> {
        let b = self.read_rva(self.va_to_rva(va)?, 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn read_ptr_va(&self, va: u64) -> Option<u64> {
        if self.is_64 {
            let b = self.read_rva(self.va_to_rva(va)?, 8)?;
            Some(u64::from_le_bytes([
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
            ]))
        } else {
            self.read_u32_va(va).map(u64::from)
        }
    }

    /// True for addresses in a section that is not writable (read-only data, or ARM64 literal
    /// pools inside code), whose initial value is therefore the value at run time.
    pub fn is_readonly_data_va(&self, va: u64) -> bool {
        self.va_to_rva(va)
            .and_then(|r| self.section_of_rva(r))
            .is_some_and(|s| !s.writable)
    }

    /// True for addresses in a writable, non-executable section (`.data`, `.bss`).
    pub fn is_data_va(&self, va: u64) -> bool {
        self.va_to_rva(va)
            .and_then(|r| self.section_of_rva(r))
            .is_some_and(|s| s.writable && !s.exec)
    }

    /// Whether a pointer-sized word of a non-executable section's file bytes points into the
    /// `span` bytes from `va`: a pointer the code may write there through without naming the
    /// address.
    pub fn data_points_at(&self, va: u64, span: u64) -> bool {
        let width = if self.is_64 { 8 } else { 4 };
        self.sections.iter().filter(|s| !s.exec).any(|s| {
            let start = s.raw_off as usize;
            let end = start
                .saturating_add(s.raw_size as usize)
                .min(self.bytes.len());
            self.bytes.get(start..end).is_some_and(|b| {
                b.chunks_exact(width).any(|w| {
                    let mut word = [0u8; 8];
                    word[..width].copy_from_slice(w);
                    let p = u64::from_le_bytes(word);
                    p >= va && p < va + span
                })
            })
        })
    }

    /// Executable sections with the file bytes that back them (clipped to the raw size).
    pub fn code_sections(&self) -> Vec<(u32, &'a [u8])> {
        self.sections
            .iter()
            .filter(|s| s.exec)
            .filter_map(|s| {
                let len = s
                    .raw_size
                    .min(if s.vsize == 0 { s.raw_size } else { s.vsize });
                let start = s.raw_off as usize;
                let end = start.checked_add(len as usize)?.min(self.bytes.len());
                (start < end).then(|| (s.rva, &self.bytes[start..end]))
            })
            .collect()
    }
}

fn read_rva_static<'a>(
    bytes: &'a [u8],
    sections: &[Section],
    rva: u32,
    len: usize,
) -> Option<&'a [u8]> {
    let s = sections.iter().find(|s| {
        rva >= s.rva && u64::from(rva) < u64::from(s.rva) + u64::from(s.vsize.max(s.raw_size))
    })?;
    let within = (rva - s.rva) as usize;
    if within.checked_add(len)? > s.raw_size as usize {
        return None;
    }
    let off = (s.raw_off as usize).checked_add(within)?;
    bytes.get(off..off.checked_add(len)?)
}
