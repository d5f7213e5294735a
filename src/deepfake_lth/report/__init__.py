"""The report: tables, figures and report.md, built only from the stages' metrics and Grad-CAM files."""
