#!/usr/bin/env node
// Sanity checks on build/*.json without a Rust toolchain:
//  - compiler metadata says evmVersion "paris" with optimizer 200 runs;
//  - the deployed bytecode (CBOR metadata trailer stripped, PUSH immediates skipped)
//    contains no post-Paris opcodes: PUSH0 (0x5f), TLOAD/TSTORE (0x5c/0x5d), MCOPY (0x5e),
//    BLOBHASH/BLOBBASEFEE (0x49/0x4a);
//  - the storage layout matches the slots the Rust benchmarks rely on.
'use strict';
const fs = require('fs');
const path = require('path');

const BUILD = path.join(__dirname, 'build');
const FORBIDDEN = { 0x5f: 'PUSH0', 0x5c: 'TLOAD', 0x5d: 'TSTORE', 0x5e: 'MCOPY', 0x49: 'BLOBHASH', 0x4a: 'BLOBBASEFEE' };
const EXPECTED_LAYOUT = {
  Token: [
    ['balanceOf', '0', 0],
    ['allowance', '1', 0],
    ['totalSupply', '2', 0],
  ],
  Pair: [
    ['token0', '0', 0],
    ['token1', '1', 0],
    ['reserve0', '2', 0],
    ['reserve1', '2', 14],
  ],
};

let ok = true;
function fail(msg) { console.error('FAIL: ' + msg); ok = false; }

function stripMetadata(code) {
  // Solidity appends CBOR metadata followed by its 2-byte big-endian length.
  const len = (code[code.length - 2] << 8) | code[code.length - 1];
  if (len + 2 > code.length || code[code.length - 2 - len] !== 0xa2) return code; // a2 = CBOR map(2)
  return code.subarray(0, code.length - 2 - len);
}

function scan(code) {
  const found = [];
  for (let pc = 0; pc < code.length; pc++) {
    const op = code[pc];
    if (op >= 0x60 && op <= 0x7f) { pc += op - 0x5f; continue; } // PUSH1..PUSH32 immediates
    if (FORBIDDEN[op]) found.push(`${FORBIDDEN[op]} at pc ${pc}`);
  }
  return found;
}

for (const name of Object.keys(EXPECTED_LAYOUT)) {
  const art = JSON.parse(fs.readFileSync(path.join(BUILD, `${name}.json`), 'utf8'));
  const meta = JSON.parse(art.metadata);
  if (meta.settings.evmVersion !== 'paris') fail(`${name}: evmVersion ${meta.settings.evmVersion}`);
  if (!meta.settings.optimizer.enabled || meta.settings.optimizer.runs !== 200) fail(`${name}: optimizer settings`);

  const code = Buffer.from(art.deployedBytecode.slice(2), 'hex');
  const body = stripMetadata(code);
  const bad = scan(body);
  if (bad.length) fail(`${name}: forbidden opcodes: ${bad.join(', ')}`);

  const storage = art.storageLayout.storage.map((s) => [s.label, s.slot, s.offset]);
  if (JSON.stringify(storage) !== JSON.stringify(EXPECTED_LAYOUT[name])) {
    fail(`${name}: storage layout ${JSON.stringify(storage)}`);
  }
  console.log(`${name}: deployed ${code.length} bytes (${body.length} code + ${code.length - body.length} metadata), ` +
    `evmVersion ${meta.settings.evmVersion}, layout ${storage.map(([l, s, o]) => `${l}@${s}+${o}`).join(' ')}`);
}

if (!ok) process.exit(1);
console.log('OK');
