"""Apply pending schema migrations: `python -m scripts.migrate [hydra overrides...]`."""

from __future__ import annotations

import asyncio
import sys

from jobs.bootstrap import load_config
from jobs.stores.postgres import prepare_schema


def main(argv: list[str]) -> None:
    """Migrate the configured database and say what was applied."""
    config = load_config(tuple(argv))
    applied = asyncio.run(prepare_schema(config.database))
    print("applied: " + ", ".join(applied) if applied else "schema is up to date")


if __name__ == "__main__":
    main(sys.argv[1:])
