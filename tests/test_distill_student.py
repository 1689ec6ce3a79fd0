"""The course's distilled student (chapter 10): ``minillm.distill.build_student``, the builder of
``minillm.pretrained("tinyworld-student")``.

The builder is run end to end through :func:`minillm.zoo.pretrained` on a tiny teacher (a few
thousand parameters, a 20 KB corpus), so it takes seconds: it must train with the distillation
loss at the recipe's ``T`` and ``alpha``, refuse a student over its parameter cap before any
training, and write a folder that loads. The last test holds the cached student to its bar
(issue 14): ``make test`` builds it first (``make models``), so there it only loads.
"""

import json

import pytest
import torch

import minillm.distill as distill
import minillm.zoo as z
from minillm.utils import seed_everything

TEACHER = {
    "corpus": {"name": "tinyworld", "size": 20_000, "seed": 0,
               "options": {"cast": 5, "full_names": True, "mixture": {"biography": 0.8, "story": 0.2}}},
    "tokenizer": {"vocab_size": 300, "train_chars": 10_000},
    "model": {"preset": "tiny", "block_size": 32, "n_layer": 1, "n_head": 2, "n_embd": 32},
    "train": {"preset": "tinyworld", "steps": 40, "batch_size": 8, "lr": 1e-2, "warmup_steps": 4},
    "eval": {"people": 5},
}
STUDENT = {
    "transfer": {"size": 20_000, "mixture": {"biography": 1.0}},
    "model": {"preset": "tiny", "block_size": 32, "n_layer": 1, "n_head": 2, "n_embd": 8, "pos": "learned"},
    "max_param_ratio": 0.25,
    "train": {"preset": "tinyworld", "steps": 30, "batch_size": 8, "block_size": 16, "lr": 2e-2,
              "warmup_steps": 3},
    "distill": {"T": 2.0, "alpha": 0.3},
    "eval": {"people": 5},
}


def _register(monkeypatch, tmp_path, student=STUDENT, base="unit-teacher"):
    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path))
    monkeypatch.setitem(z.MODELS, "unit-teacher", z.Entry(version=1, recipe=TEACHER,
                                                          build="minillm.zoo:build_knowledge"))
    monkeypatch.setitem(z.MODELS, "unit-student", z.Entry(version=1, recipe=student, base=base,
                                                          build="minillm.distill:build_student"))


@torch.no_grad()
def _kl_to_teacher(student, teacher, ids):
    x = torch.as_tensor(ids[: 4 * 16].astype("int64")).view(4, 16)
    return distill.distillation_loss(student(x)[0], teacher(x)[0], x, T=1.0, alpha=1.0).item()


def test_build_student_distils_the_teacher_into_a_loadable_folder(tmp_path, monkeypatch):
    from minillm.data import corpus, encode

    seen = []
    real_loss = distill.distillation_loss

    def spy(*args, **kwargs):  # DistillTrainer calls the module's distillation_loss at each step
        seen.append((kwargs.get("T"), kwargs.get("alpha")))
        return real_loss(*args, **kwargs)

    _register(monkeypatch, tmp_path)
    monkeypatch.setattr(distill, "distillation_loss", spy)
    student, tok = z.pretrained("unit-student", progress=False)
    teacher, teacher_tok = z.pretrained("unit-teacher", progress=False)
    monkeypatch.setattr(distill, "distillation_loss", real_loss)

    assert seen and len(seen) == STUDENT["train"]["steps"] and set(seen) == {(2.0, 0.3)}
    folder = z.model_dir("unit-student")
    assert folder.name == "unit-student-v1+unit-teacher-v1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "model.safetensors", "recipe.json", "tokenizer.json"]
    # the recipe's shape, the teacher's tokenizer, under the parameter cap
    c = student.config
    assert (c.n_layer, c.n_embd, c.pos, c.block_size, c.vocab_size) == (1, 8, "learned", 32, 300)
    assert tok.encode("Once upon a time") == teacher_tok.encode("Once upon a time")
    info = json.loads((folder / "recipe.json").read_text())
    assert info["params"] == student.num_params() and info["teacher_params"] == teacher.num_params()
    assert info["param_ratio"] == pytest.approx(student.num_params() / teacher.num_params(), abs=1e-4)
    assert info["param_ratio"] <= 0.25 and info["steps"] == 30
    for key in ("facts_held_in", "teacher_facts_held_in", "facts_held_out"):
        assert 0.0 <= info[key]["exact"] <= 1.0 and set(info[key]["by_relation"]) == {
            "birth_city", "job", "color", "food"}
    kept = info["facts_held_in"]["exact"] / max(info["teacher_facts_held_in"]["exact"], 1e-9)
    assert info["facts_kept"] == pytest.approx(kept, abs=1e-3)
    # it trained towards the teacher: closer to it than the same initial weights were
    seed_everything(0)
    init = z.recipe_model(STUDENT, tok.vocab_size).eval()
    ids = encode(corpus("tinyworld", size=20_000, seed=0, cast=5, full_names=True,
                        mixture={"biography": 1.0}).val, tok)
    before, after = _kl_to_teacher(init, teacher, ids), _kl_to_teacher(student, teacher, ids)
    assert after < 0.7 * before, (before, after)


def test_build_student_bad_recipes_fail_before_training(tmp_path, monkeypatch):
    import minillm.train as t

    _register(monkeypatch, tmp_path)
    z.pretrained("unit-teacher", progress=False)  # the teacher itself builds

    def no_training(self):
        raise AssertionError("build_student trained before checking its recipe")

    monkeypatch.setattr(t.Trainer, "fit", no_training)
    too_big = {**STUDENT, "model": {**STUDENT["model"], "n_embd": 32}}  # as wide as the teacher
    for recipe, base, message in [
        (too_big, "unit-teacher", r"parameters, 1\.\d+ of the teacher's .* max_param_ratio=0\.25"),
        ({k: v for k, v in STUDENT.items() if k != "distill"}, "unit-teacher", r"lacks \['distill'\]"),
        ({**STUDENT, "max_param_ratio": 2}, "unit-teacher", r"max_param_ratio'\] must be a share in \(0, 1\]"),
        (STUDENT, None, r"distils a teacher: give the entry a base"),
    ]:
        _register(monkeypatch, tmp_path, recipe, base)
        with pytest.raises(ValueError, match=message):
            z.pretrained("unit-student", progress=False)
        assert not z.is_built("unit-student")  # nothing half-built is left in the cache
    bad_t = {**STUDENT, "distill": {"T": 0, "alpha": 0.5}}
    _register(monkeypatch, tmp_path, bad_t)
    with pytest.raises(ValueError, match=r"T must be a number > 0, got 0"):
        z.pretrained("unit-student", progress=False)


def test_the_cached_student_meets_its_bar():
    """Issue 14's bar on the cached course model: at most a quarter of the teacher's parameters,
    at least 90% of its held-in fact accuracy (all 100 people of the cast, exact match)."""
    import minillm
    from minillm.evaluate import fact_completion

    student, tok = minillm.pretrained("tinyworld-student", progress=False)
    teacher, _ = minillm.pretrained("tinyworld", progress=False)
    people = z.course_people("tinyworld-student")
    assert people["held_in"] == z.course_people("tinyworld")["held_in"]
    assert student.num_params() <= 0.25 * teacher.num_params()
    s = fact_completion(student, tok, people["world"], people["held_in"], choice=False).exact_all
    t = fact_completion(teacher, tok, people["world"], people["held_in"], choice=False).exact_all
    assert s >= 0.9 * t, (s, t)
