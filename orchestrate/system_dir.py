"""A Meltano system directory (``MELTANO_SYS_DIR_ROOT``) of a run's own.

Meltano writes a run's catalog and state files under its system directory, per extractor
rather than per run: two runs of one extractor in one project at once (two stores, two
demos) would read each other's files, half-written. A directory of its own, linking to
the plugins installed in the shared one, keeps them apart and installs nothing again.

Used by `orchestrate.definitions` (a directory per store) and the demo; it needs nothing
but the standard library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

#: where Meltano installs plugins, under its system directory
PLUGIN_DIRS = ("extractors", "loaders", "mappers", "transformers", "utilities", "orchestrators")


def own_system_dir(own: Path, shared: Path) -> Path:
    """``own``, made a Meltano system directory whose plugins are those installed in the
    system directory ``shared`` (links to each of its plugin directories).
    """
    own.mkdir(parents=True, exist_ok=True)
    for kind in PLUGIN_DIRS:
        link, target = own / kind, shared / kind
        if target.is_dir() and not link.exists():
            link.symlink_to(target, target_is_directory=True)
    return own
