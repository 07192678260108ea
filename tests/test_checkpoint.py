import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.training.checkpoint import load_checkpoint, save_checkpoint


def test_atomic_save_keeps_previous(tmp_path):
    path = tmp_path / "ck" / "last.pt"
    save_checkpoint({"step": 1, "w": torch.ones(3)}, path)
    save_checkpoint({"step": 2, "w": torch.zeros(3)}, path)
    assert load_checkpoint(path)["step"] == 2
    assert load_checkpoint(tmp_path / "ck" / "last.prev.pt")["step"] == 1
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.prev.pt", "last.pt"]


def test_corrupt_checkpoint_is_one_line_and_points_to_previous(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({"step": 1}, path)
    save_checkpoint({"step": 2}, path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(GanforgeError) as e:
        load_checkpoint(path)
    assert "corrupt or unreadable checkpoint" in str(e.value) and "last.prev.pt" in str(e.value)
    assert "\n" not in str(e.value)


def test_foreign_and_missing_files(tmp_path):
    torch.save({"model": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(GanforgeError, match="not a ganforge checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(GanforgeError, match="corrupt or unreadable"):
        load_checkpoint(tmp_path / "text.pt")
    with pytest.raises(GanforgeError, match="not found"):
        load_checkpoint(tmp_path / "nothing")


def test_pickled_objects_are_refused(tmp_path):
    import pathlib

    # an arbitrary Python object (here a Path) is refused by torch.load(weights_only=True)
    torch.save({"format": "ganforge-checkpoint-v1", "x": pathlib.PurePosixPath("/etc")}, tmp_path / "evil.pt")
    with pytest.raises(GanforgeError, match="corrupt or unreadable"):
        load_checkpoint(tmp_path / "evil.pt")
