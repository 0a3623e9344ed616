"""Configuration: Hydra composition into frozen Structs, secrets only from the environment."""

from __future__ import annotations

import msgspec
import pytest
from hydra import compose, initialize_config_dir

from app.auth import KeyRing
from functions.config import AppConfig
from jobs import serde
from jobs.bootstrap import CONF_DIR, load_config
from jobs.secrets import require_prod_secrets


def test_test_env_composes_to_frozen_structs() -> None:
    config = load_config(("env=test",))
    assert isinstance(config, AppConfig)
    assert config.env == "test"
    assert config.database.url.endswith("/embedloop_test")
    assert config.api.admin_keys == ("test-admin-key",)
    assert config.worker.gpu.queue == "gpu"
    with pytest.raises(AttributeError):
        config.env = "prod"  # type: ignore[misc]
    assert load_config(("env=test",)) is config  # composed once per process


def test_every_stage_has_a_config_group() -> None:
    stages = ["upsertion", "search", "clickstream", "improvement", "fine_tuning", "deployment", "reindex"]
    for stage in stages:
        assert (CONF_DIR / stage).is_dir(), stage
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["env=prod"])
    assert cfg.env == "prod"
    assert cfg.webhooks.allow_private is False


def test_prod_refuses_to_start_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBEDLOOP_ADMIN_KEYS")
    with pytest.raises(RuntimeError, match="EMBEDLOOP_ADMIN_KEYS"):
        require_prod_secrets()


def test_unknown_config_keys_are_refused() -> None:
    raw = msgspec.to_builtins(load_config(("env=test",)))
    raw["search"]["ef_serch"] = 10
    with pytest.raises(msgspec.ValidationError, match="ef_serch"):
        msgspec.convert(raw, AppConfig)


def test_keyring_scopes_and_no_key_means_refusal() -> None:
    api = load_config(("env=test",)).api
    ring = KeyRing.from_config(msgspec.structs.replace(api, admin_keys=("a1", "a2"), search_keys=("s1",)))
    assert ring.scope_of("a2") == "admin"
    assert ring.scope_of("s1") == "search"
    assert ring.scope_of("nope") is None
    assert ring.scope_of("") is None
    with pytest.raises(RuntimeError, match="no admin API key"):
        KeyRing.from_config(msgspec.structs.replace(api, admin_keys=(), search_keys=()))


def test_job_envelopes_round_trip_through_msgpack() -> None:
    envelope = {"t": 1, "f": "upsertion.upsert", "a": ["id"], "k": {}, "et": 1700000000000}
    assert serde.deserialize(serde.serialize(envelope)) == envelope
