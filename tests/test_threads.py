"""``import minillm`` lets idle OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE), never overriding
the user: a value already set, ``MINILLM_OMP_DEFAULTS=0``, or torch loaded first (too late to
change OpenMP's settings) all leave the environment as it was. Each case runs in a fresh process,
since OpenMP reads its settings once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = "import os, sys; {first}; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"


@pytest.mark.parametrize("first, env, expected", [
    ("import minillm", {}, "PASSIVE"),
    ("import minillm", {"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE"),
    ("import minillm", {"GOMP_SPINCOUNT": "10000"}, "unset"),
    ("import minillm", {"MINILLM_OMP_DEFAULTS": "0"}, "unset"),
    ("import torch; import minillm", {}, "unset"),
])
def test_omp_wait_policy_default_respects_the_user(first, env, expected):
    base = {k: v for k, v in os.environ.items()
            if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MINILLM_OMP_DEFAULTS")}
    proc = subprocess.run([sys.executable, "-c", PROBE.format(first=first)],
                          env={**base, **env, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == expected
