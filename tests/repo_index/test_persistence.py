"""The SQLite store: restarts reuse it, re-read only what changed, and never trust a bad one."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from repo_index import IndexConfig, Workspace
from repo_index.store import SCHEMA_VERSION, IndexStore, store_dir

FILES = {f"pkg/mod{i}.py": f"def function_{i}(value):\n    return value + {i}\n" for i in range(6)}


def _old_mtime(root: Path) -> None:
    # Files written just now are "racy" (same timestamp tick as indexing) and get hashed on
    # the next start; age them so the plain mtime+size path is the one under test.
    past = time.time() - 3600
    for path in root.rglob("*.py"):
        os.utime(path, (past, past))


def test_store_lives_under_the_cache_dir(make_tree, cache_dir, open_ws):
    root = make_tree(FILES)
    ws = open_ws(root)
    assert Path(ws.stats().store).is_relative_to(cache_dir / "index")
    assert Path(ws.stats().store).parent == store_dir(cache_dir, root)


def test_warm_restart_reuses_everything(make_tree, open_ws):
    root = make_tree(FILES)
    _old_mtime(root)
    first = open_ws(root)
    assert first.build().files_indexed == 6
    query = first.retrieve("x.py", "function_3(value)\n", 0, 3)
    first.close()
    warm = open_ws(root)
    assert warm.stats().loaded_from == "snapshot"
    stats = warm.build()
    assert (stats.files_indexed, stats.files_unchanged) == (0, 6)
    assert warm.retrieve("x.py", "function_3(value)\n", 0, 3) == query


def test_restart_after_a_crash_rebuilds_the_lexical_index_from_the_store(make_tree, open_ws):
    root = make_tree(FILES)
    first = open_ws(root)
    first.build()
    query = first.retrieve("x.py", "function_3(value)\n", 0, 3)
    with first.state.lock, first.state.store.transaction():
        first.state.apply(first.documents.facts(first.documents.set("pkg/extra.py", "def extra():\n    pass\n")))
        first.state.commit_generation()  # a write after the snapshot, then "crash":
    first.state.store.close()
    warm = Workspace.open(root, IndexConfig())
    try:
        assert warm.stats().loaded_from == "window blobs"
        assert warm.retrieve("x.py", "function_3(value)\n", 0, 3) == query
        assert warm.build().files_removed == 1  # pkg/extra.py is not on disk
    finally:
        warm.close()


def test_only_changed_files_are_read_again(make_tree, open_ws):
    root = make_tree(FILES)
    _old_mtime(root)
    open_ws(root).build()
    (root / "pkg" / "mod1.py").write_text("def renamed(value):\n    return value\n")
    os.utime(root / "pkg" / "mod2.py")  # touched: new mtime, same content
    (root / "pkg" / "mod3.py").unlink()
    (root / "pkg" / "new.py").write_text("NEW = 1\n")
    ws = open_ws(root)
    stats = ws.build()
    assert (stats.files_indexed, stats.files_removed, stats.files_unchanged) == (2, 1, 4)
    assert ws.definitions("renamed") and not ws.definitions("function_1") and not ws.definitions("function_3")
    row = ws.state.files["pkg/mod2.py"]
    assert row.mtime_ns == (root / "pkg" / "mod2.py").stat().st_mtime_ns  # remembered, no hash next time


def test_a_corrupt_store_is_rebuilt(make_tree, cache_dir, open_ws):
    root = make_tree(FILES)
    ws = open_ws(root)
    ws.build()
    path = Path(ws.stats().store)
    ws.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    again = open_ws(root)
    assert again.state.store.rebuilt and "unreadable" in again.state.store.rebuilt_reason
    assert again.build().files_indexed == 6
    assert again.definitions("function_4")


def test_an_old_schema_is_rebuilt(make_tree, open_ws):
    root = make_tree(FILES)
    ws = open_ws(root)
    ws.build()
    path = Path(ws.stats().store)
    ws.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION - 1),))
    db.commit()
    db.close()
    again = open_ws(root)
    assert "schema version" in again.state.store.rebuilt_reason
    assert again.stats().files == 0 and again.build().files_indexed == 6


def test_a_store_of_another_root_is_not_trusted(make_tree, cache_dir, tmp_path):
    root = make_tree(FILES)
    store = IndexStore.open(cache_dir, root)
    store.close()
    other = tmp_path / "other"
    other.mkdir()
    # Same store directory (as if two roots hashed alike), different root recorded.
    store = IndexStore(store_dir(cache_dir, root) / "index.sqlite3", other)
    assert store._check() == "store belongs to another root"
    store.close()


def test_a_restart_remembers_files_refused_for_their_content(make_tree, open_ws, monkeypatch):
    from repo_index import indexer

    root = make_tree({**FILES, "data/blob.txt": "x\0y" * 100, "static/app.min.txt": "a" * 5000})
    _old_mtime(root)
    for path in (root / "data/blob.txt", root / "static/app.min.txt"):
        past = time.time() - 3600
        os.utime(path, (past, past))
    first = open_ws(root)
    first.build()
    assert first.skipped["data/blob.txt"] == "binary"
    assert first.skipped["static/app.min.txt"] == "minified"
    first.close()

    read: list[str] = []
    real = indexer.read_and_extract
    monkeypatch.setattr(indexer, "read_and_extract", lambda root_, rel, *a, **k: read.append(rel) or real(root_, rel, *a, **k))
    warm = open_ws(root)
    stats = warm.build()
    assert read == []  # neither file is read again while it is unchanged
    assert (stats.files_indexed, stats.files_unchanged) == (0, 6)
    assert warm.skipped["data/blob.txt"] == "binary"
    assert warm.stats().skipped.get("binary") == 1

    (root / "data/blob.txt").write_text("def now_text():\n    return 1\n")  # changed: judged again
    (root / "static/app.min.txt").unlink()  # gone: forgotten
    assert warm.build().files_indexed == 1
    assert read == ["data/blob.txt"]
    assert "data/blob.txt" not in warm.skipped and "static/app.min.txt" not in warm.skipped
    assert warm.state.store.skips() == {}


def test_a_damaged_or_foreign_lexical_snapshot_is_not_trusted(make_tree, tmp_path, open_ws):
    root = make_tree(FILES)
    _old_mtime(root)
    first = open_ws(root)
    first.build()
    query = first.retrieve("x.py", "function_3(value)\n", 0, 3)
    snapshot = first.state.store.snapshot_path
    generation = first.state.generation
    first.close()
    good = snapshot.read_bytes()

    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0xFF
    snapshot.write_bytes(bytes(damaged))
    warm = open_ws(root)
    assert warm.stats().loaded_from == "window blobs"
    assert warm.retrieve("x.py", "function_3(value)\n", 0, 3) == query
    warm.close()

    snapshot.write_bytes(good[: len(good) // 2])  # torn
    assert open_ws(root).stats().loaded_from == "window blobs"

    # Another workspace's snapshot of the same generation, copied into this store.
    other = make_tree({**FILES, "pkg/mod1.py": "def other_thing():\n    pass\n"}, name="other")
    foreign = open_ws(other)
    foreign.build()
    foreign.close()
    assert foreign.state.generation == generation
    snapshot.write_bytes(foreign.state.store.snapshot_path.read_bytes())
    again = open_ws(root)
    assert again.stats().loaded_from == "window blobs"
    assert again.retrieve("x.py", "function_3(value)\n", 0, 3) == query


def test_a_rebuilt_store_drops_its_snapshot_and_temp_files_of_dead_writers(make_tree, open_ws):
    root = make_tree(FILES)
    ws = open_ws(root)
    ws.build()
    path = Path(ws.stats().store)
    snapshot = ws.state.store.snapshot_path
    ws.close()
    assert snapshot.exists()
    dead = snapshot.with_name(f"{snapshot.name}.999999999-0a1b2c3d.tmp")  # no such process
    live = snapshot.with_name(f"{snapshot.name}.{os.getpid()}-0a1b2c3d.tmp")  # a writer at work
    live.write_bytes(b"being written")
    dead.write_bytes(b"half a snapshot")
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION - 1),))
    db.commit()
    db.close()
    again = open_ws(root)
    assert again.state.store.rebuilt and not snapshot.exists() and not dead.exists() and live.exists()
    assert again.stats().loaded_from == "empty"


def test_a_snapshot_that_cannot_be_written_costs_only_a_slower_start(make_tree, open_ws, caplog):
    root = make_tree(FILES)
    ws = open_ws(root)
    ws.state.store.snapshot_path.mkdir()  # the rename into place fails
    stats = ws.build()
    assert stats.files_indexed == 6 and ws.definitions("function_2")
    assert "could not save the lexical index snapshot" in caplog.text
    ws.close()
    again = open_ws(root)
    assert again.stats().loaded_from == "window blobs" and again.definitions("function_2")
