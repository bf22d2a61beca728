//! The calls into Windows: `NtQuerySystemInformation` for the pool-tag table, and
//! `EnumDeviceDrivers` / `GetDeviceDriverFileNameW` for the loaded drivers' images.

use std::ffi::c_void;

use windows_sys::Wdk::System::SystemInformation::NtQuerySystemInformation;
use windows_sys::Win32::System::ProcessStatus::{EnumDeviceDrivers, GetDeviceDriverFileNameW};

use super::{CollectError, DriverFile, file_versions, win32_path};
use crate::pool_tag_info::SYSTEM_POOL_TAG_INFORMATION_CLASS;

/// One `NtQuerySystemInformation(SystemPoolTagInformation)` into `buffer`.
pub(super) fn query_pool_tags(buffer: &mut [u8]) -> (i32, u32) {
    let len = u32::try_from(buffer.len()).unwrap_or(u32::MAX);
    let mut returned = 0u32;
    // SAFETY: the pointer and length describe `buffer`, which outlives the call; the kernel
    // writes at most `len` bytes into it and the length it used (or needs) into `returned`.
    let status = unsafe {
        NtQuerySystemInformation(
            SYSTEM_POOL_TAG_INFORMATION_CLASS,
            buffer.as_mut_ptr().cast::<c_void>(),
            len,
            &mut returned,
        )
    };
    (status, returned)
}

/// The loaded drivers' images with their versions, and a warning per file not read.
pub(super) fn loaded_drivers() -> Result<(Vec<DriverFile>, Vec<String>), CollectError> {
    let bases = driver_bases()?;
    let system_root = std::env::var("SystemRoot").unwrap_or_else(|_| "C:\\Windows".to_owned());
    let system_drive = std::env::var("SystemDrive").unwrap_or_else(|_| "C:".to_owned());
    let mut drivers = Vec::with_capacity(bases.len());
    let mut warnings = Vec::new();
    for base in bases {
        let Some(kernel_path) = driver_file_name(base) else {
            continue;
        };
        let path = win32_path(&kernel_path, &system_root, &system_drive);
        let (file_version, product_version) = match std::fs::read(&path) {
            Ok(bytes) => file_versions(&bytes),
            Err(e) => {
                warnings.push(format!("cannot read {path} for its version: {e}"));
                (None, None)
            }
        };
        drivers.push(DriverFile {
            path,
            file_version,
            product_version,
        });
    }
    Ok((drivers, warnings))
}

fn driver_bases() -> Result<Vec<*mut c_void>, CollectError> {
    let mut bases: Vec<*mut c_void> = vec![std::ptr::null_mut(); 1024];
    for _ in 0..4 {
        let size = u32::try_from(std::mem::size_of_val(bases.as_slice())).unwrap_or(u32::MAX);
        let mut needed = 0u32;
        // SAFETY: `bases` has room for `size` bytes of image-base pointers; the call writes
        // at most that many and the size it needs into `needed`.
        let ok = unsafe { EnumDeviceDrivers(bases.as_mut_ptr(), size, &mut needed) };
        if ok == 0 {
            return Err(CollectError::Drivers(format!(
                "EnumDeviceDrivers failed: {}",
                std::io::Error::last_os_error()
            )));
        }
        let count = needed as usize / std::mem::size_of::<*mut c_void>();
        if needed <= size {
            bases.truncate(count);
            return Ok(bases);
        }
        bases.resize(count + 64, std::ptr::null_mut());
    }
    Err(CollectError::Drivers(
        "the list of loaded drivers kept growing".to_owned(),
    ))
}

fn driver_file_name(base: *mut c_void) -> Option<String> {
    let mut name = vec![0u16; 1024];
    let capacity = u32::try_from(name.len()).unwrap_or(u32::MAX);
    // SAFETY: `name` has room for `capacity` UTF-16 units; the call writes at most that many
    // and returns how many it wrote (0 on failure).
    let written = unsafe { GetDeviceDriverFileNameW(base, name.as_mut_ptr(), capacity) };
    (written > 0).then(|| String::from_utf16_lossy(&name[..written as usize]))
}
