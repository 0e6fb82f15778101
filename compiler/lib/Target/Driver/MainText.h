//===- MainText.h - the fixed text of the generated trainer -----*- C++ -*-===//
//
// Private to SpakTrainerDriver. The generated main.cpp / main.cu is kMainTemplate with its `$NAME` holes filled by
// Driver.cpp: model-specific pieces printed from the module, and one of the target variants below (how memory,
// the workspace and a step are handled on the CPU or on a CUDA device) and one of the data classes (one per
// spak.train.data kind). The text is C++17 that builds warning-free with g++ -Wall -Wextra and nvcc 13.
//
//===----------------------------------------------------------------------===//
#ifndef SPAK_LIB_TARGET_DRIVER_MAINTEXT_H
#define SPAK_LIB_TARGET_DRIVER_MAINTEXT_H

namespace spak::target::driver {

extern const char *const kMainTemplate;
extern const char *const kCppFileComment;
extern const char *const kCudaFileComment;
extern const char *const kCppIncludes;
extern const char *const kCudaIncludes;
extern const char *const kCppDevice;
extern const char *const kCudaDevice;
extern const char *const kCppFlags;
extern const char *const kCudaFlags;
extern const char *const kCppDeviceCheck;
extern const char *const kCudaDeviceCheck;
extern const char *const kCudaDistDevice;  ///< the data-parallel step's kernels and NCCL communicator (cuda)
extern const char *const kCudaWorldCheck;
extern const char *const kCppWorldCheck;
// One class `TrainData` per data kind.
extern const char *const kDocumentsData;
extern const char *const kTextData;
extern const char *const kTokensData;

} // namespace spak::target::driver

#endif // SPAK_LIB_TARGET_DRIVER_MAINTEXT_H
