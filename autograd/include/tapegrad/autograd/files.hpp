/// @file
/// Writing files so that a failed or interrupted run never replaces what is already there.
#pragma once

#include <string>
#include <vector>

namespace tapegrad {

/// Writes `data` to `path` atomically: a unique temporary file in the same folder (mkstemp),
/// written, flushed (fsync), then renamed over `path`. On failure the temporary file is
/// removed, `path` is unchanged, and a value_error names the file and the cause.
void write_file_atomic(const std::string& path, const std::string& data);

/// The outputs of one run, replaced together only once the run has succeeded.
///
/// ```
///   tapegrad::OutputFiles out;
///   weights.save(out.stage("out/model.npz"));       // writes a unique temporary next to it
///   out.write("out/metrics.csv", csv_text);          // the same, for a string
///   ...                                              // the rest of the run
///   out.commit();                                    // now every file is renamed into place
/// ```
///
/// Until commit() nothing at the final paths is touched: a run that throws leaves every
/// earlier output byte for byte (the destructor removes the temporaries), and a run that is
/// killed leaves them too (plus its temporaries, named PATH.tmp-XXXXXX). New files get mode
/// 0644. One object belongs to one thread.
class OutputFiles {
 public:
  OutputFiles() = default;
  OutputFiles(const OutputFiles&) = delete;
  OutputFiles& operator=(const OutputFiles&) = delete;
  /// Removes the temporaries of a run that did not commit.
  ~OutputFiles();

  /// A new, empty temporary file in the folder of `path` (which must exist), with a unique
  /// name, to be renamed over `path` by commit(). Returns its path for a writer to fill (a
  /// writer may also replace it, e.g. with write_file_atomic). Staging one path twice is a
  /// value_error; so is a folder at `path`, and a folder that cannot be written (named, with
  /// the cause: "Read-only file system", "Permission denied").
  std::string stage(const std::string& path);
  /// Writes `data` to the temporary of `path`, staging it first unless it is staged already
  /// (so a run can stage its outputs early, to fail before its work when a folder cannot be
  /// written, and fill them at the end). A write error is a value_error naming `path` and
  /// the cause, e.g. "No space left on device"; the temporary is then removed and `path` is
  /// no longer staged.
  void write(const std::string& path, const std::string& data);
  /// Removes the temporary of `path` and forgets it, so that commit() leaves the file at
  /// `path` as it was (an optional output that failed, such as a plot). Returns false when
  /// `path` was not staged.
  bool discard(const std::string& path);

  /// Flushes every staged file to disk, then renames each over its path, in staging order,
  /// while holding an exclusive lock (flock) on each target folder, so that two runs
  /// committing to the same folder do not interleave their files: the last to commit leaves
  /// all of its files. A staged file that has disappeared, a flush that fails or a folder
  /// that has appeared at a target is a value_error, and then nothing is renamed (a rename
  /// that fails after those checks, an I/O error, names the files it had already replaced).
  /// Calling it twice is a usage_error.
  void commit();
  /// True once commit() has run to the end (every file renamed into place).
  bool committed() const { return committed_; }
  /// The final paths staged so far, in staging order.
  std::vector<std::string> paths() const;

 private:
  struct Staged {
    std::string path;
    std::string temporary;  ///< empty once renamed into place
  };
  std::vector<Staged> staged_;
  bool committed_ = false;
};

}  // namespace tapegrad
