"""Evaluation: a benchmark suite, a report card, an arena of pairwise votes, contamination (chapter 9).

Chapter 6's :mod:`minillm.evaluate` measures what one model knows; this module compares models.
Read top to bottom:

1. A benchmark: :func:`task_suite` (:class:`Task` s of :class:`Item` s over TinyWorld: facts of
   held-in and held-out people, parents forwards and reversed, review sentiment, arithmetic,
   bits per byte on held-out text), scored by :func:`score_task` through one interface for every
   model (:class:`GPTScorer`, :class:`BigramScorer`, :func:`as_scorer`). :func:`report_card`
   evaluates several models in one call and returns a :class:`ReportCard` (a table and a bar
   chart, :func:`report_card_plot`).
2. Pairwise comparison: :func:`answer_questions`, judges (:func:`score_judge`,
   :func:`reward_model_judge`), :func:`play_matches` and :func:`leaderboard` (online Elo and
   Bradley-Terry with bootstrap intervals, from :mod:`minillm.ratings`; :func:`leaderboard_plot`).
3. Contamination: :func:`ngrams`, :func:`ngram_overlap`, and :func:`contaminate` (a copy of a
   model that has read the test).

Plots import matplotlib inside the function, so the module itself stays light.

Papers:

- Gao et al. (2021-), "A framework for few-shot language model evaluation" (lm-evaluation-harness:
  multiple choice by log-probability). https://github.com/EleutherAI/lm-evaluation-harness
- Brown et al. (2020), "Language Models are Few-Shot Learners", appendix C (13-gram contamination
  analysis). https://arxiv.org/abs/2005.14165
- Berglund et al. (2023), "The Reversal Curse: LLMs trained on 'A is B' fail to learn 'B is A'".
  https://arxiv.org/abs/2309.12288
- Zheng et al. (2023), "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena" (position bias).
  https://arxiv.org/abs/2306.05685
- Chiang et al. (2024), "Chatbot Arena: An Open Platform for Evaluating LLMs by Human
  Preference" (Elo and Bradley-Terry leaderboards). https://arxiv.org/abs/2403.04132
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .evaluate import (
    FACT_PROMPTS,
    _check_model,
    _check_texts,
    _starts_with_answer,
    chat_prompt,
    continuation_logprobs,
    fact_answer,
    fact_candidates,
    greedy_complete,
)
from .tokenizer import END
from .utils import InputTypeError, check_float, check_int, read_json

FIGSIZE = (6, 3.5)

#: The metrics a :class:`Task` can use: greedy generation scored by exact match of the start
#: (``exact``) or of the final number (``number``), multiple choice by log-probability (``choice``),
#: and bits per byte of held-out text (``bpb``, lower is better).
METRICS = ("exact", "number", "choice", "bpb")


@dataclass(frozen=True)
class Item:
    """One test item.

    ``prompt`` is plain text the model continues (every model reads it the same way).
    ``answer`` is what should follow it (exact match) or the right one of ``choices`` (multiple
    choice). ``question`` (optional) is the same item as a chat question: an assistant model is
    asked it in the chat template and is right when its reply contains one of ``accept``.
    """

    prompt: str
    answer: str
    choices: tuple = ()
    question: str | None = None
    accept: tuple = ()

    def __post_init__(self):
        for name in ("prompt", "answer"):
            if not isinstance(getattr(self, name), str):
                raise InputTypeError(f"Item.{name} must be a str, got {getattr(self, name)!r:.40}")
        if self.question is not None and not isinstance(self.question, str):
            raise InputTypeError(f"Item.question must be a str or None, got {self.question!r:.40}")
        for name in ("choices", "accept"):
            value = getattr(self, name)
            if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) for v in value):
                raise InputTypeError(f"Item.{name} must be a tuple of strings, got {value!r:.40}")


@dataclass
class Task:
    """A named list of :class:`Item` s (or, for ``bpb``, of texts) and how to score them.

    ``chance`` is what guessing scores (for ``bpb``: ``8.0``, a model that knows nothing about the
    bytes). ``max_new_tokens`` bounds greedy generation for ``exact``/``number``.
    """

    name: str
    metric: str
    items: list
    chance: float
    max_new_tokens: int = 8
    description: str = ""

    def __post_init__(self):
        if self.metric not in METRICS:
            raise ValueError(f"Task {self.name!r}: metric {self.metric!r} is not one of {METRICS}")
        if isinstance(self.items, (str, bytes)) or not isinstance(self.items, (list, tuple)):
            raise InputTypeError(f"Task {self.name!r}: items must be a list of Item (or of texts for 'bpb'), "
                                 f"got {type(self.items).__name__} {self.items!r:.40}")
        if not self.items:
            raise ValueError(f"Task {self.name!r} has no items; a task needs at least one")
        check_float(f"Task {self.name!r}: chance", self.chance, 0)
        check_int(f"Task {self.name!r}: max_new_tokens", self.max_new_tokens, 0)


def _sample(rng, seq, n):
    seq = list(seq)
    return seq if len(seq) <= n else rng.sample(seq, n)


def _held_out_text(world, n: int, seed: int) -> list[str]:
    """Fresh stories and reviews drawn with a seed no corpus uses: text of the course's kind
    that no model trained on, byte for byte."""
    import random

    rng = random.Random(10_000 + seed)
    out = []
    for i in range(n):
        out.append(world.story(rng) if i % 2 == 0 else world.review(rng)[0])
    return out


def task_suite(n: int = 24, seed: int = 0, name: str = "tinyworld") -> dict[str, Task]:
    """The course's benchmark over TinyWorld: ``{task name: Task}`` (chapter 9).

    Built from the people that course model ``name`` was taught (:func:`minillm.zoo.course_people`):

    - ``facts_in`` / ``facts_in_mc``: birth town, job, colour and food of ``n`` held-in people,
      by greedy exact match (a base model completes ``"X was born in the town of"``; a chat model
      is asked the question) and by multiple choice over every candidate;
    - ``facts_out`` / ``facts_out_mc``: the same for ``n`` held-out people, never written about
      (a model can only guess: this is the test set no training could have seen);
    - ``parents`` and ``reversal``: ``"A's mother is"`` (stated in the training text) and the same
      fact asked backwards, ``"B's son is"`` (never stated), by greedy exact match (Berglund et al.
      2023's reversal curse); ``reversal_mc``: the backward facts as multiple choice among 8 names
      that share the right surname;
    - ``sentiment_mc``: review sentiment by which star rating is likelier (" 5 out of 5" or
      " 1 out of 5");
    - ``arithmetic``: word problems, the final number of the greedy worked answer;
    - ``heldout_bpb``: bits per byte on fresh stories and reviews (lower is better).

    Items are fixed by ``seed``; ``n`` bounds the items per task (``facts_*`` have ``4 n``).
    """
    import random

    from .zoo import course_people

    n = check_int("n", n, 1)
    seed = check_int("seed", seed, 0)
    people = course_people(name)
    world = people["world"]
    rng = random.Random(seed)
    tasks: dict[str, Task] = {}
    relations = list(FACT_PROMPTS)
    for split, label in (("held_in", "in"), ("held_out", "out")):
        chosen = _sample(rng, people[split], n)
        items = []
        for p in chosen:
            for r in relations:
                qa = world.qa(p, r)
                items.append(Item(FACT_PROMPTS[r].format(name=p.name), fact_answer(world, p, r),
                                  tuple(fact_candidates(world, r)), qa.question, qa.answers))
        what = "people the model read about" if split == "held_in" else "people never written about"
        tasks[f"facts_{label}"] = Task(f"facts_{label}", "exact", items, 0.0, 6,
                                       f"facts of {len(chosen)} {what}, greedy exact match")
        tasks[f"facts_{label}_mc"] = Task(f"facts_{label}_mc", "choice", items,
                                          sum(1 / len(it.choices) for it in items) / len(items), 6,
                                          f"facts of {len(chosen)} {what}, multiple choice")
    # parents, forwards and backwards (the reversal curse)
    cast = people["held_in"]
    firsts = {g: sorted({p.first for p in world.train_people if p.gender == g}) for g in ("female", "male")}

    def names_like(true, gender):  # the true name and 7 with its surname: the surname gives nothing away
        first, last = true.split(" ", 1)
        others = [f for f in _sample(rng, firsts[gender], 12) if f != first][:7]
        return tuple(sorted([true, *(f"{f} {last}" for f in others)]))

    forward, backward = [], []
    for child in cast:
        for rel, parent in world._mentionable_parents(child):
            if parent in cast:  # the parent's own text would state the fact the other way
                continue
            forward.append(Item(f"{child.name}'s {rel} is", parent.name, names_like(parent.name, parent.gender)))
            word = "daughter" if child.gender == "female" else "son"
            backward.append(Item(f"{parent.name}'s {word} is", child.name, names_like(child.name, child.gender)))
    keep = _sample(rng, range(len(forward)), n)
    tasks["parents"] = Task("parents", "exact", [forward[i] for i in keep], 0.0, 6,
                            "'A's mother is ...' (stated in the training text), greedy exact match")
    tasks["reversal"] = Task("reversal", "exact", [backward[i] for i in keep], 0.0, 6,
                             "'B's son is ...' (the same facts, never stated this way), greedy exact match")
    tasks["reversal_mc"] = Task("reversal_mc", "choice", [backward[i] for i in keep], 1 / 8, 6,
                                "the reversed facts as multiple choice of 8 names with the right surname")
    # sentiment: which star rating follows the review?
    items = []
    for i in range(n):
        text, label = world.review(rng, "positive" if i % 2 == 0 else "negative")
        body = text[: text.rindex(" ", 0, text.rindex(" out of 5 stars."))]
        good, bad = " 5 out of 5 stars.", " 1 out of 5 stars."
        items.append(Item(body, good if label == "positive" else bad, (good, bad)))
    tasks["sentiment_mc"] = Task("sentiment_mc", "choice", items, 0.5, 6,
                                 "review sentiment: is '5 out of 5' or '1 out of 5' likelier?")
    # arithmetic word problems
    items = []
    for _ in range(n):
        problem, _worked, ans = world.arithmetic(rng)
        items.append(Item(f"Problem: {problem}\nSolution:", str(ans)))
    tasks["arithmetic"] = Task("arithmetic", "number", items, 0.0, 64,
                               "word problems, the number after 'The answer is'")
    tasks["heldout_bpb"] = Task("heldout_bpb", "bpb", _held_out_text(world, n, seed), 8.0, 0,
                                "bits per byte on fresh stories and reviews (lower is better)")
    return tasks


# --- models behind one interface ---------------------------------------------------------------


class GPTScorer:
    """A minillm GPT and its tokenizer, behind the interface the suite scores (chapter 9).

    ``chat=True`` marks an assistant: tasks with a chat ``question`` are asked in the chat
    template (:func:`chat_prompt`). Methods: :meth:`complete` (greedy), :meth:`logprobs`
    (``(N,)`` log-probabilities of continuations), :meth:`bits_per_byte`.
    """

    def __init__(self, model, tokenizer, chat: bool = False):
        _check_model(model, tokenizer)
        if not isinstance(chat, bool):
            raise InputTypeError(f"chat must be True or False, got {chat!r}")
        self.model, self.tokenizer, self.chat = model, tokenizer, chat

    def complete(self, prompts: list[str], max_new_tokens: int, stop: str | None = None) -> list[str]:
        """Greedy continuations of ``prompts`` (:func:`minillm.evaluate.greedy_complete`), cut at ``stop``."""
        return greedy_complete(self.model, self.tokenizer, prompts, max_new_tokens, stop=stop)

    def logprobs(self, prompt: str, continuations: list[str]) -> torch.Tensor:
        """:func:`continuation_logprobs`; a prompt too long for the context keeps its last tokens."""
        continuations = _check_texts("continuations", continuations)
        block = self.model.config.block_size
        longest = max((len(self.tokenizer.encode(c)) for c in continuations), default=0)
        ids = self.tokenizer.encode(prompt) if isinstance(prompt, str) else None
        if ids is not None and len(ids) + longest > block and longest < block:
            prompt = self.tokenizer.decode(ids[len(ids) + longest - block + 1:])
        return continuation_logprobs(self.model, self.tokenizer, prompt, continuations)

    @torch.no_grad()
    def bits_per_byte(self, texts: list[str]) -> float:
        """Total ``-log2 p`` of ``texts``' tokens over their UTF-8 bytes. Each text follows a blank
        line (the document separator) and is read in windows of the model's context, each window
        after the first re-reading the previous half as context."""
        texts = _check_texts("texts", texts)
        block = self.model.config.block_size
        device = next(self.model.parameters()).device
        bits, nbytes = 0.0, 0
        for text in texts:
            ids = self.tokenizer.encode("\n\n" + text)
            first = self.tokenizer.decode(ids[:1])
            nbytes += len(("\n\n" + text).encode()) - len(first.encode())
            done = 1  # tokens whose log-probability is counted (the first has no context)
            while done < len(ids):
                start = max(0, done - block // 2) if done > 1 else 0
                window = ids[start: start + block]
                x = torch.tensor([window], device=device)
                logp = torch.log_softmax(self.model(x)[0][0].float(), -1).cpu()
                end = start + len(window)
                pos = torch.arange(done - start - 1, len(window) - 1)
                bits -= float(logp[pos, torch.tensor(window[done - start:])].sum()) / math.log(2)
                done = end
        return bits / nbytes


class BigramScorer:
    """A character bigram (:class:`minillm.bigram.BigramModel`, chapter 0) behind the suite's
    interface (chapter 9): the baseline every model must beat. Greedy generation repeats the likeliest
    next character."""

    chat = False

    def __init__(self, bigram):
        if not hasattr(bigram, "probs") or not hasattr(bigram, "encode"):
            raise InputTypeError(f"bigram must be a minillm BigramModel, got {type(bigram).__name__}")
        self.bigram = bigram
        self.logp = bigram.probs.log()

    def complete(self, prompts: list[str], max_new_tokens: int, stop: str | None = None) -> list[str]:
        """Greedy continuations, one character per step after the prompt's last character."""
        prompts = _check_texts("prompts", prompts)
        out = []
        for p in prompts:
            ids = self.bigram.encode(p[-1:] or " ").tolist()
            for _ in range(max_new_tokens):
                ids.append(int(self.logp[ids[-1]].argmax()))
            text = self.bigram.decode(ids[1:])
            out.append(text[: text.index(stop)] if stop and stop in text else text)
        return out

    def logprobs(self, prompt: str, continuations: list[str]) -> torch.Tensor:
        """``(N,)`` log-probabilities of each continuation after the prompt's last character."""
        continuations = _check_texts("continuations", continuations)
        out = []
        for c in continuations:
            ids = self.bigram.encode(prompt[-1:] + c)
            out.append(self.logp[ids[:-1], ids[1:]].sum())
        return torch.stack(out)

    def bits_per_byte(self, texts: list[str]) -> float:
        """Bits per byte of ``texts``, each after a blank line (ASCII text: bits per character)."""
        texts = _check_texts("texts", texts)
        bits = sum(float(-self.logp[ids[:-1], ids[1:]].sum()) / math.log(2)
                   for ids in (self.bigram.encode("\n\n" + t) for t in texts))
        return bits / sum(len(("\n" + t).encode()) for t in texts)


def as_scorer(model, chat: bool | None = None):
    """Whatever names a model -> a scorer: a course model's name (``"tinyworld-chat"``), a model
    folder, a ``(model, tokenizer)`` pair (or :class:`minillm.zoo.Pretrained`), a BigramModel, or a
    scorer already. ``chat=None``: a course model or folder is a chat model when its
    ``recipe.json`` says ``"chat": true`` (the chat and aligned models), or, without that file,
    when its name ends with ``-chat``."""
    from pathlib import Path

    if chat is not None and not isinstance(chat, bool):
        raise InputTypeError(f"chat must be True, False or None (from the model folder), got {chat!r}")
    if isinstance(model, (GPTScorer, BigramScorer)):
        return model
    if hasattr(model, "probs") and hasattr(model, "bits_per_char"):
        return BigramScorer(model)
    if isinstance(model, (str, Path)):
        from . import zoo

        text = str(model)
        if isinstance(model, str) and text in zoo.MODELS:
            m, tok = zoo.pretrained(text, progress=False)
        elif Path(text).is_dir():
            m, tok = zoo.load_model_dir(text)
        else:
            raise ValueError(f"model {text!r} is neither a course model ({', '.join(sorted(zoo.MODELS))}) "
                             "nor a model folder; pass a name, a folder or (model, tokenizer)")
        if chat is None:
            folder = zoo.model_dir(text) if text in zoo.MODELS else Path(text)
            chat = is_chat_folder(folder)
        return GPTScorer(m, tok, chat=chat)
    if isinstance(model, tuple) and len(model) == 2:
        return GPTScorer(model[0], model[1], chat=bool(chat))
    raise InputTypeError(f"model must be a course model name, a folder, (model, tokenizer), a BigramModel or a "
                         f"scorer, got {type(model).__name__}")


def is_chat_folder(folder) -> bool:
    """Whether the model folder holds a chat model: its ``recipe.json``'s ``"chat"`` field (a damaged
    file or a non-bool field is a named ``ValueError``), else its name. Used by :func:`as_scorer` and
    ``minillm chat`` (chapter 9)."""
    from pathlib import Path

    from .zoo import INFO_FILE

    info = Path(folder) / INFO_FILE
    if info.is_file():
        try:
            chat = read_json(info, dict, "a model's recipe.json").get("chat", False)
        except ValueError as err:
            raise ValueError(f"{err}; delete the folder to rebuild the model") from None
        if not isinstance(chat, bool):
            raise ValueError(f"{info}: the field 'chat' must be true or false, got {chat!r}; fix it or delete "
                             "the folder to rebuild the model")
        return chat
    return Path(folder).name.split("-v")[0].endswith("-chat")


def _whole_word(text: str, word: str) -> bool:
    import re

    return re.search(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", text) is not None


def score_task(model, task: Task, per_item: bool = False):
    """Score one model on one :class:`Task`: accuracy in [0, 1], or bits per byte for ``bpb``.

    With ``per_item=True`` an accuracy task returns the list of 0/1 hits, one per item (for a
    bootstrap interval over items); a ``bpb`` task has no per-item hits and raises.
    """
    if not isinstance(task, Task):
        raise InputTypeError(f"task must be a Task (from task_suite()), got {type(task).__name__}")
    if not isinstance(per_item, bool):
        raise InputTypeError(f"per_item must be True or False, got {per_item!r}")
    if per_item and task.metric == "bpb":
        raise ValueError(f"task {task.name!r} measures bits per byte over all its text; it has no per-item hits")
    hits = _score(model, task)
    if task.metric == "bpb" or not per_item:
        return hits if task.metric == "bpb" else sum(hits) / len(hits)
    return [int(h) for h in hits]


def _score(model, task: Task):
    import re

    scorer = as_scorer(model)
    was_training = getattr(getattr(scorer, "model", None), "training", False)
    if hasattr(scorer, "model"):
        scorer.model.eval()
    try:
        if task.metric == "bpb":
            return scorer.bits_per_byte(task.items)
        if task.metric == "choice":
            hits = []
            for it in task.items:
                lp = scorer.logprobs(it.prompt, [" " + c if not c.startswith(" ") else c for c in it.choices])
                hits.append(it.choices[int(lp.argmax())] == it.answer)
            return hits
        items = task.items
        if scorer.chat and all(it.question for it in items):
            replies = scorer.complete([chat_prompt(it.question) for it in items], task.max_new_tokens + 18, stop=END)
            return [any(_whole_word(r, a) for a in it.accept) for r, it in zip(replies, items)]
        outs = scorer.complete([it.prompt for it in items], task.max_new_tokens)
        if task.metric == "exact":
            hits = [_starts_with_answer(o, it.answer) for o, it in zip(outs, items)]
        else:
            found = [re.search(r"The answer is (-?\d+)", o) for o in outs]
            hits = [f is not None and f.group(1) == it.answer for f, it in zip(found, items)]
        return hits
    finally:
        if hasattr(scorer, "model"):
            scorer.model.train(was_training)


@dataclass
class ReportCard:
    """Scores of several models on a suite: ``scores[model][task]`` (chapter 9).

    ``tasks`` keeps each :class:`Task` (its metric and chance level). :meth:`table` prints it,
    :meth:`plot` draws grouped bars (accuracies; bits per byte on its own axis).
    """

    scores: dict
    tasks: dict
    seconds: dict = field(default_factory=dict)

    def table(self) -> str:
        """The scores as a text table, one row per model, a last row with each task's chance."""
        names = list(self.tasks)
        width = max(12, *(len(m) for m in self.scores))
        head = f"{'model':<{width}} " + " ".join(f"{t:>12}" for t in names)
        lines = [head, "-" * len(head)]
        for m, row in self.scores.items():
            lines.append(f"{m:<{width}} " + " ".join(f"{row[t]:>12.2f}" for t in names))
        lines.append(f"{'(chance)':<{width}} " + " ".join(f"{self.tasks[t].chance:>12.2f}" for t in names))
        return "\n".join(lines)

    def plot(self):
        """Grouped bars, one group per task, one bar per model; dashes mark chance."""
        return report_card_plot(self)

    def __repr__(self) -> str:
        return self.table()


def report_card(models: dict, tasks: dict | None = None) -> ReportCard:
    """Evaluate each of ``models`` (``{label: model}``, anything :func:`as_scorer` takes) on
    ``tasks`` (default :func:`task_suite`) and return a :class:`ReportCard`: one call, one table."""
    import time

    if not isinstance(models, dict) or not models:
        raise InputTypeError("models must be a non-empty dict {label: model}, e.g. {'base': 'tinyworld'}")
    tasks = task_suite() if tasks is None else tasks
    if not isinstance(tasks, dict) or not tasks or not all(isinstance(t, Task) for t in tasks.values()):
        raise InputTypeError("tasks must be a non-empty dict {name: Task}, e.g. task_suite()")
    scores, seconds = {}, {}
    for label, m in models.items():
        t0 = time.perf_counter()
        scorer = as_scorer(m)
        scores[label] = {name: score_task(scorer, t) for name, t in tasks.items()}
        seconds[label] = time.perf_counter() - t0
    return ReportCard(scores, dict(tasks), seconds)


# --- pairwise comparison -----------------------------------------------------------------------


def answer_questions(model, questions: list[str], max_new_tokens: int = 24) -> list[str]:
    """Greedy replies of ``model`` to chat ``questions``: an assistant is asked in the chat
    template, any other model gets ``"Question: Q\\nAnswer:"`` (the form of TinyWorld's
    question-answer pages) and its reply is cut at the newline."""
    questions = _check_texts("questions", questions)
    scorer = as_scorer(model)
    if scorer.chat:
        return [r.strip() for r in scorer.complete([chat_prompt(q) for q in questions], max_new_tokens, stop=END)]
    return [r.strip() for r in scorer.complete([f"Question: {q}\nAnswer:" for q in questions], max_new_tokens,
                                               stop="\n")]


def score_judge(score_fn, temperature: float = 0.0, first_bias: float = 0.0, seed: int = 0):
    """A judge ``judge(first, second) -> 1 | 0 | 0.5`` from a scoring function (chapter 9).

    ``score_fn(answer)`` is the judge's taste (the chapter-7 labeller's hidden score, or a reward
    model's reward). The judge prefers the higher score, noisily with Bradley-Terry
    ``temperature`` (0: always, equal scores tie); with probability ``first_bias`` it instead
    says "the first one" without looking: the position bias of LLM judges (Zheng et al. 2023).
    Answers are ``(prompt, text)`` pairs; ``score_fn`` is called as ``score_fn(prompt, text)``.
    """
    import random

    if not callable(score_fn):
        raise InputTypeError(f"score_fn must be a function (prompt, answer) -> number, got {score_fn!r}")
    temperature = check_float("temperature", temperature, 0)
    first_bias = check_float("first_bias", first_bias, 0, 1)
    rng = random.Random(check_int("seed", seed, 0))

    def judge(first, second) -> float:
        if rng.random() < first_bias:
            return 1.0
        d = float(score_fn(*first)) - float(score_fn(*second))
        if temperature == 0:
            return 0.5 if d == 0 else float(d > 0)
        return float(rng.random() < 1 / (1 + math.exp(-max(min(d / temperature, 700), -700))))

    return judge


def reward_model_judge(reward_model, first_bias: float = 0.0, seed: int = 0):
    """:func:`score_judge` with a trained :class:`minillm.rlhf.RewardModel` as the taste."""
    if not hasattr(reward_model, "rewards"):
        raise InputTypeError(f"reward_model must be a minillm.rlhf.RewardModel, got {type(reward_model).__name__}")

    def score(prompt, answer):
        with torch.no_grad():
            return float(reward_model.rewards([prompt], [answer])[0])

    return score_judge(score, 0.0, first_bias, seed)


def play_matches(answers: dict, prompts: list[str], judge, rounds: int = 1, both_ways: bool = False,
                 seed: int = 0) -> list[tuple]:
    """A round robin: every pair of players meets on every prompt; returns ``(a, b, outcome)`` votes.

    ``answers[player][i]`` is that player's answer to ``prompts[i]``; the judge sees
    ``(prompt, answer)`` pairs. Who is shown first is drawn at random per match (or both orders are
    asked and averaged with ``both_ways=True``: :func:`minillm.ratings.judge_both_ways`, the
    position-bias correction). The vote order is shuffled, as votes arrive in an arena.
    """
    import itertools
    import random

    from .ratings import _verdict, judge_both_ways

    if not isinstance(answers, dict) or len(answers) < 2:
        raise ValueError("answers must be a dict {player: [answer per prompt]} with at least two players")
    prompts = _check_texts("prompts", prompts)
    if not prompts:
        raise ValueError("prompts is empty; pass the questions the players answered")
    if not isinstance(both_ways, bool):
        raise InputTypeError(f"both_ways must be True or False, got {both_ways!r}")
    for p, a in answers.items():
        if isinstance(a, (str, bytes)) or not isinstance(a, (list, tuple)):
            raise InputTypeError(f"answers[{p!r}] must be a list of answers, one per prompt, got {a!r:.40}")
        if len(a) != len(prompts):
            raise ValueError(f"answers[{p!r}] has {len(a)} answers for {len(prompts)} prompts; give one per prompt")
    rounds = check_int("rounds", rounds, 1)
    rng = random.Random(check_int("seed", seed, 0))
    votes = []
    for _ in range(rounds):
        for a, b in itertools.combinations(list(answers), 2):
            for i, q in enumerate(prompts):
                x, y = (q, answers[a][i]), (q, answers[b][i])
                if both_ways:
                    votes.append((a, b, judge_both_ways(judge, x, y)))
                elif rng.random() < 0.5:
                    votes.append((a, b, _verdict(judge, x, y)))
                else:
                    votes.append((a, b, 1 - _verdict(judge, y, x)))
    rng.shuffle(votes)
    if all(v[2] == 0.5 for v in votes):
        raise ValueError("the judge returned only ties (0.5): the votes say nothing about who is better; "
                         "use a judge that can tell the answers apart")
    return votes


def leaderboard(votes, n_boot: int = 200, k: float = 16, seed: int = 0) -> list[dict]:
    """Elo (online, factor ``k``) and Bradley-Terry (in Elo points, mean 1000) ratings of the
    players in ``votes``, with 95% bootstrap intervals of the Bradley-Terry rating; rows sorted
    best first: ``{"player", "elo", "bt", "low", "high", "games"}``."""
    from .ratings import _check_matches, bootstrap_ci, bradley_terry_fit, elo_ratings

    votes = _check_matches(votes)
    if all(v[2] == 0.5 for v in votes):
        raise ValueError("every vote is a tie: no rating can be fitted; check the judge")
    players = list(dict.fromkeys(p for a, b, _ in votes for p in (a, b)))
    scale = 400 / math.log(10)

    def bt(vs):
        fit = bradley_terry_fit(vs)
        mean = sum(fit.values()) / len(fit)
        return {p: 1000 + scale * (v - mean) for p, v in fit.items()}

    elo = elo_ratings(votes, k=k)
    point = bt(votes)
    ci = bootstrap_ci(votes, bt, n=n_boot, seed=seed)
    games = {p: sum(p in (a, b) for a, b, _ in votes) for p in players}
    rows = [{"player": p, "elo": elo[p], "bt": point[p], "low": ci[p][0], "high": ci[p][1], "games": games[p]}
            for p in players]
    return sorted(rows, key=lambda r: -r["bt"])


# --- contamination -----------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    import re

    return re.findall(r"[a-z0-9]+", text.lower())


def ngrams(text: str, n: int = 8) -> set[tuple]:
    """The set of word ``n``-grams of ``text`` (lower-cased words and numbers, punctuation dropped;
    chapter 9's contamination check)."""
    if not isinstance(text, str):
        raise InputTypeError(f"text must be a str, got {type(text).__name__}")
    n = check_int("n", n, 1)
    w = _words(text)
    return {tuple(w[i: i + n]) for i in range(len(w) - n + 1)}


def ngram_overlap(items: list[str], corpus_text: str, n: int = 8) -> list[float]:
    """For each test item, the fraction of its word ``n``-grams that occur in ``corpus_text``.

    An item shorter than ``n`` words has no n-grams and gets 0. GPT-3's contamination study
    (Brown et al. 2020) flagged a test item when any 13-gram of it occurred in training; TinyWorld's
    test sentences are six to ten words long, so chapter 9 uses 6-grams.
    """
    items = _check_texts("items", items)
    if not isinstance(corpus_text, str):
        raise InputTypeError(f"corpus_text must be a str (the training text), got {type(corpus_text).__name__}")
    n = check_int("n", n, 1)
    seen = ngrams(corpus_text, n)
    out = []
    for t in items:
        g = ngrams(t, n)
        out.append(sum(x in seen for x in g) / len(g) if g else 0.0)
    return out


def contaminate(model, tokenizer, texts: list[str], steps: int = 40, lr: float = 1e-3, batch_size: int = 16,
                seed: int = 0, replay: list[str] | None = None):
    """A copy of ``model`` fine-tuned for ``steps`` on ``texts``: leaked test items (chapter 9).

    Full fine-tuning with AdamW on the texts (each after the blank-line separator), so the copy
    has read the test set's answers. ``replay`` (optional): ordinary training documents mixed
    into every batch, half and half, as when a leak hides in a larger corpus; without them a
    small model forgets some of what it knew. The original is not changed.
    """
    import copy
    import random

    _check_model(model, tokenizer)
    texts = _check_texts("texts", texts)
    if not texts:
        raise ValueError("texts is empty; pass the leaked test items as text")
    steps = check_int("steps", steps, 1)
    lr = check_float("lr", lr, 0, exclusive_minimum=True)
    batch_size = check_int("batch_size", batch_size, 1)
    rng = random.Random(check_int("seed", seed, 0))
    leaked = copy.deepcopy(model)
    leaked.train()
    device = next(leaked.parameters()).device
    opt = torch.optim.AdamW(leaked.parameters(), lr=lr, weight_decay=0.0)
    if replay is not None:
        replay = _check_texts("replay", replay)
        if not replay:
            raise ValueError("replay is empty; pass training documents, or None for no replay")
    rows = [tokenizer.encode("\n\n" + t)[: leaked.config.block_size + 1] for t in texts]
    extra = [tokenizer.encode("\n\n" + t)[: leaked.config.block_size + 1] for t in replay or []]
    for _ in range(steps):
        if extra:
            half = max(1, batch_size // 2)
            batch = rng.sample(rows, min(half, len(rows))) + rng.sample(extra, min(batch_size - half, len(extra)))
        else:
            batch = rng.sample(rows, min(batch_size, len(rows)))
        t = max(map(len, batch))
        x = torch.zeros(len(batch), t - 1, dtype=torch.long)
        y = torch.full((len(batch), t - 1), -1, dtype=torch.long)
        for i, r in enumerate(batch):
            x[i, : len(r) - 1] = torch.tensor(r[:-1])
            y[i, : len(r) - 1] = torch.tensor(r[1:])
        logits = leaked(x.to(device))[0]
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), y.to(device).flatten(), ignore_index=-1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    leaked.eval()
    return leaked


# --- plots (matplotlib imported inside) ------------------------------------------------------

def report_card_plot(card):
    """A :class:`ReportCard` as grouped bars: accuracy tasks on the left axis
    (a dash marks chance), bits per byte in its own panel on the right (lower is better)."""
    import matplotlib.pyplot as plt
    import numpy as np

    acc = [t for t, task in card.tasks.items() if task.metric != "bpb"]
    bpb = [t for t, task in card.tasks.items() if task.metric == "bpb"]
    models = list(card.scores)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [5, 1]})
    ax = axes[0]
    x = np.arange(len(acc))
    w = 0.8 / len(models)
    for i, m in enumerate(models):
        ax.bar(x + (i - (len(models) - 1) / 2) * w, [card.scores[m][t] for t in acc], w, label=m)
    for j, t in enumerate(acc):
        ax.hlines(card.tasks[t].chance, j - 0.42, j + 0.42, colors="black", linestyles="--", linewidth=1)
    ax.set_xticks(x, acc, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title("Report card (dashes: chance)")
    ax.set_xlabel("task")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, loc="upper right")
    ax2 = axes[1]
    for i, m in enumerate(models):
        ax2.bar(i, card.scores[m][bpb[0]] if bpb else 0, color=f"C{i}")
    ax2.set_xticks(range(len(models)), models, rotation=60, ha="right", fontsize=7)
    ax2.set_title(bpb[0] if bpb else "")
    ax2.set_ylabel("bits per byte (lower is better)")
    fig.tight_layout()
    return fig


def leaderboard_plot(rows, title: str = "Leaderboard from pairwise votes"):
    """Bradley-Terry ratings with 95% bootstrap intervals (bars) and online Elo (crosses), one
    row per player, best at the top (rows from :func:`leaderboard`)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=FIGSIZE)
    ax.set_title(title)
    ax.set_xlabel("rating (Elo points)")
    rows = list(rows)[::-1]
    y = range(len(rows))
    ax.errorbar([r["bt"] for r in rows], y,
                xerr=[[r["bt"] - r["low"] for r in rows], [r["high"] - r["bt"] for r in rows]],
                fmt="o", capsize=4, label="Bradley-Terry, 95% bootstrap interval")
    ax.plot([r["elo"] for r in rows], y, "x", color="C3", label="online Elo")
    ax.set_yticks(list(y), [r["player"] for r in rows])
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
