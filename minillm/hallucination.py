"""Chapter 8's experiments: measuring hallucination on TinyWorld, and fixing it with retrieval.

TinyWorld knows every fact and which people a model never read about, so "the model made it up"
becomes a number. This module holds the experiment helpers the chapter and
``benchmarks/hallucination.py`` share; the general pieces live in :mod:`minillm.rag` (BM25,
dense search, prompt assembly) and :mod:`minillm.calibration` (ECE, temperature, abstention).

- :func:`answer_scores`: ask an assistant questions and read, besides its greedy reply, its
  probability for every possible answer (every town, every job...): the answer it gives, how
  sure it is, and the logits that temperature scaling and reliability diagrams need.
- :func:`parse_reply`: which person and which fact a reply names (a hallucinated reply often
  swaps in a known person with a similar name and recites that person's fact).
- :func:`passage_store`: one sentence per passage, from biographies that name their person in
  full, for retrieval; :func:`relevant_passages` says which passages answer a question.
- :func:`embed_texts`: a dense embedding from the model's own hidden states.
- :func:`context_prompt`: the chat prompt with retrieved passages before the question, within
  the model's context; :func:`context_examples` and :func:`lora_finetune` teach the assistant,
  cheaply, to read it; :func:`idk_examples` teach it to say :data:`IDK`.
- the reader, ``minillm.pretrained("tinyworld-rag")``: :func:`build_reader` fully fine-tunes the
  chat model on :func:`reader_examples` (questions with BM25 passages, questions from memory,
  "I don't know" when the passages are about someone else) over :func:`reader_store`;
  :func:`retrieved_prompts` asks it, :func:`said_idk` reads its abstentions.
- closed-book abstention by the model itself: :func:`build_abstainer` fully fine-tunes a copy of
  the assistant on :func:`abstention_examples` (known people answered, people it never read
  about answered :data:`IDK`), so that it refuses strangers it was never shown;
  :func:`abstention_score` is its answer score for a confidence threshold on top.
- :func:`fact_documents` and :func:`train_tiny`: a tiny corpus where each person's facts appear
  a chosen number of times, optionally with reversed parent sentences, and a tiny GPT trained
  on it in seconds (knowledge frequency and the reversal curse).

Papers: Berglund et al. (2023), "The Reversal Curse: LLMs trained on 'A is B' fail to learn
'B is A'", https://arxiv.org/abs/2309.12288; Kandpal et al. (2023), "Large Language Models
Struggle to Learn Long-Tail Knowledge", https://arxiv.org/abs/2211.08411; Lewis et al. (2020),
"Retrieval-Augmented Generation for Knowledge-Intensive NLP Tasks", https://arxiv.org/abs/2005.11401.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import torch

from .evaluate import (
    FACT_PROMPTS,
    _check_model,
    _check_people,
    _check_texts,
    chat_prompt,
    continuation_logprobs,
    fact_answer,
    fact_candidates,
    greedy_complete,
)
from .rag import assemble_prompt
from .tokenizer import ASSISTANT, END, USER
from .utils import InputTypeError, check_float, check_int

#: The words an assistant's answer sentence puts just before the fact, per relation (the
#: answers of :meth:`minillm.world.World.qa`: "X was born in T.", "X works as a J.", ...).
MARKERS = {
    "birth_city": " was born in",
    "job": " works as",
    "color": " favourite colour is",
    "food": " favourite food is",
}

#: What the assistant says when it does not know (chapter 8's abstention).
IDK = "I don't know."

#: The chat prompt with retrieved passages: ``<|user|> Context: ... Question: ...<|end|><|assistant|>``.
CONTEXT_TEMPLATE = f"{USER} Context: {{context}} Question: {{question}}{END}{ASSISTANT}"


def _check_relation(relation: str) -> str:
    if not isinstance(relation, str) or relation not in MARKERS:
        raise ValueError(f"relation {relation!r} has no answer candidates; choose one of {sorted(MARKERS)}")
    return relation


def _check_world(world) -> None:
    if not (hasattr(world, "people") and hasattr(world, "biography") and hasattr(world, "town")):
        raise InputTypeError(f"world must be a minillm.world.World, got {type(world).__name__} {world!r:.40}")


def _check_tokenizer(tokenizer) -> None:
    if not hasattr(tokenizer, "encode") or not hasattr(tokenizer, "decode"):
        raise InputTypeError(f"tokenizer must have encode/decode (a minillm tokenizer), got "
                             f"{type(tokenizer).__name__} {tokenizer!r:.40}")


def _check_qas(qas, any_relation: bool = False) -> list:
    if isinstance(qas, (str, bytes)) or not hasattr(qas, "__iter__"):
        raise InputTypeError(f"qas must be a list of World.qa(...) questions, got {type(qas).__name__}")
    qas = list(qas)
    if not qas:
        raise ValueError("qas is empty; pass World.qa(person, relation) questions")
    for i, q in enumerate(qas):
        if not all(hasattr(q, a) for a in ("question", "answer", "person", "relation")):
            raise InputTypeError(f"qas[{i}] must be a QA from World.qa(person, relation), got {q!r:.40}")
        if not any_relation:
            _check_relation(q.relation)
    return qas


@dataclass
class AnswerScores:
    """An assistant's answers to questions, with its probabilities over every possible answer.

    For N questions: ``logits`` is a list of N tensors ``(K_r,)`` (log-probabilities of the K_r
    candidates of the question's relation, e.g. the 120 towns), ``labels`` (N,) the true
    candidate's index, ``predicted`` (N,) the most likely candidate, ``confidence`` (N,) its
    probability after a softmax over the candidates, ``correct`` (N,) bool, ``replies`` the
    greedy replies and ``prompts`` the prompts asked.
    """

    logits: list
    labels: torch.Tensor
    predicted: torch.Tensor
    confidence: torch.Tensor
    correct: torch.Tensor
    replies: list = field(default_factory=list)
    prompts: list = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct.float().mean().item()

    def temperature_confidence(self, temperature: float) -> torch.Tensor:
        """The confidences after dividing every logit by ``temperature`` (N,)."""
        t = check_float("temperature", temperature, 0.0, exclusive_minimum=True)
        return torch.stack([torch.softmax(lg / t, 0)[p] for lg, p in zip(self.logits, self.predicted)])

    def padded_logits(self) -> torch.Tensor:
        """``(N, K)`` logits, short candidate lists padded with -inf-like -1e4 (for fitting T)."""
        k = max(len(lg) for lg in self.logits)
        out = torch.full((len(self.logits), k), -1e4, dtype=torch.float64)
        for i, lg in enumerate(self.logits):
            out[i, : len(lg)] = lg
        return out


@torch.no_grad()
def answer_scores(model, tokenizer, world, qas, prompts=None, *, max_new_tokens: int = 20) -> AnswerScores:
    """Ask ``qas`` (``World.qa`` questions on ``birth_city``, ``job``, ``color`` or ``food``).

    Each prompt (default: the chat prompt of the question) is answered greedily. The reply up to
    the relation's :data:`MARKERS` (``" ... was born in"``) is then kept as it is, whatever
    person it names, and every candidate answer is scored after it with
    :func:`minillm.evaluate.continuation_logprobs`: the probabilities over the candidates are
    the model's belief about the fact, *given what it has already said*. A reply without the
    marker is replaced by the true answer sentence's start. Returns :class:`AnswerScores`.
    """
    _check_model(model, tokenizer)
    qas = _check_qas(qas)
    if prompts is None:
        prompts = [chat_prompt(q.question) for q in qas]
    elif isinstance(prompts, str) or not isinstance(prompts, (list, tuple)) or len(prompts) != len(qas):
        raise ValueError(f"prompts must be None or a list of {len(qas)} strings, one per question")
    was = model.training
    model.eval()
    try:
        replies = greedy_complete(model, tokenizer, list(prompts), max_new_tokens, stop=END)
        logits, labels = [], []
        for q, prompt, reply in zip(qas, prompts, replies):
            marker = MARKERS[q.relation]
            cut = reply.find(marker)
            if cut < 0:  # no answer sentence: score the candidates after the true sentence's start
                start = q.answer.find(marker)
                head = " " + q.answer[: start + len(marker)]
            else:
                head = reply[: cut + len(marker)]
            cands = fact_candidates(world, q.relation)
            lp = candidate_logprobs(model, tokenizer, prompt + head, [" " + c for c in cands])
            logits.append(lp.double())
            labels.append(cands.index(fact_answer(world, world.people[q.person], q.relation)))
    finally:
        model.train(was)
    labels_t = torch.tensor(labels)
    probs = [torch.softmax(lg, 0) for lg in logits]
    pred = torch.tensor([int(p.argmax()) for p in probs])
    conf = torch.stack([p.max() for p in probs])
    return AnswerScores(logits, labels_t, pred, conf, pred == labels_t, replies, list(prompts))


@torch.no_grad()
def candidate_logprobs(model, tokenizer, prompt: str, candidates) -> torch.Tensor:
    """``log p(candidate | prompt)`` for each of ``candidates``, ``(K,)``: the same numbers as
    :func:`minillm.evaluate.continuation_logprobs`, faster for many short candidates.

    The prompt runs once into a KV cache (chapter 5), which is then copied for every candidate,
    so only the candidates' own tokens are computed K times. (The cached forward reads the
    weights directly: merge LoRA adapters first, as :func:`lora_finetune` does.)
    """
    _check_model(model, tokenizer)
    if not isinstance(prompt, str):
        raise InputTypeError(f"prompt must be a str, got {type(prompt).__name__}")
    if isinstance(candidates, str) or not isinstance(candidates, (list, tuple)) or not candidates:
        raise InputTypeError("candidates must be a non-empty list of strings")
    p = tokenizer.encode(prompt)
    if not p:
        raise ValueError("prompt is empty; the first candidate token needs a token before it")
    enc = [tokenizer.encode(c) for c in candidates]
    if any(not e for e in enc):
        raise ValueError("candidates holds an empty string; every candidate needs a token")
    longest = max(map(len, enc))
    block = model.config.block_size
    if len(p) + longest > block:
        raise ValueError(f"the prompt ({len(p)} tokens) plus the longest candidate ({longest}) do not fit "
                         f"in the model's context (block_size={block}); shorten the prompt")
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    try:
        cache = model.new_cache(1, len(p) + longest)
        first, _ = model(torch.tensor([p], device=device), cache=cache)
        first = torch.log_softmax(first[0, -1].float(), -1).cpu()  # (V,)
        out = torch.tensor([first[e[0]] for e in enc], dtype=torch.float64)
        if longest > 1:
            cache.reorder(torch.zeros(len(enc), dtype=torch.long, device=device))
            x = torch.zeros(len(enc), longest - 1, dtype=torch.long)
            for i, e in enumerate(enc):
                x[i, : len(e) - 1] = torch.tensor(e[:-1])
            rest, _ = model(x.to(device), cache=cache)
            rest = torch.log_softmax(rest.float(), -1).cpu()  # (K, L-1, V)
            for i, e in enumerate(enc):
                if len(e) > 1:
                    out[i] += rest[i, torch.arange(len(e) - 1), torch.tensor(e[1:])].double().sum()
    finally:
        model.train(was)
    return out


_REPLY = re.compile(r"^\s*([A-Z][a-z]+ [A-Z][a-z]+)(?:'s)?")


def parse_reply(world, reply: str):
    """The person a reply is about, if it names one of ``world``'s people: a ``Person`` or None.

    ``" Pelle Stiton was born in Drorkwick."`` -> ``world.person("Pelle Stiton")``.
    """
    _check_world(world)
    if not isinstance(reply, str):
        raise InputTypeError(f"reply must be a str, got {type(reply).__name__}")
    m = _REPLY.match(reply)
    if not m:
        return None
    try:
        return world.person(m.group(1))
    except KeyError:
        return None


# --- retrieval -----------------------------------------------------------------------------------


_SENTENCE = re.compile(r"(?<=\.)\s+")


def passage_store(world, people, *, seed: int = 0) -> tuple[list[str], list[tuple[int, int]]]:
    """One biography per person (naming the person in full in every sentence), split into
    sentences: the passages a retriever searches. Returns ``(passages, ids)`` with ids
    ``(person id, sentence number)``."""
    _check_world(world)
    people = _check_people(people)
    if not people:
        raise ValueError("people is empty; pass the people whose biographies the store should hold")
    check_int("seed", seed, 0)
    rng = random.Random(seed)
    passages, ids = [], []
    for p in people:
        for k, s in enumerate(_SENTENCE.split(world.biography(p, rng, full_names=True))):
            passages.append(s)
            ids.append((p.id, k))
    return passages, ids


def relevant_passages(world, qa, passages, ids) -> list:
    """The ids of the passages that answer ``qa``: they name its person and hold its answer."""
    _check_world(world)
    if not all(hasattr(qa, a) for a in ("question", "answer", "person", "relation")):
        raise InputTypeError(f"qa must be a QA from World.qa(person, relation), got {qa!r:.40}")
    if isinstance(passages, str) or isinstance(ids, str) or len(passages) != len(ids):
        raise ValueError("passages and ids must be lists of the same length (passage_store's two lists), got "
                         f"{type(passages).__name__} of {len(passages)} and {type(ids).__name__} of {len(ids)}")
    person = world.people[qa.person]
    answer = fact_answer(world, person, _check_relation(qa.relation))
    out = [i for p, i in zip(passages, ids)
           if i[0] == person.id and person.name in p and re.search(rf"\b{re.escape(answer)}\b", p)]
    return out


@torch.no_grad()
def embed_texts(model, tokenizer, texts, *, batch_size: int = 64) -> torch.Tensor:
    """Dense embeddings from a GPT's own final hidden states: the mean over each text's tokens,
    ``(N, C)``. A language model's states encode what comes next, not what a text is about, so
    these are a weak retriever (chapter 8 measures how weak)."""
    _check_model(model, tokenizer)
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)) or not texts:
        raise InputTypeError("texts must be a non-empty list of strings")
    texts = _check_texts("texts", texts)
    check_int("batch_size", batch_size, 1)
    device = next(model.parameters()).device
    block = model.config.block_size
    enc = [tokenizer.encode(t)[:block] for t in texts]
    if any(len(e) == 0 for e in enc):
        raise ValueError("texts holds an empty string; every text needs at least one token")
    was = model.training
    model.eval()
    out = []
    try:
        for k in range(0, len(enc), batch_size):
            chunk = enc[k: k + batch_size]
            t = max(map(len, chunk))
            x = torch.zeros(len(chunk), t, dtype=torch.long)
            mask = torch.zeros(len(chunk), t, dtype=torch.bool)
            for i, e in enumerate(chunk):
                x[i, : len(e)] = torch.tensor(e)
                mask[i, : len(e)] = True
            h, _ = model(x.to(device), padding_mask=mask.to(device), return_hidden=True)
            m = mask.to(h.device, h.dtype)[..., None]
            out.append(((h * m).sum(1) / m.sum(1)).float().cpu())
    finally:
        model.train(was)
    return torch.cat(out)


def context_prompt(question: str, passages, tokenizer, max_tokens: int) -> str:
    """The chat prompt with ``passages`` (best first) before the question, at most ``max_tokens``
    tokens: passages are cut to fit, the question never (see :func:`minillm.rag.assemble_prompt`)."""
    if isinstance(passages, (str, bytes)) or not hasattr(passages, "__iter__"):
        raise InputTypeError(f"passages must be a list of strings (best first), got {type(passages).__name__} "
                             f"{passages!r:.40}; wrap a single passage in a list")
    return assemble_prompt(question, list(passages), tokenizer, max_tokens, template=CONTEXT_TEMPLATE,
                           separator=" ")


# --- cheap fine-tunes ----------------------------------------------------------------------------


def _encode_turn(tokenizer, prompt: str, answer: str) -> tuple[list[int], list[int]]:
    """``(ids, targets)`` for a chat prompt ending in ``<|assistant|>`` and the reply ``answer``;
    only the reply (and its ``<|end|>``) has targets, as :func:`minillm.finetune.encode_chat`."""
    from .finetune import CHAT_SPACE, IGNORE

    head = tokenizer.encode(prompt)
    body = tokenizer.encode(CHAT_SPACE + answer + END)
    ids = head + body
    targets = [IGNORE] * (len(head) - 1) + body
    return ids[:-1], targets


def context_examples(tokenizer, world, qas, passages_for, max_tokens: int, *, distractor_rate: float = 0.0,
                     seed: int = 0) -> list:
    """Training examples that teach an assistant to answer from the context in its prompt.

    ``passages_for(qa)`` returns the passages to show for a question (best first). Each example
    is ``(ids, targets)`` with the loss on the true answer sentence only.
    """
    _check_tokenizer(tokenizer)
    qas = _check_qas(qas)
    if not callable(passages_for):
        raise InputTypeError("passages_for must be a function qa -> list of passages")
    check_float("distractor_rate", distractor_rate, 0.0, 1.0)
    rng = random.Random(seed)
    out = []
    for q in qas:
        passages = list(passages_for(q))
        if distractor_rate and rng.random() < distractor_rate:
            rng.shuffle(passages)
        out.append(_encode_turn(tokenizer, context_prompt(q.question, passages, tokenizer, max_tokens), q.answer))
    return out


def _check_store_args(index, passages, ids, k) -> list[int]:
    """Check a retrieval store (``index`` with ``.search``, ``passages`` and their person ``ids``)
    and ``k`` (an int or a list of ints >= 1); returns ``k`` as a list."""
    if not hasattr(index, "search"):
        raise InputTypeError(f"index must be a BM25 (or any object with .search(query, k)), got {type(index).__name__}")
    if isinstance(passages, str) or len(passages) != len(ids):
        raise ValueError(f"passages and ids must be lists of the same length, got {len(passages)} and {len(ids)}")
    ks = [check_int("k", x, 1) for x in (k if isinstance(k, (list, tuple)) else [k])]
    if not ks:
        raise ValueError("k is an empty list; give an int >= 1 or a list of them")
    return ks


def reading_examples(tokenizer, world, qas, index, passages, ids, max_tokens: int, *, k=5,
                     memory_qas=(), memory_share: float = 0.25, seed: int = 0) -> list:
    """Examples that teach an assistant to *read* its context (chapter 8's retrieval fine-tune).

    For each question of ``qas`` (about people the model never read about, so that it cannot
    answer from memory), the prompt holds ``index.search(question, k)``'s passages (``index`` a
    :class:`minillm.rag.BM25` over ``passages`` named by ``ids`` = ``(person id, sentence)``, as
    :func:`passage_store` returns), in a random order, with one passage that answers the
    question (it names the person and states every one of ``qa.answers``) put in place of a
    random one when the search missed them all: the only way to the answer is to find it in the
    context. Ask about relations whose answer a biography states word for word (``birth_city``,
    ``birth_year``, ``job``, ``color``, ``food``); a question no passage answers is an error.
    ``memory_qas`` (questions the model answers from memory, e.g. the SFT cast's) are mixed in
    without context, as ``memory_share`` of the examples, so that it keeps answering from memory
    when there is no context. Each example is ``(ids, targets)`` with the loss on the answer
    only; the list is shuffled. ``k`` may be a list: each example then shows a number of
    passages drawn from it. (Measured on the course's chat model, ``benchmarks/hallucination.py``:
    a short fine-tune with ``k=1`` teaches it to copy from one passage; with five passages it
    still picks the wrong one.)
    """
    qas = _check_qas(qas, any_relation=True)
    ks = _check_store_args(index, passages, ids, k)
    memory_share = check_float("memory_share", memory_share, 0.0, 1.0, exclusive_maximum=True)
    memory = _check_qas(memory_qas, any_relation=True) if len(memory_qas) else []
    rng = random.Random(seed)
    by_id, of_person = _store_maps(passages, ids)
    out = []
    for q in qas:
        shown, gold = _answering_context(world, q, index, by_id, of_person, rng.choice(ks), rng)
        out.append(_encode_turn(tokenizer, _answering_prompt(q, shown, gold, tokenizer, max_tokens), q.answer))
    if memory:
        n_mem = round(len(out) * memory_share / (1 - memory_share))
        out += [_encode_turn(tokenizer, chat_prompt(q.question), q.answer)
                for q in (memory[j % len(memory)] for j in range(n_mem))]
    rng.shuffle(out)
    return out


def _store_maps(passages, ids) -> tuple[dict, dict]:
    """``(by_id, of_person)``: passage text by id, and each person id's passages."""
    by_id = dict(zip(ids, passages))
    of_person: dict = {}
    for i, text in zip(ids, passages):
        of_person.setdefault(i[0], []).append(text)
    return by_id, of_person


def _answering_context(world, q, index, by_id, of_person, k: int, rng) -> list:
    """BM25's top ``k`` passages for ``q`` with an answering one put in place of a random one
    when the search missed them all, in a random order."""
    person = world.people[q.person]
    shown = [by_id[i] for i, _ in index.search(q.question, k)]
    gold = [t for t in of_person.get(person.id, ()) if person.name in t
            and all(re.search(rf"\b{re.escape(a)}\b", t) for a in q.answers)]
    if not gold:
        raise ValueError(f"no passage answers {q.question!r}; put {person.name}'s biography in the store")
    if not any(t in gold for t in shown):
        shown[rng.randrange(len(shown))] = rng.choice(gold)
    rng.shuffle(shown)
    return shown, gold


def _answering_prompt(q, shown, gold, tokenizer, max_tokens: int) -> str:
    """:func:`context_prompt` with passages dropped (not an answering one) until an answering
    passage fits whole: a cut one would teach the model to answer what it cannot read."""
    shown = list(shown)
    while True:
        prompt = context_prompt(q.question, shown, tokenizer, max_tokens)
        if any(g in prompt for g in gold if g in shown) or len(shown) == 1:
            return prompt
        drop = next((i for i in range(len(shown) - 1, -1, -1) if shown[i] not in gold), None)
        if drop is None:
            return prompt
        del shown[drop]


def _foreign_context(world, q, index, by_id, k: int) -> list:
    """BM25's top ``k`` passages for ``q`` among those *not* about its person (what a store that
    never heard of the person returns: other people who share a name part, a town, a word)."""
    person = world.people[q.person]
    hits = index.search(q.question, k + 40)
    return [by_id[i] for i, _ in hits if i[0] != person.id and person.name not in by_id[i]][:k]


# --- the reader: a course model that answers from retrieved passages (chapter 8) ---------------


def reader_store(world, *, absent: int = 50, seed: int = 0):
    """The document store of chapter 8's reader: :func:`passage_store` of every person of
    ``world`` except the last ``absent`` of ``world.held_out``, of whom nothing is written
    anywhere (a question about them has no answer in the store: the reader should say
    :data:`IDK`). Returns ``(passages, ids, absent_people)``."""
    _check_world(world)
    absent = check_int("absent", absent, 0)
    check_int("seed", seed, 0)
    if absent >= len(world.held_out):
        raise ValueError(f"absent={absent} must be smaller than the {len(world.held_out)} held-out people")
    gone = world.held_out[len(world.held_out) - absent:] if absent else []
    gone_ids = {p.id for p in gone}
    passages, ids = passage_store(world, [p for p in world.people if p.id not in gone_ids], seed=seed)
    return passages, ids, list(gone)


def retrieved_prompts(qas, index, passages, ids, tokenizer, max_tokens: int, k: int = 3) -> list[str]:
    """The context prompts of ``qas`` with ``index.search(question, k)``'s passages, best first
    (:func:`context_prompt`): what the reader is asked at test time."""
    qas = _check_qas(qas, any_relation=True)
    if not hasattr(index, "search"):
        raise InputTypeError(f"index must be a BM25 (or any object with .search(query, k)), got {type(index).__name__}")
    k = check_int("k", k, 1)
    if isinstance(passages, str) or isinstance(ids, str) or len(passages) != len(ids):
        raise ValueError("passages and ids must be lists of the same length (the store the index was built "
                         f"on), got {len(passages)} passages and {len(ids)} ids")
    by_id = dict(zip(ids, passages))
    out = []
    for q in qas:
        hits = [i for i, _ in index.search(q.question, k)]
        unknown = [i for i in hits if i not in by_id]
        if unknown:
            raise ValueError(f"index returned id {unknown[0]!r}, which is not in ids; build the index on the "
                             "same (passages, ids) you pass here")
        out.append(context_prompt(q.question, [by_id[i] for i in hits], tokenizer, max_tokens))
    return out


def said_idk(replies) -> torch.Tensor:
    """Which replies are the assistant's :data:`IDK` (an abstention), a bool tensor ``(N,)``."""
    if isinstance(replies, str) or not isinstance(replies, (list, tuple)):
        raise InputTypeError(f"replies must be a list of strings, got {type(replies).__name__}")
    bad = [r for r in replies if not isinstance(r, str)]
    if bad:
        raise InputTypeError(f"replies must hold strings, got {bad[0]!r:.40}")
    return torch.tensor([r.strip().startswith(IDK[:-1]) for r in replies], dtype=torch.bool)


def reader_examples(tokenizer, world, index, passages, ids, max_tokens: int, *, read_qas, memory_qas=(),
                    absent_qas=(), unknown_qas=(), k=(1, 2, 3, 4), seed: int = 0) -> list:
    """The data mix of chapter 8's reader (``minillm.pretrained("tinyworld-rag")``), shuffled.

    - ``read_qas``: with BM25's top ``k`` passages (``k`` drawn from the list for each example),
      one that answers the question always among them (:func:`reading_examples`), answered
      with the true sentence. Ask about people the model never read about, so that the
      context is the only way to the answer, and about people it knows, so that it reads
      for them too.
    - ``memory_qas``: no context, answered from memory (the SFT data), so the reader keeps its
      facts when nothing is retrieved.
    - ``absent_qas``: with the top ``k`` passages about *other* people (the store knows nothing
      of the person), answered :data:`IDK`.
    - ``unknown_qas``: no context about a person the model never read about, answered :data:`IDK`.

    Each example is ``(ids, targets)`` with the loss on the reply only.
    """
    read = _check_qas(read_qas, any_relation=True)
    memory = _check_qas(memory_qas, any_relation=True) if len(memory_qas) else []
    absent = _check_qas(absent_qas, any_relation=True) if len(absent_qas) else []
    unknown = _check_qas(unknown_qas, any_relation=True) if len(unknown_qas) else []
    ks = _check_store_args(index, passages, ids, k)
    rng = random.Random(check_int("seed", seed, 0))
    by_id, of_person = _store_maps(passages, ids)

    def turn(q, context, answer):
        prompt = chat_prompt(q.question) if context is None else context_prompt(q.question, context, tokenizer,
                                                                                 max_tokens)
        return _encode_turn(tokenizer, prompt, answer)

    out = []
    for q in read:
        shown, gold = _answering_context(world, q, index, by_id, of_person, rng.choice(ks), rng)
        out.append(_encode_turn(tokenizer, _answering_prompt(q, shown, gold, tokenizer, max_tokens), q.answer))
    out += [turn(q, None, q.answer) for q in memory]
    for q in absent:
        context = _foreign_context(world, q, index, by_id, rng.choice(ks))
        if not context:
            raise ValueError(f"the store holds no passage about anyone but the person of {q.question!r}")
        out.append(turn(q, context, IDK))
    out += [turn(q, None, IDK) for q in unknown]
    rng.shuffle(out)
    return out


def _varied_qas(world, people, relations, seed: int) -> list:
    """One question per person and relation, each phrasing drawn at random."""
    return [world.qa(p, r, random.Random(seed * 1_000_003 + p.id * 31 + j))
            for p in people for j, r in enumerate(relations)]


def build_reader(e, folder, base_folder, progress: bool) -> dict:
    """Builder of ``"tinyworld-rag"``: the chat model fully fine-tuned to read retrieved
    passages (:func:`reader_examples`) and to say :data:`IDK` when it cannot know.

    The recipe's ``"read"`` section says how many people of each kind the mix asks about: the
    training people the base never read about (``fresh``; the cast and the held-out people are
    never in the training mix, except the SFT half of the cast, asked with passages and from
    memory); the ``"train"`` section sets :func:`finetune_examples`. Returns the training
    figures and a small evaluation (held-out people with BM25 passages).
    """
    import time

    from .rag import BM25
    from .utils import seed_everything
    from .zoo import course_people, load_model_dir

    start = time.perf_counter()
    seed_everything(0)
    model, tok = load_model_dir(base_folder)
    people = course_people(e.base)
    world = people["world"]
    r, t = e.recipe["read"], e.recipe["train"]
    passages, ids, _ = reader_store(world, absent=e.recipe["store"]["absent"], seed=e.recipe["store"]["seed"])
    index = BM25().index(passages, ids)
    budget = model.config.block_size - r["answer_tokens"]
    cast_ids = {p.id for p in people["held_in"]}
    fresh = [p for p in world.train_people if p.id not in cast_ids]
    n_read, n_absent, n_unknown = r["fresh"], r["absent"], r["unknown"]
    if n_read + n_absent + n_unknown > len(fresh):
        raise ValueError(f"the recipe asks for {n_read + n_absent + n_unknown} fresh people; the world has {len(fresh)}")
    rels = r["relations"]
    groups = {
        "read_qas": _varied_qas(world, fresh[:n_read], rels, 1) + _varied_qas(world, people["qa"], rels, 2),
        "memory_qas": _varied_qas(world, people["qa"], r["memory_relations"], 3) * r["memory_repeats"],
        "absent_qas": _varied_qas(world, fresh[n_read: n_read + n_absent], rels, 4),
        "unknown_qas": _varied_qas(world, fresh[n_read + n_absent: n_read + n_absent + n_unknown], rels, 5),
    }
    examples = reader_examples(tok, world, index, passages, ids, budget, k=r["k"], **groups)
    prep = time.perf_counter() - start
    losses = finetune_examples(model, examples, steps=t["steps"], lr=t["lr"], batch_size=t["batch_size"],
                               warmup=t["warmup"])
    model.cpu().eval()
    model.save(folder)
    tok.save(folder / "tokenizer.json")
    ev = e.recipe.get("eval", {})
    test = [world.qa(p, q) for p in people["held_out"][: ev.get("people", 10)] for q in MARKERS]
    s = answer_scores(model, tok, world, test, retrieved_prompts(test, index, passages, ids, tok, budget,
                                                                 ev.get("k", 3)))
    return {"examples": {kk: len(v) for kk, v in groups.items()}, "n_examples": len(examples),
            "prep_seconds": round(prep, 1), "first_loss": round(losses[0], 4), "last_loss": round(
                sum(losses[-20:]) / len(losses[-20:]), 4), "held_out_bm25_accuracy": round(s.accuracy, 4)}


def finetune_examples(model, examples, *, steps: int = 200, lr: float = 1e-3, batch_size: int = 32,
                      warmup: int = 10, seed: int = 0) -> list[float]:
    """A full fine-tune of ``model`` in place on ``(ids, targets)`` examples: ``steps`` AdamW
    steps, linear warmup for ``warmup`` steps then linear decay to ``lr / 10``; returns the loss
    of every step. (Chapter 8: unlike :func:`lora_finetune`, every weight may change, which
    reading a context, a new skill rather than a new fact, needs.)
    """
    from .finetune import ExampleBatches
    from .generate import _check_model as _check_gpt

    _check_gpt(model)
    steps = check_int("steps", steps, 1)
    lr = check_float("lr", lr, 0.0, exclusive_minimum=True)
    warmup = check_int("warmup", warmup, 0)
    batches = ExampleBatches(examples, batch_size, seed=seed, max_len=model.config.block_size)
    return _adamw_steps(model, batches, steps, lr,
                        lambda step: min(1.0, (step + 1) / max(1, warmup)) * (1 - 0.9 * step / steps))


def _adamw_steps(model, batches, steps: int, lr: float, scale=None) -> list[float]:
    """``steps`` AdamW steps (no weight decay) on the trainable parameters of ``model`` over
    ``batches`` (:class:`minillm.finetune.ExampleBatches`), the learning rate ``lr * scale(step)``
    (constant without ``scale``); returns every step's loss, the model left in eval mode."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    device = next(model.parameters()).device
    losses = []
    model.train()
    for step in range(steps):
        if scale is not None:
            for group in opt.param_groups:
                group["lr"] = lr * scale(step)
        x, y, mask = batches.batch(step)
        _, loss = model(x.to(device), y.to(device), padding_mask=mask.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses


def idk_examples(tokenizer, known_qas, unknown_qas) -> list:
    """Examples that teach an assistant to say :data:`IDK` about ``unknown_qas`` and to answer
    ``known_qas`` as before (the loss is on the reply only)."""
    _check_tokenizer(tokenizer)
    known, unknown = _check_qas(known_qas), _check_qas(unknown_qas)
    return ([_encode_turn(tokenizer, chat_prompt(q.question), q.answer) for q in known]
            + [_encode_turn(tokenizer, chat_prompt(q.question), IDK) for q in unknown])


def lora_finetune(model, examples, *, steps: int = 40, lr: float = 3e-3, r: int = 8, batch_size: int = 32,
                  seed: int = 0, targets=("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")) -> list[float]:
    """Fine-tune ``model`` in place with LoRA adapters (:func:`minillm.lora.apply_lora`) on
    ``(ids, targets)`` examples for ``steps`` AdamW steps; returns the loss of every step.

    The adapters are merged into the weights at the end (generation then sees them); a model
    that already has adapters has them unmerged and trained further. Tens of steps on a
    laptop CPU take seconds for the course's 1M-parameter models.
    """
    from .finetune import ExampleBatches
    from .generate import _check_model as _check_gpt
    from .lora import LoRALinear, apply_lora, merge_lora

    _check_gpt(model)
    steps = check_int("steps", steps, 1)
    lr = check_float("lr", lr, 0.0, exclusive_minimum=True)
    r = check_int("r", r, 1)
    if isinstance(targets, (str, bytes)) or not hasattr(targets, "__iter__"):
        raise InputTypeError(f"targets must be a list of module names such as ('attn.qkv', 'mlp.fc'), got {targets!r:.40}")
    batches = ExampleBatches(examples, batch_size, seed=seed, max_len=model.config.block_size)
    if not any(isinstance(m, LoRALinear) for m in model.modules()):
        torch.manual_seed(seed)
        present = [t for t in targets if any(n.endswith(t) for n, _ in model.named_modules())]
        apply_lora(model, r=r, alpha=2.0 * r, target_modules=present)
    else:
        for m in model.modules():
            if isinstance(m, LoRALinear) and m.merged:
                m.unmerge()
    losses = _adamw_steps(model, batches, steps, lr)
    merge_lora(model)  # fold the update into the weights (a merged model generates as fast as the base)
    return losses


@torch.no_grad()
def idk_probability(model, tokenizer, qas) -> torch.Tensor:
    """``P(reply starts with "I don't know.")`` for each question, ``(N,)``: an abstention score."""
    qas = _check_qas(qas)
    from .finetune import CHAT_SPACE

    out = [continuation_logprobs(model, tokenizer, chat_prompt(q.question), [CHAT_SPACE + IDK]).exp()[0]
           for q in qas]
    return torch.stack(out).double()


# --- abstention by the model itself: fine-tuned to say "I don't know" about strangers -----------


#: The relations :func:`abstention_examples` asks about by default: chapter 6's SFT relations.
ABSTAIN_RELATIONS = ("birth_city", "birth_year", "job", "color", "food", "pet")


def abstention_examples(tokenizer, world, known_people, unknown_people, *, relations=ABSTAIN_RELATIONS,
                        phrasings: int = 1, seed: int = 0) -> list:
    """Chat examples that teach an assistant to say :data:`IDK` about people it never read about.

    Every ``relations`` question about ``known_people`` (people the model read about) is
    answered with the true answer sentence, every one about ``unknown_people`` (people it never
    saw: their names are new to it) with :data:`IDK`; each question in ``phrasings`` random
    phrasings of :meth:`minillm.world.World.qa`. Each example is ``(ids, targets)`` with the loss
    on the reply only; shuffled. Evaluate on *other* people of both kinds: the lesson is "do I
    know this name", not these names (chapter 8).
    """
    known = _check_people(known_people, "known_people", empty_ok=False)
    unknown = _check_people(unknown_people, "unknown_people", empty_ok=False)
    both = {p.id for p in known} & {p.id for p in unknown}
    if both:
        raise ValueError(f"known_people and unknown_people share {len(both)} people (ids {sorted(both)[:5]}); "
                         "a person is either known to the model or not")
    if isinstance(relations, str) or not relations:
        raise InputTypeError(f"relations must be a non-empty list of relation names, got {relations!r}")
    bad = [r for r in relations if r not in world.RELATIONS]
    if bad:
        raise ValueError(f"relations holds {bad[0]!r}; choose among {', '.join(world.RELATIONS)}")
    phrasings = check_int("phrasings", phrasings, 1)
    seed = check_int("seed", seed, 0)
    out = []
    for k in range(phrasings):
        for people, idk in ((known, False), (unknown, True)):
            for q in _varied_qas(world, people, list(relations), seed * 7919 + 2 * k + idk + 11):
                out.append(_encode_turn(tokenizer, chat_prompt(q.question), IDK if idk else q.answer))
    random.Random(seed).shuffle(out)
    return out


def build_abstainer(model, tokenizer, world, known_people, unknown_people, *, relations=ABSTAIN_RELATIONS,
                    phrasings: int = 1, steps: int = 80, lr: float = 5e-4, batch_size: int = 32,
                    warmup: int = 10, seed: int = 0):
    """A copy of the assistant ``model`` fully fine-tuned (:func:`finetune_examples`) on
    :func:`abstention_examples` to answer about the people it knows and to say :data:`IDK`
    about the ones it does not: abstention by the model itself, closed book (chapter 8).

    ``model`` is left unchanged. Returns ``(abstainer, losses)``. The course's recipe (chat
    model, 80 steps of 32 examples, the SFT cast plus half the other cast as ``known_people``,
    200 fresh people as ``unknown_people``) takes about 10 s on one CPU thread; evaluate it with
    :func:`answer_scores` and :func:`said_idk` on people in neither list.
    """
    import copy

    _check_model(model, tokenizer)
    examples = abstention_examples(tokenizer, world, known_people, unknown_people, relations=relations,
                                   phrasings=phrasings, seed=seed)
    abstainer = copy.deepcopy(model)
    losses = finetune_examples(abstainer, examples, steps=steps, lr=lr, batch_size=batch_size, warmup=warmup,
                               seed=seed)
    return abstainer, losses


def abstention_score(scores: AnswerScores) -> torch.Tensor:
    """The answer score of an abstaining assistant, ``(N,)``: its confidence in the fact it
    states (:attr:`AnswerScores.confidence`), 0 where it said :data:`IDK`. Answer when the score
    reaches a threshold (:func:`minillm.calibration.threshold_for_precision`)."""
    if not isinstance(scores, AnswerScores):
        raise InputTypeError(f"scores must be the AnswerScores of answer_scores(...), got {type(scores).__name__}")
    idk = said_idk(scores.replies)
    return torch.where(idk, torch.zeros_like(scores.confidence), scores.confidence)


# --- a tiny world of facts: frequency and the reversal curse --------------------------------------


def _child_word(person) -> str:
    return "daughter" if person.gender == "female" else "son"


def fact_documents(world, people, repeats, *, reverse: bool = False, seed: int = 0) -> list[str]:
    """Short documents stating each person's birth town and mother, ``repeats[i]`` times for
    ``people[i]`` (in shuffled order, each time one of a few paraphrases).

    The mother fact is written one way, ``"A's mother is B."``; ``reverse=True`` also writes
    ``"B's son is A."`` (the cheap data fix of the reversal curse). People without a mother
    get no mother sentence.
    """
    _check_world(world)
    people = _check_people(people)
    if isinstance(repeats, int) and not isinstance(repeats, bool):
        repeats = [repeats] * len(people)
    if isinstance(repeats, (str, bytes)) or not hasattr(repeats, "__iter__"):
        raise InputTypeError(f"repeats must be an int or a list of ints (one per person), got {repeats!r:.40}")
    if not isinstance(reverse, bool):
        raise InputTypeError(f"reverse must be True or False, got {reverse!r}")
    check_int("seed", seed, 0)
    repeats = list(repeats)
    if len(repeats) != len(people):
        raise ValueError(f"repeats has {len(repeats)} entries but people has {len(people)}")
    for k in repeats:
        check_int("repeats", k, 1)
    rng = random.Random(seed)
    docs = []
    for p, k in zip(people, repeats):
        town = world.town(p).name
        mother = world.people[p.mother] if p.mother is not None else None
        for _ in range(k):
            s = [rng.choice([f"{p.name} was born in {town}.", f"{p.name} was born in the town of {town}."])]
            if mother is not None:
                s.append(f"{p.name}'s mother is {mother.name}.")
                if reverse:
                    s.append(f"{mother.name}'s {_child_word(p)} is {p.name}.")
            rng.shuffle(s)
            docs.append(" ".join(s))
    rng.shuffle(docs)
    return docs


def train_tiny(docs, tokenizer, *, steps: int = 300, seed: int = 0, n_layer: int = 2, n_embd: int = 64,
               block_size: int = 64, batch_size: int = 32, lr: float = 3e-3):
    """A tiny GPT trained from scratch on ``docs`` (a list of strings); returns ``(model, losses)``.

    A few seconds on a laptop CPU: for experiments that need to change the pretraining data.
    """
    from .model import GPT, GPTConfig

    if isinstance(docs, str) or not isinstance(docs, (list, tuple)) or not docs:
        raise InputTypeError("docs must be a non-empty list of strings")
    _check_tokenizer(tokenizer)
    steps = check_int("steps", steps, 1)
    for name, value in (("n_layer", n_layer), ("n_embd", n_embd), ("block_size", block_size),
                        ("batch_size", batch_size)):
        check_int(name, value, 1)
    check_float("lr", lr, 0.0, exclusive_minimum=True)
    torch.manual_seed(seed)
    ids = []
    for d in docs:
        ids += tokenizer.encode(d + "\n\n")
    data = torch.tensor(ids)
    if len(data) <= block_size + 1:
        raise ValueError(f"docs hold {len(data)} tokens, fewer than block_size + 2 = {block_size + 2}")
    model = GPT(GPTConfig(vocab_size=tokenizer.vocab_size, block_size=block_size, n_layer=n_layer,
                          n_head=4, n_embd=n_embd, pos="rope", dropout=0.0))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for step in range(steps):
        for group in opt.param_groups:  # linear warmup, then linear decay to lr / 10
            warm = min(1.0, (step + 1) / 20)
            group["lr"] = lr * warm * (1 - 0.9 * step / steps)
        start = torch.randint(0, len(data) - block_size - 1, (batch_size,), generator=g)
        x = torch.stack([data[s: s + block_size] for s in start.tolist()])
        y = torch.stack([data[s + 1: s + block_size + 1] for s in start.tolist()])
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return model, losses


@torch.no_grad()
def choice_accuracy(model, tokenizer, prompts, candidates, answers) -> torch.Tensor:
    """Multiple choice by log-probability: for each prompt, is ``answers[i]`` the most likely of
    ``candidates`` (scored with a leading space)? Returns a bool tensor ``(N,)``."""
    if isinstance(prompts, str) or len(prompts) != len(answers):
        raise ValueError("prompts and answers must be lists of the same length")
    cands = [" " + c for c in candidates]
    out = []
    for p, a in zip(prompts, answers):
        if a not in candidates:
            raise ValueError(f"answer {a!r} is not among the candidates")
        lp = continuation_logprobs(model, tokenizer, p, cands)
        out.append(candidates[int(lp.argmax())] == a)
    return torch.tensor(out)


__all__ = ["MARKERS", "IDK", "CONTEXT_TEMPLATE", "AnswerScores", "answer_scores", "parse_reply",
           "passage_store", "relevant_passages", "embed_texts", "context_prompt", "context_examples",
           "idk_examples", "lora_finetune", "reading_examples", "reader_examples", "reader_store",
           "retrieved_prompts", "build_reader", "ABSTAIN_RELATIONS", "abstention_examples", "build_abstainer",
           "abstention_score", "said_idk", "finetune_examples", "idk_probability", "fact_documents", "train_tiny",
           "choice_accuracy", "candidate_logprobs", "FACT_PROMPTS"]
