#!/usr/bin/env node
// Compiles src/*.sol with solc-js (standard-JSON API) and writes build/<Contract>.json.
// Settings: optimizer on (200 runs), evmVersion "paris" (no PUSH0, so the code runs on
// every fork from Byzantium on as far as opcodes used by these contracts are concerned).
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const SRC_DIR = path.join(__dirname, 'src');
const OUT_DIR = path.join(__dirname, 'build');
const CONTRACTS = ['Token', 'Pair'];
const EVM_VERSION = 'paris';

const sources = {};
for (const name of CONTRACTS) {
  const file = `${name}.sol`;
  sources[file] = { content: fs.readFileSync(path.join(SRC_DIR, file), 'utf8') };
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: EVM_VERSION,
    metadata: { bytecodeHash: 'ipfs' },
    outputSelection: {
      '*': {
        '*': [
          'abi',
          'evm.bytecode.object',
          'evm.deployedBytecode.object',
          'evm.methodIdentifiers',
          'storageLayout',
          'metadata',
        ],
      },
    },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
let failed = false;
for (const e of output.errors || []) {
  console.error(e.formattedMessage || e.message);
  if (e.severity === 'error') failed = true;
}
if (failed) process.exit(1);

fs.mkdirSync(OUT_DIR, { recursive: true });
for (const name of CONTRACTS) {
  const c = output.contracts[`${name}.sol`][name];
  const artifact = {
    contractName: name,
    compiler: { version: solc.version(), evmVersion: EVM_VERSION, optimizer: { enabled: true, runs: 200 } },
    abi: c.abi,
    bytecode: '0x' + c.evm.bytecode.object,
    deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    methodIdentifiers: c.evm.methodIdentifiers,
    storageLayout: c.storageLayout,
    metadata: c.metadata,
  };
  const out = path.join(OUT_DIR, `${name}.json`);
  fs.writeFileSync(out, JSON.stringify(artifact, null, 2) + '\n');
  console.log(`wrote ${path.relative(__dirname, out)} (deployed ${c.evm.deployedBytecode.object.length / 2} bytes)`);
}
fs.writeFileSync(path.join(OUT_DIR, 'solc-version.txt'), solc.version() + '\n');
console.log(`solc ${solc.version()}`);
