// What the examples share for their outputs: creating an output folder, with an error that
// names it (the files in it are written through tapegrad::OutputFiles).
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include <tapegrad/autograd/errors.hpp>

namespace examples {

/// Creates `folder` and its parents unless they exist; a value_error naming it and the cause
/// otherwise (a file in its place, a read-only parent). "" is the current folder.
inline void create_folder(const std::string& folder) {
  if (folder.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec || !std::filesystem::is_directory(folder, ec)) {
    throw tapegrad::value_error("cannot create the output folder '" + folder + "' (" +
                                (ec ? ec.message() : std::string("a file is in its place")) + ")");
  }
}

}  // namespace examples
