"""The neutral types between the generators and the targets: rows in memory (``RowSet``, the id
allocator, the name index), what a load wrote (``LoadSummary``) and what a target loads (the
``Producer`` contract).  ``generate`` fills them, ``targets`` write them; neither imports the
other."""
