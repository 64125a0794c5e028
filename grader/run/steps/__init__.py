"""Per-task steps of the untrusted phase (``nli.py``, ``fraud.py``), registered with ``@step``."""
