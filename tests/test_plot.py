"""``plot`` draws one meter of any meter.db so a tester reads it at a glance: dated axes on every
panel, registers as daily increments per tariff, outages and Valid = 0 records marked, a default
meter for every family, PNG or SVG by the output's suffix."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("matplotlib", reason="plot needs matplotlib (the [plot] extra)")

from GenerateMeterData import LocalTarget, MeterPlan, Override, Scenario  # noqa: E402
from GenerateMeterData.errors import InputError  # noqa: E402
from GenerateMeterData.plot import meter_figure  # noqa: E402
from helpers import rows  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MSK = ZoneInfo("Europe/Moscow")
END = dt.date(2026, 3, 1)


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "GenerateMeterData", "plot", *args], cwd=cwd,
                          env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def electric_db(tmp_path_factory):
    """An exporting three-phase meter with one outage, a day register and a day of quality
    records marked Valid = 0."""
    path = str(tmp_path_factory.mktemp("plot") / "meter.db")
    off = dt.datetime(2026, 2, 24, 10, 10, tzinfo=MSK)
    plan = MeterPlan("SE303", pv=True, outages=[(off, off + dt.timedelta(hours=5))])
    Scenario(meters=[plan], days=14, end=END, seed=3,
             overrides=[Override("ElMomentQuality", {"Valid": 0}, at=dt.date(2026, 2, 25)),
                        Override("ElDayEnergy", {"Valid": 0}, at=dt.date(2026, 2, 20))]).create(LocalTarget(path))
    return path


@pytest.fixture(scope="module")
def modules_db(tmp_path_factory):
    """Only a pulse concentrator and a discrete I/O module: no electric meter at all."""
    path = str(tmp_path_factory.mktemp("plot") / "modules.db")
    Scenario(meters=[MeterPlan("Pulsar"), MeterPlan("UMTV10")], days=5, end=END, seed=5).create(LocalTarget(path))
    return path


def drawn(figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure).draw()
    return figure.axes


def test_every_panel_has_a_dated_axis_and_the_title_names_meter_type_and_period(electric_db):
    import matplotlib.dates as mdates

    figure, _ = meter_figure(electric_db)
    axes = drawn(figure)
    assert len(axes) == 4
    for ax in axes:
        assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        assert len(labels) >= 3 and any(label.isdigit() for label in labels), labels
    title = figure._suptitle.get_text()
    assert "meter 1001" in title and "SE303" in title and "three-phase" in title
    assert "2026-02-15" in title and "2026-03-01" in title


def test_registers_are_drawn_as_what_each_tariff_gained_per_day(electric_db):
    figure, _ = meter_figure(electric_db)
    register_ax = drawn(figure)[1]
    lines = {line.get_label().split(",")[0]: line for line in register_ax.get_lines()}
    assert set(lines) == {"A+1", "A+2", "A+3", "A+4"}
    consumption = dict(rows(electric_db,
                            "SELECT m.Timestamp, e.Ap FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                            "JOIN ElectricEnergyValues e ON e.Id = m.Id WHERE a.Name = 'ElDayConsEnergy' "
                            "AND e.Tariff = 1"))
    drawn_gain = {}
    for x, y in zip(lines["A+1"].get_xdata(), lines["A+1"].get_ydata()):   # local noon of each day
        day_start = (x - dt.timedelta(hours=12)).replace(tzinfo=MSK)
        drawn_gain[int(day_start.timestamp())] = y
    # the day of the Valid = 0 register has no gain to draw (nan) on either side of it
    shown = {ts: y for ts, y in drawn_gain.items() if y == y}
    assert len(shown) >= 10
    for ts, gain in shown.items():
        assert gain == pytest.approx(consumption[ts] / 1000, abs=0.01)   # kWh of that day, not a total
    assert max(shown.values()) < 1000
    assert len(drawn_gain) - len(shown) == 2


def test_outages_and_invalid_records_are_marked(electric_db):
    figure, line = meter_figure(electric_db)
    profile_ax, register_ax, consumption_ax, events_ax = drawn(figure)
    for ax in (profile_ax, register_ax, consumption_ax):
        assert "power outage (ElJrnlPwr)" in ax.get_legend_handles_labels()[1]
    assert "isPart (slot cut by an outage)" in profile_ax.get_legend_handles_labels()[1]
    strip = [t.get_text() for t in events_ax.get_yticklabels()]
    assert "outages (ElJrnlPwr)" in strip
    assert "Valid = 0: ElDayEnergy (1)" in strip
    quality = [label for label in strip if label.startswith("Valid = 0: ElMomentQuality")]
    assert quality and int(quality[0].split("(")[1].rstrip(")")) >= 24
    assert "Valid = 0" in register_ax.get_legend_handles_labels()[1]
    assert "1 outage(s)" in line


def test_png_and_svg_follow_the_suffix(electric_db, tmp_path):
    png = cli("--db", electric_db, "--out", str(tmp_path / "m.png"))
    assert png.returncode == 0, png.stderr
    assert "meter 1001 (SE303): 672 profile slots, 15 day registers, 14 days of consumption" in png.stdout
    assert (tmp_path / "m.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = cli("--db", electric_db, "--out", str(tmp_path / "m.svg"))
    assert svg.returncode == 0, svg.stderr
    text = (tmp_path / "m.svg").read_text(encoding="utf-8")
    assert text.startswith("<?xml") and "<svg" in text[:500]
    other = cli("--db", electric_db, "--out", str(tmp_path / "m.jpg"))
    assert other.returncode == 2 and other.stderr.count("\n") == 1
    assert "plot writes .png or .svg files" in other.stderr and not (tmp_path / "m.jpg").exists()


def test_the_default_meter_of_a_pulse_only_database_is_drawn(modules_db, tmp_path):
    result = cli("--db", modules_db, "--out", str(tmp_path / "p.png"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("meter 1001 (Pulsar): 121 PlsHourPulse readings, 6 day readings")
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_pulse_panels_show_counts_per_interval_not_counter_totals(modules_db):
    figure, _ = meter_figure(modules_db, 1001)
    hour_ax, day_ax, _ = drawn(figure)
    counters = [r[0] for r in rows(modules_db, "SELECT p.Chnl1 FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                                               "JOIN PulseValues p ON p.Id = m.Id WHERE a.Name = 'PlsHourPulse' "
                                               "ORDER BY m.Timestamp")]
    line = hour_ax.get_lines()[0]
    assert line.get_label() == "Chnl1"
    assert list(line.get_ydata()) == [b - a for a, b in zip(counters, counters[1:])]
    first_channel = next(c for c in day_ax.containers if c.get_label() == "Chnl1")
    day_counters = [r[0] for r in rows(modules_db, "SELECT p.Chnl1 FROM MeterData m JOIN ArchTypes a ON a.Id = m.RecordTypeId "
                                                   "JOIN PulseValues p ON p.Id = m.Id WHERE a.Name = 'PlsDayPulse' "
                                                   "ORDER BY m.Timestamp")]
    assert [bar.get_height() for bar in first_channel] == [b - a for a, b in zip(day_counters, day_counters[1:])]


def test_a_digital_module_shows_its_inputs(modules_db):
    figure, line = meter_figure(modules_db, 1002)
    state_ax, _ = drawn(figure)
    assert "UMTV10" in figure._suptitle.get_text()
    inputs = [t.get_text() for t in state_ax.get_yticklabels()]
    assert inputs and all(label.startswith("input ") for label in inputs)
    assert line.startswith("meter 1002 (UMTV10): ") and "state changes" in line


def test_a_meter_with_nothing_to_draw_is_refused_by_name(tmp_path):
    path = str(tmp_path / "hub.db")
    Scenario(meters=[MeterPlan("MILUR IC", children=[MeterPlan("SE303")])], days=2, end=END, seed=1).create(LocalTarget(path))
    figure, line = meter_figure(path)                       # the hub has no records: its meter is drawn
    assert line.startswith("meter 1002 (SE303)")
    with pytest.raises(InputError, match=r"meter 1001 \(MILUR IC\) has nothing to draw"):
        meter_figure(path, 1001)


def test_plot_of_a_missing_meter_is_one_line(seeded, tmp_path):
    path = seeded(meters=1, days=1)
    result = cli("--db", path, "--meter", "77", "--out", str(tmp_path / "x.png"))
    assert result.returncode == 2 and result.stderr.strip() == f"error: no meter 77 with data in {path}"


def test_a_panel_with_nothing_to_draw_says_why(tmp_path):
    path = str(tmp_path / "one.db")
    Scenario(meters=[MeterPlan("SE303")], days=2, end=END, measures=["ElDayEnergy"],
             depth={"ElDayEnergy": 1}).create(LocalTarget(path))
    figure, line = meter_figure(path)
    profile_ax, register_ax, consumption_ax, _ = drawn(figure)
    assert [t.get_text() for t in profile_ax.texts] == ["no ElArr1ConsPower records"]
    assert "1 ElDayEnergy reading(s): a day's gain needs the readings of two consecutive midnights" in \
        [t.get_text() for t in register_ax.texts]
    assert [t.get_text() for t in consumption_ax.texts] == ["no ElDayConsEnergy records"]
    assert "0 profile slots, 1 day registers" in line
