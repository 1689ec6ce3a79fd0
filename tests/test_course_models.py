"""The course's models of issue 11 against their bars, and the people their recipe teaches.

The bar tests load ``minillm.pretrained("tinyworld")`` (the base) and ``("tinyworld-chat")``;
``make test`` builds both first (``make models``, once per cache), so here they only load.
The figures with the build times are printed by ``python benchmarks/course_models.py``.
"""

import pytest

import minillm
import minillm.zoo as zoo
from minillm.evaluate import fact_completion, qa_accuracy

NAME = "tinyworld"


@pytest.fixture(scope="module")
def people():
    return zoo.course_people(NAME)


def test_the_base_knows_its_cast_and_not_the_held_out(people):
    model, tok = minillm.pretrained(NAME, progress=False)
    world = people["world"]
    held_in = fact_completion(model, tok, world, zoo.eval_people(people["held_in"], 50, seed=1),
                              choice=False)
    assert held_in.exact_all >= 0.80, held_in.exact
    held_out = fact_completion(model, tok, world, zoo.eval_people(people["held_out"], 40, seed=1),
                               relations=["birth_city", "job"])
    assert held_out.exact_all <= 0.15, held_out.exact
    assert held_out.choice_all <= held_out.chance_all + 0.15, held_out.choice


def test_the_assistant_answers_questions_it_was_never_trained_on(people):
    model, tok = minillm.pretrained("tinyworld-chat", progress=False)
    world = people["world"]
    rels = zoo.MODELS["tinyworld-chat"].recipe["eval"]["relations"]
    qas = [world.qa(p, r) for p in zoo.eval_people(people["no_qa"], 40, seed=1) for r in rels]
    s = qa_accuracy(model, tok, qas)
    assert s.exact >= 0.80, (s.exact, s.by_relation, s.examples)
    # and it cannot know people it never read about: the same questions about held-out people
    unknown = [world.qa(p, r) for p in zoo.eval_people(people["held_out"], 20, seed=1) for r in rels]
    assert qa_accuracy(model, tok, unknown).exact <= 0.10


def test_course_people_follow_the_recipe(people):
    from minillm.data import corpus

    c = zoo.MODELS[NAME].recipe["corpus"]
    text = corpus("tinyworld", size=200_000, seed=c["seed"], **c["options"]).train
    assert len(people["held_in"]) == c["options"]["cast"]
    # a tenth of the corpus already names most of the cast
    assert sum(p.name in text for p in people["held_in"]) > 0.8 * len(people["held_in"])
    assert not any(p.name in text for p in people["held_out"])
    assert len(people["qa"]) == c["options"]["qa_cast"]
    assert not {p.id for p in people["no_qa"]} & {p.id for p in people["qa"]}
    assert zoo.course_people("tinyworld-chat")["held_in"] == people["held_in"]  # via its base


def test_the_aligned_model_earns_more_true_reward_than_the_chat_model():
    """DPO on the labeller's preferences raises the true reward on held-out questions, close to
    the chat model (small KL). 12 samples x 32 questions x 3 sampling seeds = 1,152 answers per
    model. On the "tinyworld" v3 base the chat model already scores 3.6-3.7 of 4, and the aligned
    v2 measured +0.093 on average (-0.002 / +0.154 / +0.126 for seeds 7 / 8 / 9: one seed's 384
    answers are too few to see the gain) at KL 0.07-0.13; the mean gain's standard error is about
    0.025, so +0.04 asks for a gain clear of zero with room for a rebuild elsewhere."""
    from minillm import rlhf

    chat, tok = minillm.pretrained("tinyworld-chat", progress=False)
    aligned, _ = minillm.pretrained("tinyworld-aligned", progress=False)
    t = zoo.MODELS["tinyworld-aligned"].recipe["task"]
    runs = [rlhf.held_out_comparison({"chat": chat, "aligned": aligned}, chat, tok, t, samples=12, seed=s)
            for s in (7, 8, 9)]
    gain = sum(r["aligned"]["reward"] - r["chat"]["reward"] for r in runs) / len(runs)
    assert gain >= 0.04, [(r["chat"]["reward"], r["aligned"]["reward"]) for r in runs]
    assert max(r["aligned"]["kl"] for r in runs) <= 2.0, [r["aligned"]["kl"] for r in runs]
