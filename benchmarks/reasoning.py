"""Benchmark: arithmetic word problems answered directly, with a scratchpad, with a calculator
tool, and by self-consistency, at 2, 3 and 4 digits (chapter 12; issue 15's reasoning lines).

The model is chapter 12's cached character-level arithmetic model, the zoo entry ``"arithmetic"``
(:func:`minillm.reasoning.arithmetic_model`, i.e. ``minillm.pretrained("arithmetic")``; built
once with :data:`minillm.reasoning.RECIPE` by ``make models`` if it is not cached). For
each number of digits, ``--n`` held-out problems (no ``(a, b)`` pair of the training set) are
answered:

- ``direct``: ``Direct:`` cue, the answer at once (greedy);
- ``scratchpad``: ``Work:`` cue, column addition first (greedy);
- ``tool``: ``Tool:`` cue, ``<calc>a+b</calc>`` run by :func:`minillm.tools.generate_with_tools`
  (the safe calculator), result pasted in, the model copies it (greedy);
- ``no tool``: the same format, but the model has to write the result itself (the baseline
  the tool is measured against);
- ``self-consistency``: ``--votes`` scratchpads sampled at temperature ``--temperature``,
  majority vote over their answers.

It prints the table, then the issue's target, ending in ``met`` or ``NOT met``: the tool reaches
at least 95% at 4 digits. The security half of issue 15 (chapter 11) is not part of this script.

Run: ``python benchmarks/reasoning.py`` (about a minute after the model is cached; the first run
trains it, a few more minutes).

Measured (2026-11-27, shared 2-core CPU with about 10 other jobs, so the times are noisy; the
cached ``arithmetic-v1`` model, 230,880 parameters, 2 x 1,500 steps; 13.7 s of CPU, 72 s wall):

    way                   2 digits   3 digits   4 digits
    direct                    0.12       0.00       0.00
    scratchpad                0.64       0.08       0.02
    tool                      0.99       0.79       0.05
    no tool                   0.00       0.00       0.00
    self-consistency          0.48       0.03       0.00
    target: the tool reaches >= 95% at 4 digits (0.05): NOT met

The tool's failures at 4 digits are copying errors: 77 of 100 answers put a wrong number into
the ``<calc>`` call (chapter 12.3 counts them). A longer training run (more steps or a wider
model) is what the target needs; on this shared CPU the 3,000 steps took about 40 minutes of
wall time, so none was tried.
"""

from __future__ import annotations

import argparse
import time

from minillm.reasoning import arithmetic_model, compare_formats, make_problems, training_problems
from minillm.world import World


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100, help="problems per number of digits")
    ap.add_argument("--votes", type=int, default=5, help="samples per problem for self-consistency")
    ap.add_argument("--temperature", type=float, default=0.7, help="sampling temperature for self-consistency")
    ap.add_argument("--digits", type=int, nargs="+", default=[2, 3, 4])
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    model, tok = arithmetic_model()
    print(f"model: {model.num_params():,} parameters (loaded or trained in {time.perf_counter() - t0:.1f} s)")
    world = World(0)
    seen = training_problems()
    tests = {d: make_problems(world, args.n, d, seed=1000 + d, exclude=seen) for d in args.digits}
    t0 = time.perf_counter()
    acc = compare_formats(model, tok, tests, votes=args.votes, temperature=args.temperature)
    print(f"evaluated in {time.perf_counter() - t0:.1f} s ({args.n} held-out problems per row)")
    print("way                " + "".join(f"{d:>4d} digits" for d in args.digits))
    for way, row in acc.items():
        print(f"{way:18s} " + "".join(f"{row[d]:11.2f}" for d in args.digits))
    if 4 in acc["tool"]:
        a = acc["tool"][4]
        print(f"target: the tool reaches >= 95% at 4 digits ({a:.2f}): {'met' if a >= 0.95 else 'NOT met'}")
    else:
        print("target: the tool reaches >= 95% at 4 digits (4 digits not measured): NOT met")


if __name__ == "__main__":
    main()
