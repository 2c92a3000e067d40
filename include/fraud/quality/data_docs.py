"""The Data Docs site's files, each written whole while the monitoring page serves the site.

Great Expectations writes a site file by truncating it and writing it again, and rewrites the
index and every static asset on each build; a reader of the site could get half a page. The
site's store backend below writes each file through ``fraud.atomic_files`` instead. Great Expectations
loads it by name from the site configuration that ``fraud.quality.suites.open_context`` saves.
It builds pages first and the index last, so the index only links to pages already written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from great_expectations.data_context.store.tuple_store_backend import (
    TupleFilesystemStoreBackend,
)

from fraud.atomic_files import write_whole_bytes

SITE_NAME = "local_site"
# Relative to the GX project; fraud.dashboard.data.DATA_DOCS_SITE names the same folder.
SITE_DIRECTORY = "uncommitted/data_docs/local_site/"


class WholeFileStoreBackend(TupleFilesystemStoreBackend):
    """GX's filesystem backend, with every file written beside its path and renamed over it."""

    def _set(self, key: Any, value: Any, **kwargs: Any) -> str:  # type: ignore[override]
        """Write one site file whole; return its path, as GX's filesystem backend does."""
        if not isinstance(key, tuple):
            key = key.to_tuple()
        path = Path(self.full_base_directory, self._convert_key_to_filepath(key))
        write_whole_bytes(path, value.encode("utf-8") if isinstance(value, str) else bytes(value))
        return str(path)


# The class name that GX projects saved before the rename hold in their site configuration.
PublishedFilesystemStoreBackend = WholeFileStoreBackend


def site_config() -> dict[str, Any]:
    """The local Data Docs site, written through ``WholeFileStoreBackend``."""
    return {
        SITE_NAME: {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": True,
            "store_backend": {
                "module_name": __name__,
                "class_name": WholeFileStoreBackend.__name__,
                "base_directory": SITE_DIRECTORY,
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    }
