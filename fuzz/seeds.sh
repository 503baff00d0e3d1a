#!/usr/bin/env bash
# Seed inputs for a fuzz target, taken from the shared fixtures beside the checkout.
set -euo pipefail
target=$1; out=$2
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fx="$(cd "$repo/.." && pwd)/shared/fixtures"
case "$target" in
  safetensors) python3 - "$out/small.safetensors" <<'PY'
import json, struct, sys
h = {"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
     "b": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]}}
j = json.dumps(h).encode(); j += b" " * (-len(j) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(j)) + j + bytes(range(32)))
PY
  ;;
  config) cp "$fx/tiny/model/config.json" "$out/" ;;
  vae-config) cp "$fx/tiny/model/vae/config.json" "$out/" ;;
  tokenizer) cp "$fx/tiny/model/tokenizer.json" "$out/" ;;
  pickle) # data.pkl of the tiny VAE checkpoint (the harness zips it with that checkpoint's storages)
    python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); n = next(n for n in z.namelist() if n.endswith("/data.pkl")); open(sys.argv[2], "wb").write(z.read(n))' \
      "$fx/tiny/model/vae/checkpoint.pt" "$out/data.pkl" ;;
  image) cp "$fx/tiny/golden/photo64.png" "$fx/tiny/golden/t2i_cfg_0.png" "$repo/tests/NextStep.Tests/Reliability/Data/photo64.jpg" "$out/" ;;
  index) python3 - "$fx/tiny/model/model.safetensors" "$out/model.safetensors.index.json" <<'PY'
import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]
names = sorted(k for k in json.loads(f.read(n)) if k != "__metadata__")
shard = lambda i: f"model-{i % 2 + 1:05d}-of-00002.safetensors"
json.dump({"metadata": {}, "weight_map": {k: shard(i) for i, k in enumerate(names)}}, open(sys.argv[2], "w"), indent=2)
PY
  ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
