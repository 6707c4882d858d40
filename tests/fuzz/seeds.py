#!/usr/bin/env python3
"""Builds the fuzz targets' seed corpora from the shared fixtures (never from files in the
repository): scripts/fuzz.sh runs it as

    seeds.py FIXTURES EXTRACTED_TESTS_DIR CORPUS_DIR

where EXTRACTED_TESTS_DIR holds a few consensus-test JSON files scripts/fuzz.sh took out of
the fixtures' archives. Each seed is written to CORPUS_DIR/<target>/<name>.
"""

import glob
import gzip
import json
import os
import sys

fixtures, extracted, corpus = sys.argv[1:4]
MAX_SEED = 64 * 1024  # keeps executions fast; larger documents are left out


def write(target, name, data):
    path = os.path.join(corpus, target)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


def gunzip(path):
    with gzip.open(path, "rb") as f:
        return f.read()


# Pre-state dumps: block, pre-state, the codes the pre-state names, block hashes, separated
# by NUL bytes (the prestate_dump target's input format).
prestate = os.path.join(fixtures, "mainnet", "prestate")
dirs = sorted(d for d in glob.glob(os.path.join(prestate, "*")) if os.path.isdir(d))
if dirs:
    codes = json.loads(gunzip(os.path.join(prestate, "bytecodes.json.gz")))
    with open(os.path.join(prestate, "block_hashes.json"), "rb") as f:
        hashes = f.read()
    for d in dirs:
        block = gunzip(os.path.join(d, "block.json.gz"))
        pre = gunzip(os.path.join(d, "pre_state.json.gz"))
        wanted = {a.get("code_hash") for a in json.loads(pre).values()}
        subset = {h: c for h, c in codes.items() if h in wanted}
        seed = b"\0".join([block, pre, json.dumps(subset).encode(), hashes])
        if len(seed) <= 512 * 1024:
            write("prestate_dump", os.path.basename(d), seed)

# eth_getProof recordings and execution witnesses, as recorded (the small ones: a seed of
# megabytes makes every execution slow).
for path in sorted(glob.glob(os.path.join(fixtures, "mainnet", "proofs", "*.json.gz"))):
    data = gunzip(path)
    if len(data) <= 1024 * 1024:
        write("proof_recording", os.path.basename(path)[:-3], data)
for path in sorted(glob.glob(os.path.join(fixtures, "mainnet", "witness", "*.json.gz"))):
    write("execution_witness", os.path.basename(path)[:-3], gunzip(path))

# Consensus tests: one test per seed; their blocks' RLP; their EIP-7928 access lists.
count = 0
for path in sorted(glob.glob(os.path.join(extracted, "**", "*.json"), recursive=True)):
    try:
        with open(path, "rb") as f:
            tests = json.load(f)
    except ValueError:
        continue
    for name, test in list(tests.items())[:3]:
        if not isinstance(test, dict):
            continue
        count += 1
        doc = json.dumps({name: test}).encode()
        if len(doc) <= MAX_SEED:
            write("consensus_test", f"test-{count}", doc)
        for i, block in enumerate(test.get("blocks", [])[:2]):
            rlp = block.get("rlp", "")
            if rlp.startswith("0x"):
                write("block_rlp", f"test-{count}-{i}", bytes.fromhex(rlp[2:]))
            if "blockAccessList" in block:
                number = i + 1
                record = {"block": number, "blockAccessList": block["blockAccessList"]}
                write("access_list", f"test-{count}-{i}", json.dumps(record).encode())
print(f"seeds from {len(dirs)} pre-state blocks and {count} consensus tests")
