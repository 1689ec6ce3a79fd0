"""Damaged files for the bad-input tests (tests/test_bad_input.py, tests/test_bad_input_modules.py)."""

from __future__ import annotations

import json
from pathlib import Path

#: bytes that are no JSON, no safetensors header, no UTF-8 text
BINARY = bytes(range(256)) * 4


def write(path: Path, data) -> Path:
    """Write ``data`` to ``path`` (folders made): bytes as they are, a str as text, else as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path
