"""Knowledge distillation: a small student learns from a big teacher's soft predictions (chapter 10).

The teacher's full distribution over the vocabulary says more than the one right token: which
wrong tokens are nearly right. Softening both distributions with a temperature ``T`` makes that
"dark knowledge" visible to the student.

Paper: Hinton, Vinyals, Dean (2015), "Distilling the Knowledge in a Neural Network".
https://arxiv.org/abs/1503.02531
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .train import Trainer
from .utils import InputTypeError, check_float, check_int


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor,
    T: float = 2.0,
    alpha: float = 0.5,
    ignore_index: int = -100,
) -> torch.Tensor:
    """``alpha * T**2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, targets)``.

    ``student_logits``, ``teacher_logits``: (..., V), e.g. (B, T, V) or (N, V); ``targets``:
    the matching (...) token ids, with ``ignore_index`` (-100) on positions that count for
    neither term (padding, the prompt). The KL is summed over the vocabulary and averaged over
    the counted positions, like the cross-entropy. The ``T**2`` keeps the soft term's gradients
    the same size whatever ``T`` (Hinton et al. 2015, sec. 2). The teacher gets no gradient.
    """
    for name, t in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            got = f"dtype {t.dtype}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise InputTypeError(f"{name} must be a floating-point tensor (..., V), got {got}")
    if not isinstance(targets, torch.Tensor) or targets.is_floating_point() or targets.dtype == torch.bool:
        got = f"dtype {targets.dtype}" if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise InputTypeError(f"targets must be an integer tensor of token ids (...), got {got}")
    ignore_index = check_int("ignore_index", ignore_index)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"teacher_logits has shape {tuple(teacher_logits.shape)} but student_logits has "
            f"{tuple(student_logits.shape)}; they must match (same vocabulary, same positions)"
        )
    if student_logits.dim() < 2:
        raise ValueError(f"student_logits must have shape (..., V), got {tuple(student_logits.shape)}")
    if targets.shape != student_logits.shape[:-1]:
        raise ValueError(
            f"targets must have shape {tuple(student_logits.shape[:-1])} (the logits without V), "
            f"got {tuple(targets.shape)}"
        )
    if isinstance(T, (int, float)) and not isinstance(T, bool) and not T > 0:
        raise ValueError(f"T must be > 0, got {T!r} (1 to 4 is usual)")
    T = check_float("T", T, 0, exclusive_minimum=True)
    if isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    alpha = check_float("alpha", alpha, 0, 1)
    V = student_logits.shape[-1]
    s, t, y = student_logits.reshape(-1, V), teacher_logits.detach().reshape(-1, V), targets.reshape(-1)
    keep = y != ignore_index
    if not keep.any():
        raise ValueError(f"every target is ignore_index={ignore_index}; nothing to learn from")
    s, t, y = s[keep], t[keep], y[keep]
    if (y < 0).any() or (y >= V).any():
        raise ValueError(f"targets must be token ids in [0, {V}) or {ignore_index}, got {y[(y < 0) | (y >= V)][:3].tolist()}")
    log_p_s = F.log_softmax(s / T, dim=-1)
    log_p_t = F.log_softmax(t / T, dim=-1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1).mean()
    ce = F.cross_entropy(s, y)
    return alpha * T**2 * kl + (1 - alpha) * ce


# --- training a student ------------------------------------------------------------------------


class DistillTrainer(Trainer):
    """A :class:`minillm.train.Trainer` whose training loss is :func:`distillation_loss` against a
    frozen ``teacher`` (chapter 10). Everything else (schedule, clipping, the NaN guard, the
    batches, checkpoints) is the Trainer's, so a hard-label student trained with ``Trainer`` and
    the same ``TrainConfig`` sees exactly the same windows in the same order: equal compute for
    the student, plus one teacher forward pass per batch.

    ``student``, ``teacher``: GPTs with the same vocabulary; the teacher's context must hold the
    student's training windows. ``T``, ``alpha``: as in :func:`distillation_loss`. Evaluation
    (``evaluate()``) reports the plain cross-entropy, comparable with a hard-label student's.
    """

    def __init__(self, student, teacher, train_tokens, val_tokens=None, config=None, *,
                 T: float = 2.0, alpha: float = 0.5, **kwargs):
        from torch import nn

        if not isinstance(teacher, nn.Module):
            raise InputTypeError(f"teacher must be a torch nn.Module (a minillm GPT), got {type(teacher).__name__}")
        sv = getattr(getattr(student, "config", None), "vocab_size", None)
        tv = getattr(getattr(teacher, "config", None), "vocab_size", None)
        if sv is not None and tv is not None and sv != tv:
            raise ValueError(f"teacher has vocab_size={tv} but student has {sv}; distillation compares "
                             "their distributions token by token, so they must share a tokenizer")
        check_float("T", T)  # a str, a bool or NaN is a wrong type/value, named
        check_float("alpha", alpha)
        if not T > 0:
            raise ValueError(f"T must be a number > 0, got {T!r} (1 to 4 is usual)")
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
        super().__init__(student, train_tokens, val_tokens, config, **kwargs)
        tb = getattr(getattr(teacher, "config", None), "block_size", None)
        if tb is not None and tb < self.block_size:
            raise ValueError(f"the teacher's context ({tb} tokens) is shorter than the student's training "
                             f"windows ({self.block_size}); set TrainConfig(block_size={tb}) or less")
        self.teacher = teacher.to(self.device).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.T, self.alpha = float(T), float(alpha)

    def _forward(self, model, batch):
        if not self.model.training:  # evaluation: the plain cross-entropy
            return super()._forward(model, batch)
        x, y = batch[0].to(self.device), batch[1].to(self.device)
        with torch.no_grad():
            teacher_logits, _ = self.teacher(x)
        logits, _ = model(x)
        return logits, distillation_loss(logits, teacher_logits.float(), y, T=self.T, alpha=self.alpha)


def teacher_text(teacher, n_tokens: int, prompt_ids, *, batch_size: int = 64, new_tokens: int | None = None,
                 temperature: float = 1.0, seed: int = 0):
    """Sequence-level distillation's data (Kim and Rush 2016): ``n_tokens`` token ids sampled from
    ``teacher``, as one 1-D int64 numpy array the student trains on like any corpus.

    Each row starts from ``prompt_ids`` (e.g. the ids of the document separator ``"\\n\\n"``), and
    the teacher writes ``new_tokens`` tokens (default: its context minus the prompt) at
    ``temperature``, ``batch_size`` rows at a time, repeatable with ``seed``. The prompt tokens
    are kept, so documents stay separated as in the real corpus.

    Paper: Kim, Rush (2016), "Sequence-Level Knowledge Distillation". https://arxiv.org/abs/1606.07947
    """
    import numpy as np

    from .generate import _check_model, generate

    _check_model(teacher, "teacher")
    n_tokens = check_int("n_tokens", n_tokens, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    if isinstance(prompt_ids, torch.Tensor):
        prompt_ids = prompt_ids.tolist()
    if isinstance(prompt_ids, (str, bytes)) or not hasattr(prompt_ids, "__len__") or not len(prompt_ids) \
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in prompt_ids):
        raise InputTypeError(f"prompt_ids must be a non-empty list of token ids (e.g. tokenizer.encode('\\n\\n')), "
                             f"got {prompt_ids!r:.60}")
    block = teacher.config.block_size
    new_tokens = check_int("new_tokens", block - len(prompt_ids) if new_tokens is None else new_tokens, 1)
    if len(prompt_ids) + new_tokens > block:
        raise ValueError(f"prompt ({len(prompt_ids)} tokens) + new_tokens ({new_tokens}) exceed the teacher's "
                         f"context ({block}); lower new_tokens")
    g = torch.Generator().manual_seed(check_int("seed", seed, 0))
    pieces, total = [], 0
    was_training = teacher.training
    teacher.eval()
    try:
        while total < n_tokens:
            out = generate(teacher, [list(prompt_ids)] * batch_size, max_new_tokens=new_tokens,
                           temperature=temperature, generator=g)
            for row in out.ids:
                pieces += [*prompt_ids, *row]
            total = len(pieces)
    finally:
        teacher.train(was_training)
    return np.asarray(pieces[:n_tokens], dtype=np.int64)


# --- the course's cached student (chapter 10) --------------------------------------------------


def build_student(e, folder, base_folder, progress: bool) -> dict:
    """Builder of ``"tinyworld-student"``: distil the teacher ``e.base`` into a smaller GPT (chapter 10).

    Called by :func:`minillm.zoo.pretrained` as every builder is (see :mod:`minillm.zoo`):
    ``base_folder`` holds the teacher; the student is written into ``folder`` with the teacher's
    tokenizer (distillation compares distributions token by token, so they share it).

    The recipe (``e.recipe``) names:

    - ``"transfer"``: the text the student learns on: ``size`` characters of the teacher's own
      corpus (same generator, seed and options, from the teacher's recipe), with ``mixture``
      overriding the teacher's mix of document kinds (e.g. biographies only);
    - ``"model"``: the student's shape, as in any recipe (:func:`minillm.zoo.recipe_model`);
    - ``"max_param_ratio"``: the most parameters the student may have, as a share of the
      teacher's; a recipe whose student is bigger is refused before any training;
    - ``"train"``: the :class:`minillm.train.TrainConfig` (:func:`minillm.zoo.recipe_config`);
    - ``"distill"``: ``T`` and ``alpha`` of :func:`distillation_loss` (:class:`DistillTrainer`);
    - ``"eval"``: ``people``, how many of the cast to score facts on (as ``build_knowledge``).

    Returns the figures kept in ``recipe.json``: parameters of both models and their ratio, the
    student's and the teacher's held-in fact scores on the same people (exact match of the greedy
    continuation, :func:`minillm.evaluate.fact_completion`), the share of the teacher's facts
    kept, held-out fact scores, the validation loss on the transfer set and the training time
    (wall clock, and CPU seconds of this process, which a busy machine inflates less).
    """
    import time

    from .data import corpus, encode
    from .evaluate import fact_completion
    from .utils import device, seed_everything
    from .zoo import course_people, entry, eval_people, load_model_dir, recipe_config, recipe_model

    if base_folder is None or e.base is None:
        raise ValueError("build_student distils a teacher: give the entry a base (Entry(base='tinyworld', ...))")
    missing = [k for k in ("transfer", "model", "train", "distill", "max_param_ratio") if k not in e.recipe]
    if missing:
        raise ValueError(f"the student's recipe lacks {missing}; it needs 'transfer', 'model', 'train', "
                         "'distill' and 'max_param_ratio' (see minillm.zoo.MODELS['tinyworld-student'])")
    transfer, kd = e.recipe["transfer"], e.recipe["distill"]
    ratio_cap = e.recipe["max_param_ratio"]
    if not (isinstance(ratio_cap, (int, float)) and not isinstance(ratio_cap, bool) and 0 < ratio_cap <= 1):
        raise ValueError(f"recipe['max_param_ratio'] must be a share in (0, 1], got {ratio_cap!r}")
    seed_everything(0)
    teacher, tokenizer = load_model_dir(base_folder)
    student = recipe_model(e.recipe, tokenizer.vocab_size)
    ratio = student.num_params() / teacher.num_params()
    if ratio > ratio_cap:
        raise ValueError(f"the student of recipe['model']={e.recipe['model']} has {student.num_params():,} "
                         f"parameters, {ratio:.3f} of the teacher's {teacher.num_params():,}; more than "
                         f"max_param_ratio={ratio_cap}: make it narrower or shallower")

    name = e.base  # the teacher's corpus: that of the first model up the chain trained from text
    while "corpus" not in entry(name).recipe:
        name = entry(name).base
    c = entry(name).recipe["corpus"]
    options = {**c.get("options", {}), **({"mixture": transfer["mixture"]} if "mixture" in transfer else {})}
    text = corpus(c["name"], size=transfer.get("size", c["size"]), seed=c["seed"], **options)
    train_ids, val_ids = encode(text.train, tokenizer), encode(text.val, tokenizer)

    cfg = recipe_config(e.recipe, progress=progress, eval_every=0)
    trainer = DistillTrainer(student, teacher, train_ids, val_ids, cfg, T=kd.get("T", 1.0),
                             alpha=kd.get("alpha", 0.5), device=device())
    t0, cpu0 = time.perf_counter(), time.process_time()
    trainer.fit()
    train_seconds, train_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    losses = trainer.evaluate()
    student.cpu().eval()
    teacher.cpu()
    student.save(folder)
    tokenizer.save(folder / "tokenizer.json")

    people = course_people(e.base)
    n = e.recipe.get("eval", {}).get("people", 100)
    figures = {"params": student.num_params(), "teacher_params": teacher.num_params(),
               "param_ratio": round(ratio, 4), "train_config": cfg.to_dict(), "steps": trainer.step,
               "train_seconds": round(train_seconds, 1), "train_cpu_seconds": round(train_cpu, 1),
               "transfer_tokens": len(train_ids),
               "val_loss": losses.get("val")}
    for split in ("held_in", "held_out"):
        sample = eval_people(people[split], n)
        s = fact_completion(student, tokenizer, people["world"], sample, choice=False)
        t = fact_completion(teacher, tokenizer, people["world"], sample, choice=False)
        figures[f"facts_{split}"] = {"exact": round(s.exact_all, 4), "by_relation": s.exact}
        figures[f"teacher_facts_{split}"] = {"exact": round(t.exact_all, 4), "by_relation": t.exact}
    kept = figures["facts_held_in"]["exact"] / max(figures["teacher_facts_held_in"]["exact"], 1e-9)
    figures["facts_kept"] = round(kept, 4)
    return figures
