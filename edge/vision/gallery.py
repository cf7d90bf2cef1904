"""The consented gallery on the device: a SQLite store and an in-memory index.

`GalleryStore` keeps one row per template, keyed by subject and model pack (a
template is only comparable with templates of the same pack). `GalleryIndex`
holds one pack's templates as a matrix for 1:N search and 1:1 verification.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlite_utils


@dataclass(frozen=True)
class Match:
    subject: str
    score: float


class GalleryStore:
    """Templates of consented people in one SQLite file (or in memory when path is None)."""

    def __init__(self, path: Path | str | None = None):
        if path is None:
            self.db = sqlite_utils.Database(memory=True)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # templates: the owner's alone
            self.db = sqlite_utils.Database(str(path))
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # a gallery change must survive power loss
        self.path = path
        self._ensure_schema()

    def _ensure_schema(self) -> None:
        if "subjects" not in self.db.table_names():
            self.db["subjects"].create({"subject_id": str, "display_name": str, "created_at": float}, pk="subject_id")
        if "templates" not in self.db.table_names():
            self.db["templates"].create(
                {"id": int, "subject_id": str, "pack": str, "dim": int, "embedding": bytes,
                 "quality": float, "source": str, "created_at": float},
                pk="id", foreign_keys=[("subject_id", "subjects")],
            )
            self.db["templates"].create_index(["pack", "subject_id"])

    def add(self, subject_id: str, pack: str, embedding: np.ndarray, quality: float = 1.0,
            source: str = "", display_name: str | None = None) -> None:
        """Store one template (and its subject, if new) in one transaction."""
        vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
        now = time.time()
        with self.db.conn:
            self.db["subjects"].insert(
                {"subject_id": subject_id, "display_name": display_name or subject_id, "created_at": now}, ignore=True)
            self.db["templates"].insert({
                "subject_id": subject_id, "pack": pack, "dim": int(vector.size), "embedding": vector.tobytes(),
                "quality": float(quality), "source": source, "created_at": now,
            })

    def remove_subject(self, subject_id: str) -> int:
        """Delete a subject and all their templates; returns templates removed."""
        with self.db.conn:
            removed = self.db.execute("DELETE FROM templates WHERE subject_id = ?", [subject_id]).rowcount
            self.db.execute("DELETE FROM subjects WHERE subject_id = ?", [subject_id])
        return removed

    def subjects(self) -> list[str]:
        return [r["subject_id"] for r in self.db["subjects"].rows_where(order_by="subject_id")]

    def packs(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT pack FROM templates ORDER BY pack").fetchall()]

    def load(self, pack: str) -> tuple[list[str], np.ndarray]:
        """(subject of each template, templates matrix) for one pack, grouped by subject."""
        rows = self.db.execute(
            "SELECT subject_id, dim, embedding FROM templates WHERE pack = ? ORDER BY subject_id, id", [pack]
        ).fetchall()
        if not rows:
            return [], np.zeros((0, 0), np.float32)
        dim = rows[0][1]
        matrix = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return [r[0] for r in rows], matrix.copy()


class GalleryIndex:
    """Vectorised 1:N search and 1:1 verification over unit-length templates.

    Small galleries are searched exactly with one matrix-vector product. Above
    `coarse_from` templates the search reads a 128-d projection first (the
    principal directions of the gallery itself, a quarter of the bytes), keeps a
    shortlist, and re-scores the shortlist exactly: the scores returned are
    always exact; only which templates get scored is decided by the projection.
    """

    def __init__(self, subjects: list[str], templates: np.ndarray, coarse_from: int = 20000,
                 coarse_dim: int = 128, shortlist: int = 256):
        self.subjects = np.asarray(subjects, dtype=object)
        self.templates = np.ascontiguousarray(templates, dtype=np.float32)
        self.shortlist = shortlist
        positions: dict[str, list[int]] = {}
        for i, subject in enumerate(subjects):
            positions.setdefault(subject, []).append(i)
        self._by_subject = {s: np.asarray(ix) for s, ix in positions.items()}
        self.projection = None
        self.coarse = None
        if len(subjects) >= coarse_from and templates.shape[1] > coarse_dim:
            sample = self.templates[np.random.default_rng(0).choice(len(subjects), min(len(subjects), 50000), replace=False)]
            # Uncentred second moment: its top eigenvectors best preserve inner products.
            _, vectors = np.linalg.eigh(sample.T @ sample)
            self.projection = np.ascontiguousarray(vectors[:, -coarse_dim:], dtype=np.float32)
            self.coarse = np.ascontiguousarray(self.templates @ self.projection)

    def __len__(self) -> int:
        return len(self.subjects)

    @property
    def subject_count(self) -> int:
        return len(self._by_subject)

    @classmethod
    def from_store(cls, store: GalleryStore, pack: str, **kwargs) -> GalleryIndex:
        subjects, templates = store.load(pack)
        return cls(subjects, templates, **kwargs)

    def _candidates(self, probe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.coarse is not None:
            rough = self.coarse @ (probe @ self.projection)
            idx = np.argpartition(rough, -self.shortlist)[-self.shortlist:]
            return idx, self.templates[idx] @ probe
        scores = self.templates @ probe
        return np.arange(len(scores)), scores

    def search(self, probe: np.ndarray, k: int = 2) -> list[Match]:
        """The best `k` distinct subjects for a unit probe, best first."""
        if len(self) == 0:
            return []
        idx, scores = self._candidates(np.asarray(probe, dtype=np.float32))
        # Sorting 100k scores costs more than the product itself: sort a top slice,
        # and only fall back to a full sort if one subject fills the whole slice.
        top = min(len(scores), 32 * k)
        head = np.argpartition(scores, -top)[-top:] if top < len(scores) else np.arange(len(scores))
        found = self._distinct(idx, scores, head[np.argsort(-scores[head])], k)
        if len(found) < k and top < len(scores):
            found = self._distinct(idx, scores, np.argsort(-scores), k)
        return found

    def _distinct(self, idx: np.ndarray, scores: np.ndarray, order: np.ndarray, k: int) -> list[Match]:
        found: list[Match] = []
        seen: set[str] = set()
        for o in order:
            subject = self.subjects[idx[o]]
            if subject not in seen:
                seen.add(subject)
                found.append(Match(subject, float(scores[o])))
                if len(found) == k:
                    break
        return found

    def verify(self, probe: np.ndarray, subject: str) -> float | None:
        """1:1 score of a probe against one subject's templates (None if not enrolled)."""
        ix = self._by_subject.get(subject)
        if ix is None:
            return None
        return float((self.templates[ix] @ np.asarray(probe, dtype=np.float32)).max())
