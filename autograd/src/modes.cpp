// The switches: grad mode (NoGrad), anomaly detection, scopes, and flushing subnormals.
#include <atomic>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "engine_detail.hpp"
#include "tapegrad/autograd/modes.hpp"

namespace tapegrad {

namespace {

thread_local bool grad_enabled = true;
std::atomic<bool> flush_subnormals{true};
std::atomic<bool> anomaly_detection{false};
thread_local std::vector<std::string> scopes;

}  // namespace

NoGrad::NoGrad() : previous_(grad_enabled) {
  grad_enabled = false;
}
NoGrad::~NoGrad() {
  grad_enabled = previous_;
}
bool is_grad_enabled() {
  return grad_enabled;
}

void set_detect_anomaly(bool on) {
  anomaly_detection.store(on);
}
bool detect_anomaly() {
  return anomaly_detection.load();
}
DetectAnomaly::DetectAnomaly() : previous_(detect_anomaly()) {
  set_detect_anomaly(true);
}
DetectAnomaly::~DetectAnomaly() {
  set_detect_anomaly(previous_);
}

Scope::Scope(std::string label) {
  scopes.push_back(std::move(label));
}
Scope::~Scope() {
  scopes.pop_back();
}
std::string scope_path() {
  return fmt::format("{}", fmt::join(scopes, " / "));
}

void set_flush_denormals(bool on) {
  flush_subnormals.store(on);
}
bool flush_denormals() {
  return flush_subnormals.load();
}

namespace detail {

bool anomaly_checks_on() {
  return anomaly_detection.load(std::memory_order_relaxed);
}

#if defined(__SSE__)
constexpr unsigned kFlushToZero = 0x8000;
constexpr unsigned kDenormalsAreZero = 0x0040;
#endif

ScopedFlushDenormals::ScopedFlushDenormals() {
#if defined(__SSE__)
  if (flush_subnormals.load(std::memory_order_relaxed)) {
    saved_ = _mm_getcsr();
    active_ = true;
    _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero);
  }
#endif
}

ScopedFlushDenormals::~ScopedFlushDenormals() {
#if defined(__SSE__)
  if (active_) _mm_setcsr(saved_);
#endif
}

}  // namespace detail

}  // namespace tapegrad
