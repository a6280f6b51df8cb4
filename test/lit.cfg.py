# lit configuration for llamac: FileCheck tests of the dialect, passes and tools.
import os

import lit.formats

config.name = "llamac"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "unit", "CMakeLists.txt", "lit.cfg.py"]

config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.llamac_obj_root, "test")

# Our tools first, then FileCheck/not/split-file from LLVM 22 (never an older
# LLVM that happens to be on PATH).
config.environment["PATH"] = os.pathsep.join(
    [config.llamac_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")]
)
config.substitutions.append(("%llamac_src", config.llamac_src_root))
config.substitutions.append(("%llamac_bin", config.llamac_tools_dir))
config.substitutions.append(("%llamac_obj", config.llamac_obj_root))
config.substitutions.append(("%llvm_tools", config.llvm_tools_dir))
config.substitutions.append(("%llvm_lib", config.llvm_lib_dir))
# The venv scripts/build.sh makes, with numpy for the reference model.
config.substitutions.append(("%python", config.python))

# Checks against PyTorch and HF transformers need them in the tests' Python;
# without them those tests are UNSUPPORTED, not failed.
import subprocess
for module in ("torch", "transformers"):
    found = subprocess.run([config.python, "-c", f"import {module}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    if found:
        config.available_features.add(module)
    else:
        lit_config.note(f"{module} is not importable by {config.python}: tests that need it are UNSUPPORTED")
