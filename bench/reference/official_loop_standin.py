"""Times the official NextStep-1 decoding loop on the CPU, float32, random weights (comparison baseline for `nextstep bench`).

Follows ../shared/bench/official_loop_cpu.py step for step, with one substitution: transformers is not installable on
these machines, so the backbone is a plain-PyTorch restatement of transformers' Qwen2Model forward as the official loop
drives it (RMSNorm, rotate-half RoPE, SDPA attention with repeat_kv for GQA, a DynamicCache that grows K/V with
torch.cat every step, and a fresh 4-D additive mask built from the 2-D attention mask on every call). The flow-matching
head is the official file itself (modeling_fm_head.py from github.com/stepfun-ai/NextStep-1), read from $NEXTSTEP_REF at
run time and never vendored.

Usage: NEXTSTEP_REF=dir-with-modeling_fm_head.py python3 official_loop_standin.py [tiny|medium|large] [tokens]
Prints one JSON line like the original script."""
import importlib.util
import json
import math
import os
import sys
import time
import types

import torch
import torch.nn.functional as F

SHAPES = {
    "tiny": (64, 2, 4, 2, 160, 96, 2),
    "medium": (1024, 8, 8, 2, 2816, 1024, 6),
    "large": (5120, 48, 40, 8, 13824, 1536, 12),
}


def load_head_module():
    for name in ["nextstep", "nextstep.utils", "nextstep.utils.compile_utils", "nextstep.utils.misc"]:
        m = types.ModuleType(name)
        m.__path__ = []
        sys.modules.setdefault(name, m)
    sys.modules["nextstep.utils.compile_utils"].smart_compile = lambda *a, **k: (a[0] if a and callable(a[0]) else (lambda f: f))
    sys.modules["nextstep.utils.misc"].LargeInt = int
    spec = importlib.util.spec_from_file_location("official_fm_head", os.path.join(os.environ["NEXTSTEP_REF"], "modeling_fm_head.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class RMSNorm(torch.nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dt)


def rotate_half(x):
    a, b = x.chunk(2, -1)
    return torch.cat((-b, a), -1)


class Layer(torch.nn.Module):
    def __init__(self, h, heads, kv, inter, eps):
        super().__init__()
        self.heads, self.kv, self.hd = heads, kv, h // heads
        self.q_proj = torch.nn.Linear(h, heads * self.hd, bias=True)
        self.k_proj = torch.nn.Linear(h, kv * self.hd, bias=True)
        self.v_proj = torch.nn.Linear(h, kv * self.hd, bias=True)
        self.o_proj = torch.nn.Linear(heads * self.hd, h, bias=False)
        self.gate_proj = torch.nn.Linear(h, inter, bias=False)
        self.up_proj = torch.nn.Linear(h, inter, bias=False)
        self.down_proj = torch.nn.Linear(inter, h, bias=False)
        self.input_layernorm = RMSNorm(h, eps)
        self.post_attention_layernorm = RMSNorm(h, eps)

    def forward(self, x, cos, sin, mask, cache, i):
        b, t, _ = x.shape
        a = self.input_layernorm(x)
        q = self.q_proj(a).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.k_proj(a).view(b, t, self.kv, self.hd).transpose(1, 2)
        v = self.v_proj(a).view(b, t, self.kv, self.hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        if len(cache) <= i:  # DynamicCache.update: first call stores, later calls torch.cat along the sequence
            cache.append([k, v])
        else:
            cache[i] = [torch.cat([cache[i][0], k], -2), torch.cat([cache[i][1], v], -2)]
        k, v = cache[i]
        g = self.heads // self.kv  # repeat_kv
        k = k[:, :, None].expand(b, self.kv, g, k.shape[-2], self.hd).reshape(b, self.heads, -1, self.hd)
        v = v[:, :, None].expand(b, self.kv, g, v.shape[-2], self.hd).reshape(b, self.heads, -1, self.hd)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.o_proj(o.transpose(1, 2).reshape(b, t, -1))
        m = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))


class Qwen2Standin(torch.nn.Module):
    def __init__(self, h, layers, heads, kv, inter, theta=1e6, eps=1e-5):
        super().__init__()
        self.layers = torch.nn.ModuleList(Layer(h, heads, kv, inter, eps) for _ in range(layers))
        self.norm = RMSNorm(h, eps)
        hd = h // heads
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))

    def forward(self, emb, mask2d, cache):
        b, t, _ = emb.shape
        past = cache[0][0].shape[-2] if cache else 0
        pos = torch.arange(past, past + t, dtype=torch.float32)
        ang = pos[:, None] * self.inv_freq[None]
        e = torch.cat((ang, ang), -1)
        cos, sin = e.cos()[None, None], e.sin()[None, None]
        s = past + t  # transformers' _update_causal_mask: a fresh [B, 1, t, s] float mask every forward
        causal = torch.full((t, s), torch.finfo(emb.dtype).min).triu(past + 1)
        mask = causal[None, None].expand(b, 1, t, s).clone()
        mask = mask.masked_fill(mask2d[:, None, None, :s] == 0, torch.finfo(emb.dtype).min)
        x = emb
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask, cache, i)
        return self.norm(x)


def main():
    shape = sys.argv[1] if len(sys.argv) > 1 else "medium"
    ntok = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    steps = int(os.environ.get("STEPS", "28"))
    hidden, layers, heads, kv, inter, hdim, hlayers = SHAPES[shape]
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count())))
    fm = load_head_module()
    lm = Qwen2Standin(hidden, layers, heads, kv, inter).eval()
    head = fm.FlowMatchingHead(input_dim=64, cond_dim=hidden, dim=hdim, layers=hlayers).eval()
    proj_in = torch.nn.Linear(64, hidden)
    proj_out = torch.nn.Linear(hidden, hidden)
    B, prompt = 2, 96
    with torch.no_grad():
        emb = torch.randn(B, prompt, hidden)
        mask = torch.ones(B, prompt, dtype=torch.long)
        cache = []
        t0 = time.perf_counter()
        c = lm(emb, mask, cache)[:, -1:]
        prefill = time.perf_counter() - t0
        head_t = 0.0
        t0 = time.perf_counter()
        for _ in range(ntok):
            c = proj_out(c)
            h0 = time.perf_counter()
            s = head.sample(c=c.squeeze(1), cfg=7.5, num_sampling_steps=steps, noise_repeat=1)
            head_t += time.perf_counter() - h0
            e = proj_in(s[:, None])
            e = torch.cat([e, e], 0)
            mask = torch.cat([mask, mask.new_ones((B, 1))], 1)
            c = lm(e, mask, cache)[:, -1:]
        total = time.perf_counter() - t0
    print(json.dumps({"impl": "official-loop-standin-python", "shape": shape, "tokens": ntok, "steps": steps,
                      "threads": torch.get_num_threads(), "torch": torch.__version__,
                      "prefill_ms": round(prefill * 1e3, 2), "ms_per_token": round(total / ntok * 1e3, 3),
                      "head_ms_per_token": round(head_t / ntok * 1e3, 3)}))


if __name__ == "__main__":
    main()
