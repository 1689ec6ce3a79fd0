"""Tools and checks for reasoning: a safe calculator tool, majority voting, answer checking (chapter 12).

A small model is bad at arithmetic but can learn to *ask* for it: it writes
``<calc>12*(3+4)</calc>`` and the generation loop pastes the result in. Running text a model
wrote is dangerous, so the calculator never calls ``eval``: it parses the expression with
:mod:`ast` and walks the tree itself, accepting only numbers, ``+ - * / // % **``, unary minus
and parentheses, within limits on length, nesting, exponents and the size of results.

Papers:

- Schick et al. (2023), "Toolformer: Language Models Can Teach Themselves to Use Tools".
  https://arxiv.org/abs/2302.04761
- Cobbe et al. (2021), "Training Verifiers to Solve Math Word Problems" (calculator
  annotations in GSM8K). https://arxiv.org/abs/2110.14168
- Wang et al. (2023), "Self-Consistency Improves Chain of Thought Reasoning in Language Models"
  (majority vote over sampled answers). https://arxiv.org/abs/2203.11171
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections import Counter
from collections.abc import Callable, Hashable, Sequence

from .utils import InputTypeError, check_float, check_int

CALC_RE = re.compile(r"<calc>(.*?)</calc>", re.DOTALL)
_ALLOWED_CHARS = re.compile(r"[0-9+\-*/%().eE_\s]*")
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


class CalcError(ValueError):
    """An expression the calculator refuses or cannot compute; the message says why."""


def evaluate_arithmetic(expr: str, max_length: int = 200, max_depth: int = 20,
                        max_exponent: float = 100, max_bits: int = 1024) -> int | float:
    """Compute an arithmetic expression safely; raise :class:`CalcError` when refused.

    Accepts integers and decimals (``3``, ``2.5``, ``1e3``), ``+ - * / // % **``, unary ``-``/``+``
    and parentheses. Refuses anything else (names, calls, attributes, strings, lambdas) before
    computing anything, and refuses expressions longer than ``max_length`` characters, nested
    deeper than ``max_depth`` parentheses, exponents above ``max_exponent`` in size, and integer
    results over ``max_bits`` bits (``9**9**9`` would take minutes and gigabytes).
    """
    if not isinstance(expr, str):
        raise InputTypeError(f"expr must be a str, got {type(expr).__name__}")
    max_length = check_int("max_length", max_length, 0)
    max_depth = check_int("max_depth", max_depth, 0)
    max_exponent = check_float("max_exponent", max_exponent, 0)
    max_bits = check_int("max_bits", max_bits, 1)
    if len(expr) > max_length:
        raise CalcError(f"expression is {len(expr)} characters long, more than max_length={max_length}")
    if not _ALLOWED_CHARS.fullmatch(expr):
        bad = sorted({ch for ch in expr if not _ALLOWED_CHARS.fullmatch(ch)})
        raise CalcError(f"expression contains characters that are not arithmetic: {''.join(bad)!r}")
    depth = deepest = 0
    for ch in expr:  # the parser recurses on nesting: check it before parsing
        depth += (ch == "(") - (ch == ")")
        deepest = max(deepest, depth)
    if deepest > max_depth:
        raise CalcError(f"parentheses nest {deepest} deep, more than max_depth={max_depth}")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except (SyntaxError, ValueError) as e:
        raise CalcError(f"not a valid arithmetic expression: {expr!r}") from e

    def fits(value):
        if isinstance(value, complex):
            raise CalcError("the result is not a real number (a negative number to a fractional power)")
        if isinstance(value, int) and value.bit_length() > max_bits:
            raise CalcError(f"a result has more than max_bits={max_bits} bits")
        if isinstance(value, float) and not math.isfinite(value):
            raise CalcError("a result is too large for a float")
        return value

    def walk(node):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return fits(node.value)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](walk(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow):
                if abs(right) > max_exponent:
                    raise CalcError(f"exponent {right} is larger than max_exponent={max_exponent}")
                if isinstance(left, int) and isinstance(right, int) and right > 0:
                    if right * max(abs(left).bit_length(), 1) > max_bits:
                        raise CalcError(f"{left}**{right} would have more than max_bits={max_bits} bits")
            try:
                return fits(_BINARY[type(node.op)](left, right))
            except ZeroDivisionError as e:
                raise CalcError("division by zero") from e
            except OverflowError as e:
                raise CalcError("a result is too large for a float") from e
        raise CalcError(f"{type(node).__name__} is not allowed: only numbers and + - * / // % ** ( )")

    return walk(tree.body)


def format_number(value: int | float) -> str:
    """A result as a model should read it: integers exactly, floats to 12 significant digits."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputTypeError(f"value must be an int or a float, got {value!r} of type {type(value).__name__}")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value) if isinstance(value, int) else format(value, ".12g")


def calculator(expr: str) -> str:
    """The calculator tool: the result as text, or ``"error: <why>"`` (never an exception)."""
    try:
        return format_number(evaluate_arithmetic(expr))
    except (CalcError, TypeError) as e:
        return f"error: {e}"


def find_calc_calls(text: str) -> list[str]:
    """The expressions inside each ``<calc>...</calc>`` in ``text``, in order."""
    if not isinstance(text, str):
        raise InputTypeError(f"text must be a str, got {type(text).__name__}")
    return CALC_RE.findall(text)


def apply_calculator(text: str, max_calls: int = 20) -> str:
    """Answer every ``<calc>expr</calc>`` in ``text`` by appending ``<result>value</result>``.

    ``"12 boxes of 7: <calc>12*7</calc>"`` becomes ``"12 boxes of 7: <calc>12*7</calc><result>84</result>"``.
    More than ``max_calls`` calls in one text is refused (a ``ValueError``).
    """
    max_calls = check_int("max_calls", max_calls, 0)
    n = len(find_calc_calls(text))
    if n > max_calls:
        raise ValueError(f"text holds {n} <calc> calls, more than max_calls={max_calls}")
    return CALC_RE.sub(lambda m: f"{m.group(0)}<result>{calculator(m.group(1))}</result>", text)


def majority_vote(answers: Sequence[Hashable], key: Callable | None = None):
    """The most common answer (self-consistency). Ties go to the answer seen first.

    ``key`` normalises answers before counting (e.g. ``str.strip``); the first original answer
    of the winning group is returned.
    """
    if isinstance(answers, (str, bytes)):
        raise InputTypeError(f"answers must be a list of answers, got the single {type(answers).__name__} "
                             f"{answers!r:.40}; wrap it in a list")
    if key is not None and not callable(key):
        raise InputTypeError(f"key must be a function answer -> normalised answer (e.g. str.strip) or None, "
                             f"got {key!r}")
    answers = list(answers)
    if not answers:
        raise ValueError("answers is empty; majority_vote needs at least one answer")
    keys = [key(a) if key else a for a in answers]
    for i, k in enumerate(keys):
        try:
            hash(k)
        except TypeError:
            raise InputTypeError(f"answers[{i}] is {k!r:.40} of type {type(k).__name__}, which cannot be "
                                 "counted (it is not hashable); pass strings or numbers, or a key that "
                                 "turns answers into them") from None
    counts = Counter(keys)
    best = max(counts.values())
    for a, k in zip(answers, keys):  # first in order among the most common
        if counts[k] == best:
            return a


_NUMBER_RE = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")


def verify_arithmetic(answer_text: str, expected: float, rel_tol: float = 1e-9, abs_tol: float = 1e-9) -> bool:
    """Does the last number written in ``answer_text`` equal ``expected``?

    ``"so the total is 1,234."`` -> 1234. Thousands separators are understood; no number at all
    is simply wrong (False).
    """
    if not isinstance(answer_text, str):
        raise InputTypeError(f"answer_text must be a str, got {type(answer_text).__name__}")
    if isinstance(expected, bool) or not isinstance(expected, (int, float)):
        raise InputTypeError(f"expected must be a number, got {expected!r}")
    expected = check_float("expected", expected)
    rel_tol = check_float("rel_tol", rel_tol, 0)
    abs_tol = check_float("abs_tol", abs_tol, 0)
    numbers = _NUMBER_RE.findall(answer_text)
    if not numbers:
        return False
    return math.isclose(float(numbers[-1].replace(",", "")), expected, rel_tol=rel_tol, abs_tol=abs_tol)


def generate_with_tools(model, tokenizer, prompts, *, max_new_tokens: int = 64, max_calls: int = 4,
                        stop=None, tool: Callable[[str], str] | None = None, **sampling) -> list[str]:
    """Generate while a tool answers the model's ``<calc>expr</calc>`` calls (chapter 12.3).

    For each prompt, :func:`minillm.generate.generate` runs until the text ends a call with
    ``</calc>``; the loop then takes the expression after the last ``<calc>``, computes it with
    ``tool`` (default :func:`calculator`: safe, no ``eval``, an ``"error: ..."`` text for
    anything that is not arithmetic), appends ``<result>value</result>`` to the text and lets the
    model continue from there, until ``stop`` (strings), ``max_new_tokens`` generated tokens in
    all (the tool's text does not count), or the end of the model's context; calls after the
    first ``max_calls`` get no result (the model goes on without one). Rows run as one batch; a
    row that called the tool is prefilled again
    with its longer text (the cache of chapter 5 is rebuilt, which costs one forward pass).

    ``prompts``: a list of str. ``sampling``: ``temperature``, ``top_k``, ``top_p``, ``seed``,
    ``generator``... as :func:`~minillm.generate.generate` takes them (``seed`` is turned into a
    generator so that the rounds do not repeat each other's random numbers). Returns the
    completions (prompt excluded, the tool's ``<result>`` spans included, cut before ``stop``).
    """
    import torch

    from .generate import _RUN_ARGS, _check_model, _check_tokenizer, generate

    _check_model(model)
    if tokenizer is None:
        raise InputTypeError("tokenizer is None; generate_with_tools works on text and needs the model's tokenizer")
    _check_tokenizer(tokenizer)
    if isinstance(prompts, str) or not isinstance(prompts, (list, tuple)):
        raise InputTypeError(f"prompts must be a list of str, got {type(prompts).__name__}"
                             f"{'; wrap a single prompt in a list' if isinstance(prompts, str) else ''}")
    if not all(isinstance(p, str) for p in prompts):
        raise InputTypeError("prompts must be a list of str")
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, 0)
    max_calls = check_int("max_calls", max_calls, 0)
    tool = calculator if tool is None else tool
    if not callable(tool):
        raise InputTypeError(f"tool must be a function expression -> result text, got {tool!r}")
    bad = set(sampling) - (_RUN_ARGS - {"max_new_tokens", "stop"})
    if bad:
        raise InputTypeError(f"generate_with_tools got unexpected arguments {sorted(bad)}; it takes generate's "
                        f"sampling arguments ({', '.join(sorted(_RUN_ARGS - {'max_new_tokens', 'stop'}))})")
    stops = [] if stop is None else [stop] if isinstance(stop, str) else list(stop)
    seed = sampling.pop("seed", None)
    if sampling.get("generator") is None and seed is not None:
        sampling["generator"] = torch.Generator(device=next(model.parameters()).device).manual_seed(
            check_int("seed", seed, 0))
    out = [""] * len(prompts)
    left = [max_new_tokens] * len(prompts)
    calls = [0] * len(prompts)
    active = [i for i in range(len(prompts)) if max_new_tokens > 0]
    block = model.config.block_size
    rows_stops = stops + ["</calc>"]
    while active:
        texts = [prompts[i] + out[i] for i in active]
        lens = [len(tokenizer.encode(t)) for t in texts]
        if out[active[0]] == "" and max(lens) + 1 > block:  # only the prompts themselves can be too long
            raise ValueError(f"a prompt is {max(lens)} tokens long; the model's context is {block}")
        fits = [n < block for n in lens]  # a row that filled the context is finished
        active = [i for i, f in zip(active, fits) if f]
        texts = [t for t, f in zip(texts, fits) if f]
        if not active:
            break
        budget = min(max(left[i] for i in active), block - max(n for n, f in zip(lens, fits) if f))
        g = generate(model, texts, tokenizer, max_new_tokens=budget, stop=rows_stops, **sampling)
        still = []
        for r, i in enumerate(active):
            ids, text = g.ids[r], g.text[r]
            if len(ids) > left[i]:  # this row had a smaller budget than the batch's
                text = tokenizer.decode(ids[: left[i]])
                cut = min((j for j in (text.find(s) for s in rows_stops) if j >= 0), default=-1)
                text, hit = (text[:cut], text[cut:]) if cut >= 0 else (text, "")
                n_used = left[i]
            else:
                n_used = len(ids)
                rest = tokenizer.decode(ids)[len(text):] if g.finish_reasons[r] == "stop" else ""
                hit = rest
            left[i] -= n_used
            out[i] += text
            if hit.startswith("</calc>") and not any(hit.startswith(s) for s in stops):
                open_at = out[i].rfind("<calc>")
                expr = out[i][open_at + len("<calc>"):] if open_at >= 0 else ""
                out[i] += "</calc>"
                if calls[i] < max_calls and open_at >= 0:
                    calls[i] += 1
                    out[i] += f"<result>{tool(expr)}</result>"
                if left[i] > 0:
                    still.append(i)
        active = still
    return out
