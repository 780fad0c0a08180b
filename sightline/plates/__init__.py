"""Plate services: plate lists (watch/allow) with legal basis and audit, keyed-hash sightings, reads with checks."""
