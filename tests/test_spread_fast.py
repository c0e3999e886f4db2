"""The day-level hot paths of the consumption model give exactly what their plain definitions
give: ``_spread_zones`` is ``spread`` of each zone's total over that zone's slots (in slot
order), and ``lognormal_noise`` is exp(random.Random.gauss(0, sigma)) drawn one at a time --
the standard library's own gauss is the oracle, so a stream drawn in pairs stays bit-identical."""
import math
import random

import pytest

from GenerateMeterData.model.consumption import _spread_zones, lognormal_noise, spread


def _by_zone(weights, zones, totals):
    out = [0] * len(weights)
    for z, total in enumerate(totals):
        slots = [k for k, zone in enumerate(zones) if zone == z]
        if not slots:
            if total:
                raise ValueError("no slot")
            continue
        for k, value in zip(slots, spread(total, [weights[k] for k in slots])):
            out[k] = value
    return out


def _day(rng, slots):
    zones, zone = [], rng.randrange(4)
    for _ in range(slots):
        if rng.random() < 0.15:
            zone = rng.randrange(4)
        zones.append(zone)
    weights = [0.0 if rng.random() < 0.2 else rng.lognormvariate(0, 1) * 10 ** rng.randint(-3, 4)
               for _ in range(slots)]
    r_weights = [w * rng.random() for w in weights]
    present = set(zones)
    energy = [rng.randint(0, 10 ** 7) if z in present and any(w for w, q in zip(weights, zones) if q == z) else 0
              for z in range(4)]
    reactive = [rng.randint(0, 10 ** 6) if z in present and any(w for w, q in zip(r_weights, zones) if q == z) else 0
                for z in range(4)]
    return weights, r_weights, zones, energy, reactive


@pytest.mark.parametrize("seed", range(300))
def test_spread_zones_is_spread_per_zone(seed):
    rng = random.Random(seed)
    weights, r_weights, zones, energy, reactive = _day(rng, rng.choice([23, 24, 25, 46, 48, 50, 96, 100, 1, 2]))
    got_e, got_r = _spread_zones(weights, r_weights, zones, energy, reactive)
    assert got_e == _by_zone(weights, zones, energy)
    assert got_r == _by_zone(r_weights, zones, reactive)
    for z in range(4):
        assert sum(e for e, q in zip(got_e, zones) if q == z) == energy[z]
    assert min(got_e + got_r) >= 0


def test_a_total_for_a_zone_without_a_powered_slot_is_refused():
    with pytest.raises(ValueError, match="tariff 2"):
        _spread_zones([1.0, 1.0], [1.0, 1.0], [0, 0], [5, 7, 0, 0], [0, 0, 0, 0])
    with pytest.raises(ValueError, match="tariff 1"):
        _spread_zones([0.0, 0.0], [1.0, 1.0], [0, 0], [5, 0, 0, 0], [0, 0, 0, 0])


@pytest.mark.parametrize("count", [0, 1, 2, 23, 24, 25, 47, 48, 50, 96])
def test_lognormal_noise_is_the_standard_librarys_gauss(count):
    for seed in range(20):
        reference = random.Random(seed)
        expected = [math.exp(reference.gauss(0.0, 0.35)) for _ in range(count)]
        ours = random.Random(seed)
        assert lognormal_noise(ours.random, count, 0.35) == expected
        # the stream goes on where the one-at-a-time draws left it
        assert ours.random() == reference.random()
