"""Fast in-process tests: pipcachefirst's pieces against a real pip ``PackageFinder``, no subprocess, no network."""
