"""Ridership: trips from the Redis stream into the database, journeys, rollups for the
console, validators' state and cloned-pass alerts."""
