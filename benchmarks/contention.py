"""Chapter 4's training on a busy CPU: the slowdown from one competing process (issue 16, section 3).

    python benchmarks/contention.py           # 2 rounds, about 2-4 minutes
    python benchmarks/contention.py --quick   # 1 round of a few steps

Each measurement is a fresh Python process that imports ``minillm`` first (as the chapters do),
builds chapter 4's model (the ``tinyworld`` recipe of :mod:`minillm.zoo`: 4 blocks of width 128,
context 128, rotary positions, vocabulary 1024, 16 sequences per step) and times a fixed number
of training steps on random token ids (throughput does not depend on the text).

Two OpenMP settings are compared:

- ``minillm default``: what ``import minillm`` sets when the user has set nothing
  (``OMP_WAIT_POLICY=PASSIVE``: threads with no work sleep instead of spinning);
- ``OpenMP default``: ``MINILLM_OMP_DEFAULTS=0``, i.e. the behaviour before this change
  (libgomp's threads spin for a while after every parallel region).

For each setting, an "idle" run and a "contended" run follow each other (A B A B), and the
slowdown of each adjacent pair is reported. The contended run adds ONE busy-loop process (a
Python ``while True: pass`` started before and killed after it) on top of whatever else runs.
On a shared machine "idle" therefore means "the machine as it is": the load average is printed
beside every run so the reader can see what else was running. (Raising the workers' priority
with ``nice`` does not emulate an idle machine where the kernel groups processes by session,
``/proc/sys/kernel/sched_autogroup_enabled``: niceness then only orders a session's own
processes.) The target: the minillm default
slows down by at most 2.5x under one competing process on two cores.

Measured (``python benchmarks/contention.py``, 2 rounds of 20 steps, the course's 2-core machine
with other helpers' jobs running: load average 3.6 to 5.5, OMP_NUM_THREADS unset, 2 threads):

- minillm default (PASSIVE): "idle" 6,316 and 6,385 tokens/s, contended 4,749 and 4,856:
  slowdown 1.33x and 1.31x. Target <= 2.5x: met.
- OpenMP default (spinning): "idle" 1,995 and 3,189 tokens/s, contended 688 and 621: slowdown
  2.90x and 5.14x, and 3-7x slower than PASSIVE to begin with.

Earlier, at load 7-12 (chapter 4's model on shakespeare windows, 10 steps, tokens/s): OpenMP
default 819-1,472; GOMP_SPINCOUNT=10000 4,464-7,579; GOMP_SPINCOUNT=1000 5,871-8,535; PASSIVE
5,183-10,555; one thread 6,452-8,738. So the time went to OpenMP threads spinning for cores
that other processes held; letting them sleep (PASSIVE) recovers it, and two sleeping threads
are no worse than one thread under load. What PASSIVE costs on an idle machine could not be
measured here (the machine was never idle); issue 6's idle figures were taken without it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 2.5

WORKER = r"""
import json, os, sys, time
import minillm  # first, as a chapter does: its OpenMP defaults apply before torch loads
import numpy as np
import torch
from minillm.model import GPT
from minillm.train import Trainer
from minillm.zoo import recipe_config, MODELS
from minillm.model import GPTConfig

steps = int(sys.argv[1])
recipe = MODELS["tinyworld-ch4"].recipe
spec = dict(recipe["model"])
config = GPTConfig.preset(spec.pop("preset"), vocab_size=recipe["tokenizer"]["vocab_size"], **spec)
torch.manual_seed(0)
model = GPT(config)
tokens = np.random.default_rng(0).integers(0, config.vocab_size, size=200_000).astype(np.int32)
cfg = recipe_config(recipe, steps=steps + 3, eval_every=0, progress=False)
trainer = Trainer(model, tokens, None, cfg, device="cpu")
for _ in range(3):
    trainer.train_step()
t = time.perf_counter()
for _ in range(steps):
    trainer.train_step()
dt = time.perf_counter() - t
print(json.dumps({"tok_s": steps * trainer.tokens_per_step / dt, "seconds": dt,
                  "threads": torch.get_num_threads(),
                  "policy": os.environ.get("OMP_WAIT_POLICY", "unset")}))
"""

SETTINGS = {
    "minillm default": {},
    "OpenMP default": {"MINILLM_OMP_DEFAULTS": "0"},
}


def measure(steps: int, extra_env: dict) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MINILLM_OMP_DEFAULTS")}
    env.update(extra_env, PYTHONPATH=str(ROOT))
    load = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, "-c", WORKER, str(steps)], env=env, capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["load"] = (load + os.getloadavg()[0]) / 2
    return out


def contended(steps: int, extra_env: dict) -> dict:
    """The same measurement with one busy-loop process running beside it."""
    # its own session, like a separate program (the kernel may share CPU between sessions first)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    try:
        time.sleep(0.5)
        return measure(steps, extra_env)
    finally:
        busy.kill()
        busy.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round of 5 steps")
    parser.add_argument("--rounds", type=int, default=2, help="idle/contended pairs per setting")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per run")
    parser.add_argument("--only", choices=sorted(SETTINGS), help="one setting only")
    args = parser.parse_args(argv)
    steps, rounds = (5, 1) if args.quick else (args.steps, args.rounds)
    print(f"{os.cpu_count()} CPUs; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')} "
          f"(the workers inherit it); 'idle' = the machine as it is now, 'contended' = the same "
          f"plus ONE busy-loop process; {steps} steps of chapter 4's model per run")
    names = [args.only] if args.only else list(SETTINGS)
    slow: dict[str, list[float]] = {n: [] for n in names}
    for i in range(rounds):
        for name in names:
            a = measure(steps, SETTINGS[name])
            b = contended(steps, SETTINGS[name])
            slow[name].append(a["tok_s"] / b["tok_s"])
            print(f"round {i + 1} {name:16s} (OMP_WAIT_POLICY={a['policy']}, {a['threads']} threads): "
                  f"idle {a['tok_s']:8,.0f} tokens/s (load {a['load']:.1f}), contended "
                  f"{b['tok_s']:8,.0f} tokens/s (load {b['load']:.1f}): slowdown "
                  f"{slow[name][-1]:.2f}x", flush=True)
    for name in names:
        s = slow[name]
        print(f"{name}: slowdown with one competing process: median {statistics.median(s):.2f}x "
              f"(range {min(s):.2f}-{max(s):.2f}) over {len(s)} pair(s)")
    if "minillm default" in slow:
        worst = max(slow["minillm default"])
        print(f"slowdown of chapter 4's training with one competing process <= {TARGET}x "
              f"(minillm default, worst pair {worst:.2f}x): {'met' if worst <= TARGET else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
