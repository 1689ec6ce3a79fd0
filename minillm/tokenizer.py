"""Tokenization: turning text into integer ids and back (chapter 1).

A language model reads and writes integers, so text must first be cut into pieces
("tokens") and each piece given an id. This module builds that step up in the order the
chapter teaches it, each class a little larger than the one before:

1. :class:`CharTokenizer`: one id per character seen in training. Small vocabulary, long
   sequences, and it fails on any character it never saw.
2. :class:`ByteTokenizer`: one id per UTF-8 byte (256 ids). Never fails, but a character
   outside ASCII costs 2 to 4 ids.
3. :class:`BasicBPE`: byte-pair encoding written the textbook way. Start from bytes and
   repeatedly merge the most frequent adjacent pair into a new token. Readable and slow:
   every merge rescans the whole text.
4. :class:`BPETokenizer`: the real thing. Text is first cut by a regular expression
   (GPT-2 or GPT-4 style) so merges never cross word boundaries; training counts each
   distinct piece once and updates pair counts incrementally (an index from pair to the
   pieces holding it, plus a priority queue), so a merge costs work proportional to the
   pieces it touches, not to the corpus. Special tokens (``<|endoftext|>`` and the chat
   tokens of the fine-tuning chapter) get their own ids and are never split. It saves and
   loads a Hugging Face ``tokenizer.json`` that ``tokenizers.Tokenizer.from_file`` reads.

Exactness against Hugging Face ``tokenizers``: with the same split pattern, no normalizer,
``ByteLevel`` bytes and ``initial_alphabet=ByteLevel.alphabet()``, :meth:`BPETokenizer.train`
learns the same merges in the same order as HF's ``BpeTrainer``. The subtle part is ties:
when two pairs are equally frequent, HF takes the pair whose ids are smaller, comparing
the left ids first, in HF's own numbering. HF numbers the 256 byte tokens by the code point
of the printable character that stands for each byte (see :func:`bytes_to_unicode`), so
``"!"`` (byte 33) comes first and the space byte (shown as ``"Ġ"``) comes after every
printable byte; merged tokens are numbered in the order they were made. We keep ids equal
to byte values (easier to read) and break ties with :data:`HF_BYTE_RANK` instead. Encoding
follows HF's algorithm too (lowest merge rank first, leftmost first), so ``encode`` agrees
with the Rust tokenizer on every text the tests try.

Bad input raises ``ValueError``/``TypeError`` naming the input and the fix; decoding a byte
sequence that is not valid UTF-8 (e.g. half of a multi-byte character) replaces each bad
sequence with U+FFFD "�" by default, as the Rust tokenizer does (``errors="strict"`` raises).
"""

from __future__ import annotations

import heapq
import json
import os
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import chain
from pathlib import Path

import regex

from .utils import atomic_write

# --- split patterns -----------------------------------------------------------------------------

#: GPT-2's pre-tokenization pattern (Radford et al., 2019): English contractions, a word with
#: its leading space, a number with its leading space, a run of punctuation, whitespace.
GPT2_SPLIT_PATTERN = (
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)

#: GPT-4's pattern (``cl100k_base`` in tiktoken): case-insensitive contractions, a word may
#: start with one non-letter (so ``"(the"`` or ``" the"``), numbers in groups of at most 3
#: digits, punctuation keeps trailing newlines, newlines are split from other whitespace.
GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)

# --- special tokens -----------------------------------------------------------------------------

#: Marks the boundary between two documents in pretraining data (chapter 4).
ENDOFTEXT = "<|endoftext|>"
#: Chat roles for instruction tuning (the fine-tuning chapter): a conversation is written
#: ``<|system|>...<|end|><|user|>...<|end|><|assistant|>...<|end|>``.
SYSTEM = "<|system|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"
#: Ends one chat turn; generation stops when the model writes it.
END = "<|end|>"
#: The chat tokens, in the order a turn uses them.
CHAT_SPECIAL_TOKENS = (SYSTEM, USER, ASSISTANT, END)
#: What :class:`BPETokenizer` registers unless told otherwise; they take the last ids.
SPECIAL_TOKENS = (ENDOFTEXT, *CHAT_SPECIAL_TOKENS)


# --- bytes as printable characters (GPT-2 / HF ByteLevel) ---------------------------------------


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """The GPT-2 table that shows each byte 0..255 as one printable Unicode character.

    Printable Latin-1 bytes stand for themselves (``"a"`` is ``"a"``); the other 68 bytes
    (control characters, space, ...) are shifted to code points 256 and up, in byte order,
    so the space byte 32 becomes ``"Ġ"`` (U+0120) and newline 10 becomes ``"Ċ"``. HF's
    ``ByteLevel`` pre-tokenizer and ``tokenizer.json`` files write tokens with this table.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shift)
            shift += 1
    return dict(sorted(table.items()))


BYTE_TO_CHAR: dict[int, str] = bytes_to_unicode()
CHAR_TO_BYTE: dict[str, int] = {c: b for b, c in BYTE_TO_CHAR.items()}

#: ``HF_BYTE_RANK[b]`` is where byte ``b`` sits in HF's numbering of the byte alphabet (sorted
#: by the code point of its printable character). Used only to break ties exactly as HF does.
HF_BYTE_RANK: tuple[int, ...] = tuple(
    r for _, r in sorted((b, r) for r, b in enumerate(sorted(range(256), key=lambda b: ord(BYTE_TO_CHAR[b]))))
)


def token_to_hf_string(token: bytes) -> str:
    """Write a token's bytes the way ``tokenizer.json`` does: ``b" the"`` -> ``"Ġthe"``."""
    return "".join(BYTE_TO_CHAR[b] for b in token)


def hf_string_to_token(text: str) -> bytes:
    """Inverse of :func:`token_to_hf_string`; raises ``ValueError`` on a character outside the table."""
    try:
        return bytes(CHAR_TO_BYTE[c] for c in text)
    except KeyError as exc:
        raise ValueError(
            f"token {text!r} contains {exc.args[0]!r}, which is not a ByteLevel character; "
            "minillm loads only byte-level BPE tokenizers (GPT-2 style)"
        ) from None


# --- the two operations of BPE, written for reading ---------------------------------------------


def pair_counts(ids: Sequence[int], counts: dict | None = None, weight: int = 1) -> dict[tuple[int, int], int]:
    """Count adjacent pairs: ``pair_counts([1, 2, 1, 2])`` -> ``{(1, 2): 2, (2, 1): 1}``.

    Pass ``counts`` to add into an existing dict, and ``weight`` to count a sequence that
    occurs several times (a word seen ``weight`` times in the corpus).
    """
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge_pair(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each occurrence of ``pair`` in ``ids`` by ``new_id``, scanning left to right.

    Overlaps resolve to the left: ``merge_pair([5, 5, 5], (5, 5), 9)`` -> ``[9, 5]``.
    """
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _check_text(text, what: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}; decode bytes first, e.g. data.decode('utf-8')")
    return text


def _as_id_list(ids) -> list[int]:
    """Accept a list/tuple of ints, a numpy array or a 1-D torch tensor."""
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    if isinstance(ids, int):
        raise TypeError("decode expects a sequence of token ids, got a single int; wrap it: decode([i])")
    ids = list(ids)
    if ids and not all(type(i) is int for i in ids):
        bad = next(i for i in ids if type(i) is not int)
        if isinstance(bad, bool) or not hasattr(bad, "__index__"):
            raise TypeError(f"token ids must be ints, got {bad!r} ({type(bad).__name__})")
        ids = [int(i) for i in ids]
    return ids


def _check_vocab_size(vocab_size, minimum: int, what: str) -> int:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise TypeError(f"vocab_size must be an int, got {vocab_size!r}")
    if vocab_size < minimum:
        raise ValueError(f"vocab_size={vocab_size} is too small: {what}, so it must be at least {minimum}")
    return vocab_size


# --- the progression ----------------------------------------------------------------------------


class Tokenizer:
    """What every tokenizer in this module offers: ``encode``, ``decode``, ``encode_batch``,
    ``vocab_size`` and ``token_bytes`` (the bytes each id stands for, used for display)."""

    #: the bytes of each id, indexed by id (subclasses fill it)
    _bytes: list[bytes]

    @property
    def vocab_size(self) -> int:
        """Number of distinct ids, special tokens included."""
        return len(self._bytes)

    def encode(self, text: str) -> list[int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """Encode several texts; returns one list of ids per text."""
        if isinstance(texts, str):
            raise TypeError("encode_batch expects a list of texts, got one str; use encode(text)")
        return [self.encode(t) for t in texts]

    def _check_ids(self, ids) -> list[int]:
        ids = _as_id_list(ids)
        if ids:
            lo, hi = min(ids), max(ids)
            if lo < 0 or hi >= len(self._bytes):
                bad = lo if lo < 0 else hi
                raise ValueError(
                    f"token id {bad} is outside the vocabulary (size {len(self._bytes)}, valid ids 0..{len(self._bytes) - 1}); "
                    "were these ids made by a different tokenizer?"
                )
        return ids

    def decode_bytes(self, ids) -> bytes:
        """The raw bytes that ``ids`` stand for (no UTF-8 decoding)."""
        ids = self._check_ids(ids)
        table = self._bytes
        return b"".join([table[i] for i in ids])

    def decode(self, ids, errors: str = "replace") -> str:
        """Turn ids back into text.

        Ids that end in the middle of a multi-byte character (easy when you cut a sequence
        or sample one token at a time) do not form valid UTF-8: with the default
        ``errors="replace"`` each bad byte sequence becomes "�" (U+FFFD), as HF does;
        ``errors="strict"`` raises ``UnicodeDecodeError`` instead.
        """
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes of one id."""
        return self.decode_bytes([token_id])

    def token_str(self, token_id: int) -> str:
        """One id as readable text; bytes that are not valid UTF-8 on their own show as ``\\xNN``."""
        return self.token_bytes(token_id).decode("utf-8", errors="backslashreplace")

    def tokens(self, text: str) -> list[str]:
        """``encode`` then show each id as text: ``["Hello", ",", " world"]``."""
        return [self.token_str(i) for i in self.encode(text)]


class CharTokenizer(Tokenizer):
    """One id per distinct character of the training text, in sorted order (chapter 1.2).

    >>> tok = CharTokenizer().train("hello")
    >>> tok.encode("hole")
    [1, 3, 2, 0]
    """

    def __init__(self, chars: Iterable[str] = ()):
        self.chars: list[str] = sorted(set(chars))
        self._index = {c: i for i, c in enumerate(self.chars)}
        self._bytes = [c.encode("utf-8") for c in self.chars]

    def train(self, text: str) -> CharTokenizer:
        """Use the characters of ``text`` as the vocabulary; returns ``self``."""
        _check_text(text)
        if not text:
            raise ValueError("the training text is empty; give CharTokenizer.train some text to read characters from")
        self.__init__(text)
        return self

    def encode(self, text: str) -> list[int]:
        _check_text(text)
        index = self._index
        try:
            return [index[c] for c in text]
        except KeyError as exc:
            raise ValueError(
                f"character {exc.args[0]!r} is not in the vocabulary ({len(self.chars)} characters seen in training); "
                "train on text that contains it, or use ByteTokenizer, which covers every character"
            ) from None

    #: the ``"type"`` field of a saved CharTokenizer (a BPE ``tokenizer.json`` has none at the top)
    FILE_TYPE = "minillm.CharTokenizer"

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``{"type": "minillm.CharTokenizer", "chars": [...]}`` as JSON (atomically); a
        folder path gets ``tokenizer.json`` inside it (chapter 12's model folder)."""
        from .utils import check_output_dir

        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        check_output_dir(path.parent, "the tokenizer's folder")
        with atomic_write(path, "w") as f:
            json.dump({"type": self.FILE_TYPE, "chars": self.chars}, f, ensure_ascii=False, indent=1)
        return path

    @classmethod
    def is_char_file(cls, path: str | os.PathLike) -> bool:
        """True when ``path`` is a JSON file written by :meth:`save` (False for anything else)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return False
        return isinstance(data, dict) and data.get("type") == cls.FILE_TYPE

    @classmethod
    def load(cls, path: str | os.PathLike) -> CharTokenizer:
        """Read a file written by :meth:`save` (a folder path reads ``tokenizer.json`` inside it)."""
        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer file at {path}; save one with CharTokenizer.save(path)")
        if not cls.is_char_file(path):
            raise ValueError(f"{path} is not a CharTokenizer file: expected JSON with \"type\": "
                             f"{cls.FILE_TYPE!r} and a list \"chars\" (write one with CharTokenizer.save)")
        chars = json.loads(path.read_text(encoding="utf-8")).get("chars")
        if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError(f"{path}: \"chars\" must be a list of single characters")
        return cls(chars)


class ByteTokenizer(Tokenizer):
    """One id per UTF-8 byte: 256 ids, id = byte value (chapter 1.3). Nothing to train.

    >>> ByteTokenizer().encode("hé")
    [104, 195, 169]
    """

    def __init__(self):
        self._bytes = [bytes([b]) for b in range(256)]

    def encode(self, text: str) -> list[int]:
        return list(_check_text(text).encode("utf-8"))


class BasicBPE(Tokenizer):
    """Byte-pair encoding the textbook way, on the whole text at once (chapter 1.4).

    Training starts from the UTF-8 bytes and repeats: count all adjacent pairs, merge the
    most frequent one into a new id. Ties go to the pair :class:`BPETokenizer` and HF would
    pick (see :data:`HF_BYTE_RANK`). Each merge rescans the text, so training costs
    ``O(merges x length)``: fine for a paragraph, hopeless for a book. There is no split
    pattern, so merges cross spaces and punctuation. Unlike :class:`BPETokenizer` it gives
    a fresh id even when a merge rebuilds bytes an earlier merge already made.
    """

    def __init__(self):
        self.merges: dict[tuple[int, int], int] = {}  # (left id, right id) -> new id, in learning order
        self._bytes = [bytes([b]) for b in range(256)]

    def _tie_rank(self, i: int) -> int:
        return HF_BYTE_RANK[i] if i < 256 else i

    def train(self, text: str, vocab_size: int, verbose: bool = False) -> BasicBPE:
        """Learn ``vocab_size - 256`` merges from ``text``; returns ``self``."""
        _check_text(text)
        _check_vocab_size(vocab_size, 256, "the 256 byte tokens come first")
        if not text:
            raise ValueError("the training text is empty; BPE learns merges from pair counts, so it needs some text")
        self.__init__()
        ids = list(text.encode("utf-8"))
        while len(self._bytes) < vocab_size:
            counts = pair_counts(ids)
            if not counts:
                break
            pair = min(counts, key=lambda p: (-counts[p], self._tie_rank(p[0]), self._tie_rank(p[1])))
            new_id = len(self._bytes)
            ids = merge_pair(ids, pair, new_id)
            self.merges[pair] = new_id
            self._bytes.append(self._bytes[pair[0]] + self._bytes[pair[1]])
            if verbose:
                print(f"merge {new_id - 255:4d}: {self.token_str(pair[0])!r} + {self.token_str(pair[1])!r} -> {new_id} ({counts[pair]} times)")
        return self

    def encode(self, text: str) -> list[int]:
        """Apply the merges in the order they were learned: always the earliest-learned pair first."""
        ids = list(_check_text(text).encode("utf-8"))
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: self.merges.get(p, float("inf")))
            if pair not in self.merges:
                break
            ids = merge_pair(ids, pair, self.merges[pair])
        return ids


class BPETokenizer(Tokenizer):
    """Byte-level BPE with regex pre-tokenization and special tokens, HF compatible (chapter 1.5-1.7, 1.11).

    ``BPETokenizer(pattern=GPT4_SPLIT_PATTERN, special_tokens=SPECIAL_TOKENS).train(text, 4096)``
    learns ``4096 - 256 - len(special_tokens)`` new tokens (fewer if the text runs out of
    pairs). Ids: 0..255 are the bytes, then merged tokens in the order learned, then the
    special tokens. ``pattern=None`` skips pre-tokenization (then merges may cross words).

    ``save(path)`` writes a HF ``tokenizer.json``; ``BPETokenizer.load(path)`` reads one
    (also GPT-2's and other byte-level BPE files); ``to_hf()`` returns a
    ``tokenizers.Tokenizer`` that encodes exactly like this object.
    """

    def __init__(self, pattern: str | None = GPT4_SPLIT_PATTERN, special_tokens: Iterable[str] = SPECIAL_TOKENS):
        if pattern is not None:
            if not isinstance(pattern, str) or not pattern:
                raise TypeError(f"pattern must be a non-empty regex string or None, got {pattern!r}")
            try:
                self._regex = regex.compile(pattern)
            except regex.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
        else:
            self._regex = None
        self.pattern = pattern
        if isinstance(special_tokens, str):
            raise TypeError(f"special_tokens must be a list of strings, got the single string {special_tokens!r}; wrap it in a list")
        specials = list(special_tokens)
        for s in specials:
            if not isinstance(s, str) or not s:
                raise ValueError(f"special tokens must be non-empty strings, got {s!r}")
        if len(set(specials)) != len(specials):
            dup = next(s for s in specials if specials.count(s) > 1)
            raise ValueError(f"special token {dup!r} is listed twice; list each once")
        self._special_names = specials
        # Untrained: the bytes, then the special tokens.
        self._set_model([bytes([b]) for b in range(256)], [], {s: 256 + k for k, s in enumerate(specials)})

    # -- state ------------------------------------------------------------------------------------

    def _set_model(self, token_bytes: list[bytes], merges: list[tuple[tuple[int, int], int]], special_ids: dict[str, int], byte_ids: list[int] | None = None):
        """Install a vocabulary. ``merges`` is in rank order; ids in ``special_ids`` decode to their text."""
        self._bytes = list(token_bytes)
        self.special_tokens: dict[str, int] = dict(special_ids)
        for name, i in self.special_tokens.items():
            if i == len(self._bytes):
                self._bytes.append(name.encode("utf-8"))
            elif i < len(self._bytes):
                self._bytes[i] = name.encode("utf-8")
            else:
                raise ValueError(f"special token {name!r} has id {i}, leaving a gap in the vocabulary (size {len(self._bytes)})")
        self.merges: list[tuple[tuple[int, int], int]] = list(merges)
        # Same rule as HF when a pair is listed twice: the later rank wins.
        self._merge_rank = {pair: (rank, new) for rank, (pair, new) in enumerate(self.merges)}
        self._byte_ids = list(range(256)) if byte_ids is None else list(byte_ids)
        self._identity_bytes = self._byte_ids == list(range(256))
        self._cache: dict[str, list[int]] = {}
        self._special_of_id = {i: s for s, i in self.special_tokens.items()}
        self._id_of_bytes: dict[bytes, int] | None = None  # built on first token_to_id
        self._special_regex = _special_regex(self.special_tokens) if self.special_tokens else None
        self._special_regex_cache: dict[frozenset, re.Pattern] = {}

    def __repr__(self) -> str:
        pat = "GPT-4" if self.pattern == GPT4_SPLIT_PATTERN else "GPT-2" if self.pattern == GPT2_SPLIT_PATTERN else ("none" if self.pattern is None else "custom")
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, pattern={pat}, special_tokens={list(self.special_tokens)})"

    def token_to_id(self, token: str | bytes) -> int:
        """The id of a special token (by name) or of a regular token (by its bytes or text)."""
        if not isinstance(token, (str, bytes, bytearray)):
            raise TypeError(f"token must be a str or bytes, got {token!r} ({type(token).__name__})")
        if isinstance(token, str) and token in self.special_tokens:
            return self.special_tokens[token]
        data = token.encode("utf-8") if isinstance(token, str) else bytes(token)
        if self._id_of_bytes is None:
            self._id_of_bytes = {b: i for i, b in enumerate(self._bytes) if i not in self._special_of_id}
        if data in self._id_of_bytes:
            return self._id_of_bytes[data]
        raise ValueError(f"{token!r} is not a token of this vocabulary (size {self.vocab_size}) nor one of the special tokens {list(self.special_tokens)}")

    # -- pre-tokenization -------------------------------------------------------------------------

    def split(self, text: str) -> list[str]:
        """Cut ordinary text (no special tokens) into the pieces BPE works on, with the pattern.

        Text the pattern does not match stays as pieces of its own (HF's ``Split`` with
        ``behavior="isolated"``), so nothing is ever dropped.
        """
        if self._regex is None:
            return [text] if text else []
        pieces = self._regex.findall(text)
        if sum(map(len, pieces)) != len(text):  # the pattern skipped something: keep the gaps
            pieces, end = [], 0
            for m in self._regex.finditer(text):
                if m.start() > end:
                    pieces.append(text[end : m.start()])
                if m.end() > m.start():
                    pieces.append(m.group())
                end = m.end()
            if end < len(text):
                pieces.append(text[end:])
        return pieces

    def _special_splitter(self, allowed_special) -> re.Pattern | None:
        if allowed_special == "all":
            return self._special_regex
        if allowed_special == "none" or allowed_special is None:
            return None
        if isinstance(allowed_special, str):
            raise ValueError(f"allowed_special must be 'all', 'none' or a collection of special tokens, got {allowed_special!r}")
        if not hasattr(allowed_special, "__iter__"):
            raise ValueError(f"allowed_special must be 'all', 'none' or a collection of special tokens, got {allowed_special!r}")
        allowed = frozenset(allowed_special)
        unknown = sorted(map(str, allowed - set(self.special_tokens)))
        if unknown:
            raise ValueError(f"unknown special token {unknown[0]!r}; this tokenizer knows {list(self.special_tokens)} (add it with special_tokens=... before training)")
        if not allowed:
            return None
        pat = self._special_regex_cache.get(allowed)
        if pat is None:
            pat = self._special_regex_cache[allowed] = _special_regex(allowed)
        return pat

    # -- training ---------------------------------------------------------------------------------

    def train(self, text: str | Iterable[str], vocab_size: int, verbose: bool = False) -> BPETokenizer:
        """Learn merges from ``text`` (one str or an iterable of documents) until the vocabulary,
        special tokens included, has ``vocab_size`` ids; returns ``self``.

        Special-token strings inside the text are cut out first, so no merge learns them.
        Steps: split every document with the pattern, count each distinct piece once, then
        run :func:`learn_merges`. If the text runs out of pairs early, the vocabulary ends up
        smaller and a warning says so.
        """
        if not isinstance(text, str) and not hasattr(text, "__iter__"):
            raise TypeError(f"text must be a str or a list of str, got {type(text).__name__}")
        docs = [text] if isinstance(text, str) else list(text)
        for k, d in enumerate(docs):
            _check_text(d, "text" if isinstance(text, str) else f"document {k} of the training text")
        n_special = len(self._special_names)
        _check_vocab_size(vocab_size, 256 + n_special, f"the 256 byte tokens and {n_special} special tokens come first")
        word_counts: Counter[str] = Counter()
        special = self._special_regex
        for doc in docs:
            parts = special.split(doc)[::2] if special is not None else [doc]
            for part in parts:
                word_counts.update(self.split(part))
        if not word_counts:
            raise ValueError("the training text is empty (or holds only special tokens); BPE needs text to count pairs in")
        words = [list(w.encode("utf-8")) for w in word_counts]
        counts = list(word_counts.values())
        tokens = [bytes([b]) for b in range(256)]
        merges = learn_merges(words, counts, tokens, vocab_size - n_special, verbose=verbose)
        if len(tokens) + n_special < vocab_size:
            warnings.warn(
                f"the training text ran out of pairs to merge: vocabulary has {len(tokens) + n_special} ids, "
                f"not the {vocab_size} asked for; train on more text or ask for fewer",
                stacklevel=2,
            )
        ranked = _dedupe_merges(merges)
        self._set_model(tokens, ranked, {s: len(tokens) + k for k, s in enumerate(self._special_names)})
        return self

    # -- encoding ---------------------------------------------------------------------------------

    def _bpe(self, piece: bytes) -> list[int]:
        """Merge the bytes of one piece: lowest merge rank first, leftmost first (HF's order)."""
        sym = list(piece) if self._identity_bytes else [self._byte_ids[b] for b in piece]
        n = len(sym)
        if n < 2:
            return sym
        ranks = self._merge_rank
        heap = [(m[0], i, m[1]) for i, p in enumerate(zip(sym, sym[1:])) if (m := ranks.get(p)) is not None]
        if not heap:
            return sym
        heapq.heapify(heap)
        nxt = [*range(1, n), -1]
        prv = list(range(-1, n - 1))
        alive = [True] * n
        pop, push = heapq.heappop, heapq.heappush
        while heap:
            _, i, new = pop(heap)
            if not alive[i]:
                continue
            j = nxt[i]
            if j == -1:
                continue
            m = ranks.get((sym[i], sym[j]))
            if m is None or m[1] != new:  # stale entry: this pair changed since it was queued
                continue
            sym[i] = new
            alive[j] = False
            k = nxt[j]
            nxt[i] = k
            if k != -1:
                prv[k] = i
            h = prv[i]
            if h >= 0 and (m := ranks.get((sym[h], new))) is not None:
                push(heap, (m[0], h, m[1]))
            if k != -1 and (m := ranks.get((new, sym[k]))) is not None:
                push(heap, (m[0], i, m[1]))
        return [s for s, a in zip(sym, alive) if a]

    def _encode_ordinary(self, text: str) -> list[int]:
        """Ids of text without special tokens: split, then look each piece up in the cache."""
        cache = self._cache
        pieces = self.split(text)
        try:
            return list(chain.from_iterable(map(cache.__getitem__, pieces)))
        except KeyError:  # some pieces are new: run BPE on each new piece once
            pass
        if len(cache) > 500_000:  # keep memory bounded on very diverse text
            cache.clear()
        bpe = self._bpe
        for p in set(pieces).difference(cache):
            cache[p] = bpe(p.encode("utf-8"))
        return list(chain.from_iterable(map(cache.__getitem__, pieces)))

    def encode(self, text: str, allowed_special: str | Iterable[str] = "all") -> list[int]:
        """Text to ids.

        ``allowed_special``: ``"all"`` (default, as HF does) turns every registered special
        token written in the text into its id; ``"none"`` treats them as ordinary text; a
        collection of names allows only those (an unknown name raises ``ValueError``).
        """
        _check_text(text)
        splitter = self._special_splitter(allowed_special)
        if splitter is None:
            return self._encode_ordinary(text)
        out: list[int] = []
        for k, part in enumerate(splitter.split(text)):
            if k % 2:
                out.append(self.special_tokens[part])
            elif part:
                out += self._encode_ordinary(part)
        return out

    def encode_batch(self, texts: Iterable[str], allowed_special: str | Iterable[str] = "all") -> list[list[int]]:
        """Encode several texts (they share the piece cache); one list of ids per text."""
        if isinstance(texts, str):
            raise TypeError("encode_batch expects a list of texts, got one str; use encode(text)")
        return [self.encode(t, allowed_special) for t in texts]

    # -- Hugging Face tokenizer.json ----------------------------------------------------------------

    def to_dict(self) -> dict:
        """This tokenizer as a HF ``tokenizer.json`` structure (a plain dict)."""
        vocab: dict[str, int] = {}
        for i, b in enumerate(self._bytes):
            key = self._special_of_id.get(i) or token_to_hf_string(b)
            if key in vocab:
                raise ValueError(f"token {key!r} appears twice in the vocabulary (ids {vocab[key]} and {i}); cannot export")
            vocab[key] = i
        merges = [[token_to_hf_string(self._bytes[a]), token_to_hf_string(self._bytes[b])] for (a, b), _ in self.merges]
        if self.pattern is None:
            pre = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
        else:
            pre = {
                "type": "Sequence",
                "pretokenizers": [
                    {"type": "Split", "pattern": {"Regex": self.pattern}, "behavior": "Isolated", "invert": False},
                    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
                ],
            }
        added = [
            {"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
            for s, i in sorted(self.special_tokens.items(), key=lambda kv: kv[1])
        ]
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": pre,
            "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": None,
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None,
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": False,
                "vocab": vocab,
                "merges": merges,
            },
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write a HF ``tokenizer.json`` (atomically). A folder path gets ``tokenizer.json`` inside it."""
        from .utils import check_output_dir

        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        check_output_dir(path.parent, "the tokenizer's folder")
        with atomic_write(path, "w") as f:
            json.dump(self.to_dict(), f, ensure_ascii=False, indent=1)
        return path

    @classmethod
    def from_dict(cls, data: dict, where: str = "tokenizer.json") -> BPETokenizer:
        """Build from a HF ``tokenizer.json`` structure; raises ``ValueError`` on what minillm cannot follow."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: holds a JSON {type(data).__name__}, but a tokenizer.json is a JSON "
                             "object {...} with a 'model' field")
        model = data.get("model") or {}
        if not isinstance(model, dict):
            raise ValueError(f"{where}: the field 'model' is a {type(model).__name__}, expected a JSON "
                             "object with 'type', 'vocab' and 'merges'")
        if model.get("type", "BPE") != "BPE" or "merges" not in model:
            raise ValueError(f"{where}: model type {model.get('type')!r} is not BPE; minillm loads byte-level BPE tokenizers only")
        for key in ("continuing_subword_prefix", "end_of_word_suffix", "dropout"):
            if model.get(key):
                raise ValueError(f"{where}: model.{key}={model[key]!r} is not supported; minillm loads plain byte-level BPE")
        if model.get("byte_fallback") or model.get("ignore_merges"):
            raise ValueError(f"{where}: byte_fallback / ignore_merges are not supported by minillm")
        if data.get("normalizer") is not None:
            norm = data["normalizer"]
            kind = norm.get("type") if isinstance(norm, dict) else norm
            raise ValueError(f"{where}: has a normalizer ({kind}); minillm supports tokenizers without one")
        pattern = _pattern_from_pre_tokenizer(data.get("pre_tokenizer"), where)
        if not isinstance(model.get("vocab"), dict):
            raise ValueError(f"{where}: model.vocab is missing or not a mapping of token to id; is it a tokenizer.json?")
        vocab: dict[str, int] = model["vocab"]
        for tok_text, i in vocab.items():
            if isinstance(i, bool) or not isinstance(i, int) or i < 0:
                raise ValueError(f"{where}: model.vocab[{tok_text!r}] is {i!r}; token ids must be ints >= 0")
        if not isinstance(model["merges"], list):
            raise ValueError(f"{where}: model.merges is a {type(model['merges']).__name__}, expected a list of "
                             "merges ('a b' strings or [a, b] pairs)")
        added = data.get("added_tokens") or []
        if not isinstance(added, list):
            raise ValueError(f"{where}: added_tokens is a {type(added).__name__}, expected a list of token objects")
        special = {}
        for k, t in enumerate(added):
            if not isinstance(t, dict) or not isinstance(t.get("content"), str) or not t["content"]:
                raise ValueError(f"{where}: added_tokens[{k}] is {t!r}; each needs a non-empty 'content' string")
            tid = t.get("id")
            if isinstance(tid, bool) or not isinstance(tid, int) or tid < 0:
                raise ValueError(f"{where}: added_tokens[{k}] ({t['content']!r}) has id {tid!r}; ids must be ints >= 0")
            if not t.get("special", False) or t.get("lstrip") or t.get("rstrip") or t.get("single_word") or t.get("normalized"):
                raise ValueError(f"{where}: added token {t.get('content')!r} is not a plain special token; minillm cannot follow it")
            special[t["content"]] = tid
        if not vocab:
            raise ValueError(f"{where}: model.vocab is empty; minillm needs at least the 256 byte tokens")
        size = max([*vocab.values(), *special.values()]) + 1
        n_tokens = len(set(vocab.values()) | set(special.values()))
        if size > n_tokens:  # checked before allocating a table of `size` entries
            first_gap = min(set(range(n_tokens + 1)) - set(vocab.values()) - set(special.values()))
            raise ValueError(f"{where}: no token has id {first_gap} (the largest id is {size - 1} but there "
                             f"are {n_tokens} tokens); minillm needs ids 0..{n_tokens - 1} without gaps")
        token_bytes: list[bytes | None] = [None] * size
        for s, i in vocab.items():
            if i in special.values():
                continue
            try:
                token_bytes[i] = hf_string_to_token(s)
            except ValueError as exc:
                raise ValueError(f"{where}: model.vocab: {exc}") from None
        for s, i in special.items():
            token_bytes[i] = s.encode("utf-8")
        gaps = [i for i, b in enumerate(token_bytes) if b is None]
        if gaps:
            raise ValueError(f"{where}: no token has id {gaps[0]}; minillm needs ids 0..{size - 1} without gaps")
        index = {b: i for i, b in enumerate(token_bytes) if i not in special.values()}
        byte_ids = []
        for b in range(256):
            if bytes([b]) not in index:
                raise ValueError(f"{where}: the vocabulary has no token for byte {b} ({BYTE_TO_CHAR[b]!r}); minillm needs all 256 bytes")
            byte_ids.append(index[bytes([b])])
        merges = []
        for k, m in enumerate(model["merges"]):
            parts = m.split(" ") if isinstance(m, str) else m
            if not isinstance(parts, list) or len(parts) != 2 or not all(isinstance(x, str) for x in parts):
                raise ValueError(f"{where}: model.merges[{k}] is {m!r}; a merge is 'left right' (one space) "
                                 "or a pair [left, right] of token strings")
            left, right = parts
            try:
                a, b = vocab[left], vocab[right]
                new = vocab[left + right]
            except KeyError as exc:
                raise ValueError(f"{where}: merge {left!r} + {right!r} uses {exc.args[0]!r}, which is not in the vocabulary") from None
            merges.append(((a, b), new))
        tok = cls.__new__(cls)
        tok.pattern = pattern
        try:
            tok._regex = None if pattern is None else regex.compile(pattern)
        except regex.error as exc:
            raise ValueError(f"{where}: the pre_tokenizer's Split pattern is not a valid regular expression ({exc})") from None
        tok._special_names = sorted(special, key=special.get)
        tok._set_model(token_bytes, merges, special, byte_ids)
        return tok

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPETokenizer:
        """Read a HF ``tokenizer.json`` (a folder path reads ``tokenizer.json`` inside it)."""
        path = Path(path)
        if path.is_dir():
            path = path / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer file at {path}; save one with BPETokenizer.save(path)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a tokenizer.json: it holds binary data, not JSON text") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON ({exc}); is it a tokenizer.json?") from None
        return cls.from_dict(data, where=str(path))

    def to_hf(self):
        """A ``tokenizers.Tokenizer`` (the Rust library) built from this tokenizer's JSON."""
        from tokenizers import Tokenizer as HFTokenizer

        return HFTokenizer.from_str(json.dumps(self.to_dict()))


def _special_regex(names: Iterable[str]) -> re.Pattern:
    """A regex that matches any of the special tokens ``names`` as one captured group (so
    ``split`` keeps them), longest first so that no name hides a longer one it starts."""
    ordered = sorted(names, key=len, reverse=True)
    return re.compile("(" + "|".join(re.escape(s) for s in ordered) + ")")


def _pattern_from_pre_tokenizer(pre: dict | None, where: str) -> str | None:
    def byte_level(p, regex_ok):
        if p.get("add_prefix_space"):
            raise ValueError(f"{where}: ByteLevel add_prefix_space=True is not supported; minillm never adds a space")
        if p.get("use_regex", True):
            if not regex_ok:
                raise ValueError(f"{where}: a ByteLevel with use_regex=True after a Split is not supported")
            return GPT2_SPLIT_PATTERN
        return None

    if pre is None:
        raise ValueError(f"{where}: no pre_tokenizer; minillm needs a ByteLevel pre-tokenizer (bytes as characters)")
    if not isinstance(pre, dict):
        raise ValueError(f"{where}: pre_tokenizer is {pre!r}, expected a JSON object with a 'type'")
    if pre.get("type") == "ByteLevel":
        return byte_level(pre, True)
    if pre.get("type") == "Sequence":
        steps = pre.get("pretokenizers", [])
        if not isinstance(steps, list) or not all(isinstance(x, dict) for x in steps):
            raise ValueError(f"{where}: pre_tokenizer.pretokenizers must be a list of JSON objects, got {steps!r}")
        if len(steps) == 2 and steps[0].get("type") == "Split" and steps[1].get("type") == "ByteLevel":
            split = steps[0]
            if split.get("behavior") != "Isolated" or split.get("invert"):
                raise ValueError(f"{where}: Split behavior {split.get('behavior')!r} (invert={split.get('invert')}) is not supported; use Isolated")
            pattern = split.get("pattern", {})
            pattern = pattern.get("Regex") if isinstance(pattern, dict) else None
            if not isinstance(pattern, str):
                pattern = None
            if pattern is None:
                raise ValueError(f"{where}: Split with a plain string pattern is not supported; use a Regex pattern")
            byte_level(steps[1], False)
            return pattern
    raise ValueError(f"{where}: pre_tokenizer {pre.get('type')!r} is not supported; minillm reads ByteLevel or Sequence[Split, ByteLevel]")


def _dedupe_merges(merges: list[tuple[tuple[int, int], int]]) -> list[tuple[tuple[int, int], int]]:
    """Keep the last occurrence of a pair learned twice (what HF stores), in rank order."""
    last = {pair: k for k, (pair, _) in enumerate(merges)}
    return [m for k, m in enumerate(merges) if last[m[0]] == k]


def learn_merges(
    words: list[list[int]],
    counts: list[int],
    tokens: list[bytes],
    target_size: int,
    verbose: bool = False,
) -> list[tuple[tuple[int, int], int]]:
    """The fast BPE training loop; mutates ``words`` and ``tokens``, returns merges in order.

    ``words[i]`` is a distinct piece as a list of ids, seen ``counts[i]`` times; ``tokens[id]``
    is the bytes of each id (the 256 bytes to start with). Merges are learned until
    ``len(tokens) == target_size`` or no pair is left.

    Data structures (the same bookkeeping as HF's ``BpeTrainer``, so the result matches it):

    - ``pair_count[(a, b)]``: how often the pair occurs, summed over words with their counts;
    - ``where[(a, b)]``: the words that gained the pair (an index, so a merge visits only them);
    - a heap of ``(-count, tie rank of a, tie rank of b, ...)`` entries. Counts of existing
      pairs only go down, so stale entries are fixed lazily: when the top's count is out of
      date it is pushed back with the current count, and the first up-to-date top is the
      most frequent pair (ties: smallest ids in HF's numbering).

    A merge then rewrites only the words in its index, and for each occurrence adjusts the
    counts of the pairs to its left and right: ``(x, a)`` and ``(b, y)`` lose the word's
    count, ``(x, new)`` and ``(new, y)`` gain it. If the merged bytes already exist as a
    token (two different pairs can spell the same bytes), the existing id is reused, as HF does.
    """
    rank = [HF_BYTE_RANK[i] if i < 256 else i for i in range(len(tokens))]
    ids_of = {t: i for i, t in enumerate(tokens)}
    pair_count: defaultdict[tuple[int, int], int] = defaultdict(int)
    where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for i, w in enumerate(words):
        c = counts[i]
        for p in zip(w, w[1:]):
            pair_count[p] += c
            where[p].add(i)
    heap = []
    serial = 0
    for p, pos in where.items():
        c = pair_count[p]
        if c > 0:
            heap.append((-c, rank[p[0]], rank[p[1]], serial, p, pos))
            serial += 1
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    merges: list[tuple[tuple[int, int], int]] = []
    while len(tokens) < target_size and heap:
        top = pop(heap)
        pair = top[4]
        c = pair_count[pair]
        if -top[0] != c:  # stale: re-queue with the current count
            push(heap, (-c, top[1], top[2], top[3], pair, top[5]))
            continue
        if c < 1:
            break
        a, b = pair
        new_bytes = tokens[a] + tokens[b]
        new = ids_of.get(new_bytes)
        if new is None:
            new = len(tokens)
            tokens.append(new_bytes)
            ids_of[new_bytes] = new
            rank.append(new)
        merges.append((pair, new))
        if verbose:
            print(f"merge {len(merges):5d}: {tokens[a]!r} + {tokens[b]!r} -> id {new} ({c} times)")
        fresh: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
        for i in top[5]:
            w = words[i]
            f = counts[i]
            j = 0
            while True:
                try:
                    j = w.index(a, j)
                except ValueError:
                    break
                if j + 1 < len(w) and w[j + 1] == b:
                    if j:
                        x = w[j - 1]
                        pair_count[x, a] -= f
                        q = (x, new)
                        pair_count[q] += f
                        fresh[q].add(i)
                    w[j] = new
                    del w[j + 1]
                    if j + 1 < len(w):
                        y = w[j + 1]
                        pair_count[b, y] -= f
                        q = (new, y)
                        pair_count[q] += f
                        fresh[q].add(i)
                j += 1
        for q, pos in fresh.items():
            c = pair_count[q]
            if c > 0:
                push(heap, (-c, rank[q[0]], rank[q[1]], serial, q, pos))
                serial += 1
    return merges

