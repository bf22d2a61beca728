//! The kernel exports that take a pool tag, and where the tag argument lives.
//!
//! Source: the project's notes `../shared/docs/pool-tag-apis.md`, sections 1.2 to 1.4.
//! Positions are 1-based and count the arguments of the *real* call (after header inlines are
//! expanded).

use utoipa::ToSchema;

/// What a tag-taking call does with its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ToSchema)]
pub enum ApiKind {
    /// Allocates pool (or creates a pool-backed object) under the tag.
    Alloc,
    /// Frees pool; the tag must match the allocation's (often 0, which is ignored).
    Free,
    /// Initializes a lookaside list that allocates under the tag.
    Lookaside,
    /// Initializes a remove lock (`IoInitializeRemoveLockEx`): nothing is allocated from pool
    /// under its tag; the I/O manager uses it for tracking blocks only when Driver Verifier is
    /// on (pool-tag-apis.md, section 1.2), so the tag makes the driver no owner of pool bytes.
    RemoveLock,
    /// Sets the tag the KMDF framework allocates under on the driver's behalf
    /// (`WDF_DRIVER_CONFIG.DriverPoolTag` at `WdfDriverCreate`); 0 leaves the default tag.
    FrameworkTag,
}

impl ApiKind {
    /// Whether the driver's own code allocates (or frees) pool under the tag at such a call.
    pub fn is_pool_use(self) -> bool {
        matches!(self, Self::Alloc | Self::Free | Self::Lookaside)
    }
}

/// Where the tag is passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagArg {
    /// The tag is argument `pos` of the call. `x86_slot` is its 4-byte stack slot on x86
    /// (differs from `pos` when an earlier argument is 64-bit), `x86_fastcall` means it is in EDX.
    Arg { pos: u8, x86_slot: u8 },
    /// Argument `pos` points at a structure whose `u32` field at `off64` (x64, ARM64) or `off32`
    /// (x86) is the tag.
    StructField { pos: u8, off64: u8, off32: u8 },
}

/// One tag-taking API.
#[derive(Debug, Clone, Copy)]
pub struct PoolApi {
    pub name: &'static str,
    pub kind: ApiKind,
    pub tag: TagArg,
    /// Bytes of arguments a stdcall callee pops on x86 (0 = cdecl / unknown).
    pub x86_stack_bytes: u16,
}

const fn arg(
    name: &'static str,
    kind: ApiKind,
    pos: u8,
    x86_slot: u8,
    total_slots: u16,
) -> PoolApi {
    PoolApi {
        name,
        kind,
        tag: TagArg::Arg { pos, x86_slot },
        x86_stack_bytes: total_slots * 4,
    }
}

use ApiKind::{Alloc, Free, Lookaside, RemoveLock};

/// Imported functions whose tag argument we read. Object-reference tags (`Ob*WithTag`) are
/// deliberately absent: they are not pool tags.
pub const POOL_APIS: &[PoolApi] = &[
    arg("ExAllocatePoolWithTag", Alloc, 3, 3, 3),
    arg("ExAllocatePoolWithQuotaTag", Alloc, 3, 3, 3),
    arg("ExAllocatePoolWithTagPriority", Alloc, 3, 3, 4),
    arg("ExAllocatePool2", Alloc, 3, 4, 4),
    arg("ExAllocatePool3", Alloc, 3, 4, 6),
    arg("ExFreePoolWithTag", Free, 2, 2, 2),
    arg("ExFreePool2", Free, 2, 2, 4),
    arg("ExInitializeNPagedLookasideList", Lookaside, 6, 6, 7),
    arg("ExInitializePagedLookasideList", Lookaside, 6, 6, 7),
    arg("ExInitializeLookasideListEx", Lookaside, 7, 7, 8),
    arg("ExAllocateCacheAwareRundownProtection", Alloc, 2, 2, 2),
    arg("ExCreatePool", Alloc, 2, 2, 4),
    arg("MmAllocateMappingAddress", Alloc, 2, 2, 2),
    arg("MmAllocateMappingAddressEx", Alloc, 2, 2, 3),
    arg("MmFreeMappingAddress", Free, 2, 2, 2),
    arg("MmMapLockedPagesWithReservedMapping", Alloc, 2, 2, 4),
    arg("MmUnmapReservedMapping", Free, 2, 2, 3),
    arg("MmAllocateContiguousMemoryEx", Alloc, 8, 8, 0),
    arg("FsRtlAllocateExtraCreateParameter", Alloc, 5, 5, 6),
    arg(
        "FsRtlInitExtraCreateParameterLookasideList",
        Lookaside,
        4,
        4,
        4,
    ),
    arg("FsRtlAllocateAePushLock", Alloc, 2, 2, 2),
    arg("IoInitializeRemoveLockEx", RemoveLock, 2, 2, 5),
    arg("NdisAllocateMemoryWithTagPriority", Alloc, 3, 3, 4),
    arg("NdisAllocateMemoryWithTag", Alloc, 3, 3, 3),
    arg("NdisFreeMemoryWithTagPriority", Free, 3, 3, 3),
    arg("NdisFreeMemoryWithTag", Free, 2, 2, 2),
    arg("NdisAllocateGenericObject", Alloc, 2, 2, 3),
    arg("NdisAllocateCloneOidRequest", Alloc, 3, 3, 4),
    arg("NdisAllocateNetBufferListContext", Alloc, 4, 4, 4),
    PoolApi {
        name: "NdisAllocateNetBufferListPool",
        kind: Alloc,
        tag: TagArg::StructField {
            pos: 2,
            off64: 8,
            off32: 8,
        },
        x86_stack_bytes: 8,
    },
    arg("FltAllocatePoolAlignedWithTag", Alloc, 4, 4, 4),
    arg("FltFreePoolAlignedWithTag", Free, 3, 3, 3),
    arg("FltAllocateExtraCreateParameter", Alloc, 6, 6, 7),
    arg(
        "FltInitExtraCreateParameterLookasideList",
        Lookaside,
        5,
        5,
        5,
    ),
    // StorPortAllocatePool is an inline over the variadic (cdecl) StorPortExtendedFunction.
    // Only ExtFunctionAllocatePool (argument 1 == 0) carries a tag; see `StorPortExtendedFunction`
    // handling in the scanners.
    PoolApi {
        name: "StorPortExtendedFunction",
        kind: Alloc,
        tag: TagArg::Arg {
            pos: 4,
            x86_slot: 4,
        },
        x86_stack_bytes: 0,
    },
    arg("VideoPortAllocatePool", Alloc, 4, 4, 4),
    arg("_KsEdit", Alloc, 5, 5, 5),
];

/// Looks an imported name up in [`POOL_APIS`].
pub fn find_api(name: &str) -> Option<usize> {
    POOL_APIS.iter().position(|a| a.name == name)
}

/// KMDF function-table entries that take a tag (section 1.4). Positions count the hidden
/// `WdfDriverGlobals` first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WdfApi {
    pub index: u32,
    pub name: &'static str,
    pub kind: ApiKind,
    pub tag: TagArg,
}

pub const WDF_APIS: &[WdfApi] = &[
    WdfApi {
        index: 192,
        name: "WdfMemoryCreate",
        kind: Alloc,
        tag: TagArg::Arg {
            pos: 4,
            x86_slot: 4,
        },
    },
    WdfApi {
        index: 198,
        name: "WdfLookasideListCreate",
        kind: Lookaside,
        tag: TagArg::Arg {
            pos: 6,
            x86_slot: 6,
        },
    },
    // WdfDriverCreateTableIndex = 116 in wdffuncenum.h (microsoft/Windows-Driver-Frameworks,
    // src/publicinc/wdf/kmdf/1.31/wdffuncenum.h @ aee07c35). `WDF_DRIVER_CONFIG` is
    // { ULONG Size; PFN EvtDriverDeviceAdd; PFN EvtDriverUnload; ULONG DriverInitFlags;
    // ULONG DriverPoolTag; } (wdfdriver.h): DriverPoolTag at 0x1C on 64-bit, 0x10 on x86.
    WdfApi {
        index: 116,
        name: "WdfDriverCreate",
        kind: ApiKind::FrameworkTag,
        tag: TagArg::StructField {
            pos: 5,
            off64: 0x1C,
            off32: 0x10,
        },
    },
];

pub fn find_wdf(index: u64) -> Option<&'static WdfApi> {
    WDF_APIS.iter().find(|w| u64::from(w.index) == index)
}

/// Tags that statically linked WDK libraries put into many drivers (domain-notes.md,
/// pool-tag-apis.md section 5). `wdmsec.lib` (IoCreateDeviceSecure) brings the first five.
pub const STATIC_LIBRARY_TAGS: &[&[u8; 4]] = &[b"SeAl", b"PpRb", b"SeSd", b"SeTs", b"PpUc"];

/// Kernel modules a driver imports from (lower-case).
pub const KERNEL_MODULES: &[&str] = &[
    "ntoskrnl.exe",
    "hal.dll",
    "ndis.sys",
    "fltmgr.sys",
    "wdfldr.sys",
    "storport.sys",
    "scsiport.sys",
    "classpnp.sys",
    "ks.sys",
    "portcls.sys",
    "videoprt.sys",
    "dxgkrnl.sys",
    "netio.sys",
    "fwpkclnt.sys",
    "cng.sys",
    "ksecdd.sys",
    "wmilib.sys",
    "usbd.sys",
    "hidclass.sys",
    "clfs.sys",
    "wpprecorder.sys",
    "tdi.sys",
    "ataport.sys",
    "bootvid.dll",
    "kdcom.dll",
    "ci.dll",
    "msrpc.sys",
    "ksecpkg.sys",
    "tbs.sys",
    "usbport.sys",
    "hidparse.sys",
    "wdfldr.sys",
    "ntkrnlpa.exe",
    "ntkrnlmp.exe",
];

/// User-mode system DLLs whose import marks a PE as user mode.
pub const USER_MODULES: &[&str] = &[
    "kernel32.dll",
    "kernelbase.dll",
    "ntdll.dll",
    "user32.dll",
    "advapi32.dll",
    "msvcrt.dll",
    "ucrtbase.dll",
    "gdi32.dll",
    "ws2_32.dll",
    "shell32.dll",
    "ole32.dll",
    "mscoree.dll",
];

pub fn is_static_library_tag(bytes: &[u8; 4]) -> bool {
    STATIC_LIBRARY_TAGS.contains(&bytes)
}
