//! ARM64 scanner (yaxpeax-arm, pure Rust).
//!
//! Import calls are `adrp xN, page; ldr xN, [xN, #lo12]; blr xN`; tags are built with
//! `movz`/`movk` (or `mov` of a logical immediate, or a literal load). Arguments 1-8 are in
//! x0-x7, later ones at `[sp + 8*(n-9)]` at the call.

use std::collections::HashMap;

use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::{InstDecoder, Instruction, Opcode, Operand, ShiftStyle, SizeCode};

use super::{ArgReader, Callee, ChunkScanner, Ctx, Obs, ParamLoc, ScanOut, State, Val};
use crate::driver::image::Image;

const SP: i64 = 31;

/// Base value, offset, and optional writeback (register, delta) of a memory operand.
type MemRef = (Val, i64, Option<(u16, i64)>);
const MAX_PENDING: usize = 512;

fn decode_at(dec: &InstDecoder, bytes: &[u8]) -> Option<Instruction> {
    let mut rd = U8Reader::new(bytes);
    dec.decode(&mut rd).ok()
}

/// `adrp x16, page; ldr x16, [x16, #off]; br x16` stubs whose slot is an IAT entry.
pub(crate) fn find_thunks(image: &Image<'_>) -> HashMap<u64, usize> {
    let dec = InstDecoder::default();
    let mut out = HashMap::new();
    for (rva, bytes) in image.code_sections() {
        let va0 = image.image_base + u64::from(rva);
        let mut i = 0usize;
        while i + 12 <= bytes.len() {
            let w = u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
            // ADRP opcode bits: 1xx10000
            if w & 0x9f00_0000 == 0x9000_0000 {
                let pc = va0 + i as u64;
                if let (Some(a), Some(l), Some(b)) = (
                    decode_at(&dec, &bytes[i..]),
                    decode_at(&dec, &bytes[i + 4..]),
                    decode_at(&dec, &bytes[i + 8..]),
                ) && let (Opcode::ADRP, Operand::Register(_, ra), Operand::PCOffset(page)) =
                    (a.opcode, a.operands[0], a.operands[1])
                    && let (
                        Opcode::LDR,
                        Operand::Register(SizeCode::X, rl),
                        Operand::RegPreIndex(rb, off, false),
                    ) = (l.opcode, l.operands[0], l.operands[1])
                    && rb == ra
                    && b.opcode == Opcode::BR
                    && matches!(b.operands[0], Operand::Register(SizeCode::X, r) if r == rl)
                {
                    let slot = (pc & !0xfff)
                        .wrapping_add(page as u64)
                        .wrapping_add(off as i64 as u64);
                    if let Some(&imp) = image.iat.get(&slot) {
                        out.insert(pc, imp);
                    }
                }
            }
            i += 4;
        }
    }
    out
}

struct Reader;

impl ArgReader for Reader {
    fn arg(&self, st: &State, pos: u8, _x86_slot: u8) -> Val {
        match pos {
            0 => Val::Unknown,
            1..=8 => st.regs[usize::from(pos - 1)],
            n => st
                .sp
                .map_or(Val::Unknown, |sp| st.slot(sp + 8 * (i64::from(n) - 9))),
        }
    }
    fn param(&self, st: &State, loc: ParamLoc) -> Val {
        match loc {
            ParamLoc::Arg(k) => self.arg(st, k, k),
            ParamLoc::Reg(r) => st.regs.get(usize::from(r)).copied().unwrap_or(Val::Unknown),
        }
    }
}

fn entry_state() -> State {
    let mut st = State::unknown(32);
    for k in 1..=8u8 {
        st.regs[usize::from(k - 1)] = Val::Param(ParamLoc::Arg(k));
    }
    for k in 9..=12u8 {
        st.slots
            .insert(8 * (i64::from(k) - 9), (Val::Param(ParamLoc::Arg(k)), 8));
    }
    st
}

fn wmask(size: SizeCode, v: u64) -> u64 {
    match size {
        SizeCode::W => v & 0xffff_ffff,
        SizeCode::X => v,
    }
}

/// Value of a register operand where 31 means the zero register.
fn reg_zr(st: &State, n: u16, size: SizeCode) -> Val {
    if n >= 31 {
        return Val::konst(0);
    }
    match st.regs[usize::from(n)] {
        Val::Const(c) => Val::Const(c.map(|x| wmask(size, x))),
        v if size == SizeCode::X => v,
        // A 32-bit view of a pointer or parameter: keep parameters (tags are 32-bit).
        v @ Val::Param(_) => v,
        _ => Val::Unknown,
    }
}

/// Value of a register operand where 31 means SP.
fn reg_sp(st: &State, n: u16) -> Val {
    if i64::from(n) == SP {
        st.sp.map_or(Val::Unknown, Val::StackAddr)
    } else {
        st.regs[usize::from(n)]
    }
}

fn set(st: &mut State, n: u16, v: Val) {
    if n < 31 {
        st.regs[usize::from(n)] = v;
    }
}

fn set_sp_or_reg(st: &mut State, n: u16, v: Val) {
    if i64::from(n) == SP {
        st.sp = match v {
            Val::StackAddr(o) => Some(o),
            _ => None,
        };
    } else {
        set(st, n, v);
    }
}

pub(crate) struct Scanner<'c, 'i, 'a> {
    ctx: &'c Ctx<'i, 'a>,
    dec: InstDecoder,
}

impl<'c, 'i, 'a> Scanner<'c, 'i, 'a> {
    pub(crate) fn new(ctx: &'c Ctx<'i, 'a>) -> Self {
        Scanner {
            ctx,
            dec: InstDecoder::default(),
        }
    }
}

impl Scanner<'_, '_, '_> {
    /// Address a memory operand refers to (before any post-index writeback).
    fn addr(&self, st: &State, op: Operand) -> Option<MemRef> {
        match op {
            Operand::RegPreIndex(n, off, wb) => Some((
                reg_sp(st, n),
                i64::from(off),
                wb.then_some((n, i64::from(off))),
            )),
            Operand::RegPostIndex(n, off) => Some((reg_sp(st, n), 0, Some((n, i64::from(off))))),
            _ => None,
        }
    }

    fn load(&self, st: &State, base: Val, off: i64, size: u32) -> Val {
        match base {
            Val::StackAddr(o) => st.slot(o + off),
            Val::WdfTable(t) if t + off >= 0 && (t + off) % 8 == 0 => {
                Val::WdfFn(((t + off) / 8) as u32)
            }
            Val::Const(c) => match c.single() {
                Some(a) => self.ctx.load_global(a.wrapping_add(off as u64), size),
                None => Val::Unknown,
            },
            _ => Val::Unknown,
        }
    }

    fn writeback(&self, st: &mut State, wb: Option<(u16, i64)>) {
        if let Some((n, d)) = wb {
            let v = match reg_sp(st, n) {
                Val::StackAddr(o) => Val::StackAddr(o + d),
                Val::Const(c) => Val::Const(c.map(|x| x.wrapping_add(d as u64))),
                _ => Val::Unknown,
            };
            set_sp_or_reg(st, n, v);
        }
    }

    fn on_call(
        &self,
        st: &mut State,
        target: Val,
        direct: Option<u64>,
        (pc, func): (u64, u64),
        out: &mut ScanOut,
        tail: bool,
    ) {
        let callee = match (target, direct) {
            (_, Some(t)) if self.ctx.is_wrapper(t, out) => Some(Callee::Wrapper(t)),
            (_, Some(t)) if self.ctx.thunks.contains_key(&t) => {
                let imp = self.ctx.thunks[&t];
                if Some(imp) == self.ctx.bind_import {
                    self.bind(st, out);
                    None
                } else {
                    self.ctx.import_callee(imp)
                }
            }
            (Val::Import(i), _) => {
                if Some(i) == self.ctx.bind_import {
                    self.bind(st, out);
                    None
                } else {
                    self.ctx.import_callee(i)
                }
            }
            (Val::WdfFn(idx), _) => crate::driver::apis::find_wdf(u64::from(idx)).map(Callee::Wdf),
            _ => None,
        };
        if let Some(t) = direct
            && !tail
        {
            out.call_targets.insert(t);
        }
        if let Some(c) = callee
            && let Some(tag) = self.ctx.tag_at(&Reader, st, c)
        {
            out.obs.push(Obs {
                call_va: pc,
                func_va: func,
                callee: c,
                tag,
            });
        }
        if !tail {
            for r in 0..=18 {
                st.regs[r] = Val::Unknown;
            }
            st.regs[30] = Val::Unknown;
            if let Some(sp) = st.sp {
                st.forget_range(sp, sp + 0x40);
            }
        }
    }

    fn bind(&self, st: &State, out: &mut ScanOut) {
        if let Val::Const(c) = st.regs[2]
            && let Some(v) = c.single()
        {
            out.bind_infos.push(v);
        }
    }
}

impl ChunkScanner for Scanner<'_, '_, '_> {
    fn scan_chunk(&mut self, code: &[u8], start: u64, end: u64, budget: u64, out: &mut ScanOut) {
        let mut st = if self.ctx.start_set.contains(&start) {
            entry_state()
        } else {
            State::unknown(32)
        };
        let mut pending: HashMap<u64, State> = HashMap::new();
        let mut reachable = true;
        let func = start;
        let mut off = 0usize;
        while off + 4 <= code.len() {
            if out.instructions >= budget {
                out.exhausted = true;
                return;
            }
            out.instructions += 1;
            let pc = start + off as u64;
            let ins = decode_at(&self.dec, &code[off..off + 4]);
            off += 4;
            if let Some(p) = pending.remove(&pc) {
                st = if reachable { st.join(&p) } else { p };
                reachable = true;
            }
            if !reachable {
                st = State::unknown(32);
                reachable = true;
            }
            let Some(ins) = ins else {
                st = State::unknown(32);
                continue;
            };
            let ops = ins.operands;
            let branch_to = |st: &State, pending: &mut HashMap<u64, State>, t: u64| {
                if t > pc && t < end && pending.len() < MAX_PENDING {
                    let merged = match pending.remove(&t) {
                        Some(p) => p.join(st),
                        None => st.clone(),
                    };
                    pending.insert(t, merged);
                }
            };
            match ins.opcode {
                Opcode::MOVZ | Opcode::MOVN => {
                    if let (Operand::Register(sz, d), Operand::ImmShift(imm, sh)) = (ops[0], ops[1])
                    {
                        let v = u64::from(imm).checked_shl(u32::from(sh)).unwrap_or(0);
                        let v = if ins.opcode == Opcode::MOVN { !v } else { v };
                        if ins.opcode == Opcode::MOVZ {
                            out.note_imm(func, wmask(sz, v), pc);
                        }
                        set(&mut st, d, Val::konst(wmask(sz, v)));
                    } else {
                        self.clobber_dest(&mut st, &ops);
                    }
                }
                Opcode::MOVK => {
                    if let (Operand::Register(sz, d), Operand::ImmShift(imm, sh)) = (ops[0], ops[1])
                        && d < 31
                    {
                        let mask = 0xffffu64.checked_shl(u32::from(sh)).unwrap_or(0);
                        let ins_v = u64::from(imm).checked_shl(u32::from(sh)).unwrap_or(0);
                        let v = match st.regs[usize::from(d)] {
                            Val::Const(c) => Val::Const(c.map(|x| wmask(sz, (x & !mask) | ins_v))),
                            _ => Val::Unknown,
                        };
                        if let Val::Const(c) = v
                            && let Some(x) = c.single()
                        {
                            out.note_imm(func, x, pc);
                        }
                        set(&mut st, d, v);
                    } else {
                        self.clobber_dest(&mut st, &ops);
                    }
                }
                Opcode::ORR => match (ops[0], ops[1], ops[2]) {
                    // mov wd, wm
                    (
                        Operand::Register(sz, d),
                        Operand::Register(_, 31),
                        Operand::Register(_, m),
                    )
                    | (
                        Operand::Register(sz, d),
                        Operand::Register(_, 31),
                        Operand::RegShift(ShiftStyle::LSL, 0, _, m),
                    ) => {
                        let v = reg_zr(&st, m, sz);
                        set(&mut st, d, v);
                    }
                    (
                        Operand::RegisterOrSP(sz, d) | Operand::Register(sz, d),
                        Operand::Register(_, 31),
                        imm,
                    ) => {
                        let v = match imm {
                            Operand::Imm64(x) => Val::konst(wmask(sz, x)),
                            Operand::Immediate(x) => Val::konst(wmask(sz, u64::from(x))),
                            _ => Val::Unknown,
                        };
                        set_sp_or_reg(&mut st, d, v);
                    }
                    _ => self.clobber_dest(&mut st, &ops),
                },
                Opcode::CSEL => {
                    if let (
                        Operand::Register(sz, d),
                        Operand::Register(_, n),
                        Operand::Register(_, m),
                    ) = (ops[0], ops[1], ops[2])
                    {
                        let v = reg_zr(&st, n, sz).join(reg_zr(&st, m, sz));
                        set(&mut st, d, v);
                    } else {
                        self.clobber_dest(&mut st, &ops);
                    }
                }
                Opcode::ADRP => {
                    if let (Operand::Register(_, d), Operand::PCOffset(o)) = (ops[0], ops[1]) {
                        set(&mut st, d, Val::konst((pc & !0xfff).wrapping_add(o as u64)));
                    }
                }
                Opcode::ADR => {
                    if let (Operand::Register(_, d), Operand::PCOffset(o)) = (ops[0], ops[1]) {
                        set(&mut st, d, Val::konst(pc.wrapping_add(o as u64)));
                    }
                }
                Opcode::ADD | Opcode::SUB => {
                    let imm = match ops[2] {
                        Operand::Immediate(x) => Some(i64::from(x)),
                        Operand::ImmShift(x, sh) => Some(i64::from(x) << sh),
                        _ => None,
                    };
                    match (ops[0], ops[1], imm) {
                        (Operand::RegisterOrSP(_, d), Operand::RegisterOrSP(_, n), Some(imm)) => {
                            let delta = if ins.opcode == Opcode::ADD { imm } else { -imm };
                            let v = match reg_sp(&st, n) {
                                Val::StackAddr(o) => Val::StackAddr(o + delta),
                                Val::WdfTable(t) => Val::WdfTable(t + delta),
                                Val::Const(c) => {
                                    Val::Const(c.map(|x| x.wrapping_add(delta as u64)))
                                }
                                _ => Val::Unknown,
                            };
                            set_sp_or_reg(&mut st, d, v);
                        }
                        _ => self.clobber_dest(&mut st, &ops),
                    }
                }
                Opcode::LDR | Opcode::LDUR => match (ops[0], ops[1]) {
                    (Operand::Register(sz, t), Operand::PCOffset(o)) => {
                        let size = if sz == SizeCode::X { 8 } else { 4 };
                        let v = self.ctx.load_global(pc.wrapping_add(o as u64), size);
                        set(&mut st, t, v);
                    }
                    (Operand::Register(sz, t), mem) => {
                        if let Some((base, o, wb)) = self.addr(&st, mem) {
                            let size = if sz == SizeCode::X { 8 } else { 4 };
                            let v = self.load(&st, base, o, size);
                            self.writeback(&mut st, wb);
                            set(&mut st, t, v);
                        } else {
                            self.clobber_dest(&mut st, &ops);
                        }
                    }
                    _ => self.clobber_dest(&mut st, &ops),
                },
                Opcode::STR | Opcode::STUR => {
                    if let (Operand::Register(sz, t), mem) = (ops[0], ops[1])
                        && let Some((base, o, wb)) = self.addr(&st, mem)
                    {
                        if let Val::StackAddr(a) = base {
                            let v = reg_zr(&st, t, sz);
                            st.store(a + o, if sz == SizeCode::X { 8 } else { 4 }, v);
                        }
                        self.writeback(&mut st, wb);
                    }
                }
                Opcode::STP | Opcode::LDP => {
                    if let Some((base, o, wb)) = self.addr(&st, ops[2]) {
                        if let Val::StackAddr(a) = base {
                            st.store(a + o, 16, Val::Unknown);
                        }
                        self.writeback(&mut st, wb);
                    }
                    if ins.opcode == Opcode::LDP {
                        for op in [ops[0], ops[1]] {
                            if let Operand::Register(_, r) = op {
                                set(&mut st, r, Val::Unknown);
                            }
                        }
                    }
                }
                Opcode::BL => {
                    if let Operand::PCOffset(o) = ops[0] {
                        let t = pc.wrapping_add(o as u64);
                        self.on_call(&mut st, Val::Unknown, Some(t), (pc, func), out, false);
                    }
                }
                Opcode::BLR | Opcode::BLRAA | Opcode::BLRAAZ | Opcode::BLRAB | Opcode::BLRABZ => {
                    let target = match ops[0] {
                        Operand::Register(_, n) if n < 31 => st.regs[usize::from(n)],
                        _ => Val::Unknown,
                    };
                    self.on_call(&mut st, target, None, (pc, func), out, false);
                }
                Opcode::BR | Opcode::BRAA | Opcode::BRAAZ | Opcode::BRAB | Opcode::BRABZ => {
                    let target = match ops[0] {
                        Operand::Register(_, n) if n < 31 => st.regs[usize::from(n)],
                        _ => Val::Unknown,
                    };
                    self.on_call(&mut st, target, None, (pc, func), out, true);
                    reachable = false;
                }
                Opcode::B => {
                    if let Operand::PCOffset(o) = ops[0] {
                        let t = pc.wrapping_add(o as u64);
                        if t > pc && t < end {
                            branch_to(&st, &mut pending, t);
                        } else {
                            self.on_call(&mut st, Val::Unknown, Some(t), (pc, func), out, true);
                        }
                    }
                    reachable = false;
                }
                Opcode::Bcc(_) | Opcode::CBZ | Opcode::CBNZ | Opcode::TBZ | Opcode::TBNZ => {
                    if let Some(Operand::PCOffset(o)) =
                        ops.iter().find(|o| matches!(o, Operand::PCOffset(_)))
                    {
                        branch_to(&st, &mut pending, pc.wrapping_add(*o as u64));
                    }
                }
                Opcode::RET | Opcode::RETAA | Opcode::RETAB | Opcode::BRK | Opcode::UDF => {
                    reachable = false;
                }
                Opcode::HINT => {}
                _ => {
                    self.clobber_dest(&mut st, &ops);
                    // Writeback of any memory operand.
                    for op in ops {
                        match op {
                            Operand::RegPreIndex(n, o, true) => {
                                self.writeback(&mut st, Some((n, i64::from(o))))
                            }
                            Operand::RegPostIndex(n, o) => {
                                self.writeback(&mut st, Some((n, i64::from(o))))
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
}

impl Scanner<'_, '_, '_> {
    /// Unmodelled instruction: its first operand, if a register, becomes unknown. Stores have a
    /// register first too but write memory; we accept losing that register's value (rare).
    fn clobber_dest(&self, st: &mut State, ops: &[Operand; 4]) {
        match ops[0] {
            Operand::Register(_, n) => set(st, n, Val::Unknown),
            Operand::RegisterOrSP(_, n) => set_sp_or_reg(st, n, Val::Unknown),
            _ => {}
        }
    }
}
