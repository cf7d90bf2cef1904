"""Shared fixtures: the real model packs and the public data in ../shared."""

from __future__ import annotations

import importlib.metadata
import itertools
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from edge.node.packs import open_pack
from edge.settings import EdgeConfig

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

# The suite runs more workers than cores, each with its models and its device processes: one ONNX Runtime thread
# per model session (the setting of a node with several cameras) spends the cores on inference, not on threads
# waiting for each other. Every configuration the tests make, and every process they start, reads it.
os.environ.setdefault("FACEGATE_MODELS__THREADS", "1")
# A kiosk's screen back at the start 3 s after a person's last step (10 s on site): the tests watch it happen.
os.environ.setdefault("FACEGATE_GATEWAY__KIOSK__BACK_TO_START_S", "3")
DATA = SHARED / "data"
YUNET_DIR = SHARED / "models" / "yunet"



CLIP = DATA / "video" / "short_hamilton_clip.mp4"
CLIP_PEOPLE = ("alex-lacamoire", "lin-manuel-miranda")
# The clip is a 640x360 wide shot: Alex is the pianist far back (eyes ~10 px
# apart). A site with such a camera lowers the size and sharpness floor.
WIDE_SHOT = """
[quality]
min_eye_distance_px = 9
min_sharpness = 5
[policy]
frames_needed = 5
"""


def clip_gallery(folder: Path, people=CLIP_PEOPLE) -> Path:
    """A gallery folder holding the clip's enrolment photos of `people`."""
    folder.mkdir(parents=True, exist_ok=True)
    for person in people:
        (folder / f"{person}.png").write_bytes((DATA / "video" / f"{person}.png").read_bytes())
    return folder


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


# The gateway's database: every test that stores anything runs once on SQLite and once on PostgreSQL (Debian's
# postgresql-15, one cluster for the session in a temporary folder on a free port, a fresh database per use) --
# except where a test is marked `backends("sqlite")`: the browser's tests, whose subject is the page. What the pages
# ask of storage, every route's queries, runs on both (test_api_auth, test_fuzz, test_events_api, each route's own
# module); doing the same browser work twice cost the suite a minute and a half of its two cores.
BACKENDS = ("sqlite", "postgresql")
TEMPLATE = "facegate_template"  # migrated once; each test's database is a copy (faster than migrating it)
DATABASE_NUMBERS = itertools.count(1)  # per process (each xdist worker has its own cluster): names never repeat


@pytest.fixture(scope="session")
def backend(request) -> str:
    return request.param


def pytest_generate_tests(metafunc):
    """Each test that needs a database, on every backend, or on those its `backends` marker names."""
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("backends")
        metafunc.parametrize("backend", only.args if only else BACKENDS, indirect=True, scope="session")


@pytest.fixture(scope="session")
def postgres():
    from facegate.postgres import LocalPostgres
    from gateway.storage import Store

    folder = Path(tempfile.mkdtemp(prefix="facegate-pg-"))  # not under pytest's 0700 folders: the server's user
    folder.chmod(0o755)                                      # (postgres, when we are root) must reach it
    server = LocalPostgres(folder / "cluster").start()
    Store.open(server.create_database(TEMPLATE)).db.close()
    yield server
    server.stop("immediate")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def new_db(backend, request, tmp_path_factory):
    """`new_db(name)`: the location of a new, empty gateway database on this run's backend."""

    def make(name: str = "gateway") -> str:
        if backend == "sqlite":
            return str(tmp_path_factory.mktemp(name) / "gateway.db")
        server = request.getfixturevalue("postgres")
        return server.create_database(f"{name.replace('-', '_')}_{next(DATABASE_NUMBERS)}", template=TEMPLATE)

    return make


@pytest.fixture
def database(new_db) -> str:
    return new_db()


# Markers, so that a part of the suite runs alone: `pytest -m "not broker and not browser and not data and not
# postgres and not pcsc"` needs neither Mosquitto, Chromium, PostgreSQL, pcscd, nor the files in ../shared.
BROKER_FIXTURES = {"stack", "api", "flood_stack"}  # each starts Mosquitto (or the embedded broker) and a gateway
BROWSER_FIXTURES = {"browser", "page"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (test_pages.py, test_kiosk.py)."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "the browser tests need Debian's chromium (apt-get install chromium; .ci/run does)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()
PCSC_FIXTURES = {"virtual_reader"}


# The chip card's tests: an issuing state's CSCA and Document Signer (tests/emrtd_card.py), and a trust store
# holding that CSCA. (test_kiosk.py has a `pki` of its own, trusted by its gateway.)
@pytest.fixture(scope="module")
def pki():
    from emrtd_card import TestPki

    return TestPki.create()


@pytest.fixture
def trust(pki, tmp_path):
    from emrtd.checks.trust import TrustStore

    store = TrustStore(tmp_path / "trust")
    store.add(pki.csca_pem())
    return store


@pytest.fixture(scope="session")
def virtual_reader(tmp_path_factory):
    """pcscd with a virtual reader (vsmartcard-vpcd) of this test process's own: `insert(card)` puts a software
    card on it, and `PcscTransport(0)` reads it through pyscard and pcscd (tests/virtual_reader.py)."""
    from virtual_reader import VirtualReader

    reader = VirtualReader(tmp_path_factory.mktemp("pcsc"))
    yield reader
    reader.close()


DATA_FIXTURES = {"pack", "yunet_pack", "config", "model_dir"}
DATA_MODULES = {"test_builders", "test_cameras", "test_consent", "test_edge_run", "test_exam", "test_exam_review",
                "test_gallery", "test_liveness", "test_models", "test_pages", "test_separation",
                "test_gate_stream", "test_device_config", "test_pack_updates",
                "test_software_updates"}  # read ../shared


def pytest_configure(config):
    config.addinivalue_line("markers", "broker: starts a real MQTT broker and gateway")
    config.addinivalue_line("markers", "browser: drives Debian's Chromium")
    config.addinivalue_line("markers", "data: needs the model packs or public images in ../shared")
    config.addinivalue_line("markers", "postgres: runs on a PostgreSQL server (Debian's postgresql-15)")
    config.addinivalue_line("markers", "pcsc: reads a card through pcscd and a virtual reader (pcscd, vsmartcard-vpcd)")
    config.addinivalue_line("markers", "backends(*names): the databases a test runs on, if not every one")


# How the suite is shared between the workers (`make test`: pytest-xdist, --dist loadscope). A module's tests go to
# one worker, so its module-scoped stacks (broker, gateway, browser) start once -- but each database's half of a
# module is a unit of its own: the two halves use different stacks anyway, and the longest module then runs on two
# workers at once. The longest modules start first (measured with --durations=0; docs/testing.md), so that no
# worker is left with a long one at the end while the other has nothing to do.
LONGEST_FIRST = ("test_pages", "test_tls", "test_separation", "test_exam", "test_consent", "test_hardening",
                 "test_exam_review", "test_kiosk", "test_software_updates", "test_exam_day_pages", "test_api_auth",
                 "test_fuzz", "test_events_api", "test_delivery", "test_replicas", "test_embedded_broker",
                 "test_scale_demo", "test_pack_updates", "test_exam_day", "test_ways_in", "test_site_day")
DATABASE_IN_ID = re.compile(r"\[(?:[^\]]*-)?(sqlite|postgresql)(?:-[^\]]*)?\]$")


def pytest_xdist_make_scheduler(config, log):
    """--dist loadscope, with a module's tests on each database as a scope of their own (see above)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleAndDatabase(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            database = DATABASE_IN_ID.search(nodeid)
            return nodeid.split("::", 1)[0] + (f"@{database.group(1)}" if database else "")

    return ModuleAndDatabase(config, log)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__, len(rank)))  # stable: the rest keep their order
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & BROKER_FIXTURES:
            item.add_marker(pytest.mark.broker)
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if used & PCSC_FIXTURES:
            item.add_marker(pytest.mark.pcsc)
        if used & DATA_FIXTURES or item.module.__name__ in DATA_MODULES:
            item.add_marker(pytest.mark.data)
        callspec = getattr(item, "callspec", None)
        if callspec and callspec.params.get("backend") == "postgresql" or "postgres" in used:
            item.add_marker(pytest.mark.postgres)


def pytest_runtest_setup(item):
    if item.get_closest_marker("data") and not DATA.is_dir():
        pytest.fail(f"the public test data and model files must be at {SHARED} (beside the checkout)", pytrace=False)
