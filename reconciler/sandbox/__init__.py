"""A faithful Zoom settings API emulator (ASGI), for tests, benchmarks and the quick start."""
