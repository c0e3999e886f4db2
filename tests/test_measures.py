"""The measure registry against the reference (meterdb-schema.md §3.5, §4.1), written by hand,
and what the package derives from it."""
from __future__ import annotations

import sqlite3

import GenerateMeterData
from GenerateMeterData import LocalTarget
from GenerateMeterData.schema import measures

# ArchInfo.Records factory defaults as one public suite restores them (reference §3.5).
RETENTION = {"ElConfig": 1, "PlsConfig": 1, "DigConfig": 1,
             "ElMomentEnergy": 840, "ElMomentQuality": 840, "PlsMomentPulse": 840, "PlsHourPulse": 840,
             "DigMomentState": 840, "DigJournalState": 840,
             "ElDayEnergy": 35, "ElDayConsEnergy": 35, "PlsDayPulse": 35,
             "ElMonthEnergy": 12, "ElMonthConsEnergy": 12, "PlsMonthPulse": 12,
             "ElArr1ConsPower": 1680}


def test_fresh_database_numbers_and_retains_archive_types_as_the_reference(tmp_path):
    path = str(tmp_path / "meter.db")
    LocalTarget(path).init()
    conn = sqlite3.connect(path)
    found = dict(conn.execute("SELECT a.Name, i.Records FROM ArchTypes a JOIN ArchInfo i ON i.RecordTypeId = a.Id"))
    ids = dict(conn.execute("SELECT Name, Id FROM ArchTypes"))
    conn.close()
    assert len(found) == 59
    for name, records in found.items():
        assert records == RETENTION.get(name, 20 if "Jrnl" in name else None), name
    # the order every public tool lists them in
    assert [ids[n] for n in ("ElConfig", "ElMomentEnergy", "ElArr1ConsPower", "PlsMomentPulse", "DigJournalState",
                             "ElJrnlPwr", "ElJrnlReverce", "PlsJrnlTimeCorr")] == [1, 4, 10, 11, 16, 17, 58, 59]


def test_registry_facts():
    assert measures.consumption_of("ElDayConsEnergy") == "ElDayEnergy"
    assert measures.consumption_of("ElMonthConsEnergy") == "ElMonthEnergy"
    assert measures.consumption_of("ElDayEnergy") is None
    assert set(measures.select(cumulative=True)) == {"ElMomentEnergy", "ElDayEnergy", "ElMonthEnergy", "PlsMomentPulse",
                                                     "PlsHourPulse", "PlsDayPulse", "PlsMonthPulse"}
    assert measures.select(cadence=measures.DAY) == ("ElDayEnergy", "ElDayConsEnergy", "PlsDayPulse")
    assert measures.measures_of_family("digital") == ("DigMomentState", "DigJournalState")
    assert measures.measure("ElJrnlRvr").name == "ElJrnlReverce"
    assert [measures.journal_event("ElJrnlPwr", i) for i in range(3)] == [0, 1, 0]
    assert [measures.journal_event("ElJrnlLimUAMax", i) for i in range(3)] == [1, 0, 1]
    assert {measures.journal_event("ElJrnlOpen", i) for i in range(3)} == {0}
    assert {measures.journal_event("PlsJrnlTimeCorr", i) for i in range(3)} == {1}


def test_seed_classes_and_all_follow_the_registry():
    for entry in measures.REGISTRY:
        cls = getattr(GenerateMeterData, entry.seed_class)
        assert entry.seed_class in GenerateMeterData.__all__
        if entry.seed_class != "Journal":
            assert cls.measure == entry.name and cls.__doc__
    assert GenerateMeterData.PlsHourPulse.config_class is GenerateMeterData.PlsConfig
    assert GenerateMeterData.DigJournalState.config_class is GenerateMeterData.DigConfig
    assert GenerateMeterData.ElDayConsEnergy.__doc__ == "Energy consumed per completed day."


def test_the_web_ui_name_of_a_journal_resolves_everywhere(tmp_path, monkeypatch, seed_api_clock):
    """ElJrnlRvr (the web UI's name of ElJrnlReverce) works in a Scenario and the seed API."""
    import datetime as dt

    from GenerateMeterData import Scenario, StoryOptions, verify

    rows = Scenario(meters=1, days=2, end=dt.date(2026, 1, 1), measures={"ElJrnlRvr"},
                    options=StoryOptions(journals={"ElJrnlRvr": 2})).build()
    assert rows.counts()["JournalValues"] == 2
    monkeypatch.chdir(tmp_path)
    path = str(tmp_path / "meter.db")
    GenerateMeterData.configure(LocalTarget(path))
    journal = GenerateMeterData.Journal(RecordTypeId="ElJrnlRvr", Count_timestamp=1)
    GenerateMeterData.set_default_target(None)
    assert len(journal.get("ElJrnlRvr")) == 1
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT a.Name FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId").fetchall() == \
        [("ElJrnlReverce",)]
    conn.close()
    assert verify(path) == []


def test_the_package_names_exactly_the_registrys_seed_classes():
    import ast
    import os

    import GenerateMeterData
    from GenerateMeterData import seedapi

    source = open(os.path.join(os.path.dirname(GenerateMeterData.__file__), "__init__.py")).read()
    imported = {alias.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)
                and node.module == "seedapi" for alias in node.names if alias.name != "SEED_CLASSES"}
    assert imported == set(seedapi.SEED_CLASSES)
    assert all(hasattr(GenerateMeterData, name) for name in seedapi.SEED_CLASSES)
