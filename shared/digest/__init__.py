"""Timer-driven channel digests: schedules, feeds and the run loop."""
