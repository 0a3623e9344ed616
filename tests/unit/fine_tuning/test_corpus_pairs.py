"""Corpus pairs: titles, inverse cloze, crops, the budget, sampling across objects, held-out spans."""

from __future__ import annotations

import msgspec

from functions.config import CorpusPolicy, Sources
from functions.fine_tuning import corpus_pairs as cp
from functions.records import CorpusObject, Example

POLICY = CorpusPolicy(
    max_pairs=100, per_object=2, keep_span_share=0.0, min_words=3, context_words=40, eval_queries=2
)
LONG = (
    "Solar panels turn light into power. Each cell holds doped silicon layers. "
    "Inverters change the direct current. Batteries store what the roof makes by day. "
    "Cleaning the glass keeps output high."
)


def obj(oid: str, text: str = LONG, fields: dict[str, str] | None = None) -> CorpusObject:
    return CorpusObject(object_id=oid, fields=fields or {}, text=text)


def test_budget_follows_the_weights_up_to_the_cap() -> None:
    assert cp.corpus_budget(40, Sources(corpus=0.0, clicks=1.0), POLICY) == 0
    assert cp.corpus_budget(40, Sources(corpus=0.5, clicks=1.0), POLICY) == 20
    assert cp.corpus_budget(400, Sources(corpus=1.0, clicks=1.0), POLICY) == 100
    # No click weight, or no click pair: the whole cap.
    assert cp.corpus_budget(40, Sources(corpus=1.0, clicks=0.0), POLICY) == 100
    assert cp.corpus_budget(0, Sources(corpus=0.2, clicks=1.0), POLICY) == 100


def test_sentences_split_on_ends_and_lines() -> None:
    assert cp.sentences("One two. Three four!  Five?\nSix seven") == [
        "One two.",
        "Three four!",
        "Five?",
        "Six seven",
    ]
    # Cranfield writes " ." with a space before the stop.
    assert cp.sentences("a wing in a slipstream . an experimental study") == [
        "a wing in a slipstream .",
        "an experimental study",
    ]


def test_title_pair_cuts_a_repeated_title_from_the_body() -> None:
    o = obj("1", fields={"title": "Roof solar kit", "body": "Roof solar kit. Four panels and an inverter."})
    assert cp.title_pair(o, 3) == ("Roof solar kit", "Four panels and an inverter.")
    o = obj("1", fields={"title": "Roof solar kit", "body": "Four panels and an inverter.", "brand": "Sunny"})
    assert cp.title_pair(o, 3) == ("Roof solar kit", "Four panels and an inverter.\nSunny")


def test_title_pair_takes_the_short_field_when_none_is_named_title() -> None:
    o = obj(
        "1",
        fields={
            "desc": "A long description of a garden hose that does not kink in winter",
            "label": "Flexi hose pro",
        },
    )
    assert cp.title_pair(o, 3) == (
        "Flexi hose pro",
        "A long description of a garden hose that does not kink in winter",
    )


def test_no_title_pair_for_plain_text_or_a_title_as_long_as_the_body() -> None:
    assert cp.title_pair(obj("1"), 3) is None
    assert (
        cp.title_pair(obj("1", fields={"title": "one two three four", "body": "five six seven"}), 3) is None
    )


def test_cloze_cuts_the_span_from_its_context_within_the_window() -> None:
    sents = cp.sentences(LONG)
    rng = cp.object_rng(1, "x")
    for _ in range(20):
        pair = cp.cloze_pair(sents, rng, POLICY)
        assert pair is not None
        span, context = pair
        assert span in sents
        assert span not in context
        assert len(context.split()) <= POLICY.context_words + max(len(s.split()) for s in sents)


def test_cloze_keeps_the_span_in_place_when_told() -> None:
    keep = msgspec.structs.replace(POLICY, keep_span_share=1.0, context_words=400)
    span, context = cp.cloze_pair(cp.sentences(LONG), cp.object_rng(1, "x"), keep) or ("", "")
    assert span in context
    assert context == " ".join(cp.sentences(LONG))


BOOTS = "Waterproof hiking boots with a wide toe box"


def test_short_objects_give_crops_not_clozes() -> None:
    pairs = list(zip(range(3), cp.pairs_of(obj("1", BOOTS), POLICY, 1), strict=False))
    kinds = {kind for _, (kind, _, _) in pairs}
    assert kinds == {"crop"}
    for _, (_, a, b) in pairs:
        assert a != b
        assert len(a.split()) >= POLICY.min_words
        assert set(a.split()) <= set(BOOTS.split())


def test_too_short_objects_give_nothing() -> None:
    assert list(cp.pairs_of(obj("1", "Red mug"), POLICY, 1)) == []


def numbered(i: int) -> str:
    """LONG with every sentence marked as object i's."""
    return " ".join(f"{s[:-1]} number{i}." for s in cp.sentences(LONG))


def test_sampling_spreads_over_objects_and_caps_each_one() -> None:
    objects = [obj(str(i), numbered(i)) for i in range(5)]
    one_round = cp.sample_pairs(objects, POLICY, 5, seed=1)
    assert sorted(e.query.split()[-1] for e in one_round) == [f"number{i}." for i in range(5)]
    capped = cp.sample_pairs(objects, POLICY, 100, seed=1)
    assert len(capped) == 5 * POLICY.per_object
    assert all(
        e.kind == "inverse_cloze" and e.negatives == [] and e.positive_weights == [1.0] for e in capped
    )


def test_sampling_is_fixed_by_the_seed_and_deduplicated() -> None:
    objects = [obj("a", "Blue kettle with a whistle"), obj("b", LONG)]
    first = cp.sample_pairs(objects, POLICY, 10, seed=3)
    assert first == cp.sample_pairs(objects, POLICY, 10, seed=3)
    assert first != cp.sample_pairs(objects, POLICY, 10, seed=4)
    keys = [(e.query.casefold(), e.positives[0].casefold()) for e in first]
    assert len(keys) == len(set(keys))


def test_held_out_objects_give_spans_relevant_to_themselves() -> None:
    objects = [obj(str(i), numbered(i)) for i in range(10)]
    train, held = cp.held_out(objects, POLICY, seed=1)
    assert len(held) == 2
    assert not {o.object_id for o in train} & {o.object_id for o in held}
    queries = cp.eval_queries(held, POLICY, seed=1)
    assert sorted(oid for q in queries for oid in q.relevant) == sorted(o.object_id for o in held)
    assert all(len(q.relevant) == 1 and q.query_id.startswith("c_") for q in queries)
    # A span of its own object, cut from it.
    for q in queries:
        assert q.query in cp.sentences(numbered(int(next(iter(q.relevant)))))


def test_counts_name_every_kind() -> None:
    click = Example(query="q", positives=["a", "b"], positive_weights=[1.0, 0.5], negatives=[])
    crop = Example(query="x y z", positives=["y z w"], positive_weights=[1.0], negatives=[], kind="crop")
    assert cp.counts([click, crop]) == {"clicks": 2, "title": 0, "inverse_cloze": 0, "crop": 1}
