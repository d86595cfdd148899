#!/usr/bin/env python3
"""The reference for bench/run_torch_lora_bench.sh: one LoRA training step of a Phi-3-mini-shaped model in
PyTorch, written as a user of the original's stack would: frozen bf16 base weights (random: they cost the
same as real ones), rank-r LoRA (F32 A and B, scale alpha / r) on every attention and MLP projection (fused
qkv, o, fused gate/up, down), causal attention with NEOX rope, every activation kept, the loss on the second
half of the sequence (the reply, as Mimir's bench), AdamW on the LoRA tensors only. Prints key=value lines:
the best and mean tokens/s over --steps steps after one warm-up step, and the peak RSS."""
import argparse
import math
import resource
import time

import torch
import torch.nn.functional as F


def parse():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--embd", type=int, default=3072)
    p.add_argument("--ff", type=int, default=8192)
    p.add_argument("--heads", type=int, default=32)
    p.add_argument("--vocab", type=int, default=32064)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=2)
    return p.parse_args()


class Lora(torch.nn.Module):
    """y = W x + (alpha / r) B A x with W frozen in bf16 and A, B trained in F32 (B starts at zero)."""

    def __init__(self, n_in, n_out, rank):
        super().__init__()
        self.weight = torch.empty(n_out, n_in, dtype=torch.bfloat16).uniform_(-0.02, 0.02)
        self.a = torch.nn.Parameter(torch.empty(rank, n_in).uniform_(-1 / math.sqrt(n_in), 1 / math.sqrt(n_in)))
        self.b = torch.nn.Parameter(torch.zeros(n_out, rank))
        self.scale = 2.0  # alpha = 2 r, as Mimir's bench

    def forward(self, x):
        lora = (x.float() @ self.a.t()) @ self.b.t() * self.scale
        return F.linear(x, self.weight) + lora.to(torch.bfloat16)


def rms_norm(x, eps=1e-5):
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(torch.bfloat16)


class Block(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        self.heads = a.heads
        self.qkv = Lora(a.embd, 3 * a.embd, a.rank)
        self.o = Lora(a.embd, a.embd, a.rank)
        self.gate_up = Lora(a.embd, 2 * a.ff, a.rank)
        self.down = Lora(a.ff, a.embd, a.rank)

    def forward(self, x, cos, sin, mask):
        n, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(rms_norm(x)).view(n, 3, self.heads, hd).permute(1, 2, 0, 3)

        def rope(t):  # NEOX layout: rotate the two halves
            t1, t2 = t[..., : hd // 2], t[..., hd // 2 :]
            return t * cos + torch.cat((-t2, t1), dim=-1) * sin

        q, k = rope(q), rope(k)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
        attention = torch.softmax(scores.float(), dim=-1).to(torch.bfloat16) @ v
        x = x + self.o(attention.permute(1, 0, 2).reshape(n, d))
        gate, up = self.gate_up(rms_norm(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with torch.no_grad():
        embedding = torch.empty(a.vocab, a.embd, dtype=torch.bfloat16).uniform_(-0.02, 0.02)
        head = torch.empty(a.vocab, a.embd, dtype=torch.bfloat16).uniform_(-0.02, 0.02)
        blocks = torch.nn.ModuleList(Block(a) for _ in range(a.layers))
    lora = [p for p in blocks.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(lora, lr=1e-5)
    hd = a.embd // a.heads
    positions = torch.arange(a.seq, dtype=torch.float32)
    inv_freq = 1.0 / (10000 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    angles = torch.cat((positions[:, None] * inv_freq, positions[:, None] * inv_freq), dim=-1)
    cos, sin = angles.cos().to(torch.bfloat16), angles.sin().to(torch.bfloat16)
    mask = torch.full((a.seq, a.seq), float("-inf")).triu(1).to(torch.bfloat16)
    tokens = torch.randint(0, a.vocab, (a.seq + 1,))
    n_prompt = a.seq // 2

    def step():
        x = embedding[tokens[:-1]]
        for block in blocks:
            x = block(x, cos, sin, mask)
        reply = rms_norm(x[n_prompt - 1 :])  # the head only where a label is
        loss = F.cross_entropy(F.linear(reply, head).float(), tokens[n_prompt:])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    speeds = []
    for _ in range(a.steps):
        start = time.perf_counter()
        step()
        speeds.append(a.seq / (time.perf_counter() - start))
    print(f"torch_version={torch.__version__}")
    print(f"threads={torch.get_num_threads()} layers={a.layers} seq={a.seq} rank={a.rank}")
    print(f"train_tokens_per_s_best={max(speeds):.2f}")
    print(f"train_tokens_per_s_mean={sum(speeds) / len(speeds):.2f}")
    print(f"peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()
