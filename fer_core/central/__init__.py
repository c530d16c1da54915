"""The central store: finished sessions of many recording sites, committed to Delta Lake tables.

Recording stays local (the crash-safe Parquet store of :mod:`fer_core.logstore`, which needs a
local disk); a *finished* session is published to two Delta Lake tables at a central location
(``s3://bucket/prefix`` on any S3-compatible server, or a local/mounted path) that every site
shares and DuckDB, Polars, pyarrow, pandas and Spark read. Layout, guarantees and reading
recipes: docs/log-format.md, *Central store*; deployment: docs/deployment.md.

Modules: :mod:`~fer_core.central.location` (where the store is, credentials, redaction),
:mod:`~fer_core.central.tables` (the two tables' schemas and rows),
:mod:`~fer_core.central.commit` (retried Delta commits), :mod:`~fer_core.central.publish`
(publishing sessions), :mod:`~fer_core.central.reader` (reading back),
:mod:`~fer_core.central.maintenance` (erasure, optimize),
:mod:`~fer_core.central.background` (publishing after STOP/``analyze``/edits, the status the app
shows) and :mod:`~fer_core.central.cache` (a review machine's local copy). ``deltalake`` is
imported only inside functions, so the local store and the app load without it.
"""

from fer_core.central.location import (
    CENTRAL_ENV,
    SITE_ENV,
    CentralConfigError,
    CentralError,
    CentralStore,
    central_session_id,
    resolve_central,
)

__all__ = [
    "CENTRAL_ENV",
    "SITE_ENV",
    "CentralConfigError",
    "CentralError",
    "CentralStore",
    "central_session_id",
    "resolve_central",
]
