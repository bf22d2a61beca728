//! KMDF: binding to the framework (`WdfVersionBind` from WDFLDR.SYS), the bound version from the
//! static `WDF_BIND_INFO`, and the default pool tag derived from the service name.

use serde::{Deserialize, Serialize};

use super::image::Image;
use crate::tag::PoolTag;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KmdfInfo {
    /// KMDF version from `WDF_BIND_INFO.Version` ("major.minor"), when readable.
    pub version: Option<String>,
    /// The service name assumed for the default tag: the file stem.
    pub service_name: String,
    /// The tag the framework uses when the driver sets no `DriverPoolTag`.
    pub default_tag: PoolTag,
    /// `WDF_DRIVER_CONFIG.DriverPoolTag` set at the `WdfDriverCreate` call, when found.
    pub driver_pool_tag: Option<PoolTag>,
}

/// The KMDF default tag for a service (domain-notes.md): the first four characters of the
/// service name, after a leading "WDF" (any case); `FxDr` if fewer than four remain.
pub fn kmdf_default_tag(service_name: &str) -> PoolTag {
    let chars: Vec<char> = service_name.chars().collect();
    let skip = if chars.len() >= 3
        && chars[..3]
            .iter()
            .collect::<String>()
            .eq_ignore_ascii_case("WDF")
    {
        3
    } else {
        0
    };
    let rest = &chars[skip..];
    if rest.len() < 4 {
        return PoolTag::from_bytes(*b"FxDr");
    }
    // The framework narrows each UTF-16 unit to a byte.
    let b = |c: char| (u32::from(c) & 0xff) as u8;
    PoolTag::from_bytes([b(rest[0]), b(rest[1]), b(rest[2]), b(rest[3])])
}

/// The service name we assume for a file: its stem (`foo.sys` -> `foo`).
pub fn service_name_of(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    match base.rfind('.') {
        Some(i) if i > 0 => base[..i].to_owned(),
        _ => base.to_owned(),
    }
}

pub(crate) fn info(
    image: &Image<'_>,
    file_name: &str,
    bind_info: Option<u64>,
    driver_pool_tag: Option<PoolTag>,
    warnings: &mut Vec<String>,
) -> KmdfInfo {
    let version = bind_info.and_then(|bi| {
        let off = if image.is_64 { 0x10 } else { 0x8 };
        let major = image.read_u32_va(bi + off)?;
        let minor = image.read_u32_va(bi + off + 4)?;
        (major < 100 && minor < 1000).then(|| format!("{major}.{minor}"))
    });
    if version.is_none() {
        warnings.push(
            "KMDF driver (imports WdfVersionBind) but its WDF_BIND_INFO was not found; version unknown"
                .to_owned(),
        );
    }
    let service_name = service_name_of(file_name);
    KmdfInfo {
        version,
        default_tag: kmdf_default_tag(&service_name),
        service_name,
        driver_pool_tag,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tag_rule() {
        assert_eq!(kmdf_default_tag("usbhub3").to_string(), "usbh");
        assert_eq!(kmdf_default_tag("WdfDemo").to_string(), "Demo");
        assert_eq!(kmdf_default_tag("wdfdemo").to_string(), "demo");
        assert_eq!(kmdf_default_tag("WDFab").to_string(), "FxDr");
        assert_eq!(kmdf_default_tag("abc").to_string(), "FxDr");
        assert_eq!(kmdf_default_tag("").to_string(), "FxDr");
        assert_eq!(kmdf_default_tag("WDF").to_string(), "FxDr");
        assert_eq!(kmdf_default_tag("abcd").to_string(), "abcd");
        assert_eq!(kmdf_default_tag("Wdf1234").to_string(), "1234");
    }

    #[test]
    fn service_names() {
        assert_eq!(service_name_of("C:\\x\\foo.sys"), "foo");
        assert_eq!(service_name_of("bar"), "bar");
        assert_eq!(service_name_of(".sys"), ".sys");
    }
}
