"""Task objects: labels, splits and scoring of benchmark tasks."""
