//! UTF-16 in uploads: Windows tools write it (PowerShell 5's `>` and `Out-File`, Notepad's
//! "Unicode"), with or without a byte-order mark.

/// The byte order of UTF-16 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn read(self, pair: &[u8]) -> u16 {
        let pair = [pair[0], pair[1]];
        match self {
            Self::Little => u16::from_le_bytes(pair),
            Self::Big => u16::from_be_bytes(pair),
        }
    }
}

/// When `bytes` are UTF-16: their byte order and the text after any byte-order mark. Without a
/// mark, nine in ten of the first 16-bit units must be ASCII in little-endian order (the BOM-less
/// form PowerShell writes); big-endian text needs its mark.
pub fn detect(bytes: &[u8]) -> Option<(ByteOrder, &[u8])> {
    if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        return Some((ByteOrder::Little, rest));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        return Some((ByteOrder::Big, rest));
    }
    let sample = &bytes[..bytes.len().min(512)];
    let pairs = sample.len() / 2;
    let ascii_units = sample
        .chunks_exact(2)
        .filter(|c| c[1] == 0 && c[0] != 0)
        .count();
    (pairs >= 4 && ascii_units * 10 >= pairs * 9).then_some((ByteOrder::Little, bytes))
}

/// The 16-bit units of UTF-16 text (a trailing odd byte is dropped).
pub fn units(bytes: &[u8], order: ByteOrder) -> impl Iterator<Item = u16> + '_ {
    bytes.chunks_exact(2).map(move |pair| order.read(pair))
}

/// The text, with unpaired surrogates replaced.
pub fn decode(bytes: &[u8], order: ByteOrder) -> String {
    char::decode_utf16(units(bytes, order))
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_and_decodes_both_orders() {
        let text = "Tag - drv.sys - description\r\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let (order, rest) = detect(&le).unwrap();
        assert_eq!(decode(rest, order), text);
        let mut be = b"\xfe\xff".to_vec();
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        let (order, rest) = detect(&be).unwrap();
        assert_eq!(
            (order, decode(rest, order).as_str()),
            (ByteOrder::Big, text)
        );
        assert!(detect(text.as_bytes()).is_none());
    }
}
