//===- TuneOptions.h - the options of `spakc tune` beyond the shared ones -------------------------------*- C++ -*-===//
//
//   --prepare          write the sweep folder (-o DIR): projects, plan.json, run-sweep.sh; run nothing
//   --ingest DIR       read DIR/plan.json + the results of DIR/run-sweep.sh, pick the winner, write it back
//   --results FILE     --ingest: the results file (default DIR/results.jsonl)
//   --force            --ingest: accept a plan that does not match the current model / rules
// Kept out of Pipeline.h's Options so the other commands' options stay as they are; spakc.cpp fills it.
//
//===----------------------------------------------------------------------------------------------------------------===//
#pragma once

#include <string>

namespace spakc {

struct TuneOptions {
  bool prepare = false;
  std::string ingest;  // DIR
  std::string results; // FILE
  bool force = false;
  bool any() const { return prepare || !ingest.empty() || !results.empty() || force; }
};

inline TuneOptions &tuneOptions() {
  static TuneOptions t;
  return t;
}

} // namespace spakc
