"""Fine-tuning a pretrained GPT: classification and instruction tuning (chapter 6).

A pretrained ("base", or "foundation") model continues documents. Fine-tuning trains it a little
more, on the data we actually want it for, with the same :class:`minillm.train.Trainer`:

**Classification.** :class:`Classifier` puts a linear head on the hidden state of each
sequence's *last real token*. Under the causal mask the last token is the only position that
has attended to every token of the text, so it is the one summary of the whole input a
decoder-only model has (the first token has seen only itself). :func:`freeze` chooses what
trains: the head only (a frozen backbone, "linear probing"), the last blocks, or everything.
Class imbalance is handled by weighting the loss by inverse class frequency
(:func:`class_weights`). :func:`review_dataset` writes TinyWorld reviews with sentiment labels.

**Instruction tuning (SFT).** A conversation is written in the chat template with the
tokenizer's special tokens, ``<|user|> question<|end|><|assistant|> answer<|end|>``
(:func:`format_chat`). :func:`encode_chat` returns the ids and the targets, with ``-100`` (which
:meth:`minillm.model.GPT.forward` ignores) on every token the assistant did not write, so the loss
is only on the assistant's reply: the model learns to answer, not to write questions.
:func:`qa_conversations` makes conversations from TinyWorld's questions.

**Batches.** :class:`ExampleBatches` pads examples of different lengths to the longest in the
batch and returns ``(x, y, padding_mask)``; it has the ``batch(step, micro, rank, world)``
method :class:`minillm.train.Trainer` takes in place of a token array, so fine-tuning reuses the
trainer (resume, checkpoints, progress, DDP) rather than a second loop.

The LoRA adapters are in :mod:`minillm.lora`.
"""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .tokenizer import ASSISTANT, END, SYSTEM, USER
from .utils import InputTypeError, check_bool, check_float, check_int

IGNORE = -100
"""The target id that the loss skips (``F.cross_entropy(ignore_index=-100)``)."""

_ROLES = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}
#: What separates a role token from its message. Our BPE, like GPT-2's, folds the space before a
#: word into the word's token, and pretraining text has a space before nearly every name; with no
#: space, "<|assistant|>Vuly Jubrook" spells the name in pieces the base model never saw at the
#: start of a word, and SFT on 50 people learned to recite their answers instead of reading the
#: question (measured in chapter 6: 0% on other people's questions without it).
CHAT_SPACE = " "


# --- the chat template -------------------------------------------------------------------------


def _check_messages(messages) -> None:
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES or not isinstance(m.get("content"), str):
            raise ValueError(f"messages[{i}] must be a dict with role in {sorted(_ROLES)} and a str "
                             f"content, got {m!r}")


def format_chat(messages: list[dict], add_generation_prompt: bool = False) -> str:
    """A conversation as text: ``<|user|> ...<|end|><|assistant|> ...<|end|>`` (chapter 6).

    Each role token is followed by a space, so that the message's first word is tokenized as it
    is in running text (`` Vuly``, one token the base model knows, not ``V``, ``u``, ``ly``):
    see :data:`CHAT_SPACE`. ``add_generation_prompt=True`` appends ``<|assistant|>`` so that the
    model writes the reply (which then starts with that space).
    """
    _check_messages(messages)
    check_bool("add_generation_prompt", add_generation_prompt)
    text = "".join(f"{_ROLES[m['role']]}{CHAT_SPACE}{m['content']}{END}" for m in messages)
    return text + (ASSISTANT if add_generation_prompt else "")


def encode_chat(tokenizer, messages: list[dict], mask_prompt: bool = True):
    """Token ids of a conversation and the next-token targets, with the loss mask.

    Returns ``(ids, targets)``, two lists of the same length (the conversation minus its last
    token, and the conversation shifted by one). With ``mask_prompt=True`` a target is ``-100``
    unless it is a token of an assistant turn (its content and its closing ``<|end|>``), so the
    loss is only on what the assistant says; ``mask_prompt=False`` trains on every token.
    """
    _check_messages(messages)
    if isinstance(tokenizer, (str, bytes)) or not hasattr(tokenizer, "encode"):
        raise InputTypeError(f"tokenizer must be a minillm tokenizer with the chat tokens, got "
                             f"{type(tokenizer).__name__} {tokenizer!r:.40}")
    check_bool("mask_prompt", mask_prompt)
    ids: list[int] = []
    learn: list[bool] = []
    for m in messages:
        head = tokenizer.encode(_ROLES[m["role"]])
        body = tokenizer.encode(CHAT_SPACE + m["content"] + END)
        ids += head + body
        learn += [False] * len(head) + [m["role"] == "assistant"] * len(body)
    if len(ids) < 2:
        raise ValueError("the conversation encodes to fewer than 2 tokens")
    targets = [t if (ok or not mask_prompt) else IGNORE for t, ok in zip(ids[1:], learn[1:])]
    return ids[:-1], targets


def qa_conversations(world, people, relations=None, *, seed: int = 0, per_person: int | None = None):
    """Chat conversations (one question, one answer) about ``people``'s facts, and the QAs.

    ``relations`` defaults to every relation of ``World.RELATIONS``; ``per_person`` keeps that
    many relations per person (at random, with ``seed``). Returns a list of
    ``(messages, qa)`` pairs.
    """
    if isinstance(relations, str):
        raise InputTypeError(f"relations must be a list of relations, got the str {relations!r}; "
                             f"write [{relations!r}]")
    rels = list(world.RELATIONS if relations is None else relations)
    for r in rels:
        if not isinstance(r, str) or r not in world.RELATIONS:
            raise ValueError(f"relation {r!r} is not one of {', '.join(world.RELATIONS)}")
    check_int("seed", seed, 0)
    check_int("per_person", per_person, 1, allow_none=True)
    rng = random.Random(seed)
    out = []
    for p in people:
        chosen = rels if per_person is None else rng.sample(rels, min(per_person, len(rels)))
        for r in chosen:
            qa = world.qa(p, r, random.Random(rng.randrange(2**31)))
            out.append((qa.chat(), qa))
    return out


# --- batches of examples -----------------------------------------------------------------------


class ExampleBatches:
    """Batches of variable-length examples, padded, for :class:`minillm.train.Trainer`.

    ``examples`` is a list of ``(ids, targets)`` (token lists of equal length, targets ``-100``
    where no loss is wanted) or of ``(ids, label)`` with an int label (classification).
    ``batch(step, micro=0, rank=0, world=1)`` returns ``x`` ``(B, T)``, ``y`` (``(B, T)``, or
    ``(B,)`` labels) and ``padding_mask`` ``(B, T)`` (True = real token), ``T`` the longest
    example of the batch; padding gets id ``pad_id`` and target ``-100``. The examples of a step
    depend only on ``(seed, step)`` (a reshuffled pass over the data each epoch), so a resumed
    run sees the same batches, and each of ``world`` processes takes its own slice.
    """

    def __init__(self, examples, batch_size: int, pad_id: int = 0, grad_accum: int = 1,
                 seed: int = 0, max_len: int | None = None):
        if isinstance(examples, (str, bytes)) or not isinstance(examples, (list, tuple)):
            raise InputTypeError(f"examples must be a list of (ids, targets) or (ids, label), got "
                                 f"{type(examples).__name__}")
        if not examples:
            raise ValueError("examples is empty; give a list of (ids, targets) or (ids, label)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise InputTypeError(f"batch_size must be a positive int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        pad_id = check_int("pad_id", pad_id, 0)
        grad_accum = check_int("grad_accum", grad_accum, 1)
        seed = check_int("seed", seed, 0)
        max_len = check_int("max_len", max_len, 1, allow_none=True)
        self.examples = []
        for i, ex in enumerate(examples):
            if not isinstance(ex, (list, tuple)) or len(ex) != 2:
                raise InputTypeError(f"example {i} must be a pair (ids, targets) or (ids, label), got {ex!r:.60}")
            ids, tgt = ex
            if isinstance(ids, (str, bytes)) or not hasattr(ids, "__len__"):
                raise InputTypeError(f"example {i}: ids must be a list of token ids, got {ids!r:.40}")
            ids = list(ids)
            if not ids:
                raise ValueError(f"example {i} has no tokens")
            bad = [t for t in ids if not _is_int(t)]
            if bad:
                raise InputTypeError(f"example {i}: ids holds {bad[0]!r} of type {type(bad[0]).__name__}; "
                                     "token ids are ints")
            if min(ids) < 0:
                raise ValueError(f"example {i}: ids holds {min(ids)}; token ids are >= 0")
            if not _is_int(tgt):
                if isinstance(tgt, (str, bytes, float, bool)) or not hasattr(tgt, "__len__"):
                    raise InputTypeError(f"example {i}: the second item must be a list of targets or an int "
                                         f"label, got {tgt!r:.40} of type {type(tgt).__name__}")
                wrong = [t for t in tgt if not _is_int(t)]
                if wrong:
                    raise InputTypeError(f"example {i}: targets holds {wrong[0]!r}; targets are token ids "
                                         f"or {IGNORE}")
            if max_len is not None and len(ids) > max_len:
                raise ValueError(f"example {i} has {len(ids)} tokens, more than max_len={max_len} "
                                 "(the model's context); shorten it or raise the block size")
            if not isinstance(tgt, (int, np.integer)) and len(tgt) != len(ids):
                raise ValueError(f"example {i}: {len(ids)} ids but {len(tgt)} targets")
            self.examples.append((ids, tgt if isinstance(tgt, (int, np.integer)) else list(tgt)))
        self.labels = isinstance(self.examples[0][1], (int, np.integer))
        for i, (_, tgt) in enumerate(self.examples):
            if isinstance(tgt, (int, np.integer)) != self.labels:
                raise ValueError(f"example {i} has {'a label' if not self.labels else 'targets'} but example 0 "
                                 f"has {'a label' if self.labels else 'targets'}; use one kind for all")
        self.batch_size, self.pad_id, self.grad_accum, self.seed = batch_size, pad_id, grad_accum, seed

    def __len__(self) -> int:
        return len(self.examples)

    def indices(self, step: int, world: int = 1) -> np.ndarray:
        """Example indices of the step's global batch (``batch_size * grad_accum * world``)."""
        n = self.batch_size * self.grad_accum * world
        start = step * n
        out = []
        while len(out) < n:
            epoch, pos = divmod(start + len(out), len(self.examples))
            perm = np.random.default_rng([self.seed, epoch]).permutation(len(self.examples))
            out.extend(perm[pos: pos + n - len(out)].tolist())
        return np.asarray(out)

    def collate(self, idx) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pad the examples ``idx`` into ``(x, y, padding_mask)``."""
        rows = [self.examples[i] for i in idx]
        t = max(len(ids) for ids, _ in rows)
        x = torch.full((len(rows), t), self.pad_id, dtype=torch.long)
        mask = torch.zeros(len(rows), t, dtype=torch.bool)
        y = (torch.tensor([int(lab) for _, lab in rows]) if self.labels
             else torch.full((len(rows), t), IGNORE, dtype=torch.long))
        for b, (ids, tgt) in enumerate(rows):
            x[b, : len(ids)] = torch.tensor(ids)
            mask[b, : len(ids)] = True
            if not self.labels:
                y[b, : len(ids)] = torch.tensor(tgt)
        return x, y, mask

    def batch(self, step: int, micro: int = 0, rank: int = 0, world: int = 1):
        idx = self.indices(step, world)
        i = (micro * world + rank) * self.batch_size
        return self.collate(idx[i: i + self.batch_size])


# --- classification ----------------------------------------------------------------------------


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _check_labels(name: str, labels, n_classes: int | None = None) -> torch.Tensor:
    """Class ids as a 1-D long tensor; errors name ``name``."""
    if isinstance(labels, (str, bytes)):
        raise InputTypeError(f"{name} must be a list of int class ids, got a {type(labels).__name__}")
    try:
        t = torch.as_tensor(labels if isinstance(labels, torch.Tensor) else list(labels))
    except (TypeError, ValueError, RuntimeError):
        raise InputTypeError(f"{name} must be a list of int class ids, got {labels!r:.60}") from None
    if t.numel() and (t.is_floating_point() or t.dtype == torch.bool or t.is_complex()):
        raise InputTypeError(f"{name} must hold int class ids, got dtype {t.dtype}")
    t = t.long().flatten()
    if n_classes is not None and t.numel() and (int(t.min()) < 0 or int(t.max()) >= n_classes):
        bad = t[(t < 0) | (t >= n_classes)][0].item()
        raise ValueError(f"{name} holds class {bad}, outside 0..{n_classes - 1} (n_classes={n_classes})")
    return t


class Classifier(nn.Module):
    """A GPT backbone and a linear head on the last real token's hidden state (chapter 6).

    ``forward(idx, labels=None, padding_mask=None)`` maps ``idx`` ``(B, T)`` (right-padded,
    ``padding_mask`` True on real tokens) to ``(logits (B, K), loss)``; the loss is the
    cross-entropy with ``labels`` ``(B,)``, weighted by ``class_weights`` if given.
    """

    def __init__(self, backbone, n_classes: int, class_weights=None):
        super().__init__()
        if isinstance(n_classes, bool) or not isinstance(n_classes, int):
            raise InputTypeError(f"n_classes must be an int >= 2, got {n_classes!r}")
        if n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
        if not isinstance(backbone, nn.Module) or not hasattr(getattr(backbone, "config", None), "n_embd"):
            raise InputTypeError(f"backbone must be a minillm GPT, got {type(backbone).__name__}")
        self.backbone = backbone
        self.config = backbone.config
        self.head = nn.Linear(backbone.config.n_embd, n_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)
        w = None
        if class_weights is not None:
            try:
                w = torch.as_tensor(class_weights, dtype=torch.float32)
            except (TypeError, ValueError, RuntimeError):
                raise InputTypeError(f"class_weights must be {n_classes} numbers, got {class_weights!r:.60}") from None
        if w is not None and w.shape != (n_classes,):
            raise ValueError(f"class_weights must have {n_classes} entries, got {tuple(w.shape)}")
        if w is not None and (not torch.isfinite(w).all() or (w < 0).any() or not w.sum() > 0):
            raise ValueError(f"class_weights must be finite numbers >= 0, not all 0, got {w.tolist()}")
        self.register_buffer("class_weights", w, persistent=False)

    def features(self, idx: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The last real token's hidden state, ``(B, C)``."""
        hidden, _ = self.backbone(idx, padding_mask=padding_mask, return_hidden=True)
        if padding_mask is None:
            return hidden[:, -1]
        last = padding_mask.long().sum(1) - 1  # right padding: the last True of each row
        if (last < 0).any():
            raise ValueError("padding_mask has a row with no real token")
        return hidden[torch.arange(idx.size(0), device=idx.device), last]

    def forward(self, idx, labels=None, padding_mask=None):
        logits = self.head(self.features(idx, padding_mask))
        loss = None
        if labels is not None:
            if not isinstance(labels, torch.Tensor) or labels.shape != logits.shape[:1]:
                got = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
                raise ValueError(f"labels must be a tensor of shape ({logits.size(0)},), one class id per row "
                                 f"of idx, got {got}")
            _check_labels("labels", labels.detach().cpu() if labels.device.type == "cpu" else labels[:0],
                          logits.size(-1))
            w = None if self.class_weights is None else self.class_weights.to(logits.device)
            loss = F.cross_entropy(logits, labels.long(), weight=w)
        return logits, loss

    @torch.no_grad()
    def predict(self, batches: ExampleBatches, chunk: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted and true labels of every example of ``batches``, in order."""
        was = self.training
        self.eval()
        preds, trues = [], []
        dev = next(self.parameters()).device
        try:
            for k in range(0, len(batches), chunk):
                x, y, m = batches.collate(range(k, min(k + chunk, len(batches))))
                preds.append(self(x.to(dev), padding_mask=m.to(dev))[0].argmax(-1).cpu())
                trues.append(y)
        finally:
            self.train(was)
        return torch.cat(preds), torch.cat(trues)


def freeze(model: nn.Module, train: str = "all") -> int:
    """Choose what fine-tunes; returns the number of trainable parameters.

    ``model`` is a :class:`Classifier` (or a GPT). ``train``: ``"head"`` (backbone frozen, only
    the classifier head learns), ``"last1"``, ``"last2"``... (the head, the final norm and the
    last N blocks), or ``"all"`` (full fine-tuning).
    """
    backbone = model.backbone if isinstance(model, Classifier) else model
    if not isinstance(model, nn.Module) or not hasattr(backbone, "blocks"):
        raise InputTypeError(f"model must be a Classifier or a minillm GPT, got {type(model).__name__}")
    if not isinstance(train, str):
        raise InputTypeError(f"train must be 'head', 'lastN' (e.g. 'last2') or 'all', got {train!r}")
    n_layer = len(backbone.blocks)
    if train == "all":
        for p in model.parameters():
            p.requires_grad_(True)
    elif train == "head" or (train.startswith("last") and train[4:].isdigit()):
        k = 0 if train == "head" else int(train[4:])
        if not 0 <= k <= n_layer:
            raise ValueError(f"train={train!r}: the backbone has {n_layer} blocks")
        for p in backbone.parameters():
            p.requires_grad_(False)
        for block in list(backbone.blocks)[n_layer - k:] if k else []:
            for p in block.parameters():
                p.requires_grad_(True)
        if k:
            for p in backbone.norm_f.parameters():
                p.requires_grad_(True)
        if isinstance(model, Classifier):
            for p in model.head.parameters():
                p.requires_grad_(True)
    else:
        raise ValueError(f"train must be 'head', 'lastN' (e.g. 'last2') or 'all', got {train!r}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def class_weights(labels, n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights ``n / (K * count_k)``: every class weighs the same in the loss."""
    n_classes = check_int("n_classes", n_classes, 1)
    labels = _check_labels("labels", labels, n_classes)
    if labels.numel() == 0:
        raise ValueError("labels is empty; class weights need at least one example per class")
    counts = torch.bincount(labels, minlength=n_classes).float()
    if (counts == 0).any():
        missing = [k for k in range(n_classes) if counts[k] == 0]
        raise ValueError(f"classes {missing} have no example; every class needs at least one")
    return counts.sum() / (n_classes * counts)


def confusion_matrix(pred, true, n_classes: int) -> torch.Tensor:
    """``M[i, j]`` = how many examples of true class ``i`` were predicted as ``j``."""
    n_classes = check_int("n_classes", n_classes, 1)
    pred, true = _check_labels("pred", pred, n_classes), _check_labels("true", true, n_classes)
    if pred.shape != true.shape:
        raise ValueError(f"pred has {pred.numel()} entries but true has {true.numel()}; pass one prediction "
                         "per example")
    return torch.bincount(true * n_classes + pred, minlength=n_classes * n_classes).view(
        n_classes, n_classes)


def review_dataset(world, n: int, *, seed: int = 0, positive: float = 0.5):
    """``n`` TinyWorld reviews and labels (1 = positive, 0 = negative), ``positive`` the share
    of positive ones (e.g. 0.8 for an imbalanced set). Returns ``(texts, labels)``."""
    if isinstance(positive, (int, float)) and not isinstance(positive, bool) and not 0.0 < positive < 1.0:
        raise ValueError(f"positive is a share in (0, 1), got {positive!r}")
    check_float("positive", positive, 0, 1, exclusive_minimum=True, exclusive_maximum=True)
    check_int("n", n, 1)
    check_int("seed", seed, 0)
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = "positive" if rng.random() < positive else "negative"
        text, _ = world.review(rng, label)
        texts.append(text)
        labels.append(int(label == "positive"))
    return texts, labels


def text_examples(tokenizer, texts, labels, max_len: int):
    """``(ids, label)`` examples, each text cut to its first ``max_len`` tokens."""
    if isinstance(texts, str) or isinstance(labels, str):
        raise InputTypeError("texts and labels must be lists (one label per text), got a str")
    texts, labels = list(texts), list(labels)
    if len(texts) != len(labels):
        raise ValueError(f"texts has {len(texts)} entries but labels has {len(labels)}; pass one label per text")
    max_len = check_int("max_len", max_len, 1)
    return [(tokenizer.encode(t)[:max_len], int(lab)) for t, lab in zip(texts, labels)]


# --- the course's assistant model --------------------------------------------------------------


def sft_dataset(tokenizer, world, people, relations, *, seed: int = 0, mask_prompt: bool = True,
                batch_size: int = 32, max_len: int | None = None, per_person=None) -> ExampleBatches:
    """:class:`ExampleBatches` of chat QA conversations about ``people`` (chapter 6's SFT data)."""
    convs = qa_conversations(world, people, relations, seed=seed, per_person=per_person)
    examples = [encode_chat(tokenizer, m, mask_prompt=mask_prompt) for m, _ in convs]
    return ExampleBatches(examples, batch_size, pad_id=0, seed=seed, max_len=max_len)


def build_chat(e, folder, base_folder, progress: bool) -> dict:
    """Builder of ``"tinyworld-chat"``: SFT of the base on questions about the cast's QA half.

    Writes the model into ``folder`` and returns its figures: the exact match on questions
    about the other half of the cast (never asked in SFT nor in pretraining), and on held-out
    people (who were never written about).
    """
    from .evaluate import qa_accuracy
    from .train import Trainer
    from .utils import device, seed_everything
    from .zoo import course_people, eval_people, load_model_dir, recipe_config

    seed_everything(0)
    model, tokenizer = load_model_dir(base_folder)
    people = course_people(e.base)
    world = people["world"]
    sft = e.recipe["sft"]
    cfg = recipe_config(e.recipe, progress=progress, eval_every=0)
    block = model.config.block_size
    train = sft_dataset(tokenizer, world, people["qa"], sft["relations"], seed=0,
                        mask_prompt=sft.get("mask_prompt", True), batch_size=cfg.batch_size,
                        max_len=block, per_person=sft.get("per_person"))
    val = sft_dataset(tokenizer, world, eval_people(people["no_qa"], 100), sft["relations"],
                      seed=1, batch_size=cfg.batch_size, max_len=block)
    trainer = Trainer(model, train, val, cfg, device=device())
    trainer.fit()
    losses = trainer.evaluate()
    model.cpu().eval()
    model.save(folder)
    tokenizer.save(folder / "tokenizer.json")
    ev = e.recipe.get("eval", {})
    n, rels = ev.get("people", 100), ev.get("relations", sft["relations"])
    figures = {"chat": True, "train_config": cfg.to_dict(), "steps": trainer.step,
               "sft_train_loss": losses.get("train"), "sft_val_loss": losses.get("val")}
    for split in ("no_qa", "held_out"):
        qas = [world.qa(p, r) for p in eval_people(people[split], n) for r in rels]
        s = qa_accuracy(model, tokenizer, qas)
        figures[f"qa_{split}"] = {"exact": round(s.exact, 4), "contains": round(s.contains, 4),
                                  "by_relation": s.by_relation}
    return figures
