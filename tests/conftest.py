"""Shared fixtures: the real model packs and the public data in ../shared."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from edge.config import EdgeConfig
from edge.runner import open_pack

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"
YUNET_DIR = SHARED / "models" / "yunet"

if not DATA.is_dir():
    raise RuntimeError(f"the public test data must be at {SHARED} (beside the checkout)")


def sample_t1() -> Path:
    return Path(importlib.metadata.distribution("insightface").locate_file("insightface/data/images/t1.jpg"))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def config(model_dir) -> EdgeConfig:
    cfg = EdgeConfig()
    cfg.models.dir = model_dir
    cfg.models.search_paths = [YUNET_DIR]
    return cfg


@pytest.fixture(scope="session")
def pack(config):
    return open_pack(config)


@pytest.fixture(scope="session")
def yunet_pack(config):
    cfg = config.model_copy(deep=True)
    cfg.models.pack = "yunet_mbf"
    return open_pack(cfg)
