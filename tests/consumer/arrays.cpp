// A user's program on the installed umbrella header: xtensor functions on tapegrad arrays (xt::mean
// once failed to compile: it found tapegrad::sum), slicing with xt::view, and the factories.
#include <cstdio>

#include <tapegrad/tapegrad.hpp>

int main() {
  using namespace tapegrad;
  tapegrad::Array<float> a = {1.0f, 2.0f, 3.0f};
  const double m = xt::mean(a)();
  const Array<float> data = xt::view(arange(0.0f, 12.0f), xt::range(0, 4));
  const Array<float> grid = zeros({2, 3}) + data(3);
  const Array<float> flat = xt::flatten(grid);
  Var<float> w = parameter<float>(full({3}, 2.0f), "w");
  Var<float> loss = mean(where(xt::xarray<bool>{true, false, true}, w * constant<float>(a), w));
  loss.backward();
  std::printf("mean %.1f, flat %zu x %.1f, loss %.4f\n", m, flat.size(), flat(0), loss.item());
  const bool ok = m == 2.0 && flat.size() == 6 && flat(5) == 3.0f && w.grad()(1) > 0.3f;
  return ok ? 0 : 1;
}
