"""Report each notebook's wall time and peak memory next to its budget in book.yml.

    python benchmarks/notebooks.py            # every chapter and solutions notebook
    python benchmarks/notebooks.py --only 00  # notebooks whose name starts with 00

A report, not a test: it prints a table and the ratio of wall time to budget, and exits
non-zero only if a notebook fails to run. The peak memory is the kernel's maximum resident size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUNNER = r"""
import json, resource, sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def run(path: Path) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(path), str(path.parent)], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"wall_s": wall, "peak_mb": float("nan"), "error": proc.stderr.strip().splitlines()[-1:]}
    return {"wall_s": wall, **json.loads(proc.stdout.strip().splitlines()[-1])}


def main(argv=None) -> int:
    from minillm.course.book import load_book

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="only notebooks whose file name starts with this")
    args = parser.parse_args(argv)
    book = load_book(ROOT / "book.yml")
    rows, failed = [], 0
    print(f"{'notebook':44s} {'budget':>8s} {'wall':>8s} {'ratio':>6s} {'peak MB':>8s}  status")
    for c in book.ready():
        for key in ("chapter", "solutions"):
            path = ROOT / getattr(c, key)
            if not path.name.startswith(args.only):
                continue
            r = run(path)
            budget_s = c.budget_minutes * 60
            status = "FAILED " + " ".join(r["error"]) if "error" in r else ("ok" if r["wall_s"] <= budget_s else "OVER BUDGET")
            failed += "error" in r
            print(
                f"{getattr(c, key):44s} {budget_s:7.0f}s {r['wall_s']:7.1f}s {r['wall_s'] / budget_s:6.2f} "
                f"{r['peak_mb']:8.0f}  {status}",
                flush=True,
            )
            rows.append(r)
    total = sum(r["wall_s"] for r in rows)
    print(f"total wall time {total:.0f} s over {len(rows)} notebooks")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
