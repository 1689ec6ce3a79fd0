"""DistributedDataParallel through torchrun: two CPU processes (gloo) train like one big batch.

The test launches ``python -m torch.distributed.run --nproc_per_node=2`` on the stand-in model
of tests/_train_worker.py. Each rank trains on its half of every step's global batch; the
gradients are averaged across ranks, so both ranks must end with the same weights as one
process that trains on the two halves together (a batch twice as large). It runs with AdamW and
with Muon (whose orthogonalised step must see the averaged gradient on every rank).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("_train_worker.py")


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_two_processes_equal_one_process_with_both_batches(tmp_path, optimizer):
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("this torch build has no gloo backend for torch.distributed")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("MINILLM_DEVICE", None)
    common = ["--steps", "10", "--dropout", "0.0", "--optimizer", optimizer]
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(WORKER), str(tmp_path / "ddp"), "--batch-size", "4", *common],
        env=env, capture_output=True, text=True, timeout=240)
    assert ddp.returncode == 0, ddp.stdout + ddp.stderr
    single = subprocess.run(
        [sys.executable, str(WORKER), str(tmp_path / "single"), "--batch-size", "8", *common],
        env=env, capture_output=True, text=True, timeout=120)
    assert single.returncode == 0, single.stdout + single.stderr

    rank0 = load_file(tmp_path / "ddp" / "final-rank0.safetensors")
    rank1 = load_file(tmp_path / "ddp" / "final-rank1.safetensors")
    one = load_file(tmp_path / "single" / "final-rank0.safetensors")
    start = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=True)
    assert start["data"]["world_size"] == 2
    assert start["config"]["optimizer"] == optimizer
    for name in one:
        assert torch.equal(rank0[name], rank1[name]), f"{name} differs between the two ranks"
        torch.testing.assert_close(rank0[name], one[name], rtol=1e-4, atol=1e-5,
                                   msg=lambda m, name=name: f"{name}: DDP differs from one process: {m}")
    moved = sum((one[n] - p).abs().sum() for n, p in _initial_weights().items())
    assert moved > 0.1, "training did not change the weights, so the comparison shows nothing"


def _initial_weights() -> dict:
    import importlib.util

    spec = importlib.util.spec_from_file_location("_train_worker_ddp", WORKER)
    worker = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_train_worker_ddp", worker)
    spec.loader.exec_module(worker)
    torch.manual_seed(1234)
    model = worker.TinyLM(worker.TinyConfig(dropout=0.0))
    return {k: v for k, v in model.state_dict().items() if k != "head.weight"}
