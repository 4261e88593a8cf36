"""Where skimd keeps its files: the one function that resolves the data directory, and the
one that creates it.

Order: the configured ``[paths] data_dir`` when set; else ``/opt/skim/data`` when it
exists (the systemd deployment); else ``<project>/data`` (a checkout).

Resolving creates nothing (:func:`get_data_dir`): ``status``, ``config check`` and the
other readers must not leave a directory behind. Whoever is about to write there — a
command that takes the instance lock, or ``db init`` — calls :func:`ensure_data_dir`,
which creates it at mode 0700 (it holds the encrypted DB, its salt and backups).
"""

from __future__ import annotations

from pathlib import Path

from skimd.config import PROJECT_ROOT, Settings
from skimd.errors import ConfigurationError
from skimd.files import private_dir

DEPLOYED_DATA_DIR = Path("/opt/skim/data")


def get_data_dir(settings: Settings, deployed: Path = DEPLOYED_DATA_DIR) -> Path:
    """The data directory ``settings`` name; it may not exist yet."""
    if settings.paths.data_dir is not None:
        return settings.paths.data_dir
    if deployed.is_dir():
        return deployed
    return PROJECT_ROOT / "data"


def ensure_data_dir(settings: Settings, deployed: Path = DEPLOYED_DATA_DIR) -> Path:
    """The data directory, created (0700, parents too) when missing."""
    chosen = get_data_dir(settings, deployed)
    try:
        return private_dir(chosen)
    except OSError as exc:
        raise ConfigurationError(
            f"{settings.source}: [paths] data_dir: cannot create {chosen} ({exc.strerror})"
        ) from exc
