// What the examples' saved models share: a fingerprint of the weights, written into the .json
// that describes a model so that a .json is never paired with another run's .npz, the checked
// reading of that .json and its fields. A target that includes this links nlohmann_json.
#pragma once

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>
#include <tapegrad/autograd/errors.hpp>
#include <tapegrad/data/utf8.hpp>
#include <tapegrad/nn.hpp>

namespace examples {

/// FNV-1a over the names and the bytes of every parameter, in order, as 16 hex digits.
inline std::string fingerprint(const tapegrad::nn::Module<float>& model) {
  std::uint64_t hash = 14695981039346656037ull;
  for (const auto& [name, param] : model.named_parameters()) {
    for (char ch : name) hash = (hash ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
    const tapegrad::Array<float>& value = param.value();
    const auto* bytes = reinterpret_cast<const unsigned char*>(value.data());
    for (std::size_t i = 0; i < value.size() * sizeof(float); ++i) {
      hash = (hash ^ bytes[i]) * 1099511628211ull;
    }
  }
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

/// The field `key` of `object` as a T; a value_error naming "section.key" otherwise. Integers
/// must be JSON integers in T's range: nlohmann's get<std::size_t>() casts 1e30 or -3 (undefined
/// behaviour for the one, 2^64 - 3 for the other) and cuts 3.9 to 3.
template <class T>
T json_field(const nlohmann::json& object, const std::string& section, const char* key) {
  using tapegrad::value_error;
  try {
    const nlohmann::json& value = object.at(key);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      const bool fits = std::is_unsigned_v<T>
                            ? value.is_number_unsigned() &&
                                  value.get<std::uint64_t>() <= std::numeric_limits<T>::max()
                            : value.is_number_integer() &&
                                  value.get<std::int64_t>() >= std::numeric_limits<T>::min() &&
                                  value.get<std::int64_t>() <= std::numeric_limits<T>::max();
      if (!fits) {
        throw value_error(section + "." + key + ": expected " +
                          (std::is_unsigned_v<T> ? "a non-negative integer" : "an integer") +
                          ", got " + value.dump());
      }
    }
    return value.get<T>();
  } catch (const nlohmann::json::exception& e) {
    throw value_error(section + "." + key + ": " + e.what());
  }
}

/// The .json at `path` that a model of `format` (e.g. "tapegrad-sentiment") and `version` wrote:
/// a JSON object whose "format" and "version" are those. A missing or unreadable file, or one
/// that is not JSON, is a value_error "PATH: not a saved WHAT model (cause)"; another format or
/// version is "PATH: format is not FORMAT version VERSION".
inline nlohmann::json read_model_json(const std::string& path, const std::string& format,
                                      std::uint64_t version, const std::string& what) {
  using tapegrad::value_error;
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(tapegrad::data::read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw value_error(path + ": not a saved " + what + " model (" + e.what() + ")");
  } catch (const value_error& e) {  // missing, a folder, too large, binary, not UTF-8
    throw value_error(path + ": not a saved " + what + " model (" + e.what() + ")");
  }
  // Each field's type is checked before it is read: nlohmann's value() and get() throw its own
  // type_error for a "format" that is an object, say (found by fuzz_model_json).
  const bool object = meta.is_object();
  const auto found_format = object ? meta.find("format") : meta.end();
  const auto found = object ? meta.find("version") : meta.end();
  if (!object || found_format == meta.end() || !found_format->is_string() ||
      found_format->get<std::string>() != format || found == meta.end() ||
      !found->is_number_unsigned() || found->get<std::uint64_t>() != version) {
    throw value_error(path + ": format is not " + format + " version " + std::to_string(version));
  }
  return meta;
}

}  // namespace examples
