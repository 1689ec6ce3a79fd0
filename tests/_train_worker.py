"""A tiny stand-in language model and a training script for the trainer's tests.

``tests/test_train.py`` and ``tests/test_ddp.py`` run this file in subprocesses (plain, or under
``torch.distributed.run``) so that a run can be killed for real and so that several processes
can train together. It is not collected by pytest (the name does not start with ``test_``).

    python tests/_train_worker.py OUT --steps 30 [--checkpoint-every 5] [--resume] [--slow S]
                                  [--optimizer muon]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class TinyConfig:
    vocab_size: int = 13
    block_size: int = 8
    n_embd: int = 16
    dropout: float = 0.1


class TinyLM(nn.Module):
    """Embeddings, one MLP with a norm and dropout, a head tied to the token embedding."""

    def __init__(self, config: TinyConfig | None = None):
        super().__init__()
        self.config = config or TinyConfig()
        c = self.config
        self.tok = nn.Embedding(c.vocab_size, c.n_embd)
        self.pos = nn.Embedding(c.block_size, c.n_embd)
        self.norm = nn.LayerNorm(c.n_embd)
        self.mlp = nn.Linear(c.n_embd, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.head.weight = self.tok.weight
        for emb in (self.tok, self.pos):
            nn.init.normal_(emb.weight, std=0.02)
        self.nan_at_call: int | None = None  # tests: return a NaN loss on this forward call
        self.calls = 0

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        h = self.tok(idx) + self.pos(torch.arange(T, device=idx.device))
        h = h + self.drop(F.gelu(self.mlp(self.norm(h))))
        logits = self.head(h)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
            if self.training:
                self.calls += 1
                if self.nan_at_call is not None and self.calls >= self.nan_at_call:
                    loss = loss * float("nan")
        return logits, loss


def toy_tokens(n: int = 4000, seed: int = 0) -> np.ndarray:
    """A learnable token stream: a repeating pattern with some noise, ids in [0, 13)."""
    rng = np.random.default_rng(seed)
    base = np.tile(np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), n // 12 + 1)[:n]
    noise = rng.integers(0, 13, size=n)
    keep = rng.random(n) < 0.8
    return np.where(keep, base, noise).astype(np.uint16)


def main() -> None:
    from safetensors.torch import save_file

    from minillm.train import TrainConfig, Trainer

    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--checkpoint-every", type=int, default=0)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--optimizer", default="adamw", help="TrainConfig.optimizer")
    p.add_argument("--slow", type=float, default=0.0, help="sleep this long after each step")
    args = p.parse_args()

    torch.manual_seed(1234)
    model = TinyLM(TinyConfig(dropout=args.dropout))
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=1e-2, warmup_steps=3,
                      eval_every=0, checkpoint_every=args.checkpoint_every, out_dir=args.out,
                      progress=False, seed=7, optimizer=args.optimizer)

    class Slow:
        def on_step(self, trainer, info):
            time.sleep(args.slow)

    data = toy_tokens()
    trainer = Trainer(model, data[:3000], data[3000:], cfg, resume=args.resume,
                      callbacks=[Slow()] if args.slow else [], device="cpu")
    trainer.fit()
    rank = int(os.environ.get("RANK", 0))
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "head.weight"}
    save_file(state, str(Path(args.out) / f"final-rank{rank}.safetensors"))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
