"""Seeded random streams.  One root seed; each meter and each purpose gets its own stream, so
adding meter 51 changes nothing for meters 1-50, and nothing ever seeds the global ``random``."""
from __future__ import annotations

import random
import threading
from typing import Optional

DEFAULT_SEED = 20240601


def stream(root_seed: int, *names: object) -> random.Random:
    """A ``random.Random`` for one purpose, derived from the root seed and a path of names.

    ``random.Random`` hashes a str seed with SHA-512, so the stream is the same on every run and
    platform (unlike ``hash()``)."""
    return random.Random("/".join([str(root_seed), *map(str, names)]))


def stream_key(root_seed: int, *names: object) -> int:
    """A 64-bit integer for one purpose, derived like ``stream`` (the key of ``mix64`` draws)."""
    return stream(root_seed, *names).getrandbits(64)


_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def mix64(value: int) -> int:
    """splitmix64's finalizer: a well-spread 64-bit hash of an integer.

    Pure integer arithmetic, the same on every platform, and about 15 times cheaper than seeding
    a ``random.Random``: the way to draw a few numbers per day of a long history (``key ^ day``)."""
    x = (value + _GOLDEN) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


_FAKERS = threading.local()  # per thread: locale -> Faker (a Faker's random state is not thread-safe)


def faker_for(rng: random.Random, locale: Optional[str] = None):
    """A Faker with ``MeterDataProvider`` (model/fakes.py), reseeded from ``rng``: the same
    stream state gives the same values.  Creating a Faker costs tens of milliseconds, so there
    is one per thread and locale, reseeded for each use (Faker is imported on first use)."""
    fakers = getattr(_FAKERS, "by_locale", None)
    if fakers is None:
        fakers = _FAKERS.by_locale = {}
    fake = fakers.get(locale)
    if fake is None:
        from faker import Faker

        from .fakes import MeterDataProvider

        try:
            fake = Faker(locale) if locale else Faker()
        except AttributeError:
            from ..errors import InputError
            raise InputError(f"unknown Faker locale {locale!r} (e.g. en_US, ru_RU, de_DE)") from None
        fake.add_provider(MeterDataProvider)
        fakers[locale] = fake
    fake.seed_instance(rng.getrandbits(64))
    return fake
