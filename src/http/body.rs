//! Reading snapshot uploads with bounded work: a size cap, an early refusal of bodies that are
//! not text, and a server-wide budget for the bytes that public analyses hold at once.

use std::pin::Pin;
use std::sync::Arc;

use axum::body::{Body, HttpBody};
use axum::http::{HeaderMap, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ApiError;
use crate::utf16;

/// How much of an upload is looked at before deciding that it is not text.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Text (any of the snapshot formats, UTF-8 or UTF-16) has next to no control characters; a
/// binary file has many (random bytes about 11%, executables and dumps far more). One in 50 is
/// well clear of both.
const MAX_CONTROL_SHARE_PERCENT: usize = 2;

/// Counts an upload's bytes against its cap and against the server-wide budget, and refuses a
/// part whose first [`SNIFF_BYTES`] are not text.
pub struct BoundedUpload {
    limit: usize,
    setting: &'static str,
    read: usize,
    /// The Content-Length, when the client sent one.
    announced: Option<usize>,
    budget: Arc<Semaphore>,
    held: Option<OwnedSemaphorePermit>,
}

impl BoundedUpload {
    /// Refuses at once a body whose announced length is over `limit`.
    pub fn new(
        limit: usize,
        setting: &'static str,
        budget: Arc<Semaphore>,
        headers: &HeaderMap,
    ) -> Result<Self, ApiError> {
        let announced = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > limit as u64) {
            return Err(ApiError::PayloadTooLarge { limit, setting });
        }
        Ok(Self {
            limit,
            setting,
            read: 0,
            announced: announced.map(|n| n as usize),
            budget,
            held: None,
        })
    }

    /// Accounts for `chunk`: over the cap is a 413, over the server's budget a 503.
    pub fn take(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        self.read += chunk.len();
        if self.read > self.limit {
            return Err(ApiError::PayloadTooLarge {
                limit: self.limit,
                setting: self.setting,
            });
        }
        let permits = u32::try_from(chunk.len()).map_err(|_| ApiError::Busy)?;
        let permit = self
            .budget
            .clone()
            .try_acquire_many_owned(permits)
            .map_err(|_| ApiError::Busy)?;
        match &mut self.held {
            Some(held) => held.merge(permit),
            None => self.held = Some(permit),
        }
        Ok(())
    }

    /// The budget this upload holds; the bytes count against it until this is dropped.
    pub fn into_hold(self) -> Option<OwnedSemaphorePermit> {
        self.held
    }

    /// Reads a whole raw body as one text part.
    pub async fn read_body(&mut self, mut body: Body) -> Result<Vec<u8>, ApiError> {
        let mut part = TextPart {
            bytes: Vec::with_capacity(self.announced.unwrap_or(0)),
            checked: false,
        };
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            let frame = frame.map_err(|e| ApiError::BadRequest(format!("unreadable body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                self.take(&data)?;
                part.push(&data)?;
            }
        }
        part.finish()
    }
}

/// One text part as it arrives: checked once its first [`SNIFF_BYTES`] are in.
#[derive(Default)]
pub struct TextPart {
    bytes: Vec<u8>,
    checked: bool,
}

impl TextPart {
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        self.bytes.extend_from_slice(chunk);
        if !self.checked && self.bytes.len() >= SNIFF_BYTES {
            self.check()?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<u8>, ApiError> {
        if !self.checked {
            self.check()?;
        }
        Ok(self.bytes)
    }

    fn check(&mut self) -> Result<(), ApiError> {
        self.checked = true;
        let start = &self.bytes[..self.bytes.len().min(SNIFF_BYTES)];
        // A driver, an archive or a dump is named for what it is, with where it goes.
        if let Some(refused) = crate::snapshot::refuse_binary(start)
            && let crate::snapshot::SnapshotErrorKind::NotASnapshot(input) = refused.kind
        {
            return Err(ApiError::NotASnapshot {
                input,
                message: refused.message,
            });
        }
        match control_share_percent(start) {
            Some(percent) if percent > MAX_CONTROL_SHARE_PERCENT => {
                Err(ApiError::Unprocessable(format!(
                    "this is not text: {percent}% of its first {} bytes are NUL or control \
                     characters; send the text of poolmon (`poolmon -b -n file.txt`), \
                     `!poolused`, or a table of tags and sizes (driver files go to \
                     /api/v1/drivers)",
                    start.len()
                )))
            }
            _ => Ok(()),
        }
    }
}

/// The share (in percent, rounded down) of NUL and control characters in `bytes`, read as
/// UTF-16 when it looks like UTF-16 (as the snapshot reader does), else byte by byte. `None`
/// for an empty input.
pub fn control_share_percent(bytes: &[u8]) -> Option<usize> {
    let is_control = |unit: u16| {
        // Tab, line feed, form feed, carriage return and escape (terminal captures) are text.
        (unit < 0x20 && !matches!(unit, 0x09 | 0x0a | 0x0c | 0x0d | 0x1b)) || unit == 0x7f
    };
    let (units, controls) = match utf16::detect(bytes) {
        Some((order, text)) => {
            let units = utf16::units(text, order);
            (text.len() / 2, units.filter(|&u| is_control(u)).count())
        }
        None => {
            let controls = bytes.iter().filter(|&&b| is_control(u16::from(b))).count();
            (bytes.len(), controls)
        }
    };
    (units > 0).then(|| controls * 100 / units)
}

#[cfg(test)]
mod tests {
    use super::control_share_percent;

    #[test]
    fn text_in_any_encoding_has_no_control_share() {
        let text = " Tag  Type     Allocs  Frees  Diff   Bytes  Per Alloc\r\n NtfF Paged 10 5 5 1000 200\n\t\x1b[0m\x0c";
        assert_eq!(control_share_percent(text.as_bytes()), Some(0));
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(control_share_percent(&le), Some(0));
        let mut bom_le = b"\xff\xfe".to_vec();
        bom_le.extend_from_slice(&le);
        assert_eq!(control_share_percent(&bom_le), Some(0));
        let mut bom_be = b"\xfe\xff".to_vec();
        bom_be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(control_share_percent(&bom_be), Some(0));
        assert_eq!(control_share_percent("Größe · 12 KB".as_bytes()), Some(0));
        assert_eq!(control_share_percent(b""), None);
    }

    #[test]
    fn binaries_are_mostly_control_bytes() {
        let mut pe = vec![0u8; 4096];
        pe[..2].copy_from_slice(b"MZ");
        assert!(control_share_percent(&pe).unwrap() > 90);
        // Random bytes (a fixed xorshift sequence): about 11%.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let random: Vec<u8> = (0..65536)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let share = control_share_percent(&random).unwrap();
        assert!((8..=14).contains(&share), "{share}");
    }
}
