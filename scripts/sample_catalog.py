"""A small product catalog generated from a seed, with known relevant items per query.

It lets `make demo` run anywhere in a few minutes, and gives a quality figure that means
something: each query names a need, and the relevant items are the ones built to meet it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# (category, need phrases that make an item relevant, other descriptive phrases)
CATEGORIES: dict[str, tuple[list[str], list[str]]] = {
    "headphones": (
        ["active noise cancelling for long flights", "open-back sound for studio mixing"],
        ["foldable headband", "40-hour battery", "USB-C charging", "memory-foam ear cushions"],
    ),
    "running shoes": (
        ["waterproof trail grip for muddy paths", "carbon plate for road racing"],
        ["breathable mesh upper", "reflective heel", "wide toe box", "recycled laces"],
    ),
    "coffee maker": (
        ["espresso with a steam wand for milk foam", "cold brew concentrate overnight"],
        ["stainless steel carafe", "programmable timer", "descaling alert", "compact footprint"],
    ),
    "tent": (
        ["ultralight for solo backpacking", "four-season shelter for snow camping"],
        ["color-coded poles", "two vestibules", "mesh storage pockets", "stuff sack included"],
    ),
    "laptop": (
        ["long battery life for students", "dedicated graphics for gaming"],
        ["backlit keyboard", "aluminium chassis", "fingerprint reader", "two USB-C ports"],
    ),
    "desk chair": (
        ["lumbar support for back pain", "kneeling posture for short sessions"],
        ["breathable mesh back", "adjustable armrests", "silent casters", "five-year warranty"],
    ),
}
BRANDS = ["Acme", "Northwind", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell"]
QUERY_TEMPLATES = ["{category} {need}", "best {category} with {need}", "I need a {category}: {need}"]


@dataclass(frozen=True)
class Catalog:
    items: list[dict[str, object]]
    queries: dict[str, str]  # query id -> text
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)  # query id -> {object_id: grade}


def generate(seed: int = 7, per_need: int = 4, distractors: int = 3) -> Catalog:
    """Items meeting each need (relevant), plus items of the same category that meet none."""
    rng = random.Random(seed)
    items: list[dict[str, object]] = []
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for category, (needs, extras) in CATEGORIES.items():
        for n, need in enumerate(needs):
            qid = f"q-{category.replace(' ', '-')}-{n}"
            queries[qid] = rng.choice(QUERY_TEMPLATES).format(category=category, need=need)
            qrels[qid] = {}
            for _ in range(per_need):
                object_id = f"sku-{len(items):04d}"
                items.append(_item(rng, object_id, category, need, extras))
                qrels[qid][object_id] = 2
        for _ in range(distractors):
            items.append(_item(rng, f"sku-{len(items):04d}", category, None, extras))
    rng.shuffle(items)
    return Catalog(items=items, queries=queries, qrels=qrels)


def _item(
    rng: random.Random, object_id: str, category: str, need: str | None, extras: list[str]
) -> dict[str, object]:
    brand = rng.choice(BRANDS)
    features = rng.sample(extras, k=2)
    pitch = f"Built for {need}." if need else "A dependable everyday choice."
    return {
        "object_id": object_id,
        "content": {
            "title": f"{brand} {category.title()} {rng.randint(100, 999)}",
            "body": f"{pitch} Features: {features[0]}, {features[1]}.",
        },
        "payload": {"brand": brand, "category": category, "price": round(rng.uniform(20, 900), 2)},
    }
