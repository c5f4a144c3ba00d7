"""Data sets: where images come from (sources), how they are stored (records), how they are read."""
