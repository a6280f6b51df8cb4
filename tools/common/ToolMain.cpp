//===- ToolMain.cpp - how a tool reports failure --------------------------===//

#include "tools/common/ToolMain.h"

#include "runtime/Error.h"

#include <iostream>
#include <new>

namespace llamart {

int runTool(const char *tool, int (*run)(int argc, char **argv), int argc,
            char **argv) {
  try {
    return run(argc, argv);
  } catch (const RuntimeError &error) {
    std::cerr << tool << ": error: " << error.what() << "\n";
  } catch (const std::bad_alloc &) {
    std::cerr << tool << ": error: out of memory\n";
  }
  return 1;
}

} // namespace llamart
