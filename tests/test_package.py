"""The package itself: version, lazy imports, device and seeding, atomic writes, lint."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import minillm
from minillm.utils import atomic_write, device, seed_everything

ROOT = Path(__file__).resolve().parents[1]


def test_version_from_command_line():
    out = subprocess.run([sys.executable, "-m", "minillm", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"minillm {minillm.__version__}"


def test_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "minillm", "--help"], capture_output=True, text=True, check=True)
    assert "check-book" in out.stdout and "exercises" in out.stdout


def test_import_is_headless_and_light():
    code = "import sys, minillm; minillm.BigramModel; print(sorted(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"import minillm pulled in {out.stdout.strip()}"


def test_lazy_names_resolve_or_fail_clearly():
    assert minillm.BigramModel.__name__ == "BigramModel"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        minillm.Nope  # noqa: B018


def test_device_and_seed():
    assert device("cpu").type == "cpu"
    assert device().type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            device("cuda")
    if not torch.backends.mps.is_available():
        with pytest.raises(ValueError, match="no Apple GPU"):
            device("mps")
    seed_everything(3)
    a = torch.rand(4)
    seed_everything(3)
    assert torch.equal(a, torch.rand(4))
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        seed_everything(-1)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    with atomic_write(target, "w") as f:
        f.write("old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as f:
        f.write("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.txt"], "a temporary file was left behind"
    mask = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "g.bin") as f:
            f.write(b"x")
    finally:
        os.umask(mask)
    assert (tmp_path / "g.bin").stat().st_mode & 0o777 == 0o644, "atomic files should follow the umask, not stay 0600"


def test_cache_dir_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path / "c"))
    assert minillm.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.fail("ruff is not installed; run `make setup` (it is in the dev extra)")
    out = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
