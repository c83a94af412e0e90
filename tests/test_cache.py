"""Results kept between processes (orchestration/cache.py): computed once for the same inputs."""

import json

import pytest

from orchestration import cache

pytestmark = pytest.mark.unit


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path)
    return tmp_path / "kind"


def test_a_result_is_computed_once_for_the_same_inputs_and_kept_whole(cache_dir):
    calls = []

    def compute(value=(1, "a")):
        calls.append(value)
        return list(value)

    def kept(inputs, compute=compute, keep=bool):
        return cache.kept("kind", inputs, compute, json.dumps, json.loads, keep)

    assert kept("select 1") == [1, "a"]
    assert kept("select 1") == [1, "a"] and len(calls) == 1  # read from the file
    assert kept("select 2", lambda: compute((2,))) == [2] and len(calls) == 2  # other inputs, apart
    (first,) = [path for path in cache_dir.iterdir() if path.read_text() == '[1, "a"]']
    first.write_text("[1, ")  # unreadable: computed again, and replaced
    assert kept("select 1") == [1, "a"] and len(calls) == 3 and first.read_text() == '[1, "a"]'
    assert kept("select 3", list) == [] and kept("select 3") == [1, "a"] and len(calls) == 4  # not kept: computed again
    assert sorted(path.suffix for path in cache_dir.iterdir()) == [".json"] * 3  # no staging file left


def test_where_nothing_can_be_written_the_result_is_computed_every_time(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setattr(cache, "CACHE_DIR", tmp_path / "a-file")  # mkdir under a file fails, even for root
    calls = []
    for _ in range(2):
        assert cache.kept("kind", "x", lambda: calls.append(1) or [1], json.dumps, json.loads) == [1]
    assert len(calls) == 2
