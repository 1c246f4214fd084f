"""The executor tests import their helpers from ``drill_kit`` (this folder) and the ingestor's ``ingest_kit``
(its folder): both are put on ``sys.path``."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for folder in (_HERE, _HERE.parent / "ingestor"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
