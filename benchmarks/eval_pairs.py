"""Verification accuracy: FaceGate's pipeline vs insightface FaceAnalysis, same model files.

    .venv/bin/python benchmarks/eval_pairs.py [lfw-devtest johns celebrities]

FaceGate: `facegate eval pairs` with the edge's settings (detector max side 640,
padded retry for tightly cropped photos). FaceAnalysis: det_size 640, the
largest-central face (insightface's max_num=1 ranking). Also prints the false
accept rate over every different-person pair of LFW DevTest (about 1.2 M), the
source of the pack's thresholds in models/manifest.toml.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from baseline import face_analysis  # noqa: E402
from edge.eval.pairs import embed_image, pair_metrics, pair_scores, read_pairs  # noqa: E402
from edge.node.packs import open_pack  # noqa: E402
from edge.settings import EdgeConfig  # noqa: E402
from models.photos import read_image  # noqa: E402

FACES = REPO.parent / "shared" / "data" / "faces"


def face_analysis_embedder(app):
    def embed(path: Path):
        image = read_image(path)
        faces = app.get(image, max_num=1) if image is not None else []
        return faces[0].normed_embedding.astype(np.float32) if faces else None
    return embed


def row(name: str, m: dict) -> str:
    tar = ", ".join(f"{k}: {'n/a' if v is None else f'{v:.4f}'}" for k, v in m["tar_at_far"].items())
    return (f"| {name} | {m['pairs']} | {m['no_face']} | {m['accuracy_10fold']['mean']:.4f} ± "
            f"{m['accuracy_10fold']['std']:.4f} | {m['auc']:.5f} | {tar} |")


def all_pairs_far(embed, folder: Path) -> list[str]:
    names, templates = [], []
    for path in sorted(folder.glob("images/*/*.jpg")):
        t = embed(path)
        if t is not None:
            names.append(path.parent.name)
            templates.append(t)
    e = np.stack(templates)
    iu = np.triu_indices(len(e), 1)
    scores = (e @ e.T)[iu]
    same = (np.array(names)[:, None] == np.array(names)[None, :])[iu]
    impostor, genuine = scores[~same], scores[same]
    lines = [f"\nAll pairs of LFW DevTest images through FaceGate: {len(impostor):,} different-person, "
             f"{len(genuine):,} same-person\n", "| threshold | FAR | TAR |", "|---|---|---|"]
    for t in (0.28, 0.30, 0.33, 0.36, 0.40):
        lines.append(f"| {t:.2f} | {np.mean(impostor > t):.2e} | {np.mean(genuine > t):.4f} |")
    return lines


def main() -> None:
    sets = sys.argv[1:] or ["lfw-devtest", "johns", "celebrities"]
    pack = open_pack(EdgeConfig())
    app = face_analysis()
    print("\n| pipeline / set | pairs | images without a face | 10-fold accuracy | AUC | TAR at FAR |")
    print("|---|---|---|---|---|---|")
    for name in sets:
        csv = FACES / name / "pairs.csv"
        pairs = read_pairs(csv)
        same = np.array([p.same for p in pairs])
        for label, embed in (("FaceGate", lambda p: embed_image(p, pack)), ("FaceAnalysis", face_analysis_embedder(app))):
            scores, no_face = pair_scores(pairs, embed, csv.parent)
            print(row(f"{label} / {name}", pair_metrics(scores, same, no_face)), flush=True)
    if "lfw-devtest" in sets:
        print("\n".join(all_pairs_far(lambda p: embed_image(p, pack), FACES / "lfw-devtest")))


if __name__ == "__main__":
    main()
