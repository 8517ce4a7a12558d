// A user's program: <tapegrad/tapegrad.hpp> alone, `using namespace tapegrad;`, everyday
// xtensor on tapegrad arrays (reductions, math, where, slicing into batches) mixed with Var code,
// and the array factories. Most of it is a compile test: tapegrad's ops must neither be found by
// lookup from inside xtensor nor shadow an xtensor function for xtensor arguments.
#include <tapegrad/tapegrad.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "helpers.hpp"

using namespace tapegrad;
using tapegrad_test::message_of;

namespace {

// tapegrad::sum<T>(e) is no candidate for an array e, whatever T: xt::mean calls sum<void>(e, ...)
// unqualified, and a tapegrad op must then not match (nor break the build).
template <class T, class E, class = void>
struct sum_matches : std::false_type {};
template <class T, class E>
struct sum_matches<T, E, std::void_t<decltype(tapegrad::sum<T>(std::declval<E&>(), 0))>>
    : std::true_type {};
static_assert(!sum_matches<void, Array<float>>::value);
static_assert(!sum_matches<float, Array<float>>::value);
static_assert(!sum_matches<void, xt::xarray<float>>::value);
static_assert(sum_matches<float, Var<float>>::value);

template <class T>
constexpr bool is_var = std::is_same_v<std::decay_t<T>, Var<float>>;

}  // namespace

TEST_CASE("xtensor reductions and math work on tapegrad arrays, beside the ops on Vars") {
  const Array<float> a = {{1.0f, 2.0f, 3.0f}, {4.0f, 5.0f, 9.0f}};

  CHECK(xt::mean(a)() == doctest::Approx(4.0));
  CHECK(xt::sum(a)() == doctest::Approx(24.0));
  CHECK(xt::amax(a)() == doctest::Approx(9.0));
  CHECK(xt::stddev(a)() == doctest::Approx(std::sqrt(40.0 / 6.0)));
  const Array<float> row_sums = xt::sum(a, {1}, xt::keep_dims);
  CHECK(row_sums.shape() == make_shape({2, 1}));
  CHECK(row_sums(1, 0) == doctest::Approx(18.0));
  const Array<float> col_means = xt::mean(a, {0});
  CHECK(col_means == Array<float>{2.5f, 3.5f, 6.0f});
  const Array<float> e = xt::exp(a);
  CHECK(e(0, 0) == doctest::Approx(std::exp(1.0)));

  // Unqualified, under using namespace tapegrad: xtensor's functions for arrays (found by
  // lookup in xt, the arrays' namespace), tapegrad's ops for Vars.
  static_assert(!is_var<decltype(mean(a))>);
  static_assert(!is_var<decltype(sum(a))>);
  static_assert(!is_var<decltype(exp(a))>);
  CHECK(mean(a)() == doctest::Approx(4.0));
  CHECK(amax(a)() == doctest::Approx(9.0));
  CHECK(stddev(a, {1})(0) == doctest::Approx(std::sqrt(2.0 / 3.0)));

  Var<float> w = parameter<float>(a, "w");
  CHECK(sum(w, 1, true).shape() == make_shape({2, 1}));
  Var<float> loss = mean(exp(w) * 0.5f);
  static_assert(is_var<decltype(loss)>);
  loss.backward();
  // d mean(exp(w) / 2) / dw = exp(w) / 12
  const Array<float> expected = xt::exp(a) / 12.0f;
  CHECK(xt::allclose(w.grad(), expected));
  CHECK(xt::amax(w.grad())() == doctest::Approx(std::exp(9.0) / 12.0));
}

TEST_CASE("where: tapegrad's op for Vars, xt::where for arrays") {
  xt::xarray<bool> mask = {true, false, true};
  Array<float> x = {1.0f, 2.0f, 3.0f};
  Array<float> y = {10.0f, 20.0f, 30.0f};

  auto picked = where(mask, x, y);  // xt::where: a lazy expression
  static_assert(!is_var<decltype(picked)>);
  CHECK(Array<float>(picked) == Array<float>{1.0f, 20.0f, 3.0f});
  CHECK(Array<float>(xt::where(x > 1.5f, x, y)) == Array<float>{10.0f, 2.0f, 3.0f});

  Var<float> a = parameter<float>(x, "a");
  Var<float> b = parameter<float>(y, "b");
  Var<float> z = where(mask, a, b);
  CHECK(z.value() == Array<float>{1.0f, 20.0f, 3.0f});
  sum(z).backward();
  CHECK(a.grad() == Array<float>{1.0f, 0.0f, 1.0f});
  CHECK(b.grad() == Array<float>{0.0f, 1.0f, 0.0f});

  // Every kind of argument: const, temporaries, a condition that is an expression.
  const xt::xarray<bool> const_mask = mask;
  const Var<float>& const_a = a;
  static_assert(is_var<decltype(where(const_mask, const_a, b))>);
  static_assert(is_var<decltype(where(mask, a * 2.0f, b))>);
  static_assert(is_var<decltype(where(xt::xarray<bool>{true, true, false}, a, const_a))>);
  CHECK(where(const_mask, a * 2.0f, b).value() == Array<float>{2.0f, 20.0f, 6.0f});
  CHECK(where(a.value() > 1.5f, a, b).value() == Array<float>{10.0f, 2.0f, 3.0f});
  CHECK(where(x > 1.5f, a, b).value() == Array<float>{10.0f, 2.0f, 3.0f});
}

TEST_CASE(
    "a Var with an array is an op with the array as a constant, never an xtensor expression") {
  Array<float> m = {{1.0f, 0.0f, 2.0f}, {0.5f, 3.0f, 1.0f}};
  Var<float> w = parameter<float>(Array<float>{{1.0f, 2.0f, 3.0f}, {4.0f, 5.0f, 6.0f}}, "w");
  const Var<float>& cw = w;
  static_assert(is_var<decltype(w * m)>);
  static_assert(is_var<decltype(m * w)>);
  static_assert(is_var<decltype(cw + m)>);
  static_assert(is_var<decltype((w * 2.0f) - m)>);
  static_assert(is_var<decltype(m / (w + 1.0f))>);
  static_assert(is_var<decltype(w * xt::exp(m))>);  // a lazy expression is evaluated first
  static_assert(is_var<decltype(w * xt::view(m, 0))>);

  CHECK((w * m).value() == Array<float>(w.value() * m));
  CHECK((m - w).value() == Array<float>(m - w.value()));
  CHECK((w / (m + 1.0f)).value() == Array<float>(w.value() / (m + 1.0f)));
  // Broadcasting as for two Vars: a row of one scale per column.
  Array<float> row = {2.0f, 3.0f, 4.0f};
  CHECK((w * row).shape() == make_shape({2, 3}));

  Var<float> loss = sum((w * m) + (row - w));
  loss.backward();
  CHECK(w.grad() == Array<float>(m - 1.0f));  // the array is a constant: no gradient of its own

  // An array of another scalar type is cast to the Var's, as the scalar operators do.
  xt::xarray<double> md = {1.0, 2.0, 3.0};
  static_assert(is_var<decltype(w * md)>);
  CHECK((w * md).value() == Array<float>(w.value() * Array<float>{1.0f, 2.0f, 3.0f}));

  // Shapes that do not broadcast are the op's usual shape_error.
  Array<float> bad = {1.0f, 2.0f};
  const std::string message = message_of<shape_error>([&] { (void)(w * bad); });
  TG_CHECK_CONTAINS(message, "mul");
  TG_CHECK_CONTAINS(message, "[2,3] and [2]");
}

TEST_CASE("PyTorch's unsqueeze, squeeze, one_hot and torch.tensor(list)") {
  Var<float> h = parameter<float>(ones({2, 3}), "h");
  CHECK(unsqueeze(h, 0).shape() == make_shape({1, 2, 3}));
  CHECK(unsqueeze(h, -1).shape() == make_shape({2, 3, 1}));
  CHECK(unsqueeze(h, 1).shape() == make_shape({2, 1, 3}));
  CHECK(squeeze(unsqueeze(h, 1), 1).shape() == make_shape({2, 3}));
  CHECK(squeeze(h, 0).same(h));  // size 2: unchanged, as in PyTorch
  sum(unsqueeze(h, 0) * 2.0f).backward();
  CHECK(h.grad() == full({2, 3}, 2.0f));
  CHECK(message_of<shape_error>([&] { (void)unsqueeze(h, 3); }) ==
        "unsqueeze: axis 3 is out of range for shape [2,3] (a new axis goes at [-3, 2])");

  std::vector<Index> labels = {2, 0, 1};
  IndexArray ids = xt::adapt(labels);  // torch.tensor(labels)
  CHECK(ids.shape() == std::vector<std::size_t>{3});
  const Array<float> expected = {{0, 0, 1}, {1, 0, 0}, {0, 1, 0}};
  CHECK(one_hot(ids, 3) == expected);
  CHECK(one_hot<double>(IndexArray{{1, 0}}, 2).shape() == make_shape({1, 2, 2}));
  CHECK(message_of<value_error>([&] { (void)one_hot(ids, 2); }) ==
        "one_hot: id 2 (at flat position 0) is outside [0, 2)");
}

TEST_CASE("options take a partial braced list, keyword-style, with warnings on") {
  // These compile under -Wextra -Werror only if every member has a default: a member without
  // one makes GCC warn (missing-field-initializers) at each such call in a user's program.
  const data::BatchOptions batches = {64, true, 50};
  CHECK(batches.bucket_batches == 50);
  CHECK(batches.pad.max_length == 0);
  const data::ReadOptions read = {data::TextFormat::tsv};
  CHECK(!read.labels.has_value());
  const optim::SGDOptions sgd = {0.1, 0.9};
  CHECK(sgd.weight_decay == 0.0);
  const GradcheckOptions check = {1e-6, 1e-8};
  CHECK(check.rtol == 1e-3);
  const LossOptions loss = {Reduction::sum};
  CHECK(loss.ignore_index == -100);
}

TEST_CASE("a layer's weight changes in place through its accessor, as fc.weight.data") {
  nn::Linear<float> fc(3, 2);
  fc.weight().mutable_value() = ones({2, 3});  // weight() is a const Var&, as PyTorch's attribute
  CHECK(fc.parameter("weight").value() == ones({2, 3}));
  fc.bias().mutable_value().fill(0.5f);
  CHECK(fc(constant(ones({1, 3}))).value() == full({1, 2}, 3.5f));
}

TEST_CASE("slicing data into batches: xt::view, xt::range, xt::flatten from the umbrella") {
  Array<float> data = arange(0.0f, 24.0f);
  data.reshape({6, 4});
  Var<float> w = parameter<float>(ones({4, 2}), "w");
  float total = 0.0f;
  for (std::size_t start = 0; start < 6; start += 2) {
    const Array<float> batch = xt::view(data, xt::range(start, start + 2), xt::all());
    REQUIRE(batch.shape() == make_shape({2, 4}));
    Var<float> out = matmul(constant<float>(batch), w);  // [2, 4] x [4, 2] -> [2, 2]
    total += sum(out).item();
  }
  CHECK(total == doctest::Approx(2.0 * 276.0));  // every element, once per column of w

  const Array<float> flat = xt::flatten(data);
  CHECK(flat.shape() == make_shape({24}));
  CHECK(flat(23) == 23.0f);
  const Array<float> last_column = xt::view(data, xt::all(), 3);
  CHECK(last_column == Array<float>{3.0f, 7.0f, 11.0f, 15.0f, 19.0f, 23.0f});
  const Array<float> row = xt::view(data, 1, xt::newaxis(), xt::all());
  CHECK(row.shape() == make_shape({1, 4}));
}

TEST_CASE("zeros, ones and full: arrays of a shape, from a braced list or a Shape") {
  // The trap they avoid: a braced list given to an array is its values, not its shape.
  CHECK(Array<float>({2, 3}).shape() == make_shape({2}));

  const Array<float> z = zeros({2, 3});
  CHECK(z.shape() == make_shape({2, 3}));
  CHECK(xt::all(xt::equal(z, 0.0f)));
  const auto zd = zeros<double>(make_shape({4}));
  static_assert(std::is_same_v<decltype(zd), const Array<double>>);
  CHECK(zd.shape() == make_shape({4}));
  CHECK(zeros({}).dimension() == 0);

  const Array<float> o = ones(z.shape());
  CHECK(o.shape() == make_shape({2, 3}));
  CHECK(xt::sum(o)() == 6.0f);

  const auto f = full({1, 2, 3}, 0.5f);
  static_assert(std::is_same_v<decltype(f), const Array<float>>);
  CHECK(f.shape() == make_shape({1, 2, 3}));
  CHECK(xt::all(xt::equal(f, 0.5f)));
  const IndexArray pad = full<Index>(make_shape({2, 2}), -1);
  CHECK(pad(1, 1) == -1);

  CHECK(message_of<value_error>([] {
          return zeros(make_shape({1u << 31, std::size_t(-2)}));
        }) ==
        "zeros: shape [2147483648,18446744073709551614] has too many elements (a negative size?)");
}

TEST_CASE("arange counts as numpy.arange") {
  const auto ints = arange(5);
  static_assert(std::is_same_v<decltype(ints), const Array<int>>);
  CHECK(ints == Array<int>{0, 1, 2, 3, 4});
  CHECK(arange<Index>(5, 0, -2) == IndexArray{5, 3, 1});
  CHECK(arange(3, 3).size() == 0);
  CHECK(arange(3, 1).size() == 0);
  CHECK(arange(1.0, 2.0, 0.25) == Array<double>{1.0, 1.25, 1.5, 1.75});
  CHECK(arange(0.0, 1.0, 0.1).size() == 10);  // ceil(1 / 0.1), as numpy
  CHECK(arange<float>(2, 0, -0.5f) == Array<float>{2.0f, 1.5f, 1.0f, 0.5f});
  CHECK(arange<float>(4).shape() == make_shape({4}));

  CHECK(message_of<value_error>([] { return arange(0, 5, 0); }) ==
        "arange: step is 0 (start 0, stop 5)");
  CHECK(message_of<value_error>([] { return arange(0.0, std::nan(""), 1.0); }) ==
        "arange: start 0, stop nan and step 1 must be finite");
  CHECK(message_of<value_error>([] { return arange(0.0, 1e300, 1.0); }) ==
        "arange: start 0, stop 1e+300 and step 1 make too many values");
}

TEST_CASE("rand and randn: seeded by a generator, the default one unless given") {
  Generator g1(7);
  Generator g2(7);
  const Array<float> u = rand({1000}, g1);
  CHECK(u == rand({1000}, g2));
  CHECK(u.shape() == make_shape({1000}));
  CHECK(xt::amin(u)() >= 0.0f);
  CHECK(xt::amax(u)() < 1.0f);
  CHECK(xt::mean(u)() == doctest::Approx(0.5).epsilon(0.05));
  CHECK_FALSE(u == rand({1000}, g1));  // the generator moved on

  manual_seed(11);
  const Array<double> n = randn<double>(make_shape({100, 100}));
  manual_seed(11);
  CHECK(n == randn<double>({100, 100}));
  CHECK(n.shape() == make_shape({100, 100}));
  CHECK(std::abs(xt::mean(n)()) < 0.05);
  CHECK(xt::stddev(n)() == doctest::Approx(1.0).epsilon(0.05));

  // A parameter initialised as PyTorch's nn.Linear does it: uniform in [-k, k).
  const float k = 0.5f;
  Var<float> w = parameter<float>((rand({3, 2}) * 2.0f - 1.0f) * k, "w");
  CHECK(w.shape() == make_shape({3, 2}));
  CHECK(xt::amax(xt::abs(w.value()))() <= k);
}
