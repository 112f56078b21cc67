"""Load benches, run by hand (not part of the test suite). See bench/README.md."""
