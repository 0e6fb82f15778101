//===- ProjectWriter.cpp - the generated, self-contained CMake project ----===//
//
// writeProject(module, options) lays out
//
//   <out>/CMakeLists.txt            needs only a C++17 compiler (+ the CUDA toolkit for cuda)
//   <out>/cpp/model.h kernels.cpp step.cpp [main.cpp]     (targets cpp / all)
//   <out>/cuda/model.cuh kernels.cu step.cu [main.cu]     (targets cuda / all)
//   <out>/runtime/spak/runtime/*.h  copies of the runtime headers the sources include
//
// Every file starts with the header comment (spakc version, input hash, rules
// digest, target). Writing is idempotent: unchanged files are not touched.
//
//===----------------------------------------------------------------------===//
#include "../Common/Codegen.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <regex>

using namespace mlir;

#ifndef SPAK_DEFAULT_RUNTIME_DIR
#define SPAK_DEFAULT_RUNTIME_DIR ""
#endif

namespace spak::target {

bool writeFileIfChanged(llvm::StringRef path, llvm::StringRef content, bool &changed, std::string &error) {
  changed = false;
  if (auto existing = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false))
    if ((*existing)->getBuffer() == content)
      return true;
  llvm::StringRef parent = llvm::sys::path::parent_path(path);
  if (!parent.empty())
    if (std::error_code ec = llvm::sys::fs::create_directories(parent)) {
      error = "cannot create directory '" + parent.str() + "': " + ec.message();
      return false;
    }
  // Write a sibling temporary, then rename: a reader never sees half a file.
  llvm::SmallString<256> tmp(path);
  tmp += ".tmp";
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(tmp, ec, llvm::sys::fs::OF_None);
    if (ec) {
      error = "cannot write '" + tmp.str().str() + "': " + ec.message();
      return false;
    }
    os << content;
    os.close();
    if (os.has_error()) {
      error = "cannot write '" + tmp.str().str() + "': " + os.error().message();
      os.clear_error();
      return false;
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, path)) {
    error = "cannot rename '" + tmp.str().str() + "' to '" + path.str() + "': " + ec.message();
    return false;
  }
  changed = true;
  return true;
}

namespace {

/// "spak/runtime/x.h" names included by `text`.
std::vector<std::string> runtimeIncludes(llvm::StringRef text) {
  static const std::regex re(R"re(#\s*include\s*"(spak/runtime/[A-Za-z0-9_./-]+\.h)")re");
  std::vector<std::string> out;
  std::string s = text.str();
  for (auto it = std::sregex_iterator(s.begin(), s.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1].str());
  return out;
}

std::string hashComment(const std::string &cppComment) {
  // The `//` header as `#` lines for CMake.
  std::string out;
  llvm::StringRef rest(cppComment);
  while (!rest.empty()) {
    auto [line, tail] = rest.split('\n');
    out += "#" + line.drop_front(2).str() + "\n";
    rest = tail;
  }
  return out;
}

struct Writer {
  ModuleOp module;
  const ProjectOptions &opts;
  ProjectReport report;
  bool ok = true;

  void write(llvm::StringRef rel, llvm::StringRef content) {
    if (!ok)
      return;
    llvm::SmallString<256> path(opts.outDir);
    llvm::sys::path::append(path, rel);
    bool changed = false;
    std::string error;
    if (!writeFileIfChanged(path, content, changed, error)) {
      module.emitError("project writer: ") << error;
      ok = false;
      return;
    }
    (changed ? report.written : report.unchanged).push_back(rel.str());
  }
};

std::string cmakeLists(const ProjectOptions &o, bool haveCpp, bool haveCuda, bool cppMain, bool cudaMain,
                       const EmitOptions &eo) {
  std::string name = detail::sanitizeIdentifier(o.projectName);
  std::string s = hashComment(headerComment(eo, haveCpp && haveCuda ? "cpp+cuda" : haveCuda ? "cuda" : "cpp",
                                            "CMakeLists.txt"));
  s += "#\n# Build: cmake -S . -B build && cmake --build build -j\n";
  if (haveCpp && haveCuda)
    s += "# Pick the target with -DSPAK_TARGET=cpp|cuda (default: cuda when a CUDA compiler is found).\n";
  s += "# Needs only a C++17 compiler" + std::string(haveCuda ? " and, for cuda, the CUDA toolkit" : "") + ".\n";
  s += "cmake_minimum_required(VERSION 3.20)\n";
  if (haveCuda) {
    s += "# Before project(): set later, CMake silently falls back to its default architecture.\n";
    s += "if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)\n  set(CMAKE_CUDA_ARCHITECTURES " + o.cudaArchitectures +
         ")\nendif()\n";
  }
  s += "project(" + name + " LANGUAGES CXX)\n\n";
  s += "set(CMAKE_CXX_STANDARD 17)\nset(CMAKE_CXX_STANDARD_REQUIRED ON)\n";
  s += "if(NOT CMAKE_BUILD_TYPE)\n  set(CMAKE_BUILD_TYPE Release CACHE STRING \"Build type\" FORCE)\nendif()\n\n";
  if (haveCpp && haveCuda) {
    s += "include(CheckLanguage)\ncheck_language(CUDA)\nif(CMAKE_CUDA_COMPILER)\n  set(_spak_default cuda)\n"
         "else()\n  set(_spak_default cpp)\nendif()\n";
    s += "set(SPAK_TARGET ${_spak_default} CACHE STRING \"Generated target to build: cpp or cuda\")\n";
  } else {
    s += std::string("set(SPAK_TARGET ") + (haveCuda ? "cuda" : "cpp") + ")\n";
  }
  s += "\n";
  auto lib = [&](const char *dir, const char *ext, bool main) {
    std::string t;
    t += "  add_library(" + name + "_step STATIC " + dir + "/kernels." + ext + " " + dir + "/step." + ext + ")\n";
    t += "  target_include_directories(" + name + "_step PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/" + dir +
         " ${CMAKE_CURRENT_SOURCE_DIR}/runtime)\n";
    if (std::string(dir) == "cuda") {
      t += "  target_link_libraries(" + name + "_step PUBLIC CUDA::cudart)\n";
      t += "  set_target_properties(" + name + "_step PROPERTIES CUDA_STANDARD 17 CUDA_SEPARABLE_COMPILATION OFF)\n";
      t += "  target_compile_options(" + name + "_step PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-lineinfo>)\n";
    }
    if (main) {
      t += "  add_executable(train " + std::string(dir) + "/main." + ext + ")\n";
      t += "  target_link_libraries(train PRIVATE " + name + "_step)\n";
      // The trainer looks for its default data files below the project directory too (docs/trainer-cli.md).
      t += "  target_compile_definitions(train PRIVATE SPAK_PROJECT_DIR=\"${CMAKE_CURRENT_SOURCE_DIR}\")\n";
    }
    return t;
  };
  bool first = true;
  if (haveCuda) {
    s += std::string(first ? "if" : "elseif") + "(SPAK_TARGET STREQUAL \"cuda\")\n";
    s += "  enable_language(CUDA)\n  find_package(CUDAToolkit REQUIRED)\n";
    s += lib("cuda", "cu", cudaMain);
    first = false;
  }
  if (haveCpp) {
    s += std::string(first ? "if" : "elseif") + "(SPAK_TARGET STREQUAL \"cpp\")\n";
    s += lib("cpp", "cpp", cppMain);
    first = false;
  }
  s += "else()\n  message(FATAL_ERROR \"SPAK_TARGET must be one of:" + std::string(haveCpp ? " cpp" : "") +
       std::string(haveCuda ? " cuda" : "") + " (got '${SPAK_TARGET}')\")\nendif()\n";
  return s;
}

} // namespace

LogicalResult writeProject(ModuleOp module, const ProjectOptions &opts, ProjectReport *reportOut) {
  if (opts.outDir.empty())
    return module.emitError("project writer: no output directory given");
  Writer w{module, opts, {}};
  EmitOptions eo;
  eo.spakcVersion = opts.spakcVersion;
  eo.inputHash = opts.inputHash;
  eo.rulesDigest = opts.rulesDigest;
  eo.cudaArch = opts.cudaArchitectures;

  bool wantCpp = opts.targets != ProjectOptions::Targets::Cuda;
  bool wantCuda = opts.targets != ProjectOptions::Targets::Cpp;
  bool cppMain = false, cudaMain = false;
  std::vector<std::string> runtimeNeeded;

  auto one = [&](TargetKind kind) -> LogicalResult {
    FailureOr<EmittedUnit> unit = emitUnit(module, kind, eo);
    if (failed(unit))
      return failure();
    bool cuda = kind == TargetKind::Cuda;
    std::string dir = cuda ? "cuda" : "cpp";
    std::string hdr = cuda ? "model.cuh" : "model.h";
    std::string ext = cuda ? "cu" : "cpp";
    llvm::StringRef tn = targetName(kind);
    w.write(dir + "/" + hdr, headerComment(eo, tn, hdr + ": shared types, kernel launchers, host step functions") +
                                 unit->prelude);
    w.write(dir + "/kernels." + ext, headerComment(eo, tn, "kernels." + ext + ": one kernel per spak_tile.kernel") +
                                         "#include \"" + hdr + "\"\n\n" + unit->kernels);
    w.write(dir + "/step." + ext, headerComment(eo, tn, "step." + ext + ": host step functions (launch sequences)") +
                                      "#include \"" + hdr + "\"\n\n" + unit->host);
    if (opts.driver) {
      DriverContext dc{kind, hdr, unit->hostFunctions, eo};
      std::string mainText;
      llvm::raw_string_ostream os(mainText);
      if (failed(opts.driver(module, dc, os)))
        return failure();
      os.flush();
      for (auto &inc : runtimeIncludes(mainText))
        runtimeNeeded.push_back(inc);
      w.write(dir + "/main." + ext, headerComment(eo, tn, "main." + ext + ": the trainer") + mainText);
      (cuda ? cudaMain : cppMain) = true;
    }
    for (auto &inc : runtimeIncludes(unit->prelude + unit->kernels + unit->host))
      runtimeNeeded.push_back(inc);
    return success(w.ok);
  };
  if (wantCpp && failed(one(TargetKind::Cpp)))
    return failure();
  if (wantCuda && failed(one(TargetKind::Cuda)))
    return failure();

  // Copy the runtime headers the sources include, and the ones those include.
  std::string rtDir = opts.runtimeDir.empty() ? std::string(SPAK_DEFAULT_RUNTIME_DIR) : opts.runtimeDir;
  llvm::StringSet<> done;
  while (!runtimeNeeded.empty()) {
    std::string rel = runtimeNeeded.back();
    runtimeNeeded.pop_back();
    if (!done.insert(rel).second)
      continue;
    llvm::SmallString<256> src(rtDir);
    llvm::sys::path::append(src, rel);
    auto buf = llvm::MemoryBuffer::getFile(src, /*IsText=*/false, /*RequiresNullTerminator=*/false);
    if (!buf)
      return module.emitError("project writer: generated code includes \"")
             << rel << "\" but '" << src << "' cannot be read (" << buf.getError().message()
             << "); pass the runtime include folder";
    for (auto &inc : runtimeIncludes((*buf)->getBuffer()))
      runtimeNeeded.push_back(inc);
    w.write("runtime/" + rel, (*buf)->getBuffer());
  }

  w.write("CMakeLists.txt", cmakeLists(opts, wantCpp, wantCuda, cppMain, cudaMain, eo));
  if (!w.ok)
    return failure();
  if (reportOut)
    *reportOut = std::move(w.report);
  return success();
}

} // namespace spak::target
