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

Measured (2026-11-27, shared 2-core CPU, other helpers' jobs running, so the times are noisy).
The current recipe, ``arithmetic`` v2 (3 layers x 96, 342,720 parameters, 2 x 1,500 steps; built
with 2 threads as ``make models`` does, 832 s wall at a load average of about 2.5-3, i.e. mostly
one free core; evaluated here in 16 s wall, OMP_NUM_THREADS=1):

    way                   2 digits   3 digits   4 digits
    direct                    0.08       0.00       0.00
    scratchpad                0.98       0.51       0.19
    tool                      1.00       0.99       0.94
    no tool                   0.01       0.00       0.00
    self-consistency          0.95       0.48       0.17
    target: the tool reaches >= 95% at 4 digits (0.94): NOT met

On 200 problems per row (chapter 12.2) the tool gets 0.99 / 0.93 at 3 / 4 digits; all 14
4-digit failures there put a wrong number into the ``<calc>`` call.

What was tried (one change at a time from v1; tool accuracy, greedy, held-out problems):

- v1, 2 layers x 96 (230,880 parameters), the same data and steps: 0.99 / 0.79 / 0.05 at 2 / 3 /
  4 digits (100 problems); 77 of the 95 4-digit failures miscopied a number into the call, the
  rest miscopied the result. A 1-thread and a 2-thread build of v1 differ in every weight
  (scratchpad at 2 digits, one sample at T=0.7: 0.42 vs 0.77).
- 3 layers x 96 (v2): 0.99 / 0.93 at 3 / 4 digits (200 problems), 832 s build (above).
- 4 layers x 96 (the same data and steps; measured after v2 was chosen, 20:50 UTC): tool 0.995 /
  0.97 at 3 / 4 digits (200 problems): the bar MET; final loss 0.036 (v2: 0.065); but 954 s wall
  to build at a load average of about 2-2.5 (over the ~8-minute build budget on this busy
  machine). Not adopted for lack of time before the deadline: chapter 12 executed on it failed
  its assert that the tool beats the scratchpad by 0.5 at 4 digits (the 4-layer scratchpad is much
  better at 4 digits), so its prose and asserts need rewriting first. It is the next step: set
  ``"n_layer": 4`` in ``minillm.zoo.MODELS["arithmetic"]``, rebuild, re-execute chapter 12.

With v2 the bar is missed by one or two points; the copying of 4-digit numbers into the call is
what is left. Not tried for lack of time: more tool-format examples, numbers of 1-5 digits in
training, more steps with a larger batch (each build is 14-16 minutes on this shared machine).
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
