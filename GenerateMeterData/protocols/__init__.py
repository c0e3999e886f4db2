"""Meter protocols: IEC 62056-21 (IEC 61107) and wired M-Bus (EN 13757-2/-3) -- codecs,
clients over any pyserial URL, and meter imitators -- plus readings -> meter.db rows."""
