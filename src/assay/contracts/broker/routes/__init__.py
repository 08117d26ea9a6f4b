"""The broker's HTTP handlers, one module per resource, on shared plumbing (base), auth and HAL helpers."""
