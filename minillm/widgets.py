"""Interactive widgets for the chapters (a leaf module: ipywidgets is imported here, never by the core).

Each chapter's helpers sit under a comment naming the chapter. Every widget has a function that
returns plain HTML (or a figure) for the same view, so a notebook can store a static rendering
that the HTML book shows.
"""

from __future__ import annotations

import html

# --- chapter 1: Tokenization

TOKEN_COLOURS = ("#fde2e4", "#dbe9e4", "#dfe7fd", "#fff1c1", "#e9d8fd", "#d8f3dc", "#ffd6a5", "#cde7f0")


def render_tokens_html(tokenizer, text: str, max_tokens: int = 1500) -> str:
    """HTML showing ``text`` cut into coloured tokens, each with its id below, and the token count.

    ``tokenizer`` is any :mod:`minillm.tokenizer` tokenizer (``encode`` and ``token_str``).
    Spaces show as "␣", newlines as "↵" and tabs as "⇥" so that they can be seen; bytes that
    are not a whole character show as ``\\xNN``.
    """
    ids = tokenizer.encode(text)
    spans = []
    for k, i in enumerate(ids[:max_tokens]):
        shown = tokenizer.token_str(i).replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")
        spans.append(
            '<span style="display:inline-block;margin:1px;padding:0 3px;border-radius:3px;'
            f'background:{TOKEN_COLOURS[k % len(TOKEN_COLOURS)]};font-family:monospace;text-align:center">'
            f'{html.escape(shown)}<br><sub style="color:#555">{i}</sub></span>'
        )
    more = f", showing the first {max_tokens}" if len(ids) > max_tokens else ""
    head = f"<div><b>{len(ids)} tokens</b> for {len(text)} characters ({len(text.encode('utf-8'))} bytes{more})</div>"
    return head + '<div style="line-height:2.4">' + "".join(spans) + "</div>"


def _show_widget(ui, note: str) -> None:
    """Display a widget with ``note`` as its plain-text form.

    A live notebook draws the widget; a static view (GitHub, the HTML book, a notebook opened
    before its cells ran) shows ``note`` instead of ``VBox(children=(...))``.
    """
    from IPython.display import display

    bundle = {
        "text/plain": note,
        "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0, "model_id": ui.model_id},
    }
    display(bundle, raw=True)


def tokenizer_playground(tokenizers: dict, text: str = "Hello world! Tokenizers split 12345 oddly.", show: bool = True,
                         initial: str | None = None):
    """A text box and a dropdown of tokenizers; shows the text as coloured tokens with ids and count.

    ``tokenizers`` maps a label (``"characters"``, ``"BPE 1024"``...) to a tokenizer; ``initial``
    is the label shown first (default: the first one that can encode ``text``, so the first view
    is never an error). Returns the widget box; with ``show=True`` (the default) it is also
    displayed. A text a tokenizer cannot encode (a character the character tokenizer never saw)
    is reported in the widget instead of raising.
    """
    import ipywidgets as widgets

    if not tokenizers:
        raise ValueError("tokenizer_playground needs at least one tokenizer, e.g. {'bytes': ByteTokenizer()}")
    if initial is not None and initial not in tokenizers:
        raise ValueError(f"initial={initial!r} is not one of the tokenizers {list(tokenizers)}")
    if initial is None:
        initial = next((name for name, tok in tokenizers.items() if _encodes(tok, text)), next(iter(tokenizers)))
    box = widgets.Textarea(value=text, description="Text", layout=widgets.Layout(width="95%", height="80px"))
    choice = widgets.Dropdown(options=list(tokenizers), value=initial, description="Tokenizer")
    out = widgets.HTML()

    def update(_=None):
        try:
            out.value = render_tokens_html(tokenizers[choice.value], box.value)
        except Exception as exc:  # noqa: BLE001 - a callback must never raise; e.g. an unseen character
            out.value = f"<div style='color:#a00'>{html.escape(f'{type(exc).__name__}: {exc}')}</div>"

    box.observe(update, names="value")
    choice.observe(update, names="value")
    update()
    ui = widgets.VBox([choice, box, out])
    ui.view = out  # the HTML shown, for tests and for a static copy
    if show:
        _show_widget(ui, "[tokenizer playground: run this cell in Jupyter to type your own text; "
                         "a static view of the same tokens follows]")
    return ui


def _encodes(tokenizer, text: str) -> bool:
    try:
        tokenizer.encode(text)
    except Exception:  # noqa: BLE001 - only asking whether it can
        return False
    return True


# --- chapter 2: attention


def byte_labels(text: str) -> list[str]:
    """One label per UTF-8 byte of ``text``, for byte-level models (chapter 2).

    A character of one byte is its own label; a character of several bytes labels its first byte
    and marks the others with "·", so a label list always matches ``list(text.encode())``.
    """
    labels = []
    for ch in text:
        n = len(ch.encode("utf-8"))
        labels += [ch] + ["·"] * (n - 1)
    return labels


def attention_explorer(get_maps, text: str, show: bool = True):
    """Explore attention patterns: a text box, layer and head sliders, and a heatmap.

    ``get_maps(text)`` returns ``(maps, tokens)``: the weights ``(L, H, T, T)`` of one sequence
    (e.g. ``model.attention_weights(ids)[:, 0]``) and the ``T`` token labels for the axes (for a
    byte-level model, :func:`byte_labels` gives one label per byte). A text that ``get_maps``
    refuses (too long for the context), or whose labels do not match the map, is reported in
    the widget and the old map is cleared, so the sliders never show a stale sentence. Returns
    the widget box; with ``show=True`` it is also displayed. For a static view (what the HTML
    book stores), call :func:`minillm.viz.plot_attention` directly.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from .viz import plot_attention

    maps, tokens = _checked_maps(get_maps, text)
    n_layer, n_head = int(maps.shape[0]), int(maps.shape[1])
    box = widgets.Text(value=text, description="Text", continuous_update=False,
                       layout=widgets.Layout(width="95%"))
    layer = widgets.IntSlider(value=0, min=0, max=n_layer - 1, description="layer")
    head = widgets.IntSlider(value=0, min=0, max=n_head - 1, description="head")
    message = widgets.HTML()
    out = widgets.Output()
    state = {"maps": maps, "tokens": tokens, "error": None, "drawn": None}

    def new_text(_=None):
        try:
            state["maps"], state["tokens"] = _checked_maps(get_maps, box.value)
            state["error"] = None
        except Exception as exc:  # noqa: BLE001 - a callback must never raise
            state["maps"], state["tokens"] = None, None
            state["error"] = f"cannot show this text: {type(exc).__name__}: {exc}"
        redraw()

    def redraw(_=None):
        message.value = "" if state["error"] is None else f"<div style='color:#a00'>{html.escape(state['error'])}</div>"
        with out:
            out.clear_output(wait=True)
            if state["maps"] is None:
                state["drawn"] = None
                return
            try:
                plot_attention(state["maps"][layer.value, head.value], state["tokens"],
                               title=f"layer {layer.value}, head {head.value}")
                plt.show()
                state["drawn"] = (layer.value, head.value, list(state["tokens"]))
            except Exception as exc:  # noqa: BLE001
                state["drawn"] = None
                message.value = f"<div style='color:#a00'>{html.escape(f'{type(exc).__name__}: {exc}')}</div>"

    box.observe(new_text, names="value")
    layer.observe(redraw, names="value")
    head.observe(redraw, names="value")
    redraw()
    ui = widgets.VBox([box, widgets.HBox([layer, head]), message, out])
    ui.state, ui.controls = state, {"text": box, "layer": layer, "head": head, "message": message}
    if show:
        _show_widget(ui, "[attention explorer: run this cell in Jupyter to type a sentence and move the "
                         "layer and head sliders; a static view follows]")
    return ui


def _checked_maps(get_maps, text: str):
    maps, tokens = get_maps(text)
    if maps.ndim != 4 or maps.shape[-1] != maps.shape[-2]:
        raise ValueError(f"get_maps should return weights of shape (L, H, T, T), got {tuple(maps.shape)}")
    if len(tokens) != maps.shape[-1]:
        raise ValueError(
            f"get_maps returned {len(tokens)} labels for {maps.shape[-1]} positions; for a byte-level model "
            "label the bytes (minillm.widgets.byte_labels(text)), not the characters"
        )
    return maps, list(tokens)
