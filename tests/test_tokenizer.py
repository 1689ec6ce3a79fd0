"""Tests for minillm.tokenizer: known values, round trips, the naive and fast trainers agreeing,
exactness against Hugging Face ``tokenizers`` (its Rust trainer and encoder), tokenizer.json
interop, special tokens, and bad input."""

from __future__ import annotations

import json
import random
import warnings

import pytest
from tokenizers import Regex, decoders, models, pre_tokenizers, trainers
from tokenizers import Tokenizer as HFTokenizer

from minillm.data import shared_data
from minillm.tokenizer import (
    ENDOFTEXT,
    GPT2_SPLIT_PATTERN,
    GPT4_SPLIT_PATTERN,
    HF_BYTE_RANK,
    SPECIAL_TOKENS,
    BasicBPE,
    BPETokenizer,
    ByteTokenizer,
    CharTokenizer,
    bytes_to_unicode,
    learn_merges,
    merge_pair,
    pair_counts,
)

SHAKESPEARE = shared_data("tinyshakespeare.txt")

# Texts every encoder must agree on: ASCII prose, contractions, numbers, whitespace runs,
# code, accents, CJK, emoji (4-byte UTF-8 and ZWJ sequences), special tokens, odd spacing.
TEXTS = [
    "Hello, world! How's it going? I'LL be there; we've 3 cats.",
    "The year 2024 had 366 days; pi is 3.14159265 and 1234567 is big.",
    "   leading spaces, trailing spaces   \n\n\nnew  lines\ttabs\r\nwindows\n",
    "def f(x):\n    return x**2  # square\n\nprint(f(12))\n",
    "naïve café, Zürich, São Paulo, Ærøskøbing, Łódź",
    "日本語のテキスト、中文文本，한국어 텍스트",
    "emoji: 😀👍🏽 👨‍👩‍👧 🇫🇷 and symbols ∑∫√ → ←",
    f"one document{ENDOFTEXT}another<|user|>hi<|end|><|assistant|>hello<|end|>",
    "",
    " ",
    "a",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbb",
    "x" * 3000,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "<|endoftext|<|endoftext|>|>  <|unknown|>",
]


def pydoc_text() -> str:
    """The Python docs' help topics: real English + code, in the standard library, always offline."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


@pytest.fixture(scope="module")
def corpus() -> str:
    return pydoc_text()[:200_000]


def hf_train(text: str, vocab_size: int, pattern: str | None, special_tokens=SPECIAL_TOKENS) -> HFTokenizer:
    """HF's Rust BPE trainer set up like ours: same split regex, bytes as ByteLevel characters,
    all 256 bytes in the alphabet, no normalizer."""
    tok = HFTokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    if pattern is None:
        tok.pre_tokenizer = byte_level
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(pattern), behavior="isolated"), byte_level])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=list(special_tokens),
    )
    tok.train_from_iterator([text], trainer)
    return tok


def hf_merges(tok: HFTokenizer) -> list[list[str]]:
    return [list(m.split(" ")) if isinstance(m, str) else m for m in json.loads(tok.to_str())["model"]["merges"]]


# --- known values ----------------------------------------------------------------------------------


def test_pair_counts_and_merge_known_values():
    assert pair_counts([1, 2, 1, 2]) == {(1, 2): 2, (2, 1): 1}
    assert pair_counts([7, 7], {(7, 7): 1}, weight=3) == {(7, 7): 4}
    assert pair_counts([5]) == {}
    assert merge_pair([1, 2, 3, 1, 2], (1, 2), 9) == [9, 3, 9]
    assert merge_pair([5, 5, 5], (5, 5), 9) == [9, 5]  # overlaps resolve to the left
    assert merge_pair([5, 5, 5, 5], (5, 5), 9) == [9, 9]


def test_char_and_byte_tokenizers():
    chars = CharTokenizer().train("hello")
    assert chars.chars == ["e", "h", "l", "o"]
    assert chars.encode("hole") == [1, 3, 2, 0]
    assert chars.decode([1, 0, 2, 2, 3]) == "hello"
    assert chars.vocab_size == 4
    b = ByteTokenizer()
    assert b.vocab_size == 256
    assert b.encode("hé€😀") == [104, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80]
    assert b.tokens("é") == ["\\xc3", "\\xa9"]  # half a character shows as an escaped byte


def test_bytes_to_unicode_matches_gpt2_and_hf():
    table = bytes_to_unicode()
    assert table[32] == "Ġ" and table[10] == "Ċ" and table[ord("a")] == "a"
    assert len(set(table.values())) == 256
    assert set(table.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    gpt2 = pytest.importorskip("transformers.models.gpt2.tokenization_gpt2", reason="transformers not installed")
    if hasattr(gpt2, "bytes_to_unicode"):
        assert gpt2.bytes_to_unicode() == table


def test_hf_byte_rank_is_hf_trainer_numbering():
    """HF numbers the byte alphabet by the code point of each byte's character: recover the
    numbering from a trainer with no merges and compare with HF_BYTE_RANK."""
    tok = hf_train("ab", 256, None, special_tokens=())
    vocab = tok.get_vocab()
    table = bytes_to_unicode()
    assert [vocab[table[b]] for b in range(256)] == list(HF_BYTE_RANK)
    assert HF_BYTE_RANK[ord("!")] == 0 and HF_BYTE_RANK[32] > HF_BYTE_RANK[0xFF]


# --- round trips -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bpe(corpus) -> BPETokenizer:
    return BPETokenizer().train(corpus, 1024)


@pytest.mark.parametrize("text", TEXTS)
def test_round_trip(bpe, text):
    assert ByteTokenizer().decode(ByteTokenizer().encode(text)) == text
    assert bpe.decode(bpe.encode(text)) == text
    assert bpe.decode(bpe.encode(text, allowed_special="none")) == text
    basic = BasicBPE().train("hello hello world, hello there", 270)
    assert basic.decode(basic.encode(text)) == text


def test_bpe_compresses_and_encode_batch(bpe, corpus):
    sample = corpus[:20_000]
    ids = bpe.encode(sample)
    assert len(ids) < len(sample.encode("utf-8")) / 2.5  # 1024 tokens: well under half the bytes
    assert bpe.encode_batch(TEXTS) == [bpe.encode(t) for t in TEXTS]
    assert bpe.encode(sample) == ids  # the second call runs from the piece cache


# --- the fast trainer against the textbook one --------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_incremental_training_equals_naive_rescan(seed):
    """BPETokenizer(pattern=None) learns with the pair index and heap; BasicBPE recounts every
    pair for every merge. Same text, same tie rule: same merges, same encodings."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcde ") for _ in range(rng.randint(1, 12))) for _ in range(80)]
    text = " ".join(words) + " héllo wörld"
    naive = BasicBPE().train(text, 256 + 60)
    fast = BPETokenizer(pattern=None, special_tokens=()).train(text, 256 + 60)
    assert [(pair, new) for pair, new in naive.merges.items()] == fast.merges
    for t in [text, text[::-1], "abcabc dede", "ééé"]:
        assert naive.encode(t) == fast.encode(t)


def test_regex_training_equals_per_word_rescan():
    """With a split pattern, a merge is counted within pieces only: recount every distinct
    piece weighted by how often it occurs, for every merge, and compare."""
    text = pydoc_text()[:30_000]
    fast = BPETokenizer(GPT2_SPLIT_PATTERN, special_tokens=()).train(text, 256 + 40)
    pieces: dict[str, int] = {}
    for p in fast.split(text):
        pieces[p] = pieces.get(p, 0) + 1
    words = [list(p.encode()) for p in pieces]
    weights = list(pieces.values())
    tokens = [bytes([b]) for b in range(256)]
    expected = []
    for _ in range(40):
        counts: dict = {}
        for w, c in zip(words, weights):
            pair_counts(w, counts, c)
        rank = lambda i: HF_BYTE_RANK[i] if i < 256 else i  # noqa: E731
        pair = min(counts, key=lambda p: (-counts[p], rank(p[0]), rank(p[1])))
        new = len(tokens)
        tokens.append(tokens[pair[0]] + tokens[pair[1]])
        words = [merge_pair(w, pair, new) for w in words]
        expected.append((pair, new))
    assert fast.merges == expected


def test_learn_merges_reuses_an_existing_token():
    """If merged bytes already exist as a token, HF reuses that id (the vocabulary does not grow)."""
    tokens = [bytes([b]) for b in range(256)] + [b"ab"]  # id 256 is already "ab"
    words = [[97, 98], [97, 98, 99]]
    merges = learn_merges(words, [5, 3], tokens, 258)
    assert merges[0] == ((97, 98), 256)  # "a"+"b" -> the existing id 256
    assert merges[1] == ((256, 99), 257) and tokens[257] == b"abc"
    assert words == [[256], [257]]


# --- exactness against the Rust trainer -------------------------------------------------------------------


@pytest.mark.parametrize("pattern", [GPT4_SPLIT_PATTERN, GPT2_SPLIT_PATTERN], ids=["gpt4", "gpt2"])
def test_merges_and_encodings_equal_hf_trainer(corpus, pattern):
    hf = hf_train(corpus, 1500, pattern)
    ours = BPETokenizer(pattern).train(corpus, 1500)
    assert hf.get_vocab_size() == ours.vocab_size == 1500
    assert ours.to_dict()["model"]["merges"] == hf_merges(hf)  # same merges, same order
    for text in [*TEXTS, corpus[:50_000]]:
        enc = hf.encode(text)
        # HF numbers special tokens first, we number them last: compare the token strings,
        # then the ids through our exported file (same numbering as ours).
        assert enc.tokens == ours.to_hf().encode(text).tokens
        our_vocab = ours.to_hf().get_vocab()
        assert [our_vocab[s] for s in enc.tokens] == ours.encode(text)


@pytest.mark.skipif(not SHAKESPEARE.is_file(), reason=f"optional resource {SHAKESPEARE} is absent")
def test_tinyshakespeare_4096_equals_hf_trainer():
    text = SHAKESPEARE.read_text(encoding="utf-8")
    hf = hf_train(text, 4096, GPT4_SPLIT_PATTERN)
    ours = BPETokenizer().train(text, 4096)
    assert ours.to_dict()["model"]["merges"] == hf_merges(hf)
    assert ours.to_hf().encode(text).ids == ours.encode(text)
    assert hf.encode(text).tokens == ours.to_hf().encode(text).tokens


def test_tie_breaking_follows_hf_numbering():
    """Every pair of "ab b" occurs once. HF breaks count ties by the smaller pair of ids in its
    own numbering, where printable bytes come before the space byte (shown as "Ġ", numbered
    after "ÿ"). So it merges "a"+"b" first, not " "+"b" (which a rule on raw byte values,
    32 < 97, would pick) and not "b"+" " either. Next, "ab"+" " and " "+"b" tie; merged
    tokens are numbered after all bytes, so " "+"b" wins."""
    hf = hf_train("ab b", 258, None, special_tokens=())
    assert hf_merges(hf) == [["a", "b"], ["Ġ", "b"]]
    ours = BPETokenizer(pattern=None, special_tokens=()).train("ab b", 258)
    assert ours.merges[0] == ((97, 98), 256)
    assert ours.merges[1] == ((32, 98), 257)
    counts = pair_counts(list(b"ab b"))
    assert min(counts, key=lambda p: (-counts[p], p)) == (32, 98)  # what raw byte order would do
    # Among merged tokens, the one made first has the smaller id, so it wins a tie.
    hf2 = hf_train("xy xy zw zw", 260, None, special_tokens=())
    ours2 = BPETokenizer(pattern=None, special_tokens=()).train("xy xy zw zw", 260)
    assert ours2.to_dict()["model"]["merges"] == hf_merges(hf2)


def test_special_tokens_in_training_text_are_never_learned():
    """We cut special tokens out of training text; HF's trainer does not (it learns "endoftext"
    as ordinary text). This is the one place where training differs by design."""
    text = ("hello world " + ENDOFTEXT) * 50
    with pytest.warns(UserWarning, match="ran out of pairs"):
        ours = BPETokenizer().train(text, 290)
    assert not any(b"endoftext" in ours.token_bytes(i) for i in range(256, ours.vocab_size - len(SPECIAL_TOKENS)))
    hf = hf_train(text, 290, GPT4_SPLIT_PATTERN)
    assert "endoftext" in hf.get_vocab()


# --- tokenizer.json interop ---------------------------------------------------------------------------------


def test_save_loads_in_hf_and_encodes_exactly(bpe, tmp_path, corpus):
    path = bpe.save(tmp_path / "tokenizer.json")
    hf = HFTokenizer.from_file(str(path))
    assert hf.get_vocab_size() == bpe.vocab_size
    for text in [*TEXTS, corpus[-20_000:]]:
        ids = bpe.encode(text)
        assert hf.encode(text).ids == ids, text[:40]
        assert hf.decode(ids, skip_special_tokens=False) == bpe.decode(ids)
    assert [e.ids for e in hf.encode_batch(TEXTS)] == bpe.encode_batch(TEXTS)


def test_load_round_trip(bpe, tmp_path):
    path = bpe.save(tmp_path)  # a folder: writes tokenizer.json inside
    assert path.name == "tokenizer.json"
    again = BPETokenizer.load(tmp_path)
    assert again.merges == bpe.merges
    assert again.special_tokens == bpe.special_tokens
    assert again.pattern == bpe.pattern
    assert [again.token_bytes(i) for i in range(again.vocab_size)] == [bpe.token_bytes(i) for i in range(bpe.vocab_size)]
    for text in TEXTS:
        assert again.encode(text) == bpe.encode(text)


def test_load_hf_trained_file_with_hf_numbering(corpus, tmp_path):
    """A file from HF's trainer numbers specials first and bytes by code point: loading it
    must keep HF's ids exactly."""
    hf = hf_train(corpus, 700, GPT2_SPLIT_PATTERN)
    hf.save(str(tmp_path / "hf.json"))
    ours = BPETokenizer.load(tmp_path / "hf.json")
    assert ours.special_tokens[SPECIAL_TOKENS[0]] == 0
    for text in TEXTS:
        assert ours.encode(text) == hf.encode(text).ids
        assert ours.decode(hf.encode(text).ids) == hf.decode(hf.encode(text).ids, skip_special_tokens=False)


def test_gpt2_style_byte_level_pre_tokenizer_loads(bpe):
    data = BPETokenizer(GPT2_SPLIT_PATTERN).train(pydoc_text()[:20_000], 400).to_dict()
    data["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    ours = BPETokenizer.from_dict(data)
    assert ours.pattern == GPT2_SPLIT_PATTERN
    hf = HFTokenizer.from_str(json.dumps(data))
    for text in TEXTS:
        assert ours.encode(text) == hf.encode(text).ids


def test_pattern_that_skips_text_keeps_the_gaps_like_hf():
    ours = BPETokenizer(pattern=r"\w+", special_tokens=()).train("the cat, the hat; the bat!", 262)
    assert ours.split("the cat, hat") == ["the", " ", "cat", ", ", "hat"]
    hf = ours.to_hf()
    for text in TEXTS:
        assert ours.encode(text) == hf.encode(text).ids


# --- special tokens ------------------------------------------------------------------------------------------


def test_special_tokens(bpe):
    eot = bpe.special_tokens[ENDOFTEXT]
    assert list(bpe.special_tokens) == list(SPECIAL_TOKENS)
    assert sorted(bpe.special_tokens.values()) == list(range(bpe.vocab_size - len(SPECIAL_TOKENS), bpe.vocab_size))
    ids = bpe.encode(f"hi{ENDOFTEXT}there")
    assert ids.count(eot) == 1
    assert eot not in bpe.encode(f"hi{ENDOFTEXT}there", allowed_special="none")
    assert bpe.encode(f"<|user|>hi{ENDOFTEXT}", allowed_special={"<|user|>"}).count(eot) == 0
    assert bpe.decode([eot]) == ENDOFTEXT
    assert bpe.token_to_id(ENDOFTEXT) == eot


# --- bad input --------------------------------------------------------------------------------------------------


def test_decode_rejects_ids_outside_vocabulary(bpe):
    with pytest.raises(ValueError, match=rf"token id {bpe.vocab_size} is outside the vocabulary \(size {bpe.vocab_size}"):
        bpe.decode([1, bpe.vocab_size])
    with pytest.raises(ValueError, match="token id -1 is outside the vocabulary"):
        bpe.decode([-1])
    with pytest.raises(ValueError, match="token id 300 is outside"):
        ByteTokenizer().decode([300])
    with pytest.raises(TypeError, match="token ids must be ints"):
        bpe.decode([1.5])
    with pytest.raises(TypeError, match="single int"):
        bpe.decode(5)


def test_unknown_special_token(bpe):
    with pytest.raises(ValueError, match=r"unknown special token '<\|tool\|>'"):
        bpe.encode("x", allowed_special={"<|tool|>"})
    with pytest.raises(ValueError, match="allowed_special must be"):
        bpe.encode("x", allowed_special="some")
    with pytest.raises(ValueError, match="not a token of this vocabulary"):
        bpe.token_to_id("<|tool|>")
    with pytest.raises(ValueError, match="listed twice"):
        BPETokenizer(special_tokens=["<|a|>", "<|a|>"])


def test_partial_utf8_decodes_with_replacement_like_hf(bpe):
    """Cutting ids inside a character leaves invalid UTF-8: decode replaces each bad sequence
    with U+FFFD (as HF's ByteLevel decoder does); errors='strict' raises instead."""
    b = ByteTokenizer()
    euro = b.encode("€")  # 3 bytes
    assert b.decode(euro[:2]) == "\ufffd"
    assert b.decode(euro[:2] + b.encode("x")) == "\ufffdx"
    assert b.decode(euro[1:]) == "\ufffd\ufffd"  # two stray continuation bytes
    with pytest.raises(UnicodeDecodeError):
        b.decode(euro[:2], errors="strict")
    hf = bpe.to_hf()
    for text in ["€uro", "😀!", "日本"]:
        ids = ByteTokenizer().encode(text)  # byte ids are the same in bpe (0..255)
        for cut in [ids[:1], ids[:2], ids[1:], ids[:-1]]:
            assert bpe.decode(cut) == hf.decode(cut, skip_special_tokens=False)


def test_training_bad_input():
    with pytest.raises(ValueError, match="training text is empty"):
        BPETokenizer().train("", 1000)
    with pytest.raises(ValueError, match="training text is empty"):
        BPETokenizer().train(ENDOFTEXT * 3, 1000)
    with pytest.raises(ValueError, match="training text is empty"):
        BasicBPE().train("", 300)
    with pytest.raises(ValueError, match=r"vocab_size=258 is too small: the 256 byte tokens and 5 special tokens come first, so it must be at least 261"):
        BPETokenizer().train("hello", 258)
    with pytest.raises(ValueError, match="at least 256"):
        BasicBPE().train("hello", 100)
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        BPETokenizer().train("hello", 300.0)
    with pytest.raises(TypeError, match="must be a str"):
        BPETokenizer().train(b"hello", 300)
    with pytest.raises(TypeError, match="document 1 of the training text must be a str"):
        BPETokenizer().train(["ok", 3], 300)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        BPETokenizer(pattern="(unclosed")
    with pytest.warns(UserWarning, match="ran out of pairs"):
        tok = BPETokenizer(special_tokens=()).train("ab", 300)
    assert tok.vocab_size == 257


def test_encode_bad_input(bpe):
    with pytest.raises(TypeError, match="must be a str"):
        bpe.encode(b"bytes")
    with pytest.raises(TypeError, match="one str"):
        bpe.encode_batch("one text")
    chars = CharTokenizer().train("abc")
    with pytest.raises(ValueError, match="character 'z' is not in the vocabulary"):
        chars.encode("abz")


def test_load_bad_files(tmp_path, bpe):
    with pytest.raises(FileNotFoundError, match="no tokenizer file"):
        BPETokenizer.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        BPETokenizer.load(bad)
    data = bpe.to_dict()
    data["model"] = {"type": "WordPiece", "vocab": {}}
    with pytest.raises(ValueError, match="is not BPE"):
        BPETokenizer.from_dict(data)
    data = bpe.to_dict()
    data["normalizer"] = {"type": "NFC"}
    with pytest.raises(ValueError, match="normalizer"):
        BPETokenizer.from_dict(data)
    data = bpe.to_dict()
    del data["model"]["vocab"]
    with pytest.raises(ValueError, match="model.vocab is missing"):
        BPETokenizer.from_dict(data)
    data = bpe.to_dict()
    del data["model"]["vocab"]["Ġ"]
    with pytest.raises(ValueError, match="no token has id"):
        BPETokenizer.from_dict(data)


def test_playground_html(bpe):
    from minillm.widgets import render_tokens_html

    out = render_tokens_html(bpe, "Hello world")
    ids = bpe.encode("Hello world")
    assert f"{len(ids)} tokens" in out
    assert all(f"<sub style=\"color:#555\">{i}</sub>" in out for i in ids)
    assert "␣" in out and "Hello world" not in out


def test_no_warning_when_vocab_reached(bpe, corpus):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BPETokenizer().train(corpus[:5000], 300)
