"""Application examples on the toolkit's public API, run from a checkout of the repository.

They use the repository's own domain models (the top-level ``models`` package), as an
application would use its own; neither they nor those models are part of the ``toolkit``
wheel.

- ``python -m examples.usage``: the patterns an application needs, each printed as it runs.
- ``uvicorn examples.fastapi_app:app``: a FastAPI app (needs the ``fastapi`` extra).
"""
