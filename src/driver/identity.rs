//! File identity: hash, machine, link timestamp, kernel-driver detection.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::apis::{KERNEL_MODULES, USER_MODULES};
use super::image::{Image, MACHINE_ARM64, MACHINE_X64, MACHINE_X86};

/// CPU architecture from the COFF header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Machine {
    X64,
    X86,
    Arm64,
    Other(u16),
}

impl Machine {
    pub fn from_coff(m: u16) -> Self {
        match m {
            MACHINE_X64 => Machine::X64,
            MACHINE_X86 => Machine::X86,
            MACHINE_ARM64 => Machine::Arm64,
            other => Machine::Other(other),
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a PE link time. `None` for 0 (unset). Reproducible builds
/// (`/Brepro`) store a hash instead of a time, which still formats as some date.
pub fn timestamp_iso(ts: u32) -> Option<String> {
    if ts == 0 {
        return None;
    }
    let secs = i64::from(ts);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// How sure we are about the image being a kernel-mode module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelVerdict {
    Kernel(String),
    User(String),
    Unclear(String),
}

pub(crate) fn kernel_verdict(image: &Image<'_>) -> KernelVerdict {
    const NATIVE: u16 = 1;
    let kernel_imports: Vec<&str> = image
        .libraries
        .iter()
        .filter(|l| KERNEL_MODULES.contains(&l.as_str()))
        .map(String::as_str)
        .collect();
    let user_imports: Vec<&str> = image
        .libraries
        .iter()
        .filter(|l| {
            USER_MODULES.contains(&l.as_str())
                || l.starts_with("api-ms-win-")
                || l.starts_with("ext-ms-win-")
        })
        .map(String::as_str)
        .collect();
    let subsystem = image.subsystem.unwrap_or(0);
    if !kernel_imports.is_empty() {
        if user_imports.is_empty() {
            return KernelVerdict::Kernel(format!("imports {}", kernel_imports.join(", ")));
        }
        return KernelVerdict::Kernel(format!(
            "imports kernel modules ({}) next to user-mode DLLs ({}), as Wine's builtin drivers do",
            kernel_imports.join(", "),
            user_imports.join(", ")
        ));
    }
    if subsystem == NATIVE {
        let only_ntdll =
            !image.libraries.is_empty() && image.libraries.iter().all(|l| l == "ntdll.dll");
        if only_ntdll {
            return KernelVerdict::User(
                "a native-subsystem program that imports only ntdll.dll (like smss.exe or autochk.exe)"
                    .to_owned(),
            );
        }
        if user_imports.is_empty() {
            return KernelVerdict::Kernel("native subsystem and no user-mode imports".to_owned());
        }
        return KernelVerdict::Unclear(format!(
            "native subsystem but imports only user-mode DLLs ({}), as Wine's builtin drivers do",
            user_imports.join(", ")
        ));
    }
    if image.dll_characteristics & 0x2000 != 0 && user_imports.is_empty() {
        return KernelVerdict::Kernel("WDM_DRIVER flag set and no user-mode imports".to_owned());
    }
    let what = match subsystem {
        2 => "Windows GUI".to_owned(),
        3 => "Windows console".to_owned(),
        10..=13 => "EFI".to_owned(),
        n => format!("subsystem {n}"),
    };
    if user_imports.is_empty() {
        KernelVerdict::User(format!("{what} subsystem and no kernel-module imports"))
    } else {
        KernelVerdict::User(format!(
            "{what} subsystem, imports user-mode DLLs ({}) and no kernel module",
            user_imports.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps() {
        assert_eq!(timestamp_iso(0), None);
        assert_eq!(timestamp_iso(1).as_deref(), Some("1970-01-01T00:00:01Z"));
        assert_eq!(
            timestamp_iso(1_700_000_000).as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            timestamp_iso(u32::MAX).as_deref(),
            Some("2106-02-07T06:28:15Z")
        );
        assert_eq!(
            timestamp_iso(951_782_400).as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
    }

    #[test]
    fn sha256_of_empty() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
