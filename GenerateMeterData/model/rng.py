"""Seeded random streams.  One root seed; each meter and each purpose gets its own stream, so
adding meter 51 changes nothing for meters 1-50, and nothing ever seeds the global ``random``."""
from __future__ import annotations

import random
from typing import Optional

DEFAULT_SEED = 20240601


def stream(root_seed: int, *names: object) -> random.Random:
    """A ``random.Random`` for one purpose, derived from the root seed and a path of names.

    ``random.Random`` hashes a str seed with SHA-512, so the stream is the same on every run and
    platform (unlike ``hash()``)."""
    return random.Random("/".join([str(root_seed), *map(str, names)]))


def faker_for(rng: random.Random, locale: Optional[str] = None):
    """A Faker bound to a seed drawn from ``rng`` (Faker is imported only when needed)."""
    from faker import Faker

    fake = Faker(locale) if locale else Faker()
    fake.seed_instance(rng.getrandbits(64))
    return fake
