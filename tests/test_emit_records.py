"""The emitter's hot path (``Emitter.records``, no overrides): a keyed table's record takes its
rows by key -- a dict or any other mapping -- and anything else is refused with a clear error."""
import datetime as dt
import types

import pytest

from GenerateMeterData.generate.emit import Emitter
from GenerateMeterData.generate.overrides import Overrides
from GenerateMeterData.records.rows import IdAllocator, NameIndex, RowSet


def _emitter():
    return Emitter(RowSet(), IdAllocator(), NameIndex.reference(), Overrides(), dt.timezone.utc)


@pytest.mark.parametrize("wrap", [dict, types.MappingProxyType])
def test_a_keyed_record_takes_its_rows_from_any_mapping(wrap):
    em = _emitter()
    rows = {0: [100.0, 0.0, 5.0, 0.0], 1: [60.0, 0.0, 3.0, 0.0], 2: None}
    em.records("ElDayEnergy", 1, 1001, [(1_700_000_000, 1, wrap(rows))])
    assert em.rows["MeterData"] == [(1, 1, em.record_type_id("ElDayEnergy"), 1_700_000_000, 1)]
    assert em.rows["ElectricEnergyValues"] == [(1, 0, 100.0, 0.0, 5.0, 0.0), (1, 1, 60.0, 0.0, 3.0, 0.0)]


def test_a_keyed_record_given_a_list_is_refused():
    with pytest.raises(TypeError, match="ElectricEnergyValues takes its rows by Tariff, got list"):
        _emitter().records("ElDayEnergy", 1, 1001, [(1_700_000_000, 1, [100.0, 0.0, 5.0, 0.0])])
