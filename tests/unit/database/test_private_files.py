"""Private folders and files whatever the umask, the data dir's tightening rules, and the
clean-up of what killed atomic writes leave behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from skimd.files import (
    copy_private,
    create_private,
    is_atomic_temporary,
    private_dir,
    remove_atomic_temporaries,
    write_atomic,
)
from skimd.infrastructure.database.private_files import loose_paths, tidy_data_dir


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_folders_and_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    folder = private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path / "a") == 0o700 and mode(folder) == 0o700
    assert create_private(folder / "x") is True and mode(folder / "x") == 0o600
    assert create_private(folder / "x") is False
    (tmp_path / "src").write_bytes(b"data" * 1000)
    copy_private(tmp_path / "src", folder / "copy")
    assert (folder / "copy").read_bytes() == b"data" * 1000 and mode(folder / "copy") == 0o600
    write_atomic(folder / "y.json", b"{}")
    assert mode(folder / "y.json") == 0o600


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        (".demo-run.json.k2j3h4g5.tmp", True),
        (".skimd.db.salt.abc.tmp", True),
        ("notes.tmp", False),
        (".bashrc.tmp", False),
        (".demo-run.json", False),
    ],
)
def test_only_write_atomic_temporaries_count_as_leftovers(name: str, ours: bool) -> None:
    assert is_atomic_temporary(name) is ours


def test_leftovers_are_removed_from_the_folder_itself_only(tmp_path: Path) -> None:
    (tmp_path / ".a.json.123.tmp").write_text("half")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".b.json.456.tmp").write_text("half")
    assert remove_atomic_temporaries(tmp_path) == [tmp_path / ".a.json.123.tmp"]
    assert (tmp_path / "sub" / ".b.json.456.tmp").exists()
    assert remove_atomic_temporaries(tmp_path / "missing") == []


def test_tidying_tightens_all_but_secrets_and_symlinks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "reports" / "2026-11-24").mkdir(parents=True)
    (data / "skimd.db").write_bytes(b"x")
    (data / "reports" / "2026-11-24" / "report.md").write_text("r")
    secret = data / "skimd.passphrase"
    secret.write_text("s")
    outside = tmp_path / "outside.txt"
    outside.write_text("o")
    (data / "link").symlink_to(outside)
    for path in [data, *data.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    outside.chmod(0o644)

    assert set(loose_paths(data, [secret])) == {
        data,
        data / "reports",
        data / "reports" / "2026-11-24",
        data / "skimd.db",
        data / "reports" / "2026-11-24" / "report.md",
    }
    done = tidy_data_dir(data, [secret])
    assert len(done.tightened) == 5 and loose_paths(data, [secret]) == []
    assert mode(data) == 0o700 and mode(data / "skimd.db") == 0o600
    assert mode(secret) == 0o644, "a secret is refused on use, never quietly fixed"
    assert mode(outside) == 0o644, "nothing outside the data dir is touched"
