//! The Authenticode hash of a PE image: every byte of the file except the optional header's
//! `CheckSum`, the certificate-table entry of the data directories, and the certificate table
//! itself (signing fills in all three after hashing). This is the specification's section-order
//! hash for the files linkers write (headers and sections back to back, the certificate table
//! last), in the form signtool and osslsigncode compute it; data a file carries after its
//! certificate table is hashed too, so bytes appended to a signed file read as a change.

use super::algorithms::DigestAlgorithm;

/// Where the parts signing changes lie in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Offset of the optional header's `CheckSum` (4 bytes).
    checksum: usize,
    /// Offset of data directory 4, the certificate table's (8 bytes), when the header has one.
    certificate_entry: Option<usize>,
    /// The certificate table (offset, size), when the entry names one inside the file.
    pub certificate_table: Option<(usize, usize)>,
}

fn le16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn le32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}

impl Layout {
    /// The layout of a PE file; `None` when the headers are not there to read.
    pub fn of(bytes: &[u8]) -> Option<Self> {
        let pe = le32(bytes, 0x3c)? as usize;
        if bytes.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
            return None;
        }
        let optional = pe + 24;
        let optional_size = usize::from(le16(bytes, pe + 20)?);
        let (count_at, directories) = match le16(bytes, optional)? {
            0x20b => (optional + 108, optional + 112),
            _ => (optional + 92, optional + 96),
        };
        let checksum = optional + 64;
        le32(bytes, checksum)?;
        let entry = directories + 4 * 8;
        let has_entry = le32(bytes, count_at).is_some_and(|n| n > 4)
            && entry + 8 <= optional + optional_size
            && entry + 8 <= bytes.len();
        let certificate_entry = has_entry.then_some(entry);
        let certificate_table = certificate_entry.and_then(|entry| {
            let offset = le32(bytes, entry)? as usize;
            let size = le32(bytes, entry + 4)? as usize;
            (size > 0 && offset >= entry + 8 && offset.checked_add(size)? <= bytes.len())
                .then_some((offset, size))
        });
        Some(Self {
            checksum,
            certificate_entry,
            certificate_table,
        })
    }

    /// The parts of `bytes` the hash covers, in file order.
    fn hashed_parts<'a>(&self, bytes: &'a [u8]) -> Vec<&'a [u8]> {
        let mut skipped = vec![(self.checksum, 4)];
        skipped.extend(self.certificate_entry.map(|e| (e, 8)));
        skipped.extend(self.certificate_table);
        skipped.sort_unstable();
        let mut parts = Vec::with_capacity(skipped.len() + 1);
        let mut at = 0;
        for (start, len) in skipped {
            let start = start.min(bytes.len());
            if start > at {
                parts.push(&bytes[at..start]);
            }
            at = at.max(start.saturating_add(len).min(bytes.len()));
        }
        if at < bytes.len() {
            parts.push(&bytes[at..]);
        }
        parts
    }

    /// The Authenticode hash of `bytes` (the file this layout was read from).
    pub fn hash(&self, bytes: &[u8], algorithm: DigestAlgorithm) -> Vec<u8> {
        algorithm.digest_parts(&self.hashed_parts(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PE32+ header: e_lfanew 0x40, optional header with 16 directories.
    fn image(certificate: Option<(u32, u32)>, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[..2].copy_from_slice(b"MZ");
        b[0x3c..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        b[0x40..0x44].copy_from_slice(b"PE\0\0");
        b[0x40 + 20..0x40 + 22].copy_from_slice(&240u16.to_le_bytes());
        let optional = 0x40 + 24;
        b[optional..optional + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        b[optional + 108..optional + 112].copy_from_slice(&16u32.to_le_bytes());
        if let Some((offset, size)) = certificate {
            let entry = optional + 112 + 32;
            b[entry..entry + 4].copy_from_slice(&offset.to_le_bytes());
            b[entry + 4..entry + 8].copy_from_slice(&size.to_le_bytes());
        }
        b
    }

    #[test]
    fn checksum_entry_and_table_are_left_out() {
        let plain = image(Some((0x200, 0x40)), 0x240);
        let layout = Layout::of(&plain).unwrap();
        assert_eq!(layout.certificate_table, Some((0x200, 0x40)));
        let hash = layout.hash(&plain, DigestAlgorithm::Sha256);
        // Changing the checksum or the certificate table does not change the hash...
        let mut signed = plain.clone();
        signed[0x98..0x9c].copy_from_slice(&[1, 2, 3, 4]);
        signed[0x210] = 0xff;
        assert_eq!(
            Layout::of(&signed)
                .unwrap()
                .hash(&signed, DigestAlgorithm::Sha256),
            hash
        );
        // ...and a byte anywhere else, or one appended after the table, does.
        let mut changed = plain.clone();
        changed[0x1ff] = 1;
        assert_ne!(
            Layout::of(&changed)
                .unwrap()
                .hash(&changed, DigestAlgorithm::Sha256),
            hash
        );
        let mut appended = plain.clone();
        appended.push(0);
        assert_ne!(
            Layout::of(&appended)
                .unwrap()
                .hash(&appended, DigestAlgorithm::Sha256),
            hash
        );
    }

    #[test]
    fn a_table_outside_the_file_is_no_table() {
        let b = image(Some((0x200, 0x1000)), 0x240);
        assert_eq!(Layout::of(&b).unwrap().certificate_table, None);
        assert_eq!(Layout::of(b"MZ"), None);
    }
}
