"""The performance benchmarks (see README.md here). A regular package, so that `benchmarks.*`
is this folder even where a dependency installs a top-level `benchmarks` (pysbd 0.3.4 does)."""
