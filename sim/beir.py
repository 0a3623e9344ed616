"""Read a BEIR-layout folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv): any such dataset works."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sim.sample_catalog import Catalog


def load(folder: Path, split: str = "test") -> Catalog:
    """The corpus as upsert items (title + text), the split's queries, and its graded qrels."""
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / f"{split}.tsv").open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            grade = int(row["score"])
            if grade > 0:
                qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = grade
    queries = {}
    for line in (folder / "queries.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["_id"] in qrels:
            queries[record["_id"]] = record["text"]
    items: list[dict[str, object]] = []
    for line in (folder / "corpus.jsonl").read_text().splitlines():
        record = json.loads(line)
        content = {"title": record.get("title") or "", "body": record.get("text") or ""}
        items.append({"object_id": record["_id"], "content": content, "payload": {}})
    return Catalog(items=items, queries=queries, qrels=qrels)
