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


# --- chapter 5: inference and sampling


def next_token_table(model, tokenizer, prompt: str, temperature: float = 1.0, top_k=None, top_p=None,
                     min_p=None, n: int = 12) -> list[tuple[str, float, float, bool]]:
    """The ``n`` likeliest next tokens after ``prompt``: ``(token, model prob, prob after the
    controls, kept)`` rows. The model's probabilities are at temperature 1; the second column
    is what sampling with these settings draws from."""
    import torch

    from .generate import SamplingConfig, process_logits

    cfg = SamplingConfig(temperature, top_k, top_p, min_p)
    ids = tokenizer.encode(prompt)[-model.config.block_size:]
    if not ids:
        raise ValueError("type a prompt first: the model needs at least one token")
    with torch.no_grad():
        logits = model(torch.tensor([ids]), last_only=True)[0][0, -1].float()
    raw = torch.softmax(logits, -1)
    if temperature == 0:
        after = torch.zeros_like(raw)
        after[raw.argmax()] = 1.0
    else:
        after = torch.softmax(process_logits(logits[None], cfg)[0], -1)
    top = torch.topk(raw, min(n, raw.numel())).indices.tolist()
    return [(tokenizer.token_str(i), float(raw[i]), float(after[i]), bool(after[i] > 0)) for i in top]


def render_next_token_html(rows, sample_text: str | None = None) -> str:
    """HTML bars for :func:`next_token_table` rows (the static view of :func:`sampling_lab`)."""
    parts = ["<table style='font-family:monospace;font-size:12px'>",
             "<tr><th>token</th><th>model p</th><th>sampled from</th></tr>"]
    for tok, p, q, kept in rows:
        shown = html.escape(tok.replace(" ", "␣").replace("\n", "↵"))
        colour = "#4c72b0" if kept else "#cccccc"
        parts.append(
            f"<tr><td>{shown}</td><td>{p:.3f}</td><td><div style='display:inline-block;height:10px;"
            f"width:{int(300 * q)}px;background:{colour}'></div> {q:.3f}</td></tr>")
    parts.append("</table>")
    if sample_text is not None:
        parts.append(f"<p><b>sample:</b> {html.escape(sample_text)}</p>")
    return "".join(parts)


def sampling_lab(model, tokenizer, prompt: str = "Once upon a time", show: bool = True):
    """The sampling lab (chapter 5): a prompt box and sliders for temperature, top-k and top-p;
    shows the next-token distribution before and after the controls, and streams a sampled
    continuation on demand. Returns the widget box (displayed too with ``show=True``); for a
    static view use :func:`render_next_token_html` with :func:`next_token_table`."""
    import ipywidgets as widgets
    from IPython.display import display

    from .generate import stream

    box = widgets.Text(value=prompt, description="Prompt", continuous_update=False,
                       layout=widgets.Layout(width="95%"))
    temp = widgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.05, description="temperature")
    top_k = widgets.IntSlider(value=0, min=0, max=100, description="top-k (0=off)")
    top_p = widgets.FloatSlider(value=1.0, min=0.05, max=1.0, step=0.05, description="top-p")
    button = widgets.Button(description="Sample a continuation")
    out = widgets.HTML()
    state = {"sample": None, "seed": 0}

    def settings():
        return dict(temperature=temp.value, top_k=top_k.value or None, top_p=top_p.value)

    def update(_=None):
        try:
            rows = next_token_table(model, tokenizer, box.value, **settings())
            out.value = render_next_token_html(rows, state["sample"])
        except ValueError as exc:
            out.value = f"<div style='color:#a00'>{html.escape(str(exc))}</div>"

    def draw(_=None):
        # the continuation appears piece by piece, as minillm.generate.stream produces it
        state["seed"] += 1
        state["sample"] = box.value
        try:
            for piece in stream(model, tokenizer, box.value, max_new_tokens=40, seed=state["seed"],
                                truncate_prompt=True, overflow="slide", **settings()):
                state["sample"] += piece
                update()
        except ValueError as exc:
            state["sample"] = f"({exc})"
        update()

    for w in (box, temp, top_k, top_p):
        w.observe(update, names="value")
    button.on_click(draw)
    update()
    ui = widgets.VBox([box, widgets.HBox([temp, top_k, top_p]), button, out])
    if show:
        display(ui)
    return ui


# --- chapter 7: RLHF


def _answer_box(title: str, text: str) -> str:
    shown = html.escape(text) if text.strip() else "<i>(empty answer)</i>"
    return (f"<div style='border:1px solid #ccc;border-radius:6px;padding:6px;margin:2px'>"
            f"<b>{title}</b><br><span style='font-family:monospace'>{shown}</span></div>")


class LabellingWidget:
    """Label answer pairs yourself: a prompt, two answers, and buttons left / right / skip (chapter 7.1).

    ``items``: ``(prompt, answer_a, answer_b)`` triples (e.g. from
    :func:`minillm.rlhf.sample_pairs`); ``path``: the JSON file the labels go to. Each click on
    "left" or "right" records a :class:`minillm.rlhf.PreferencePair` (the clicked answer is
    ``chosen``) and rewrites the file at once (atomically), so closing the notebook loses
    nothing; "skip" moves on without a label. The same file feeds the reward model
    (:func:`minillm.rlhf.load_preferences`). ``pairs``, ``skipped`` and ``index`` tell where
    you are; ``widget`` is the ipywidgets box (shown with ``show=True``).
    """

    def __init__(self, items, path, show: bool = True):
        import ipywidgets as widgets

        from .rlhf import PreferencePair, save_preferences

        self._pair, self._save = PreferencePair, save_preferences
        self.items = [tuple(i) for i in items]
        if not self.items:
            raise ValueError("items is empty; pass (prompt, answer_a, answer_b) triples to label")
        for k, it in enumerate(self.items):
            if len(it) != 3 or not all(isinstance(x, str) for x in it):
                raise ValueError(f"items[{k}] must be a (prompt, answer_a, answer_b) triple of str, got {it!r:.80}")
            if it[1] == it[2]:
                raise ValueError(f"items[{k}] has two identical answers ({it[1]!r}); there is nothing to choose")
        self.path = path
        self.pairs: list = []
        self.skipped = 0
        self.index = 0
        self.prompt = widgets.HTML()
        self.answers = widgets.HTML()
        self.left = widgets.Button(description="left is better", button_style="info")
        self.right = widgets.Button(description="right is better", button_style="info")
        self.skip = widgets.Button(description="skip")
        self.status = widgets.HTML()
        self.left.on_click(lambda _: self._choose(0))
        self.right.on_click(lambda _: self._choose(1))
        self.skip.on_click(lambda _: self._choose(None))
        self.widget = widgets.VBox([self.prompt, self.answers,
                                    widgets.HBox([self.left, self.right, self.skip]), self.status])
        self._show()
        if show:
            from IPython.display import display

            display(self.widget)

    @property
    def done(self) -> bool:
        return self.index >= len(self.items)

    def _choose(self, side) -> None:
        if self.done:
            return
        prompt, a, b = self.items[self.index]
        if side is None:
            self.skipped += 1
        else:
            chosen, rejected = (a, b) if side == 0 else (b, a)
            self.pairs.append(self._pair(prompt, chosen, rejected))
            self._save(self.pairs, self.path)
        self.index += 1
        self._show()

    def html(self) -> str:
        """The current item as static HTML (what a stored notebook shows)."""
        if self.done:
            return f"<p>All {len(self.items)} items seen: {len(self.pairs)} labelled, {self.skipped} skipped.</p>"
        prompt, a, b = self.items[self.index]
        return (f"<p><b>Prompt</b> ({self.index + 1}/{len(self.items)}): {html.escape(prompt)}</p>"
                f"<div style='display:flex'>{_answer_box('left', a)}{_answer_box('right', b)}</div>")

    def _show(self) -> None:
        if self.done:
            self.prompt.value, self.answers.value = self.html(), ""
            for b in (self.left, self.right, self.skip):
                b.disabled = True
        else:
            prompt, a, b = self.items[self.index]
            self.prompt.value = (f"<b>Prompt</b> ({self.index + 1}/{len(self.items)}): "
                                 f"{html.escape(prompt)}")
            self.answers.value = f"<div style='display:flex'>{_answer_box('left', a)}{_answer_box('right', b)}</div>"
        self.status.value = f"{len(self.pairs)} labelled, {self.skipped} skipped, saved to {html.escape(str(self.path))}"


def labelling_widget(items, path, show: bool = True) -> LabellingWidget:
    """Make (and show) a :class:`LabellingWidget` for ``items`` that saves labels to ``path``."""
    return LabellingWidget(items, path, show=show)
