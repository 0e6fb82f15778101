//===- Driver.h - the trainer `main` emitter (docs/trainer-cli.md) -------*- C++ -*-===//
//
// The DriverEmitter spakc plugs into writeProject: it writes `<target>/main.<ext>`, the generated trainer (argument
// parsing, parameter arena + seeded init per the DSL, data loading, the train loop over the emitted @train_step,
// progress/JSONL log, sampling through @infer, --save/--init-from/--checkpoint/--resume). Everything model-specific
// is read from the tile module: the module's spak.* attributes (spak.system, spak.config, spak.train) and the
// argument/result attributes of the host functions (spak.param, spak.init, spak.adam_m/v, spak.step, spak.input,
// spak.status, spak.loss, spak.in_place_of).
//
//===--------------------------------------------------------------------------------===//
#ifndef SPAK_TARGET_DRIVER_H
#define SPAK_TARGET_DRIVER_H

#include "spak/Target/Target.h"

namespace spak::target {

/// The trainer emitter for ProjectOptions::driver.
DriverEmitter trainerDriver();

} // namespace spak::target

#endif // SPAK_TARGET_DRIVER_H
