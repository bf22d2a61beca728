//! x86 and x64 scanner (iced-x86).

use std::collections::HashMap;

use iced_x86::{
    Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic, OpAccess,
    OpKind, Register,
};

use super::{
    ArgReader, Callee, ChunkScanner, ConstSet, Ctx, ParamLoc, ScanOut, State, TAKEN_ADDRESS_SPAN,
    Val, x86_pop_bytes,
};
use crate::driver::image::{Image, MACHINE_X64};

const RAX: usize = 0;
const RCX: usize = 1;
const RDX: usize = 2;
const RSP: usize = 4;
const RBP: usize = 5;
const R8: usize = 8;
const R9: usize = 9;

/// Most forward-branch states kept per chunk.
const MAX_PENDING: usize = 512;

/// `jmp [slot]` stubs (`FF 25`) whose slot is an IAT entry: import thunks.
pub(crate) fn find_thunks(image: &Image<'_>) -> HashMap<u64, usize> {
    let mut out = HashMap::new();
    let is64 = image.machine == MACHINE_X64;
    for (rva, bytes) in image.code_sections() {
        let va0 = image.image_base + u64::from(rva);
        for i in 0..bytes.len().saturating_sub(5) {
            if bytes[i] != 0xFF || bytes[i + 1] != 0x25 {
                continue;
            }
            let d = u32::from_le_bytes([bytes[i + 2], bytes[i + 3], bytes[i + 4], bytes[i + 5]]);
            let va = va0 + i as u64;
            let slot = if is64 {
                (va + 6).wrapping_add(d as i32 as i64 as u64)
            } else {
                u64::from(d)
            };
            if let Some(&imp) = image.iat.get(&slot) {
                out.insert(va, imp);
            }
        }
    }
    out
}

struct Reader {
    is64: bool,
}

impl ArgReader for Reader {
    fn arg(&self, st: &State, pos: u8, x86_slot: u8) -> Val {
        if self.is64 {
            match pos {
                1 => st.regs[RCX],
                2 => st.regs[RDX],
                3 => st.regs[R8],
                4 => st.regs[R9],
                0 => Val::Unknown,
                n => st.sp.map_or(Val::Unknown, |sp| {
                    st.slot(sp + 0x20 + 8 * (i64::from(n) - 5))
                }),
            }
        } else if x86_slot == 0 {
            Val::Unknown
        } else {
            st.sp.map_or(Val::Unknown, |sp| {
                st.slot(sp + 4 * (i64::from(x86_slot) - 1))
            })
        }
    }

    fn param(&self, st: &State, loc: ParamLoc) -> Val {
        match loc {
            ParamLoc::Arg(k) => self.arg(st, k, k),
            ParamLoc::Reg(r) => st.regs.get(usize::from(r)).copied().unwrap_or(Val::Unknown),
        }
    }
}

fn gpr_index(r: Register) -> Option<usize> {
    if r.is_gpr() {
        let full = r.full_register();
        let n = full.number();
        (n < 16).then_some(n)
    } else {
        None
    }
}

/// Registers a partial write does not fully define (8/16-bit).
fn is_full_width(r: Register) -> bool {
    r.is_gpr32() || r.is_gpr64()
}

enum Mem {
    Abs(u64),
    Stack(i64),
    WdfEntry(i64),
    Other,
}

pub(crate) struct Scanner<'c, 'i, 'a> {
    ctx: &'c Ctx<'i, 'a>,
    is64: bool,
    ptr: i64,
    reader: Reader,
    info: InstructionInfoFactory,
    /// True while decoding the first instruction of a chunk or of code after a dead end.
    fresh: bool,
    trace: bool,
}

impl Scanner<'_, '_, '_> {
    fn entry_state(&self) -> State {
        let mut st = State::unknown(16);
        if self.is64 {
            st.regs[RCX] = Val::Param(ParamLoc::Arg(1));
            st.regs[RDX] = Val::Param(ParamLoc::Arg(2));
            st.regs[R8] = Val::Param(ParamLoc::Arg(3));
            st.regs[R9] = Val::Param(ParamLoc::Arg(4));
            for k in 1..=8u8 {
                st.slots
                    .insert(8 * i64::from(k), (Val::Param(ParamLoc::Arg(k)), 8));
            }
        } else {
            for k in 1..=8u8 {
                st.slots
                    .insert(4 * i64::from(k), (Val::Param(ParamLoc::Arg(k)), 4));
            }
            for r in [RAX, RCX, RDX] {
                st.regs[r] = Val::Param(ParamLoc::Reg(r as u8));
            }
        }
        st
    }

    fn reg(&self, st: &State, r: Register) -> Val {
        match gpr_index(r) {
            Some(RSP) => st.sp.map_or(Val::Unknown, Val::StackAddr),
            Some(i) if is_full_width(r) => st.regs[i],
            _ => Val::Unknown,
        }
    }

    fn set_reg(&self, st: &mut State, r: Register, v: Val) {
        let Some(i) = gpr_index(r) else { return };
        let v = if is_full_width(r) { v } else { Val::Unknown };
        if i == RSP {
            st.sp = match v {
                Val::StackAddr(o) => Some(o),
                _ => None,
            };
            if st.sp.is_none() {
                // Frame-relative slots stay valid (rbp-based code), rsp-relative reads fail.
            }
            return;
        }
        // A 32-bit write zero-extends on x64.
        let v = match v {
            Val::Const(c) if r.is_gpr32() => Val::Const(c.map(|x| x & 0xffff_ffff)),
            other => other,
        };
        st.regs[i] = v;
    }

    fn mem(&self, st: &State, ins: &Instruction) -> Mem {
        if ins.segment_prefix() == Register::FS || ins.segment_prefix() == Register::GS {
            return Mem::Other;
        }
        if ins.is_ip_rel_memory_operand() {
            return Mem::Abs(ins.ip_rel_memory_address());
        }
        let base = ins.memory_base();
        let index = ins.memory_index();
        let disp = i64::from(ins.memory_displacement32() as i32);
        if index != Register::None {
            return Mem::Other;
        }
        if base == Register::None {
            return Mem::Abs(u64::from(ins.memory_displacement32()));
        }
        match self.reg(st, base) {
            Val::StackAddr(o) => Mem::Stack(o + disp),
            Val::WdfTable(t) => Mem::WdfEntry(t + disp),
            _ => Mem::Other,
        }
    }

    /// `lea r, [base + index*scale + disp]` over constant registers.
    fn lea_const(&self, st: &State, ins: &Instruction) -> Val {
        let disp = i64::from(ins.memory_displacement32() as i32) as u64;
        let part = |r: Register| -> Option<ConstSet> {
            if r == Register::None {
                return Some(ConstSet::one(0));
            }
            match self.reg(st, r) {
                Val::Const(c) => Some(c),
                _ => None,
            }
        };
        let (Some(b), Some(i)) = (part(ins.memory_base()), part(ins.memory_index())) else {
            return Val::Unknown;
        };
        let (Some(bv), Some(iv)) = (b.single(), i.single()) else {
            // One side a set, the other a single value: map over the set.
            let scale = u64::from(ins.memory_index_scale());
            return match (b.single(), i.single()) {
                (Some(bv), None) => {
                    Val::Const(i.map(|x| bv.wrapping_add(x.wrapping_mul(scale)).wrapping_add(disp)))
                }
                (None, Some(iv)) => {
                    Val::Const(b.map(|x| x.wrapping_add(iv.wrapping_mul(scale)).wrapping_add(disp)))
                }
                _ => Val::Unknown,
            };
        };
        let scale = u64::from(ins.memory_index_scale());
        Val::konst(bv.wrapping_add(iv.wrapping_mul(scale)).wrapping_add(disp))
    }

    fn load(&self, st: &State, ins: &Instruction, size: u32) -> Val {
        match self.mem(st, ins) {
            Mem::Abs(va) => self.ctx.load_global(va, size),
            Mem::Stack(o) => st.slot(o),
            Mem::WdfEntry(d) if d >= 0 && d % self.ptr == 0 => Val::WdfFn((d / self.ptr) as u32),
            _ => Val::Unknown,
        }
    }

    fn operand(&self, st: &State, ins: &Instruction, op: u32) -> Val {
        match ins.op_kind(op) {
            OpKind::Register => self.reg(st, ins.op_register(op)),
            OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate64
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32to64 => Val::konst(ins.immediate(op)),
            OpKind::Memory => self.load(st, ins, ins.memory_size().size() as u32),
            _ => Val::Unknown,
        }
    }

    /// Resolves the target of a call or jump.
    fn callee_of(
        &self,
        st: &State,
        ins: &Instruction,
        out: &mut ScanOut,
    ) -> (Option<Callee>, Option<u64>, bool) {
        // Returns (callee, direct target, is_bind)
        let target_val = match ins.op0_kind() {
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                let t = ins.near_branch_target();
                if let Some(&imp) = self.ctx.thunks.get(&t) {
                    Val::Import(imp)
                } else if self.ctx.is_wrapper(t, out) {
                    return (Some(Callee::Wrapper(t)), Some(t), false);
                } else {
                    return (None, Some(t), false);
                }
            }
            OpKind::Register => self.reg(st, ins.op0_register()),
            OpKind::Memory => {
                let v = self.load(st, ins, self.ptr as u32);
                match v {
                    Val::Import(_) | Val::WdfFn(_) => v,
                    // CFG dispatch (`call [__guard_dispatch_icall_fptr]`): the target is in RAX.
                    _ if self.is64 => match st.regs[RAX] {
                        r @ (Val::Import(_) | Val::WdfFn(_)) => r,
                        _ => Val::Unknown,
                    },
                    _ => Val::Unknown,
                }
            }
            _ => Val::Unknown,
        };
        match target_val {
            Val::Import(i) => {
                if Some(i) == self.ctx.bind_import {
                    return (None, None, true);
                }
                (self.ctx.import_callee(i), None, false)
            }
            Val::WdfFn(idx) => (
                crate::driver::apis::find_wdf(u64::from(idx)).map(Callee::Wdf),
                None,
                false,
            ),
            _ => (None, None, false),
        }
    }

    fn on_call(&self, st: &mut State, ins: &Instruction, func: u64, out: &mut ScanOut, tail: bool) {
        if tail {
            // An import thunk (a stub starting a chunk) is not a call site; the same `jmp [slot]`
            // at the end of a function is a tail call.
            if self.fresh && self.ctx.thunks.contains_key(&ins.ip()) {
                return;
            }
            // At a tail jump the return address is still on the stack: the callee's stack
            // arguments sit one slot higher than at a call.
            st.sp = st.sp.map(|sp| sp + self.ptr);
        }
        let (callee, direct, is_bind) = self.callee_of(st, ins, out);
        if let Some(t) = direct
            && !tail
        {
            out.call_targets.insert(t);
        }
        if is_bind {
            if let Val::Const(c) = self.reader.arg(st, 3, 3)
                && let Some(v) = c.single()
            {
                out.bind_infos.push(v);
            }
        } else if let Some(c) = callee
            && let Some(tag) = self.ctx.tag_at(&self.reader, st, c)
        {
            out.obs.push(super::Obs {
                call_va: ins.ip(),
                func_va: func,
                callee: c,
                tag,
            });
        }
        if tail {
            return;
        }
        // Clobbers.
        st.zero_vectors = 0;
        if self.is64 {
            for r in [RAX, RCX, RDX, R8, R9, 10, 11] {
                st.regs[r] = Val::Unknown;
            }
            if let Some(sp) = st.sp {
                st.forget_range(sp, sp + 0x40);
            }
        } else {
            for r in [RAX, RCX, RDX] {
                st.regs[r] = Val::Unknown;
            }
            // What the callee may overwrite of the caller's stack: its arguments. Their number
            // is known for a driver function that pops them (`ret N`); otherwise the next few
            // slots go.
            let (pop, clobbered) = match (callee, direct) {
                (Some(Callee::Api(_)), _) | (_, None) => {
                    let pop = i64::from(x86_pop_bytes(callee));
                    (pop, pop.max(0x20))
                }
                (_, Some(target)) => match i64::from(self.ctx.x86_callee_pops(target)) {
                    0 => (0, 0x20),
                    pop => (pop, pop),
                },
            };
            if let Some(sp) = st.sp {
                st.forget_range(sp, sp + clobbered);
                st.sp = Some(sp + pop);
            }
        }
    }

    /// Follows the zeroing of a stack structure through vector registers, as inlined
    /// `RtlZeroMemory` does (`pxor xmm0, xmm0` then `movups [rsp+x], xmm0`): true when the
    /// instruction was one of those.
    fn step_vector_zeroing(&mut self, st: &mut State, ins: &Instruction) -> bool {
        let vector = |r: Register| (r.is_xmm() || r.is_ymm()).then(|| 1u32 << r.number());
        match ins.mnemonic() {
            Mnemonic::Pxor
            | Mnemonic::Xorps
            | Mnemonic::Xorpd
            | Mnemonic::Vpxor
            | Mnemonic::Vxorps
            | Mnemonic::Vxorpd
                if ins.op_kind(ins.op_count() - 1) == OpKind::Register
                    && ins.op_register(ins.op_count() - 1)
                        == ins.op_register(ins.op_count() - 2) =>
            {
                if let Some(bit) = vector(ins.op0_register()) {
                    st.zero_vectors |= bit;
                }
                true
            }
            Mnemonic::Movups
            | Mnemonic::Movaps
            | Mnemonic::Movdqu
            | Mnemonic::Movdqa
            | Mnemonic::Vmovups
            | Mnemonic::Vmovaps
            | Mnemonic::Vmovdqu
            | Mnemonic::Vmovdqa
                if ins.op0_kind() == OpKind::Memory && ins.op1_kind() == OpKind::Register =>
            {
                if let Mem::Stack(o) = self.mem(st, ins) {
                    let zero = vector(ins.op1_register()).is_some_and(|b| st.zero_vectors & b != 0);
                    let v = if zero { Val::konst(0) } else { Val::Unknown };
                    st.store(o, ins.memory_size().size() as i64, v);
                }
                true
            }
            _ => {
                // Any other write to a vector register ends what it was known to hold.
                if ins.op_count() > 0
                    && ins.op0_kind() == OpKind::Register
                    && let Some(bit) = vector(ins.op0_register())
                {
                    st.zero_vectors &= !bit;
                }
                false
            }
        }
    }

    /// Notes the writable globals an instruction writes or takes the address of, so that a
    /// [`Val::Global`] loaded from one is not taken for a constant.
    fn note_global_writes(&mut self, st: &State, ins: &Instruction, out: &mut ScanOut) {
        let image = self.ctx.image;
        for op in 0..ins.op_count() {
            match ins.op_kind(op) {
                OpKind::Immediate32 | OpKind::Immediate64 => {
                    let address = ins.immediate(op);
                    if image.is_data_va(address) {
                        taint(out, address, TAKEN_ADDRESS_SPAN);
                    }
                }
                // x64 names a global relative to the instruction (`mov [rip+g], eax`).
                OpKind::Memory if ins.is_ip_rel_memory_operand() => {
                    let address = ins.ip_rel_memory_address();
                    if !image.is_data_va(address) {
                        continue;
                    }
                    if ins.mnemonic() == Mnemonic::Lea {
                        taint(out, address, TAKEN_ADDRESS_SPAN);
                    } else if matches!(
                        self.info.info(ins).op_access(op),
                        OpAccess::Write
                            | OpAccess::CondWrite
                            | OpAccess::ReadWrite
                            | OpAccess::ReadCondWrite
                    ) {
                        taint(out, address, ins.memory_size().size().max(1) as u64);
                    }
                }
                OpKind::Memory => {
                    let base = ins.memory_base();
                    let disp = u64::from(ins.memory_displacement32());
                    let address = match self.reg(st, base) {
                        _ if base == Register::None => disp,
                        Val::Const(c) if ins.memory_index() == Register::None => match c.single() {
                            Some(b) if self.is64 => {
                                b.wrapping_add(i64::from(disp as u32 as i32) as u64)
                            }
                            Some(b) => b.wrapping_add(disp) & 0xffff_ffff,
                            None => continue,
                        },
                        _ => continue,
                    };
                    if !image.is_data_va(address) {
                        continue;
                    }
                    if ins.mnemonic() == Mnemonic::Lea || ins.memory_index() != Register::None {
                        taint(out, address, TAKEN_ADDRESS_SPAN);
                        continue;
                    }
                    let size = ins.memory_size().size().max(1) as u64;
                    // The operand's own access (`push [g]` also writes the stack).
                    let written = self.info.info(ins).used_memory().iter().any(|m| {
                        m.base() == base
                            && m.index() == Register::None
                            && m.displacement() as u32 == ins.memory_displacement32()
                            && matches!(
                                m.access(),
                                OpAccess::Write
                                    | OpAccess::CondWrite
                                    | OpAccess::ReadWrite
                                    | OpAccess::ReadCondWrite
                            )
                    });
                    if written {
                        taint(out, address, size);
                    }
                }
                _ => {}
            }
        }
    }

    fn step_plain(&mut self, st: &mut State, ins: &Instruction, func: u64, out: &mut ScanOut) {
        self.note_global_writes(st, ins, out);
        let m = ins.mnemonic();
        if self.step_vector_zeroing(st, ins) {
            return;
        }
        match m {
            Mnemonic::Mov => {
                match ins.op0_kind() {
                    OpKind::Register => {
                        let r = ins.op0_register();
                        if ins.op1_kind() != OpKind::Register
                            || gpr_index(ins.op1_register()).is_some()
                        {
                            let v = self.operand(st, ins, 1);
                            if matches!(
                                ins.op1_kind(),
                                OpKind::Immediate32 | OpKind::Immediate32to64 | OpKind::Immediate64
                            ) {
                                out.note_imm(func, ins.immediate(1), ins.ip());
                            }
                            self.set_reg(st, r, v);
                        } else {
                            self.set_reg(st, r, Val::Unknown);
                        }
                    }
                    OpKind::Memory => {
                        let size = ins.memory_size().size() as i64;
                        let v = self.operand(st, ins, 1);
                        if ins.op1_kind() == OpKind::Immediate32
                            || ins.op1_kind() == OpKind::Immediate32to64
                        {
                            out.note_imm(func, ins.immediate(1), ins.ip());
                        }
                        if let Mem::Stack(o) = self.mem(st, ins) {
                            st.store(o, size, v);
                        }
                    }
                    _ => {}
                }
                return;
            }
            Mnemonic::Lea => {
                let v = if ins.is_ip_rel_memory_operand() {
                    Val::konst(ins.ip_rel_memory_address())
                } else {
                    match self.mem(st, ins) {
                        Mem::Stack(o) => Val::StackAddr(o),
                        Mem::Abs(a) => Val::konst(a),
                        _ => self.lea_const(st, ins),
                    }
                };
                self.set_reg(st, ins.op0_register(), v);
                return;
            }
            Mnemonic::Xor | Mnemonic::Sub
                if ins.op0_kind() == OpKind::Register
                    && ins.op1_kind() == OpKind::Register
                    && ins.op0_register() == ins.op1_register() =>
            {
                self.set_reg(st, ins.op0_register(), Val::konst(0));
                return;
            }
            Mnemonic::Push => {
                let v = self.operand(st, ins, 0);
                if matches!(
                    ins.op0_kind(),
                    OpKind::Immediate32 | OpKind::Immediate32to64
                ) {
                    out.note_imm(func, ins.immediate(0), ins.ip());
                }
                let size = -i64::from(ins.stack_pointer_increment());
                if let Some(sp) = st.sp {
                    let nsp = sp - size;
                    st.store(nsp, size, v);
                    st.sp = Some(nsp);
                }
                return;
            }
            Mnemonic::Pop => {
                let size = i64::from(ins.stack_pointer_increment());
                let v = st.sp.map_or(Val::Unknown, |sp| st.slot(sp));
                if let Some(sp) = st.sp {
                    st.sp = Some(sp + size);
                }
                if ins.op0_kind() == OpKind::Register {
                    self.set_reg(st, ins.op0_register(), v);
                }
                return;
            }
            // Stack realignment (`and rsp, -16`): later rsp-relative slots live in a fresh
            // region of the frame; rbp-relative ones (parameters) keep their offsets.
            Mnemonic::And
                if ins.op0_kind() == OpKind::Register
                    && gpr_index(ins.op0_register()) == Some(RSP) =>
            {
                st.sp = Some(st.sp.unwrap_or(0) - 0x10_0000);
                return;
            }
            Mnemonic::Add | Mnemonic::Sub
                if ins.op0_kind() == OpKind::Register
                    && gpr_index(ins.op0_register()).is_some()
                    && matches!(
                        ins.op1_kind(),
                        OpKind::Immediate8to32
                            | OpKind::Immediate8to64
                            | OpKind::Immediate32
                            | OpKind::Immediate32to64
                    ) =>
            {
                let imm = ins.immediate(1) as i64;
                let delta = if m == Mnemonic::Add {
                    imm
                } else {
                    imm.wrapping_neg()
                };
                let r = ins.op0_register();
                let v = match self.reg(st, r) {
                    Val::StackAddr(o) => Val::StackAddr(o.wrapping_add(delta)),
                    Val::WdfTable(t) => Val::WdfTable(t.wrapping_add(delta)),
                    Val::Const(c) if is_full_width(r) => {
                        Val::Const(c.map(|x| x.wrapping_add(delta as u64)))
                    }
                    _ => Val::Unknown,
                };
                self.set_reg(st, r, v);
                return;
            }
            Mnemonic::Leave => {
                // mov rsp, rbp; pop rbp
                st.sp = match st.regs[RBP] {
                    Val::StackAddr(o) => Some(o),
                    _ => None,
                };
                let v = st.sp.map_or(Val::Unknown, |sp| st.slot(sp));
                st.regs[RBP] = v;
                if let Some(sp) = st.sp {
                    st.sp = Some(sp + self.ptr);
                }
                return;
            }
            Mnemonic::Nop | Mnemonic::Cmp | Mnemonic::Test => return,
            // `sbb r, r` after a compare: 0 or all ones (branch-free selects).
            Mnemonic::Sbb
                if ins.op0_kind() == OpKind::Register
                    && ins.op1_kind() == OpKind::Register
                    && ins.op0_register() == ins.op1_register() =>
            {
                let r = ins.op0_register();
                let all = if r.is_gpr64() { u64::MAX } else { 0xffff_ffff };
                let v = ConstSet::one(0)
                    .union(&ConstSet::one(all))
                    .map_or(Val::Unknown, Val::Const);
                self.set_reg(st, r, v);
                return;
            }
            Mnemonic::Sete
            | Mnemonic::Setne
            | Mnemonic::Seta
            | Mnemonic::Setae
            | Mnemonic::Setb
            | Mnemonic::Setbe
            | Mnemonic::Setg
            | Mnemonic::Setge
            | Mnemonic::Setl
            | Mnemonic::Setle
                if ins.op0_kind() == OpKind::Register =>
            {
                // Only the low byte is written; model it when the register was a known 0.
                let r = ins.op0_register();
                if let Some(i) = gpr_index(r)
                    && let Val::Const(c) = st.regs[i]
                    && c.single() == Some(0)
                {
                    st.regs[i] = ConstSet::one(0)
                        .union(&ConstSet::one(1))
                        .map_or(Val::Unknown, Val::Const);
                } else if let Some(i) = gpr_index(r) {
                    st.regs[i] = Val::Unknown;
                }
                return;
            }
            Mnemonic::Movzx | Mnemonic::Movsx | Mnemonic::Movsxd
                if ins.op0_kind() == OpKind::Register && ins.op1_kind() == OpKind::Register =>
            {
                // Values we hold in registers are already small in the 0/1 select idiom.
                let v = match gpr_index(ins.op1_register()).map(|i| st.regs[i]) {
                    Some(Val::Const(c)) if c.values().iter().all(|&x| x <= 1) => Val::Const(c),
                    _ => Val::Unknown,
                };
                self.set_reg(st, ins.op0_register(), v);
                return;
            }
            Mnemonic::And
            | Mnemonic::Or
            | Mnemonic::Xor
            | Mnemonic::Shl
            | Mnemonic::Shr
            | Mnemonic::Neg
            | Mnemonic::Not
            | Mnemonic::Inc
            | Mnemonic::Dec
            | Mnemonic::Imul
                if ins.op0_kind() == OpKind::Register
                    && gpr_index(ins.op0_register()).is_some_and(|i| i != RSP) =>
            {
                let r = ins.op0_register();
                let cur = self.reg(st, r);
                let imm = (ins.op_count() >= 2)
                    .then(|| match ins.op_kind(ins.op_count() - 1) {
                        OpKind::Immediate8
                        | OpKind::Immediate8to32
                        | OpKind::Immediate8to64
                        | OpKind::Immediate32
                        | OpKind::Immediate32to64 => Some(ins.immediate(ins.op_count() - 1)),
                        _ => None,
                    })
                    .flatten();
                let width = if r.is_gpr64() { u64::MAX } else { 0xffff_ffff };
                let v = match (cur, m, imm) {
                    (Val::Const(c), Mnemonic::And, Some(i)) => Val::Const(c.map(|x| x & i & width)),
                    (Val::Const(c), Mnemonic::Or, Some(i)) => {
                        Val::Const(c.map(|x| (x | i) & width))
                    }
                    (Val::Const(c), Mnemonic::Xor, Some(i)) => {
                        Val::Const(c.map(|x| (x ^ i) & width))
                    }
                    (Val::Const(c), Mnemonic::Shl, Some(i)) => {
                        Val::Const(c.map(|x| x.checked_shl(i as u32 & 63).unwrap_or(0) & width))
                    }
                    (Val::Const(c), Mnemonic::Shr, Some(i)) => {
                        Val::Const(c.map(|x| (x & width).checked_shr(i as u32 & 63).unwrap_or(0)))
                    }
                    (Val::Const(c), Mnemonic::Imul, Some(i)) if ins.op_count() == 3 => {
                        match gpr_index(ins.op1_register()).map(|j| st.regs[j]) {
                            Some(Val::Const(src)) => {
                                Val::Const(src.map(|x| x.wrapping_mul(i) & width))
                            }
                            _ => {
                                let _ = c;
                                Val::Unknown
                            }
                        }
                    }
                    (Val::Const(c), Mnemonic::Neg, None) => {
                        Val::Const(c.map(|x| x.wrapping_neg() & width))
                    }
                    (Val::Const(c), Mnemonic::Not, None) => Val::Const(c.map(|x| !x & width)),
                    (Val::Const(c), Mnemonic::Inc, None) => {
                        Val::Const(c.map(|x| x.wrapping_add(1) & width))
                    }
                    (Val::Const(c), Mnemonic::Dec, None) => {
                        Val::Const(c.map(|x| x.wrapping_sub(1) & width))
                    }
                    _ => Val::Unknown,
                };
                if is_full_width(r) {
                    self.set_reg(st, r, v);
                } else {
                    self.set_reg(st, r, Val::Unknown);
                }
                return;
            }
            Mnemonic::Cmovne
            | Mnemonic::Cmove
            | Mnemonic::Cmova
            | Mnemonic::Cmovae
            | Mnemonic::Cmovb
            | Mnemonic::Cmovbe
            | Mnemonic::Cmovg
            | Mnemonic::Cmovge
            | Mnemonic::Cmovl
            | Mnemonic::Cmovle
            | Mnemonic::Cmovs
            | Mnemonic::Cmovns
                if ins.op0_kind() == OpKind::Register =>
            {
                // Either value may reach the destination.
                let r = ins.op0_register();
                let v = self.reg(st, r).join(self.operand(st, ins, 1));
                self.set_reg(st, r, v);
                return;
            }
            _ => {}
        }
        // Anything else: every register it writes becomes unknown; a stack write kills the slot.
        let info = self.info.info(ins);
        let mut writes_sp = false;
        let mut written = Vec::new();
        for u in info.used_registers() {
            if matches!(
                u.access(),
                OpAccess::Write
                    | OpAccess::CondWrite
                    | OpAccess::ReadWrite
                    | OpAccess::ReadCondWrite
            ) && let Some(i) = gpr_index(u.register())
            {
                if i == RSP {
                    writes_sp = true;
                } else {
                    written.push(i);
                }
            }
        }
        for i in written {
            st.regs[i] = Val::Unknown;
        }
        if writes_sp {
            let inc = i64::from(ins.stack_pointer_increment());
            st.sp = if inc != 0 {
                st.sp.map(|s| s + inc)
            } else {
                None
            };
        }
        if ins.op_count() > 0
            && ins.op0_kind() == OpKind::Memory
            && let Mem::Stack(o) = self.mem(st, ins)
        {
            st.store(o, ins.memory_size().size() as i64, Val::Unknown);
        }
    }
}

impl ChunkScanner for Scanner<'_, '_, '_> {
    fn scan_chunk(&mut self, code: &[u8], start: u64, end: u64, budget: u64, out: &mut ScanOut) {
        let is_func = self.ctx.start_set.contains(&start);
        let mut st = if is_func {
            self.entry_state()
        } else {
            State::unknown(16)
        };
        let bitness = if self.is64 { 64 } else { 32 };
        let mut dec = Decoder::with_ip(bitness, code, start, DecoderOptions::NONE);
        let mut ins = Instruction::default();
        let mut pending: HashMap<u64, State> = HashMap::new();
        let mut reachable = true;
        let mut prev_padding = false;
        let func = start;
        while dec.can_decode() {
            if out.instructions >= budget {
                out.exhausted = true;
                return;
            }
            out.instructions += 1;
            dec.decode_out(&mut ins);
            let ip = ins.ip();
            if let Some(p) = pending.remove(&ip) {
                st = if reachable { st.join(&p) } else { p };
                reachable = true;
            }
            // Padding (nop, int3) between stubs keeps the "fresh" status.
            let padding = matches!(ins.mnemonic(), Mnemonic::Nop | Mnemonic::Int3);
            self.fresh = ip == start || (self.fresh && prev_padding);
            prev_padding = padding;
            if !reachable {
                st = State::unknown(16);
                reachable = true;
                self.fresh = true;
            }
            // x86 passes arguments by pushes: once the frame offset is lost, pushes are still
            // read back relative to the stack pointer.
            if !self.is64 && st.sp.is_none() {
                st.float_sp();
            }
            if self.trace {
                eprintln!(
                    "{ip:#x} {:?} sp={:?} regs={:?} slots={:?}",
                    ins.code(),
                    st.sp,
                    &st.regs[..10],
                    st.slots
                );
            }
            if ins.is_invalid() {
                st = State::unknown(16);
                continue;
            }
            if ins.next_ip() > end {
                break;
            }
            match ins.flow_control() {
                FlowControl::Next | FlowControl::XbeginXabortXend => {
                    self.step_plain(&mut st, &ins, func, out)
                }
                FlowControl::ConditionalBranch => {
                    let t = ins.near_branch_target();
                    if t > ip && t < end && pending.len() < MAX_PENDING {
                        let merged = match pending.remove(&t) {
                            Some(p) => p.join(&st),
                            None => st.clone(),
                        };
                        pending.insert(t, merged);
                    }
                    // Counting instructions (loop/jrcxz) write RCX.
                    if matches!(
                        ins.mnemonic(),
                        Mnemonic::Loop | Mnemonic::Loope | Mnemonic::Loopne
                    ) {
                        st.regs[RCX] = Val::Unknown;
                    }
                }
                FlowControl::UnconditionalBranch => {
                    let t = ins.near_branch_target();
                    if t > ip && t < end && !self.ctx.thunks.contains_key(&t) {
                        if pending.len() < MAX_PENDING {
                            let merged = match pending.remove(&t) {
                                Some(p) => p.join(&st),
                                None => st.clone(),
                            };
                            pending.insert(t, merged);
                        }
                    } else {
                        self.on_call(&mut st, &ins, func, out, true);
                    }
                    reachable = false;
                }
                FlowControl::IndirectBranch => {
                    self.on_call(&mut st, &ins, func, out, true);
                    reachable = false;
                }
                FlowControl::Call | FlowControl::IndirectCall => {
                    self.on_call(&mut st, &ins, func, out, false);
                }
                FlowControl::Return | FlowControl::Interrupt | FlowControl::Exception => {
                    reachable = false;
                }
            }
        }
    }
}

/// Marks `len` bytes from `address` as written.
fn taint(out: &mut ScanOut, address: u64, len: u64) {
    out.written_globals.extend(address..address + len.min(256));
}

/// Most instructions [`own_pops`] decodes in one function.
const MAX_POPS_WALK: u64 = 4096;

/// Stack bytes one of the driver's own x86 functions pops on return (`ret N`, as stdcall
/// functions do), found by walking its code from `start` along its branches; 0 when it returns
/// with a plain `ret`, or when no return is found or its returns disagree. Calls are stepped
/// over, and a jump to another known function start or import thunk (a tail call) is not
/// followed.
pub(crate) fn own_pops(ctx: &Ctx<'_, '_>, start: u64) -> u16 {
    let Some(section) = ctx
        .image
        .code_sections()
        .into_iter()
        .map(|(rva, bytes)| (ctx.image.image_base + u64::from(rva), bytes))
        .find(|(va, bytes)| start >= *va && start < va + bytes.len() as u64)
    else {
        return 0;
    };
    let (va0, bytes) = section;
    let end = va0 + bytes.len() as u64;
    let mut todo = vec![start];
    let mut seen = std::collections::HashSet::new();
    let mut pops: Option<u16> = None;
    let mut disagree = false;
    let mut ins = Instruction::default();
    let mut decoded = 0;
    while let Some(at) = todo.pop() {
        let mut dec = Decoder::with_ip(32, &bytes[(at - va0) as usize..], at, DecoderOptions::NONE);
        while dec.can_decode() && decoded < MAX_POPS_WALK.min(ctx.x86_pops_budget.get()) {
            let ip = dec.ip();
            if !seen.insert(ip) {
                break;
            }
            decoded += 1;
            dec.decode_out(&mut ins);
            if ins.is_invalid() || ins.next_ip() > end {
                break;
            }
            let mut follow = |t: u64| {
                if t >= va0
                    && t < end
                    && !ctx.thunks.contains_key(&t)
                    && (t == start || !ctx.start_set.contains(&t))
                {
                    todo.push(t);
                }
            };
            match ins.flow_control() {
                FlowControl::Return => {
                    let n = if ins.op_count() == 1 {
                        ins.immediate16()
                    } else {
                        0
                    };
                    if pops.is_some_and(|p| p != n) {
                        disagree = true;
                        todo.clear();
                    }
                    pops = Some(n);
                    break;
                }
                FlowControl::ConditionalBranch => follow(ins.near_branch_target()),
                FlowControl::UnconditionalBranch => {
                    follow(ins.near_branch_target());
                    break;
                }
                FlowControl::IndirectBranch | FlowControl::Interrupt | FlowControl::Exception => {
                    break;
                }
                _ => {}
            }
        }
    }
    ctx.x86_pops_budget
        .set(ctx.x86_pops_budget.get().saturating_sub(decoded));
    if disagree { 0 } else { pops.unwrap_or(0) }
}

impl<'c, 'i, 'a> Scanner<'c, 'i, 'a> {
    pub(crate) fn new(ctx: &'c Ctx<'i, 'a>) -> Self {
        let is64 = ctx.image.machine == MACHINE_X64;
        Scanner {
            ctx,
            is64,
            ptr: if is64 { 8 } else { 4 },
            reader: Reader { is64 },
            info: InstructionInfoFactory::new(),
            fresh: true,
            trace: std::env::var_os("POOLSLEUTH_TRACE").is_some(),
        }
    }
}
