"""Where a model pack comes from and how it runs: settings shared by the edge and the gateway."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from models.pack import LoadedPack, load_pack
from models.runtime import RuntimeSettings


class ModelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error, not a default kept silently

    pack: str = "buffalo_s"
    dir: Path = Path("var/models")  # downloaded packs and the optimised-graph cache
    search_paths: list[Path] = Field(default_factory=list)  # extra folders holding pinned files
    threads: int = 0  # ONNX Runtime intra-op threads; 0 = one per core (one for a node with several cameras)
    optimization: str = "all"
    detector_max_side: int = 640  # long side of the detector input, aspect kept
    detector_score_threshold: float = 0.5
    # Each template the mean of the face's and its mirror image's (twice the embedding work). Measured on LFW
    # DevTest: 99.10 -> 99.40 % clean, 98.50 -> 98.90 % with one side degraded (docs/benchmarks.md). Enrolment and
    # the edge must agree, so it is the pack's setting on both.
    flip_average: bool = True

    def search_dirs(self) -> list[Path]:
        return [self.dir, *self.search_paths]

    def runtime(self) -> RuntimeSettings:
        return RuntimeSettings(intra_op_threads=self.threads, optimization=self.optimization,
                               cache_dir=self.dir / "ort-cache")


def open_pack(settings: ModelSettings) -> LoadedPack:
    """Load and verify the pack `settings.pack` with these settings."""
    return load_pack(settings.pack, settings.search_dirs(), settings.runtime(),
                     detector_max_side=settings.detector_max_side,
                     detector_score_threshold=settings.detector_score_threshold, flip_average=settings.flip_average)
