import os
import tempfile
open(os.path.join(tempfile.gettempdir(), "mizan-hostile-sitecustomize-top-ran"), "w").write("ran")
