"""`assay chaos schedule`: recurring experiments in a small store (store.py)."""
