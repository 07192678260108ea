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


def test_corrupt_checkpoint_falls_back_to_previous_with_one_warning(tmp_path, capsys):
    path = tmp_path / "last.pt"
    save_checkpoint({"step": 1}, path)
    save_checkpoint({"step": 2}, path)
    path.write_bytes(path.read_bytes()[:50])
    state = load_checkpoint(path)
    assert state["step"] == 1 and state["fell_back"] and state["loaded_from"].endswith("last.prev.pt")
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and "corrupt" in err and "last.prev.pt (step 1)" in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(GanforgeError) as e:  # without the fallback: one line naming the file
        load_checkpoint(path, fallback=False)
    assert "corrupt or unreadable checkpoint" in str(e.value) and "\n" not in str(e.value)


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
