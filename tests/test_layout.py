"""The code's layout holds: imports go one way, never in a circle, and the gateway never reaches into the edge.

Every import is read from the source (module level and inside functions alike; only
`if TYPE_CHECKING:` blocks are left out, since they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("edge", "gateway", "provisioning", "wire", "models", "facegate", "emrtd")

# Each layer may import from itself and the layers listed after it, nothing else.
LAYERS = {
    # the composition root sees all
    "facegate": {"edge.*", "gateway.*", "provisioning", "wire", "models", "emrtd", "emrtd.*"},
    "provisioning": {"gateway.cli", "gateway.config", "gateway.services", "gateway.storage", "gateway.errors", "gateway.i18n",
                     "wire", "models", "emrtd", "emrtd.*"},
    "gateway.cli": {"gateway.server", "gateway.config", "gateway.services", "gateway.storage", "gateway.errors", "gateway.i18n",
                    "wire", "models"},
    "gateway.server": {"gateway.api", "gateway.config", "gateway.services", "gateway.storage", "gateway.errors", "gateway.i18n",
                       "wire", "models"},
    "gateway.api": {"gateway.config", "gateway.services", "gateway.storage", "gateway.errors", "gateway.i18n", "wire", "models"},
    "gateway.services": {"gateway.config", "gateway.storage", "gateway.errors", "gateway.i18n", "wire", "models",
                         "emrtd", "emrtd.*"},
    "gateway.storage": {"gateway.errors", "wire"},
    "gateway.config": {"models"},
    "gateway.errors": set(),
    "gateway.i18n": set(),  # the languages: used by every layer above storage, imports nothing of the gateway
    "gateway": set(),  # the package itself: a docstring
    # The device, one room per part: the CLI asks a builder (node) for a device; a device kind (gate, exam, kiosk)
    # uses the face step (vision) and the link to the gateway; everything reads the one settings module.
    "edge.cli": {"edge.node", "edge.settings", "edge.link", "edge.vision", "edge.eval", "edge.updates", "wire",
                 "models",
                 "emrtd", "emrtd.*"},
    "edge.node": {"edge.gate", "edge.exam", "edge.kiosk", "edge.eval", "edge.updates", "edge.link", "edge.vision",
                  "edge.settings", "wire", "models", "emrtd", "emrtd.*"},
    "edge.updates": {"edge.link", "edge.settings", "wire", "models"},  # packs fetched, self-tested, switched to
    "edge.eval": {"edge.vision", "edge.settings", "models"},  # accuracy, liveness figures and generated streams
    "edge.gate": {"edge.link", "edge.vision", "edge.settings", "wire", "models"},
    "edge.exam": {"edge.link", "edge.vision", "edge.settings", "wire", "models", "emrtd", "emrtd.*"},
    "edge.kiosk": {"edge.link", "edge.vision", "edge.settings", "wire", "models", "emrtd", "emrtd.*"},
    "edge.link": {"edge.vision", "edge.settings", "wire", "models"},  # events, outbox, publisher, gallery sync
    "edge.vision": {"edge.settings", "models", "wire"},  # camera -> detector -> tracker -> policy
    "edge.settings": {"models", "wire"},  # the schema of a device's settings is the wire's (wire/device_config.py)
    "edge": set(),  # the package itself: a docstring
    "wire": {"models"},  # a device's settings (wire/device_config.py) name its model pack and quality gate
    "models": set(),
    # The chip ID card, ICAO 9303: shared by the kiosk, the exam check-in and the CLI. The reader (the package's
    # top) uses every part; the checks read the files over an opened link; opening knows the MRZ's fields.
    "emrtd": {"emrtd.checks", "emrtd.opening", "emrtd.files", "emrtd.link"},
    "emrtd.checks": {"emrtd.opening", "emrtd.files", "emrtd.link"},
    "emrtd.opening": {"emrtd.files", "emrtd.link"},
    "emrtd.files": {"emrtd.link"},
    "emrtd.link": set(),
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """Project modules imported by the file, wherever in it (but not under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for child in node.body for n in ast.walk(child)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layer_of(module: str) -> str | None:
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def allowed(source: str, target: str) -> bool:
    mine, theirs = layer_of(source), layer_of(target)
    if mine == theirs:
        return True
    rules = LAYERS.get(mine, set())
    return theirs in rules or any(rule.endswith(".*") and theirs.startswith(rule[:-1]) for rule in rules)


_GRAPH: dict[str, set[str]] = {}


def graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (read once)."""
    if not _GRAPH:
        found = modules()
        _GRAPH.update({name: imports_of(path, name, set(found)) for name, path in found.items()})
    return _GRAPH


def test_every_module_belongs_to_a_layer():
    unplaced = [m for m in graph() if layer_of(m) is None]
    assert unplaced == [], f"modules outside every layer (add them to LAYERS, or move them): {unplaced}"


def test_imports_only_go_down_and_the_gateway_never_imports_the_edge():
    edges = graph()
    wrong = sorted(f"{source} -> {target}" for source, targets in edges.items() for target in targets
                   if not allowed(source, target))
    assert wrong == []
    reaching = [f"{m} -> {t}" for m, targets in edges.items() if m.startswith(("gateway", "provisioning"))
                for t in targets if t.startswith(("edge", "facegate"))]
    assert reaching == []


def test_no_import_cycles():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert cycles == [], f"import cycles: {cycles}"


MAX_SIDE_BY_SIDE = 15


def test_no_product_folder_holds_more_than_15_modules_side_by_side():
    """A folder's name tells a reader where they stand only while the folder is small: group by device kind or
    domain before one grows past 15 modules (migrations, which only ever grow, excepted)."""
    crowded = {}
    for package in PACKAGES:
        for folder in [REPO / package, *(p for p in (REPO / package).rglob("*") if p.is_dir())]:
            if "__pycache__" in folder.parts or "migrations" in folder.parts:
                continue
            count = len([m for m in folder.glob("*.py") if m.name != "__init__.py"])
            if count > MAX_SIDE_BY_SIDE:
                crowded[str(folder.relative_to(REPO))] = count
    assert crowded == {}


def test_pages_put_html_into_the_page_only_through_fg_fill():
    """Every value a page shows went through FG.html, which escapes it: nothing else may set HTML."""
    web = REPO / "gateway" / "api" / "web"
    sinks = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write")
    found = [f"{script.name}:{n}" for script in sorted(web.glob("*.js"))
             for n, line in enumerate(script.read_text(encoding="utf-8").splitlines(), start=1)
             if any(sink in line for sink in sinks) and not (script.name == "app.js" and "fragment.text" in line)]
    assert found == []
