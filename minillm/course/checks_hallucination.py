"""Checks for chapter 8's exercises (hallucination, calibration, retrieval): each runs the
learner's function on inputs it picks, compares it with minillm's own version (which the learner
may not call: :func:`minillm.course.checks.own_work` traps it), and says in words what is wrong.
"""

from __future__ import annotations

import math
import random

import torch

from . import checks as _c


def _number(x, what: str) -> float:
    if isinstance(x, torch.Tensor):
        _c.check(x.numel() == 1, f"your {what} should be one number, got a tensor of shape {tuple(x.shape)}")
        x = x.item()
    _c.check(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x),
             f"your {what} should be a finite number, got {x!r}")
    return float(x)


# --- 8.1 expected calibration error --------------------------------------------------------------


def check_ece(fn) -> None:
    """``fn(confidences, correct, n_bins) -> float``: Guo et al.'s ECE with equal-width bins."""
    from ..calibration import expected_calibration_error, reliability_diagram_data

    mine = _c.own_work(fn, expected_calibration_error, reliability_diagram_data, what="your ece")
    g = torch.Generator().manual_seed(8)
    cases = []
    conf = torch.rand(500, generator=g, dtype=torch.float64)
    # under-confident below 0.5, over-confident above: the bins' gaps have both signs, so the
    # ECE depends on the binning (with gaps of one sign it equals the global gap for any bins)
    corr = (torch.rand(500, generator=g, dtype=torch.float64) < 0.35 + 0.3 * (conf > 0.5)).long()
    cases.append((conf, corr, 10))
    cases.append((conf, corr, 4))
    edge = torch.tensor([0.0, 0.25, 0.5, 0.5, 0.75, 1.0, 0.3, 0.6], dtype=torch.float64)  # on bin edges
    cases.append((edge, torch.tensor([0, 1, 0, 1, 1, 0, 1, 1]), 4))
    cases.append((torch.full((10,), 0.9), torch.tensor([1] * 5 + [0] * 5), 15))  # 0.4 by hand
    for conf, corr, n_bins in cases:
        got = _number(mine(conf.clone(), corr.clone(), n_bins), "ECE")
        want = expected_calibration_error(conf, corr, n_bins)
        _c.check(got >= 0, f"your ECE is {got:.4f}, negative: take the absolute gap |acc - conf| in each bin")
        _c.check(abs(got - want) < 1e-6,
                 f"your ECE is {got:.4f} with n_bins={n_bins} but it should be {want:.4f}: weight each bin's "
                 "|accuracy - mean confidence| by its share of ALL predictions, use equal-width bins "
                 "((m-1)/M, m/M] (a confidence on an edge goes to the lower bin), and skip empty bins")


# --- 8.2 BM25 ------------------------------------------------------------------------------------


def _bm25_corpus(seed: int):
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(40)]
    docs = [[rng.choice(vocab) for _ in range(rng.randint(2, 25))] for _ in range(30)]
    return docs, vocab, rng


def check_bm25(fn) -> None:
    """``fn(query_words, docs_words, k1, b) -> list of N scores``: Okapi BM25 (no idf floor needed:
    every word of these corpora is in fewer than half of the documents)."""
    from ..rag import BM25

    mine = _c.own_work(fn, BM25.scores, BM25.index, BM25.search, what="your bm25_scores")
    for seed, (k1, b) in enumerate([(1.5, 0.75), (1.2, 0.0), (2.0, 1.0), (0.5, 0.5)]):
        docs, vocab, rng = _bm25_corpus(seed)
        ref = BM25(k1=k1, b=b, epsilon=0.0, tokenizer=str.split).index([" ".join(d) for d in docs])
        for _ in range(4):
            query = [rng.choice(vocab) for _ in range(rng.randint(1, 4))] + ["unseenword"]
            got = mine(list(query), [list(d) for d in docs], k1, b)
            try:
                got = torch.as_tensor([float(x) for x in got], dtype=torch.float64)
            except (TypeError, ValueError):
                raise AssertionError("your bm25_scores should return a list of numbers, one per document") from None
            _c.check(got.shape == (len(docs),), f"your bm25_scores returned {got.numel()} scores for "
                                                f"{len(docs)} documents; return one per document")
            want = ref.scores(" ".join(query))
            # words of the query present in > half the docs would need the floor; these corpora have none
            off = (got - want).abs()
            if off.max() > 1e-6:
                i = int(off.argmax())
                raise AssertionError(
                    f"your BM25 score of document {i} for query {query} with k1={k1}, b={b} is "
                    f"{got[i].item():.4f}, it should be {want[i].item():.4f}: idf = log((N - n + 0.5) / (n + 0.5)), "
                    "term part f*(k1+1) / (f + k1*(1 - b + b*|d|/avgdl)), a repeated query word counts each time")


# --- 8.3 recall@k --------------------------------------------------------------------------------


def check_recall(fn) -> None:
    """``fn(retrieved_ids, relevant_ids, k) -> float``: the share of relevant ids in the top k."""
    from ..rag import recall_at_k

    mine = _c.own_work(fn, recall_at_k, what="your recall")
    cases = [
        (["a", "b", "c", "d"], ["c"], 2),
        (["a", "b", "c", "d"], ["c"], 3),
        (["a", "b", "c", "d"], ["a", "d", "z"], 4),
        (["a", "b", "c", "d"], ["b", "a"], 1),
        ([3, 1, 4, 1, 5], [1, 5], 5),
        ([(0, 1), (2, 3)], [(2, 3)], 1),
    ]
    for retrieved, relevant, k in cases:
        got = _number(mine(list(retrieved), list(relevant), k), "recall")
        want = recall_at_k(retrieved, relevant, k)
        _c.check(abs(got - want) < 1e-9,
                 f"your recall of {relevant} in the top {k} of {retrieved} is {got:.3f}, it should be {want:.3f}: "
                 "count the relevant ids found among the FIRST k retrieved, divided by the number of relevant ids")


# --- 8.4 prompt assembly -------------------------------------------------------------------------


def check_assembly(fn) -> None:
    """``fn(question, passages, count, max_tokens) -> str``: the prompt
    ``"Context: {passages joined by ' '} Question: {question}"`` with as many passages as fit,
    the first that does not fit cut at a word boundary, the question never cut."""
    from ..rag import assemble_prompt

    mine = _c.own_work(fn, assemble_prompt, what="your fit_prompt")
    template = "Context: {context} Question: {question}"

    def count(s):
        return len(s.split())

    passages = ["one two three four five", "six seven eight nine ten eleven", "twelve thirteen"]
    q = "where is it now"
    for budget in (9, 11, 14, 15, 17, 30):
        got = mine(q, list(passages), count, budget)
        want = assemble_prompt(q, passages, str.split, budget, template=template, separator=" ")
        _c.check(isinstance(got, str), f"your fit_prompt should return a str, got {type(got).__name__}")
        _c.check(got.endswith("Question: " + q), f"with max_tokens={budget} your prompt {got!r} does not end with "
                                                  "the whole question: never cut the question")
        _c.check(count(got) <= budget, f"with max_tokens={budget} your prompt has {count(got)} tokens: too long")
        _c.check(got == want, f"with max_tokens={budget} your prompt is {got!r}, it should be {want!r}: keep "
                              "whole passages in order while they fit, then the longest word prefix of the next "
                              "one that fits, then stop")
    try:
        mine(q, list(passages), count, 4)
    except ValueError:
        pass
    else:
        raise AssertionError("with max_tokens=4 the question alone does not fit: raise a ValueError instead of "
                             "cutting the question")


# --- 8.5 the abstention threshold ----------------------------------------------------------------


def check_threshold(fn) -> None:
    """``fn(confidences, correct, target) -> float``: the lowest threshold whose selective accuracy
    (accuracy on the questions with confidence >= threshold) is at least ``target``."""
    from ..calibration import abstention_curve, threshold_for_precision

    mine = _c.own_work(fn, threshold_for_precision, abstention_curve, what="your lowest_threshold")
    g = torch.Generator().manual_seed(5)
    conf = torch.rand(300, generator=g)
    corr = (torch.rand(300, generator=g) < conf).long()
    cases = [(conf, corr, 0.9), (conf, corr, 0.75), (conf, corr, 0.6),
             (torch.tensor([0.9, 0.8, 0.8, 0.7, 0.6]), torch.tensor([1, 1, 0, 1, 0]), 0.75),
             (torch.tensor([0.9, 0.8, 0.7, 0.6]), torch.tensor([0, 1, 1, 1]), 0.7)]
    for c, k, target in cases:
        got = _number(mine(c.clone(), k.clone(), target), "threshold")
        want = threshold_for_precision(c, k, target)
        answered = c >= got
        acc = k[answered].float().mean().item() if answered.any() else float("nan")
        _c.check(answered.any() and acc >= target - 1e-12,
                 f"with your threshold {got:.4f} the answered questions are {acc:.3f} right, below the target "
                 f"{target}: the threshold is too low")
        _c.check(abs(got - want) < 1e-9,
                 f"your threshold {got:.4f} for target {target} reaches the target but answers "
                 f"{answered.float().mean().item():.3f} of the questions; {want:.4f} answers "
                 f"{(c >= want).float().mean().item():.3f}: take the LOWEST threshold that still reaches the "
                 "target (try every distinct confidence)")


# --- 8.6 the mini-project ------------------------------------------------------------------------


def check_project(report: dict) -> None:
    """The mini-project's report: held-out accuracy without and with the change, on N questions."""
    _c.check(isinstance(report, dict), "report should be a dict")
    for key in ("what", "before", "after", "n_questions"):
        _c.check(key in report, f"the report needs a {key!r} entry")
    _c.check(isinstance(report["what"], str) and len(report["what"].split()) >= 4,
             "report['what'] should say in a sentence what you changed")
    for key in ("before", "after"):
        v = report[key]
        _c.check(isinstance(v, float) and 0.0 <= v <= 1.0,
                 f"report[{key!r}] should be a measured accuracy in [0, 1], got {v!r}")
    n = report["n_questions"]
    _c.check(isinstance(n, int) and not isinstance(n, bool) and n >= 40, "measure on at least 40 questions")
    for key in ("before", "after"):
        _c.check(abs(report[key] * n - round(report[key] * n)) < 1e-6,
                 f"report[{key!r}] = {report[key]} is not a count of right answers out of {n}: did you measure it?")
