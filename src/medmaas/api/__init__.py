"""The HTTP service (FastAPI): thin routes over the core."""
