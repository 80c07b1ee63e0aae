from __future__ import annotations

import numpy as np
import pytest

from mammobench.synth import anatomy
from mammobench.synth.tissue import render_tissue

SIZE = (320, 192)
SPACING = 240.0 / SIZE[1]


def _geometry(view: str, seed: int = 0, changes: anatomy.OutlineChanges = anatomy.OutlineChanges()):
    shape = anatomy.sample_breast_shape(np.random.default_rng(seed))
    return anatomy.build_view_geometry(shape, view, SIZE, SPACING, changes=changes)


@pytest.mark.parametrize("view", ["CC", "MLO"])
def test_breast_against_chest_wall(view: str) -> None:
    geometry = _geometry(view)
    assert geometry.mask[:, 0].sum() > 0.3 * SIZE[0], "the breast must touch the left image edge"
    assert not geometry.mask[:, -1].any(), "the nipple side must leave background"


def test_pectoral_only_on_mlo_corner() -> None:
    geometry = _geometry("MLO")
    assert geometry.pectoral[:10, :10].mean() > 0.9
    assert geometry.pectoral[-10:, :].max() == 0


@pytest.mark.parametrize("seed", range(5))
def test_same_depth_in_both_views(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cc, mlo = _geometry("CC", seed), _geometry("MLO", seed)
    for _ in range(10):
        depth, transverse = rng.uniform(0.2, 0.8), rng.uniform(-0.7, 0.7)
        y_cc, x_cc = cc.place(depth, transverse)
        y_mlo, x_mlo = mlo.place(depth, transverse)
        assert abs((1 - x_cc / cc.nipple[1]) - depth) < 0.05
        assert abs((1 - x_mlo / mlo.nipple[1]) - depth) < 0.05
        assert cc.mask[int(y_cc), int(x_cc)]
        assert mlo.mask[int(y_mlo), int(x_mlo)]


def test_transverse_sign_is_top() -> None:
    geometry = _geometry("CC")
    upper, _ = geometry.place(0.5, 0.6)
    lower, _ = geometry.place(0.5, -0.6)
    assert upper < geometry.axis_y(geometry.nipple[1] * 0.5) < lower


def test_placement_avoids_pectoral() -> None:
    geometry = _geometry("MLO")
    y, x = geometry.place(0.95, 0.9, margin=3)
    assert geometry.pectoral[int(y), int(x)] < 0.5


def test_nipple_retraction_pulls_outline_in() -> None:
    normal = _geometry("CC")
    retracted = _geometry("CC", changes=anatomy.OutlineChanges(nipple_retracted=True))
    row = int(normal.nipple[0])
    assert retracted.edge[row] < normal.edge[row] - 1


def test_density_sets_gland_share() -> None:
    geometry = _geometry("CC", seed=3)
    region = geometry.mask & (geometry.pectoral < 0.5)
    shares = []
    for density in "ABCD":
        canvas = render_tissue(geometry, density, np.random.default_rng(11), SPACING, 1.0)
        shares.append(float(canvas.gland[region].mean()))
    assert shares == sorted(shares)
    assert shares[0] < 0.2
    assert shares[3] > 0.45


def test_dense_breast_is_brighter() -> None:
    geometry = _geometry("MLO", seed=4)
    region = geometry.mask & (geometry.pectoral < 0.5)
    fatty = render_tissue(geometry, "A", np.random.default_rng(1), SPACING, 1.0)
    dense = render_tissue(geometry, "D", np.random.default_rng(1), SPACING, 1.0)
    assert dense.image[region].mean() > fatty.image[region].mean() + 0.1
