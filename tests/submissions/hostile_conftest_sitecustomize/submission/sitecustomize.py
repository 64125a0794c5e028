"""HOSTILE: sitecustomize that patches numpy at interpreter start."""
import os
import tempfile
open(os.path.join(tempfile.gettempdir(), "mizan-hostile-sitecustomize-ran"), "w").write("ran")
