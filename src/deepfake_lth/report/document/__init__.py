"""The report's documents: report.md, its account of the settings, the HTML report's description page and
the catalog of what each results file is."""
