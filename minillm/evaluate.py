"""Does the model know its world? Fact completion and question answering on TinyWorld (chapter 6).

TinyWorld's facts are all known (appendix A), so what a model knows can be measured instead of
assumed. Two kinds of test, each on **held-in** people (written about in the pretraining text)
and **held-out** people (never written about, so the model can only guess):

- :func:`fact_completion` gives a base model the start of a sentence from a biography,
  ``"Mara Tolley was born in the town of"``, and scores its greedy continuation (exact match
  of the first words with the true fact) and, separately, whether the true fact is the most
  likely of all the candidates (every town, every job, ...) by log-probability. Chance is one
  over the number of candidates.
- :func:`qa_accuracy` asks an assistant model a question in the chat template
  (``<|user|> question<|end|><|assistant|>``) and checks its reply, up to ``<|end|>``, against
  the true answer sentence (exact match) and whether the reply contains the fact.

Decoding is greedy and batched in :func:`greedy_complete`, the one place that generates, so a
faster engine (a KV cache, chapter 5) can replace it without touching the scores.
The evaluation chapter (chapter 11) grows this module.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import torch

from .tokenizer import ASSISTANT, END, USER
from .utils import InputTypeError, check_int

#: The start of a biography sentence for each fact, ``{name}`` is the full name. Each is a
#: phrase the biographies use (with the first name or the full name), see ``World.biography``.
FACT_PROMPTS = {
    "birth_city": "{name} was born in the town of",
    "job": "{name} works as",
    "color": "{name} loves the colour",
    "food": "{name} likes to eat",
}


def fact_answer(world, person, relation: str) -> str:
    """The words that should follow ``FACT_PROMPTS[relation]`` for ``person`` (no leading space)."""
    from .world import _a

    if not isinstance(relation, str) or relation not in FACT_PROMPTS:
        raise ValueError(f"relation {relation!r} has no fact prompt; choose one of {sorted(FACT_PROMPTS)}")
    if not all(hasattr(person, a) for a in ("name", "job", "color", "food")):
        raise InputTypeError(f"person must be a Person (e.g. world.people[0]), got {person!r:.40}")
    if relation == "birth_city":
        if not hasattr(world, "town"):
            raise InputTypeError(f"world must be a minillm.world.World, got {type(world).__name__}")
        return world.town(person).name
    if relation == "job":
        return _a(person.job)
    if relation == "color":
        return person.color
    if relation == "food":
        return person.food
    raise ValueError(f"relation {relation!r} has no fact prompt; choose one of {sorted(FACT_PROMPTS)}")


def fact_candidates(world, relation: str) -> list[str]:
    """Every possible answer to ``relation`` in ``world`` (the multiple-choice candidates)."""
    from .world import COLORS, FOODS, JOBS, _a

    if relation == "birth_city":
        return [t.name for t in world.towns]
    if relation == "job":
        return [_a(j) for j in JOBS]
    if relation == "color":
        return list(COLORS)
    if relation == "food":
        return list(FOODS)
    raise ValueError(f"relation {relation!r} has no fact prompt; choose one of {sorted(FACT_PROMPTS)}")


def _check_model(model, tokenizer) -> None:
    if not hasattr(model, "config") or not hasattr(model, "generate"):
        raise InputTypeError(f"model must be a minillm GPT, got {type(model).__name__}")
    if not hasattr(tokenizer, "encode") or not hasattr(tokenizer, "decode"):
        raise InputTypeError(f"tokenizer must have encode/decode, got {type(tokenizer).__name__}")


def _check_texts(name: str, texts) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise InputTypeError(f"{name} must be a list of strings; wrap a single one in a list, got "
                             f"{type(texts).__name__} {texts!r:.40}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InputTypeError(f"{name}[{i}] must be a str, got {t!r:.40} of type {type(t).__name__}")
    return list(texts)


@torch.no_grad()
def greedy_complete(model, tokenizer, prompts: list[str], max_new_tokens: int = 8,
                    stop: str | None = None, batch_size: int = 64) -> list[str]:
    """Greedy continuations of ``prompts`` (the generated text only, cut at ``stop`` if given).

    Prompts of the same length in tokens are decoded together with :meth:`GPT.generate`
    (``temperature=0``), so no padding is needed and the result is exactly what one prompt at
    a time gives. This is the one function that generates for the evaluation.
    """
    _check_model(model, tokenizer)
    if isinstance(prompts, str):
        raise InputTypeError("prompts must be a list of strings; wrap a single prompt in a list")
    prompts = _check_texts("prompts", prompts)
    if not isinstance(max_new_tokens, bool) and isinstance(max_new_tokens, int) and max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    if stop is not None and (not isinstance(stop, str) or not stop):
        raise InputTypeError(f"stop must be a non-empty str or None, got {stop!r}")
    block = model.config.block_size
    device = next(model.parameters()).device
    encoded = [tokenizer.encode(p) for p in prompts]
    by_len: dict[int, list[int]] = defaultdict(list)
    for i, ids in enumerate(encoded):
        if not ids:
            raise ValueError(f"prompt {i} is empty; every prompt needs at least one token")
        if len(ids) > block:
            raise ValueError(f"prompt {i} has {len(ids)} tokens, more than the model's context "
                             f"(block_size={block}); shorten it")
        by_len[len(ids)].append(i)
    out: list[str] = [""] * len(prompts)
    stop_id = None
    if stop is not None:
        stop_ids = tokenizer.encode(stop)
        stop_id = stop_ids[0] if len(stop_ids) == 1 else None
    for n, idxs in by_len.items():
        for k in range(0, len(idxs), batch_size):
            chunk = idxs[k: k + batch_size]
            x = torch.tensor([encoded[i] for i in chunk], dtype=torch.long, device=device)
            y = model.generate(x, max_new_tokens, temperature=0)[:, n:].tolist()
            for i, row in zip(chunk, y):
                if stop_id is not None and stop_id in row:
                    row = row[: row.index(stop_id)]
                text = tokenizer.decode(row)
                if stop is not None and stop in text:
                    text = text[: text.index(stop)]
                out[i] = text
    return out


@torch.no_grad()
def continuation_logprobs(model, tokenizer, prompt: str, continuations: list[str],
                          batch_size: int = 128) -> torch.Tensor:
    """``log p(continuation | prompt)`` summed over its tokens, for each continuation: ``(N,)``.

    Sequences are right-padded; under the causal mask a real token never sees the padding after
    it, so no attention mask is needed.
    """
    _check_model(model, tokenizer)
    if not isinstance(prompt, str):
        raise InputTypeError(f"prompt must be a str, got {prompt!r:.40} of type {type(prompt).__name__}")
    continuations = _check_texts("continuations", continuations)
    if not continuations:
        raise ValueError("continuations is empty; pass at least one text to score after the prompt")
    batch_size = check_int("batch_size", batch_size, 1)
    device = next(model.parameters()).device
    p = tokenizer.encode(prompt)
    if not p:
        raise ValueError("prompt is empty; the first continuation token needs a token before it")
    seqs = [p + tokenizer.encode(c) for c in continuations]
    block = model.config.block_size
    for i, s in enumerate(seqs):
        if len(s) > block:
            raise ValueError(f"the prompt plus continuations[{i}] take {len(s)} tokens, more than the "
                             f"model's context (block_size={block}); shorten them")
    scores = []
    for k in range(0, len(seqs), batch_size):
        chunk = seqs[k: k + batch_size]
        t = max(map(len, chunk))
        x = torch.zeros(len(chunk), t, dtype=torch.long)
        for i, s in enumerate(chunk):
            x[i, : len(s)] = torch.tensor(s)
        logp = torch.log_softmax(model(x.to(device))[0].float(), dim=-1).cpu()
        for i, s in enumerate(chunk):
            pos = torch.arange(len(p) - 1, len(s) - 1)
            scores.append(logp[i, pos, torch.tensor(s[len(p):])].sum())
    return torch.stack(scores)


def _starts_with_answer(text: str, answer: str) -> bool:
    text = text.strip()
    return text.startswith(answer) and (len(text) == len(answer) or not text[len(answer)].isalnum())


@dataclass
class FactScores:
    """Scores of one group of people: exact match and multiple-choice accuracy, per relation.

    ``exact[r]`` and ``choice[r]`` are accuracies in [0, 1]; ``chance[r]`` is one over the
    number of candidates; ``exact_all``/``choice_all`` average over relations.
    """

    n_people: int
    exact: dict = field(default_factory=dict)
    choice: dict = field(default_factory=dict)
    chance: dict = field(default_factory=dict)
    examples: list = field(default_factory=list)

    @property
    def exact_all(self) -> float:
        return sum(self.exact.values()) / len(self.exact)

    @property
    def choice_all(self) -> float:
        return sum(self.choice.values()) / len(self.choice) if self.choice else math.nan

    @property
    def chance_all(self) -> float:
        return sum(self.chance.values()) / len(self.chance)



def _check_people(people, name: str = "people", *, empty_ok: bool = True) -> list:
    """``people`` as a list of world people (``Person``: an ``id`` and a ``name``), or a clear error
    naming ``name``; an empty list is refused unless ``empty_ok`` (also used by :mod:`minillm.hallucination`)."""
    if isinstance(people, (str, bytes)) or not hasattr(people, "__iter__"):
        raise InputTypeError(f"{name} must be a list of World people (Person objects, e.g. world.held_out[:50]), "
                             f"got {type(people).__name__} {people!r:.40}")
    people = list(people)
    if not people and not empty_ok:
        raise ValueError(f"{name} is empty; pass a list of World people, e.g. world.held_out[:50]")
    for i, p in enumerate(people):
        if not (hasattr(p, "id") and hasattr(p, "name")):
            raise InputTypeError(f"{name}[{i}] must be a Person (e.g. world.people[0]), got {p!r:.40}")
    return people


def fact_completion(model, tokenizer, world, people, relations=None, *, choice: bool = True,
                    max_new_tokens: int = 6) -> FactScores:
    """Score a base model's knowledge of ``people``'s facts (see the module docstring).

    ``relations`` defaults to every key of :data:`FACT_PROMPTS`. With ``choice=False`` only the
    greedy exact match is computed (faster). Returns :class:`FactScores`.
    """
    _check_model(model, tokenizer)
    if isinstance(relations, str):
        raise InputTypeError(f"relations must be a list of relations, got the str {relations!r}; "
                             f"write [{relations!r}]")
    relations = list(FACT_PROMPTS) if relations is None else list(relations)
    for r in relations:
        if r not in FACT_PROMPTS:
            raise ValueError(f"relation {r!r} has no fact prompt; choose from {sorted(FACT_PROMPTS)}")
    if not isinstance(choice, bool):
        raise InputTypeError(f"choice must be True or False, got {choice!r}")
    people = _check_people(people, empty_ok=False)
    was_training = model.training
    model.eval()
    scores = FactScores(len(people))
    try:
        for r in relations:
            prompts = [FACT_PROMPTS[r].format(name=p.name) for p in people]
            answers = [fact_answer(world, p, r) for p in people]
            outs = greedy_complete(model, tokenizer, prompts, max_new_tokens)
            hits = [_starts_with_answer(o, a) for o, a in zip(outs, answers)]
            scores.exact[r] = sum(hits) / len(hits)
            cands = fact_candidates(world, r)
            scores.chance[r] = 1 / len(cands)
            scores.examples += [(pr, o, a) for pr, o, a in list(zip(prompts, outs, answers))[:2]]
            if choice:
                right = 0
                for pr, a in zip(prompts, answers):
                    lp = continuation_logprobs(model, tokenizer, pr, [" " + c for c in cands])
                    right += int(cands[int(lp.argmax())] == a)
                scores.choice[r] = right / len(people)
    finally:
        model.train(was_training)
    return scores


def chat_prompt(question: str) -> str:
    """The chat template up to where the assistant starts: ``<|user|> Q<|end|><|assistant|>``.

    The space after ``<|user|>`` is :data:`minillm.finetune.CHAT_SPACE`; replies start with it.
    """
    if not isinstance(question, str):
        raise InputTypeError(f"question must be a str, got {question!r:.40} of type {type(question).__name__}")
    return f"{USER} {question}{END}{ASSISTANT}"


@dataclass
class QAScores:
    """Question answering: ``exact`` (reply == the answer sentence) and ``contains`` (the reply
    holds one of the acceptable short answers), overall and per relation, plus examples."""

    n: int
    exact: float
    contains: float
    by_relation: dict = field(default_factory=dict)
    examples: list = field(default_factory=list)


def qa_accuracy(model, tokenizer, qas, *, max_new_tokens: int = 24) -> QAScores:
    """Ask each :class:`minillm.world.QA` in the chat template; score the greedy replies."""
    _check_model(model, tokenizer)
    if isinstance(qas, str):
        raise InputTypeError("qas must be a list of World.qa(...) questions, got a str")
    qas = list(qas)
    if not qas:
        raise ValueError("qas is empty; pass World.qa(...) questions")
    for i, q in enumerate(qas):
        if not all(hasattr(q, a) for a in ("question", "answer", "answers", "relation")):
            raise InputTypeError(f"qas[{i}] must be a QA from World.qa(person, relation), got {q!r:.40} of "
                                 f"type {type(q).__name__}")
    was_training = model.training
    model.eval()
    try:
        replies = greedy_complete(model, tokenizer, [chat_prompt(q.question) for q in qas],
                                  max_new_tokens, stop=END)
    finally:
        model.train(was_training)
    exact = [r.strip() == q.answer for r, q in zip(replies, qas)]
    contains = [any(a in r for a in q.answers) for r, q in zip(replies, qas)]
    by_rel: dict[str, list[bool]] = defaultdict(list)
    for e, q in zip(exact, qas):
        by_rel[q.relation].append(e)
    return QAScores(len(qas), sum(exact) / len(qas), sum(contains) / len(qas),
                    {k: sum(v) / len(v) for k, v in by_rel.items()},
                    [(q.question, r, q.answer) for q, r in list(zip(qas, replies))[:5]])
