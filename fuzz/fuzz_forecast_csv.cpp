// libFuzzer harness of forecast::read_series_csv (examples/forecast): any file is a series or
// a value_error.
//
// The input is the .csv file. A series that loads has at least one value, every one finite.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "forecast.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  fuzz::set_small_input_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_input("series.csv", data, size);
  std::vector<double> series;
  if (fuzz::read_or_typed_error([&] { series = forecast::read_series_csv(path); })) {
    if (series.empty()) fuzz::finding("read_series_csv: no values, but no error either");
    for (double value : series) {
      if (!std::isfinite(value)) fuzz::finding("read_series_csv: a value that is not finite");
    }
  }
  return 0;
}
