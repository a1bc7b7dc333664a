"""Spatially grouped folds, nested subsets, hold-out lists."""

import collections
from functools import partial
from pathlib import Path

import pytest
from conftest import (
    JIUZHAIGOU,
    merge_tile_dataset,
    requires_jiuzhaigou,
    write_scenes_dataset,
    write_tile_dataset,
)

from quakeslide.data.dataset import list_stems
from quakeslide.data.splits import (
    assign_folds,
    fold_groups,
    holdout_split,
    neighbours_across_folds,
    nested_scenes,
    nested_subset,
)
from quakeslide.errors import InputError


def islands(root: Path) -> list[str]:
    """Five separate 2x2 islands of tiles, far apart, plus nothing else."""
    stems = []
    for island in range(5):
        sub = root / f"island{island}"
        write_tile_dataset(sub, rows=2, cols=2, size=16, seed=island)
        stems += merge_tile_dataset(sub, root, partial(_shifted, rows=island * 1000))
    return sorted(stems)


def _shifted(stem: str, rows: int) -> str:
    r0, r1, c0, c1 = (int(v) for v in stem.split("_")[1:])
    return f"scn_{r0 + rows}_{r1 + rows}_{c0}_{c1}"


def test_touching_tiles_never_sit_in_two_folds(tmp_path):
    stems = islands(tmp_path)
    groups, used = fold_groups(tmp_path, stems, folds=5)
    assert used == "blocks" and len(set(groups.values())) == 5
    fold_of = assign_folds(groups, 5, seed=0)
    assert sorted(collections.Counter(fold_of.values()).values()) == [4] * 5
    assert neighbours_across_folds(tmp_path, fold_of) == 0
    random_folds = assign_folds(fold_groups(tmp_path, stems, 5, "random")[0], 5, seed=0)
    assert neighbours_across_folds(tmp_path, random_folds) > 0


def test_a_large_cluster_is_cut_into_balanced_pieces(tmp_path):
    stems = write_tile_dataset(tmp_path, rows=6, cols=6, size=16)
    groups, _ = fold_groups(tmp_path, stems, folds=3)
    fold_of = assign_folds(groups, 3, seed=0)
    assert sorted(collections.Counter(fold_of.values()).values()) == [12, 12, 12]
    grouped = neighbours_across_folds(tmp_path, fold_of)
    random = neighbours_across_folds(tmp_path, assign_folds({s: s for s in stems}, 3, 0))
    assert grouped < random / 2


def test_unknown_positions_fall_back_to_random(tmp_path):
    write_tile_dataset(tmp_path, rows=2, cols=3, size=16)
    for folder in ("images", "masks"):
        for i, path in enumerate(sorted((tmp_path / folder).iterdir())):
            path.rename(path.with_name(f"tile{i}.png"))
    stems = list_stems(tmp_path)
    assert fold_groups(tmp_path, stems, 3)[1] == "random"
    with pytest.raises(InputError, match="no known position"):
        fold_groups(tmp_path, stems, 3, "blocks")
    with pytest.raises(InputError, match="folds 7: need between 2 and 6"):
        fold_groups(tmp_path, stems, 7)


def test_nested_subsets_grow_by_adding_tiles():
    stems = [f"t{i}" for i in range(50)]
    subsets = [set(nested_subset(stems, n, seed=2)) for n in (10, 20, 30, 40)]
    assert all(a < b for a, b in zip(subsets, subsets[1:], strict=False))
    with pytest.raises(InputError, match="larger than"):
        nested_subset(stems, 51, seed=0)


def test_scene_grouping_keeps_each_scene_in_one_fold_however_large(tmp_path):
    data = tmp_path / "data"
    stems = write_scenes_dataset(data, scenes=3, rows=3, cols=4)  # 12 a scene, > 36 / 3 folds
    groups, used = fold_groups(data, stems, 3, "scenes")
    assert used == "scenes" and set(groups.values()) == {"scene0", "scene1", "scene2"}
    fold_of = assign_folds(groups, 3, seed=0)
    for k in range(3):
        assert len({fold_of[s] for s in stems if s.startswith(f"scene{k}_")}) == 1
    assert fold_groups(data, stems, 3, "blocks")[0] != groups  # blocks would cut them


def test_nested_scenes_take_whole_scenes_and_grow_by_adding_scenes(tmp_path):
    data = tmp_path / "data"
    stems = write_scenes_dataset(data, scenes=4)
    subsets = [nested_scenes(data, stems, n, seed=1) for n in (1, 2, 3, 4)]
    assert [len(s) for s in subsets] == [6, 12, 18, 24]
    assert all(set(a) < set(b) for a, b in zip(subsets, subsets[1:], strict=False))
    for subset in subsets:
        assert len(subset) == 6 * len({s.split("_")[0] for s in subset})
    with pytest.raises(InputError, match="5 scenes asked, the training tiles come from 4"):
        nested_scenes(data, stems, 5, seed=1)


def test_holdout_is_seeded_and_disjoint(tmp_path):
    write_tile_dataset(tmp_path, rows=3, cols=3, size=16)
    first = holdout_split(tmp_path, None, None, 0.3, seed=4)
    assert first == holdout_split(tmp_path, None, None, 0.3, seed=4)
    assert not set(first.train) & set(first.val) and len(first.val) == 3
    assert holdout_split(tmp_path, None, None, 0.3, seed=5) != first


@requires_jiuzhaigou
def test_the_default_holdout_keeps_validation_off_the_training_tiles_neighbours():
    """Without split lists, train holds out whole blocks: a random 20 % of the Jiuzhaigou
    tiles (the hold-out before) touches training tiles 846 times."""
    split = holdout_split(JIUZHAIGOU, None, None, 0.2, seed=0)
    assert len(split.val) == 216 and len(split.train) == 864
    fold_of = {**dict.fromkeys(split.train, 0), **dict.fromkeys(split.val, 1)}
    assert neighbours_across_folds(JIUZHAIGOU, fold_of) < 846 / 10


@requires_jiuzhaigou
def test_jiuzhaigou_folds_are_balanced_and_keep_neighbours_together():
    stems = list_stems(JIUZHAIGOU)
    groups, used = fold_groups(JIUZHAIGOU, stems, 5)
    fold_of = assign_folds(groups, 5, seed=0)
    assert used == "blocks"
    assert sorted(collections.Counter(fold_of.values()).values()) == [216] * 5
    random = assign_folds({s: s for s in stems}, 5, 0)
    assert (
        neighbours_across_folds(JIUZHAIGOU, fold_of)
        < neighbours_across_folds(JIUZHAIGOU, random) / 10
    )
