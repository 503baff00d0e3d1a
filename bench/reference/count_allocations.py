"""Counts tensor allocations per image token of the official decoding loop (the stand-in of official_loop_standin.py).

Every aten op that runs under a TorchDispatchMode is seen; for each token (proj_out, head sample with cfg 7.5 and
28 steps, proj_in, one decode step of both CFG rows) it reports:
  tensors_per_token     tensors returned by aten ops (views included; what TorchSharp's tensor statistics count)
  storages_per_token    of those, tensors whose storage is new (not an input's): real allocations
  new_bytes_per_token   bytes of those new storages
  kv_mask_bytes_per_token  new bytes of the decode step alone (K/V growth by torch.cat, the 4-D mask, activations)
Usage: NEXTSTEP_REF=dir python3 count_allocations.py [tiny|medium] [tokens]   (prints one JSON line)"""
import importlib.util
import json
import os
import sys

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("standin", os.path.join(here, "official_loop_standin.py"))
standin = importlib.util.module_from_spec(spec)
spec.loader.exec_module(standin)


class Counter(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.tensors = self.storages = self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage().data_ptr() for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.tensors += 1
                s = t.untyped_storage()
                if s.data_ptr() not in inputs and s.nbytes() > 0:
                    self.storages += 1
                    self.bytes += s.nbytes()
        return out


def main():
    shape = sys.argv[1] if len(sys.argv) > 1 else "medium"
    ntok = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    hidden, layers, heads, kv, inter, hdim, hlayers = standin.SHAPES[shape]
    torch.manual_seed(0)
    fm = standin.load_head_module()
    lm = standin.Qwen2Standin(hidden, layers, heads, kv, inter).eval()
    head = fm.FlowMatchingHead(input_dim=64, cond_dim=hidden, dim=hdim, layers=hlayers).eval()
    proj_in, proj_out = torch.nn.Linear(64, hidden), torch.nn.Linear(hidden, hidden)
    B, prompt = 2, 96
    total, decode = Counter(), Counter()
    with torch.no_grad():
        mask = torch.ones(B, prompt, dtype=torch.long)
        cache = []
        c = lm(torch.randn(B, prompt, hidden), mask, cache)[:, -1:]
        with total:
            for _ in range(ntok):
                c = proj_out(c)
                s = head.sample(c=c.squeeze(1), cfg=7.5, num_sampling_steps=28, noise_repeat=1)
                e = proj_in(s[:, None])
                e = torch.cat([e, e], 0)
                mask = torch.cat([mask, mask.new_ones((B, 1))], 1)
                with decode:
                    c = lm(e, mask, cache)[:, -1:]
    print(json.dumps({"impl": "official-loop-standin-python", "shape": shape, "tokens": ntok,
                      "tensors_per_token": total.tensors / ntok, "storages_per_token": total.storages / ntok,
                      "new_bytes_per_token": total.bytes / ntok, "decode_step_tensors": decode.tensors / ntok,
                      "decode_step_storages": decode.storages / ntok, "kv_mask_bytes_per_token": decode.bytes / ntok}))


if __name__ == "__main__":
    main()
