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

# NVIDIA: llamac --target=nvidia needs the CUDA toolkit (ptxas, libdevice),
# looked up as llamac does; where it is missing those tests are UNSUPPORTED.
# A machine with a CUDA driver runs GPU artifacts rather than refusing them.
cuda_roots = [os.environ[v] for v in ("CUDA_ROOT", "CUDA_HOME", "CUDA_PATH") if os.environ.get(v)]
for variable in ("CUDA_ROOT", "CUDA_HOME", "CUDA_PATH"):
    if os.environ.get(variable):
        config.environment[variable] = os.environ[variable]
if any(os.access(os.path.join(root, "bin", "ptxas"), os.X_OK)
       for root in cuda_roots + ["/usr/local/cuda"]):
    config.available_features.add("ptxas")
else:
    lit_config.note("no CUDA toolkit with ptxas: the --target=nvidia tests are UNSUPPORTED")
import ctypes
try:
    ctypes.CDLL("libcuda.so.1")
    config.available_features.add("cuda-driver")
except OSError:
    pass
