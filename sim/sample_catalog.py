"""A product catalog generated from a seed, with a train and a test split of graded queries (as BEIR has).

It lets `make demo` run anywhere in a few minutes and still show the loop improving something: queries
say a need in users' words (sim/sample_vocabulary.py), relevant items say it in product words, and
same-category items that share the query's situation words but lack the feature sit beside them. Each
need has three user phrasings: two become train queries (users click on these), one a held-out test
query, so what fine-tuning learns from clicks on train queries carries over to the test split.

Grades: 3 = built for the need, 2 = has the feature besides its main one, 1 = meets the need partly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sim.sample_vocabulary import BRANDS, CATEGORIES, SERIES, Category, Need

SPLITS = ("train", "test")
BUILT, PARTIAL, DISTRACTORS, FILLERS = 7, 3, 3, 10  # per need, per need, per need, per category
SECOND_FEATURE = 0.35  # share of built-for items that also have another need's feature (grade 2 there)
SITUATION = 0.5  # share of built-for items that also name the need's situation (as the distractors do)

Queries = dict[str, str]  # query id -> text
Qrels = dict[str, dict[str, int]]  # query id -> {object_id: grade}


@dataclass(frozen=True)
class Catalog:
    items: list[dict[str, object]]
    queries: Queries
    qrels: Qrels = field(default_factory=dict)


def generate(seed: int = 7, split: str = "test") -> Catalog:
    """The catalog with one split's queries and qrels (as sim.beir.load reads one split)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: expected one of {SPLITS}")
    items, splits = generate_splits(seed)
    queries, qrels = splits[split]
    return Catalog(items=items, queries=queries, qrels=qrels)


def generate_splits(seed: int = 7) -> tuple[list[dict[str, object]], dict[str, tuple[Queries, Qrels]]]:
    """The items, and per split ("train", "test") its queries and graded qrels; same seed, same data."""
    rng = random.Random(seed)
    drafts: list[tuple[str, str, str, str]] = []  # (category, title noun, body, brand) before ids are given
    grades: dict[tuple[str, str], dict[int, int]] = {}  # (category, need) -> {draft index: grade}
    for category in CATEGORIES:
        for need in category.needs:
            grades[(category.name, need.key)] = {}
        for need in category.needs:
            _draft_need(rng, category, need, drafts, grades)
        for _ in range(FILLERS):
            drafts.append(_draft(rng, category, [_cap(e) for e in rng.sample(category.extras, k=3)]))
    order = list(range(len(drafts)))
    rng.shuffle(order)  # ids in shuffled order, so an id says nothing about the need it was built for
    object_ids = {draft: f"sku-{n:04d}" for n, draft in enumerate(order)}
    items = [_item(rng, object_ids[d], *drafts[d]) for d in sorted(order, key=object_ids.__getitem__)]
    splits: dict[str, tuple[Queries, Qrels]] = {name: ({}, {}) for name in SPLITS}
    for category in CATEGORIES:
        for need in category.needs:
            asks = list(need.asks)
            rng.shuffle(asks)  # which phrasing is held out depends on the seed
            judged = {object_ids[d]: g for d, g in grades[(category.name, need.key)].items()}
            for split, texts in (("train", asks[:2]), ("test", asks[2:])):
                for n, text in enumerate(texts):
                    qid = f"{split}-{category.name.replace(' ', '-')}-{need.key}-{n}"
                    splits[split][0][qid] = text
                    splits[split][1][qid] = dict(judged)
    return items, splits


def _draft_need(
    rng: random.Random,
    category: Category,
    need: Need,
    drafts: list[tuple[str, str, str, str]],
    grades: dict[tuple[str, str], dict[int, int]],
) -> None:
    others = [n for n in category.needs if n is not need]
    for _ in range(BUILT):
        sentences = [_cap(rng.choice(need.product))]
        grades[(category.name, need.key)][len(drafts)] = 3
        if rng.random() < SECOND_FEATURE:
            other = rng.choice(others)
            sentences.append(f"Also has {rng.choice(other.product)}")
            grades[(category.name, other.key)][len(drafts)] = 2
        if rng.random() < SITUATION:
            sentences.append(_cap(need.context))
        drafts.append(_draft(rng, category, sentences))
    for _ in range(PARTIAL):
        grades[(category.name, need.key)][len(drafts)] = 1
        drafts.append(_draft(rng, category, [_cap(need.partial), _cap(need.context)]))
    for n in range(DISTRACTORS):
        # The need's situation words, and its feature named only as missing; every other one is built
        # for another need of the category (relevant there), the rest meet none.
        sentences = [_cap(need.context), _cap(need.lacks)]
        if n % 2 == 0:
            other = rng.choice(others)
            sentences.insert(0, _cap(rng.choice(other.product)))
            grades[(category.name, other.key)][len(drafts)] = 3
        drafts.append(_draft(rng, category, sentences))


def _draft(rng: random.Random, category: Category, sentences: list[str]) -> tuple[str, str, str, str]:
    extra = rng.choice([e for e in category.extras if _cap(e) not in sentences])
    body = ". ".join([*sentences, _cap(extra)]) + "."
    return category.name, rng.choice(category.nouns), body, rng.choice(BRANDS)


def _item(
    rng: random.Random, object_id: str, category: str, noun: str, body: str, brand: str
) -> dict[str, object]:
    title = f"{brand} {rng.choice(SERIES)} {noun} {rng.choice('XSMR')}{rng.randint(100, 999)}"
    return {
        "object_id": object_id,
        "content": {"title": title, "body": body},
        "payload": {"brand": brand, "category": category, "price": round(rng.uniform(20, 900), 2)},
    }


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
