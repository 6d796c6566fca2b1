"""Moving contacts in and out: CSV and XLSX files, column mapping, import and export."""
