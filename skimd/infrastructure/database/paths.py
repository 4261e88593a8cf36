"""Where skimd keeps its files: the one function that resolves the data directory.

Order: the configured ``[paths] data_dir`` when set; else ``/opt/skim/data`` when it
exists (the systemd deployment); else ``<project>/data`` (a checkout). The chosen directory
is created if missing (mode 0700: it holds the encrypted DB, its salt and backups).
"""

from __future__ import annotations

from pathlib import Path

from skimd.config import PROJECT_ROOT, Settings
from skimd.errors import ConfigurationError

DEPLOYED_DATA_DIR = Path("/opt/skim/data")


def get_data_dir(settings: Settings, deployed: Path = DEPLOYED_DATA_DIR) -> Path:
    if settings.paths.data_dir is not None:
        chosen = settings.paths.data_dir
    elif deployed.is_dir():
        chosen = deployed
    else:
        chosen = PROJECT_ROOT / "data"
    try:
        chosen.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(
            f"{settings.source}: [paths] data_dir: cannot create {chosen} ({exc.strerror})"
        ) from exc
    return chosen


def get_db_path(settings: Settings, deployed: Path = DEPLOYED_DATA_DIR) -> Path:
    """The trading database file inside the data directory."""
    return get_data_dir(settings, deployed) / settings.database.filename
