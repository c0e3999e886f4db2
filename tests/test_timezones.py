"""The target's time zone reaches every writer and reader (issue 18, item 5): the seed classes,
Scenario.create, the plugin's seeders and factories, verify, plot, capture and the imitators --
from settings.ini (``timezone``), ``configure(timezone=...)`` and ``--timezone``.

Expected stamps are computed here with zoneinfo from the calendar (or written out by hand),
never by the package.  None of the zones is Moscow's; Europe/Berlin has daylight saving time
(2026-03-29 02:00 CET -> 03:00 CEST, a day of 23 hours)."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import time
from zoneinfo import ZoneInfo

import pytest

import GenerateMeterData
from GenerateMeterData import InputError, LocalTarget, Scenario
from GenerateMeterData.cli import main
from GenerateMeterData.errors import ConfigError
from GenerateMeterData.generate.electric import StoryOptions
from GenerateMeterData.generate.scenario import MeterPlan
from GenerateMeterData.settings import load as load_settings
from GenerateMeterData.targets import target_for
from GenerateMeterData.verify import verify
from helpers import SEED_API_NOW, rows, table_checksums

ZONES = ["Europe/Kaliningrad", "Asia/Yekaterinburg", "Asia/Vladivostok", "Europe/Berlin"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
END = dt.date(2026, 4, 1)   # with DAYS: 28, 29 (Berlin's 23-hour day), 30 and 31 March; a month start
DAYS = 4


def midnight(zone: str, day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).timestamp())


def last_midnights(zone: str, now: int, count: int):
    """The last ``count`` local midnights of ``zone`` at or before ``now``, oldest first."""
    day = dt.datetime.fromtimestamp(now, ZoneInfo(zone)).date()
    return [midnight(zone, day - dt.timedelta(days=k)) for k in range(count - 1, -1, -1)]


def scenario_midnights(zone: str):
    """Local midnights from END - DAYS to END (a scenario's day records)."""
    return [midnight(zone, END - dt.timedelta(days=k)) for k in range(DAYS, -1, -1)]


def stamps(path: str, measure: str):
    return [ts for (ts,) in rows(path, "SELECT m.Timestamp FROM MeterData m JOIN ArchTypes a "
                                       "ON a.Id = m.RecordTypeId WHERE a.Name = ? ORDER BY m.Timestamp",
                                 (measure,))]


def write_ini(folder, db, zone=None, section="Test"):
    ini = folder / "settings.ini"
    ini.write_text(f"[{section}]\ndb_path = {db}\n" + (f"timezone = {zone}\n" if zone else ""), encoding="utf-8")
    return ini


@pytest.fixture
def fresh(tmp_path):
    db = tmp_path / "meter.db"
    LocalTarget(str(db)).init()
    return db


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---- the seed-compatible classes --------------------------------------------------------------
@pytest.mark.parametrize("zone", ZONES)
def test_seed_classes_take_the_zone_of_settings_ini(zone, fresh, tmp_path, monkeypatch, seed_clock):
    """The issue's reproduction: timezone in settings.ini and configure(settings=...)."""
    monkeypatch.chdir(tmp_path)
    seed_clock(SEED_API_NOW)
    GenerateMeterData.configure(settings=str(write_ini(tmp_path, fresh, zone)))
    day = GenerateMeterData.ElDayEnergy(Count_timestamp=3)
    expected = last_midnights(zone, SEED_API_NOW, 3)
    assert [record["Timestamp"] for record in day.get("ElDayEnergy")] == expected
    assert stamps(str(fresh), "ElDayEnergy") == expected
    assert verify(GenerateMeterData.configure()) == []   # the target: its copy, its zone
    assert verify(str(fresh), zone) == []


def test_seed_classes_across_berlins_daylight_saving_change(fresh, tmp_path, monkeypatch, seed_clock):
    monkeypatch.chdir(tmp_path)
    now = int(dt.datetime(2026, 3, 31, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp())
    seed_clock(now)
    GenerateMeterData.configure(settings=str(write_ini(tmp_path, fresh, "Europe/Berlin")))
    energy = GenerateMeterData.ElDayEnergy(Count_timestamp=4)
    # 28 and 29 March 00:00 CET (UTC+1), 30 and 31 March 00:00 CEST (UTC+2), written out by hand
    expected = [1774652400, 1774738800, 1774821600, 1774908000]
    assert expected == last_midnights("Europe/Berlin", now, 4)
    assert [r["Timestamp"] for r in energy.get("ElDayEnergy")] == expected
    cons = GenerateMeterData.ElDayConsEnergy(MeterTable=energy.get("MeterTable"),
                                             ElConfig=energy.get("ElConfig"), Count_timestamp=3)
    assert [r["Timestamp"] for r in cons.get("ElDayConsEnergy")] == expected[:3]
    assert verify(str(fresh), "Europe/Berlin") == []


def test_configure_timezone_beats_settings_ini(fresh, tmp_path, monkeypatch, seed_clock):
    monkeypatch.chdir(tmp_path)
    seed_clock(SEED_API_NOW)
    target = GenerateMeterData.configure(settings=str(write_ini(tmp_path, fresh, "Asia/Vladivostok")),
                                         timezone="Europe/Kaliningrad")
    assert target.context.timezone == "Europe/Kaliningrad"
    day = GenerateMeterData.ElDayEnergy(Count_timestamp=2)
    assert [r["Timestamp"] for r in day.get("ElDayEnergy")] == last_midnights("Europe/Kaliningrad", SEED_API_NOW, 2)


def test_configure_timezone_alone_sets_the_current_targets_zone_and_stays_for_a_later_target(
        fresh, tmp_path, monkeypatch, seed_clock):
    monkeypatch.chdir(tmp_path)
    seed_clock(SEED_API_NOW)
    GenerateMeterData.configure(LocalTarget(str(fresh)))
    GenerateMeterData.configure(timezone="Asia/Yekaterinburg")
    first = GenerateMeterData.ElDayEnergy(Count_timestamp=1).get("ElDayEnergy")
    assert [r["Timestamp"] for r in first] == last_midnights("Asia/Yekaterinburg", SEED_API_NOW, 1)
    other = tmp_path / "other.db"
    LocalTarget(str(other)).init()
    GenerateMeterData.configure(db=str(other))       # no zone named: the configured one stays
    GenerateMeterData.ElDayEnergy(Count_timestamp=1)
    assert stamps(str(other), "ElDayEnergy") == last_midnights("Asia/Yekaterinburg", SEED_API_NOW, 1)


def test_explicit_target_argument_writes_in_that_targets_zone(fresh, seed_clock):
    seed_clock(SEED_API_NOW)
    target = LocalTarget(str(fresh), timezone="Asia/Vladivostok")
    records = GenerateMeterData.ElMonthEnergy(Count_timestamp=2, target=target).get("ElMonthEnergy")
    local = dt.datetime.fromtimestamp(SEED_API_NOW, ZoneInfo("Asia/Vladivostok")).date().replace(day=1)
    expected = [midnight("Asia/Vladivostok", dt.date(2026, 2, 1)), midnight("Asia/Vladivostok", local)]
    assert local == dt.date(2026, 3, 1)
    assert [r["Timestamp"] for r in records] == expected


def test_unknown_time_zone_in_configure_is_one_line_and_changes_nothing(fresh, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = GenerateMeterData.configure(LocalTarget(str(fresh)))
    other = tmp_path / "other.db"
    with pytest.raises(InputError) as caught:
        GenerateMeterData.configure(db=str(other), timezone="Mars/Olympus")
    assert str(caught.value).startswith("configure(timezone=...): unknown time zone 'Mars/Olympus'")
    assert GenerateMeterData.configure() is before and before.context.timezone == "Europe/Moscow"
    assert not other.exists()


def test_seed_and_locale_belong_to_the_target_too(tmp_path, seed_clock):
    seed_clock(SEED_API_NOW)
    a, b, c = (LocalTarget(str(tmp_path / f"{name}.db")) for name in "abc")
    GenerateMeterData.configure(a, seed=7, locale="ru_RU", timezone="Asia/Vladivostok")
    assert (a.context.seed, a.context.locale, a.context.timezone) == (7, "ru_RU", "Asia/Vladivostok")
    GenerateMeterData.configure(c)             # configured after a: its seed, locale and zone carry over
    assert (c.context.seed, c.context.locale, c.context.timezone) == (7, "ru_RU", "Asia/Vladivostok")
    assert (b.context.seed, b.context.locale) == (20240601, None)   # never configured: the defaults

    def meter(target):
        return GenerateMeterData.ElConfig(target=target).get("ElConfig")["serial"]

    assert meter(a) == meter(c) != meter(b)    # the same seed gives the same meter, another seed another


# ---- Scenario.create --------------------------------------------------------------------------
@pytest.mark.parametrize("zone", ZONES)
def test_scenario_written_to_a_target_follows_the_targets_zone(zone, fresh, tmp_path):
    target = target_for(load_settings(write_ini(tmp_path, fresh, zone)))
    Scenario(meters=[MeterPlan("SE303")], days=DAYS, end=END, seed=5).create(target)
    assert stamps(str(fresh), "ElDayEnergy") == scenario_midnights(zone)
    assert stamps(str(fresh), "ElMonthEnergy") == [midnight(zone, dt.date(2026, 4, 1))]
    start, end = midnight(zone, END - dt.timedelta(days=DAYS)), midnight(zone, END)
    assert stamps(str(fresh), "ElArr1ConsPower") == list(range(start + 1800, end + 1, 1800))
    if zone == "Europe/Berlin":   # 4 x 48 half hours, but the 23-hour day has two slots fewer
        assert len(stamps(str(fresh), "ElArr1ConsPower")) == 190
    assert verify(target) == []


def test_scenario_options_naming_a_zone_win_over_the_target(fresh):
    target = LocalTarget(str(fresh), timezone="Asia/Vladivostok")
    Scenario(meters=[MeterPlan("SE303")], days=DAYS, end=END, measures=["ElDayEnergy"],
             options=StoryOptions(timezone="Europe/Kaliningrad")).create(target)
    assert stamps(str(fresh), "ElDayEnergy") == scenario_midnights("Europe/Kaliningrad")


def test_scenario_without_end_ends_today_in_the_targets_zone(fresh):
    scenario = Scenario(meters=1, days=1).for_target(LocalTarget(str(fresh), timezone="Asia/Vladivostok"))
    assert scenario.timezone == "Asia/Vladivostok"
    assert scenario.end_ts == midnight("Asia/Vladivostok", scenario.end)
    # "today" in Vladivostok: the date of now there (the two reads of the clock may straddle its midnight)
    today = {dt.datetime.now(ZoneInfo("Asia/Vladivostok")).date() - dt.timedelta(days=k) for k in (0, 1)}
    assert scenario.end in today


# ---- period_minutes ---------------------------------------------------------------------------
def test_scenario_period_minutes_reaches_plans_without_their_own(fresh):
    Scenario(period_minutes=15, meters=[MeterPlan("SE303"), MeterPlan("Mercury23x", period_minutes=60)],
             days=1, end=END, measures=["ElArr1ConsPower"]).create(LocalTarget(str(fresh)))
    periods = dict(rows(str(fresh), "SELECT m.DeviceIdx, p.Period FROM MeterData m "
                                    "JOIN ElectricPowerValues p ON p.Id = m.Id GROUP BY m.DeviceIdx"))
    counts = dict(rows(str(fresh), "SELECT DeviceIdx, count(*) FROM MeterData GROUP BY DeviceIdx"))
    assert periods == {1: 15, 2: 60}
    assert counts == {1: 24 * 4, 2: 24}   # a day of quarter hours, a day of hours


@pytest.mark.parametrize("kwargs, fragment", [
    ({"period_minutes": 7}, "profile period 7 min (Scenario period_minutes): use one of 1, 2, 3, 5, 10, 15"),
    ({"period_minutes": 15, "meters": [MeterPlan("SE303", period_minutes=45)]},
     "profile period 45 min (meter plan SE303: period_minutes): use one of"),
])
def test_a_period_the_device_does_not_know_is_refused_in_one_line(kwargs, fragment):
    with pytest.raises(InputError) as caught:
        Scenario(**kwargs)
    assert str(caught.value).startswith(fragment) and "\n" not in str(caught.value)


# ---- the command line -------------------------------------------------------------------------
@pytest.mark.parametrize("zone", ["Asia/Vladivostok", "Europe/Berlin"])
def test_cli_seed_verify_plot_in_the_zone_of_settings_ini(zone, fresh, tmp_path, capsys):
    ini = write_ini(tmp_path, fresh, zone)
    code, _, err = run_cli(capsys, "seed", "--settings", ini, "--meters", "1", "--days", DAYS,
                           "--end", END.isoformat())
    assert code == 0, err
    assert stamps(str(fresh), "ElDayEnergy") == scenario_midnights(zone)
    code, out, err = run_cli(capsys, "verify", "--settings", ini)
    assert (code, out.strip()) == (0, "verify: all invariants hold"), err
    code, out, _ = run_cli(capsys, "verify", "--settings", ini, "--timezone", "Europe/Moscow")
    assert code == 1      # read in another zone, the same rows are off their midnights


def test_cli_timezone_option_beats_settings_ini(fresh, tmp_path, capsys):
    ini = write_ini(tmp_path, fresh, "Europe/Berlin")
    code, _, err = run_cli(capsys, "seed", "--settings", ini, "--timezone", "Asia/Yekaterinburg",
                           "--meters", "1", "--days", DAYS, "--end", END.isoformat())
    assert code == 0, err
    assert stamps(str(fresh), "ElDayEnergy") == scenario_midnights("Asia/Yekaterinburg")
    assert run_cli(capsys, "verify", "--settings", ini, "--timezone", "Asia/Yekaterinburg")[0] == 0


def test_cli_plot_draws_in_the_targets_zone(fresh, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from GenerateMeterData.plot import plot_meter

    ini = write_ini(tmp_path, fresh, "Asia/Vladivostok")
    Scenario(meters=[MeterPlan("SE303")], days=DAYS, end=END).create(target_for(load_settings(ini)))

    def titles(svg):   # matplotlib keeps every text of an SVG as a comment beside its glyphs
        text = svg.read_text(encoding="utf-8")
        return [line for line in text.splitlines() if "times in" in line or "2026-0" in line]

    code, out, err = run_cli(capsys, "plot", "--settings", ini, "--out", tmp_path / "m.svg")
    assert code == 0, err
    drawn = " ".join(titles(tmp_path / "m.svg"))
    # the period in the zone's dates: 28 March 00:00 in Vladivostok is 27 March 17:00 in Moscow
    assert "2026-03-28 – 2026-04-01" in drawn and "times in Asia/Vladivostok" in drawn, drawn
    plot_meter(target_for(load_settings(ini)), str(tmp_path / "n.svg"))   # the API, given the target
    assert " ".join(titles(tmp_path / "n.svg")) == drawn
    plot_meter(str(fresh), str(tmp_path / "o.svg"), timezone="Europe/Moscow")
    moscow = " ".join(titles(tmp_path / "o.svg"))
    assert "2026-03-27 – 2026-03-31" in moscow and "times in Europe/Moscow" in moscow, moscow


@pytest.mark.parametrize("where", ["settings", "option"])
def test_unknown_time_zone_is_one_line_exit_2_and_nothing_written(where, fresh, tmp_path, capsys):
    ini = write_ini(tmp_path, fresh, "Mars/Olympus" if where == "settings" else None)
    before = table_checksums(str(fresh))
    extra = ["--timezone", "Mars/Olympus"] if where == "option" else []
    for command in (["seed", "--meters", "1", "--days", "1"], ["verify"], ["plot", "--out", tmp_path / "x.png"],
                    ["loads"], ["capture", "iec", "--port", "socket://127.0.0.1:9"],   # before any port is opened
                    ["imitate", "iec", "--seconds", "0"]):
        code, out, err = run_cli(capsys, *command, "--settings", ini, *extra)
        assert code == 2, (command, out, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        setting = "key timezone" if where == "settings" else "--timezone"
        assert f"{setting}: unknown time zone 'Mars/Olympus'" in err, err
    assert table_checksums(str(fresh)) == before
    assert not (tmp_path / "x.png").exists()


def test_settings_ini_with_an_unknown_zone_names_the_file_and_key(tmp_path):
    ini = write_ini(tmp_path, tmp_path / "m.db", "Europe/Mosow")
    with pytest.raises(ConfigError) as caught:
        load_settings(ini)
    assert str(caught.value) == (f"settings file {ini}, section [Test]: key timezone: unknown time zone "
                                 "'Europe/Mosow'; give an IANA name such as Europe/Moscow or Asia/Yekaterinburg")


# ---- capture and the imitators ----------------------------------------------------------------
def test_imitator_and_capture_take_the_zone_of_settings_ini(fresh, tmp_path, capsys):
    """``imitate iec`` (its meter's clock and archive) and ``capture iec --neva`` (its stamps) with
    no --timezone: both read settings.ini's Asia/Vladivostok; the meter's day registers land on
    Vladivostok midnights."""
    zone = "Asia/Vladivostok"
    ini = write_ini(tmp_path, fresh, zone)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    imitator = subprocess.Popen([sys.executable, "-m", "GenerateMeterData", "imitate", "iec", "--settings", str(ini),
                                 "--seconds", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
    try:
        line = imitator.stdout.readline()
        assert line.startswith("imitating an IEC meter on socket://"), (line, imitator.stderr.read())
        port = line.split()[5]
        before = int(time.time())
        code, out, err = run_cli(capsys, "capture", "iec", "--neva", "--port", port, "--days", "2",
                                 "--settings", ini)
        after = int(time.time()) + 1
        assert code == 0, (out, err)
    finally:
        imitator.terminate()
        imitator.wait(30)
    days = stamps(str(fresh), "ElDayEnergy")
    assert len(days) >= 2
    for ts in days:   # every day register at a local midnight of the meter's zone
        local = dt.datetime.fromtimestamp(ts, ZoneInfo(zone))
        assert (local.hour, local.minute, local.second) == (0, 0, 0), local
    assert days == sorted(days) and all(b - a == 86400 for a, b in zip(days, days[1:]))
    # the meter's clock, read as local time of the zone, is the real moment of the capture (a meter
    # imitated in another zone would be whole hours off)
    [moment] = stamps(str(fresh), "ElMomentEnergy")
    assert before <= moment <= after


def test_imitate_zone_from_settings_and_option(tmp_path):
    """The generated meter an imitate command line makes: its clock reads in the zone."""
    from GenerateMeterData.cli import build_parser
    from GenerateMeterData.imitation.meter import meter_from_arguments

    ini = write_ini(tmp_path, tmp_path / "m.db", "Asia/Vladivostok")
    for argv, offset in ((["imitate", "iec", "--settings", str(ini)], 10),
                         (["imitate", "dlms", "--settings", str(ini), "--timezone", "Europe/Kaliningrad"], 2)):
        meter = meter_from_arguments(build_parser(argv).parse_args(argv))
        assert meter.local_now().utcoffset() == dt.timedelta(hours=offset)
        assert meter.tz == ZoneInfo(meter.options.timezone)


# ---- the plugin ---------------------------------------------------------------------------------
def test_plugin_seeders_and_factories_write_in_the_zone_of_settings_ini(pytester, tmp_path, monkeypatch):
    zone = "Asia/Yekaterinburg"
    db = tmp_path / "plugin.db"
    LocalTarget(str(db)).init()
    write_ini(pytester.path, db, zone, section="Local")
    pytester.makeini("[pytest]\nmeterdata_settings = settings.ini\n")
    pytester.makepyfile(test_zone=textwrap.dedent(f'''
        import datetime as dt
        from zoneinfo import ZoneInfo

        ZONE = ZoneInfo("{zone}")
        NOW = dt.datetime(2026, 3, 10, 14, 20, tzinfo=ZONE)   # --meterdata-now, in the target's zone

        def midnight(day):
            return int(dt.datetime(day.year, day.month, day.day, tzinfo=ZONE).timestamp())

        def test_factory(el_day_energy_factory, meterdata_target):
            assert meterdata_target.context.timezone == "{zone}"
            days = el_day_energy_factory(Count_timestamp=2).get("ElDayEnergy")
            assert [r["Timestamp"] for r in days] == [midnight(dt.date(2026, 3, 9)), midnight(dt.date(2026, 3, 10))]

        def test_scenario(meterdata):
            meterdata.scenario(meters=1, days=2, measures=["ElDayEnergy"])
            found = [ts for (ts,) in meterdata.query("SELECT Timestamp FROM MeterData ORDER BY Timestamp")]
            assert found == [midnight(dt.date(2026, 3, d)) for d in (8, 9, 10)]
    '''))
    monkeypatch.setenv("PYTEST_ADDOPTS", "--meterdata-now=2026-03-10T14:20")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


# ---- a device over SSH (the suite's loopback OpenSSH server) --------------------------------------
def test_seed_classes_scenario_and_verify_on_a_device_in_its_zone(device, tmp_path, monkeypatch, seed_clock,
                                                                   capsys):
    zone = "Asia/Vladivostok"
    monkeypatch.chdir(tmp_path)
    seed_clock(SEED_API_NOW)
    ini = tmp_path / "settings.ini"
    ini.write_text(device.ini(f"timezone = {zone}\n"), encoding="utf-8")
    target = GenerateMeterData.configure(settings=str(ini))
    assert type(target).__name__ == "DeviceTarget" and target.context.timezone == zone
    try:
        energy = GenerateMeterData.ElDayEnergy(Count_timestamp=2)
        Scenario(meters=[MeterPlan("SE303")], days=DAYS, end=END, measures=["ElDayEnergy"]).create(target)
    finally:
        target.close()
    seeded = stamps(device.path, "ElDayEnergy")
    assert [r["Timestamp"] for r in energy.get("ElDayEnergy")] == last_midnights(zone, SEED_API_NOW, 2)
    assert seeded == sorted(last_midnights(zone, SEED_API_NOW, 2) + scenario_midnights(zone))
    code, out, err = run_cli(capsys, "verify", "--settings", ini)
    assert (code, out.strip()) == (0, "verify: all invariants hold"), err
