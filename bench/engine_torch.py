#!/usr/bin/python3
"""PyTorch baseline for bench/engine_train: trains the same Llama-shaped model (f32, AdamW) on the same token batches.

  engine_torch.py TOKENS.bin C L V I HS B T THREADS STEPS   (TOKENS: int32 [batches, B, T+1])    prints "torch_tokens_per_s X" (mean) and "torch_best_tokens_per_s Y" (fastest step)
"""
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.w, self.eps = nn.Parameter(torch.ones(c)), eps

    def forward(self, x):
        return self.w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class Block(nn.Module):
    def __init__(self, C, I, HS):
        super().__init__()
        self.nh, self.hs = C // HS, HS
        self.ln1, self.ln2 = RMSNorm(C, 1e-5), RMSNorm(C, 1e-5)
        self.qkv = nn.Linear(C, 3 * C, bias=False)
        self.o = nn.Linear(C, C, bias=False)
        self.gu = nn.Linear(C, 2 * I, bias=False)
        self.down = nn.Linear(I, C, bias=False)

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=-1)
        q, k, v = (t.view(B, T, self.nh, self.hs).transpose(1, 2) for t in (q, k, v))
        rot = lambda t: torch.cat((-t[..., self.hs // 2:], t[..., :self.hs // 2]), -1)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") \
            else torch.softmax((q @ k.transpose(-1, -2) / self.hs ** 0.5).masked_fill(
                torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf")), -1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(B, T, C))
        g, u = self.gu(self.ln2(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(g) * u)


def main():
    path = sys.argv[1]
    C, L, V, I, HS, B, T, threads, steps = map(int, sys.argv[2:11])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    toks = torch.from_numpy(np.fromfile(path, dtype=np.int32).astype(np.int64)).view(-1, B, T + 1)
    emb, lm, norm = nn.Embedding(V, C), nn.Linear(C, V, bias=False), RMSNorm(C, 1e-5)
    blocks = nn.ModuleList(Block(C, I, HS) for _ in range(L))
    params = list(emb.parameters()) + list(lm.parameters()) + list(norm.parameters()) + list(blocks.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3)
    inv = 1.0 / (10000 ** (torch.arange(0, HS, 2).float() / HS))
    ang = torch.outer(torch.arange(T).float(), inv)
    cos, sin = torch.cat((ang, ang), -1).cos(), torch.cat((ang, ang), -1).sin()

    def step(x):
        h = emb(x[:, :-1])
        for b in blocks:
            h = b(h, cos, sin)
        loss = F.cross_entropy(lm(norm(h)).reshape(-1, V), x[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(toks[0])  # warm-up
    times = []
    for s in range(steps):
        t0 = time.time()
        step(toks[(s + 1) % toks.shape[0]])
        times.append(time.time() - t0)
    print(f"torch_tokens_per_s {steps * B * T / sum(times):.1f}")
    print(f"torch_best_tokens_per_s {B * T / min(times):.1f}")


main()
