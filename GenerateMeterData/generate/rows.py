"""Moved to ``GenerateMeterData.records.rows`` (the neutral layer below generate and targets);
this name stays importable for code written against it."""
from ..records.rows import (ContinuedRowSet, IdAllocator, NameIndex, ProvisionalIds, RowSet,  # noqa: F401
                            family_rows, tags_to_values, values_to_tags)
