"""Same-person pairs must score above different-person pairs (real public faces)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import DATA
from edge.eval.pairs import auc, embed_image, pair_metrics, pair_scores, read_pairs


# LFW DevTest's 1,000 pairs take 1,549 images through the detector and the embedder: a minute of the suite's two
# cores. The suite takes every third pair (167 same, 167 different, 10 folds of 33); `make eval` takes them all and
# prints the figures docs/benchmarks.md records.
EVERY = {"johns": 1, "lfw-devtest": 3}


@pytest.mark.parametrize("dataset", ["johns", "lfw-devtest"])
def test_same_person_pairs_score_above_different_person_pairs(dataset, pack):
    csv = DATA / "faces" / dataset / "pairs.csv"
    pairs = read_pairs(csv)[::EVERY[dataset]]
    scores, no_face = pair_scores(pairs, lambda p: embed_image(p, pack), csv.parent)
    same = np.array([p.same for p in pairs])
    assert auc(scores, same) >= 0.99
    assert no_face <= 3  # faceless images count as failures; a few LFW images are hard
    metrics = pair_metrics(scores, same, no_face)
    assert metrics["accuracy_10fold"]["mean"] >= 0.97


def test_auc_and_tar_at_far_on_known_scores():
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.75])
    same = np.array([True, True, True, False, False, False])
    assert auc(scores, same) == pytest.approx(8 / 9)
    metrics = pair_metrics(scores, same, no_face=0, folds=3)
    assert metrics["tar_at_far"]["0.0001"] is None  # 3 impostors cannot measure 1e-4


def test_eval_pairs_cli_json_has_the_documented_keys():
    csv = DATA / "faces" / "celebrities" / "pairs.csv"
    out = subprocess.run([sys.executable, "-m", "facegate", "eval", "pairs", str(csv), "--json"],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    assert {"pairs", "no_face", "accuracy_10fold", "tar_at_far", "thresholds"} <= set(result)
    assert result["pairs"] == 520 and result["accuracy_10fold"]["mean"] > 0.95
    assert set(result["tar_at_far"]) == {"0.01", "0.001", "0.0001"}
