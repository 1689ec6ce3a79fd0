"""The ``minillm`` command line. ``minillm --help`` lists the commands."""

from __future__ import annotations

import argparse
import sys

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
    from .train import run_pretrain

    run_pretrain(args)
    return 0


def _generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from .train import PRETRAINED_RECIPES, load_run, pretrained

    if not Path(args.model).exists() and args.model in PRETRAINED_RECIPES:
        model, tokenizer = pretrained(args.model)
    else:
        model, tokenizer = load_run(args.model)
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
    from .book import load_book

    book = load_book(args.manifest, check_files=True)
    planned = len(book.chapters) - len(book.ready())
    print(
        f"{args.manifest}: {len(book.ready())} chapters ready ({planned} planned); "
        "all files and modules present, exercises in sync"
    )
    return 0


def _exercises(args: argparse.Namespace) -> int:
    from .exercises import generate_all

    stale = generate_all(args.solutions, args.exercises, check=args.check)
    if args.check and stale:
        print("out of date (run `make exercises`):", *stale, sep="\n  ")
        return 1
    for path in stale:
        print("wrote", path)
    return 0


def _readme(args: argparse.Namespace) -> int:
    from .book import find_root, load_book, sync_readme

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
