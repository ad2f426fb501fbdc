"""Issue 13 item 5: a leaderboard folder switches at once; a kill -9 at any point leaves the old board or the new
one (compared by the sha256 of every file), never a mix."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import pytest
from test_leaderboard import MODELS, _record

from gyrobench.cli import main
from gyrobench.leaderboard import RecordError, publish


def tree_hash(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def two_sets(tmp_path):
    recs = [_record(tmp_path / "results", i, *m) for i, m in enumerate(MODELS)]
    return recs[:2], recs  # old board: two rows; new board: three


def _killed_publish(records, out: Path, kill_at: int, where: str, **kw) -> None:
    """Run ``publish`` in a forked child that SIGKILLs itself at the ``kill_at``-th file write (``where="write"``)
    or right after the folders were exchanged, before the old one is deleted (``where="swap"``)."""
    import sys

    import gyrobench.io as gio

    pub = sys.modules["gyrobench.leaderboard.publish"]  # the package rebinds the name 'publish' to the function

    pid = os.fork()
    if pid == 0:  # child
        try:
            if where == "write":
                orig, calls = pub.write_text_atomic, []

                def write(path, text):
                    calls.append(path)
                    if len(calls) == kill_at:
                        os.kill(os.getpid(), signal.SIGKILL)
                    return orig(path, text)

                pub.write_text_atomic = write
            else:
                orig_x = gio._exchange

                def exchange(a, b):
                    done = orig_x(a, b)
                    os.kill(os.getpid(), signal.SIGKILL)
                    return done

                gio._exchange = exchange
            publish(records, out, plots_enabled=False, **kw)
        except BaseException:  # reported through the exit status
            import traceback
            (out.parent / "child-error.txt").write_text(traceback.format_exc())
            os._exit(3)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


@pytest.mark.parametrize("kill_at", [1, 2, 3, 4, 5])
def test_kill9_during_publish_leaves_the_old_board(two_sets, tmp_path, kill_at):
    old, new = two_sets
    ref_new = tmp_path / "ref" / "board"  # same depth, same name: the same relative links
    publish(new, ref_new, plots_enabled=False)
    out = tmp_path / "lb" / "board"
    publish(old, out, plots_enabled=False)
    h_old, h_new = tree_hash(out), tree_hash(ref_new)
    assert h_old != h_new
    _killed_publish(new, out, kill_at, "write")
    assert tree_hash(out) == h_old
    publish(new, out, plots_enabled=False)  # the next run cleans up and completes
    assert tree_hash(out) == h_new
    assert [p.name for p in out.parent.iterdir()] == ["board"]  # no temporary folder left


def test_kill9_after_the_swap_leaves_the_new_board(two_sets, tmp_path):
    old, new = two_sets
    out = tmp_path / "lb" / "board"
    publish(new, out, plots_enabled=False)
    h_new = tree_hash(out)
    publish(old, out, plots_enabled=False)
    _killed_publish(new, out, 0, "swap")
    assert tree_hash(out) == h_new
    leftovers = [p for p in out.parent.iterdir() if p.name != "board"]
    assert leftovers  # the old board, renamed aside, not deleted before the kill
    publish(new, out, plots_enabled=False)
    assert tree_hash(out) == h_new and [p.name for p in out.parent.iterdir()] == ["board"]


def test_bundled_records_kill9_and_republish_from_inside(two_sets, tmp_path):
    """``demo --publish`` bundles the records into the board: a kill leaves the old board, and publishing again
    from the records inside the board itself keeps them (they are carried into the new folder)."""
    old, new = two_sets
    out = tmp_path / "lb" / "board"
    publish(old, out, plots_enabled=False, bundle_records=True)
    h_old = tree_hash(out)
    assert sorted(p.name for p in (out / "records").iterdir()) == ["run0", "run1"]
    _killed_publish(new, out, 3, "write", bundle_records=True)
    assert tree_hash(out) == h_old
    publish(new, out, plots_enabled=False, bundle_records=True)
    h_new = tree_hash(out)
    assert sorted(p.name for p in (out / "records").iterdir()) == ["run0", "run1", "run2"]
    publish([out / "records"], out, plots_enabled=False)  # republish from the bundled copies
    assert tree_hash(out) == h_new


def test_refuses_an_output_that_is_not_a_board(two_sets, tmp_path, capsys):
    old, _ = two_sets
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep me")
    with pytest.raises(RecordError, match="holds no leaderboard"):
        publish(old, other, plots_enabled=False)
    assert (other / "mine.txt").read_text() == "keep me"
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert main(["leaderboard", str(old[0]), "--out", str(a_file), "--no-plots"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a folder is needed" in err[0]


def test_swap_without_rename_exchange_still_replaces_the_whole_folder(two_sets, tmp_path, monkeypatch):
    """Where renameat2(RENAME_EXCHANGE) is missing (non-Linux, some file systems) two renames are used."""
    import gyrobench.io as gio

    old, new = two_sets
    ref = tmp_path / "ref" / "board"
    publish(new, ref, plots_enabled=False)
    out = tmp_path / "lb" / "board"
    publish(old, out, plots_enabled=False)
    monkeypatch.setattr(gio, "_exchange", lambda a, b: False)
    publish(new, out, plots_enabled=False)
    assert tree_hash(out) == tree_hash(ref) and [p.name for p in out.parent.iterdir()] == ["board"]
