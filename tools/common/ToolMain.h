//===- ToolMain.h - how a tool reports failure ------------------*- C++ -*-===//
#ifndef LLAMAC_TOOLS_COMMON_TOOLMAIN_H
#define LLAMAC_TOOLS_COMMON_TOOLMAIN_H

namespace llamart {

/// main() of a command-line tool: returns run(argc, argv), or prints
/// "TOOL: error: MESSAGE" for a RuntimeError (or running out of memory) and
/// returns 1, so bad input is one line and a non-zero exit.
int runTool(const char *tool, int (*run)(int argc, char **argv), int argc,
            char **argv);

} // namespace llamart

#endif // LLAMAC_TOOLS_COMMON_TOOLMAIN_H
