/// @file
/// The switches: grad mode (NoGrad), anomaly detection and its scopes, flushing subnormals.
#pragma once

#include <string>

namespace tapegrad {

/// While alive, no op is recorded on this thread (inference, optimizer updates).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

/// False inside a NoGrad scope.
bool is_grad_enabled();

/// Anomaly detection, as PyTorch's detect_anomaly: while on, every op checks the value it
/// computes, and backward() every gradient a rule returns, for NaN and infinity; the first one
/// found throws numerical_error naming the op, the names of its inputs and output, its scope
/// path (the layer, direction and time step it ran in) and the element. Off by default: the
/// checks read every value once more. Process-wide.
void set_detect_anomaly(bool on);
/// Whether anomaly detection is on (set_detect_anomaly, DetectAnomaly).
bool detect_anomaly();

/// Anomaly detection on while alive (restores the previous setting).
class DetectAnomaly {
 public:
  DetectAnomaly();
  ~DetectAnomaly();
  DetectAnomaly(const DetectAnomaly&) = delete;
  DetectAnomaly& operator=(const DetectAnomaly&) = delete;

 private:
  bool previous_;
};

/// A label for the ops recorded while alive, nested per thread: anomaly messages name the
/// path of scopes an op ran in ("encoder / LSTM(32, 64) layer 0 direction 1 / step 17").
/// The layers open theirs only under anomaly detection; a user's scope costs a string.
class Scope {
 public:
  /// Opens the scope `label` on this thread, inside those already open; the destructor closes
  /// it. Scopes must close in reverse order of opening, as block-scoped objects do.
  explicit Scope(std::string label);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
};

/// This thread's open scopes, outermost first, joined by " / " ("" when none).
std::string scope_path();

/// Whether backward() flushes subnormal floats to zero (x86's FTZ and DAZ modes, set on the
/// calling thread while backward runs and restored after). On by default: gradients that
/// vanish over long sequences pass through the subnormal range (below 1.2e-38 in float), where
/// every arithmetic operation on them takes microcode assists, and a backward pass through 200
/// steps ran 8-10x slower (docs/design.md). Flushing changes only values below that bound.
/// Off: IEEE subnormals, as PyTorch by default. A process-wide setting.
void set_flush_denormals(bool on);
/// Whether backward() flushes subnormals (set_flush_denormals).
bool flush_denormals();

}  // namespace tapegrad
