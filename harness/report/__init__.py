"""Turn a saved run into answers: comparison tables, plots, a self-contained HTML page, exports."""
