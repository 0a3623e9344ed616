"""Model prefixes from the Hydra `model` group reach the embedder: "x" with a prefix is "prefix + x".

E5-style models need "query: " and "passage: " before their inputs. No such model can be downloaded
here, so the configured MiniLM stands in: what matters is that the prefix is applied, on the right side.
"""

from __future__ import annotations

import numpy as np
import pytest

from functions.context import Context
from jobs.bootstrap import build_embedder, load_config

pytestmark = [pytest.mark.integration, pytest.mark.model]


async def test_query_and_document_prefixes_are_applied(ctx: Context) -> None:
    config = load_config(("env=test", "model.query_prefix='query: '", "model.document_prefix='passage: '"))
    assert (config.model.query_prefix, config.model.document_prefix) == ("query: ", "passage: ")
    prefixed, plain = build_embedder(config), ctx.embedder

    query = await prefixed.embed_queries(["x"])
    assert np.allclose(query, await plain.embed_queries(["query: x"]), atol=1e-6)
    assert not np.allclose(query, await plain.embed_queries(["x"]), atol=1e-3)

    document = await prefixed.embed_documents(["x"])
    assert np.allclose(document, await plain.embed_documents(["passage: x"]), atol=1e-6)
    assert not np.allclose(document, query, atol=1e-3)  # documents never get the query prefix
