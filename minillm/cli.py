"""The ``minillm`` command line. ``minillm --help`` lists the commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__
from .utils import nonnegative_float, nonnegative_int, positive_float, positive_int


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake in the arguments is one line on stderr (and exit status 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="minillm",
        description="minillm: build a language model on your laptop. "
        "The course lives in chapters/ (run `make lab`); these commands use the package directly.",
    )
    parser.add_argument("--version", action="version", version=f"minillm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check-book", help="validate book.yml and the notebooks it names")
    check.add_argument("manifest", nargs="?", default="book.yml", help="path to book.yml")
    check.set_defaults(func=_check_book)

    ex = sub.add_parser(
        "exercises", help="regenerate exercises/ from solutions/ (strip solution regions)"
    )
    ex.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    ex.add_argument("--solutions", default="solutions", help="folder of solution notebooks")
    ex.add_argument("--exercises", default="exercises", help="folder to write exercises into")
    ex.add_argument("--force", action="store_true",
                    help="also overwrite exercise notebooks that a learner has edited (their answers "
                    "are lost); without it those are skipped and listed")
    ex.set_defaults(func=_exercises)

    exe = sub.add_parser(
        "execute", help="re-execute notebooks in place and stamp them with the hash of their minillm modules",
        description="Run chapter and solutions notebooks in place with the course's kernel (python3) and write "
        "the freshness stamp that `minillm check-book` compares (see minillm/course/fresh.py).",
    )
    exe.add_argument("notebooks", nargs="*", help="notebooks to run (default: every ready chapter and solutions notebook)")
    exe.set_defaults(func=_execute)

    readme = sub.add_parser("readme", help="rewrite the README's course map from book.yml")
    readme.add_argument("--check", action="store_true", help="only report whether the map is out of date")
    readme.set_defaults(func=_readme)
    _add_pretrain(sub)
    _add_generate(sub)
    _add_models(sub)
    return parser


# --- the course's cached models ---------------------------------------------------------------


def _add_models(sub) -> None:
    p = sub.add_parser(
        "models", help="list the course's cached models, or build them (chapters 4-12)",
        description="List the course's named models (minillm.zoo.MODELS): whether each is built "
        "in the cache ($MINILLM_CACHE, default ~/.cache/minillm) and how long a build takes. "
        "With --build, train the ones that are missing (a model's base first), once.",
        epilog="examples:\n  minillm models\n  minillm models --build              # all of them\n"
        "  minillm models --build tinyworld-chat",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*",
                   help="models to build (default: all, less those marked work in progress)")
    p.add_argument("--build", action="store_true", help="train the missing models")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_models)


def _models(args: argparse.Namespace) -> int:
    from .zoo import MODELS, entry, is_built, model_dir, pretrained

    names = args.names or list(MODELS)
    for name in names:
        entry(name)  # an unknown name fails before anything is built
    if args.build:
        for name in names:
            if args.names or MODELS[name].ready:
                pretrained(name, progress=not args.quiet)
    for name in names:
        e = MODELS[name]
        state = "built" if is_built(name) else f"not built (about {e.minutes:g} min)"
        state += "" if e.ready else ", work in progress"
        base = f", from {e.base}" if e.base else ""
        print(f"{name:<22} {state:<42} {e.description}{base}\n{'':<22} {model_dir(name)}")
    return 0


# --- chapter 4: pretrain and generate ---------------------------------------------------------

PRETRAIN_EXAMPLES = """examples:
  minillm pretrain --out runs/tiny                     # the chapter-4 recipe (about a minute)
  minillm pretrain --out runs/tiny --minutes 10        # same model, trained for 10 minutes
  minillm pretrain --out runs/tiny --resume            # continue after a crash or Ctrl-C
  minillm pretrain --out runs/med --preset medium --size default --steps 5000 --compile
  torchrun --nproc_per_node=4 -m minillm pretrain --out runs/med --preset medium  # 4 GPUs (DDP)
"""


def _add_pretrain(sub) -> None:
    p = sub.add_parser(
        "pretrain", help="train a GPT from scratch on a corpus (chapter 4)",
        description="Train a GPT with next-token prediction and save it as model.safetensors, "
        "config.json and tokenizer.json in --out. Checkpoints go to --out/checkpoint.pt, so an "
        "interrupted run continues with --resume. Without options it runs the chapter-4 "
        "TinyWorld recipe. Under torchrun it trains on all processes with DDP.",
        epilog=PRETRAIN_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (model, tokenizer, checkpoints)")
    p.add_argument("--corpus", default=None,
                   help="tinyworld (default), pydoc, tinyshakespeare (downloaded once), "
                   "or the path of a UTF-8 .txt file (last 10%% used for validation)")
    p.add_argument("--size", default=None, help="TinyWorld size: tiny, small (default), default")
    p.add_argument("--vocab-size", type=positive_int, default=None, help="BPE vocabulary size (default 1024)")
    p.add_argument("--preset", default=None,
                   help="GPTConfig preset: tiny, small, medium, gpt2 (default: the chapter's model)")
    p.add_argument("--steps", type=positive_int, default=None, help="optimizer steps (default: the recipe's)")
    p.add_argument("--minutes", type=positive_float, default=None,
                   help="train for this long; with no --steps the steps are chosen to fit")
    p.add_argument("--batch-size", type=positive_int, default=None, help="sequences per step and process")
    p.add_argument("--lr", type=positive_float, default=None, help="peak learning rate")
    p.add_argument("--checkpoint-every", type=nonnegative_int, default=100,
                   help="steps between checkpoints (0: only at the end)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint (its settings are reused)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (its model, tokenizer and checkpoint are "
                   "deleted); without it a folder that holds a run is refused")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (GPU: faster)")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    p.add_argument("--seed", type=nonnegative_int, default=None, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_pretrain)


def _add_sampling_flags(p, temperature: float) -> None:
    p.add_argument("--max-new-tokens", type=positive_int, default=120, help="most tokens to add")
    p.add_argument("--temperature", type=nonnegative_float, default=temperature,
                   help="0 = greedy; higher = more random")
    p.add_argument("--top-k", type=positive_int, default=None,
                   help="sample among the k likeliest tokens only (default: no limit)")
    p.add_argument("--top-p", type=positive_float, default=None,
                   help="nucleus sampling: keep tokens up to this probability mass, in (0, 1]")
    p.add_argument("--min-p", type=nonnegative_float, default=None,
                   help="drop tokens below min-p x the top token's probability")
    p.add_argument("--repetition-penalty", type=positive_float, default=None,
                   help="> 1 discourages repeated tokens (1.2 is mild)")
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (same seed, same text)")


def _add_generate(sub) -> None:
    p = sub.add_parser(
        "generate", help="sample text from a trained model (chapters 4 and 5)",
        description="Load a model folder written by `minillm pretrain` (or the cached "
        "pretrained model, by name: tinyworld) and continue a prompt.",
        epilog="examples:\n  minillm generate runs/tiny --prompt 'Once upon a time' --temperature 0.8\n"
        "  minillm generate tinyworld --top-p 0.9 --stop '.' --num-samples 3",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a model folder, or a course model's name (tinyworld, tinyworld-chat, tinyworld-ch4; see 'minillm models')")
    p.add_argument("--prompt", default="Once upon a time", help="text to continue")
    _add_sampling_flags(p, temperature=0.8)
    p.add_argument("--stop", action="append", default=None, help="stop at this text (repeatable)")
    p.add_argument("--num-samples", type=positive_int, default=1, help="how many continuations")
    p.set_defaults(func=_generate)

    c = sub.add_parser(
        "chat", help="chat with a model in the terminal, streaming its replies (chapter 5)",
        description="Type a message, read the reply as it is written. A model that learned the chat "
        "tokens (recipe.json says \"chat\": true, or --template chat) gets the chat template "
        "<|user|> ...<|end|><|assistant|>; a base model continues the conversation as plain text. "
        "/reset forgets the conversation, /quit (or Ctrl-D) leaves, Ctrl-C stops a reply.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("model", help="a model folder, or a course model's name (e.g. tinyworld-chat; see 'minillm models')")
    _add_sampling_flags(c, temperature=0.7)
    c.set_defaults(max_new_tokens=200)
    c.add_argument("--template", choices=["auto", "chat", "plain"], default="auto",
                   help="chat template or plain continuation (default: from the model folder)")
    c.set_defaults(func=_chat)


def _load_named(name):
    from .zoo import MODELS, load_model_dir, model_dir, pretrained

    if not Path(name).exists() and name in MODELS:
        model, tokenizer = pretrained(name)
        return model, tokenizer, model_dir(name)
    if not Path(name).is_dir():
        raise FileNotFoundError(f"{name} not found: it is neither a model folder nor a course "
                                f"model's name ({', '.join(sorted(MODELS))})")
    model, tokenizer = load_model_dir(name)
    return model, tokenizer, Path(name)


def _sampling(args) -> dict:
    return dict(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                top_p=args.top_p, min_p=args.min_p, repetition_penalty=args.repetition_penalty)


def _pretrain(args: argparse.Namespace) -> int:
    run_pretrain(args)
    return 0


RUN_FILES = ("model.safetensors", "config.json", "tokenizer.json", "run.json", "checkpoint.pt")
"""The files of a ``minillm pretrain`` run; a folder holding any of them holds a run."""


def _run_text(spec: dict):
    """Train and validation text for a run's corpus setting (TinyWorld, a named corpus, a file)."""
    from .data import DownloadError, corpus, load_corpus

    name = spec["name"]
    if name == "tinyworld":
        c = corpus("tinyworld", size=spec.get("size", "small"), seed=spec.get("seed", 0))
        return c.train, c.val
    if name in ("pydoc", "tinyshakespeare", "tinystories"):
        try:
            c = load_corpus(name)
        except DownloadError as exc:
            raise DownloadError(f"--corpus {name} needs the network the first time: {exc} Or pass "
                                "the downloaded file's path as --corpus PATH.") from None
        return c.train, c.val
    path = Path(name)
    if path.is_dir():
        raise IsADirectoryError(f"--corpus {name!r} is a folder; give the path of one UTF-8 text file")
    if not path.is_file():
        raise FileNotFoundError(f"--corpus {name!r} is neither tinyworld, pydoc, tinyshakespeare, "
                                "tinystories nor an existing text file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"--corpus {name!r} is not UTF-8 text (byte {exc.start}: {exc.reason}); "
                         "give a plain text file, or convert it with iconv") from None
    if not text.strip():
        raise ValueError(f"--corpus {name!r} is empty; give a text file with something to learn from")
    cut = int(0.9 * len(text))
    return text[:cut], text[cut:]


def _read_run(run_file: Path) -> dict:
    """``run.json`` of a pretraining run, checked field by field (the message names the field)."""
    from .utils import read_json

    run = read_json(run_file, dict, "a minillm run.json (written by `minillm pretrain`)")
    fields = {"corpus": dict, "vocab_size": int, "tokenizer_chars": int, "model": dict, "train": dict}
    for key, typ in fields.items():
        if key not in run:
            raise ValueError(f"{run_file}: the field {key!r} is missing; the file is damaged. Start "
                             "again with --overwrite (the run cannot be resumed)")
        value = run[key]
        if isinstance(value, bool) or not isinstance(value, typ):
            raise ValueError(f"{run_file}: the field {key!r} is {value!r}, expected a JSON "
                             f"{'object' if typ is dict else 'integer'}; the file is damaged")
    if not isinstance(run["corpus"].get("name"), str):
        raise ValueError(f"{run_file}: corpus.name is {run['corpus'].get('name')!r}, expected a string")
    if not isinstance(run["model"].get("preset"), str):
        raise ValueError(f"{run_file}: model.preset is {run['model'].get('preset')!r}, expected a "
                         "preset name such as 'tiny'")
    return run


def _check_resume(args, out: Path, run_file: Path) -> dict:
    """The run to resume, or a clear refusal: no run, settings given, finished, no checkpoint."""
    from .train import CHECKPOINT, load_checkpoint

    if not run_file.exists():
        raise FileNotFoundError(f"{run_file} not found; --resume continues a run that "
                                f"`minillm pretrain --out {out}` started")
    run = _read_run(run_file)
    given = [flag for flag, value in (
        ("--steps", args.steps), ("--minutes", args.minutes), ("--batch-size", args.batch_size),
        ("--lr", args.lr), ("--preset", args.preset), ("--vocab-size", args.vocab_size),
        ("--corpus", args.corpus), ("--size", args.size), ("--seed", args.seed))
        if value is not None]
    ckpt = out / CHECKPOINT
    state = load_checkpoint(ckpt) if ckpt.exists() else None
    finished = state is not None and state["total_steps"] is not None and state["step"] >= state["total_steps"]
    if given:
        if finished:
            raise ValueError(
                f"the run in {out} is complete ({state['step']} of {state['total_steps']} steps); "
                f"--resume continues an interrupted run with its own settings, so {' '.join(given)} "
                "cannot change or extend it (its learning rate has already decayed to the end of its "
                "schedule). To train for longer, start a new run with more steps: `minillm pretrain "
                "--out NEW_FOLDER --steps N` (or add --overwrite to replace this one)")
        raise ValueError(f"--resume continues the run in {out} with the settings in its run.json; "
                         f"{' '.join(given)} cannot change them. Leave them out, or start a new run "
                         "in another --out (or with --overwrite)")
    if state is None:
        done = (out / "model.safetensors").exists()
        raise FileNotFoundError(
            f"{ckpt} not found, so the run in {out} cannot continue"
            + ("; it finished and its model is in model.safetensors (use `minillm generate "
               f"{out}`). To train again, add --overwrite or choose another --out" if done else
               "; it stopped before its first checkpoint: start it again with --overwrite"))
    return run


def run_pretrain(args) -> Path:
    """What ``minillm pretrain`` does with its parsed arguments; returns the output folder.

    Refuses, before any work: an ``--out`` that is a file or not writable, a folder that already
    holds a run (unless ``--resume`` or ``--overwrite``), settings given with ``--resume``, an
    unknown preset, size or device, and a model too large for the machine.
    """

    import torch.distributed as dist

    from .data import SIZES, encode
    from .model import GPT, GPTConfig, check_model_memory
    from .tokenizer import SPECIAL_TOKENS, BPETokenizer
    from .train import TrainConfig, Trainer, setup_distributed
    from .utils import (
        atomic_write,
        check_output_dir,
        device,
        remove_stale_temporaries,
        seed_everything,
    )
    from .zoo import MODELS, recipe_config

    overwrite = getattr(args, "overwrite", False)
    out = check_output_dir(args.out, "--out")
    if args.resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other: --resume continues the run "
                         f"in {out}, --overwrite replaces it; choose one")
    if args.device:
        device(args.device)  # a device that is not there is refused before any work
    rank, world, _ = setup_distributed()
    run_file = out / "run.json"
    existing = [f for f in RUN_FILES if (out / f).exists()]
    if args.resume:
        run = _check_resume(args, out, run_file)
    else:
        if existing and not overwrite:
            raise FileExistsError(
                f"{out} already holds a run ({', '.join(existing)}); add --resume to continue it, "
                "--overwrite to replace it, or choose another --out")
        if args.preset is not None and args.preset not in GPTConfig.PRESETS:
            raise ValueError(f"--preset {args.preset!r} is not one of {', '.join(GPTConfig.PRESETS)}")
        if args.size is not None and (args.corpus or "tinyworld") != "tinyworld":
            raise ValueError(f"--size applies only to --corpus tinyworld, not to {args.corpus!r}; leave it out")
        if args.size is not None and args.size not in SIZES:
            raise ValueError(f"--size {args.size!r} is not one of {', '.join(SIZES)}")
        n_special = len(SPECIAL_TOKENS)
        if args.vocab_size is not None and args.vocab_size < 256 + n_special:
            raise ValueError(f"--vocab-size {args.vocab_size} is too small: the 256 byte tokens and "
                             f"{n_special} special tokens come first, so it must be at least {256 + n_special}")
        recipe = MODELS["tinyworld-ch4"].recipe
        cfg = recipe_config(recipe)
        train_cfg = cfg.to_dict()
        if args.minutes is not None:  # a time budget: the steps follow from the speed
            train_cfg.update(minutes=args.minutes, steps=args.steps)
        elif args.steps is not None:
            train_cfg["steps"] = args.steps
        if args.steps is not None:  # keep warmup a small part of a short run
            train_cfg["warmup_steps"] = min(train_cfg["warmup_steps"], max(1, args.steps // 10))
        if args.batch_size is not None:
            train_cfg["batch_size"] = args.batch_size
        if args.lr is not None:
            train_cfg.update(lr=args.lr, min_lr=args.lr / 10)
        seed = args.seed if args.seed is not None else 0
        train_cfg.update(seed=seed, checkpoint_every=args.checkpoint_every,
                         compile=args.compile, out_dir=str(out))
        model_spec = ({"preset": args.preset} if args.preset else dict(recipe["model"]))
        run = {"corpus": {"name": args.corpus or "tinyworld", "size": args.size or "small", "seed": seed},
               "vocab_size": args.vocab_size or recipe["tokenizer"]["vocab_size"],
               "tokenizer_chars": recipe["tokenizer"]["train_chars"],
               "model": model_spec, "train": train_cfg}
    try:  # settings (a damaged run.json, or a model too large for this machine) fail before the data
        spec = dict(run["model"])
        check_model_memory(GPTConfig.preset(spec.pop("preset"), vocab_size=run["vocab_size"], **spec))
        TrainConfig(**dict(run["train"], out_dir=str(out), progress=not args.quiet))
    except (TypeError, ValueError) as exc:
        where = f"{run_file}: " if args.resume else ""
        raise ValueError(f"{where}{exc}") from None
    seed_everything(run["train"]["seed"])
    train_text, val_text = _run_text(run["corpus"])
    tok_file = out / "tokenizer.json"
    if args.resume and tok_file.exists():
        tokenizer = BPETokenizer.load(tok_file)
    else:
        tokenizer = BPETokenizer().train(train_text[: run["tokenizer_chars"]], run["vocab_size"])
    spec = dict(run["model"])
    config = GPTConfig.preset(spec.pop("preset"), vocab_size=tokenizer.vocab_size, **spec)
    model = GPT(config)
    train_cfg = dict(run["train"], out_dir=str(out), progress=not args.quiet)
    cfg = TrainConfig(**train_cfg)
    if rank == 0:
        remove_stale_temporaries(out)  # interrupted atomic writes of an earlier start
    if rank == 0 and not args.resume:
        for name in existing:  # --overwrite: the old run goes only now, when the new one starts
            (out / name).unlink()
        out.mkdir(parents=True, exist_ok=True)
        tokenizer.save(tok_file)
        with atomic_write(run_file, "w") as f:
            json.dump(run, f, indent=2)
    train_ids, val_ids = encode(train_text, tokenizer), encode(val_text, tokenizer)
    if rank == 0:
        print(f"{len(train_ids):,} training tokens, vocabulary {tokenizer.vocab_size}, model "
              f"{model.num_params() / 1e6:.2f}M parameters, {world} process(es)")
    trainer = Trainer(model, train_ids, val_ids, cfg, resume=args.resume, device=args.device or None)
    start = trainer.step
    trainer.fit()
    if rank == 0 and not (args.resume and trainer.step == start and (out / "model.safetensors").exists()):
        model.save(out)  # (a finished run that was resumed keeps its files untouched)
    if rank == 0:
        last = trainer.history.evals[-1] if trainer.history.evals else {}
        tok_s = trainer.step * trainer.tokens_per_step / max(trainer.train_seconds, 1e-9)
        print(f"done: {trainer.step} steps, validation loss {last.get('val_loss', float('nan')):.3f}; "
              f"{tok_s:,.0f} tokens/s, {model.flops_per_token() * tok_s / 1e9:.1f} model GFLOP/s "
              f"(6N + 12LTC FLOPs per token); saved to {out}. Try: minillm generate {out}")
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    return out


def _generate(args: argparse.Namespace) -> int:
    from .generate import generate

    model, tokenizer, _ = _load_named(args.model)
    if args.num_samples < 1:
        raise ValueError(f"--num-samples must be at least 1, got {args.num_samples}")
    ids = tokenizer.encode(args.prompt) if args.prompt else []
    if not ids:
        raise ValueError("the prompt is empty; give --prompt some text to continue")
    out = generate(model, [ids] * args.num_samples, tokenizer, stop=args.stop, seed=args.seed,
                   overflow="slide", **_sampling(args))
    for i, text in enumerate(out.text):
        if args.num_samples > 1:
            print(f"--- sample {i + 1}")
        print(args.prompt + text)
    return 0


def _chat_mode(args, tokenizer, folder) -> bool:
    """True: use the chat template; False: plain continuation."""
    from .tokenizer import ASSISTANT, END, USER

    has_tokens = all(t in getattr(tokenizer, "special_tokens", {}) for t in (USER, ASSISTANT, END))
    if args.template == "chat":
        if not has_tokens:
            raise ValueError("--template chat: this tokenizer has no <|user|>/<|assistant|>/<|end|> "
                             "tokens; use --template plain")
        return True
    if args.template == "plain" or not has_tokens:
        return False
    if not (folder / "recipe.json").is_file():
        return False
    from .suite import is_chat_folder

    return is_chat_folder(folder)  # a damaged recipe.json is named, not silently read as "not chat"


def _chat(args: argparse.Namespace, stdin=None, stdout=None) -> int:
    from .generate import SamplingConfig, stream
    from .tokenizer import ASSISTANT, END, ENDOFTEXT, USER

    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    model, tokenizer, folder = _load_named(args.model)
    # check the sampling values before the first message, not after it
    SamplingConfig(args.temperature, args.top_k, args.top_p, args.min_p, args.repetition_penalty)
    if args.max_new_tokens < 1:
        raise ValueError(f"--max-new-tokens must be at least 1, got {args.max_new_tokens}")
    if args.top_k is not None and args.top_k > model.config.vocab_size:
        raise ValueError(f"--top-k: top_k={args.top_k} is larger than the vocabulary ({model.config.vocab_size} "
                         "tokens); leave --top-k out for no limit")
    chat = _chat_mode(args, tokenizer, folder)
    specials = getattr(tokenizer, "special_tokens", {})
    stop_ids = [specials[t] for t in (END, ENDOFTEXT) if t in specials]
    mode = "chat template" if chat else "base model: replies continue the text (no chat template)"
    print(f"minillm chat ({mode}). /reset forgets, /quit leaves, Ctrl-C stops a reply.", file=stdout)
    history: list[int] = []
    turn = 0

    def text_ids(text: str) -> list[int]:  # the user's text never becomes a special token
        try:
            return tokenizer.encode(text, allowed_special=())
        except TypeError:  # tokenizers without special tokens
            return tokenizer.encode(text)

    while True:
        print("you> ", end="", file=stdout, flush=True)
        try:
            line = stdin.readline()
        except KeyboardInterrupt:
            print("\n(type /quit or press Ctrl-D to leave)", file=stdout)
            continue
        if not line:  # end of input (Ctrl-D)
            print(file=stdout)
            return 0
        message = line.rstrip("\n")
        if message.strip() == "/quit":
            return 0
        if message.strip() == "/reset":
            history, turn = [], 0
            print("(conversation forgotten)", file=stdout)
            continue
        if not message.strip():
            continue
        if chat:
            prompt = history + [specials[USER]] + text_ids(" " + message) + [specials[END], specials[ASSISTANT]]
        else:
            prompt = history + text_ids((" " if history else "") + message)
        print("bot> ", end="", file=stdout, flush=True)
        pieces = []
        st = stream(model, tokenizer, prompt, stop_ids=stop_ids, seed=args.seed + turn,
                    truncate_prompt=True, overflow="slide", **_sampling(args))
        try:
            for piece in st:
                # a chat reply starts with the space that follows <|assistant|>: not shown
                shown = piece.lstrip(" ") if chat and not "".join(pieces).strip() else piece
                pieces.append(piece)
                print(shown, end="", file=stdout, flush=True)
        except KeyboardInterrupt:
            print(" [stopped]", end="", file=stdout)
        print(file=stdout, flush=True)
        reply_ids = st.generation.ids[0] if st.generation is not None else text_ids("".join(pieces))
        if chat and (not reply_ids or reply_ids[-1] != specials[END]):
            reply_ids = reply_ids + [specials[END]]
        history = prompt + reply_ids
        turn += 1


def _check_book(args: argparse.Namespace) -> int:
    from .course.book import load_book
    from .course.fresh import stale_notebooks

    book = load_book(args.manifest, check_files=True)
    planned = len(book.chapters) - len(book.ready())
    stale = stale_notebooks(book)
    if stale:
        print("stale notebooks (their stored outputs predate the code):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    print(
        f"{args.manifest}: {len(book.ready())} chapters ready ({planned} planned); "
        "all files and modules present, exercises in sync, stored outputs fresh"
    )
    return 0


def _execute(args: argparse.Namespace) -> int:
    from .course.book import find_root, load_book
    from .course.fresh import main_execute

    return main_execute(args.notebooks, load_book(find_root() / "book.yml"))


def _exercises(args: argparse.Namespace) -> int:
    from .course.book import exercise_numbers, load_book
    from .course.exercises import generate_all

    manifest = Path(args.solutions).parent / "book.yml"
    numbers = exercise_numbers(load_book(manifest)) if manifest.is_file() else None
    skipped: list = []
    stale = generate_all(args.solutions, args.exercises, check=args.check, numbers=numbers,
                         force=args.force, skipped=skipped)
    if args.check and stale:
        print("out of date (run `make exercises`):", *stale, sep="\n  ")
        return 1
    for path in stale:
        print("wrote", path)
    for path, reason in skipped:
        print(f"skipped {path}: {reason}; your work in it is kept (rename it to keep a copy, then "
              "run `python -m minillm exercises --force` to get the new version)")
    return 0


def _readme(args: argparse.Namespace) -> int:
    from .course.book import find_root, load_book, sync_readme

    root = find_root()
    changed = sync_readme(load_book(root / "book.yml"), root / "README.md", check=args.check)
    if args.check and changed:
        print("README.md's course map is out of date; run `make exercises`")
        return 1
    print("README.md course map", "updated" if changed else "already up to date")
    return 0


USER_ERRORS = (ValueError, TypeError, OSError, FloatingPointError)
"""What a user's mistake raises (bad values, wrong types, missing or unwritable files, no
network: ``DownloadError`` is an ``OSError``; a loss that became NaN with too high a learning
rate: ``NonFiniteLossError``). ``main`` prints these as one line."""


def main(argv: list[str] | None = None) -> int:
    """Run one ``minillm`` command; returns the exit status.

    A user's mistake (any of :data:`USER_ERRORS`, raised by the argument checks of the
    subcommand or of the API it calls) becomes one line on stderr, ``minillm CMD: error: ...``,
    and exit status 2; set ``MINILLM_DEBUG=1`` to see the traceback instead. Other exceptions
    (bugs) keep their traceback. Ctrl-C prints one line and exits with 130.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    prog = f"{parser.prog} {args.command}"
    try:
        return args.func(args)
    except USER_ERRORS as exc:
        if os.environ.get("MINILLM_DEBUG"):
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = " (continue with --resume)" if args.command == "pretrain" else ""
        print(f"{prog}: interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
