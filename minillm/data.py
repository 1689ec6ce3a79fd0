"""Corpora and training batches: TinyWorld text offline, real text on request, token arrays.

Appendix A explains the data; chapter 0 trains on ``corpus("tinyworld", size="tiny").train``
and chapter 4 feeds :func:`get_batch` windows to a GPT.

Corpora
    ``corpus("tinyworld", size="default", seed=0)`` writes a :class:`Corpus` from
    :class:`minillm.world.World` with no download: stories, biographies, reviews, question-answer
    pairs and arithmetic, split into train and validation **by document** (never through one).
    Named sizes: ``"tiny"`` (about 150 KB), ``"small"`` (about 1 MB), ``"default"`` (about 4 MB);
    or a number of bytes. The same arguments give byte-identical text on every machine.

    ``load_corpus(name)`` returns real text as the same :class:`Corpus`:
    ``"pydoc"`` (the Python standard library's own help topics, ``pydoc_data.topics``, always
    offline), ``"tinyshakespeare"`` (downloaded once into the cache, sha256-checked), and
    ``"tinyworld"`` (the same as :func:`corpus`).

Downloads
    :func:`download` streams a URL with a progress bar into ``minillm.cache_dir()``
    (``$MINILLM_CACHE``, default ``~/.cache/minillm``), checks its sha256 and renames it into
    place only when complete and correct; offline it raises :class:`DownloadError` saying how to
    get the file by hand. Nothing downloads at import.

Batches
    ``tokens = encode(text, tokenizer)`` turns text into a compact 1-D numpy array (``uint8`` for
    bytes, ``uint16`` for vocabularies up to 65,536 ids, else ``uint32``); ``save_tokens`` /
    ``load_tokens`` keep it in a ``.npy`` file opened as a memory map, so a large corpus is
    encoded once and never loaded whole. ``get_batch(tokens, batch_size, block_size, generator)``
    draws random windows ``x`` of shape ``(B, T)`` and the next-token targets ``y`` (``x``
    shifted left by one), as int64 tensors on the chosen device; the same generator seed gives
    the same batches.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .utils import (
    InputTypeError,
    atomic_write,
    cache_dir,
    check_float,
    check_int,
    check_memory,
    check_output_dir,
    remove_stale_temporaries,
)

SIZES = {"tiny": 150_000, "small": 1_000_000, "default": 4_000_000}
"""Named corpus sizes in bytes (the text is cut at the first document past the size)."""

MIXTURE = {"story": 0.40, "biography": 0.30, "qa": 0.10, "review": 0.10, "arithmetic": 0.10}
"""Default share of each TinyWorld document kind, by number of documents drawn."""

SEPARATOR = "\n\n"
"""Documents are joined by one blank line; no document contains a blank line."""

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+")


@dataclass(frozen=True)
class Corpus:
    """A text corpus split into train and validation text.

    Attributes:
        name: ``"tinyworld"``, ``"pydoc"``, ``"tinyshakespeare"``...
        documents: every document, in order (``text == SEPARATOR.join(documents)`` for
            TinyWorld and pydoc).
        text: all of it.
        train, val: the two splits as strings. TinyWorld and pydoc split by document
            (``train == SEPARATOR.join(train_documents)``); tinyshakespeare uses the standard
            split at 90 % of the characters, so published numbers stay comparable.
        train_ids, val_ids: indices into ``documents`` of each split (empty for a character split).
        kinds: for TinyWorld, the kind of each document (``"story"``, ``"biography"``, ...).
        labels: for TinyWorld, ``{document index: "positive" | "negative"}`` for reviews.
        canaries: the :class:`minillm.world.Canary` secrets inserted (training split only).
        world: the :class:`minillm.world.World` the text was written from (TinyWorld only).
    """

    name: str
    documents: list[str]
    text: str
    train: str
    val: str
    train_ids: list[int] = field(default_factory=list)
    val_ids: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    labels: dict[int, str] = field(default_factory=dict)
    canaries: list = field(default_factory=list)
    world: object = field(default=None, repr=False, compare=False)

    @property
    def train_documents(self) -> list[str]:
        return [self.documents[i] for i in self.train_ids]

    @property
    def val_documents(self) -> list[str]:
        return [self.documents[i] for i in self.val_ids]

    def stats(self) -> dict:
        """Counts: documents, bytes (UTF-8), words, distinct_words (lower-cased), duplicate_rate
        (the fraction of documents that repeat an earlier one exactly), and the train/val bytes."""
        words = _WORD.findall(self.text)
        n = len(self.documents)
        return {
            "documents": n,
            "bytes": len(self.text.encode("utf-8")),
            "words": len(words),
            "distinct_words": len({w.lower() for w in words}),
            "duplicate_rate": (1 - len(set(self.documents)) / n) if n else 0.0,
            "train_bytes": len(self.train.encode("utf-8")),
            "val_bytes": len(self.val.encode("utf-8")),
        }

    def __repr__(self) -> str:
        s = self.stats()
        return (f"Corpus({self.name!r}: {s['documents']} documents, {s['bytes']:,} bytes, "
                f"train {s['train_bytes']:,} / val {s['val_bytes']:,})")


# --------------------------------------------------------------------------------------------
# TinyWorld
# --------------------------------------------------------------------------------------------

def _size_in_bytes(size) -> int:
    if isinstance(size, str):
        if size not in SIZES:
            raise ValueError(f"size {size!r} is not one of {', '.join(SIZES)}; "
                             "pass one of those names or a number of bytes")
        return SIZES[size]
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not size >= 1 or size == float("inf"):
        raise ValueError(f"size must be one of {', '.join(map(repr, SIZES))} or a positive "
                         f"number of bytes, got {size!r}")
    # the text, its documents and the two splits each hold a copy: about 4 bytes per byte asked
    check_memory(4 * size, f"corpus('tinyworld', size={size!r})")
    return int(size)


def _check_val_fraction(val_fraction: float) -> None:
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)):
        raise InputTypeError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")


def _split_by_document(name: str, documents: list[str], seed: int, val_fraction: float,
                       min_val: int = 0) -> Corpus:
    """A :class:`Corpus` whose validation split is ``val_fraction`` of ``documents`` (at least
    ``min_val``), drawn at random with ``seed``; the rest train, in order."""
    _check_val_fraction(val_fraction)
    n_val = max(min_val, int(round(val_fraction * len(documents))))
    val_ids = sorted(random.Random(seed).sample(range(len(documents)), n_val))
    val_set = set(val_ids)
    train_ids = [i for i in range(len(documents)) if i not in val_set]
    return Corpus(name=name, documents=documents, text=SEPARATOR.join(documents),
                  train=SEPARATOR.join(documents[i] for i in train_ids),
                  val=SEPARATOR.join(documents[i] for i in val_ids),
                  train_ids=train_ids, val_ids=val_ids)


def corpus(name: str = "tinyworld", size="default", seed: int = 0, *, val_fraction: float = 0.1,
           mixture: dict[str, float] | None = None, canaries: int = 0, canary_repeats: int = 1,
           cast: int | None = None, qa_cast: int | None = None, full_names: bool = False,
           **kwargs) -> Corpus:
    """A corpus by name. ``"tinyworld"`` is generated here; other names go to :func:`load_corpus`.

    TinyWorld arguments:
        size: ``"tiny"`` (~150 KB), ``"small"`` (~1 MB), ``"default"`` (~4 MB) or bytes.
        seed: the world and the text; same seed, byte-identical corpus.
        val_fraction: share of documents held out for validation. The first biography of each
            person always goes to train, so every training person's facts are in the train text.
        mixture: share of each kind, e.g. ``{"story": 1.0}`` for stories only (see ``MIXTURE``).
        canaries, canary_repeats: insert ``canaries`` secret sentences, each ``canary_repeats``
            times, as their own documents in the training split (see ``Corpus.canaries``).
        cast: write biographies of only the first ``cast`` people of :func:`cast_people`
            (``None``: every training person). A smaller cast, each person written about many
            times in different paraphrases, is how a small model learns its people's facts
            (chapter 6; Allen-Zhu and Li 2023, https://arxiv.org/abs/2309.14316).
        qa_cast: with ``cast``, question-answer documents ask only about the first ``qa_cast``
            people of the cast (default: the whole cast); the rest of the cast is never seen in
            question-answer form, so chapter 6 can test whether questions about them are
            answered from the biographies alone.
        full_names: biographies name their person in full in every sentence instead of "he" or
            the first name (see :meth:`minillm.world.World.biography`), so that each fact sits
            next to the name a question uses (chapter 6's knowledge model).

    Results are cached in memory, so calling it again with the same arguments is free.
    """
    if not isinstance(name, str):
        raise InputTypeError(f"name must be a corpus name such as 'tinyworld', got {name!r}")
    check_int("seed", seed, 0)
    if name != "tinyworld":
        if size != "default":
            raise ValueError(f"size={size!r} applies only to the generated 'tinyworld' corpus; "
                             f"{name!r} has a fixed size: leave size out")
        return load_corpus(name, seed=seed, val_fraction=val_fraction, **kwargs)
    if kwargs:
        raise TypeError(f"corpus('tinyworld') got unexpected arguments: {', '.join(kwargs)}")
    nbytes = _size_in_bytes(size)
    _check_val_fraction(val_fraction)
    if mixture is not None and not isinstance(mixture, dict):
        raise InputTypeError(f"mixture must be a dict such as {{'story': 1.0}}, got {mixture!r}")
    mix = dict(MIXTURE if mixture is None else mixture)
    for kind, share in mix.items():
        check_float(f"mixture[{kind!r}]", share, 0.0)
    unknown = set(mix) - set(MIXTURE)
    if unknown or not mix or any(v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError(f"mixture must map some of {', '.join(MIXTURE)} to non-negative shares "
                         f"with a positive sum, got {mixture!r}")
    check_int("canaries", canaries, 0)
    check_int("canary_repeats", canary_repeats, 1)
    if not isinstance(canaries, int) or canaries < 0 or not isinstance(canary_repeats, int) or canary_repeats < 1:
        raise ValueError(f"canaries must be an int >= 0 and canary_repeats an int >= 1, "
                         f"got {canaries!r} and {canary_repeats!r}")
    world = _world(seed)
    if cast is not None and (isinstance(cast, bool) or not isinstance(cast, int)
                             or not 1 <= cast <= len(world.train_people)):
        raise ValueError(f"cast must be None or an int from 1 to {len(world.train_people)} (the "
                         f"training people of World(seed={seed})), got {cast!r}")
    if qa_cast is not None:
        if cast is None:
            raise ValueError("qa_cast needs cast: set cast=N and qa_cast=M (M <= N)")
        if isinstance(qa_cast, bool) or not isinstance(qa_cast, int) or not 1 <= qa_cast <= cast:
            raise ValueError(f"qa_cast must be an int from 1 to cast={cast}, got {qa_cast!r}")
    if not isinstance(full_names, bool):
        raise InputTypeError(f"full_names must be True or False, got {full_names!r}")
    return _tinyworld(nbytes, seed, val_fraction, tuple(sorted(mix.items())), canaries,
                      canary_repeats, cast, qa_cast, full_names)


def cast_people(seed: int = 0, cast: int | None = None) -> list:
    """The training people of ``World(seed)`` in the seeded order biographies are written in.

    ``corpus("tinyworld", cast=N)`` writes biographies of the first ``N`` only, so
    ``cast_people(seed, N)`` is exactly the people such a corpus teaches (chapter 6).
    """
    from .world import _mix

    order = list(_world(seed).train_people)
    random.Random(_mix(seed, 11)).shuffle(order)
    return order if cast is None else order[:cast]


@functools.lru_cache(maxsize=8)
def _tinyworld(nbytes, seed, val_fraction, mixture, n_canaries, canary_repeats, cast=None,
               qa_cast=None, full_names=False) -> Corpus:
    from .world import _mix

    world = _world(seed)
    rng = random.Random(_mix(seed, 11))
    kinds_all = [k for k, _ in mixture]
    weights = [w for _, w in mixture]
    order = list(world.train_people)
    rng.shuffle(order)
    qa_people = None
    if cast is not None:
        order = order[:cast]
        qa_people = order[: qa_cast or cast]
    docs: list[str] = []
    kinds: list[str] = []
    labels: dict[int, str] = {}
    must_train: set[int] = set()
    n_bios = 0
    total = 0
    while total < nbytes:
        kind = rng.choices(kinds_all, weights)[0]
        if kind == "story":
            doc = world.story(rng)
        elif kind == "biography":
            doc = world.biography(order[n_bios % len(order)], rng, full_names=full_names)
            if n_bios < len(order):
                must_train.add(len(docs))
            n_bios += 1
        elif kind == "qa":
            doc = world.qa_document(rng, k=rng.randint(2, 5), people=qa_people)
        elif kind == "review":
            doc, label = world.review(rng)
            labels[len(docs)] = label
        else:
            doc = world.arithmetic_document(rng)
        docs.append(doc)
        kinds.append(kind)
        total += len(doc) + len(SEPARATOR)
    canary_list = world.canaries(n_canaries, seed=seed) if n_canaries else []
    for c in canary_list:
        for _ in range(canary_repeats):
            at = rng.randrange(len(docs) + 1)
            docs.insert(at, c.text)
            kinds.insert(at, "canary")
    # Indices shifted by the insertions: recompute the labels and the must-train set from kinds.
    if canary_list:
        old = [i for i, k in enumerate(kinds) if k != "canary"]
        labels = {old[i]: v for i, v in labels.items()}
        must_train = {old[i] for i in must_train}
    candidates = [i for i, k in enumerate(kinds) if k != "canary" and i not in must_train]
    n_val = min(len(candidates), int(round(val_fraction * len(docs))))
    val_ids = sorted(rng.sample(candidates, n_val))
    val_set = set(val_ids)
    train_ids = [i for i in range(len(docs)) if i not in val_set]
    return Corpus(
        name="tinyworld", documents=docs, text=SEPARATOR.join(docs),
        train=SEPARATOR.join(docs[i] for i in train_ids), val=SEPARATOR.join(docs[i] for i in val_ids),
        train_ids=train_ids, val_ids=val_ids, kinds=kinds, labels=labels, canaries=canary_list,
        world=world)


@functools.lru_cache(maxsize=4)
def _world(seed: int):
    from .world import World

    return World(seed)


# --------------------------------------------------------------------------------------------
# Real corpora and downloads
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """A downloadable text: where it lives, its sha256, and the file name in the cache."""

    url: str
    sha256: str
    filename: str
    description: str
    separator: str = SEPARATOR
    split: str = "chars"  # "chars": the first 90 % of the characters train; "documents": by document


def shared_data(name: str) -> Path:
    """Where the project's shared real text ``name`` lies, for tests and benchmarks.

    ``$MINILLM_SHARED_DATA/name`` if that variable is set, else ``../shared/data/name`` beside the
    repository. The file may be absent (callers skip or fall back, and say so); learners use
    :func:`load_corpus` instead, which downloads and checks the same corpora.
    """
    folder = os.environ.get("MINILLM_SHARED_DATA")
    root = Path(folder) if folder else Path(__file__).resolve().parents[2] / "shared" / "data"
    return root / name


SOURCES = {
    "tinyshakespeare": Source(
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        filename="tinyshakespeare.txt",
        description="about 1.1 MB of Shakespeare's plays, collected by Andrej Karpathy for char-rnn (2015)",
    ),
    # The validation file of TinyStories (Eldan and Li 2023, https://arxiv.org/abs/2305.07759),
    # about 22,000 stories and 19 MB: a sample of the dataset. Pinned to one revision of the
    # dataset repository; the sha256 is the one published for that revision's file.
    "tinystories": Source(
        url="https://huggingface.co/datasets/roneneldan/TinyStories/resolve/"
        "f54c09fd23315a6f9c86f9dc80f725de7d8f9c64/TinyStories-valid.txt",
        sha256="94e431816c4cce81ff71e4408ff8d3bda9a42e8d2663986697c3954288cb38b4",
        filename="TinyStories-valid.txt",
        description="a sample of TinyStories (its validation file, about 19 MB of simple stories)",
        separator="<|endoftext|>",
        split="documents",
    ),
}
"""Real corpora that :func:`load_corpus` can download; each is pinned by its sha256."""


class DownloadError(ConnectionError):
    """A download failed (offline, cut off, or wrong checksum); the message says how to recover."""


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def download(url: str, path: str | os.PathLike, sha256: str, *, progress: bool = True,
             timeout: float = 30.0) -> Path:
    """Download ``url`` to ``path`` and check its sha256; return ``path``.

    The bytes stream into a temporary file next to ``path`` (with a tqdm progress bar when
    ``progress``) and are renamed into place only when the download is complete and the
    checksum matches, so an interrupted or corrupt download never leaves a file at ``path``.
    Raises :class:`DownloadError` (a ``ConnectionError``) saying what failed and how to get the
    file by hand.
    """
    path = Path(path)
    # what an interrupted download left behind (an hour old: not another download in progress)
    remove_stale_temporaries(path.parent, path.name, min_age_s=3600)
    by_hand = (f"To get it by hand, download {url} with a browser or `curl -L -o {path} {url}`, "
               f"and check that its sha256 is {sha256}.")
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=total, unit="B", unit_scale=True, desc=path.name, leave=False)
            try:
                with atomic_write(path) as f:
                    received = 0
                    while block := response.read(1 << 16):
                        f.write(block)
                        h.update(block)
                        received += len(block)
                        if bar is not None:
                            bar.update(len(block))
                    if total is not None and received != total:
                        raise DownloadError(
                            f"the download of {url} was cut off after {received:,} of {total:,} "
                            f"bytes; nothing was saved. Try again, or: {by_hand}")
                    digest = h.hexdigest()
                    if digest != sha256:
                        raise DownloadError(
                            f"the file downloaded from {url} has sha256 {digest}, expected "
                            f"{sha256}; it was not saved (the server may have changed the file "
                            f"or the download was corrupted). {by_hand}")
            finally:
                if bar is not None:
                    bar.close()
    except DownloadError:
        raise
    except urllib.error.HTTPError as e:
        raise DownloadError(f"the server answered HTTP {e.code} {e.reason} for {url}; the file may "
                            f"have moved. {by_hand}") from e
    except (urllib.error.URLError, OSError, TimeoutError, ConnectionError) as e:
        # http.client.IncompleteRead is an HTTPException, handled below.
        reason = getattr(e, "reason", e)
        raise DownloadError(
            f"could not download {url} ({reason}). Are you offline? {by_hand} "
            "Then pass path=... to load_corpus, or put the file in the cache folder.") from e
    except Exception as e:  # http.client.HTTPException (IncompleteRead, BadStatusLine, ...)
        import http.client

        if isinstance(e, http.client.HTTPException):
            raise DownloadError(f"the download of {url} failed ({e!r}); nothing was saved. "
                                f"{by_hand}") from e
        raise
    return path


def load_corpus(name: str, *, path: str | os.PathLike | None = None, url: str | None = None,
                progress: bool = True, seed: int = 0, val_fraction: float = 0.1,
                **kwargs) -> Corpus:
    """A real (or synthetic) corpus by name, as a :class:`Corpus`.

    - ``"pydoc"``: the Python standard library's help topics (``pydoc_data.topics``, about
      465 KB of English about Python), one document per topic; always offline. Split by
      document (``val_fraction`` of the topics, chosen with ``seed``).
    - ``"tinyshakespeare"``: read from ``path`` if given, else from the cache, else downloaded
      (from ``url`` if given, else :data:`SOURCES`); always checked against its sha256. One
      document per speech (paragraphs separated by a blank line); the split is the standard
      one: the first 90 % of the characters train, the rest validate.
    - ``"tinyworld"``: the same as :func:`corpus` (extra keyword arguments go there).

    - ``"tinystories"``: a sample of TinyStories (its validation file, about 19 MB), downloaded
      and checked like tinyshakespeare; one document per story, split by document.
    """
    if not isinstance(name, str):
        raise InputTypeError(f"name must be a corpus name such as 'pydoc', got {name!r}")
    if name not in SOURCES and name in ("tinyworld", "pydoc"):
        for arg, value in (("path", path), ("url", url)):
            if value is not None:
                raise ValueError(f"{arg}={value!r} does not apply to corpus {name!r}, which is built "
                                 f"in (no file to read); {arg} applies only to {', '.join(SOURCES)}. "
                                 f"Leave {arg} out")
    if name == "tinyworld":
        return corpus("tinyworld", seed=seed, val_fraction=val_fraction, **kwargs)
    if kwargs:
        raise TypeError(f"load_corpus({name!r}) got unexpected arguments: {', '.join(kwargs)}")
    if name == "pydoc":
        return _pydoc(seed, val_fraction)
    if name not in SOURCES:
        known = ", ".join(["tinyworld", "pydoc", *SOURCES])
        raise ValueError(f"unknown corpus {name!r}; choose one of {known}")
    src = SOURCES[name]
    if src.split == "documents":
        _check_val_fraction(val_fraction)  # before a download, not after
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise InputTypeError(f"path must be the path of the downloaded {name} file, got {path!r}")
        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"path {str(file)!r} for corpus {name!r} does not exist; "
                                    "pass the path of the downloaded file, or leave path out to download it")
        digest = sha256_of(file)
        if digest != src.sha256:
            raise ValueError(f"the file {file} has sha256 {digest}, but {name} should have "
                             f"{src.sha256}; it is a different or damaged file. Download it "
                             f"again from {src.url}")
    else:
        file = cache_dir() / "corpora" / src.filename
        if not file.is_file() or sha256_of(file) != src.sha256:
            download(url or src.url, file, src.sha256, progress=progress)
    text = file.read_text(encoding="utf-8")
    if src.split == "documents":
        documents = [d.strip() for d in text.split(src.separator) if d.strip()]
        return _split_by_document(name, documents, seed, val_fraction, min_val=1)
    n = int(len(text) * 0.9)
    documents = [d for d in text.split(src.separator) if d.strip()]
    return Corpus(name=name, documents=documents, text=text, train=text[:n], val=text[n:])


@functools.lru_cache(maxsize=4)
def _pydoc(seed: int, val_fraction: float) -> Corpus:
    from pydoc_data.topics import topics

    docs = []
    for key in sorted(topics):
        # Topics contain blank lines; collapse them so a document never contains SEPARATOR.
        body = re.sub(r"\n\s*\n+", "\n", topics[key].strip())
        docs.append(body)
    return _split_by_document("pydoc", docs, seed, val_fraction)


# --------------------------------------------------------------------------------------------
# Token arrays and batches
# --------------------------------------------------------------------------------------------

def dtype_for(vocab_size: int) -> np.dtype:
    """The smallest unsigned dtype that holds ids ``0 .. vocab_size - 1``."""
    check_int("vocab_size", vocab_size)
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    for dt in (np.uint8, np.uint16, np.uint32):
        if vocab_size - 1 <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise ValueError(f"vocab_size {vocab_size} does not fit in uint32")


def encode(text: str, tokenizer=None) -> np.ndarray:
    """Encode ``text`` once into a compact 1-D array of token ids.

    ``tokenizer=None`` uses UTF-8 bytes (256 ids, ``uint8``). Otherwise ``tokenizer.encode(text)``
    must return a list of ints; the dtype follows ``tokenizer.vocab_size`` if it has one (else the
    largest id): ``uint16`` up to 65,536 ids, ``uint32`` beyond.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if tokenizer is None:
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()
    if isinstance(tokenizer, (str, bytes)) or not callable(getattr(tokenizer, "encode", None)):
        raise InputTypeError(f"tokenizer must have an encode(text) method (e.g. a BPETokenizer), got "
                             f"{type(tokenizer).__name__}")
    ids = np.asarray(tokenizer.encode(text), dtype=np.int64)
    if ids.size and ids.min() < 0:
        raise ValueError(f"the tokenizer returned a negative id ({ids.min()})")
    vocab = getattr(tokenizer, "vocab_size", None)
    vocab = int(vocab) if vocab is not None else int(ids.max(initial=0)) + 1
    if ids.size and ids.max() >= vocab:
        raise ValueError(f"token id {ids.max()} is outside the vocabulary (size {vocab})")
    return ids.astype(dtype_for(max(vocab, 256)))


def save_tokens(tokens: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a token array to a ``.npy`` file (atomically); reopen it with :func:`load_tokens`."""
    path = Path(path)
    if path.suffix != ".npy":
        raise ValueError(f"path {str(path)!r} should end in .npy (the file keeps dtype and length)")
    if isinstance(tokens, torch.Tensor):
        tokens = tokens.detach().cpu().numpy()
    arr = np.asarray(tokens)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"tokens must be a 1-D array of integer token ids, got a {arr.dtype} array of "
                         f"shape {arr.shape}")
    check_output_dir(path.parent, "the folder of the token file")
    with atomic_write(path) as f:
        np.save(f, np.ascontiguousarray(tokens))
    return path


def load_tokens(path: str | os.PathLike, mmap: bool = True) -> np.ndarray:
    """Open a token file from :func:`save_tokens`, memory-mapped (read-only) unless ``mmap=False``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"token file {str(path)!r} does not exist; make it with save_tokens")
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # not .npy, truncated, or pickled objects
        raise ValueError(f"{path} is not a readable .npy token file ({' '.join(str(exc).split())}); "
                         "it is damaged or not made by save_tokens: make it again with save_tokens") from None
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{path} is not a .npy token file (it holds {type(arr).__name__}); make it with save_tokens")
    if arr.ndim != 1 or arr.dtype.kind != "u":
        raise ValueError(f"{path} holds a {arr.dtype} array of shape {arr.shape}, expected 1-D unsigned token ids")
    return arr


def _generator(generator) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    if generator is None or (isinstance(generator, int) and not isinstance(generator, bool)):
        g = torch.Generator()
        g.manual_seed(0 if generator is None else generator)
        return g
    raise TypeError(f"generator must be a torch.Generator, an int seed or None, got {generator!r}")


def get_batch(tokens, batch_size: int, block_size: int, generator=None, device=None):
    """Random training windows: ``x`` and ``y`` of shape ``(B, T)`` = ``(batch_size, block_size)``.

    ``tokens`` is a 1-D numpy array (or memmap, or tensor) of ids. Each row starts at a random
    offset ``i``: ``x = tokens[i : i + T]``, ``y = tokens[i + 1 : i + T + 1]``, so ``y[b, t]`` is
    the token that follows ``x[b, t]``. Offsets come from ``generator`` (a ``torch.Generator`` on
    the CPU, advanced by each call, or an int seed); the same seed gives the same batches.
    Returns int64 tensors on ``device`` (default: the CPU). Chapter 4 uses it to pretrain.
    """
    check_int("batch_size", batch_size, 1)
    check_int("block_size", block_size, 1)
    if not isinstance(tokens, (np.ndarray, torch.Tensor)) or tokens.ndim != 1:
        raise ValueError(f"tokens must be a 1-D numpy array or tensor of token ids, got "
                         f"{type(tokens).__name__} of shape {getattr(tokens, 'shape', '?')}")
    if tokens.dtype.is_floating_point if isinstance(tokens, torch.Tensor) else tokens.dtype.kind not in "iu":
        raise ValueError(f"tokens must hold integer token ids, got dtype {tokens.dtype}")
    check_memory(3 * 8 * batch_size * (block_size + 1), f"get_batch(batch_size={batch_size}, "
                 f"block_size={block_size})")
    if device is not None:
        from .utils import device as pick_device

        device = pick_device(device)
    n = len(tokens)
    if n < block_size + 1:
        raise ValueError(f"the token array has {n} tokens, too few for block_size {block_size} "
                         f"(it needs at least {block_size + 1}); use a smaller block_size or more text")
    g = _generator(generator)
    starts = torch.randint(0, n - block_size, (batch_size,), generator=g).numpy()
    idx = starts[:, None] + np.arange(block_size + 1)
    if isinstance(tokens, torch.Tensor):
        chunk = tokens[torch.from_numpy(idx)].long()
    else:
        chunk = torch.from_numpy(np.asarray(tokens)[idx].astype(np.int64))
    x, y = chunk[:, :-1], chunk[:, 1:]
    if device is not None and torch.device(device).type != "cpu":
        dev = torch.device(device)
        if dev.type == "cuda":
            x, y = x.pin_memory(), y.pin_memory()
        return x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
    return x.contiguous(), y.contiguous()


class Batches:
    """An endless iterator of :func:`get_batch` windows with its own seeded generator.

    ``for x, y in Batches(tokens, 32, 128, seed=0, device=dev): ...`` (stop it yourself).
    """

    def __init__(self, tokens, batch_size: int, block_size: int, seed: int = 0, device=None):
        self.tokens, self.batch_size, self.block_size, self.device = tokens, batch_size, block_size, device
        self.generator = _generator(seed)
        get_batch(tokens, batch_size, block_size, torch.Generator(), device)  # bad input fails here

    def __iter__(self):
        return self

    def __next__(self):
        return get_batch(self.tokens, self.batch_size, self.block_size, self.generator, self.device)
