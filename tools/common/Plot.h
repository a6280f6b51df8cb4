//===- Plot.h - PNG plots through gnuplot -----------------------*- C++ -*-===//
#ifndef LLAMAC_TOOLS_COMMON_PLOT_H
#define LLAMAC_TOOLS_COMMON_PLOT_H

#include <string>

namespace llamart {

/// Runs a gnuplot `script` that writes `png` (Debian's gnuplot-nox). Without
/// gnuplot, or if it fails, the CSV beside it is all there is: says so on
/// stderr as "TOOL: note: ...".
void plotWithGnuplot(const char *tool, const std::string &script,
                     const std::string &png);

} // namespace llamart

#endif // LLAMAC_TOOLS_COMMON_PLOT_H
