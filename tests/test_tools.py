"""Tests for minillm.tools (chapter 12): the calculator against Python's own arithmetic, and a
set of malicious inputs that must be refused without running anything."""

import ast
import builtins
import math

import pytest

from minillm.tools import (
    CalcError,
    apply_calculator,
    calculator,
    evaluate_arithmetic,
    find_calc_calls,
    majority_vote,
    verify_arithmetic,
)

EXPRESSIONS = [
    "12*(3+4)", "1+2*3", "(1+2)*3", "-5+3", "--4", "-(2+3)*4", "+7", "7/2", "7//2", "-7//2",
    "7%3", "-7%3", "2**10", "2**-2", "(-2)**3", "-2**2", "2**3**2", "1.5*4", "0.1+0.2",
    "10/3", "1e3+1", "123456789*987654321", "((((1))))", "3 - 2 - 1", "2*(3+(4-1)*2)/5",
    "100 % 7 ** 2", "9**0.5", "1_000 + 1", "5.5 // 2", "-3.5 % 2",
]


@pytest.fixture
def no_eval(monkeypatch):
    """Make eval/exec blow up, and compile too unless it only parses to a tree (ast.parse):
    the calculator must never make or run a code object."""
    real_compile = builtins.compile

    def forbidden(*args, **kwargs):
        raise AssertionError("the calculator called eval/exec")

    def parse_only(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("the calculator compiled code")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", parse_only)


@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_calculator_equals_python_arithmetic(expr):
    expected = eval(expr, {"__builtins__": {}}, {})  # the reference: Python itself, on trusted text
    got = evaluate_arithmetic(expr)
    assert type(got) is type(expected)
    assert got == expected or math.isclose(got, expected, rel_tol=1e-15)


def test_calculator_never_uses_eval(no_eval):
    assert evaluate_arithmetic("12*(3+4)") == 84
    assert calculator("2**0.5") == "1.41421356237"
    assert calculator("6/3") == "2"


MALICIOUS = {
    "__import__('os').system('touch /tmp/minillm_pwned')": "characters that are not arithmetic",
    "lambda: 1": "characters that are not arithmetic",
    "(1).__class__": "characters that are not arithmetic",
    "(1)._": "Attribute is not allowed",
    "_(1)": "Call is not allowed",
    "e": "Name is not allowed",
    "[1, 2]": "characters that are not arithmetic",
    "1 if 1 else 2": "characters that are not arithmetic",
    "9**9**9": "exponent 387420489 is larger than max_exponent",
    "2**100**2": "exponent 10000 is larger than max_exponent",
    "9999**99": "would have more than max_bits",
    "10**100*10**100*10**100*10**100": "more than max_bits",
    "1e300*1e300": "too large for a float",
    "1e200**2": "too large for a float",
    "(-8)**(1/3)": "not a real number",
    "1" * 201: "201 characters long, more than max_length=200",
    "(" * 50 + "1" + ")" * 50: "parentheses nest 50 deep, more than max_depth=20",
    "(" * 100_000: "100000 characters long",
    "1 +": "not a valid arithmetic expression",
    "1/0": "division by zero",
    "5//0": "division by zero",
    "5%0.0": "division by zero",
}


@pytest.mark.parametrize("expr", list(MALICIOUS))
def test_malicious_inputs_are_refused(expr, no_eval, tmp_path):
    with pytest.raises(CalcError, match=MALICIOUS[expr].replace("(", r"\(").replace("*", r"\*")):
        evaluate_arithmetic(expr)
    assert calculator(expr).startswith("error: ")


def test_nothing_ran(no_eval):
    import os

    calculator("__import__('os').system('touch /tmp/minillm_pwned')")
    assert not os.path.exists("/tmp/minillm_pwned")


def test_tool_calls_in_text():
    text = "Boxes: <calc>12*7</calc>. Split: <calc>84/0</calc>. Bad: <calc>open('x')</calc>"
    assert find_calc_calls(text) == ["12*7", "84/0", "open('x')"]
    out = apply_calculator(text)
    assert "<calc>12*7</calc><result>84</result>" in out
    assert "<calc>84/0</calc><result>error: division by zero</result>" in out
    assert "<result>error: expression contains characters that are not arithmetic" in out
    with pytest.raises(ValueError, match="text holds 3 <calc> calls, more than max_calls=2"):
        apply_calculator(text, max_calls=2)


def test_majority_vote_deterministic_ties():
    assert majority_vote(["4", "5", "4"]) == "4"
    assert majority_vote(["b", "a", "a", "b"]) == "b"  # tie: first seen wins
    assert majority_vote(["a", "b"]) == "a"
    assert majority_vote([" 7", "7 ", "8"], key=str.strip) == " 7"


def test_verify_arithmetic():
    assert verify_arithmetic("12 * 7 = 84, so the answer is 84.", 84)
    assert not verify_arithmetic("the answer is 85", 84)
    assert verify_arithmetic("total: 1,234.5 apples", 1234.5)
    assert verify_arithmetic("it drops to -3", -3)
    assert not verify_arithmetic("no idea", 3)
    assert verify_arithmetic("0.30000000000000004", 0.1 + 0.2)


def test_tools_bad_input():
    with pytest.raises(ValueError, match="answers is empty"):
        majority_vote([])
    with pytest.raises(TypeError, match="expr must be a str, got int"):
        evaluate_arithmetic(12)
    with pytest.raises(TypeError, match="text must be a str"):
        find_calc_calls(None)
    with pytest.raises(TypeError, match="expected must be a number"):
        verify_arithmetic("3", "3")
    with pytest.raises(TypeError, match="answer_text must be a str"):
        verify_arithmetic(3, 3)
