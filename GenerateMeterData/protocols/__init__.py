"""The wire layer: meter protocols -- IEC 62056-21 (IEC 61107), wired M-Bus (EN 13757-2/-3) and
DLMS/COSEM -- as codecs, clients over any pyserial URL and imitator engines, with the byte-stream
service they serve on (``stream``), the interface they read a meter through (``values``) and the
``Reading`` a read gives.  Nothing here imports the generator or the targets: the meter layer
above (``GenerateMeterData.imitation``) joins them -- a generated meter to serve, a reading to
write into meter.db, the protocol registry and the commands."""
