"""Reports of finished runs: figures, report.md and a self-contained index.html."""
