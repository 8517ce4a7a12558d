// Var's member functions: a leaf's construction, its gradient, flags and name, detach.
#include "tapegrad/autograd/var.hpp"

#include "engine_detail.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace tapegrad {

template <class T>
Var<T>::Var(Array<T> value, bool requires_grad, std::string name)
    : node_(std::make_shared<node_type>(std::move(value))) {
  node_->requires_grad = requires_grad;
  node_->name = std::move(name);
}

template <class T>
Var<T> Var<T>::scalar(T value, bool requires_grad, std::string name) {
  Array<T> a = Array<T>::from_shape({});
  a() = value;
  return Var(std::move(a), requires_grad, std::move(name));
}

template <class T>
Var<T> Var<T>::from_node(std::shared_ptr<node_type> node) {
  Var v;
  v.node_ = std::move(node);
  return v;
}

template <class T>
typename Var<T>::node_type& Var<T>::checked() const {
  if (!node_) throw usage_error("an empty Var (default-constructed) was used");
  return *node_;
}

template <class T>
Array<T>& Var<T>::mutable_value() const {
  auto& n = checked();
  if (n.released) detail::throw_released(n);
  ++n.version;
  for (auto& v : n.row_versions) ++v;  // every row may change
  return n.value;
}

template <class T>
T* Var<T>::mutable_row(std::size_t index) const {
  auto& n = checked();
  if (n.released) detail::throw_released(n);
  if (n.value.dimension() == 0) {
    throw shape_error("mutable_row: the value is 0-d and has no rows");
  }
  const std::size_t rows = n.value.shape()[0];
  if (index >= rows) {
    throw value_error(fmt::format("mutable_row: row {} is outside a value of shape {}", index,
                                  shape_str(n.value.shape())));
  }
  if (n.row_versions.empty()) n.row_versions.assign(rows, 0);
  ++n.version;
  ++n.row_versions[index];
  return n.value.data() + index * (n.value.size() / rows);
}

template <class T>
std::uint32_t Var<T>::row_version(std::size_t index) const {
  const auto& n = checked();
  if (n.shape().empty() || index >= n.shape()[0]) {
    throw value_error(fmt::format("row_version: row {} is outside a value of shape {}", index,
                                  shape_str(n.shape())));
  }
  return n.row_versions.empty() ? 0 : n.row_versions[index];
}

template <class T>
const Array<T>& Var<T>::grad() const {
  auto& n = checked();
  if (!n.has_grad) {
    throw usage_error(fmt::format("grad(): {} has no gradient{}", detail::describe(n),
                                  !n.requires_grad ? " (it does not require one)"
                                  : n.entry >= 0
                                      ? " (it is not a leaf: call retain_grad() before backward)"
                                      : " (no backward has reached it since zero_grad())"));
  }
  return *n.grad;
}

template <class T>
Array<T>& Var<T>::mutable_grad() const {
  return const_cast<Array<T>&>(grad());
}

template <class T>
void Var<T>::set_grad(Array<T> grad) {
  auto& n = checked();
  if (grad.shape() != n.shape()) {
    throw shape_error(fmt::format("set_grad: gradient shape {} differs from the value's {}",
                                  shape_str(grad.shape()), shape_str(n.shape())));
  }
  n.grad = std::move(grad);
  n.has_grad = true;
}

template <class T>
void Var<T>::zero_grad() {
  auto& n = checked();
  n.grad.reset();
  n.has_grad = false;
}

template <class T>
Var<T>& Var<T>::set_requires_grad(bool requires) {
  auto& n = checked();
  if (n.entry >= 0) {
    throw usage_error(fmt::format(
        "set_requires_grad: {} was computed by an op; only leaves can change it (use detach())",
        detail::describe(n)));
  }
  n.requires_grad = requires;
  return *this;
}

template <class T>
Var<T>& Var<T>::retain_grad() {
  checked().retain_grad = true;
  return *this;
}

template <class T>
Var<T>& Var<T>::set_name(std::string name) {
  checked().name = std::move(name);
  return *this;
}

template <class T>
std::size_t Var<T>::size(int axis) const {
  return shape()[detail::normalize_axis("size", axis, shape())];
}

template <class T>
T Var<T>::item() const {
  const auto& v = value();
  if (v.size() != 1) {
    throw shape_error(fmt::format("item(): expected a value with one element, got shape {}",
                                  shape_str(v.shape())));
  }
  return *v.data();
}

template <class T>
Var<T> Var<T>::detach() const {
  const auto& n = checked();
  return Var(value(), false, n.name);
}

template <class T>
void Var<T>::backward() const {
  tapegrad::backward(*this);
}

template <class T>
void Var<T>::backward(const Array<T>& grad) const {
  tapegrad::backward(*this, grad);
}

template class Var<float>;
template class Var<double>;

}  // namespace tapegrad
