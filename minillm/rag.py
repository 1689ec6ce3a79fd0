"""Retrieval for retrieval-augmented generation: BM25, a dense index, recall, prompt assembly (chapter 8).

A model that hallucinates a fact it never learned can often answer correctly once the right
passage is in its prompt. This module holds the pieces that find and place that passage:

1. :class:`BM25`: the classic sparse ranking function, from scratch.
2. :class:`DenseIndex`: cosine-similarity search over embedding vectors.
3. :func:`recall_at_k`: how often the passage we need is among the top ``k``.
4. :func:`assemble_prompt`: fit retrieved passages and a question into a token budget.

Papers:

- Robertson, Zaragoza (2009), "The Probabilistic Relevance Framework: BM25 and Beyond",
  Foundations and Trends in Information Retrieval 3(4). https://doi.org/10.1561/1500000019
- Lewis et al. (2020), "Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks".
  https://arxiv.org/abs/2005.11401
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Hashable, Sequence

import torch
import torch.nn.functional as F

from .utils import InputTypeError, check_float

WORD_RE = re.compile(r"\w+")

DEFAULT_TEMPLATE = "Use the context to answer.\n\nContext:\n{context}\n\nQuestion: {question}\nAnswer:"


def tokenize(text: str) -> list[str]:
    """BM25's document tokenizer: lower-case words (runs of letters, digits and ``_``)."""
    if not isinstance(text, str):
        raise InputTypeError(f"text must be a str, got {type(text).__name__}")
    return WORD_RE.findall(text.lower())


def _check_k(k) -> int:
    if not isinstance(k, int) or isinstance(k, bool):
        raise InputTypeError(f"k must be an int >= 1, got {k!r} of type {type(k).__name__}")
    if k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    return k


def _check_ids(ids) -> list:
    if isinstance(ids, (str, bytes)) or not isinstance(ids, (Sequence, range)):
        raise InputTypeError(f"ids must be a list of document names, got {type(ids).__name__} {ids!r:.40}")
    ids = list(ids)
    seen = set()
    for i in ids:
        try:
            dup = i in seen
        except TypeError:
            raise InputTypeError(f"ids must hold hashable names (str, int), got {i!r:.40}") from None
        if dup:
            raise ValueError(f"ids holds {i!r} twice; every document needs its own id")
        seen.add(i)
    return ids


def _ranked(scores: torch.Tensor, ids: list, k: int) -> list[tuple[Hashable, float]]:
    # stable sort: equal scores keep index order, so results never depend on the platform
    order = torch.sort(scores, descending=True, stable=True).indices[:k]
    return [(ids[i], scores[i].item()) for i in order.tolist()]


class BM25:
    """Okapi BM25 (Robertson & Zaragoza 2009), written to score exactly like ``rank_bm25.BM25Okapi``.

    For a query ``q`` and a document ``d`` of length ``|d|`` (average ``avgdl``)::

        score(q, d) = sum over query words w of
                      idf(w) * f(w, d) * (k1 + 1) / (f(w, d) + k1 * (1 - b + b * |d| / avgdl))
        idf(w)      = log((N - n(w) + 0.5) / (n(w) + 0.5))

    with ``f(w, d)`` the count of ``w`` in ``d``, ``N`` documents and ``n(w)`` of them holding
    ``w``. A word repeated in the query counts once per repetition. ``k1`` sets how fast
    repeated words saturate, ``b`` how much long documents are penalised.

    That idf is negative for a word in more than half the documents. Like ``rank_bm25``, we
    replace each negative idf by ``epsilon * mean(idf over the vocabulary)``, a small positive
    floor, so a common word never lowers a score (``epsilon=0.25`` is rank_bm25's default).
    """

    def __init__(self, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25,
                 tokenizer: Callable[[str], list[str]] = tokenize):
        if isinstance(k1, (int, float)) and not isinstance(k1, bool) and not k1 >= 0:
            raise ValueError(f"k1 must be >= 0, got {k1!r} (1.2 to 2.0 is usual)")
        k1 = check_float("k1", k1, 0)
        if isinstance(b, (int, float)) and not isinstance(b, bool) and not 0 <= b <= 1:
            raise ValueError(f"b must lie in [0, 1], got {b!r} (0.75 is usual)")
        b = check_float("b", b, 0, 1)
        epsilon = check_float("epsilon", epsilon, 0)
        if not callable(tokenizer):
            raise InputTypeError(f"tokenizer must be a function text -> list of words, got {tokenizer!r}")
        self.k1, self.b, self.epsilon, self.tokenizer = k1, b, epsilon, tokenizer
        self.ids: list = []

    def index(self, docs: Sequence[str], ids: Sequence[Hashable] | None = None) -> BM25:
        """Index ``docs`` (a list of strings); ``ids`` name them (positions 0..N-1 by default)."""
        if not isinstance(docs, (str, Sequence)):
            raise InputTypeError(f"docs must be a non-empty list of strings, got {type(docs).__name__}")
        if isinstance(docs, str) or len(docs) == 0:
            raise ValueError("docs must be a non-empty list of strings; the index would be empty")
        wrong = [d for d in docs if not isinstance(d, str)]
        if wrong:
            raise InputTypeError(f"docs must hold strings, got {wrong[0]!r:.40} of type {type(wrong[0]).__name__}")
        ids = list(range(len(docs))) if ids is None else _check_ids(ids)
        if len(ids) != len(docs):
            raise ValueError(f"ids has {len(ids)} entries but docs has {len(docs)}")
        tokens = [self.tokenizer(d) for d in docs]
        lengths = torch.tensor([len(t) for t in tokens], dtype=torch.float64)
        if lengths.sum() == 0:
            raise ValueError("docs hold no words at all; the index would be empty")
        n = len(docs)
        self.ids, self.doc_len, self.avgdl = ids, lengths, lengths.mean().item()
        # postings: word -> (document indices, counts in those documents)
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, toks in enumerate(tokens):
            for word, count in Counter(toks).items():
                docs_i, counts = postings.setdefault(word, ([], []))
                docs_i.append(i)
                counts.append(count)
        self.postings = {w: (torch.tensor(d), torch.tensor(c, dtype=torch.float64)) for w, (d, c) in postings.items()}
        idf = {w: math.log(n - len(d) + 0.5) - math.log(len(d) + 0.5) for w, (d, _) in postings.items()}
        floor = self.epsilon * sum(idf.values()) / len(idf)
        self.idf = {w: (v if v >= 0 else floor) for w, v in idf.items()}
        return self

    def scores(self, query: str) -> torch.Tensor:
        """BM25 score of every indexed document for ``query``: (N,) float64, in index order."""
        if not self.ids:
            raise RuntimeError("the BM25 index is empty; call index(docs) first")
        out = torch.zeros(len(self.ids), dtype=torch.float64)
        norm = self.k1 * (1 - self.b + self.b * self.doc_len / self.avgdl)  # (N,)
        for word in self.tokenizer(query):
            if word not in self.postings:
                continue
            docs, f = self.postings[word]
            out.index_add_(0, docs, self.idf[word] * f * (self.k1 + 1) / (f + norm[docs]))
        return out

    def search(self, query: str, k: int = 5) -> list[tuple[Hashable, float]]:
        """The ``k`` best documents as ``(doc_id, score)``, best first (ties: index order)."""
        return _ranked(self.scores(query), self.ids, _check_k(k))


def _as_floats(x, name: str) -> torch.Tensor:
    try:
        return torch.as_tensor(x, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        raise InputTypeError(f"{name} must be a tensor (or nested list) of numbers, got {type(x).__name__} "
                             f"{x!r:.40}") from None


class DenseIndex:
    """Cosine-similarity search over embedding vectors (however they were made).

    ``embeddings``: (N, D) one vector per document; ``ids`` name them (0..N-1 by default).
    ``search(query, k)`` takes a (D,) vector and returns ``(doc_id, cosine)`` best first, or a
    (Q, D) batch and returns one such list per query.
    """

    def __init__(self, embeddings: torch.Tensor, ids: Sequence[Hashable] | None = None):
        emb = _as_floats(embeddings, "embeddings")
        if emb.numel() and not torch.isfinite(emb).all():
            raise ValueError("embeddings hold NaN or infinity; every vector must be finite")
        if emb.dim() != 2 or emb.shape[0] == 0:
            raise ValueError(
                f"embeddings must be a non-empty (N, D) tensor, got shape {tuple(emb.shape)}; "
                "the index would be empty"
            )
        norms = emb.norm(dim=1)
        if (norms == 0).any():
            bad = torch.nonzero(norms == 0).flatten()[:5].tolist()
            raise ValueError(f"embeddings rows {bad} are all zeros; a cosine needs a non-zero vector")
        self.ids = list(range(emb.shape[0])) if ids is None else _check_ids(ids)
        if len(self.ids) != emb.shape[0]:
            raise ValueError(f"ids has {len(self.ids)} entries but embeddings has {emb.shape[0]} rows")
        self.unit = emb / norms[:, None]

    def search(self, query: torch.Tensor, k: int = 5):
        _check_k(k)
        q = _as_floats(query, "query")
        given = tuple(q.shape)
        single = q.dim() == 1
        q = q[None] if single else q
        if q.dim() != 2 or q.shape[1] != self.unit.shape[1]:
            raise ValueError(
                f"query must have shape (D,) or (Q, D) with D={self.unit.shape[1]}, got {given}"
            )
        if not torch.isfinite(q).all() or (q.norm(dim=1) == 0).any():
            raise ValueError("query holds NaN, infinity or an all-zero vector; a cosine needs a finite, "
                             "non-zero vector")
        sims = F.normalize(q, dim=1) @ self.unit.T  # (Q, N)
        results = [_ranked(row, self.ids, k) for row in sims]
        return results[0] if single else results


def recall_at_k(retrieved_ids: Sequence, relevant_ids, k: int) -> float:
    """The fraction of ``relevant_ids`` found among the first ``k`` of ``retrieved_ids``."""
    _check_k(k)
    for name, v in (("retrieved_ids", retrieved_ids), ("relevant_ids", relevant_ids)):
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            raise InputTypeError(f"{name} must be a list of document ids, got {type(v).__name__} {v!r:.40}")
    relevant = set(relevant_ids)
    if not relevant:
        raise ValueError("relevant_ids is empty; recall needs at least one relevant document")
    return len(relevant & set(list(retrieved_ids)[:k])) / len(relevant)


def _count_tokens(tokenizer) -> Callable[[str], int]:
    if hasattr(tokenizer, "encode") and not isinstance(tokenizer, (str, bytes)):
        return lambda s: len(tokenizer.encode(s))
    if callable(tokenizer):
        return lambda s: len(tokenizer(s))
    raise InputTypeError(f"tokenizer must have an encode(text) method or be callable, got {tokenizer!r}")


def assemble_prompt(
    question: str,
    passages: Sequence[str],
    tokenizer,
    max_tokens: int,
    template: str = DEFAULT_TEMPLATE,
    separator: str = "\n\n",
) -> str:
    """Fill ``template`` with the question and as many passages as fit in ``max_tokens`` tokens.

    Passages are taken in order (put the best first); the first one that does not fit whole is
    cut at a word boundary to fill the rest of the budget, and the ones after it are dropped.
    The question is never cut: if it does not fit with an empty context, that is an error.
    ``tokenizer`` is anything with ``encode(text) -> ids`` (a :class:`~minillm.tokenizer.BPETokenizer`)
    or a callable ``text -> ids``; token counts are measured on the whole prompt.
    """
    if not isinstance(question, str):
        raise InputTypeError(f"question must be a str, got {question!r:.40} of type {type(question).__name__}")
    if isinstance(passages, (str, bytes)) or not isinstance(passages, Sequence):
        raise InputTypeError(f"passages must be a list of strings (best first), got {type(passages).__name__} "
                             f"{passages!r:.40}")
    wrong = [p for p in passages if not isinstance(p, str)]
    if wrong:
        raise InputTypeError(f"passages must hold strings, got {wrong[0]!r:.40} of type {type(wrong[0]).__name__}")
    for name, v in (("template", template), ("separator", separator)):
        if not isinstance(v, str):
            raise InputTypeError(f"{name} must be a str, got {v!r:.40} of type {type(v).__name__}")
    if "{context}" not in template or "{question}" not in template:
        raise ValueError("template must contain the fields {context} and {question}")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int):
        raise InputTypeError(f"max_tokens must be a positive int, got {max_tokens!r}")
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
    count = _count_tokens(tokenizer)

    def build(parts: list[str]) -> str:
        return template.replace("{context}", separator.join(parts)).replace("{question}", question)

    bare = count(build([]))
    if bare > max_tokens:
        raise ValueError(
            f"the question alone takes {bare} tokens with the template, more than max_tokens="
            f"{max_tokens}; shorten the question or raise max_tokens (the question is never cut)"
        )
    kept: list[str] = []
    for passage in passages:
        if count(build([*kept, passage])) <= max_tokens:
            kept.append(passage)
            continue
        words = passage.split()
        lo, hi = 0, len(words)  # the longest prefix of words that fits: binary search
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(build([*kept, " ".join(words[:mid])])) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        if lo > 0:
            kept.append(" ".join(words[:lo]))
        break
    return build(kept)
