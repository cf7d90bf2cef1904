"""ONNX Runtime sessions, configured on purpose rather than by default.

- threads: an edge box has few cores and also decodes video; the loop runs one
  inference at a time, so intra-op threads get the cores and inter-op stays 1.
- graph optimisation: full (operator fusion, layout transforms), done once and
  cached: the optimised graph is written next to the model cache, keyed by the
  model's hash and the ONNX Runtime version, so later starts skip the work.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from models.manifest import sha256_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuntimeSettings:
    intra_op_threads: int = 0  # 0 = one per available core
    optimization: str = "all"  # "all" | "extended" | "basic" | "none"
    cache_dir: Path | None = None  # where optimised graphs are cached; None = no cache

    def threads(self) -> int:
        if self.intra_op_threads > 0:
            return self.intra_op_threads
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


_LEVELS = {
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
}


def create_session(model_path: Path, sha256: str, settings: RuntimeSettings) -> ort.InferenceSession:
    """Open an inference session for a verified model file."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = settings.threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Several small models take turns on few cores: idle threads that spin would steal them from the next one.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        level = _LEVELS[settings.optimization]
    except KeyError:
        raise ValueError(f"unknown optimisation level {settings.optimization!r}; use one of {sorted(_LEVELS)}") from None

    source = model_path
    cached = seal = None
    if settings.cache_dir is not None and level != _LEVELS["none"]:
        cached = Path(settings.cache_dir) / f"{sha256[:16]}-ort{ort.__version__}-{settings.optimization}.onnx"
        seal = cached.with_suffix(".sha256")
        # The cached graph is trusted only with the seal written when it was made,
        # so an altered cache cannot slip past the manifest's hash pin.
        if cached.is_file() and seal.is_file() and seal.read_text().strip() == sha256_of(cached):
            source = cached
            level = _LEVELS["none"]  # already optimised: skipping that work is the point of the cache
        else:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.unlink(missing_ok=True)
            options.optimized_model_filepath = str(cached)
    options.graph_optimization_level = level
    try:
        session = ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
        if cached is not None and source == model_path and cached.is_file():
            seal.write_text(sha256_of(cached))
        return session
    except Exception:
        if source != model_path:
            # A damaged cache must never stop the device: rebuild from the verified model.
            log.warning("optimised model cache %s unusable; rebuilding from %s", source, model_path)
            Path(source).unlink(missing_ok=True)
            return create_session(model_path, sha256, settings)
        raise
