"""Leaderboards from results records (docs/conventions.md §8): Markdown / CSV / LaTeX tables and a static HTML page.

Reads only ``gyrobench-results/1`` JSON records and the per-image CSVs and crop PNGs they point to; never imports
a model. Published paper numbers live in :mod:`.paper` and appear only in a separate, labelled block.
"""

from .publish import publish
from .records import FORMAT, Record, RecordError, find_records, load_record
from .tables import LEADERBOARD_VERSION

__all__ = ["FORMAT", "LEADERBOARD_VERSION", "Record", "RecordError", "find_records", "load_record", "publish"]
