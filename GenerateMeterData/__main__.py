"""``python -m GenerateMeterData``."""
from .cli import run

run()
