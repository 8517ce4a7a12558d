/// @file
/// Defining an op: its function template, then one TAPEGRAD_OP line, which instantiates it for
/// float and double and adds its name to registered_ops(). The op tests are driven by that list.
#pragma once

#include <string>
#include <vector>

namespace tapegrad {

/// The names of the differentiable ops this build defines, as they appear on the tape (the
/// `op` of their entries; `chunk` records the `narrow`s it is made of), sorted, each once; the
/// fused recurrent steps of tapegrad/nn/cells.hpp once nn is linked. An op is listed when its
/// object file is part of the program: with the static library, an ops file is linked when any op
/// of it is used, so a program that uses no op of a file does not see that file's ops here.
/// Complete once static initialisation is over. Custom ops registered with TAPEGRAD_OP are
/// listed too.
const std::vector<std::string>& registered_ops();

namespace detail {
/// Adds its op name to registered_ops() when constructed (one per TAPEGRAD_OP line).
struct OpRegistrar {
  explicit OpRegistrar(const char* name);
};
}  // namespace detail

}  // namespace tapegrad

#define TAPEGRAD_OP_CONCAT_IMPL(a, b) a##b
#define TAPEGRAD_OP_CONCAT(a, b) TAPEGRAD_OP_CONCAT_IMPL(a, b)

#define TAPEGRAD_OP_REGISTER(name)                                                        \
  static const ::tapegrad::detail::OpRegistrar TAPEGRAD_OP_CONCAT(tapegrad_op_registrar_, \
                                                                  __LINE__)(#name)

/// After the definition of an op `template <class T> Var<T> name(...)` in a .cpp file, in the
/// op's namespace: instantiates name<float> and name<double> (the signature is the
/// definition's, not written again) and registers "name". For a name with overloads, use
/// TAPEGRAD_OP_OVERLOAD.
#define TAPEGRAD_OP(name)                       \
  template decltype(name<float>) name<float>;   \
  template decltype(name<double>) name<double>; \
  TAPEGRAD_OP_REGISTER(name)

/// As TAPEGRAD_OP, for one overload of an overloaded name: the function type follows the name,
/// once, with T for the scalar type: `TAPEGRAD_OP_OVERLOAD(sum, Var<T>(const Var<T>&, int,
/// bool))`. Registering a name again (the other overloads) is harmless.
#define TAPEGRAD_OP_OVERLOAD(name, ...)                                               \
  template <class T>                                                                  \
  using TAPEGRAD_OP_CONCAT(tapegrad_op_signature_, __LINE__) = __VA_ARGS__;           \
  template TAPEGRAD_OP_CONCAT(tapegrad_op_signature_, __LINE__)<float> name<float>;   \
  template TAPEGRAD_OP_CONCAT(tapegrad_op_signature_, __LINE__)<double> name<double>; \
  TAPEGRAD_OP_REGISTER(name)
