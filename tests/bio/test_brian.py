"""Brian2 helpers: the standalone project cache keeps only the most recently used projects."""

import os

import pytest

from bio.brian import prune_projects


def test_prune_keeps_the_most_recent_projects_and_the_current_one(tmp_path):
    folders = []
    for age, name in enumerate(["a", "b", "c", "d", "e"]):  # a is the newest, e the oldest
        d = tmp_path / name
        (d / "code").mkdir(parents=True)
        (d / "code" / "main.cpp").write_text("int main() {}")
        os.utime(d, (1e9 - age * 100, 1e9 - age * 100))
        folders.append(d)
    current = tmp_path / "e"  # the oldest, but in use now
    stale = prune_projects(tmp_path, keep=3, current=current)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "e"]
    assert sorted(p.name for p in stale) == ["c", "d"]
    assert current.stat().st_mtime > folders[0].stat().st_mtime  # marked as just used


def test_prune_refuses_keep_below_one(tmp_path):
    with pytest.raises(ValueError, match="keep"):
        prune_projects(tmp_path, keep=0, current=tmp_path)
