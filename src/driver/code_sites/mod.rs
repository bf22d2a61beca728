//! Code-site tag recovery: find calls to tag-taking APIs (imports, import thunks, the driver's
//! own allocation wrappers, KMDF `WdfFunctions` table entries) and recover the constant tag
//! argument with a small forward abstract interpretation per function.
//!
//! The state tracks, per register and per stack slot, one of: a small set of constants, the
//! function's k-th incoming parameter, an import, the KMDF function table (or one of its
//! entries), or a stack address. States flow along the fall-through path and along forward
//! branches (joined at their targets); backward branches are ignored. Calls clobber volatile
//! registers. Every pass is bounded by a shared instruction budget.
//!
//! x86 (32-bit) code passes arguments by pushes, so two things a reader follows are followed
//! there too: a call to one of the driver's own functions pops what its `ret N` pops; and a
//! stack pointer whose offset from the entry is lost (paths of different depths joined) floats,
//! so later pushes still read back. On x86 and x64, a load from a writable global the code
//! never writes (nor takes the address of, nor the data holds a pointer to) is its initial
//! value in the image; such a tag is reported as a global's initial value, since the driver
//! may still change it at run time in ways not seen here.

pub(crate) mod arm64;
pub(crate) mod x86;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::apis::{ApiKind, POOL_APIS, TagArg, WdfApi, find_api};
use super::image::{Image, MACHINE_ARM64, MACHINE_X64, MACHINE_X86};

/// Where a function receives a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ParamLoc {
    /// The k-th argument under the platform's standard convention.
    Arg(u8),
    /// A register argument outside the standard convention (GCC `regparm` local functions on
    /// x86); the number is the register index.
    Reg(u8),
}

/// Up to four constants a location may hold (after joining branches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConstSet {
    v: [u64; 4],
    n: u8,
}

impl ConstSet {
    pub fn one(v: u64) -> Self {
        Self {
            v: [v, 0, 0, 0],
            n: 1,
        }
    }
    pub fn values(&self) -> &[u64] {
        &self.v[..usize::from(self.n)]
    }
    pub fn single(&self) -> Option<u64> {
        (self.n == 1).then_some(self.v[0])
    }
    pub fn union(&self, other: &Self) -> Option<Self> {
        let mut out = *self;
        for &x in other.values() {
            if !out.values().contains(&x) {
                if out.n == 4 {
                    return None;
                }
                out.v[usize::from(out.n)] = x;
                out.n += 1;
            }
        }
        Some(out)
    }
    pub fn map(&self, f: impl Fn(u64) -> u64) -> Self {
        let mut out = *self;
        for i in 0..usize::from(out.n) {
            out.v[i] = f(out.v[i]);
        }
        out
    }
}

/// Abstract value of a register or stack slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Val {
    Unknown,
    Const(ConstSet),
    Param(ParamLoc),
    /// Holds the address of an imported function (index into `Image::imports`).
    Import(usize),
    /// Holds the KMDF function table pointer (the value of `WdfFunctions_01xxx`) plus a byte
    /// offset.
    WdfTable(i64),
    /// Holds entry `index` of the KMDF function table.
    WdfFn(u32),
    /// Points into the current frame at this offset (relative to the stack pointer at entry).
    StackAddr(i64),
    /// Holds what an x86 or x64 driver's writable global at this address held when it was loaded:
    /// its initial value in the image if no code writes it (see [`ScanOut::written_globals`]),
    /// which is known only once every chunk is scanned.
    Global(u64),
}

impl Val {
    pub fn konst(v: u64) -> Self {
        Val::Const(ConstSet::one(v))
    }
    /// Joins the values two paths bring. The join is optimistic about `Unknown`: a constant
    /// that reaches a call on one path is a value the driver really passes there ("may"
    /// semantics), and a parameter forwarded on one path still makes the function a wrapper.
    pub fn join(self, other: Val) -> Val {
        match (self, other) {
            (a, b) if a == b => a,
            (Val::Unknown, b) => b,
            (a, Val::Unknown) => a,
            // A global read on one path (an override such as `g_tag ? g_tag : 'Abcd'`, whose
            // initial value is 0) joins as an unknown value does: the other path's constant or
            // forwarded parameter is still what the code passes.
            (Val::Global(_), b @ (Val::Const(_) | Val::Param(_))) => b,
            (a @ (Val::Const(_) | Val::Param(_)), Val::Global(_)) => a,
            (Val::Const(a), Val::Const(b)) => a.union(&b).map_or(Val::Unknown, Val::Const),
            _ => Val::Unknown,
        }
    }
}

/// Register file plus frame slots.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub regs: Vec<Val>,
    /// Stack pointer relative to its value at function entry; `None` once lost.
    pub sp: Option<i64>,
    /// Frame offset -> (value, size in bytes).
    pub slots: BTreeMap<i64, (Val, i64)>,
    /// Vector registers (bit n: xmm/ymm n) known to hold zeros (`pxor xmm0, xmm0`), whose
    /// stores zero a structure on the stack as inlined `RtlZeroMemory` does.
    pub zero_vectors: u32,
}

const MAX_SLOTS: usize = 96;

/// Bytes from an address the code holds (or indexes from) that are taken to be written through
/// it: a small structure or array.
pub(crate) const TAKEN_ADDRESS_SPAN: u64 = 64;

/// Where an x86 frame's stack pointer is put once its offset from the entry is lost (after a
/// branch join of paths whose pushes differ, say, when one of them called a function that
/// popped its own arguments): far below any real frame offset, so what is pushed from there
/// on is read back at the right place while nothing pushed before can be mistaken for it.
const FLOATING_SP: i64 = -0x1000_0000;

impl State {
    pub fn unknown(nregs: usize) -> Self {
        Self {
            regs: vec![Val::Unknown; nregs],
            sp: Some(0),
            slots: BTreeMap::new(),
            zero_vectors: 0,
        }
    }

    pub fn join(&self, other: &State) -> State {
        let regs = self
            .regs
            .iter()
            .zip(&other.regs)
            .map(|(a, b)| a.join(*b))
            .collect();
        let sp = if self.sp == other.sp { self.sp } else { None };
        let slots = if sp.is_some() {
            let mut m: BTreeMap<i64, (Val, i64)> = self.slots.clone();
            for (k, (v, size)) in &other.slots {
                let j = m
                    .get(k)
                    .map_or((*v, *size), |(a, asz)| (a.join(*v), (*asz).max(*size)));
                m.insert(*k, j);
            }
            m.retain(|_, (v, _)| *v != Val::Unknown);
            m
        } else {
            BTreeMap::new()
        };
        State {
            regs,
            sp,
            slots,
            zero_vectors: self.zero_vectors & other.zero_vectors,
        }
    }

    /// The value at frame offset `off`: a slot stored there, or a part of a wider slot of
    /// zeros (a zeroed structure's field).
    pub fn slot(&self, off: i64) -> Val {
        if let Some((v, _)) = self.slots.get(&off) {
            return *v;
        }
        let zero = Val::konst(0);
        if self
            .slots
            .range(off - 32..off)
            .any(|(k, (v, size))| *v == zero && k + size > off)
        {
            zero
        } else {
            Val::Unknown
        }
    }

    /// Stores `v` at frame offset `off`, `size` bytes, dropping overlapping slots.
    pub fn store(&mut self, off: i64, size: i64, v: Val) {
        let size = size.max(1);
        let overlapping: Vec<i64> = self
            .slots
            .range(off - 16..off + size)
            .filter(|(k, (_, ksize))| **k != off && **k + *ksize > off)
            .map(|(k, _)| *k)
            .collect();
        for k in overlapping {
            self.slots.remove(&k);
        }
        if v == Val::Unknown || size < 4 {
            self.slots.remove(&off);
        } else {
            if self.slots.len() >= MAX_SLOTS
                && let Some((&k, _)) = self.slots.iter().next()
            {
                self.slots.remove(&k);
            }
            self.slots.insert(off, (v, size));
        }
    }

    /// Gives a lost stack pointer a fresh place (see [`FLOATING_SP`]); the slots of any earlier
    /// floating place are dropped, frame slots (parameters, `ebp`-based locals) stay.
    pub fn float_sp(&mut self) {
        self.forget_range(i64::MIN, FLOATING_SP / 2);
        self.sp = Some(FLOATING_SP);
    }

    pub fn forget_range(&mut self, from: i64, to: i64) {
        let keys: Vec<i64> = self.slots.range(from..to).map(|(k, _)| *k).collect();
        for k in keys {
            self.slots.remove(&k);
        }
    }
}

/// What a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Callee {
    /// A tag-taking import (index into `POOL_APIS`).
    Api(usize),
    /// A KMDF table entry.
    Wdf(&'static WdfApi),
    /// A driver function known to forward a tag.
    Wrapper(u64),
}

/// One recovered call site.
#[derive(Debug, Clone)]
pub(crate) struct Obs {
    pub call_va: u64,
    pub func_va: u64,
    pub callee: Callee,
    pub tag: Val,
}

#[derive(Debug, Clone)]
pub(crate) struct Wrapper {
    pub loc: ParamLoc,
    pub api: &'static str,
    pub kind: ApiKind,
    pub depth: u32,
}

/// Inputs of one scanning pass.
pub(crate) struct Ctx<'i, 'a> {
    pub image: &'i Image<'a>,
    /// Known function starts (VAs), sorted.
    pub starts: Vec<u64>,
    pub start_set: HashSet<u64>,
    /// Import-thunk VA -> import index.
    pub thunks: HashMap<u64, usize>,
    pub wrappers: HashMap<u64, Wrapper>,
    /// VA of the `WdfFunctions_01xxx` variable, once known.
    pub wdf_var: Option<u64>,
    /// Import index -> POOL_APIS index.
    pub api_of_import: HashMap<usize, usize>,
    pub bind_import: Option<usize>,
    pub budget: u64,
    /// Stack bytes the driver's own x86 functions pop on return, by start, as far as asked
    /// (see [`x86::own_pops`]); it depends on the code alone, so it holds across passes.
    pub x86_pops: RefCell<HashMap<u64, u16>>,
    /// Instructions those walks may still decode, over all of them.
    pub x86_pops_budget: Cell<u64>,
}

/// Outputs of one scanning pass.
#[derive(Default)]
pub(crate) struct ScanOut {
    pub obs: Vec<Obs>,
    pub call_targets: HashSet<u64>,
    /// Values seen as the third argument of `WdfVersionBind` (the `WDF_BIND_INFO` address).
    pub bind_infos: Vec<u64>,
    /// Plausible 32-bit immediates per function start, for low-confidence guesses.
    pub imms: HashMap<u64, Vec<(u32, u64)>>,
    pub exhausted: bool,
    pub instructions: u64,
    /// Direct call and jump targets the scan asked [`Ctx::is_wrapper`] about: what the result
    /// depends on in the wrapper table.
    pub wrapper_lookups: Vec<u64>,
    /// Addresses of writable data the code writes or takes the address of (x86, x64): a
    /// [`Val::Global`] loaded from one of them is no constant.
    pub written_globals: HashSet<u64>,
}

impl ScanOut {
    /// Adds what one chunk found to a pass's result (not its instruction count: a chunk
    /// reused from an earlier pass costs nothing now).
    fn absorb(&mut self, chunk: &ScanOut) {
        self.obs.extend(chunk.obs.iter().cloned());
        self.call_targets.extend(chunk.call_targets.iter().copied());
        self.bind_infos.extend(chunk.bind_infos.iter().copied());
        self.written_globals
            .extend(chunk.written_globals.iter().copied());
        for (func, imms) in &chunk.imms {
            self.imms.insert(*func, imms.clone());
        }
    }

    pub fn note_imm(&mut self, func: u64, v: u64, va: u64) {
        let v = v as u32;
        let tag = crate::tag::PoolTag::from_u32_le(v);
        let b = tag.bytes();
        if v & 0x8000_0000 == 0
            && tag.looks_plausible()
            && b.iter().filter(|c| c.is_ascii_alphabetic()).count() >= 2
        {
            let list = self.imms.entry(func).or_default();
            if list.len() < 64 {
                list.push((v, va));
            }
        }
    }
}

/// Where a tag argument comes from, resolved by the architecture.
pub(crate) trait ArgReader {
    fn arg(&self, st: &State, pos: u8, x86_slot: u8) -> Val;
    fn param(&self, st: &State, loc: ParamLoc) -> Val;
}

impl Ctx<'_, '_> {
    /// Whether a direct call or jump target is one of the driver's wrappers; the question is
    /// noted in `out`, since the answer can change in a later pass.
    pub fn is_wrapper(&self, target: u64, out: &mut ScanOut) -> bool {
        out.wrapper_lookups.push(target);
        self.wrappers.contains_key(&target)
    }

    /// The tag value at a call to `callee`, and the StorPort filter.
    pub fn tag_at(&self, reader: &dyn ArgReader, st: &State, callee: Callee) -> Option<Val> {
        let (tag, name) = match callee {
            Callee::Api(i) => (POOL_APIS[i].tag, POOL_APIS[i].name),
            Callee::Wdf(w) => (w.tag, w.name),
            Callee::Wrapper(va) => {
                let w = self.wrappers.get(&va)?;
                return Some(reader.param(st, w.loc));
            }
        };
        if name == "StorPortExtendedFunction" {
            // Only ExtFunctionAllocatePool (0) takes a tag.
            match reader.arg(st, 1, 1) {
                Val::Const(c) if c.single() == Some(0) => {}
                _ => return None,
            }
        }
        Some(match tag {
            TagArg::Arg { pos, x86_slot } => reader.arg(st, pos, x86_slot),
            TagArg::StructField { pos, off64, off32 } => {
                let off = if self.image.is_64 { off64 } else { off32 };
                match reader.arg(st, pos, pos) {
                    Val::StackAddr(a) => st.slot(a + i64::from(off)),
                    Val::Const(c) => match c.single() {
                        Some(va) => self
                            .image
                            .read_u32_va(va.wrapping_add(u64::from(off)))
                            .map_or(Val::Unknown, |v| Val::konst(u64::from(v))),
                        None => Val::Unknown,
                    },
                    _ => Val::Unknown,
                }
            }
        })
    }

    /// Loads from a global address: IAT slots become imports, the KMDF table variable becomes
    /// the table, read-only data becomes its constant, and 32-bit writable data a
    /// [`Val::Global`] (a constant if the code never writes it).
    pub fn load_global(&self, va: u64, size: u32) -> Val {
        if let Some(&i) = self.image.iat.get(&va) {
            return Val::Import(i);
        }
        if self.wdf_var == Some(va) {
            return Val::WdfTable(0);
        }
        if self.image.is_readonly_data_va(va) {
            let v = if size == 8 {
                self.image.read_ptr_va(va)
            } else {
                self.image.read_u32_va(va).map(u64::from)
            };
            if let Some(v) = v {
                return Val::konst(v);
            }
        }
        // The x86 scanner follows writes to globals (see [`ScanOut::written_globals`]); the
        // ARM64 one does not, so there a global's value stays unknown.
        if size == 4 && self.image.machine != MACHINE_ARM64 && self.image.is_data_va(va) {
            return Val::Global(va);
        }
        Val::Unknown
    }

    /// The initial value of a writable global the code never writes or takes the address of
    /// (`written` comes from every chunk's [`ScanOut::written_globals`]), and to which the
    /// image's data holds no pointer: zero where the section has no file bytes (`.bss`). A
    /// pointer the data holds counts only if it points at the global itself (data is full of
    /// pointers to neighbouring globals; a reader following cross-references sees the same).
    fn unwritten_global(&self, va: u64, written: &HashSet<u64>) -> Option<u32> {
        if (va..va + 4).any(|a| written.contains(&a)) || self.image.data_points_at(va, 4) {
            return None;
        }
        match self.image.read_u32_va(va) {
            Some(v) => Some(v),
            None => self.image.is_data_va(va).then_some(0),
        }
    }

    /// Stack bytes the driver's own x86 function at `start` pops on return.
    pub fn x86_callee_pops(&self, start: u64) -> u16 {
        if let Some(&n) = self.x86_pops.borrow().get(&start) {
            return n;
        }
        let n = x86::own_pops(self, start);
        self.x86_pops.borrow_mut().insert(start, n);
        n
    }

    /// Classifies an import call.
    pub fn import_callee(&self, import: usize) -> Option<Callee> {
        self.api_of_import.get(&import).map(|&a| Callee::Api(a))
    }
}

/// Stack bytes an x86 stdcall import pops, if known.
pub(crate) fn x86_pop_bytes(callee: Option<Callee>) -> u16 {
    match callee {
        Some(Callee::Api(i)) => POOL_APIS[i].x86_stack_bytes,
        _ => 0,
    }
}

/// Result of code analysis.
#[derive(Debug, Default)]
pub(crate) struct CodeResult {
    pub sites: Vec<ResolvedSite>,
    pub unresolved: Vec<ResolvedSite>,
    /// Plausible immediates in functions that call pool APIs, with the function's first call VA.
    pub guesses: Vec<(u32, u64)>,
    pub wrappers: Vec<(u64, Wrapper)>,
    pub bind_info: Option<u64>,
    /// The `WdfDriverCreate` calls: where the driver creates its KMDF driver object.
    pub driver_creates: Vec<DriverCreateSite>,
    /// Constants passed where a tag goes that are no character tag (`1`, a size, a flag).
    pub not_tags: Vec<ResolvedSite>,
    pub warnings: Vec<String>,
    pub instructions: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct ResolvedSite {
    pub value: u32,
    pub api: &'static str,
    pub kind: ApiKind,
    pub call_va: u64,
    pub via_wrapper: Option<u64>,
    /// The value is the initial value of the writable global at this address (no code seen
    /// writes it), not a constant in the code.
    pub from_global: Option<u64>,
}

/// One `WdfDriverCreate` call.
#[derive(Debug, Clone)]
pub(crate) struct DriverCreateSite {
    /// The `WDF_DRIVER_CONFIG.DriverPoolTag` values that reach it (0: the framework's default);
    /// empty when it is computed at run time.
    pub pool_tags: Vec<u32>,
}

pub(crate) struct CodeLimits {
    pub max_instructions: u64,
    pub max_wrapper_depth: u32,
}

pub(crate) fn analyze(image: &Image<'_>, limits: &CodeLimits) -> CodeResult {
    let mut result = CodeResult::default();
    let arch = match image.machine {
        MACHINE_X64 | MACHINE_X86 => Arch::X86,
        MACHINE_ARM64 => Arch::Arm64,
        other => {
            result.warnings.push(format!(
                "machine {other:#06x} is not disassembled; no code-site tags"
            ));
            return result;
        }
    };
    let base = image.image_base;
    let mut api_of_import = HashMap::new();
    let mut bind_import = None;
    for (i, imp) in image.imports.iter().enumerate() {
        if let Some(a) = find_api(&imp.name) {
            api_of_import.insert(i, a);
        }
        if imp.name == "WdfVersionBind" {
            bind_import = Some(i);
        }
    }
    // A file that imports no tag-taking API and is no KMDF driver has no code-site tag to find:
    // it gets its identity only (version resource, signer), not a disassembly.
    if api_of_import.is_empty() && bind_import.is_none() {
        return result;
    }
    let thunks = match arch {
        Arch::X86 => x86::find_thunks(image),
        Arch::Arm64 => arm64::find_thunks(image),
    };
    let mut starts: BTreeSet<u64> = image
        .functions
        .iter()
        .map(|(b, _)| base + u64::from(*b))
        .collect();
    if image.entry_rva != 0 {
        starts.insert(base + u64::from(image.entry_rva));
    }
    starts.extend(image.export_rvas.iter().map(|r| base + u64::from(*r)));
    let mut ctx = Ctx {
        image,
        starts: Vec::new(),
        start_set: HashSet::new(),
        thunks,
        wrappers: HashMap::new(),
        wdf_var: None,
        api_of_import,
        bind_import,
        budget: limits.max_instructions,
        x86_pops: RefCell::new(HashMap::new()),
        x86_pops_budget: Cell::new(limits.max_instructions / 8),
    };
    let mut all_targets: HashSet<u64> = HashSet::new();
    let max_passes = limits.max_wrapper_depth + 3;
    let mut out = ScanOut::default();
    let mut scanned = ScannedChunks::default();
    for pass in 0..max_passes {
        ctx.starts = starts.iter().copied().collect();
        ctx.start_set = starts.iter().copied().collect();
        out = ScanOut::default();
        match arch {
            Arch::X86 => scanned.pass(&ctx, &mut x86::Scanner::new(&ctx), &mut out),
            Arch::Arm64 => scanned.pass(&ctx, &mut arm64::Scanner::new(&ctx), &mut out),
        }
        ctx.budget = ctx.budget.saturating_sub(out.instructions);
        result.instructions += out.instructions;
        if out.exhausted {
            result.warnings.push(format!(
                "instruction budget ({}) exhausted in pass {pass}; tag list may be incomplete",
                limits.max_instructions
            ));
            break;
        }
        let mut changed = false;
        // New function starts from direct call targets inside code.
        for &t in &out.call_targets {
            if image
                .va_to_rva(t)
                .and_then(|r| image.section_of_rva(r))
                .is_some_and(|s| s.exec)
                && starts.insert(t)
            {
                changed = true;
            }
        }
        all_targets.extend(out.call_targets.iter().copied());
        // KMDF function table variable.
        if ctx.wdf_var.is_none() {
            for &bi in &out.bind_infos {
                let off = if image.is_64 { 0x20 } else { 0x18 };
                if let Some(var) = image.read_ptr_va(bi + off)
                    && var != 0
                {
                    ctx.wdf_var = Some(var);
                    result.bind_info = Some(bi);
                    changed = true;
                    break;
                }
            }
        }
        // Wrappers: functions that pass an incoming parameter as the tag.
        for o in &out.obs {
            let Val::Param(loc) = o.tag else { continue };
            if !all_targets.contains(&o.func_va) || ctx.thunks.contains_key(&o.func_va) {
                continue;
            }
            let (api, kind, depth) = match o.callee {
                Callee::Api(i) => (POOL_APIS[i].name, POOL_APIS[i].kind, 1),
                Callee::Wdf(w) => (w.name, w.kind, 1),
                Callee::Wrapper(va) => match ctx.wrappers.get(&va) {
                    Some(w) if va != o.func_va => (w.api, w.kind, w.depth + 1),
                    _ => continue,
                },
            };
            if depth > limits.max_wrapper_depth || ctx.wrappers.contains_key(&o.func_va) {
                continue;
            }
            ctx.wrappers.insert(
                o.func_va,
                Wrapper {
                    loc,
                    api,
                    kind,
                    depth,
                },
            );
            changed = true;
        }
        if !changed {
            break;
        }
    }
    // Assemble sites from the last pass.
    let mut pool_funcs: BTreeMap<u64, u64> = BTreeMap::new();
    for o in &out.obs {
        if ctx.thunks.contains_key(&o.func_va) {
            continue;
        }
        let (api, kind, via) = match o.callee {
            Callee::Api(i) => (POOL_APIS[i].name, POOL_APIS[i].kind, None),
            Callee::Wdf(w) => (w.name, w.kind, None),
            Callee::Wrapper(va) => match ctx.wrappers.get(&va) {
                Some(w) => (w.api, w.kind, Some(va)),
                None => continue,
            },
        };
        pool_funcs.entry(o.func_va).or_insert(o.call_va);
        let site = |value: u32, from_global: Option<u64>| ResolvedSite {
            value,
            api,
            kind,
            call_va: o.call_va,
            via_wrapper: via,
            from_global,
        };
        // The values that reach the call, each with the global it was read from, if any.
        let values: Vec<(u32, Option<u64>)> = match o.tag {
            Val::Const(c) => c.values().iter().map(|&v| (v as u32, None)).collect(),
            Val::Global(va) => match ctx.unwritten_global(va, &out.written_globals) {
                Some(v) => vec![(v, Some(va))],
                None => Vec::new(),
            },
            // A parameter inside a wrapper is resolved at the wrapper's call sites.
            Val::Param(_) if ctx.wrappers.contains_key(&o.func_va) => continue,
            _ => Vec::new(),
        };
        if kind == ApiKind::FrameworkTag {
            // WdfDriverCreate: the driver creates its KMDF driver object here, and a
            // DriverPoolTag of 0 leaves the framework its default tag.
            result.driver_creates.push(DriverCreateSite {
                pool_tags: values.iter().map(|&(v, _)| v).collect(),
            });
        }
        if values.is_empty() {
            result.unresolved.push(site(0, None));
        }
        for (v, global) in values {
            if v == 0 {
                // A free with tag 0 checks no tag, and DriverPoolTag 0 means the default; an
                // allocation with tag 0 has its tag decided elsewhere.
                if !matches!(kind, ApiKind::Free | ApiKind::FrameworkTag) {
                    result.unresolved.push(site(0, global));
                }
            } else if crate::tag::PoolTag::is_character_tag(v) {
                result.sites.push(site(v, global));
            } else {
                result.not_tags.push(site(v, global));
            }
        }
    }
    for (func, first_call) in pool_funcs {
        if let Some(list) = out.imms.get(&func) {
            for &(v, _) in list {
                result.guesses.push((v, first_call));
            }
        }
    }
    let mut wrappers: Vec<(u64, Wrapper)> = ctx.wrappers.into_iter().collect();
    wrappers.sort_by_key(|(va, _)| *va);
    result.wrappers = wrappers;
    result
}

/// Scans one decode chunk of code (`code` spans `start..end`), adding what it finds to `out`
/// and stopping once `out.instructions` reaches `budget`.
pub(crate) trait ChunkScanner {
    fn scan_chunk(&mut self, code: &[u8], start: u64, end: u64, budget: u64, out: &mut ScanOut);
}

/// What one chunk's scan found, kept for the next pass.
struct ChunkScan {
    is_func: bool,
    wdf_var: Option<u64>,
    /// How many of its wrapper lookups found a wrapper.
    wrapper_hits: usize,
    out: ScanOut,
}

/// The chunks scanned so far, by `(start, end)`. Each pass decodes and interprets only the
/// chunks whose inputs changed since they were scanned: new bounds (a new function start
/// splits a chunk), a start that became a function, a call to a function found to be a wrapper
/// since, or the KMDF table variable found. The others give what they gave before, since a
/// chunk's scan reads nothing else that changes between passes.
#[derive(Default)]
struct ScannedChunks {
    chunks: HashMap<(u64, u64), ChunkScan>,
}

impl ScannedChunks {
    fn pass(&mut self, ctx: &Ctx<'_, '_>, scanner: &mut dyn ChunkScanner, out: &mut ScanOut) {
        for (rva, bytes) in ctx.image.code_sections() {
            let va0 = ctx.image.image_base + u64::from(rva);
            for (a, b) in chunks(va0, bytes.len(), &ctx.starts) {
                let is_func = ctx.start_set.contains(&a);
                if let Some(done) = self.chunks.get(&(a, b))
                    && done.is_func == is_func
                    && done.wdf_var == ctx.wdf_var
                    && done.wrapper_hits == wrapper_hits(ctx, &done.out)
                {
                    out.absorb(&done.out);
                    continue;
                }
                let mut chunk = ScanOut::default();
                let lo = (a - va0) as usize;
                let hi = (b - va0) as usize;
                let budget = ctx.budget.saturating_sub(out.instructions);
                scanner.scan_chunk(&bytes[lo..hi], a, b, budget, &mut chunk);
                out.absorb(&chunk);
                out.instructions += chunk.instructions;
                if chunk.exhausted {
                    out.exhausted = true;
                    return;
                }
                let scan = ChunkScan {
                    is_func,
                    wdf_var: ctx.wdf_var,
                    wrapper_hits: wrapper_hits(ctx, &chunk),
                    out: chunk,
                };
                self.chunks.insert((a, b), scan);
            }
        }
    }
}

fn wrapper_hits(ctx: &Ctx<'_, '_>, chunk: &ScanOut) -> usize {
    chunk
        .wrapper_lookups
        .iter()
        .filter(|t| ctx.wrappers.contains_key(t))
        .count()
}

#[derive(Clone, Copy)]
enum Arch {
    X86,
    Arm64,
}

/// Splits an executable section into decode chunks at known function starts.
pub(crate) fn chunks(sec_va: u64, len: usize, starts: &[u64]) -> Vec<(u64, u64)> {
    let end = sec_va + len as u64;
    let lo = starts.partition_point(|&s| s <= sec_va);
    let mut bounds = vec![sec_va];
    bounds.extend(starts[lo..].iter().copied().take_while(|&s| s < end));
    bounds.push(end);
    bounds
        .windows(2)
        .map(|w| (w[0], w[1]))
        .filter(|(a, b)| a < b)
        .collect()
}
