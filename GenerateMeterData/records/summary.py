"""What a load wrote: the neutral result type every target returns and every caller reads.

It lives apart from the generators and the targets so that both can import it (a target
returns it, a scenario passes it on) without importing each other."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Dict, List, Optional


@dataclass(frozen=True)
class CreatedMeter:
    """A meter a load created, with the ids the target assigned inside the load's transaction."""

    meter_id: int
    device_idx: int
    type_name: str


@dataclass
class LoadSummary:
    """What one load wrote."""

    rows: Dict[str, int]
    meters: int
    first_timestamp: Optional[int]
    last_timestamp: Optional[int]
    seconds: float = 0.0
    target: str = ""
    token: Optional[str] = None  # the load's id in the target's ledger (clear(tokens=[...]))
    #: every meter the load created, in the order it was generated (parents before children)
    created: List[CreatedMeter] = field(default_factory=list)
    #: MeterData.Id of the load's first record as the target numbered it (None: no records)
    first_record_id: Optional[int] = None

    @property
    def total_rows(self) -> int:
        """Rows written in all tables."""
        return sum(self.rows.values())

    @property
    def meter_ids(self) -> List[int]:
        """MeterIds of the meters this load created, so a test can pick its own rows out of a
        device that holds other data (``WHERE MeterId IN (...)``)."""
        return [meter.meter_id for meter in self.created]

    def document(self, tz: dt.tzinfo, dry_run: bool = False) -> Dict[str, object]:
        """The load as one JSON-ready document (what ``seed --json`` and ``capture --json`` print):
        token, MeterIds, rows per table, first/last record time in ``tz``, seconds, target."""
        def iso(ts: Optional[int]) -> Optional[str]:
            return dt.datetime.fromtimestamp(ts, tz).isoformat() if ts is not None else None

        return {"token": self.token, "meter_ids": self.meter_ids, "rows": dict(sorted(self.rows.items())),
                "first": iso(self.first_timestamp), "last": iso(self.last_timestamp),
                "seconds": round(self.seconds, 3), "target": self.target, "meters": self.meters,
                "dry_run": dry_run}

    @property
    def device_idxs(self) -> List[int]:
        """DeviceIdx of the meters this load created (the key of every record table)."""
        return [meter.device_idx for meter in self.created]
