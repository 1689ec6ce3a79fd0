"""Every exercise check of chapter 12 (reasoning and tools) rejects the wrong answers a learner would try.

Each wrong answer replaces the solution region of one exercise (see ``tests/exercise_harness.py``);
the exercise's check cell must fail with a message that says what is wrong: constants, ignored
ties, minillm's own function passed off as the learner's, ``eval`` in the calculator, substring
matches in the verifier, the classic slips of column addition.
"""

from __future__ import annotations

import pytest
from exercise_harness import Wrong, count_wrong, ids, run_right, run_wrong

CH12 = "solutions/12-reasoning.ipynb"

WRONG = [
    # 12.1 majority vote
    Wrong("12.1", "return answers[0]", r"majority_vote\(\['42', '41', '42'\]\) returned '41'|returned", name="the first answer"),
    Wrong("12.1", "return answers[-1]", r"returned", name="the last answer"),
    Wrong("12.1", "return '42'", r"returned '42', expected '7'", name="a constant"),
    Wrong("12.1", "return max(set(answers), key=answers.count)", r"tie", name="ties by set order"),
    Wrong("12.1", "return sorted(answers, key=answers.count)[-1]", r"tie", name="ties to the last"),
    Wrong("12.1", "from minillm.tools import majority_vote as mv\nreturn mv(answers)",
          r"calls minillm\.tools\.majority_vote", name="minillm's majority_vote"),
    Wrong("12.1", "return Counter(a for a in answers if a is not None).most_common(1)[0][0]", r"None",
          name="drops None"),
    # 12.2 calculator
    Wrong("12.2", "return eval(expr)", r"calls eval or exec", name="eval"),
    Wrong("12.2", "return eval(expr, {'__builtins__': {}}, {})", r"calls eval or exec", name="eval without builtins"),
    Wrong("12.2", "return eval(compile(expr, '<calc>', 'eval'))", r"compiles the expression", name="compile"),
    Wrong("12.2", "from minillm.tools import evaluate_arithmetic\nreturn evaluate_arithmetic(expr)",
          r"calls minillm\.tools\.evaluate_arithmetic", name="minillm's calculator"),
    Wrong("12.2", "return 42", r"calc\('12\+30'\) returned 42, expected 42|calc\('7\*8'\) returned 42", name="a constant"),
    Wrong("12.2", """
        total = 0
        for part in expr.split('+'):
            total += int(part)
        return total
        """, r"raised ValueError|returned", name="splits on +"),
    Wrong("12.2", """
        tree = ast.parse(expr, mode="eval")

        def walk(node):
            if isinstance(node, ast.Constant):
                return node.value
            if isinstance(node, ast.UnaryOp):
                return -walk(node.operand)
            if isinstance(node, ast.BinOp):
                return {ast.Add: lambda x, y: x + y, ast.Sub: lambda x, y: x - y,
                        ast.Mult: lambda x, y: x * y, ast.Pow: lambda x, y: x ** y}[type(node.op)](
                    walk(node.left), walk(node.right))
            raise ValueError(type(node).__name__)

        return walk(tree.body)
        """, r"calc\('2\*\*10'\) returned 1024", name="allows **"),
    Wrong("12.2", """
        tree = ast.parse(expr, mode="eval")

        def walk(node):
            if isinstance(node, ast.Constant):
                return node.value
            if isinstance(node, ast.UnaryOp):
                return -walk(node.operand)
            if isinstance(node, ast.BinOp):
                ops = {ast.Add: lambda x, y: x + y, ast.Sub: lambda x, y: x - y, ast.Mult: lambda x, y: x * y}
                if type(node.op) not in ops:
                    raise ValueError("operator")
                return ops[type(node.op)](walk(node.left), walk(node.right))
            raise ValueError(type(node).__name__)

        return walk(tree.body)
        """, r"calc\(\"'12'\+'30'\"\) returned '1230'", name="allows string constants"),
    Wrong("12.2", """
        tree = ast.parse(expr, mode="eval")
        def walk(node):
            if isinstance(node, ast.Constant) and type(node.value) is int:
                return node.value
            if isinstance(node, ast.BinOp):
                ops = {ast.Add: lambda x, y: x + y, ast.Sub: lambda x, y: x - y, ast.Mult: lambda x, y: x * y}
                if type(node.op) not in ops:
                    raise ValueError("operator")
                return ops[type(node.op)](walk(node.left), walk(node.right))
            raise ValueError(type(node).__name__)
        return walk(tree.body)
        """, r"calc\('-5\+2'\) raised ValueError", name="no unary minus"),
    Wrong("12.2", """
        try:
            tree = ast.parse(expr, mode="eval")
        except SyntaxError:
            raise ValueError("syntax") from None
        def walk(node):
            if isinstance(node, ast.Constant) and type(node.value) is int:
                return node.value
            if isinstance(node, ast.UnaryOp):
                return -walk(node.operand)
            if isinstance(node, ast.BinOp):
                ops = {ast.Add: lambda x, y: x + y, ast.Sub: lambda x, y: x - y, ast.Mult: lambda x, y: x * y}
                return ops[type(node.op)](walk(node.left), walk(node.right))
            raise ValueError(type(node).__name__)
        return walk(tree.body)
        """, r"raised KeyError", name="an unknown operator leaks a KeyError"),
    # 12.3 verifier
    Wrong("12.3", "return str(expected) in text", r"contains the right digits", name="substring"),
    Wrong("12.3", "return True", r"expected False", name="always right"),
    Wrong("12.3", "return False", r"expected True", name="always wrong"),
    Wrong("12.3", """
        found = re.findall(r"Answer:\\s*(-?\\d+)", text)
        return bool(found) and int(found[0]) == expected
        """, r"the last Answer", name="the first Answer"),
    Wrong("12.3", """
        nums = re.findall(r"\\d+", text)
        return bool(nums) and int(nums[-1]) == expected
        """, r"no 'Answer:' at all", name="the last number anywhere"),
    Wrong("12.3", """
        found = re.findall(r"Answer:\\s*(\\d)", text)
        return bool(found) and int(found[-1]) == expected
        """, r"expected True", name="one digit only"),
    Wrong("12.3", """
        found = re.findall(r"Answer:\\s*(-?\\d+)", text)
        return bool(found) and found[-1].startswith(str(expected)[:3])
        """, r"start of the right one|expected False", name="prefix match"),
    Wrong("12.3", "from minillm.reasoning import extract_answer\nreturn extract_answer(text) == expected",
          r"calls minillm\.reasoning\.extract_answer", name="minillm's extract_answer"),
    # 12.4 scratchpad
    Wrong("12.4", "return f'{a}+{b}: {a + b}.'", r"scratchpad\(4821, 3977\) returned", name="no steps"),
    Wrong("12.4", """
        ra, rb = str(a)[::-1], str(b)[::-1]
        steps = []
        for i in range(max(len(ra), len(rb))):
            terms = [int(r[i]) for r in (ra, rb) if i < len(r)]
            steps.append("+".join(str(t) for t in terms) + f"={sum(terms)}")
        return f"{a}+{b}: " + " ".join(steps) + "."
        """, r"4\+3\+1=8", name="forgets the carry"),
    Wrong("12.4", """
        ra, rb = str(a), str(b)
        steps, carry = [], 0
        for i in range(max(len(ra), len(rb))):
            terms = [int(r[i]) for r in (ra, rb) if i < len(r)]
            if carry:
                terms.append(carry)
            steps.append("+".join(str(t) for t in terms) + f"={sum(terms)}")
            carry = sum(terms) // 10
        return f"{a}+{b}: " + " ".join(steps) + "."
        """, r"returned", name="from the left"),
    Wrong("12.4", """
        ra, rb = str(a)[::-1], str(b)[::-1]
        steps, carry = [], 0
        for i in range(max(len(ra), len(rb))):
            terms = [int(r[i]) if i < len(r) else 0 for r in (ra, rb)]
            if carry:
                terms.append(carry)
            steps.append("+".join(str(t) for t in terms) + f"={sum(terms)}")
            carry = sum(terms) // 10
        return f"{a}+{b}: " + " ".join(steps) + "."
        """, r"scratchpad\(99, 1\)|scratchpad\(5, 7\)|returned", name="pads with zeros"),
    Wrong("12.4", """
        ra, rb = str(a)[::-1], str(b)[::-1]
        steps, carry = [], 0
        for i in range(max(len(ra), len(rb))):
            terms = [int(r[i]) for r in (ra, rb) if i < len(r)] + [carry]
            steps.append("+".join(str(t) for t in terms) + f"={sum(terms)}")
            carry = sum(terms) // 10
        return f"{a}+{b}: " + " ".join(steps) + "."
        """, r"1\+7=8", name="writes a zero carry"),
    Wrong("12.4", "from minillm.reasoning import column_addition\nreturn column_addition(a, b)",
          r"calls minillm\.reasoning\.column_addition", name="minillm's column_addition"),
]


@pytest.mark.parametrize("wrong", WRONG, ids=ids(WRONG))
def test_chapter12_checks_reject_wrong_answers(wrong):
    run_wrong(CH12, wrong)


@pytest.mark.parametrize("exercise", ["12.1", "12.2", "12.3", "12.4"])
def test_chapter12_solutions_pass_their_checks(exercise):
    run_right(CH12, exercise)


def test_enough_wrong_answers():
    counts = count_wrong(WRONG)
    assert counts["12"] >= 20, counts
