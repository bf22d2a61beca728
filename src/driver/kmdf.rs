//! KMDF: binding to the framework (`WdfVersionBind` from WDFLDR.SYS), the bound version from the
//! static `WDF_BIND_INFO`, and the default pool tag derived from the service name.

use serde::{Deserialize, Serialize};

use super::code_sites::DriverCreateSite;
use super::image::Image;
use crate::tag::PoolTag;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KmdfInfo {
    /// KMDF version from `WDF_BIND_INFO.Version` ("major.minor"), when readable.
    pub version: Option<String>,
    /// The service name assumed for the default tag: the file stem.
    pub service_name: String,
    /// The tag the framework uses for `service_name` when the driver sets no `DriverPoolTag`;
    /// the driver's only when `driver_object` is [`DriverObject::DefaultTag`].
    pub default_tag: PoolTag,
    /// `WDF_DRIVER_CONFIG.DriverPoolTag` set at the `WdfDriverCreate` call, when found.
    pub driver_pool_tag: Option<PoolTag>,
    /// Whether the driver creates a KMDF driver object, and which tag the framework then
    /// allocates its objects under.
    #[serde(default)]
    pub driver_object: DriverObject,
}

/// What the code shows of a KMDF driver's `WdfDriverCreate` call (table index 116, see
/// [`super::apis::WDF_APIS`]), which creates the driver object the framework tags its
/// allocations for the driver with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DriverObject {
    /// No `WdfDriverCreate` call was found: no framework tag is known to be the driver's (a
    /// KMDF library or class extension client, or a call the scan did not follow).
    #[default]
    NotFound,
    /// `DriverPoolTag` is 0: the framework uses the default tag of the service name.
    DefaultTag,
    /// `DriverPoolTag` is set (in [`KmdfInfo::driver_pool_tag`]).
    OwnTag,
    /// `DriverPoolTag` is computed at run time.
    Unresolved,
}

impl DriverObject {
    /// In words, for pages and reports.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NotFound => "no WdfDriverCreate call found (no framework tag is the driver's)",
            Self::DefaultTag => {
                "WdfDriverCreate sets no DriverPoolTag: the framework uses the default tag"
            }
            Self::OwnTag => "WdfDriverCreate sets its own DriverPoolTag",
            Self::Unresolved => "WdfDriverCreate sets a DriverPoolTag computed at run time",
        }
    }
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
    driver_creates: &[DriverCreateSite],
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
    let pool_tags: Vec<u32> = driver_creates
        .iter()
        .flat_map(|c| c.pool_tags.iter().copied())
        .collect();
    let driver_pool_tag = pool_tags
        .iter()
        .find(|&&v| v != 0 && PoolTag::is_character_tag(v))
        .map(|&v| PoolTag::from_u32_le(v));
    let driver_object = if driver_creates.is_empty() {
        DriverObject::NotFound
    } else if driver_pool_tag.is_some() {
        DriverObject::OwnTag
    } else if driver_creates.iter().any(|c| c.pool_tags.is_empty())
        || pool_tags.iter().any(|&v| v != 0)
    {
        DriverObject::Unresolved
    } else {
        DriverObject::DefaultTag
    };
    let service_name = service_name_of(file_name);
    KmdfInfo {
        version,
        default_tag: kmdf_default_tag(&service_name),
        service_name,
        driver_pool_tag,
        driver_object,
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
