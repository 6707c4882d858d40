//! A tiny EVM assembler with labels, enough to write the test contracts by hand.

use revm::bytecode::opcode;

/// Bytecode under construction.
#[derive(Default)]
pub(crate) struct Asm {
    code: Vec<u8>,
    labels: Vec<(&'static str, usize)>,
    /// Positions of 2-byte jump targets to patch, with the label they name.
    fixups: Vec<(usize, &'static str)>,
}

impl Asm {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn op(mut self, op: u8) -> Self {
        self.code.push(op);
        self
    }

    pub(crate) fn ops(mut self, ops: &[u8]) -> Self {
        self.code.extend_from_slice(ops);
        self
    }

    /// PUSHn with the minimal width for `value` (at least PUSH1).
    pub(crate) fn push(mut self, value: u64) -> Self {
        let bytes = value.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
        self.code.push(opcode::PUSH1 + (7 - skip as u8));
        self.code.extend_from_slice(&bytes[skip..]);
        self
    }

    pub(crate) fn push_bytes(mut self, bytes: &[u8]) -> Self {
        assert!(!bytes.is_empty() && bytes.len() <= 32);
        self.code.push(opcode::PUSH1 + bytes.len() as u8 - 1);
        self.code.extend_from_slice(bytes);
        self
    }

    /// PUSH2 of a label's position, patched at `build`.
    pub(crate) fn push_label(mut self, label: &'static str) -> Self {
        self.code.push(opcode::PUSH2);
        self.fixups.push((self.code.len(), label));
        self.code.extend_from_slice(&[0, 0]);
        self
    }

    /// Marks a jump destination.
    pub(crate) fn label(mut self, label: &'static str) -> Self {
        self.labels.push((label, self.code.len()));
        self.code.push(opcode::JUMPDEST);
        self
    }

    pub(crate) fn build(mut self) -> Vec<u8> {
        for (at, label) in &self.fixups {
            let target = self
                .labels
                .iter()
                .find(|(l, _)| l == label)
                .expect("unknown label")
                .1;
            self.code[*at..*at + 2].copy_from_slice(&(target as u16).to_be_bytes());
        }
        self.code
    }
}

/// Init code that returns `runtime` as the deployed code, after running `constructor`.
pub(crate) fn deployer(constructor: &[u8], runtime: &[u8]) -> Vec<u8> {
    // PUSH2 len DUP1 PUSH2 offset PUSH1 0 CODECOPY PUSH1 0 RETURN
    let prefix_len = constructor.len() + 13;
    let mut code = constructor.to_vec();
    code.extend(
        Asm::new()
            .op(opcode::PUSH2)
            .ops(&(runtime.len() as u16).to_be_bytes())
            .op(opcode::DUP1)
            .op(opcode::PUSH2)
            .ops(&(prefix_len as u16).to_be_bytes())
            .push(0)
            .op(opcode::CODECOPY)
            .push(0)
            .op(opcode::RETURN)
            .build(),
    );
    assert_eq!(code.len(), prefix_len);
    code.extend_from_slice(runtime);
    code
}
