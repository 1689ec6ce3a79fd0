"""The ``minillm`` command line. ``minillm --help`` lists the commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    ex.set_defaults(func=_exercises)

    readme = sub.add_parser("readme", help="rewrite the README's course map from book.yml")
    readme.add_argument("--check", action="store_true", help="only report whether the map is out of date")
    readme.set_defaults(func=_readme)
    _add_pretrain(sub)
    _add_generate(sub)
    return parser


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
    p.add_argument("--corpus", default="tinyworld",
                   help="tinyworld (default), pydoc, tinyshakespeare (downloaded once), "
                   "or the path of a UTF-8 .txt file (last 10%% used for validation)")
    p.add_argument("--size", default="small", help="TinyWorld size: tiny, small (default), default")
    p.add_argument("--vocab-size", type=int, default=None, help="BPE vocabulary size (default 1024)")
    p.add_argument("--preset", default=None,
                   help="GPTConfig preset: tiny, small, medium, gpt2 (default: the chapter's model)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the recipe's)")
    p.add_argument("--minutes", type=float, default=None,
                   help="train for this long; with no --steps the steps are chosen to fit")
    p.add_argument("--batch-size", type=int, default=None, help="sequences per step and process")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint (its settings are reused)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (GPU: faster)")
    p.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_pretrain)


def _add_generate(sub) -> None:
    p = sub.add_parser(
        "generate", help="sample text from a trained model (chapter 4)",
        description="Load a model folder written by `minillm pretrain` (or the cached "
        "pretrained model, by name: tinyworld) and continue a prompt.",
        epilog="example:\n  minillm generate runs/tiny --prompt 'Once upon a time' --temperature 0.8",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a model folder, or 'tinyworld' for the cached pretrained model")
    p.add_argument("--prompt", default="Once upon a time", help="text to continue")
    p.add_argument("--max-new-tokens", type=int, default=120, help="tokens to add")
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy; higher = more random")
    p.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest tokens only")
    p.add_argument("--num-samples", type=int, default=1, help="how many continuations")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same text)")
    p.set_defaults(func=_generate)


def _pretrain(args: argparse.Namespace) -> int:
    run_pretrain(args)
    return 0


def _run_text(spec: dict):
    """Train and validation text for a run's corpus setting (TinyWorld, a named corpus, a file)."""
    from .data import corpus, load_corpus

    name = spec["name"]
    if name == "tinyworld":
        c = corpus("tinyworld", size=spec.get("size", "small"), seed=spec.get("seed", 0))
        return c.train, c.val
    if name in ("pydoc", "tinyshakespeare"):
        c = load_corpus(name)
        return c.train, c.val
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"--corpus {name!r} is neither tinyworld, pydoc, tinyshakespeare "
                                "nor an existing text file")
    text = path.read_text(encoding="utf-8")
    cut = int(0.9 * len(text))
    return text[:cut], text[cut:]


def run_pretrain(args) -> Path:
    """What ``minillm pretrain`` does with its parsed arguments; returns the output folder."""

    import torch.distributed as dist

    from .data import encode
    from .model import GPT, GPTConfig
    from .tokenizer import BPETokenizer
    from .train import CHECKPOINT, TrainConfig, Trainer, setup_distributed
    from .utils import atomic_write, seed_everything
    from .zoo import MODELS, recipe_config

    out = Path(args.out)
    rank, world, _ = setup_distributed()
    run_file = out / "run.json"
    if args.resume:
        if not run_file.exists():
            raise FileNotFoundError(f"{run_file} not found; --resume continues a run that "
                                    f"`minillm pretrain --out {out}` started")
        run = json.loads(run_file.read_text(encoding="utf-8"))
    else:
        if (out / CHECKPOINT).exists():
            raise ValueError(f"{out} already holds a run (checkpoint.pt); add --resume to continue "
                             "it, or choose another --out")
        recipe = MODELS["tinyworld"].recipe
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
        train_cfg.update(seed=args.seed, checkpoint_every=args.checkpoint_every,
                         compile=args.compile, out_dir=str(out))
        model_spec = ({"preset": args.preset} if args.preset else dict(recipe["model"]))
        run = {"corpus": {"name": args.corpus, "size": args.size, "seed": args.seed},
               "vocab_size": args.vocab_size or recipe["tokenizer"]["vocab_size"],
               "tokenizer_chars": recipe["tokenizer"]["train_chars"],
               "model": model_spec, "train": train_cfg}
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
    if rank == 0 and not args.resume:
        out.mkdir(parents=True, exist_ok=True)
        tokenizer.save(tok_file)
        with atomic_write(run_file, "w") as f:
            json.dump(run, f, indent=2)
    train_ids, val_ids = encode(train_text, tokenizer), encode(val_text, tokenizer)
    if rank == 0:
        print(f"{len(train_ids):,} training tokens, vocabulary {tokenizer.vocab_size}, model "
              f"{model.num_params() / 1e6:.2f}M parameters, {world} process(es)")
    trainer = Trainer(model, train_ids, val_ids, cfg, resume=args.resume, device=args.device or None)
    trainer.fit()
    if rank == 0:
        model.save(out)
        last = trainer.history.evals[-1] if trainer.history.evals else {}
        tok_s = trainer.step * trainer.tokens_per_step / max(trainer.train_seconds, 1e-9)
        print(f"done: {trainer.step} steps, validation loss {last.get('val_loss', float('nan')):.3f}; "
              f"{tok_s:,.0f} tokens/s, {model.flops_per_token() * tok_s / 1e9:.1f} model GFLOP/s "
              f"(6N + 12LTC FLOPs per token); saved to {out}. Try: minillm generate {out}")
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    return out


def _generate(args: argparse.Namespace) -> int:
    import torch

    from .zoo import MODELS, load_model_dir, pretrained

    if not Path(args.model).exists() and args.model in MODELS:
        model, tokenizer = pretrained(args.model)
    else:
        model, tokenizer = load_model_dir(args.model)
    ids = tokenizer.encode(args.prompt) if args.prompt else []
    if not ids:
        raise ValueError("the prompt is empty; give --prompt some text to continue")
    g = torch.Generator().manual_seed(args.seed)
    x = torch.tensor([ids] * args.num_samples, dtype=torch.long)
    out = model.generate(x, args.max_new_tokens, temperature=args.temperature, top_k=args.top_k,
                         generator=g)
    for i, row in enumerate(out.tolist()):
        if args.num_samples > 1:
            print(f"--- sample {i + 1}")
        print(tokenizer.decode(row))
    return 0


def _check_book(args: argparse.Namespace) -> int:
    from .course.book import load_book

    book = load_book(args.manifest, check_files=True)
    planned = len(book.chapters) - len(book.ready())
    print(
        f"{args.manifest}: {len(book.ready())} chapters ready ({planned} planned); "
        "all files and modules present, exercises in sync"
    )
    return 0


def _exercises(args: argparse.Namespace) -> int:
    from .course.book import exercise_numbers, load_book
    from .course.exercises import generate_all

    manifest = Path(args.solutions).parent / "book.yml"
    numbers = exercise_numbers(load_book(manifest)) if manifest.is_file() else None
    stale = generate_all(args.solutions, args.exercises, check=args.check, numbers=numbers)
    if args.check and stale:
        print("out of date (run `make exercises`):", *stale, sep="\n  ")
        return 1
    for path in stale:
        print("wrote", path)
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
