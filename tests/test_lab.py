"""`make lab` serves JupyterLab on localhost, with the course's chapters visible."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_the_chapters(tmp_path):
    if not shutil.which("make"):
        pytest.fail("make is not installed; the README's commands need it")
    if not (ROOT / ".venv" / ".minillm-installed").exists():
        pytest.skip("`make lab` is checked where the project was set up with `make setup` (.venv missing)")
    port, token = free_port(), "minillm-test"
    args = f"--no-browser --port={port} --IdentityProvider.token={token}"
    if os.geteuid() == 0:
        args += " --allow-root"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        ["make", "-s", "lab", f"LAB_ARGS={args}"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/contents/chapters?token={token}"
        deadline, names = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    names = [item["name"] for item in json.load(r)["content"]]
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(1)
        assert names is not None, f"JupyterLab did not answer on port {port}:\n{proc.stdout.read1().decode() if proc.poll() is not None else ''}"
        assert "00-what-is-an-llm.ipynb" in names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
