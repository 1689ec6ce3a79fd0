"""Multi-digit arithmetic for reasoning experiments: word problems, three answer formats, a
character tokenizer, training examples and an evaluation harness (chapter 12).

TinyWorld's :meth:`minillm.world.World.arithmetic` writes small sums (numbers below 100). Here the
same kind of problem, ``"Zaira has 4821 shells. Kosen gives her 3977 more. ..."``, is written with
operands of a chosen number of digits, and each problem can be answered in three formats:

- ``"direct"``: the answer at once, ``" Answer: 8798"`` (one "system 1" guess);
- ``"scratchpad"``: worked steps first, column addition from the right with the carry written
  into the next column, ``" 4821+3977: 1+7=8 2+7=9 8+9=17 4+3+1=8. Answer: 8798"``;
- ``"tool"``: a calculator call, ``" <calc>4821+3977</calc><result>8798</result> Answer: 8798"``;
  the model learns to write the call and to copy the result, never to compute it (the
  ``<result>`` span is masked out of the loss); at inference
  :func:`minillm.tools.generate_with_tools` runs the call and pastes the result in.

A prompt is the problem, a newline, and the format's cue (``Direct:``, ``Work:``, ``Tool:``); an
answer ends with a newline. Numbers are read digit by digit: :func:`char_tokenizer` gives every
character, so every digit, its own token (chapter 1 shows how BPE instead cuts ``"4821"`` into
chunks that differ from number to number).

Papers:

- Nye et al. (2021), "Show Your Work: Scratchpads for Intermediate Computation with Language
  Models". https://arxiv.org/abs/2112.00114
- Wei et al. (2022), "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models".
  https://arxiv.org/abs/2201.11903
- Lee et al. (2023), "Teaching Arithmetic to Small Transformers". https://arxiv.org/abs/2307.03381
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from .utils import InputTypeError, check_bool, check_float, check_int, check_items
from .zoo import MODELS as _MODELS


def _zoo_recipe(name: str) -> dict:
    return _MODELS[name].recipe

MODES = ("direct", "scratchpad", "tool")
CUES = {"direct": "Direct:", "scratchpad": "Work:", "tool": "Tool:"}
#: every character the problems and answers use (the names of TinyWorld are ASCII letters)
ALPHABET = string.ascii_letters + string.digits + " \n.,:?+=<>/"
ITEMS = ("apples", "marbles", "stickers", "pencils", "cookies", "shells", "books", "coins",
         "eggs", "flowers", "stamps", "buttons")
_ANSWER_RE = re.compile(r"Answer:\s*(-?\d+)")


def _check_mode(mode) -> str:
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def _check_problems(problems, name: str = "problems") -> list:
    """``problems`` as a list of :class:`ArithmeticProblem` (from :func:`make_problems`)."""
    return check_items(name, problems, ArithmeticProblem, "an ArithmeticProblem (make_problems)")


#: recipe keys a recipe may leave out, with the value that means: AdamW, as every recipe before
#: the optimizer became a key (``muon_lr`` only counts with ``"optimizer": "muon"``)
OPTIMIZER_DEFAULTS = {"optimizer": "adamw", "muon_lr": 0.02}


def _check_optimizer(optimizer, muon_lr) -> tuple[str, float]:
    """The recipe's ``optimizer`` and ``muon_lr``, checked (see :class:`minillm.train.TrainConfig`)."""
    if not isinstance(optimizer, str) or optimizer not in ("adamw", "muon"):
        raise ValueError(f"recipe['optimizer'] must be 'adamw' or 'muon' (minillm.optim.Muon for the hidden "
                         f"matrices, AdamW for the rest), got {optimizer!r}")
    return optimizer, check_float("recipe['muon_lr']", muon_lr, 0, exclusive_minimum=True)


def _check_recipe(recipe) -> dict:
    """``recipe`` (None, or a dict of :data:`RECIPE`'s keys) merged over :data:`RECIPE` (and
    :data:`OPTIMIZER_DEFAULTS`, for the keys RECIPE leaves out). A recipe that gives its own
    ``stages`` but no ``optimizer`` means AdamW, as it did before the key existed."""
    if recipe is not None and not isinstance(recipe, dict):
        raise InputTypeError(f"recipe must be a dict like reasoning.RECIPE (or None), got {type(recipe).__name__}")
    keys = set(RECIPE) | set(OPTIMIZER_DEFAULTS)
    unknown = set(recipe or {}) - keys
    if unknown:
        raise ValueError(f"unknown recipe keys {sorted(unknown)}; the keys are {sorted(keys)}")
    given = dict(recipe or {})
    if "stages" in given and "optimizer" not in given:
        # a recipe with its own stages but no optimizer was written before the key existed: its
        # learning rates are AdamW's (recipe.json of arithmetic v1-v3, older notebooks)
        given["optimizer"] = "adamw"
    r = {**OPTIMIZER_DEFAULTS, **RECIPE, **given}
    r["optimizer"], r["muon_lr"] = _check_optimizer(r["optimizer"], r["muon_lr"])
    return r


@dataclass(frozen=True)
class ArithmeticProblem:
    """One addition word problem: its text, the two operands, the sum and the digits per operand.

    ``prompt(mode)`` is what the model reads; ``target(mode)`` the answer it is trained to write
    (chapter 12.1).
    """

    question: str
    a: int
    b: int
    digits: int

    def __post_init__(self):
        if not isinstance(self.question, str):
            raise InputTypeError(f"ArithmeticProblem.question must be a str, got {self.question!r:.40}")
        for name in ("a", "b"):
            check_int(f"ArithmeticProblem.{name}", getattr(self, name), 0)
        check_int("ArithmeticProblem.digits", self.digits, 1)

    @property
    def answer(self) -> int:
        """The true sum ``a + b``."""
        return self.a + self.b

    def prompt(self, mode: str = "direct") -> str:
        """The problem, a newline and the cue of ``mode`` (``"Direct:"``, ``"Work:"`` or ``"Tool:"``)."""
        return f"{self.question}\n{CUES[_check_mode(mode)]}"

    def target(self, mode: str = "direct") -> str:
        """The answer in ``mode``'s format, with a leading space and a final newline."""
        mode = _check_mode(mode)
        if mode == "direct":
            return f" Answer: {self.answer}\n"
        if mode == "scratchpad":
            return f" {column_addition(self.a, self.b)} Answer: {self.answer}\n"
        return f" <calc>{self.a}+{self.b}</calc><result>{self.answer}</result> Answer: {self.answer}\n"


def column_addition(a: int, b: int) -> str:
    """The scratchpad of ``a + b``: column by column from the right, the carry added to the next.

    >>> column_addition(4821, 3977)
    '4821+3977: 1+7=8 2+7=9 8+9=17 4+3+1=8.'

    The final carry is the sum's first digit, so the answer reads: last carry, then each
    column's last digit from the left (chapter 12.1).
    """
    for name, v in (("a", a), ("b", b)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise InputTypeError(f"{name} must be a non-negative int, got {v!r}")
    da, db = str(a)[::-1], str(b)[::-1]
    steps, carry = [], 0
    for i in range(max(len(da), len(db))):
        terms = [int(d[i]) for d in (da, db) if i < len(d)] + ([carry] if carry else [])
        s = sum(terms)
        steps.append("+".join(map(str, terms)) + f"={s}")
        carry = s // 10
    return f"{a}+{b}: " + " ".join(steps) + "."


_TEMPLATES = (
    "{A} has {a} {item}. {B} gives {him} {b} more. How many {item} does {A} have now?",
    "{A} found {a} {item} and {B} found {b}. How many {item} did they find together?",
    "{A} sold {a} {item} on Monday and {b} on Tuesday. How many {item} did {he} sell?",
)


def make_problem(world, rng: random.Random, digits: int) -> ArithmeticProblem:
    """A word problem adding two ``digits``-digit numbers, told about two of ``world``'s people.

    ``world``: a :class:`minillm.world.World` (its ``train_people`` are the cast); ``rng``: a
    ``random.Random``. The templates extend :meth:`World.arithmetic`'s "gives more" problem to
    numbers of any size (chapter 12.1).
    """
    if not isinstance(rng, random.Random):
        raise InputTypeError(f"rng must be a random.Random, got {type(rng).__name__}")
    digits = check_int("digits", digits, 1, 18)
    people = getattr(world, "train_people", None)
    if not people:
        raise InputTypeError(f"world must be a minillm.world.World, got {type(world).__name__}")
    p, q = rng.choice(people), rng.choice(people)
    lo, hi = (0 if digits == 1 else 10 ** (digits - 1)), 10 ** digits - 1
    a, b = rng.randint(lo, hi), rng.randint(lo, hi)
    question = rng.choice(_TEMPLATES).format(A=p.first, B=q.first, a=a, b=b, item=rng.choice(ITEMS),
                                             him=p.him, he=p.he)
    return ArithmeticProblem(question, a, b, digits)


def make_problems(world, n: int, digits, seed: int = 0, exclude=None) -> list[ArithmeticProblem]:
    """``n`` problems; ``digits`` an int or a list of ints (each problem draws one), from ``seed``.

    ``exclude``: problems (or ``(a, b)`` pairs) whose sums must not come back, e.g. the training
    set, so that a test measures addition and not recall (there are only 8,100 two-digit pairs).
    """
    n = check_int("n", n, 1)
    seed = check_int("seed", seed, 0)
    choices = [digits] if isinstance(digits, int) and not isinstance(digits, bool) else list(digits)
    if not choices:
        raise ValueError("digits is empty; give an int or a list of ints such as [1, 2, 3, 4]")
    if exclude is not None and (isinstance(exclude, (str, bytes)) or not hasattr(exclude, "__iter__")):
        raise InputTypeError(f"exclude must be a list of ArithmeticProblem or (a, b) pairs (or None), got {exclude!r:.40}")
    for i, p in enumerate(exclude or ()):
        if not isinstance(p, ArithmeticProblem) and not (isinstance(p, (tuple, list)) and len(p) == 2):
            raise InputTypeError(f"exclude[{i}] must be an ArithmeticProblem or an (a, b) pair, got {p!r:.40}")
    seen = {(p.a, p.b) if isinstance(p, ArithmeticProblem) else tuple(p) for p in (exclude or ())}
    rng = random.Random(seed)
    out: list[ArithmeticProblem] = []
    for _ in range(100 * n):
        p = make_problem(world, rng, rng.choice(choices))
        if (p.a, p.b) not in seen:
            out.append(p)
            if len(out) == n:
                return out
    raise ValueError(f"could not find {n} problems outside exclude with digits={digits!r}; ask for fewer")


def char_tokenizer():
    """A :class:`minillm.tokenizer.CharTokenizer` over :data:`ALPHABET`: one token per digit."""
    from .tokenizer import CharTokenizer

    return CharTokenizer(ALPHABET)


def extract_answer(text: str) -> int | None:
    """The number after the last ``"Answer:"`` in ``text``, or None when there is none."""
    if not isinstance(text, str):
        raise InputTypeError(f"text must be a str, got {type(text).__name__}")
    found = _ANSWER_RE.findall(text)
    return int(found[-1]) if found else None


def training_examples(tokenizer, problems: Sequence[ArithmeticProblem], modes=MODES,
                      seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """``(ids, targets)`` pairs for :class:`minillm.finetune.ExampleBatches`, one per problem.

    Each problem is written in one of ``modes`` (chosen at random from ``seed``). The loss is on
    the answer only: the prompt's targets, and a tool answer's ``<result>...</result>`` span (the
    calculator writes it, not the model), are ``-100``. ``ids`` are ``prompt + answer`` minus its
    last token, ``targets`` the same text shifted by one.
    """
    if not hasattr(tokenizer, "encode") or not hasattr(tokenizer, "decode"):
        raise InputTypeError(f"tokenizer must be a minillm tokenizer (char_tokenizer()), got {tokenizer!r:.40}")
    modes = [_check_mode(m) for m in ([modes] if isinstance(modes, str) else modes)]
    if not modes:
        raise ValueError(f"modes is empty; give some of {MODES}")
    rng = random.Random(check_int("seed", seed, 0))
    out = []
    for p in _check_problems(problems):
        mode = rng.choice(modes)
        prompt, answer = p.prompt(mode), p.target(mode)
        ids = tokenizer.encode(prompt + answer)
        keep = [False] * len(tokenizer.encode(prompt)) + [True] * len(tokenizer.encode(answer))
        start = answer.find("<result>")
        if start >= 0:  # mask the calculator's text (char-level: one token per character)
            base = len(prompt)
            for i in range(base + start, base + answer.find("</result>") + len("</result>")):
                keep[i] = False
        targets = [t if k else -100 for t, k in zip(ids[1:], keep[1:])]
        out.append((ids[:-1], targets))
    return out


def solve(model, tokenizer, problems: Sequence[ArithmeticProblem], mode: str, *, tool: bool = True,
          samples: int = 1, temperature: float = 0.0, max_new_tokens: int = 80, seed: int = 0,
          batch_size: int = 256) -> list[list[str]]:
    """The model's answers: for each problem, ``samples`` completions of ``problem.prompt(mode)``.

    ``mode="tool"`` with ``tool=True`` runs the calculator through
    :func:`minillm.tools.generate_with_tools`; ``tool=False`` lets the model write the result
    itself. ``temperature=0`` is greedy (then ``samples`` should be 1). Generation stops at the
    newline that ends an answer, after ``max_new_tokens``, or at the end of the model's context
    (chapter 12).
    """
    import torch

    from .evaluate import _check_model
    from .generate import generate
    from .tools import generate_with_tools

    _check_model(model, tokenizer)
    mode = _check_mode(mode)
    check_bool("tool", tool)
    samples = check_int("samples", samples, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, 1)
    check_float("temperature", temperature, 0)
    problems = _check_problems(problems)
    prompts = [p.prompt(mode) for p in problems for _ in range(samples)]
    gen = torch.Generator(device=next(model.parameters()).device).manual_seed(check_int("seed", seed, 0))
    texts: list[str] = []
    for i in range(0, len(prompts), batch_size):
        chunk = prompts[i: i + batch_size]
        room = model.config.block_size - max(len(tokenizer.encode(p)) for p in chunk)
        n_new = min(max_new_tokens, room)  # never past the context
        if mode == "tool" and tool:
            texts += generate_with_tools(model, tokenizer, chunk, max_new_tokens=n_new, tool=tool_for(tokenizer),
                                         temperature=temperature, stop="\n", generator=gen)
        else:
            texts += generate(model, chunk, tokenizer, max_new_tokens=n_new,
                              temperature=temperature, stop="\n", generator=gen).text
    return [texts[j * samples:(j + 1) * samples] for j in range(len(problems))]


def tool_for(tokenizer):
    """The calculator :func:`solve` gives the model: :func:`minillm.tools.calculator`, its text
    cut to the characters ``tokenizer`` knows when it is a character tokenizer (chapter 12.3).

    A malformed call gets an ``"error: ..."`` text that may quote characters outside
    :data:`ALPHABET` (``'``, ``(``); pasted into the context, they could not be encoded. Other
    tokenizers encode any text, so they get the calculator unchanged (``None``: the default).
    """
    from .tools import calculator

    chars = getattr(tokenizer, "chars", None)
    if chars is None:
        return None
    known = set(chars)

    def tool(expr: str) -> str:
        return "".join(c for c in calculator(expr) if c in known)

    return tool


def accuracy(problems: Sequence[ArithmeticProblem], answers: Sequence[Sequence[str]], vote: int | None = None) -> float:
    """Share of problems whose answer is right.

    ``answers[i]`` holds the completions for ``problems[i]``; with ``vote=k`` the first ``k`` are
    reduced by :func:`minillm.tools.majority_vote` over their extracted answers (self-consistency;
    an answer with no number never wins over one with a number), else the first one is graded.
    """
    from .tools import majority_vote

    problems = _check_problems(problems)
    if isinstance(answers, (str, bytes)) or not hasattr(answers, "__iter__"):
        raise InputTypeError("answers must be a list of lists of completions (one list per problem), got "
                             f"{type(answers).__name__}")
    answers = list(answers)
    if len(problems) != len(answers):
        raise ValueError(f"got {len(problems)} problems but {len(answers)} answer lists; give one list per problem")
    if not problems:
        raise ValueError("problems is empty")
    right = 0
    for p, outs in zip(problems, answers):
        if isinstance(outs, str):
            raise InputTypeError("answers must be a list of lists of completions (one list per problem)")
        k = 1 if vote is None else check_int("vote", vote, 1, len(outs))
        got = [extract_answer(t) for t in outs[:k]]
        numbers = [g for g in got if g is not None]
        pick = majority_vote(numbers) if numbers else None
        right += pick == p.answer
    return right / len(problems)


class ArithmeticReward:
    """A verifiable reward for GRPO (chapter 7.6, used in 12.4): 1.0 when the number after the
    last ``"Answer:"`` of an answer is the problem's sum, else 0.0.

    ``problems``: the :class:`ArithmeticProblem` whose prompts (in ``mode``) the trainer samples.
    Called as ``reward(prompts, answers)``, like :class:`minillm.rlhf.ExactAnswerReward`.
    """

    def __init__(self, problems: Sequence[ArithmeticProblem], mode: str = "direct"):
        mode = _check_mode(mode)
        problems = list(problems) if not isinstance(problems, (str, bytes)) and hasattr(problems, "__iter__") else []
        if not problems or not all(isinstance(p, ArithmeticProblem) for p in problems):
            raise InputTypeError("problems must be a non-empty list of ArithmeticProblem (make_problems)")
        self.answers = {p.prompt(mode): p.answer for p in problems}

    def __call__(self, prompts, answers) -> list[float]:
        out = []
        for p, a in zip(prompts, answers):
            if p not in self.answers:
                raise ValueError(f"no problem is known for prompt {p!r:.80}; build the reward from the "
                                 "problems whose prompts the trainer samples")
            out.append(float(extract_answer(a) == self.answers[p]))
        return out


#: the recipe of the chapter's arithmetic model (:func:`arithmetic_model`): the data, the shape,
#: and the training stages (steps, peak learning rate, warmup), each a cosine schedule. It lives
#: in the course's model zoo (:data:`minillm.zoo.MODELS` ``["arithmetic"]``); this is the same dict.
RECIPE = _zoo_recipe("arithmetic")


def train_stage(model, batches, steps: int, lr: float, warmup_steps: int, seed: int = 0,
                progress: bool = False, optimizer: str = "adamw", muon_lr: float = 0.02) -> list[float]:
    """One cosine-schedule stage of :func:`train_arithmetic_model` on ``batches``
    (:class:`minillm.finetune.ExampleBatches`); returns the loss at each step.

    ``optimizer``: ``"adamw"`` (AdamW at ``lr`` for every weight), or ``"muon"``
    (:class:`minillm.optim.Muon` at ``muon_lr`` for the hidden weight matrices, AdamW at ``lr``
    for the embeddings, the head and the vectors); both follow the stage's schedule."""
    from .train import TrainConfig, Trainer

    if not hasattr(batches, "batch_size") or not hasattr(batches, "batch"):
        raise InputTypeError(f"batches must be a minillm.finetune.ExampleBatches, got {type(batches).__name__}")
    optimizer, muon_lr = _check_optimizer(optimizer, muon_lr)
    trainer = Trainer(model, batches, None, TrainConfig(
        steps=steps, lr=lr, warmup_steps=warmup_steps, batch_size=batches.batch_size,
        weight_decay=0.0, eval_every=10**9, progress=progress, seed=seed,
        optimizer=optimizer, muon_lr=muon_lr))
    return [float(x) for x in trainer.fit().loss]


def train_arithmetic_model(recipe: dict | None = None, progress: bool = False, **overrides):
    """Train a character-level GPT on addition word problems in all three formats (chapter 12.2).

    ``recipe``: a dict like :data:`RECIPE` (its values, then ``overrides``); its ``optimizer``
    (``"adamw"`` or ``"muon"``) and ``muon_lr`` go to every stage (:func:`train_stage`). Returns
    ``(model, tokenizer, losses)``, the model in eval mode. The loss is on the answers only
    (:func:`training_examples`); each stage reshuffles the same examples. The default recipe
    (4 layers) takes about 10 minutes with 2 threads on a free 2-core machine (25 on a busy one).
    """
    from . import seed_everything
    from .finetune import ExampleBatches
    from .model import GPT, GPTConfig
    from .world import World

    r = _check_recipe({**_check_recipe(recipe), **overrides})
    seed_everything(r["seed"])
    tok = char_tokenizer()
    problems = make_problems(World(r["world_seed"]), r["n_train"], list(r["digits"]), seed=r["data_seed"])
    examples = training_examples(tok, problems, seed=r["seed"])
    cfg = GPTConfig(vocab_size=tok.vocab_size, block_size=r["block_size"], n_layer=r["n_layer"],
                    n_head=r["n_head"], n_embd=r["n_embd"], pos=r["pos"])
    model = GPT(cfg)
    losses: list[float] = []
    for i, (steps, lr, warmup) in enumerate(r["stages"]):
        batches = ExampleBatches(examples, batch_size=r["batch_size"], seed=r["seed"] + i)
        losses += train_stage(model, batches, steps, lr, warmup, seed=r["seed"] + i, progress=progress,
                              optimizer=r["optimizer"], muon_lr=r["muon_lr"])
    return model.eval(), tok, losses


def arithmetic_model(progress: bool = True):
    """The chapter's arithmetic model, trained once with :data:`RECIPE` and cached (chapter 12.2).

    A thin wrapper over ``minillm.pretrained("arithmetic")`` (the course's model zoo,
    :mod:`minillm.zoo`): the first call builds it with :func:`build_arithmetic` (a few minutes
    on a laptop CPU), later calls only load. Returns ``(model, tokenizer)``, the model in eval
    mode and the :func:`char_tokenizer` it was trained with.
    """
    from .zoo import pretrained

    model, tok = pretrained("arithmetic", progress=progress)
    return model, tok


def build_arithmetic(e, folder, base_folder, progress: bool) -> dict:
    """Zoo builder (:mod:`minillm.zoo`) of the ``"arithmetic"`` model: trains
    :func:`train_arithmetic_model` on ``e.recipe`` and writes ``model.safetensors``,
    ``config.json`` and the character tokenizer's ``tokenizer.json`` into ``folder``. Returns
    the figures that go into ``recipe.json`` (the mean loss of the last 50 steps)."""
    if base_folder is not None:
        raise ValueError("the arithmetic model is trained from scratch; its zoo entry must have base=None")
    model, tok, losses = train_arithmetic_model(e.recipe, progress=progress)
    model.save(folder)
    tok.save(folder)
    tail = losses[-50:]
    return {"final_loss": round(sum(tail) / len(tail), 5), "parameters": model.num_params()}


def training_problems(recipe: dict | None = None) -> list[ArithmeticProblem]:
    """The problems :func:`train_arithmetic_model` trains on (to exclude them from tests)."""
    from .world import World

    r = _check_recipe(recipe)
    return make_problems(World(r["world_seed"]), r["n_train"], list(r["digits"]), seed=r["data_seed"])


def compare_formats(model, tokenizer, problems_by_digits: dict, *, votes: int = 5,
                    temperature: float = 0.7, seed: int = 0) -> dict[str, dict[int, float]]:
    """Accuracy of each way of answering, for each number of digits (chapter 12, the benchmark).

    ``problems_by_digits``: ``{digits: [ArithmeticProblem, ...]}``. Returns
    ``{way: {digits: accuracy}}`` for the ways ``"direct"``, ``"scratchpad"``, ``"tool"`` (the
    calculator answers), ``"no tool"`` (the tool format, the model writes the result itself) and
    ``"self-consistency"`` (``votes`` scratchpads sampled at ``temperature``, majority vote).
    Greedy decoding everywhere else.
    """
    from .evaluate import _check_model

    _check_model(model, tokenizer)
    votes = check_int("votes", votes, 1)
    check_float("temperature", temperature, 0)
    check_int("seed", seed, 0)
    if not isinstance(problems_by_digits, dict) or not problems_by_digits:
        raise InputTypeError("problems_by_digits must be a non-empty dict {digits: [ArithmeticProblem, ...]}, "
                             f"got {type(problems_by_digits).__name__}")
    out: dict[str, dict[int, float]] = {w: {} for w in ("direct", "scratchpad", "tool", "no tool",
                                                        "self-consistency")}
    for d, ps in problems_by_digits.items():
        for mode in MODES:
            out[mode][d] = accuracy(ps, solve(model, tokenizer, ps, mode))
        out["no tool"][d] = accuracy(ps, solve(model, tokenizer, ps, "tool", tool=False))
        sampled = solve(model, tokenizer, ps, "scratchpad", samples=votes, temperature=temperature, seed=seed)
        out["self-consistency"][d] = accuracy(ps, sampled, vote=votes)
    return out
