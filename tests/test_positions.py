from conftest import JIUZHAIGOU, requires_jiuzhaigou

from quakeslide.data.dataset import list_stems
from quakeslide.data.positions import TilePosition, position_from_name, tile_positions


def test_offsets_from_names():
    assert position_from_name("sa2_190927_512_768_12544_12800") == TilePosition(
        "sa2_190927", 512, 12544, 256, 256
    )
    assert position_from_name("tile_7") is None
    assert position_from_name("a_5_1_0_3") is None  # row1 < row0


def test_blocks_group_neighbours():
    a = TilePosition("s", 0, 0, 256, 256)
    b = TilePosition("s", 256, 768, 256, 256)
    c = TilePosition("s", 1024, 0, 256, 256)
    assert a.block(1024) == b.block(1024) != c.block(1024)


@requires_jiuzhaigou
def test_jiuzhaigou_positions_from_names():
    stems = list_stems(JIUZHAIGOU)
    positions = tile_positions(JIUZHAIGOU, stems)
    assert len(stems) == 1080 and len(positions) == 1080
    assert {(p.height, p.width) for p in positions.values()} == {(256, 256)}
    assert len({(p.row, p.col) for p in positions.values()}) == 1080
    train = set(list_stems(JIUZHAIGOU, "train"))
    val = set(list_stems(JIUZHAIGOU, "val"))
    assert (len(train), len(val)) == (926, 154) and not train & val
