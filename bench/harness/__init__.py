"""The shared harness: services, workers, statistics, the report. Scenarios live in bench/scenarios."""
