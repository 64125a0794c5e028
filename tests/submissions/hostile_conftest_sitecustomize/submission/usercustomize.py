import os
import tempfile
open(os.path.join(tempfile.gettempdir(), "mizan-hostile-usercustomize-ran"), "w").write("ran")
