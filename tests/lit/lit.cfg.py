# lit configuration for spakc: every .dsl/.mlir/.test file under tests/lit is a test.
import os
import lit.formats
from lit.llvm import llvm_config

config.name = "spakc"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".dsl", ".mlir", ".test"]
config.excludes = ["Inputs", "inputs", "CMakeLists.txt", "README.md"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.spak_obj_root, "tests", "lit")

config.substitutions.append(("%shared", config.spak_shared_dir))
config.substitutions.append(("%src", config.spak_src_root))
config.substitutions.append(("%rules", os.path.join(config.spak_src_root, "rules")))
config.substitutions.append(("%examples", os.path.join(config.spak_src_root, "examples")))

llvm_config.with_system_environment(["HOME", "TMPDIR"])
llvm_config.use_default_substitutions()
tool_dirs = [config.spak_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["spakc", "spak-opt", "FileCheck", "not", "count", "split-file"], tool_dirs)
config.environment["SPAK_RULES_DIR"] = os.path.join(config.spak_src_root, "rules")
