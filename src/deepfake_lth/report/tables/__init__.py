"""The report's tables: each a `Table` (numbers for CSV, cells for Markdown, LaTeX and HTML), in report order
(run_tables.build_tables), and how a number becomes a cell."""
