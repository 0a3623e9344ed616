"""The 100 fixed texts whose embeddings an export stores beside the model (export-time parity)."""

from __future__ import annotations

import random

_SUBJECTS = (
    "The boundary layer",
    "A supersonic jet",
    "Heat transfer",
    "The search engine",
    "Your order",
    "Das Flugzeug",
    "La couche limite",
    "Quantum tunnelling",
    "A red bicycle",
    "The stock market",
)
_VERBS = ("separates from", "is measured against", "depends on", "was shipped with", "increases near")
_OBJECTS = (
    "the leading edge of a swept wing",
    "laminar flow at Mach 2.5",
    "customer reviews and ratings",
    "a 3 mm titanium plate",
    "l'écoulement turbulent",
    "café au lait ☕",
    "émission de CO₂",
    "the query: 'cheap flights to Tokyo?'",
    "日本語のテキスト",
    "42 % of the samples",
)


def parity_texts(n: int = 100, seed: int = 6) -> list[str]:
    """`n` deterministic, varied texts: short, long (truncated), unicode, punctuation, numbers, blank."""
    rng = random.Random(seed)
    texts = ["", "a", "   padded with spaces   ", "UPPER lower MiXeD", "!!! ??? ...", "1 2 3 4 5 6 7 8 9 10"]
    while len(texts) < n:
        words = [rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)]
        sentence = " ".join(words) + rng.choice((".", "?", "!", ";"))
        kind = len(texts) % 5
        if kind == 0:  # long enough to be truncated at 256 tokens
            text = " ".join(sentence for _ in range(rng.randint(25, 40)))
        elif kind == 1:  # a paragraph
            text = " ".join(sentence for _ in range(rng.randint(2, 6)))
        elif kind == 2:  # a query
            text = " ".join(" ".join(words).split()[rng.randint(0, 3) :][: rng.randint(2, 5)])
        else:
            text = sentence
        if text not in texts:
            texts.append(text)
    return texts[:n]
