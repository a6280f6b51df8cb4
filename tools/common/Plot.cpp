//===- Plot.cpp - PNG plots through gnuplot -------------------------------===//

#include "tools/common/Plot.h"

#include <cstdio>

namespace llamart {

void plotWithGnuplot(const char *tool, const std::string &script,
                     const std::string &png) {
  std::string full = "set terminal pngcairo size 800,500; set output '" + png +
                     "'; set datafile separator ','; set datafile missing ''; "
                     "set grid; " +
                     script;
  FILE *gnuplot = popen("gnuplot 2>/dev/null", "w");
  if (gnuplot) {
    std::fputs(full.c_str(), gnuplot);
    if (pclose(gnuplot) == 0)
      return;
  }
  std::fprintf(stderr, "%s: note: gnuplot failed or is missing; no %s\n", tool,
               png.c_str());
}

} // namespace llamart
