"""HOSTILE: a conftest.py beside submission/."""
import os
import tempfile
open(os.path.join(tempfile.gettempdir(), "mizan-hostile-conftest-top-ran"), "w").write("ran")
