"""pytest plugin (registered through the ``pytest11`` entry point): placeholder until the
plugin lands; it registers nothing yet."""
