"""The chapters' widgets: their callbacks never raise, handle non-ASCII text, and never show stale views."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from minillm.tokenizer import BPETokenizer, ByteTokenizer, CharTokenizer  # noqa: E402
from minillm.widgets import (  # noqa: E402
    attention_explorer,
    byte_labels,
    render_tokens_html,
    tokenizer_playground,
)

NON_ASCII = "naïve café, 日本, 🐶!"


@pytest.fixture(scope="module")
def tokenizers():
    text = "Once upon a time there was a dog. " * 20
    return {"characters": CharTokenizer().train(text), "bytes": ByteTokenizer(),
            "BPE": BPETokenizer().train(text, 270)}


def test_playground_first_view_is_never_an_error(tokenizers):
    ui = tokenizer_playground(tokenizers, "Hello 🐶", show=False)
    assert ui.children[0].value == "bytes", "the characters tokenizer cannot encode the emoji: start on one that can"
    assert "tokens</b>" in ui.view.value and "color:#a00" not in ui.view.value
    ascii_ui = tokenizer_playground(tokenizers, "Once upon a time", show=False)
    assert ascii_ui.children[0].value == "characters"
    with pytest.raises(ValueError, match="initial='nope' is not one of the tokenizers"):
        tokenizer_playground(tokenizers, "x", show=False, initial="nope")


def test_playground_callbacks_with_non_ascii_text(tokenizers):
    ui = tokenizer_playground(tokenizers, "Once", show=False, initial="characters")
    choice, box = ui.children[0], ui.children[1]
    box.value = NON_ASCII  # the characters tokenizer never saw 'ï': reported, not raised
    assert "color:#a00" in ui.view.value and "not in the vocabulary" in ui.view.value
    for name in ["bytes", "BPE"]:
        choice.value = name
        expected = render_tokens_html(tokenizers[name], NON_ASCII)
        assert ui.view.value == expected
        assert f"<b>{len(tokenizers[name].encode(NON_ASCII))} tokens</b>" in ui.view.value
    choice.value = "characters"
    box.value = "a dog"
    assert "color:#a00" not in ui.view.value and "<b>5 tokens</b>" in ui.view.value


def _byte_model_maps(max_len=40):
    """A stand-in for a byte-level model: one (L=2, H=3, T, T) causal map per text."""
    def get_maps(text):
        ids = list(text.encode("utf-8"))
        if len(ids) > max_len:
            raise ValueError(f"text is {len(ids)} tokens, the context holds {max_len}")
        T = len(ids)
        scores = torch.arange(T * T, dtype=torch.float32).reshape(T, T) % 7
        scores = scores.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
        return torch.softmax(scores, -1).expand(2, 3, T, T).clone(), byte_labels(text)
    return get_maps


def test_byte_labels_match_the_bytes():
    assert byte_labels("aé🐶") == ["a", "é", "·", "🐶", "·", "·", "·"]
    assert len(byte_labels(NON_ASCII)) == len(NON_ASCII.encode())


def test_attention_explorer_with_non_ascii_text_and_sliders():
    ui = attention_explorer(_byte_model_maps(), "a cat", show=False)
    text, layer, head, message = (ui.controls[k] for k in ("text", "layer", "head", "message"))
    assert ui.state["drawn"] == (0, 0, list("a cat"))
    text.value = "café 🐶"
    assert message.value == "" and ui.state["drawn"] == (0, 0, byte_labels("café 🐶"))
    layer.value, head.value = 1, 2
    assert ui.state["drawn"] == (1, 2, byte_labels("café 🐶"))


def test_attention_explorer_clears_the_old_map_when_a_text_is_refused():
    ui = attention_explorer(_byte_model_maps(max_len=10), "a cat", show=False)
    text, head, message = ui.controls["text"], ui.controls["head"], ui.controls["message"]
    text.value = "a sentence far too long for this context"
    assert "cannot show this text" in message.value and "context holds 10" in message.value
    assert ui.state["drawn"] is None
    head.value = 1  # moving a slider must not bring back the previous sentence's map
    assert ui.state["drawn"] is None and "cannot show this text" in message.value
    text.value = "ok 🐶"  # a good text again: drawn, message gone
    assert message.value == "" and ui.state["drawn"] == (0, 1, byte_labels("ok 🐶"))


def test_attention_explorer_reports_labels_that_do_not_match_the_map():
    get = _byte_model_maps()

    def characters_as_labels(text):  # the old chapter-2 bug: characters as labels, bytes as tokens
        maps, _ = get(text)
        return maps, list(text)

    ui = attention_explorer(characters_as_labels, "ascii only", show=False)
    ui.controls["text"].value = "café"
    assert "4 labels for 5 positions" in ui.controls["message"].value and "byte_labels" in ui.controls["message"].value
    assert ui.state["drawn"] is None
    with pytest.raises(ValueError, match="labels for"):
        attention_explorer(characters_as_labels, "café", show=False)
