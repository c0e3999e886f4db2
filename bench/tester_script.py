"""The issue's typical tester script, object by object -- one copy for the benchmarks that time
it (bench_seed_script.py over SSH and locally, bench_objects.py per object)."""


def run(G, timed) -> None:
    """MeterTable(), ElConfig(...), Journal(ElJrnlLimPwr, Valid=0), ElDayEnergy(7),
    ElDayConsEnergy(7), ElMonthEnergy(3), ElMomentEnergy(), ElMomentQuality(3),
    ElArr1ConsPower(48) through the seed API ``G`` (``import GenerateMeterData as G``), each made by
    ``timed(label, make)``, which calls ``make()``, times it and returns what it made."""
    mt = timed("MeterTable()", lambda: G.MeterTable())
    cfg = timed("ElConfig", lambda: G.ElConfig(MeterTable=mt.get("MeterTable")))
    kw = dict(MeterTable=cfg.get("MeterTable"), ElConfig=cfg.get("ElConfig"))
    timed("Journal(ElJrnlLimPwr)", lambda: G.Journal(RecordTypeId=G.JournalName.ElJrnlLimPwr,
                                                     Redefine_tag={"Valid": 0}, **kw))
    timed("ElDayEnergy(7)", lambda: G.ElDayEnergy(Count_timestamp=7, **kw))
    timed("ElDayConsEnergy(7)", lambda: G.ElDayConsEnergy(Count_timestamp=7, **kw))
    timed("ElMonthEnergy(3)", lambda: G.ElMonthEnergy(Count_timestamp=3, **kw))
    timed("ElMomentEnergy()", lambda: G.ElMomentEnergy(**kw))
    timed("ElMomentQuality(3)", lambda: G.ElMomentQuality(Count_timestamp=3, **kw))
    timed("ElArr1ConsPower(48)", lambda: G.ElArr1ConsPower(Count_timestamp=48, **kw))
