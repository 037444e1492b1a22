"""The ridership console: JSON and CSV under ``/api/ridership``, pages under
``/console/ridership`` (charts, with the table and a CSV export behind each)."""
