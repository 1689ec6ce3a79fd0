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
    return parser


def _check_book(args: argparse.Namespace) -> int:
    from .book import load_book

    book = load_book(args.manifest, check_files=True)
    print(f"{args.manifest}: {len(book.chapters)} chapters, all files and modules present, exercises in sync")
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
