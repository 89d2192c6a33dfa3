"""Reads run folders and renders reports, comparisons and regression gates."""
