"""Documents: printable notices (PDF) and spreadsheet exports (CSV, Excel) of read models.

Imports domain and projections only; api and safeloop call it.
"""
