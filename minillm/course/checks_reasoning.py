"""Checks for chapter 12's exercises (reasoning and tools): each runs the learner's function on
inputs it picks and says in words what is wrong. They reject constants, ignored arguments,
minillm's own function passed off as the learner's (through :func:`minillm.course.checks.own_work`),
and, for the calculator, any use of ``eval``, ``exec`` or ``compile``.
"""

from __future__ import annotations

import builtins
import contextlib
import random

from .checks import check, own_work


def _tools():
    from .. import tools

    return tools


def check_majority_vote(fn) -> None:
    """Exercise 12.1: the most common answer; a tie goes to the answer seen first."""
    fn = own_work(fn, _tools().majority_vote, what="your majority_vote")
    cases = [
        (["42", "41", "42"], "42", "the most common answer"),
        (["7"], "7", "a single answer"),
        ([3, 5, 5, 3, 1], 3, "a tie between 3 and 5 (two each): the first seen, 3, wins"),
        (["b", "a", "a", "b", "c"], "b", "a tie between 'b' and 'a': the first seen, 'b', wins"),
        (["x", "y", "z", "y"], "y", "the one answer given twice"),
        ([None, 8, None], None, "None twice (an answer with no number still counts)"),
    ]
    for answers, want, what in cases:
        got = fn(list(answers))
        check(got == want and type(got) is type(want),
              f"majority_vote({answers!r}) returned {got!r}, expected {want!r}: {what}")
    rng = random.Random(12)
    for _ in range(30):
        answers = [rng.randint(0, 4) for _ in range(rng.randint(1, 9))]
        counts = {a: answers.count(a) for a in answers}
        want = next(a for a in answers if counts[a] == max(counts.values()))
        got = fn(list(answers))
        tie = sum(v == max(counts.values()) for v in counts.values()) > 1
        check(got == want, f"majority_vote({answers}) returned {got!r}, expected {want!r}"
                           + (" (a tie: the answer seen first among the most common wins)" if tie else ""))


@contextlib.contextmanager
def _no_code_execution():
    """``eval``, ``exec`` and ``compile`` (except parsing to a tree) raise while active."""
    import ast

    real = builtins.eval, builtins.exec, builtins.compile

    def no_eval(*a, **k):
        raise AssertionError("your calculator calls eval or exec: a model's text would run as Python "
                             "code. Parse the expression yourself (ast.parse, then walk the tree)")

    def parse_only(source, filename, mode, flags=0, *a, **k):
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("your calculator compiles the expression to code; parse it to a tree "
                                 "(ast.parse) and compute from the tree")
        return real[2](source, filename, mode, flags, *a, **k)

    builtins.eval, builtins.exec, builtins.compile = no_eval, no_eval, parse_only
    try:
        yield
    finally:
        builtins.eval, builtins.exec, builtins.compile = real


SAFE = ["12+30", "7*8", "100-58", "2*(3+4)", "(1+2)*(3+4)", "10-2-3", "2+3*4", "-5+2", "9999*9999",
        "((((7))))", "0*123", "1 + 2"]
MALICIOUS = ["__import__('os').getcwd()", "open('secret.txt').read()", "(1).__class__", "x+1", "2**10",
             "[1, 2][0]", "1 if 1 else 2", "lambda: 1", "'12'+'30'", "abs(-3)", "1; 2", "1+", ""]


def check_calculator(fn) -> None:
    """Exercise 12.2: integer ``+ - *``, unary minus and parentheses, computed without ``eval``;
    anything else raises ``ValueError``."""
    tools = _tools()
    fn = own_work(fn, tools.evaluate_arithmetic, tools.calculator, what="your calculator")
    with _no_code_execution():
        for expr in SAFE:
            want = tools.evaluate_arithmetic(expr)
            try:
                got = fn(expr)
            except ValueError as e:
                raise AssertionError(f"calc({expr!r}) raised ValueError ({e}), but it is plain arithmetic; "
                                     f"it should return {want}") from None
            check(got == want and not isinstance(got, bool),
                  f"calc({expr!r}) returned {got!r}, expected {want}")
        for expr in MALICIOUS:
            try:
                got = fn(expr)
            except ValueError:
                continue
            except AssertionError:
                raise
            except Exception as e:  # noqa: BLE001 - the message names the type
                raise AssertionError(f"calc({expr!r}) raised {type(e).__name__}: {e}; refuse it with a "
                                     "ValueError that says why") from None
            raise AssertionError(f"calc({expr!r}) returned {got!r}; it is not + - * arithmetic on integers, "
                                 "so raise ValueError")


def check_verifier(fn) -> None:
    """Exercise 12.3: True exactly when the number after the last ``Answer:`` equals ``expected``."""
    from .. import reasoning

    fn = own_work(fn, reasoning.extract_answer, what="your verifier")
    cases = [
        (" Answer: 8798", 8798, True, "the plain answer"),
        (" 4821+3977: 1+7=8 2+7=9 8+9=17 4+3+1=8. Answer: 8798", 8798, True, "a worked answer"),
        (" Answer: 18798", 8798, False, "a different number that contains the right digits"),
        (" Answer: 879", 8798, False, "a number that is the start of the right one"),
        (" 8798+0: ... Answer: 8797", 8798, False, "the right number written in the work, a wrong final answer"),
        (" Answer: 12 Answer: 8798", 8798, True, "the model corrected itself: the last Answer counts"),
        (" Answer: 8798 Answer: 12", 8798, False, "the last Answer is wrong"),
        (" <calc>4821+3977</calc><result>8798</result> Answer: 8797", 8798, False,
         "the tool said 8798 but the model copied it wrongly"),
        (" I think 8798", 8798, False, "no 'Answer:' at all"),
        ("", 5, False, "an empty answer"),
        (" Answer: 55", 55, True, "another right answer"),
        (" Answer: 5", 55, False, "a wrong answer"),
    ]
    for text, expected, want, what in cases:
        got = fn(text, expected)
        check(got is want, f"verify({text!r}, {expected}) returned {got!r}, expected {want}: {what}")


def check_scratchpad(fn) -> None:
    """Exercise 12.4: the column-addition scratchpad, exactly as :func:`minillm.reasoning.column_addition`."""
    from .. import reasoning

    ref = reasoning.column_addition
    fn = own_work(fn, ref, what="your scratchpad")
    rng = random.Random(4)
    pairs = [(4821, 3977), (12, 30), (99, 1), (5, 7), (1000, 9999), (0, 0)]
    pairs += [(rng.randint(0, 10**rng.randint(1, 5)), rng.randint(0, 10**rng.randint(1, 5))) for _ in range(40)]
    for a, b in pairs:
        want = ref(a, b)
        got = fn(a, b)
        check(isinstance(got, str), f"scratchpad({a}, {b}) should return a str, got {type(got).__name__}")
        check(got == want, f"scratchpad({a}, {b}) returned {got!r}, expected {want!r}")
