"""The course's named models: each one's recipe, where it is cached, how it is built, how it loads.

Chapters 5-12 stand on models that take minutes to train, so each is trained once and cached:
``model, tokenizer = minillm.pretrained("tinyworld")``. This module is their one home:

- :data:`MODELS` maps a name to an :class:`Entry`: a version (bump it when the recipe changes,
  so an old cache is never mistaken for the new model), the recipe (a plain dict, shown in the
  chapters), the model it starts from (``base``), and the function that builds it.
- :func:`pretrained` builds a missing model (its ``base`` first) under a file lock, so two
  notebooks opened at once wait for one build instead of racing, into a temporary folder that
  appears under its final name in one atomic rename. Half-built folders left by an interrupted
  build are removed by the next build. Later calls only load.
- :func:`load_model_dir` loads any model folder (``model.safetensors``, ``config.json``,
  ``tokenizer.json``), cached or written by ``minillm pretrain``.

A builder is named as ``"module:function"`` so that importing this module imports no trainer;
it is called as ``build(entry, folder, base_folder, progress)`` and writes the model's files
into ``folder`` (``base_folder`` is ``None`` for a model trained from scratch); it may return a
dict of figures (losses, accuracies) that go into ``recipe.json`` beside the weights.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .utils import InputTypeError, cache_dir, check_int

INFO_FILE = "recipe.json"


class Pretrained(NamedTuple):
    """A model and its tokenizer: ``model, tokenizer = minillm.pretrained(...)``."""

    model: Any
    tokenizer: Any


@dataclass
class Entry:
    """One named model of the course.

    - ``version``: part of the cache folder's name; bump it whenever ``recipe`` changes.
    - ``recipe``: everything that fixes the model (data, tokenizer, architecture, training).
    - ``build``: ``"module:function"`` that trains it (see the module docstring).
    - ``base``: the name of the model it starts from, or ``None``.
    - ``minutes``: about how long a build takes on a laptop CPU (shown before building).
    - ``description``: one line for listings.
    - ``ready``: False for a model still being developed (its quality bar not met): ``make
      models`` (``minillm models --build`` without names) skips it, so CI does not spend
      minutes on a model nothing uses yet; asking for it by name still builds it.
    """

    version: int
    recipe: dict = field(default_factory=dict)
    build: str = "minillm.zoo:build_pretraining"
    base: str | None = None
    minutes: float = 1.0
    description: str = ""
    ready: bool = True


MODELS: dict[str, Entry] = {
    # The base model of chapters 6-12: a GPT that knows the facts of the 100 people it read about
    # (about 110 biographies each, every sentence naming its person in full, sentences shuffled;
    # question-answer pages about the first 50) and nothing about world.held_out. Its bars (issue
    # 11, benchmarks/course_models.py): fact completion on the cast at least 0.80, near chance on
    # held-out people, built in at most 8 minutes on a 2-core laptop. v3 (issue 16) trains the
    # blocks' matrices with Muon (minillm.optim): 450 steps give a better model than v2's 700
    # AdamW steps (validation loss 0.540 vs 0.565; the chat model built on it answers never-asked
    # questions at 0.99 vs 0.96) in about 0.7 of the time (benchmarks/course_models.py).
    "tinyworld": Entry(
        version=3,
        recipe={
            "corpus": {"name": "tinyworld", "size": 6_000_000, "seed": 0,
                       "options": {"cast": 100, "qa_cast": 50, "full_names": True,
                                   "mixture": {"biography": 0.7, "qa": 0.2, "story": 0.1}}},
            "tokenizer": {"vocab_size": 2048, "train_chars": 400_000},
            "model": {"preset": "tiny", "block_size": 128, "n_layer": 4, "n_head": 4,
                      "n_embd": 128, "pos": "rope"},
            "train": {"preset": "tinyworld", "steps": 450, "batch_size": 32, "lr": 3e-3,
                      "min_lr": 3e-4, "warmup_steps": 50, "optimizer": "muon", "muon_lr": 0.06},
            "eval": {"people": 50},
        },
        build="minillm.zoo:build_knowledge",
        minutes=3.0,
        description="the course's base model: TinyWorld text, knows its 100 people's facts",
    ),
    # the SFT assistant of chapter 6: the base fine-tuned on questions about half of the cast,
    # answering in the chat template; evaluated on the other half's questions
    "tinyworld-chat": Entry(
        version=5,
        recipe={
            "sft": {"relations": ["birth_city", "birth_year", "job", "color", "food", "pet"],
                    "per_person": None, "mask_prompt": True},
            "train": {"preset": "tinyworld", "steps": 120, "batch_size": 32, "lr": 5e-4,
                      "min_lr": 5e-5, "warmup_steps": 12, "weight_decay": 0.0},
            "eval": {"people": 40,
                     "relations": ["birth_city", "birth_year", "job", "color", "food", "pet"]},
        },
        build="minillm.finetune:build_chat",
        base="tinyworld",
        minutes=0.5,
        description="chapter 6's assistant: the base after SFT on chat questions about half its cast",
    ),
    # chapter 4's recipe: a 0.8M-parameter GPT on 1 MB of TinyWorld text, about a minute on a CPU
    # (chapter 5 samples from it)
    "tinyworld-ch4": Entry(
        version=1,
        recipe={
            "corpus": {"name": "tinyworld", "size": "small", "seed": 0},
            "tokenizer": {"vocab_size": 1024, "train_chars": 400_000},
            "model": {"preset": "tiny", "block_size": 128, "n_layer": 4, "n_head": 4,
                      "n_embd": 128, "pos": "rope"},
            "train": {"preset": "tinyworld"},
        },
        minutes=1.0,
        description="chapter 4's TinyWorld GPT, pretrained from scratch in about a minute",
    ),
    # the aligned assistant of chapters 7 and 9: the chat model after DPO on preference pairs that
    # chapter 7's simulated labeller labelled (its taste: correct, about the person asked, one
    # short sentence). Its bar: a higher true reward than the chat model on held-out questions at a
    # small KL (recipe.json records both), built in about a minute.
    # v2 (for the "tinyworld" v3 base): 20 DPO steps instead of 60. The v3 chat model already
    # answers at 3.6-3.7 of the labeller's 4 points, and 60 steps over-fitted its 266 pairs (the
    # reward gain fell to 0.03-0.06, or below zero at 120 steps; benchmarks/rlhf.py).
    "tinyworld-aligned": Entry(
        version=2,
        recipe={
            "task": {"n_train": 128, "n_held": 32, "rounds": 6, "labeller_temperature": 0.5},
            "dpo": {"steps": 20, "lr": 3e-5, "batch_size": 32, "beta": 0.1},
            "eval": {"samples": 4},
        },
        build="minillm.rlhf:build_aligned",
        base="tinyworld-chat",
        minutes=1.0,
        description="chapter 7's aligned assistant: the chat model after DPO on the labeller's preferences",
    ),
    # chapter 10's distilled student: 2 layers x 64 with learned positions (GPT-2's architecture,
    # so minillm.quantize.export_gguf writes it), 0.227 of the teacher's parameters, distilled from
    # "tinyworld" on biographies of its cast (soft targets at T = 1 mixed with 80% hard labels).
    # Its bars (issue 14, benchmarks/distill.py): at most a quarter of the teacher's parameters,
    # at least 90% of its held-in fact accuracy, a build of at most ~5 minutes on a 2-core laptop.
    # Measured (2026-11-27, benchmarks/distill.py, teacher "tinyworld" v2): 239,360 parameters
    # (0.227 of the teacher's); held-in facts 0.975 against the teacher's 1.000 (97.5% kept; all
    # 100 people, 4 relations); held-out people 0.045 (the teacher 0.045: guessing). Built in 221 s
    # wall clock (157 s of CPU in training) on 2 cores shared with other jobs at load average 2.4
    # to 4.7. Two builds gave bit-identical weights. On the v3 teacher (2026-11-28, recipe.json):
    # held-in 0.9325 against the teacher's 0.9875 (94.4% kept), held-out 0.0625 (teacher 0.0375),
    # built in 98 s at load average 2-3.
    "tinyworld-student": Entry(
        version=1,
        recipe={
            "transfer": {"size": 1_500_000, "mixture": {"biography": 1.0}},
            "model": {"preset": "tiny", "block_size": 128, "n_layer": 2, "n_head": 4,
                      "n_embd": 64, "pos": "learned"},
            "max_param_ratio": 0.25,
            "train": {"preset": "tinyworld", "steps": 600, "batch_size": 32, "block_size": 64,
                      "lr": 1e-2, "min_lr": 1e-3, "warmup_steps": 20},
            "distill": {"T": 1.0, "alpha": 0.2},
            "eval": {"people": 100},
        },
        build="minillm.distill:build_student",
        base="tinyworld",
        minutes=4.0,
        description="chapter 10's student: 2 x 64, a quarter of the base's size, distilled from it",
    ),
    # chapter 8's reader: the chat model fully fine-tuned to answer from BM25-retrieved passages
    # (about people it never read about, and people it knows), from memory without passages
    # (its SFT questions), and "I don't know." when the passages are about someone else or when
    # there are none and the person is unknown (minillm.hallucination.build_reader).
    # Bars (issue 13, benchmarks/hallucination.py): held-out accuracy with BM25 retrieval at
    # least 0.80; precision on answered questions at least 0.95 (coverage reported). On the v3
    # base (2026-11-28, recipe.json): held-out 0.925 with BM25, built in 186 s. Measured on v2
    # (--people 20, BM25 top 5, 2-core CPU shared, load about 3, build 254 s): held-out 0.91
    # (met); held-in 0.88 with passages, 0.50 without (the chat model: 0.96); "I don't know."
    # for 0.75 of absent people; precision 0.955 at coverage 0.55 (of at most 0.56) when it also
    # answers only if a retrieved passage names the person (met), 0.875 at 0.27 with its own
    # "I don't know." and a confidence threshold alone (not met).
    "tinyworld-rag": Entry(
        version=1,
        recipe={
            "store": {"absent": 50, "seed": 0},
            "read": {"fresh": 800, "absent": 200, "unknown": 0,
                     "relations": ["birth_city", "birth_year", "job", "color", "food"],
                     "memory_relations": ["birth_city", "birth_year", "job", "color", "food", "pet"],
                     "memory_repeats": 4, "k": [2, 3, 4, 5], "answer_tokens": 24},
            "train": {"steps": 500, "lr": 1.5e-3, "batch_size": 32, "warmup": 30},
            "eval": {"people": 10, "k": 5},
        },
        build="minillm.hallucination:build_reader",
        base="tinyworld-chat",
        minutes=2.0,
        description="chapter 8's reader: the assistant fine-tuned to answer from retrieved passages",
    ),
    # chapter 12's arithmetic model: a character-level GPT trained from scratch on addition word
    # problems in three formats (direct, scratchpad, calculator tool); its tokenizer is
    # minillm.reasoning.char_tokenizer(), one token per digit. Bar (issue 15,
    # benchmarks/reasoning.py): with the calculator, at least 0.95 right at 4 digits.
    "arithmetic": Entry(
        version=3,
        recipe={"world_seed": 0, "data_seed": 1, "n_train": 30000, "digits": (1, 2, 3, 4),
                "n_layer": 4, "n_embd": 96, "n_head": 4, "block_size": 192, "pos": "rope",
                "stages": ((1500, 4e-3, 50), (1500, 3e-3, 20)), "batch_size": 32, "seed": 0},
        build="minillm.reasoning:build_arithmetic",
        minutes=12.0,  # 2 x 1,500 steps in 10 min on a free 2-core machine (CI, 2026-11-27); 25 on a busy one
        description="chapter 12's arithmetic model: addition word problems, scratchpads, a calculator tool",
    ),
}


def entry(name: str) -> Entry:
    """The :class:`Entry` called ``name``, or a ``ValueError`` listing the names there are."""
    if not isinstance(name, str):
        raise InputTypeError(f"no course model called {name!r}: a name is a str; choose one of {sorted(MODELS)}")
    if name not in MODELS:
        raise ValueError(f"no course model called {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name]


def model_dir(name: str = "tinyworld") -> Path:
    """Where :func:`pretrained` keeps the model ``name``: ``cache_dir()/pretrained/NAME-vN``.

    A model built on a base carries the base's folder name too (``tinyworld-chat-v5+tinyworld-v2``),
    so a new version of the base never pairs with a fine-tune of the old one.
    """
    e = entry(name)
    folder = f"{name}-v{e.version}"
    if e.base is not None:
        folder += "+" + model_dir(e.base).name
    return cache_dir() / "pretrained" / folder


def is_built(name: str) -> bool:
    """True when the model ``name`` is in the cache (loading it will not train)."""
    return (model_dir(name) / "model.safetensors").is_file()


def pretrained(name: str = "tinyworld", *, device=None, progress: bool = True) -> Pretrained:
    """A course model, trained once and cached: ``model, tokenizer = pretrained("tinyworld")``.

    The first call runs the entry's recipe (its ``base`` model first, if that is not built
    yet), with a progress bar, and stores ``model.safetensors``, ``config.json``,
    ``tokenizer.json`` and ``recipe.json`` in :func:`model_dir`. Later calls only load. Delete
    the folder to rebuild. The model comes back in eval mode.
    """
    e = entry(name)
    if not isinstance(progress, bool):
        raise InputTypeError(f"progress must be True or False, got {progress!r}")
    if device is not None:  # a wrong device fails now, not after minutes of training
        from .utils import device as check_device

        check_device(device)
    if e.base is not None:
        pretrained(e.base, progress=progress)  # make sure the base is built (loading is cheap)
    folder = model_dir(name)
    if not is_built(name):
        with _file_lock(folder.parent / f".{folder.name}.lock"):
            if not is_built(name):  # nobody built it while we waited
                _build(name, e, folder, progress)
    try:
        return load_model_dir(folder, device=device)
    except (ValueError, FileNotFoundError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith("device"):
            raise
        raise type(exc)(f"the cached model {name!r} is damaged: {exc}. Delete the folder {folder} "
                        "and call pretrained() again to rebuild it") from None


def load_model_dir(folder, device=None) -> Pretrained:
    """Load a model folder (``model.safetensors``, ``config.json``, ``tokenizer.json``).

    ``tokenizer.json`` is a byte-level BPE tokenizer (HF format) or, for chapter 12's
    arithmetic model, a :class:`minillm.tokenizer.CharTokenizer`'s file.

    Works for the cached course models and for the ``--out`` folder of ``minillm pretrain``.
    The model comes back in eval mode.
    """
    from .model import GPT
    from .tokenizer import BPETokenizer, CharTokenizer

    if not isinstance(folder, (str, os.PathLike)):
        raise InputTypeError(f"folder must be a model folder path (str or Path), got {folder!r}")
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} not found; give the --out folder of a "
                                "finished `minillm pretrain` run, or a course model's name")
    if not (folder / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{folder / 'tokenizer.json'} not found; give the --out folder of "
                                "a finished `minillm pretrain` run")
    model = GPT.load(folder, device=device).eval()
    if CharTokenizer.is_char_file(folder / "tokenizer.json"):  # chapter 12's character-level model
        tokenizer = CharTokenizer.load(folder / "tokenizer.json")
    else:
        tokenizer = BPETokenizer.load(folder / "tokenizer.json")
    if tokenizer.vocab_size > model.config.vocab_size:
        raise ValueError(f"{folder / 'tokenizer.json'} has {tokenizer.vocab_size} tokens but the model in "
                         f"{folder} has vocab_size={model.config.vocab_size}; the two files come from "
                         "different runs")
    return Pretrained(model, tokenizer)


def _build(name: str, e: Entry, folder: Path, progress: bool) -> None:
    base_folder = model_dir(e.base) if e.base is not None else None
    if progress:
        print(f"minillm: training the {name!r} model once (about {e.minutes:g} min on a laptop "
              f"CPU); it will be cached in {folder}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    # an interrupted build (killed process) leaves .NAME-vN.* folders; we hold the lock, so any
    # such folder is dead
    for stale in folder.parent.glob(f".{folder.name}.*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        module, func = e.build.split(":")
        figures = getattr(importlib.import_module(module), func)(e, tmp, base_folder, progress) or {}
        info = {"name": name, "version": e.version, "base": e.base, "recipe": e.recipe,
                "seconds": round(time.perf_counter() - start, 1), **figures}
        (tmp / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def _file_lock(path: Path):
    """Hold an exclusive lock on ``path`` (created if needed) across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        if os.name == "nt":  # pragma: no cover - Windows
            import msvcrt

            while True:
                try:
                    msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(0.5)
            try:
                yield
            finally:
                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


# --- pretraining from scratch (chapter 4's recipe and its variants) ----------------------------


def _recipe_part(recipe, key: str, fields: tuple) -> dict:
    """``recipe[key]``, checked: the recipe is a dict, the part a dict holding ``fields``."""
    if not isinstance(recipe, dict):
        raise InputTypeError(f"recipe must be a dict like minillm.zoo.MODELS['tinyworld'].recipe, got "
                             f"{type(recipe).__name__}")
    part = recipe.get(key)
    if not isinstance(part, dict):
        raise ValueError(f"recipe[{key!r}] must be a dict (see minillm.zoo.MODELS['tinyworld'].recipe), got "
                         f"{part!r:.40}")
    missing = [f for f in fields if f not in part]
    if missing:
        raise ValueError(f"recipe[{key!r}] has no {', '.join(map(repr, missing))}; it needs {', '.join(fields)}")
    return part


def recipe_data(recipe: dict):
    """The corpus, a BPE tokenizer trained on it, and the encoded train and validation tokens."""
    from .data import corpus, encode
    from .tokenizer import BPETokenizer

    c = _recipe_part(recipe, "corpus", ("name", "size", "seed"))
    t = _recipe_part(recipe, "tokenizer", ("train_chars", "vocab_size"))
    text = corpus(c["name"], size=c["size"], seed=c["seed"], **c.get("options", {}))
    tokenizer = BPETokenizer().train(text.train[: t["train_chars"]], t["vocab_size"])
    return text, tokenizer, encode(text.train, tokenizer), encode(text.val, tokenizer)


def recipe_model(recipe: dict, vocab_size: int):
    """The untrained GPT the recipe describes, for a tokenizer of ``vocab_size`` tokens."""
    from .model import GPT, GPTConfig

    m = dict(_recipe_part(recipe, "model", ("preset",)))
    return GPT(GPTConfig.preset(m.pop("preset"), vocab_size=vocab_size, **m))


def recipe_config(recipe: dict, **overrides):
    """The recipe's :class:`minillm.train.TrainConfig`, with fields overridden by keyword."""
    from .train import TrainConfig

    t = dict(_recipe_part(recipe, "train", ("preset",)))
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown TrainConfig fields {unknown}; the fields are {sorted(known)}")
    return TrainConfig.preset(t.pop("preset"), **{**t, **overrides})


def build_pretraining(e: Entry, folder: Path, base_folder, progress: bool) -> dict:
    """Builder for models pretrained from scratch: corpus -> tokenizer -> GPT -> Trainer."""
    from .train import Trainer
    from .utils import device, seed_everything

    recipe = e.recipe
    seed_everything(0)
    text, tokenizer, train_ids, val_ids = recipe_data(recipe)
    model = recipe_model(recipe, tokenizer.vocab_size)
    cfg = recipe_config(recipe, progress=progress, eval_every=0)
    trainer = Trainer(model, train_ids, val_ids, cfg, device=device())
    trainer.fit()
    losses = trainer.evaluate()
    model.cpu().save(folder)
    tokenizer.save(folder / "tokenizer.json")
    return {"train_config": cfg.to_dict(), "steps": trainer.step,
            "train_loss": losses.get("train"), "val_loss": losses.get("val"),
            "corpus_stats": text.stats()}


def course_people(name: str = "tinyworld") -> dict:
    """Who a knowledge model was taught about, from its recipe: a dict of lists of ``Person``.

    - ``"held_in"``: the cast, every person whose biographies the pretraining text holds;
    - ``"held_out"``: ``world.held_out``, never written about;
    - ``"qa"`` / ``"no_qa"``: the cast's people that question-answer pages (and chapter 6's
      SFT data) ask about, and the rest of the cast, whose questions are held out;
    - ``"world"``: the :class:`minillm.world.World` itself (key ``"world"``).
    """
    recipe = entry(name).recipe
    while "corpus" not in recipe:  # a fine-tuned model: the people of its base
        name = entry(name).base
        recipe = entry(name).recipe
    return course_people_from_recipe(recipe)


def eval_people(people: list, n: int, seed: int = 0) -> list:
    """A fixed sample of ``n`` of ``people`` (all of them if fewer), for evaluations."""
    import random

    if isinstance(people, (str, bytes)) or not isinstance(people, (list, tuple)):
        raise InputTypeError(f"people must be a list of World people, got {type(people).__name__} {people!r:.40}")
    n = check_int("n", n, 0)
    check_int("seed", seed, 0)
    return people if len(people) <= n else random.Random(seed).sample(people, n)


def build_knowledge(e: Entry, folder: Path, base_folder, progress: bool) -> dict:
    """Builder of the knowledge base model: pretraining, then its fact scores (chapter 6)."""
    figures = build_pretraining(e, folder, base_folder, progress)
    from .evaluate import fact_completion

    model, tokenizer = load_model_dir(folder)
    people = course_people_from_recipe(e.recipe)
    n = e.recipe.get("eval", {}).get("people", 100)
    for split in ("held_in", "held_out"):
        s = fact_completion(model, tokenizer, people["world"], eval_people(people[split], n),
                            choice=False)
        figures[f"facts_{split}"] = {"exact": round(s.exact_all, 4), "by_relation": s.exact}
    return figures


def course_people_from_recipe(recipe: dict) -> dict:
    """:func:`course_people` for a recipe that is not (yet) in :data:`MODELS`."""
    from .data import _world, cast_people

    c = _recipe_part(recipe, "corpus", ("seed",))
    opts = c.get("options", {})
    cast = cast_people(c["seed"], opts.get("cast"))
    n_qa = opts.get("qa_cast") or len(cast)
    world = _world(c["seed"])
    return {"held_in": cast, "held_out": list(world.held_out), "qa": cast[:n_qa],
            "no_qa": cast[n_qa:], "world": world}
