"""File import of platform exports and the brand's own lists (CSV and XLSX) into the event log."""
