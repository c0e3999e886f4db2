"""Rows per measure family, the scenario that derives them all from one model per meter, and
the override rules that let a tester inject exactly the bad data they need."""
