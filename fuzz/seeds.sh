#!/usr/bin/env bash
# Seed inputs for a fuzz target, taken from the shared fixtures beside the checkout.
set -euo pipefail
target=$1; out=$2
fx="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/shared/fixtures"
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
  pickle) cp "$fx/tiny/model/vae/checkpoint.pt" "$out/" ;;
  image) cp "$fx/tiny/golden/photo64.png" "$fx/tiny/golden/t2i_cfg_0.png" "$out/" ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
