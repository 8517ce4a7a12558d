#include "tapegrad/autograd/op_registration.hpp"

#include <algorithm>

namespace tapegrad {

namespace {
// Function-local, so registrars in other files may run first, in any order.
std::vector<std::string>& op_names() {
  static std::vector<std::string> names;
  return names;
}
}  // namespace

const std::vector<std::string>& registered_ops() {
  return op_names();
}

namespace detail {
OpRegistrar::OpRegistrar(const char* name) {
  std::vector<std::string>& names = op_names();
  const auto at = std::lower_bound(names.begin(), names.end(), name);
  if (at == names.end() || *at != name) names.insert(at, name);
}
}  // namespace detail

}  // namespace tapegrad
