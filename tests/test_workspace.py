"""The workspace: building() (temp folder + rename, races, cleanup), finished artifacts, opening."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from edgekit.errors import InvalidInputError
from edgekit.workspace import MANIFEST, Workspace, building, make_dirs, read_manifest, write_manifest


def _finish(folder: Path, text: str) -> None:
    (folder / "payload.txt").write_text(text)
    write_manifest(folder, stage="test", model="m", settings={}, inputs={}, tools={})


def _artifact(workspace: Workspace) -> Path:
    return workspace.artifact_dir("test", "m", {"k": 1})


def test_an_artifact_finished_by_another_builder_meanwhile_is_kept(tmp_path: Path):
    final = _artifact(Workspace.open(tmp_path))
    with building(final) as ours:
        _finish(ours, "ours")
        with building(final) as theirs:  # another builder of the same key finishes first
            _finish(theirs, "theirs")
        assert (final / "payload.txt").read_text() == "theirs"
    assert (final / "payload.txt").read_text() == "theirs"
    assert [p.name for p in final.parent.iterdir()] == [final.name]  # our temporary folder is gone


def test_an_artifact_there_before_the_build_is_replaced(tmp_path: Path):
    final = _artifact(Workspace.open(tmp_path))
    with building(final) as first:
        _finish(first, "first")
    with building(final) as forced:  # the caller chose to rebuild (force)
        _finish(forced, "second")
    assert (final / "payload.txt").read_text() == "second"
    assert [p.name for p in final.parent.iterdir()] == [final.name]


def test_a_failed_build_leaves_no_folder_it_created(tmp_path: Path):
    workspace = Workspace.open(tmp_path / "ws")
    final = _artifact(workspace)
    with pytest.raises(RuntimeError):
        with building(final) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("tool failed")
    assert list(workspace.root.iterdir()) == []  # neither test/ nor test/m/ is left

    kept = workspace.artifact_dir("test", "m", {"k": 2})
    with building(kept) as tmp:
        _finish(tmp, "other settings")
    with pytest.raises(RuntimeError):
        with building(final):
            raise RuntimeError("tool failed")
    assert [p.name for p in final.parent.iterdir()] == [kept.name]  # the model folder stays for its other artifact


def test_partial_folders_of_dead_processes_are_removed(tmp_path: Path):
    final = _artifact(Workspace.open(tmp_path))
    host = socket.gethostname()
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    dead = final.parent / f".{final.name}.{finished.stdout.strip()}@{host}.abc123.partial"
    alive_process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = final.parent / f".{final.name}.{alive_process.pid}@{host}.def456.partial"
        elsewhere = final.parent / f".{final.name}.1@another-host.ghi789.partial"
        ancient = final.parent / f".{final.name}.1@another-host.jkl012.partial"
        for folder in (dead, alive, elsewhere, ancient):
            folder.mkdir(parents=True)
        os.utime(ancient, (0, 0))
        with building(final) as tmp:
            _finish(tmp, "done")
        assert not dead.exists() and not ancient.exists()
        assert alive.exists() and elsewhere.exists()  # still running, or not ours to judge yet
    finally:
        alive_process.kill()
        alive_process.wait()


def test_an_artifact_with_a_missing_or_changed_file_is_not_found(tmp_path: Path):
    workspace = Workspace.open(tmp_path)
    final = _artifact(workspace)
    with building(final) as tmp:
        _finish(tmp, "payload")
    assert workspace.find("test", "m", {"k": 1}) == final
    (final / "payload.txt").write_text("p")  # truncated
    assert workspace.find("test", "m", {"k": 1}) is None and workspace.artifacts("test") == []
    (final / "payload.txt").unlink()
    assert workspace.find("test", "m", {"k": 1}) is None
    assert read_manifest(final) is not None  # the manifest alone does not make an artifact
    with building(final) as tmp:  # so it is rebuilt, replacing the broken one
        _finish(tmp, "payload")
    assert workspace.find("test", "m", {"k": 1}) == final and (final / MANIFEST).is_file()


def test_make_dirs_reports_what_it_created(tmp_path: Path):
    assert make_dirs(tmp_path / "a" / "b") == [tmp_path / "a", tmp_path / "a" / "b"]
    assert make_dirs(tmp_path / "a" / "b") == []


def test_a_workspace_that_cannot_be_created_is_invalid_input(tmp_path: Path, run_cli):
    a_file = tmp_path / "afile"
    a_file.write_text("not a folder")
    with pytest.raises(InvalidInputError, match="cannot create workspace .*afile/ws"):
        Workspace.open(a_file / "ws")
    result = run_cli("convert", "MobileNetV1", "--workspace", str(a_file / "ws"))
    assert result.returncode == 2 and "cannot create workspace" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
