"""Tests for minillm.data: corpora, splits, downloads (against a local server) and batches."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from minillm import data
from minillm.data import (
    SEPARATOR,
    Batches,
    DownloadError,
    corpus,
    download,
    encode,
    get_batch,
    load_corpus,
    load_tokens,
    save_tokens,
)

SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def _shakespeare_file() -> Path:
    path = data.shared_data("tinyshakespeare.txt")
    if not path.is_file():
        pytest.skip(f"tinyshakespeare.txt not found in {path.parent} (set MINILLM_SHARED_DATA to its folder)")
    return path


# ---- TinyWorld corpus ------------------------------------------------------------------------

def test_named_sizes_and_bytes():
    tiny = corpus("tinyworld", size="tiny")
    assert 100_000 <= tiny.stats()["bytes"] <= 200_000
    small = corpus("tinyworld", size="small")
    assert 0.9e6 <= small.stats()["bytes"] <= 1.1e6
    c = corpus("tinyworld", size=20_000)
    assert 20_000 <= len(c.text) < 22_000
    assert tiny.text.isascii()
    assert len(set(tiny.text)) < 80, "the character set should stay small for chapter 0"


def test_default_size_is_3_to_5_mb():
    s = corpus("tinyworld").stats()
    assert 3e6 <= s["bytes"] <= 5e6
    assert s["duplicate_rate"] < 0.01
    assert s["distinct_words"] > 1000


def test_split_by_document_never_through_one():
    c = corpus("tinyworld", size="small", seed=3)
    assert c.text == SEPARATOR.join(c.documents)
    assert sorted(c.train_ids + c.val_ids) == list(range(len(c.documents)))
    assert c.train == SEPARATOR.join(c.train_documents)
    assert c.val == SEPARATOR.join(c.val_documents)
    assert all(SEPARATOR not in d and d.strip() == d and d for d in c.documents)
    whole = set(c.documents)
    assert all(d in whole for d in c.val.split(SEPARATOR))
    assert all(d in whole for d in c.train.split(SEPARATOR))
    assert 0.07 < len(c.val_ids) / len(c.documents) < 0.13
    kinds = {c.kinds[i] for i in c.val_ids}
    assert {"story", "biography", "qa", "review", "arithmetic"} <= set(c.kinds)
    assert {"story", "qa", "review", "arithmetic"} <= kinds
    assert all(c.kinds[i] == "review" for i in c.labels)


def test_stats_match_a_direct_count():
    c = corpus("tinyworld", size=30_000, seed=1)
    s = c.stats()
    assert s["documents"] == len(c.documents)
    assert s["bytes"] == len(c.text.encode())
    # Words are letter runs (with an apostrophe part) or digit runs: close to a whitespace split.
    assert abs(s["words"] - len(c.text.split())) < 0.05 * s["words"]
    assert s["distinct_words"] <= s["words"]
    assert s["duplicate_rate"] == 0.0
    dup = data.Corpus("x", ["a b", "a b", "c"], "a b\n\na b\n\nc", "", "")
    assert dup.stats()["duplicate_rate"] == pytest.approx(1 / 3)
    assert dup.stats()["distinct_words"] == 3 and dup.stats()["words"] == 5


def test_same_seed_byte_identical_even_in_another_process():
    c = corpus("tinyworld", size="tiny", seed=0)
    digest = hashlib.sha256(c.text.encode()).hexdigest()
    code = ("import hashlib; from minillm.data import corpus; "
            "print(hashlib.sha256(corpus('tinyworld', size='tiny', seed=0).text.encode()).hexdigest())")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == digest
    assert corpus("tinyworld", size="tiny", seed=1).text != c.text


def test_mixture_and_bad_input():
    stories = corpus("tinyworld", size=10_000, mixture={"story": 1.0})
    assert set(stories.kinds) == {"story"}
    with pytest.raises(ValueError, match="size 'huge'"):
        corpus("tinyworld", size="huge")
    with pytest.raises(ValueError, match="size"):
        corpus("tinyworld", size=-5)
    with pytest.raises(ValueError, match="mixture"):
        corpus("tinyworld", size=1000, mixture={"poems": 1.0})
    with pytest.raises(ValueError, match="val_fraction"):
        corpus("tinyworld", size=1000, val_fraction=1.0)
    for name in ("pydoc", "tinystories"):  # refused before any download
        with pytest.raises(ValueError, match="val_fraction must be in"):
            load_corpus(name, val_fraction=1.5)
    with pytest.raises(ValueError, match="applies only"):
        corpus("pydoc", size="tiny")
    with pytest.raises(ValueError, match="unknown corpus 'wikipedia'"):
        load_corpus("wikipedia")


# ---- offline real text -----------------------------------------------------------------------

def test_pydoc_corpus_is_offline_english():
    c = load_corpus("pydoc")
    from pydoc_data.topics import topics

    assert len(c.documents) == len(topics)
    assert 350_000 < c.stats()["bytes"] < 600_000
    assert c.text == SEPARATOR.join(c.documents)
    assert sorted(c.train_ids + c.val_ids) == list(range(len(c.documents)))
    assert any("assert" in d for d in c.documents)
    assert corpus("pydoc") is c


# ---- downloads against a local server ---------------------------------------------------------

PAYLOAD = b"To be, or not to be: a small test file.\n" * 2000


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def log_message(self, *args):  # keep pytest output quiet
        pass

    def do_GET(self):
        if self.path == "/cut":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    _Handler.files = {"/good.txt": PAYLOAD}
    shakespeare = data.shared_data("tinyshakespeare.txt")
    if shakespeare.is_file():
        _Handler.files["/input.txt"] = shakespeare.read_bytes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_good_file(server, tmp_path):
    dest = tmp_path / "cache" / "good.txt"
    out = download(f"{server}/good.txt", dest, hashlib.sha256(PAYLOAD).hexdigest(), progress=True)
    assert out == dest and dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == ["good.txt"], "no temporary file may stay behind"


def test_download_bad_checksum_saves_nothing(server, tmp_path):
    dest = tmp_path / "cache" / "good.txt"
    with pytest.raises(DownloadError, match="sha256") as info:
        download(f"{server}/good.txt", dest, "0" * 64, progress=False)
    assert "by hand" in str(info.value)
    assert _leftovers(dest.parent) == []


def test_download_cut_midway_saves_nothing(server, tmp_path):
    dest = tmp_path / "cache" / "cut.txt"
    with pytest.raises(DownloadError) as info:
        download(f"{server}/cut", dest, hashlib.sha256(PAYLOAD).hexdigest(), progress=False)
    assert "nothing was saved" in str(info.value) or "cut off" in str(info.value)
    assert _leftovers(dest.parent) == []


def test_download_without_network_says_how_to_get_the_file(tmp_path):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dest = tmp_path / "cache" / "x.txt"
    with pytest.raises(DownloadError, match="offline") as info:
        download(f"http://127.0.0.1:{port}/x.txt", dest, "0" * 64, progress=False, timeout=5)
    msg = str(info.value)
    assert f"http://127.0.0.1:{port}/x.txt" in msg and str(dest) in msg and "sha256" in msg
    assert not dest.exists()
    assert isinstance(info.value, ConnectionError)


def test_download_http_error(server, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        download(f"{server}/missing.txt", tmp_path / "m.txt", "0" * 64, progress=False)


# ---- tinyshakespeare -------------------------------------------------------------------------

def test_tinyshakespeare_sha256_and_standard_split():
    path = _shakespeare_file()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHAKESPEARE_SHA256
    c = load_corpus("tinyshakespeare", path=path)
    assert len(c.text) == 1_115_394
    n = int(0.9 * len(c.text))
    assert c.train == c.text[:n] and c.val == c.text[n:]
    assert len(c.train) == 1_003_854 and len(c.val) == 111_540
    assert c.text.startswith("First Citizen:")
    assert all(SEPARATOR not in d for d in c.documents)


def test_tinyshakespeare_download_into_cache(server, tmp_path, monkeypatch):
    _shakespeare_file()
    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path / "cache"))
    c = load_corpus("tinyshakespeare", url=f"{server}/input.txt", progress=False)
    cached = tmp_path / "cache" / "corpora" / "tinyshakespeare.txt"
    assert cached.is_file() and hashlib.sha256(cached.read_bytes()).hexdigest() == SHAKESPEARE_SHA256
    assert len(c.text) == 1_115_394
    # Second call: served from the cache, no network needed.
    again = load_corpus("tinyshakespeare", url="http://127.0.0.1:9/nothing-here", progress=False)
    assert again.text == c.text
    # A damaged cache file is fetched again.
    cached.write_text("damaged")
    assert load_corpus("tinyshakespeare", url=f"{server}/input.txt", progress=False).text == c.text


def test_tinyshakespeare_wrong_file_is_refused(tmp_path):
    bad = tmp_path / "input.txt"
    bad.write_text("not shakespeare")
    with pytest.raises(ValueError, match="sha256"):
        load_corpus("tinyshakespeare", path=bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_corpus("tinyshakespeare", path=tmp_path / "missing.txt")


# ---- tokens and batches ----------------------------------------------------------------------

class _WordTokenizer:
    """A tiny stand-in tokenizer with a vocabulary over 256 ids."""

    vocab_size = 1000

    def encode(self, text):
        return [sum(map(ord, w)) % 1000 for w in text.split()]


def test_encode_bytes_and_tokenizer_dtypes():
    t = encode("héllo")
    assert t.dtype == np.uint8 and bytes(t) == "héllo".encode()
    ids = encode("a bb ccc", _WordTokenizer())
    assert ids.dtype == np.uint16 and ids.tolist() == [97, 196, 297]
    assert data.dtype_for(70_000) == np.uint32 and data.dtype_for(256) == np.uint8
    with pytest.raises(TypeError, match="str"):
        encode(b"bytes")


def test_get_batch_shapes_shift_and_determinism():
    tokens = np.arange(1000, dtype=np.uint16)
    x, y = get_batch(tokens, batch_size=8, block_size=16, generator=0)
    assert x.shape == y.shape == (8, 16) and x.dtype == y.dtype == torch.int64
    torch.testing.assert_close(y[:, :-1], x[:, 1:])
    torch.testing.assert_close(y[:, -1], x[:, -1] + 1)  # consecutive windows of arange
    x2, _ = get_batch(tokens, 8, 16, generator=0)
    torch.testing.assert_close(x, x2)
    x3, _ = get_batch(tokens, 8, 16, generator=1)
    assert not torch.equal(x, x3)
    g = torch.Generator().manual_seed(0)
    a, _ = get_batch(tokens, 8, 16, g)
    b, _ = get_batch(tokens, 8, 16, g)
    assert not torch.equal(a, b), "a generator advances between calls"
    # Every window lies inside the array, including the last target.
    assert int(y.max()) <= 999 and int(x.min()) >= 0


def test_get_batch_from_tensor_and_on_a_device():
    tokens = torch.arange(500)
    x, y = get_batch(tokens, 4, 10, generator=3, device=torch.device("cpu"))
    torch.testing.assert_close(y, x + 1)
    from minillm import device

    dev = device()
    x, y = get_batch(np.arange(500, dtype=np.uint16), 4, 10, 3, device=dev)
    assert x.device.type == dev.type


def test_batches_iterator_and_bad_input():
    tokens = encode(corpus("tinyworld", size=5_000).train)
    it = Batches(tokens, 2, 32, seed=0)
    first = next(it)
    again = next(Batches(tokens, 2, 32, seed=0))
    torch.testing.assert_close(first[0], again[0])
    assert not torch.equal(next(it)[0], first[0])
    with pytest.raises(ValueError, match="block_size"):
        get_batch(np.arange(10), 2, 10)
    with pytest.raises(ValueError, match="positive"):
        get_batch(np.arange(100), 0, 10)
    with pytest.raises(TypeError, match="generator"):
        get_batch(np.arange(100), 2, 10, generator="seed")


def test_token_file_round_trip_memory_mapped(tmp_path):
    c = corpus("tinyworld", size="tiny")
    tokens = encode(c.train, _WordTokenizer())
    path = save_tokens(tokens, tmp_path / "train.npy")
    back = load_tokens(path)
    assert isinstance(back, np.memmap) and back.dtype == np.uint16
    np.testing.assert_array_equal(back, tokens)
    x, y = get_batch(back, 4, 8, generator=0)
    x2, _ = get_batch(tokens, 4, 8, generator=0)
    torch.testing.assert_close(x, x2)
    assert not isinstance(load_tokens(path, mmap=False), np.memmap)
    with pytest.raises(ValueError, match=".npy"):
        save_tokens(tokens, tmp_path / "train.bin")
    with pytest.raises(FileNotFoundError, match="save_tokens"):
        load_tokens(tmp_path / "missing.npy")


def test_tinystories_sample_is_pinned_and_split_by_story(tmp_path, monkeypatch):
    src = data.SOURCES["tinystories"]
    assert src.url.startswith("https://") and len(src.sha256) == 64 and "f54c09fd" in src.url
    # Offline stand-in with the real file's layout: stories separated by <|endoftext|> lines.
    stories = [f"Once upon a time, story {i} began.\nIt ended well." for i in range(50)]
    fake = tmp_path / "TinyStories-valid.txt"
    fake.write_text("\n<|endoftext|>\n".join(stories) + "\n")
    monkeypatch.setitem(
        data.SOURCES, "tinystories",
        data.Source(url=src.url, sha256=hashlib.sha256(fake.read_bytes()).hexdigest(),
                    filename=src.filename, description=src.description, separator=src.separator,
                    split=src.split),
    )
    c = load_corpus("tinystories", path=fake)
    assert c.documents == stories
    assert len(c.val_ids) == 5 and sorted(c.train_ids + c.val_ids) == list(range(50))
    assert c.val == SEPARATOR.join(stories[i] for i in c.val_ids)
    assert "<|endoftext|>" not in c.text
