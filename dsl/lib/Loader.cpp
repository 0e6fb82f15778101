//===- Loader.cpp - loadProgram: read the main file, resolve imports (with cycle detection), run Sema ------------===//
#include "SemaInternal.h"
#include "spak/dsl/Parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace spak::dsl {

#ifndef SPAK_DEFAULT_RULES_DIR
#define SPAK_DEFAULT_RULES_DIR "rules"
#endif

std::string resolveRulesDir(const LoadOptions &opts) {
  if (!opts.rulesDir.empty()) return opts.rulesDir;
  if (const char *env = std::getenv("SPAK_RULES_DIR"); env && *env) return env;
  return SPAK_DEFAULT_RULES_DIR;
}

namespace {

bool readFile(const std::string &path, std::string &out) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

std::string canonical(const std::string &p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(fs::path(p), ec);
  return ec ? fs::absolute(p).lexically_normal().string() : c.string();
}

class Loader {
public:
  Loader(const LoadOptions &opts, DiagnosticEngine &diags, Program &prog)
      : opts_(opts), diags_(diags), prog_(prog), rulesDir_(resolveRulesDir(opts)) {}

  std::vector<detail::LoadedFile> files;
  bool syntaxErrors = false; // a loaded file had syntax errors: Sema would only see recovery debris

  std::unique_ptr<File> parse(const std::string &path, std::string text) {
    unsigned before = diags_.errorCount();
    auto f = parseFile(path, std::move(text), diags_);
    if (!f || diags_.errorCount() != before) syntaxErrors = true;
    return f;
  }

  bool loadMain(const std::string &path, std::string text) {
    auto f = parse(path, std::move(text));
    if (!f) return false;
    prog_.main = std::move(f);
    files.push_back({prog_.main.get(), {}, false});
    std::string canon = canonical(path);
    loaded_.insert(canon);
    stack_.push_back({canon, path});
    processImports(*prog_.main, path);
    stack_.pop_back();
    return true;
  }

  const File *findTarget(const std::string &name, std::vector<std::string> &available) {
    fs::path dir = fs::path(rulesDir_) / "targets";
    std::error_code ec;
    std::vector<fs::path> candidates;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      if (it->path().extension() == ".dsl") candidates.push_back(it->path());
    std::sort(candidates.begin(), candidates.end());
    for (const auto &p : candidates) {
      std::string canon = canonical(p.string());
      const File *file = nullptr;
      for (const auto &lf : files)
        if (canonical(lf.file->path) == canon) file = lf.file;
      if (!file) {
        std::string text;
        if (!readFile(p.string(), text)) continue;
        // Parse quietly first: a broken target file that is not the one asked for must not produce errors.
        SourceManager quietSM;
        DiagnosticEngine quiet(quietSM);
        auto probe = parseFile(p.string(), text, quiet);
        bool declares = false;
        if (probe)
          for (const auto &d : probe->decls)
            if (auto *t = d->as<TargetDecl>()) {
              available.push_back(t->name);
              declares |= t->name == name;
            }
        if (!declares) continue;
        auto f = parse(p.string(), std::move(text));
        if (!f) return nullptr;
        prog_.imports.push_back(std::move(f));
        file = prog_.imports.back().get();
        files.push_back({file, {}, true});
        loaded_.insert(canon);
        stack_.push_back({canon, p.string()});
        processImports(*prog_.imports.back(), p.string());
        stack_.pop_back();
        return file;
      }
      for (const auto &d : file->decls)
        if (auto *t = d->as<TargetDecl>()) {
          available.push_back(t->name);
          if (t->name == name) return file;
        }
    }
    return nullptr;
  }

private:
  const LoadOptions &opts_;
  DiagnosticEngine &diags_;
  Program &prog_;
  std::string rulesDir_;
  std::set<std::string> loaded_;
  std::vector<std::pair<std::string, std::string>> stack_; // (canonical, as named) of files being loaded

  void processImports(const File &file, const std::string &path) {
    for (const auto &imp : file.imports) {
      if (imp.path.empty()) {
        diags_.error(imp.pathLoc, "empty import path");
        continue;
      }
      std::vector<std::string> tried;
      std::string found;
      fs::path ip(imp.path);
      if (ip.is_absolute()) {
        tried.push_back(imp.path);
      } else {
        tried.push_back((fs::path(path).parent_path() / ip).string());
        tried.push_back((fs::path(rulesDir_) / ip).string());
      }
      for (const auto &t : tried) {
        std::error_code ec;
        if (fs::is_regular_file(t, ec)) {
          found = t;
          break;
        }
      }
      if (found.empty()) {
        std::string where;
        for (size_t i = 0; i < tried.size(); ++i) where += (i ? ", " : "") + tried[i];
        diags_.error(imp.pathLoc, fmt::format("cannot find import '{}' (looked in {})", imp.path, where));
        continue;
      }
      std::string canon = canonical(found);
      auto inStack = std::find_if(stack_.begin(), stack_.end(), [&](auto &s) { return s.first == canon; });
      if (inStack != stack_.end()) {
        std::string chain;
        for (auto it = inStack; it != stack_.end(); ++it) chain += fs::path(it->second).filename().string() + " -> ";
        chain += fs::path(found).filename().string();
        diags_.error(imp.pathLoc, "import cycle: " + chain);
        continue;
      }
      if (!loaded_.insert(canon).second) continue; // already loaded through another import
      std::string text;
      if (!readFile(found, text)) {
        diags_.error(imp.pathLoc, fmt::format("cannot read import '{}'", found));
        continue;
      }
      auto f = parse(found, std::move(text));
      if (!f) continue;
      prog_.imports.push_back(std::move(f));
      File *loadedFile = prog_.imports.back().get();
      files.push_back({loadedFile, imp.pathLoc, false});
      stack_.push_back({canon, found});
      processImports(*loadedFile, found);
      stack_.pop_back();
    }
  }
};

std::unique_ptr<Program> load(const std::string &path, std::string text, const LoadOptions &opts,
                              DiagnosticEngine &diags) {
  auto prog = std::make_unique<Program>();
  Loader loader(opts, diags, *prog);
  if (!loader.loadMain(path, std::move(text))) return nullptr;
  detail::SemaContext ctx{*prog, diags, opts, {}, {}};
  ctx.findTarget = [&](const std::string &name, std::vector<std::string> &available) {
    const File *f = loader.findTarget(name, available);
    return f;
  };
  // Files loaded later (by findTarget) are appended to loader.files; Sema reads ctx.files after selection.
  ctx.files = loader.files;
  if (opts.runSema && !loader.syntaxErrors) {
    try {
      detail::runSema(ctx);
    } catch (const std::exception &e) {
      diags.error(SourceLoc{path, 0, 0, 0}, std::string("internal error in semantic analysis: ") + e.what());
    }
  }
  return prog;
}

} // namespace

std::unique_ptr<Program> loadProgram(const std::string &path, const LoadOptions &opts, DiagnosticEngine &diags) {
  std::string text;
  if (!readFile(path, text)) {
    diags.error(SourceLoc{}, fmt::format("cannot open '{}': {}", path,
                                         fs::exists(path) ? "not a readable file" : "no such file"));
    return nullptr;
  }
  return load(path, std::move(text), opts, diags);
}

std::unique_ptr<Program> loadProgramFromString(const std::string &path, std::string text, const LoadOptions &opts,
                                               DiagnosticEngine &diags) {
  return load(path, std::move(text), opts, diags);
}

} // namespace spak::dsl
